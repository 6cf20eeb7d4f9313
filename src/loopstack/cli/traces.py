"""``loopstack traces``: export the project's spans, streamed, to Parquet, CSV or JSONL."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click

from loopstack.cli.runs import project_option


def _time(value: str | None, field: str) -> datetime | None:
    from loopstack._inputs import parse_time

    if value is None:
        return None
    try:
        return parse_time(value, field)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=field) from None


@click.group(short_help="Export traces (spans) to Parquet, CSV or JSONL.")
def traces() -> None:
    """Production traces as data."""


@traces.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default=None,
    help="File format (default: from OUT's suffix, else parquet).",
)
@click.option("--since", default=None, help="Spans starting at or after this UTC time (ISO).")
@click.option("--until", default=None, help="Spans starting before this UTC time (ISO).")
@click.option("--model", default=None)
@click.option("--prompt", default=None, help="Prompt name.")
@click.option("--prompt-version", type=int, default=None)
@click.option("--session", default=None)
@click.option("--user", default=None)
@click.option("--environment", default=None, help="e.g. production, eval.")
@click.option("--errors", "errors_only", is_flag=True, help="Only spans with status ERROR.")
@project_option
def export_cmd(
    out: Path,
    fmt: str | None,
    since: str | None,
    until: str | None,
    model: str | None,
    prompt: str | None,
    prompt_version: int | None,
    session: str | None,
    user: str | None,
    environment: str | None,
    errors_only: bool,
    project: str | None,
) -> None:
    """Stream the matching spans to OUT (one row per span, oldest first)."""
    from loopstack.traces import export

    fmt = fmt or {".csv": "csv", ".jsonl": "jsonl"}.get(out.suffix.lower(), "parquet")
    started = time.perf_counter()
    n = export(
        out,
        fmt,
        project=project,
        start=_time(since, "--since"),
        end=_time(until, "--until"),
        model=model,
        prompt=prompt,
        prompt_version=prompt_version,
        session=session,
        user=user,
        environment=environment,
        errors_only=errors_only,
    )
    click.echo(f"wrote {n} span(s) to {out} ({fmt}) in {time.perf_counter() - started:.1f} s")
