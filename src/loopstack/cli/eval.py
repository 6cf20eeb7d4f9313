"""``loopstack eval``: run a suite (or resume one), compare two runs, list runs.

``loopstack eval SUITE`` and ``loopstack eval --resume RUN_ID`` run; ``loopstack eval compare A B`` and
``loopstack eval list`` are subcommands. Exit codes: 0 passed, 1 error, 2 a threshold failed or (with
``--fail-on-regression``) a significant regression, 130 interrupted (resumable).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loopstack.errors import InvalidInput

_SUBCOMMANDS = ("run", "compare", "list")


class _EvalGroup(click.Group):
    """``eval`` runs a suite by default; ``compare`` and ``list`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in _SUBCOMMANDS and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_EvalGroup)
def eval() -> None:  # noqa: A001 - the command is called eval
    """Run an eval suite, resume one, or compare runs.

    \b
    loopstack eval suite.yaml [--baseline production --fail-on-regression]
    loopstack eval --resume RUN_ID
    loopstack eval compare RUN_A RUN_B
    loopstack eval list

    Options of a run (--baseline, --model, --html, --junit, --json ...): loopstack eval run --help.
    Exit codes: 0 passed, 1 error, 2 threshold failed or regression (with --fail-on-regression),
    130 interrupted.
    """


project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)


def _runs(project: str | None) -> Any:
    """The run repository of ``project`` (default: the configured project), like every other command."""
    from loopstack.config import get_settings
    from loopstack.store import get_store
    from loopstack.store.runs import RunRepository

    return RunRepository(get_store(), project or get_settings().project)


def _write(path: str | None, text: str) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")


@eval.command("run")
@click.argument("suite", required=False, type=click.Path(dir_okay=False))
@click.option("--resume", "resume_id", metavar="RUN_ID", help="Continue an interrupted run (and its group).")
@click.option(
    "--model", "models", multiple=True, help="Run on this model instead of the suite's (repeatable)."
)
@click.option("--baseline", metavar="LABEL", help="Compare every candidate with the prompt version at LABEL.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 2 when a scorer is significantly worse.")
@click.option(
    "--max-error-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Exit 3 when more than this fraction of a run's items errored (default: any).",
)
@click.option(
    "--correction",
    type=click.Choice(["holm", "bonferroni", "none"]),
    default="holm",
    show_default=True,
    help="Family-wise correction across scorers for --fail-on-regression.",
)
@click.option("--split", help="Only items of this split (overrides the suite).")
@click.option("--limit", type=int, help="Only the first N items.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of tables.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write an HTML report here.")
@click.option("--json-out", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when interactive).")
@click.pass_context
def run_cmd(
    ctx: click.Context,
    suite: str | None,
    resume_id: str | None,
    models: tuple[str, ...],
    baseline: str | None,
    fail_on_regression: bool,
    max_error_rate: float,
    correction: str,
    split: str | None,
    limit: int | None,
    as_json: bool,
    junit_path: str | None,
    html_path: str | None,
    json_path: str | None,
    progress: bool | None,
) -> None:
    """Run SUITE (a suite YAML file), or --resume RUN_ID."""
    from loopstack.evals.runner import resume_run, run_suite

    if (suite is None) == (resume_id is None):
        raise InvalidInput("give a suite file, or --resume RUN_ID (not both)")
    from loopstack.safety import apply_project_pii_policy

    apply_project_pii_policy()  # the project may forbid unmasked PII on its way to external providers
    err = Console(stderr=True)
    show = err.is_terminal if progress is None else progress
    if resume_id is not None:
        result = asyncio.run(resume_run(resume_id, progress=show, console=err))
    else:
        result = asyncio.run(
            run_suite(
                suite or "",
                models=list(models) or None,
                baseline=baseline,
                split=split,
                limit=limit,
                progress=show,
                console=err,
            )
        )
    fail, rate, corr = fail_on_regression, max_error_rate, correction
    gate: dict[str, Any] = {"fail_on_regression": fail, "max_error_rate": rate, "correction": corr}
    code = result.exit_code(**gate)
    # Each report's module (the HTML one loads jinja2) is imported only when that report is asked for.
    if json_path or as_json:
        from loopstack.evals.report.json import json_report

        json_text = json_report(result, **gate)
        _write(json_path, json_text)
        if as_json:
            click.echo(json_text)
    if junit_path:
        from loopstack.evals.report.junit import junit_report

        _write(junit_path, junit_report(result, **gate))
    if html_path:
        from loopstack.evals.report.html import html_report
        from loopstack.store import get_store
        from loopstack.store.runs import RunRepository

        repo = RunRepository(get_store())
        items = {r.run.id: repo.items(r.run.id) for r in result.runs}
        _write(html_path, html_report(result, items, **gate))
    if not as_json:
        from loopstack.evals.report.terminal import print_result

        print_result(result, Console(), **gate)
    ctx.exit(code)


@eval.command("compare")
@click.argument("baseline_run")
@click.argument("candidate_run")
@click.option("--limit", type=int, default=20, show_default=True, help="Show at most N regressed items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@project_option
def compare_cmd(
    baseline_run: str, candidate_run: str, limit: int, as_json: bool, project: str | None
) -> None:
    """Compare two runs paired on their items; list the items that regressed, outputs side by side."""
    from loopstack.evals.compare import compare_stored_runs
    from loopstack.evals.report import print_comparison_items
    from loopstack.evals.report.json import jsonable

    comparison, regressed = compare_stored_runs(_runs(project), baseline_run, candidate_run)
    if as_json:
        data: dict[str, Any] = comparison.to_dict()
        data["regressed_items"] = [
            {
                "item_key": r.item_key,
                "epoch": r.epoch,
                "scores": r.scores,
                "baseline_output": r.baseline.output if r.baseline else None,
                "candidate_output": r.candidate.output if r.candidate else None,
                "candidate_error": r.candidate.error if r.candidate else None,
            }
            for r in regressed
        ]
        click.echo(json.dumps(jsonable(data), indent=2))
        return
    console = Console()
    rows = [r.as_row() for r in regressed[:limit]]
    print_comparison_items(comparison, rows, console, total=len(regressed))
    if len(regressed) > limit:
        console.print(f"[dim]… and {len(regressed) - limit} more (use --limit)[/dim]")


@eval.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@project_option
def list_cmd(limit: int, as_json: bool, project: str | None) -> None:
    """The latest runs of the project, newest first."""
    runs = _runs(project).list_runs(limit=limit)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "group_id": r.group_id,
                        "suite": r.suite,
                        "status": r.status,
                        "prompt": r.prompt_name,
                        "prompt_version": r.prompt_version,
                        "model": r.model,
                        "created_at": r.created_at.isoformat(),
                    }
                    for r in runs
                ],
                indent=2,
            )
        )
        return
    table = Table(show_edge=False)
    for col in ("run", "group", "suite", "prompt", "model", "status", "created"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r.id[:12],
            (r.group_id or "")[:8],
            escape(r.suite or ""),
            escape(f"{r.prompt_name}@{r.prompt_version}"),
            escape(r.model or ""),
            r.status,
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table)
