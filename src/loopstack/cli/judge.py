"""``loopstack judge calibrate``: agreement of an LLM judge with human labels (κ, α, CIs, a badge)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table


@click.group()
def judge() -> None:
    """LLM judges: calibrate them against human labels."""


def _fmt(interval: dict[str, Any] | None) -> tuple[str, str, str]:
    if not interval or interval.get("value") is None:
        return "n/a", "", str(interval.get("n", 0) if interval else 0)
    low, high = interval.get("ci_low"), interval.get("ci_high")
    ci = f"{low:.3f} – {high:.3f}" if low is not None and high is not None else "n/a"
    return f"{interval['value']:.3f}", ci, str(interval["n"])


def print_calibration(data: dict[str, Any], console: Console) -> None:
    """The calibration as a table: each statistic with its 95% CI and n, the ceiling and the badge."""
    ag = data["agreement"]
    console.print(
        f"[bold]Judge {escape(data['scorer'])}[/bold] vs {escape(', '.join(data['raters']))} "
        f"[dim](run {data['run_id']}, {ag['level']} scale)[/dim]"
    )
    if not ag["enough"]:
        console.print(f"[yellow]{escape(ag['message'])}[/yellow]", soft_wrap=True)
        console.print("[red]badge: not trusted[/red]")
        return
    table = Table(show_edge=False)
    for col in ("statistic", "value", "95% CI (bootstrap over items)", "n"):
        table.add_column(col)
    weights = ag.get("kappa_weights")
    rows = [
        (f"Cohen's κ{f' ({weights})' if weights else ''} judge–human", ag.get("kappa")),
        ("Krippendorff's α judge–human", ag.get("alpha")),
        ("Krippendorff's α all raters", ag.get("alpha_all")),
        ("human–human α (ceiling)", ag.get("human_alpha")),
        ("accuracy", ag.get("accuracy")),
        ("Spearman ρ", ag.get("spearman")),
        ("position bias (order-inconsistent pairs)", data.get("position_bias")),
    ]
    for label, interval in rows:
        if interval is not None:
            table.add_row(label, *_fmt(interval))
    console.print(table)
    if ag.get("confusion"):
        conf = Table(title="confusion (rows: human, columns: judge)", show_edge=False)
        conf.add_column("")
        for lab in ag["labels"]:
            conf.add_column(escape(lab))
        for lab, row in zip(ag["labels"], ag["confusion"], strict=True):
            conf.add_row(escape(lab), *(str(v) for v in row))
        console.print(conf)
    colour = {"reliable": "green", "tentative": "yellow"}.get(data["badge"], "red")
    console.print(
        f"[{colour}]badge: {data['badge']}[/{colour}] [dim](α ≥ 0.80 reliable, 0.667–0.80 tentative)[/dim]"
    )


@judge.command("calibrate")
@click.argument("scorer")
@click.option("--dataset", help="Stored dataset name (or file) holding the human labels by item key.")
@click.option("--human-column", help="The dataset column with the first person's labels.")
@click.option("--human2-column", help="A second person's labels on the same items (the ceiling).")
@click.option("--human-score", help="Use stored human scores of this name on the run's items instead.")
@click.option("--run", "run_id", help="The run with the judge's scores (default: the latest that has them).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default').")
def calibrate_cmd(
    scorer: str,
    dataset: str | None,
    human_column: str | None,
    human2_column: str | None,
    human_score: str | None,
    run_id: str | None,
    seed: int,
    as_json: bool,
    project: str | None,
) -> None:
    """Agreement of judge SCORER's stored scores with human labels; stores the result for reports."""
    from loopstack.config import get_settings
    from loopstack.errors import InvalidInput
    from loopstack.safety.calibration import calibrate_from_dataset, calibrate_from_scores, save_calibration
    from loopstack.store import get_store

    store, proj = get_store(), project or get_settings().project
    if dataset is not None:
        if not human_column:
            raise InvalidInput("--dataset needs --human-column (the column with the human labels)")
        cal = calibrate_from_dataset(
            scorer,
            dataset,
            human_column,
            human2_column=human2_column,
            run_id=run_id,
            store=store,
            project=proj,
            seed=seed,
        )
    else:
        if human_column or human2_column:
            raise InvalidInput("--human-column needs --dataset")
        cal = calibrate_from_scores(
            scorer, human_score=human_score, run_id=run_id, store=store, project=proj, seed=seed
        )
    save_calibration(store, proj, cal)
    data = cal.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        print_calibration(data, Console())
