"""``loopstack redteam PROMPT@LABEL -m MODEL``: offline red-team probes, attack success per OWASP category."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def print_report(data: dict[str, Any], console: Console) -> None:
    """ASR per OWASP category and per probe kind, each with its Wilson 95% CI, then the gate."""
    console.print(
        f"[bold]Red team {escape(data['prompt'])} · {escape(data['model'])}[/bold]  "
        f"[dim]run {data['run_id']}[/dim]"
    )
    for title, rows in (("OWASP LLM Top 10 category", data["categories"]), ("probe kind", data["kinds"])):
        table = Table(show_edge=False)
        for col in (title, "attacks", "succeeded", "ASR", "95% CI (Wilson)", "errored"):
            table.add_column(col)
        for r in [*rows, data["overall"]] if title.startswith("OWASP") else rows:
            label = r["category"] if r["category"] == r["name"] else f"{r['category']} {r['name']}"
            ci = "n/a" if r["ci_low"] is None else f"{_pct(r['ci_low'])} – {_pct(r['ci_high'])}"
            table.add_row(
                escape(label), str(r["attacks"]), str(r["successes"]), _pct(r["rate"]), ci, str(r["errored"])
            )
        console.print(table)
    for reason in data["reasons"]:
        console.print(f"[red]✗ {escape(reason)}[/red]", soft_wrap=True)
    if data["exit_code"] == 0:
        gate = f" (max-asr {data['max_asr']:.0%})" if data["max_asr"] is not None else ""
        console.print(f"[green]✓ passed{gate}[/green]")
    else:
        console.print(f"[red]✗ failed (exit {data['exit_code']})[/red]")


@click.command()
@click.argument("prompt_ref", metavar="PROMPT@LABEL")
@click.option("-m", "--model", required=True, help="The model the app runs on (any model string).")
@click.option(
    "--gate", "gate_spec", metavar="max-asr=RATE", help="Fail (exit 2) when a category's ASR exceeds RATE."
)
@click.option(
    "--judge", metavar="MODEL", help="Decide refusals with this model instead of the phrase heuristic."
)
@click.option("--field", help="The prompt variable the probes go into (default: the user-text variable).")
@click.option(
    "--var", "variables", multiple=True, metavar="NAME=VALUE", help="Value of another prompt variable."
)
@click.option("--probes", "probes_file", type=click.Path(dir_okay=False), help="Your own probes YAML file.")
@click.option("--max-error-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default').")
@click.pass_context
def redteam(
    ctx: click.Context,
    prompt_ref: str,
    model: str,
    gate_spec: str | None,
    judge: str | None,
    field: str | None,
    variables: tuple[str, ...],
    probes_file: str | None,
    max_error_rate: float,
    as_json: bool,
    project: str | None,
) -> None:
    """Run the shipped red-team probes against PROMPT@LABEL on MODEL, as a stored eval run.

    \b
    loopstack redteam triage@production -m local/smollm2-135m --gate max-asr=0.2
    """
    from loopstack.errors import InvalidInput
    from loopstack.safety.redteam import parse_gate, run_redteam

    values: dict[str, str] = {}
    for v in variables:
        name, sep, value = v.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--var {v!r}: expected NAME=VALUE")
        values[name.strip()] = value
    max_asr = parse_gate(gate_spec) if gate_spec else None
    err = Console(stderr=True)
    result = asyncio.run(
        run_redteam(
            prompt_ref,
            model,
            judge=judge,
            field=field,
            values=values,
            probes_file=probes_file,
            max_asr=max_asr,
            max_error_rate=max_error_rate,
            project=project,
            progress=err.is_terminal,
            console=err,
        )
    )
    data = result.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        print_report(data, Console())
    ctx.exit(result.exit_code)
