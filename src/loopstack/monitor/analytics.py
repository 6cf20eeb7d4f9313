"""Product analytics: acceptance and feedback rates per prompt version, per model and per rollout arm.

Acceptance is the share of positive boolean user feedback (thumbs up, accept); the feedback rate is the
share of requests (traces) that got any feedback. Each has a 95% Wilson interval (``evals.stats``), per
time bucket and overall. Votes are treated as independent here (a descriptive view); the rollout's own
test, which randomises and counts users, is the one that decides (``monitor/rollouts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from loopstack import semconv as sc
from loopstack.evals.stats import wilson_interval
from loopstack.store import Store
from loopstack.store import rollouts as rollout_repo
from loopstack.store.analytics import feedback_by


@dataclass
class Rate:
    """A share with its 95% Wilson interval (None when nothing was counted)."""

    k: int = 0
    n: int = 0

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.k, self.n) if self.n else None


@dataclass
class Series:
    """One line of the analytics: a prompt version, a model or a rollout arm."""

    kind: str
    label: str
    requests: int = 0
    acceptance: Rate = field(default_factory=Rate)
    feedback: Rate = field(default_factory=Rate)
    acceptance_by_bucket: list[Rate] = field(default_factory=list)
    feedback_by_bucket: list[Rate] = field(default_factory=list)


def product_analytics(
    store: Store, project_id: str, start: datetime, end: datetime, bucket_seconds: int
) -> tuple[list[datetime], list[Series]]:
    """The buckets and every series over ``[start, end)`` (see the module docstring)."""
    first = int(start.timestamp()) // bucket_seconds
    count = max(1, (int(end.timestamp()) - 1) // bucket_seconds - first + 1)
    buckets = [datetime.fromtimestamp((first + i) * bucket_seconds, UTC) for i in range(count)]
    out: list[Series] = []
    with store.read() as conn:
        for by in ("prompt", "model"):
            requests, votes = feedback_by(conn, project_id, start, end, bucket_seconds, by)
            out += _keyed(by, requests, votes, first, count)
        running = [r for r in rollout_repo.running_rollouts(store) if r["project_id"] == project_id]
        for ro in running:
            out += _arms(conn, project_id, ro, start, end, first, count, bucket_seconds)
    return buckets, out


def _keyed(by: str, requests: Any, votes: Any, first: int, count: int) -> list[Series]:
    found: dict[tuple[Any, Any], Series] = {}

    def series(key: Any, version: Any) -> Series:
        s = found.get((key, version))
        if s is None:
            label = f"{key} v{version}" if by == "prompt" else str(key)
            s = found[(key, version)] = _empty(by, label, count)
        return s

    for key, version, b, n in requests:
        s = series(key, version)
        s.requests += int(n)
        if 0 <= int(b) - first < count:
            s.feedback_by_bucket[int(b) - first].n += int(n)
    for key, version, b, traces, n_votes, positive in votes:
        s = series(key, version)
        s.feedback.k += int(traces)
        s.acceptance.k += int(round(float(positive)))
        s.acceptance.n += int(n_votes)
        if 0 <= int(b) - first < count:
            s.feedback_by_bucket[int(b) - first].k += int(traces)
            rate = s.acceptance_by_bucket[int(b) - first]
            rate.k += int(round(float(positive)))
            rate.n += int(n_votes)
    for s in found.values():
        s.feedback.n = s.requests
    return sorted(found.values(), key=lambda s: (-s.requests, s.label))


def _empty(kind: str, label: str, count: int) -> Series:
    return Series(
        kind,
        label,
        acceptance_by_bucket=[Rate() for _ in range(count)],
        feedback_by_bucket=[Rate() for _ in range(count)],
    )


def _arms(
    conn: Any,
    project_id: str,
    ro: dict[str, Any],
    start: datetime,
    end: datetime,
    first: int,
    count: int,
    bucket_seconds: int,
) -> list[Series]:
    span_rows, score_rows = rollout_repo.observations(conn, project_id, ro["id"])
    trace_arm: dict[str, tuple[str, int]] = {}
    for r in span_rows:
        arm = (r["attributes"] or {}).get(sc.ROLLOUT_ARM)
        if arm in ("control", "candidate") and start <= r["start_time"] < end:
            trace_arm.setdefault(r["trace_id"], (arm, int(r["start_time"].timestamp()) // bucket_seconds))
    version = {"control": ro["control_version"], "candidate": ro["candidate_version"]}
    arms = {a: _empty("arm", f"{ro['prompt']} {a} v{version[a]}", count) for a in ("control", "candidate")}
    for arm, b in trace_arm.values():
        arms[arm].requests += 1
        if 0 <= b - first < count:
            arms[arm].feedback_by_bucket[b - first].n += 1
    voted: set[str] = set()
    for score in score_rows:
        hit = trace_arm.get(score["trace_id"])
        if hit is None or score["data_type"] != "boolean":
            continue
        arm, b = hit
        up = 1 if float(score["value"]) >= 0.5 else 0
        arms[arm].acceptance.k += up
        arms[arm].acceptance.n += 1
        if 0 <= b - first < count:
            arms[arm].acceptance_by_bucket[b - first].k += up
            arms[arm].acceptance_by_bucket[b - first].n += 1
        if score["trace_id"] not in voted:
            voted.add(score["trace_id"])
            arms[arm].feedback.k += 1
            if 0 <= b - first < count:
                arms[arm].feedback_by_bucket[b - first].k += 1
    for series in arms.values():
        series.feedback.n = series.requests
    return list(arms.values())


def default_window(now: datetime, hours: int = 24) -> tuple[datetime, datetime, int]:
    """The last ``hours`` in hourly buckets."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(hours=hours), end, 3600
