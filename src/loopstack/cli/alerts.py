"""``loopstack alerts``: define alert rules, list them with their state, list firings and resolutions."""

from __future__ import annotations

import json
from typing import Any

import click

from loopstack.cli._monitor_args import parse_filters

project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)
METRICS = (
    "error_rate",
    "p95_latency_ms",
    "cost",
    "cost_per_user",
    "mean_score",
    "negative_feedback_rate",
    "acceptance_rate",
)


def _ctx(project: str | None) -> tuple[Any, str]:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return get_store(), project or get_settings().project


@click.group()
def alerts() -> None:
    """Alert rules over rolling windows; the server's worker decides them and notifies the channels."""


@alerts.command()
@click.argument("name")
@click.option("--metric", type=click.Choice(METRICS), required=True)
@click.option("--fire", type=float, default=None, help="Threshold that breaches (leave out with --baseline).")
@click.option(
    "--resolve", type=float, default=None, help="Threshold that clears (hysteresis); default: --fire."
)
@click.option(
    "--window", "window_s", type=click.IntRange(10, 86_400), default=300, show_default=True, help="Seconds."
)
@click.option(
    "--step", "step_s", type=click.IntRange(10, 86_400), default=None, help="Seconds between windows."
)
@click.option(
    "--sustained",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Breaching windows in a row to fire.",
)
@click.option("--min-samples", type=click.IntRange(0), default=30, show_default=True)
@click.option("--baseline", is_flag=True, help="Fire on a significant change against the previous 7 days.")
@click.option(
    "--alpha", type=float, default=0.01, show_default=True, help="Per-window level of the baseline test."
)
@click.option("--score-name", default=None, help="The score a score metric reads.")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE", help="As for evaluators.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help="POST each event as JSON here.")
@click.option(
    "--email", "emails", multiple=True, metavar="ADDRESS", help="Email each event (LOOPSTACK_SMTP_HOST)."
)
@click.option("--log", "log_channel", is_flag=True, help="Log each event on the server.")
@project_option
def add(
    name: str,
    metric: str,
    fire: float | None,
    resolve: float | None,
    window_s: int,
    step_s: int | None,
    sustained: int,
    min_samples: int,
    baseline: bool,
    alpha: float,
    score_name: str | None,
    filters: tuple[str, ...],
    webhooks: tuple[str, ...],
    emails: tuple[str, ...],
    log_channel: bool,
    project: str | None,
) -> None:
    """Create alert rule NAME."""
    from loopstack.monitor import create_rule

    channels: list[dict[str, Any]] = [{"type": "webhook", "url": u} for u in webhooks]
    if emails:
        channels.append({"type": "email", "to": list(emails)})
    if log_channel:
        channels.append({"type": "log"})
    data: dict[str, Any] = {
        "name": name,
        "metric": metric,
        "window_s": window_s,
        "sustained": sustained,
        "min_samples": min_samples,
        "baseline": baseline,
        "alpha": alpha,
        "filter": parse_filters(filters),
        "channels": channels,
    }
    for key, value in (("fire", fire), ("resolve", resolve), ("step_s", step_s), ("score_name", score_name)):
        if value is not None:
            data[key] = value
    store, project = _ctx(project)
    row = create_rule(store, project, data)
    how = "against the previous 7 days" if baseline else f"at {fire:g}"
    click.echo(
        f"Created alert rule {row['name']!r}: {metric} over {window_s} s windows, fires {how} "
        f"after {sustained} window(s), {len(channels)} channel(s)."
    )
    if score_name:
        from loopstack.evals.calibration_notes import describe, judge_calibrations

        for judge, cal in judge_calibrations(store, project, [score_name]).items():
            if cal.get("badge") == "not trusted":
                click.secho(f"Warning: this rule relies on an untrusted {describe(judge, cal)}", fg="yellow")


@alerts.command("list")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(project: str | None, as_json: bool) -> None:
    """Rules with their state (ok / firing) and last value, then the latest events."""
    from loopstack.store.monitoring import AlertRepository

    store, project = _ctx(project)
    repo = AlertRepository(store, project)
    rules = repo.list_rules()
    if as_json:
        click.echo(json.dumps(rules, indent=2, default=str))
        return
    if not rules:
        click.echo(f"No alert rules in project {project!r}. Add one: loopstack alerts add NAME --metric ...")
        return
    for r in rules:
        value = "–" if r["last_value"] is None else f"{r['last_value']:.4g}"
        click.echo(
            f"{r['name']:<24} {r['state'].upper():<7} {r['spec']['metric']:<22} last {value} "
            f"({r['last_samples'] or 0} samples)"
        )
    _print_events(repo.list_events(limit=10))


def _print_events(events: list[dict[str, Any]]) -> None:
    for e in events:
        sent = ", ".join(f"{d['channel']} {d['status']}" for d in e["deliveries"]) or "no channels"
        click.echo(f"{e['created_at']:%Y-%m-%d %H:%M:%S}  {e['kind'].upper():<8} {e['message']}  [{sent}]")


@alerts.command()
@click.option("--rule", default=None, help="One rule's events (id or name).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def events(rule: str | None, limit: int, project: str | None, as_json: bool) -> None:
    """Firings and resolutions, newest first, with how each was delivered."""
    from loopstack.store.monitoring import AlertRepository

    store, project = _ctx(project)
    found = AlertRepository(store, project).list_events(rule=rule, limit=limit)
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
    elif not found:
        click.echo("No alert events yet.")
    else:
        _print_events(found)
