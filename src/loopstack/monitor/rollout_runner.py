"""Starting, checking and ending rollouts: the library calls behind the CLI, the REST API and the worker.

``check_rollout`` reads a rollout's evidence and asks ``decide`` (``monitor/rollouts.py``); the worker's
``rollouts`` job (``RolloutRunner.tick``) applies the verdict: a ramp step, a rollback (a label event by
author ``rollout`` back to the control, the rollout stopped, an alert through the rollout's channels)
or a promotion (the label moved to the candidate). ``loopstack rollout status`` shows the same check.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import numpy as np

from loopstack.errors import InvalidInput
from loopstack.monitor._rollout_evidence import Summary, gather
from loopstack.monitor.rollouts import (
    PROMOTE,
    READY,
    ROLLBACK,
    STEP,
    RolloutPolicy,
    Verdict,
    decide,
    parse_policy,
    parse_weights,
)
from loopstack.store import Store, utcnow
from loopstack.store import rollouts as repo
from loopstack.store.monitoring import AlertRepository, save_rule_state

log = logging.getLogger("loopstack.rollouts")
AUTHOR = "rollout"


def start_rollout(
    store: Store,
    project: str,
    prompt: str,
    *,
    label: str = "production",
    candidate: int | None = None,
    weights: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """Start ramping ``candidate`` (or the candidate of ``weights``) behind ``label``."""
    from loopstack.prompts import PromptRegistry

    settings = dict(policy or {})
    if weights is not None:
        if candidate is not None:
            raise InvalidInput("give a candidate or weights, not both")
        control = PromptRegistry(store, project).labels(prompt).get(label)
        if control is None:
            raise InvalidInput(f"prompt '{prompt}' has no '{label}' label")
        candidate, pct = parse_weights(weights, control)
        settings.setdefault("steps", [pct])
    if candidate is None:
        raise InvalidInput("give the candidate version to roll out")
    checked = parse_policy(settings)
    channels = [c.model_dump() for c in checked.channels] or [{"type": "log"}]
    rule = AlertRepository(store, project).create_rule(
        f"rollout {prompt}/{label} v{candidate} {secrets.token_hex(3)}",
        {
            "name": f"rollout of {prompt} v{candidate}",
            "metric": "acceptance_rate",
            "baseline": True,
            "channels": channels,
        },
        enabled=False,  # fired by the rollout job, never by the alert windows
    )
    return repo.RolloutRepository(store, project).create(
        prompt=prompt,
        label=label,
        candidate=candidate,
        steps=checked.steps,
        policy=checked.model_dump(mode="json"),
        salt=secrets.token_hex(16),
        author=author,
        alert_rule_id=rule["id"],
    )


def check_rollout(store: Store, row: Mapping[str, Any], now: datetime) -> tuple[Verdict, Summary]:
    """The verdict on a rollout now, and the counts behind it (reads only)."""
    policy = RolloutPolicy.model_validate(row["policy"])
    project_id = row.get("project_id") or store.project_id(row["project"])
    with store.read() as conn:
        span_rows, score_rows = repo.observations(conn, project_id, row["id"], judge_score=policy.judge_score)
    return verdict_of(policy, row, span_rows, score_rows, now)


def verdict_of(
    policy: RolloutPolicy, row: Mapping[str, Any], span_rows: Any, score_rows: Any, now: datetime
) -> tuple[Verdict, Summary]:
    evidence, summary = gather(
        span_rows,
        score_rows,
        step_index=int(row["step_index"]),
        step_elapsed_s=(now - row["step_started_at"]).total_seconds(),
        judge_score=policy.judge_score,
        tau_sd=policy.tau_sd,
    )
    return decide(policy, evidence), summary


def report(verdict: Verdict, summary: Summary, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-ready view of a check (what ``last_check`` stores and the status shows); always-valid
    p-values are the running minimum over the checks so far."""
    prev = dict((previous or {}).get("min_p") or {})

    def metric(name: str, t: Any) -> dict[str, Any]:
        p = min(float(t.p_value), float(prev.get(name, 1.0)))
        prev[name] = p
        return {"delta": float(t.delta), "lower": float(t.lower), "upper": float(t.upper), "p_value": p}

    metrics = {"acceptance": metric("acceptance", verdict.primary)}
    metrics.update({name: metric(name, t) for name, t in verdict.guardrails.items()})
    return {
        "action": verdict.action_name,
        "reason": verdict.reason_text,
        "metrics": metrics,
        "min_p": prev,
        "srm_log_lr": float(verdict.srm_log_lr),
        **asdict(summary),
    }


def stop_rollout(store: Store, project: str, key: str, *, reason: str = "stopped by hand") -> dict[str, Any]:
    """Stop a running rollout; the label keeps its version (the control)."""
    rollouts = repo.RolloutRepository(store, project)
    row = rollouts.get(key)
    if row["state"] != repo.RUNNING:
        raise InvalidInput(f"rollout {row['id']} is not running (it is {row['state']})")
    repo.stop(store, row["id"], "stopped", reason)
    return rollouts.get(row["id"])


