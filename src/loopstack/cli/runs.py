"""``loopstack runs``: the experiments table — list runs by filter, sort by a metric, tag and note them,
export their items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)


def _project(project: str | None) -> tuple[Any, str]:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return get_store(), project or get_settings().project


def _metric_text(m: Any) -> str:
    if m is None or m.mean is None:
        return ""
    if m.ci_low is None or m.ci_high is None:
        return f"{m.mean:.4g}"
    return f"{m.mean:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]"


@click.group(short_help="List, filter, tag, note and export eval runs (experiments).")
def runs() -> None:
    """Every eval run is an experiment: its parameters, tags, note and metrics."""


@runs.command("list")
@click.argument("filter_words", nargs=-1, metavar="[FILTER]...")
@click.option("--sort", default="created", show_default=True, help="A parameter or metric to sort by.")
@click.option("--desc/--asc", default=True, show_default=True, help="Sort direction.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the runs with parameters and metrics as JSON.")
@project_option
def list_cmd(
    filter_words: tuple[str, ...], sort: str, desc: bool, limit: int, as_json: bool, project: str | None
) -> None:
    """Runs matching FILTER, e.g. ``model=openai/x accuracy>0.8 tag:baseline prompt=triage version>=2``."""
    from loopstack.evals.experiments import list_experiments

    store, name = _project(project)
    page = list_experiments(store, name, " ".join(filter_words), sort=sort, desc=desc, limit=limit)
    if as_json:
        out = [
            {
                **{k: v for k, v in e.params.items() if k != "created_at"},
                "created_at": e.run.created_at.isoformat(),
                "metrics": {
                    m.name: {
                        "mean": m.mean,
                        "ci_low": m.ci_low,
                        "ci_high": m.ci_high,
                        "n": m.n,
                        "errors": m.errors,
                    }
                    for m in e.metrics.values()
                },
            }
            for e in page.experiments
        ]
        click.echo(json.dumps(out, indent=2))
        return
    shown = [n for n in page.metric_names if n not in ("items", "errors")][:6]
    table = Table(show_edge=False, title=f"{page.total} run(s) match; showing {len(page.experiments)}")
    for col in ("run", "prompt", "model", "dataset", "tags", *shown, "created"):
        table.add_column(col)
    for e in page.experiments:
        r = e.run
        table.add_row(
            r.id[:12],
            escape(f"{r.prompt_name}@{r.prompt_version}" if r.prompt_name else "inline"),
            escape(r.model or ""),
            escape(f"{e.params['dataset'] or ''}" + (f" v{r.dataset_version}" if r.dataset_version else "")),
            escape(" ".join(e.tags)),
            *(_metric_text(e.metrics.get(n)) for n in shown),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console(width=200).print(table)


@runs.command("tag")
@click.argument("run_id")
@click.argument("tag")
@click.option("--remove", is_flag=True, help="Take the tag off instead.")
@project_option
def tag_cmd(run_id: str, tag: str, remove: bool, project: str | None) -> None:
    """Tag RUN (an id or a unique prefix of 6+ characters) with TAG."""
    from loopstack.store.experiments import ExperimentRepository

    repo = ExperimentRepository(*_project(project))
    run = repo.remove_tag(run_id, tag) if remove else repo.add_tag(run_id, tag)
    click.echo(f"{'untagged' if remove else 'tagged'} run {run.id} ({run.label}): {tag}")


@runs.command("note")
@click.argument("run_id")
@click.argument("text")
@project_option
def note_cmd(run_id: str, text: str, project: str | None) -> None:
    """Set RUN's note to TEXT (an empty TEXT removes it)."""
    from loopstack.store.experiments import ExperimentRepository

    run = ExperimentRepository(*_project(project)).set_note(run_id, text)
    click.echo(f"{'noted' if text.strip() else 'note removed from'} run {run.id} ({run.label})")


@runs.command("export")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default=None,
    help="File format (default: from the file's suffix, else parquet).",
)
@project_option
def export_cmd(run_ids: tuple[str, ...], out: Path, fmt: str | None, project: str | None) -> None:
    """Stream the items of RUN... to a file: one row per item, the run's parameters, scores as columns."""
    from loopstack.runs import export

    fmt = fmt or {".csv": "csv", ".jsonl": "jsonl"}.get(out.suffix.lower(), "parquet")
    n = export(list(run_ids), out, fmt, project=project)
    click.echo(f"wrote {n} item(s) of {len(run_ids)} run(s) to {out} ({fmt})")
