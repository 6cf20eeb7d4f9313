"""``loopstack evaluators``: define online evaluators, list their health, backfill a time range."""

from __future__ import annotations

import json
from typing import Any

import click

from loopstack.cli._monitor_args import parse_filters, parse_scorers, parse_when

project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)


def _ctx(project: str | None) -> tuple[Any, str]:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return get_store(), project or get_settings().project


@click.group()
def evaluators() -> None:
    """Online evaluators: scorers the server runs on sampled production spans (and on bad feedback)."""


@evaluators.command()
@click.argument("name")
@click.option(
    "--scorer",
    "scorers",
    multiple=True,
    required=True,
    metavar="NAME[:JSON]",
    help='A registered scorer, with its parameters as JSON: contains:{"value": "bug"} (repeatable).',
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="prompt_name, prompt_version, model, kind, name, status, environment, attributes.K, tags=a,b.",
)
@click.option(
    "--sample-rate",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Fraction of traces judged, chosen by a hash of the trace id.",
)
@click.option("--level", type=click.Choice(["span", "trace"]), default="span", show_default=True)
@click.option(
    "--on-feedback", is_flag=True, help="Also judge every thumbs-down or correction, whatever the rate."
)
@project_option
def add(
    name: str,
    scorers: tuple[str, ...],
    filters: tuple[str, ...],
    sample_rate: float,
    level: str,
    on_feedback: bool,
    project: str | None,
) -> None:
    """Create evaluator NAME; the server's worker runs it on spans ingested from now on."""
    from loopstack.monitor import create_evaluator

    store, project = _ctx(project)
    row = create_evaluator(
        store,
        project,
        {
            "name": name,
            "level": level,
            "filter": parse_filters(filters),
            "sample_rate": sample_rate,
            "scorers": parse_scorers(scorers),
            "on_feedback": on_feedback,
        },
    )
    names = ", ".join(s["name"] for s in row["scorers"])
    click.echo(
        f"Created evaluator {row['name']!r} (v{row['version']}, {level} level, {sample_rate:.0%} of traces"
        f"{', every thumbs-down' if on_feedback else ''}): {names}."
    )


@evaluators.command("list")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(project: str | None, as_json: bool) -> None:
    """Evaluators with their health: evaluated, skipped, errored, shed, lag."""
    from loopstack.monitor import health
    from loopstack.store.monitoring import EvaluatorRepository

    store, project = _ctx(project)
    rows = EvaluatorRepository(store, project).list()
    if as_json:
        click.echo(
            json.dumps(
                [{"name": r["name"], "version": r["version"], **health(r)} for r in rows],
                indent=2,
                default=str,
            )
        )
        return
    if not rows:
        click.echo(
            f"No evaluators in project {project!r}. Add one: loopstack evaluators add NAME --scorer NAME"
        )
        return
    click.echo(
        f"{'name':<24} {'ver':>3} {'rate':>5} {'evaluated':>9} {'skipped':>8} {'errored':>7} "
        f"{'shed':>6} {'lag s':>7}"
    )
    for r in rows:
        h = health(r)
        lag = "–" if h["lag_s"] is None else f"{h['lag_s']:.1f}"
        click.echo(
            f"{r['name'][:24]:<24} {r['version']:>3} {r['sample_rate']:>5.0%} {h['evaluated']:>9} "
            f"{h['skipped']:>8} {h['errored']:>7} {h['shed']:>6} {lag:>7}"
        )
        if h["last_error"]:
            click.echo(f"  last error: {h['last_error']}")


@evaluators.command()
@click.argument("name")
@click.option("--start", required=True, help="Spans started at or after (ISO 8601, UTC if no zone).")
@click.option("--end", required=True, help="Spans started before.")
@click.option("--sample-rate", type=click.FloatRange(0, 1), default=None, help="Default: the evaluator's.")
@click.option("--yes", is_flag=True, help="Run it after the preview (without: preview only).")
@project_option
def backfill(
    name: str, start: str, end: str, sample_rate: float | None, yes: bool, project: str | None
) -> None:
    """Preview, and with --yes run, evaluator NAME over spans that started in [START, END)."""
    from loopstack.monitor.backfill import preview_backfill, run_backfill

    store, project = _ctx(project)
    begin, until = parse_when(start, "--start"), parse_when(end, "--end")
    p = preview_backfill(store, project, name, begin, until, sample_rate=sample_rate)
    cost = (
        "unknown (no price for the judge model)"
        if p["estimated_cost_usd"] is None
        else f"${p['estimated_cost_usd']:.4f}"
    )
    click.echo(
        f"Backfill {name!r} over {p['start']} .. {p['end']}: {p['targets']} targets to judge, "
        f"{p['estimated_calls']} judge calls, estimated cost {cost} ({p['note']})."
    )
    if not yes:
        click.echo("Nothing run. Add --yes to run it.")
        return
    state = run_backfill(store, project, name, begin, until, sample_rate=sample_rate)
    click.echo(f"Done: {state['evaluated']} targets judged, {state['calls']} judge calls made.")