def promote_rollout(store: Store, project: str, key: str, *, author: str | None = None) -> dict[str, Any]:
    """Move the label to the candidate by hand and end the rollout as promoted."""
    rollouts = repo.RolloutRepository(store, project)
    row = rollouts.get(key)
    if row["state"] != repo.RUNNING:
        raise InvalidInput(f"rollout {row['id']} is not running (it is {row['state']})")
    _finish(store, row, "promoted", "promoted by hand", author or AUTHOR, utcnow())
    return rollouts.get(row["id"])


def _finish(
    store: Store, row: Mapping[str, Any], state: str, reason: str, author: str, now: datetime
) -> bool:
    control, candidate = int(row["control_version"]), int(row["candidate_version"])
    target = candidate if state == "promoted" else control
    verb = "promoted" if state == "promoted" else "rolled back"
    done = repo.save_check(
        store,
        row["id"],
        {"state": state, "reason": reason, "ended_at": now},
        decision={"action": state, "reason": reason},
        label_event=(candidate if state != "promoted" else control, target),
        author=author,
        message=f"rollout {row['id'][:8]} {verb}: {reason}",
    )
    if done and row.get("alert_rule_id"):
        save_rule_state(
            store,
            row["alert_rule_id"],
            {"state": "firing" if state != "promoted" else "ok"},
            [
                {
                    "project_id": row.get("project_id") or store.project_id(row["project"]),
                    "kind": "fired" if state != "promoted" else "resolved",
                    "value": None,
                    "samples": None,
                    "window_start": row["created_at"],
                    "window_end": now,
                    "message": (
                        f"{row['prompt']}/{row['label']}: v{row['candidate_version']} {verb} ({reason})"
                    ),
                    "details": {"rollout_id": row["id"], "state": state, "reason": reason},
                }
            ],
            _deliveries(row),
        )
    return done


def _deliveries(row: Mapping[str, Any]) -> list[dict[str, str]]:
    from loopstack.monitor.alerts import Channel

    channels = [Channel.model_validate(c) for c in (row["policy"].get("channels") or [{"type": "log"}])]
    return [{"channel": c.type, "target": c.target()} for c in channels]


class RolloutRunner:
    """The worker's ``rollouts`` job: checks every running rollout and applies its verdict."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def tick(self, now: datetime) -> dict[str, int]:
        totals = {"checked": 0, "stepped": 0, "rolled_back": 0, "promoted": 0}
        for row in repo.running_rollouts(self.store):
            try:
                key = self.run_one(row, now)
            except Exception:  # noqa: BLE001 - one broken rollout must not stop the others
                log.exception("rollouts: %s failed", row["id"])
                continue
            totals["checked"] += 1
            if key:
                totals[key] += 1
        return totals

    def run_one(self, row: Mapping[str, Any], now: datetime) -> str | None:
        from loopstack.prompts import PromptRegistry

        current = PromptRegistry(self.store, row["project"]).labels(row["prompt"]).get(row["label"])
        if current != row["control_version"]:
            repo.stop(self.store, row["id"], "stopped", f"label moved by hand to v{current}")
            return None
        verdict, summary = check_rollout(self.store, row, now)
        check = report(verdict, summary, row.get("last_check"))
        action = int(np.asarray(verdict.action))
        if action == ROLLBACK:
            _finish(self.store, row, "rolled_back", verdict.reason_text, AUTHOR, now)
            repo.save_last_check(self.store, row["id"], check)
            return "rolled_back"
        if action == PROMOTE:
            _finish(self.store, row, "promoted", verdict.reason_text, AUTHOR, now)
            repo.save_last_check(self.store, row["id"], check)
            return "promoted"
        if action == STEP:
            index = int(row["step_index"]) + 1
            pct = int(row["steps"][index])
            repo.save_check(
                self.store,
                row["id"],
                {"step_index": index, "step_started_at": now, "last_check": check},
                decision={"action": "step", "step": index, "pct": pct, "reason": verdict.reason_text},
            )
            return "stepped"
        if action == READY:
            check["ready"] = True
        repo.save_check(self.store, row["id"], {"last_check": check})
        return None


def live_status(store: Store, project: str, key: str, now: datetime) -> dict[str, Any]:
    """A rollout and its check: computed now while it runs, the stored last check once it ended."""
    row = repo.RolloutRepository(store, project).get(key)
    if row["state"] != repo.RUNNING:
        return {"rollout": row, "check": row.get("last_check")}
    verdict, summary = check_rollout(store, {**row, "project": project}, now)
    return {"rollout": row, "check": report(verdict, summary, row.get("last_check"))}
