"""``loopstack rollout``: ramp a candidate prompt version behind a label, watch its test, stop or promote."""

from __future__ import annotations

import json
import re
from typing import Any

import click

project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _ctx(project: str | None) -> tuple[Any, str]:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return get_store(), project or get_settings().project


def parse_every(text: str) -> int:
    """``90s``, ``30m``, ``1h``, ``2d`` (or plain seconds) as seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not found:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 1h or 2d", param_hint="--every")
    return int(found.group(1)) * _UNITS[found.group(2) or "s"]


def parse_steps(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a list of percents like 10,25,50,100", param_hint="--steps"
        ) from None


@click.group()
def rollout() -> None:
    """Gradual rollouts: sticky arms, an always-valid A/B test, automatic rollback and promotion."""


@rollout.command()
@click.argument("prompt")
@click.option("--label", default="production", show_default=True, help="The label to ramp behind.")
@click.option("--candidate", type=click.IntRange(1), required=True, help="The version to roll out.")
@click.option("--steps", default="10,25,50,100", show_default=True, help="Candidate percents per step.")
@click.option("--every", default=None, metavar="DURATION", help="Step on a timetable: 30m, 1h, 1d ...")
@click.option("--on-evidence", is_flag=True, help="Step once --min-users per arm were seen without harm.")
@click.option("--min-users", type=click.IntRange(1), default=200, show_default=True)
@click.option("--auto-promote", is_flag=True, help="Promote when significantly better at the widest step.")
@click.option("--margin", type=float, default=None, help="Promote when non-inferior within this margin.")
@click.option("--judge-score", default=None, help="A judge's score name to guard (lower is worse).")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help="POST rollback/promotion here.")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help="Email rollback/promotion.")
@project_option
def start(
    prompt: str,
    label: str,
    candidate: int,
    steps: str,
    every: str | None,
    on_evidence: bool,
    min_users: int,
    auto_promote: bool,
    margin: float | None,
    judge_score: str | None,
    webhooks: tuple[str, ...],
    emails: tuple[str, ...],
    project: str | None,
) -> None:
    """Start rolling out version --candidate of PROMPT behind --label."""
    from loopstack.monitor.rollout_runner import start_rollout

    channels: list[dict[str, Any]] = [{"type": "webhook", "url": u} for u in webhooks]
    if emails:
        channels.append({"type": "email", "to": list(emails)})
    policy: dict[str, Any] = {
        "steps": parse_steps(steps),
        "on_evidence": on_evidence,
        "min_users": min_users,
        "auto_promote": auto_promote,
        "channels": channels or [{"type": "log"}],
    }
    if every is not None:
        policy["every_s"] = parse_every(every)
    if margin is not None:
        policy["non_inferiority_margin"] = margin
    if judge_score:
        policy.update(
            judge_score=judge_score, guardrails=["error_rate", "p95_latency", "cost", "judge_score"]
        )
    store, project = _ctx(project)
    row = start_rollout(store, project, prompt, label=label, candidate=candidate, policy=policy)
    ramp = "on evidence" if on_evidence else f"every {every}"
    click.echo(
        f"Started rollout {row['id']}: {prompt} '{label}' v{row['control_version']} (control) -> "
        f"v{candidate} at {row['steps'][0]}%, steps {','.join(map(str, row['steps']))} {ramp}"
        f"{', auto-promote' if auto_promote else ''}."
    )


@rollout.command()
@click.argument("key", required=False)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(key: str | None, project: str | None, as_json: bool) -> None:
    """The arms of rollout KEY (an id or prompt name; default: every running one) and their test."""
    from loopstack.monitor.rollout_runner import live_status
    from loopstack.store import utcnow
    from loopstack.store.rollouts import RolloutRepository

    store, project = _ctx(project)
    keys = [key] if key else [r["id"] for r in RolloutRepository(store, project).list(state="running")]
    if not keys:
        click.echo(f"No running rollouts in project {project!r}.")
        return
    found = [live_status(store, project, k, utcnow()) for k in keys]
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
        return
    for item in found:
        _print_status(item["rollout"], item["check"])


def _print_status(row: dict[str, Any], check: dict[str, Any] | None) -> None:
    steps = row["steps"]
    pct = steps[min(row["step_index"], len(steps) - 1)]
    click.echo(
        f"{row['id']}  {row['prompt']} '{row['label']}'  {row['state'].upper()}  "
        f"v{row['control_version']} control / v{row['candidate_version']} candidate at {pct}% "
        f"(step {row['step_index'] + 1} of {len([s for s in steps if s < 100])})"
    )
    if row.get("reason"):
        click.echo(f"  reason: {row['reason']}")
    if not check:
        return
    for arm in ("control", "candidate"):
        acc = check["acceptance"][arm]
        click.echo(
            f"  {arm:<9} users {check['users'][arm]:>6}  with feedback {check['feedback_users'][arm]:>6}  "
            f"acceptance {'–' if acc is None else f'{acc:.1%}'}"
        )
    for name, m in check["metrics"].items():
        click.echo(
            f"  {name:<12} candidate − control {m['delta']:+.4f}  always-valid 95% CI "
            f"[{m['lower']:+.4f}, {m['upper']:+.4f}]  p {m['p_value']:.3g}"
        )
    click.echo(f"  verdict: {check['action']}{' (' + check['reason'] + ')' if check['reason'] else ''}")
    if check.get("units_in_two_arms"):
        click.echo(f"  warning: {check['units_in_two_arms']} users were served by both arms")


@rollout.command()
@click.argument("key")
@project_option
def stop(key: str, project: str | None) -> None:
    """Stop rollout KEY (id or prompt name); the label keeps the control version."""
    from loopstack.monitor.rollout_runner import stop_rollout

    store, project = _ctx(project)
    row = stop_rollout(store, project, key)
    click.echo(f"Stopped rollout {row['id']}: '{row['label']}' stays at v{row['control_version']}.")


@rollout.command()
@click.argument("key")
@project_option
def promote(key: str, project: str | None) -> None:
    """Promote the candidate of rollout KEY by hand: the label moves to it."""
    from loopstack.monitor.rollout_runner import promote_rollout
    from loopstack.prompts import default_author

    store, project = _ctx(project)
    row = promote_rollout(store, project, key, author=default_author())
    click.echo(f"Promoted rollout {row['id']}: '{row['label']}' now points at v{row['candidate_version']}.")
