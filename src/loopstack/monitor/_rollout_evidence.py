"""From a rollout's stamped spans and their feedback to the per-user ``Evidence`` that ``decide`` reads.

The unit is the id the arm was picked by (``loopstack.rollout.unit``): users are what is randomised, so
each contributes one value per metric (their share of accepted answers, of failed requests, of requests
slower than the control's p95; their mean cost per request and judge score). A trace counts once: its
arm and unit from any of its stamped spans, failed when any span failed, its latency the longest span,
its cost the sum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from loopstack import semconv as sc
from loopstack.monitor._sequential import mean_sequence, moments
from loopstack.monitor.rollouts import ArmPair, Evidence
from loopstack.prompts._rollout import CANDIDATE, CONTROL

ARMS = (CONTROL, CANDIDATE)


@dataclass
class _Trace:
    arm: str
    unit: str
    step: int | None
    error: bool = False
    duration: float = 0.0
    cost: float = 0.0
    start: datetime | None = None


@dataclass
class Summary:
    """What the status shows next to the test: counts per arm and the stickiness check."""

    users: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    feedback_users: dict[str, int] = field(default_factory=dict)
    acceptance: dict[str, float | None] = field(default_factory=dict)
    acceptance_interval: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    """each arm's always-valid 95% interval for its acceptance"""
    step_users: dict[str, int] = field(default_factory=dict)
    units_in_two_arms: int = 0
    p95_threshold_ms: float | None = None


def gather(
    span_rows: Sequence[Mapping[str, Any]],
    score_rows: Sequence[Mapping[str, Any]],
    *,
    step_index: int,
    step_elapsed_s: float,
    judge_score: str | None,
    tau_sd: float = 0.1,
) -> tuple[Evidence, Summary]:
    """The evidence of one check (see the module docstring)."""
    traces: dict[str, _Trace] = {}
    for r in span_rows:
        attrs = r.get("attributes") or {}
        arm = attrs.get(sc.ROLLOUT_ARM)
        if arm not in ARMS:
            continue
        unit = attrs.get(sc.ROLLOUT_UNIT) or r.get("user_id") or r.get("session_id")
        if unit is None:
            continue
        t = traces.get(r["trace_id"])
        if t is None:
            step = attrs.get(sc.ROLLOUT_STEP)
            t = traces[r["trace_id"]] = _Trace(str(arm), str(unit), int(step) if step is not None else None)
        start = r.get("start_time")
        if start is not None and (t.start is None or start < t.start):
            t.start = start
        t.error |= r.get("status_code") == "ERROR"
        t.duration = max(t.duration, float(r.get("duration_ms") or 0.0))
        t.cost += float(r.get("cost") or 0.0)

    feedback: dict[str, list[float]] = defaultdict(list)
    judged: dict[str, list[float]] = defaultdict(list)
    for s in score_rows:
        if s["trace_id"] not in traces:
            continue
        if s["data_type"] == "boolean" and s["source"] in ("user-feedback", "human"):
            feedback[s["trace_id"]].append(1.0 if float(s["value"]) >= 0.5 else 0.0)
        elif judge_score and s["name"] == judge_score:
            judged[s["trace_id"]].append(float(s["value"]))

    summary = Summary()
    unit_arm: dict[str, str] = {}
    arms_of: dict[str, set[str]] = defaultdict(set)
    by_unit: dict[str, list[tuple[str, _Trace]]] = defaultdict(list)
    for tid, t in sorted(traces.items(), key=lambda kv: (kv[1].start is None, kv[1].start or 0, kv[0])):
        arms_of[t.unit].add(t.arm)
        unit_arm.setdefault(t.unit, t.arm)
        by_unit[t.unit].append((tid, t))
    summary.units_in_two_arms = sum(1 for a in arms_of.values() if len(a) > 1)

    control_durations = [t.duration for t in traces.values() if t.arm == CONTROL]
    threshold = float(np.percentile(control_durations, 95)) if len(control_durations) >= 20 else None
    summary.p95_threshold_ms = threshold

    values: dict[str, dict[str, list[float]]] = {m: {a: [] for a in ARMS} for m in _METRICS}
    step_units: dict[str, set[str]] = {a: set() for a in ARMS}
    for unit, items in by_unit.items():
        arm = unit_arm[unit]
        # A unit's requests count in its first arm only (a unit never changes arm while the test runs).
        mine = [(tid, t) for tid, t in items if t.arm == arm]
        if any(t.step == step_index for _, t in mine):
            step_units[arm].add(unit)
        values["error_rate"][arm].append(float(np.mean([t.error for _, t in mine])))
        values["cost"][arm].append(float(np.mean([t.cost for _, t in mine])))
        if threshold is not None:
            values["p95_latency"][arm].append(float(np.mean([t.duration > threshold for _, t in mine])))
        fb = [v for tid, _ in mine for v in feedback.get(tid, ())]
        if fb:
            values["acceptance"][arm].append(float(np.mean(fb)))
        js = [v for tid, _ in mine for v in judged.get(tid, ())]
        if js:
            values["judge_score"][arm].append(float(np.mean(js)))

    for arm in ARMS:
        summary.users[arm] = len(values["error_rate"][arm])
        summary.requests[arm] = sum(1 for t in traces.values() if t.arm == arm)
        summary.feedback_users[arm] = len(values["acceptance"][arm])
        acc = values["acceptance"][arm]
        summary.acceptance[arm] = float(np.mean(acc)) if acc else None
        n, mean, var = moments(acc)
        if n >= 2:
            lo, hi = mean_sequence(n, mean, var, alpha=0.05, tau_sd=tau_sd)
            summary.acceptance_interval[arm] = (max(0.0, float(lo)), min(1.0, float(hi)))
        else:
            summary.acceptance_interval[arm] = None
        summary.step_users[arm] = len(step_units[arm])

    pairs = {m: _pair(values[m]) for m in _METRICS}
    evidence = Evidence(
        primary=pairs.pop("acceptance"),
        step_index=step_index,
        step_users_control=summary.step_users[CONTROL],
        step_users_candidate=summary.step_users[CANDIDATE],
        step_elapsed_s=step_elapsed_s,
        guardrails=pairs,
    )
    return evidence, summary


_METRICS = ("acceptance", "error_rate", "p95_latency", "cost", "judge_score")


def _pair(values: Mapping[str, list[float]]) -> ArmPair:
    na, ma, va = moments(values[CONTROL])
    nb, mb, vb = moments(values[CANDIDATE])
    return ArmPair(na, 0.0 if na == 0 else ma, va, nb, 0.0 if nb == 0 else mb, vb)
