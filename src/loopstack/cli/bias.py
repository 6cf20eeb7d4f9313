"""``loopstack bias PROMPT@LABEL --dataset D -m MODEL``: counterfactual bias test on the team's own task."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _scorer_entry(text: str) -> dict[str, Any]:
    """``NAME`` or ``NAME:{"json": "params"}`` -> a suite scorer entry."""
    from loopstack.errors import InvalidInput

    name, sep, params = text.partition(":")
    entry: dict[str, Any] = {"scorer": name.strip()}
    if sep:
        try:
            value = json.loads(params)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--scorer {text!r}: the parameters are not JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise InvalidInput(f"--scorer {text!r}: the parameters must be a JSON object")
        entry["params"] = value
    return entry


def _suite_scorers(path: str) -> list[dict[str, Any]]:
    from loopstack.evals.suite import load_suite

    return [s.model_dump(exclude_defaults=True) for s in load_suite(path).scorers]


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def print_report(data: dict[str, Any], console: Console) -> None:
    """The per-group table (difference vs the originals with its paired 95% CI) and each group's verdict."""
    console.print(
        f"[bold]Counterfactual bias on {escape(data['dataset'])}[/bold] ({data['mode']}): "
        f"{data['items']} originals, {data['variants']} variants  [dim]run {data['run_id']}[/dim]"
    )
    table = Table(show_edge=False)
    for col in (
        "group: variant",
        "score",
        "n",
        "orig → var",
        "diff, 95% CI (paired)",
        "p Holm",
        "verdict",
        "changed",
    ):
        table.add_column(col)
    for r in data["comparisons"]:
        ci = "" if r["ci_low"] is None else f" [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
        means = "n/a" if r["original_mean"] is None else f"{r['original_mean']:.2f} → {r['variant_mean']:.2f}"
        p = "n/a" if r["p_adjusted"] is None else f"{r['p_adjusted']:.3f}"
        verdict = {"no significant difference": "n.s.", "cannot back a verdict": "no verdict"}.get(
            r["verdict"], r["verdict"]
        )
        table.add_row(
            escape(f"{r['group']}: {r['variant']}"), escape(r["score"]), str(r["n"]), means,
            _signed(r["diff"]) + ci, p, verdict, f"{r['changed_outputs']}/{r['n']}",
        )  # fmt: skip
    console.print(table)
    for group, verdict in data["verdicts"].items():
        colour = (
            "red" if verdict.startswith("bias") else "green" if verdict.startswith("no sig") else "yellow"
        )
        console.print(f"[{colour}]{escape(group)}: {escape(verdict)}[/{colour}]", soft_wrap=True)


@click.command()
@click.argument("prompt_ref", metavar="PROMPT@LABEL")
@click.option("--dataset", required=True, help="Stored dataset (name or name@version).")
@click.option("-m", "--model", required=True, help="Model string.")
@click.option(
    "--scorer", "scorers", multiple=True, metavar='NAME[:{"param": ...}]', help="Scorer (repeatable)."
)
@click.option(
    "--suite", "suite_file", type=click.Path(dir_okay=False), help="Take the scorers of this suite file."
)
@click.option(
    "--terms", type=click.Path(dir_okay=False), help="Your term-list YAML (replaces groups by name)."
)
@click.option("--group", "groups", multiple=True, help="Only this term group (repeatable).")
@click.option("--mode", type=click.Choice(["swap", "persona"]), default="swap", show_default=True)
@click.option("--field", "fields", multiple=True, help="Only these input fields are rewritten.")
@click.option("--split", help="Only items of this split.")
@click.option("--limit", type=int, help="Only the first N items.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--project", default=None)
def bias(
    prompt_ref: str,
    dataset: str,
    model: str,
    scorers: tuple[str, ...],
    suite_file: str | None,
    terms: str | None,
    groups: tuple[str, ...],
    mode: str,
    fields: tuple[str, ...],
    split: str | None,
    limit: int | None,
    as_json: bool,
    project: str | None,
) -> None:
    """Swap demographic terms in DATASET, run PROMPT@LABEL on originals and variants, compare per group.

    \b
    loopstack bias triage@production --dataset app-reviews -m local/smollm2-135m \\
        --suite suite.yaml --mode persona --group gender --limit 40
    """
    from loopstack.safety.bias import run_bias

    entries = [_scorer_entry(s) for s in scorers] + (_suite_scorers(suite_file) if suite_file else [])
    err = Console(stderr=True)
    report = asyncio.run(
        run_bias(
            prompt_ref, dataset, model, scorers=entries, terms=terms, groups=list(groups) or None,
            mode=mode,  # type: ignore[arg-type]
            fields=list(fields) or None, split=split, limit=limit, project=project,
            progress=err.is_terminal, console=err,
        )
    )  # fmt: skip
    data = report.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        print_report(data, Console())
