"""Alert rules over rolling windows: one decision function the server, the CLI and the benches share.

A rule measures a metric over a window (``window_s`` long, evaluated every ``step_s``) of the spans that
match its filter, or of the scores it names: error rate, p95 latency, cost (total, or the costliest
user's), a scorer's mean score, the negative-feedback rate, the acceptance rate. A window breaches
either a threshold (``fire``; it clears below ``resolve``: hysteresis) or, with ``baseline: true``, a
one-sided test against the previous 7 days at ``alpha`` (it clears once p >= ``resolve_alpha``). A
rule fires after ``sustained`` breaching windows in a row and resolves after ``resolve_after`` clear
ones; windows with fewer than ``min_samples`` requests (or scores) decide nothing. ``decide`` is the
one place this is decided.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopstack.errors import InvalidInput
from loopstack.monitor._baseline import mean_decrease_p, rate_decrease_p, rate_increase_p
from loopstack.monitor.evaluators import SpanFilter, pydantic_message
from loopstack.store import Store
from loopstack.store.monitor_spans import score_window, span_window
from loopstack.store.monitoring import AlertRepository, enabled_rules, save_rule_state

log = logging.getLogger("loopstack.alerts")

Metric = Literal[
    "error_rate",
    "p95_latency_ms",
    "cost",
    "cost_per_user",
    "mean_score",
    "negative_feedback_rate",
    "acceptance_rate",
]
METRICS: tuple[str, ...] = Metric.__args__  # type: ignore[attr-defined]
#: Metrics where a lower value is the bad direction (they fire when they drop).
LOWER_IS_WORSE = frozenset({"mean_score", "acceptance_rate"})
SCORE_METRICS = frozenset({"mean_score", "negative_feedback_rate", "acceptance_rate"})
RATE_METRICS = frozenset({"error_rate", "negative_feedback_rate", "acceptance_rate"})
BASELINE_DAYS = 7
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Channel(BaseModel):
    """Where a firing or resolution is sent."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook", "email", "log"]
    url: str | None = Field(default=None, max_length=2000, description="webhook: where the JSON is POSTed")
    to: list[str] = Field(default_factory=list, max_length=20, description="email: recipients")
    smtp_host: str | None = Field(
        default=None, max_length=300, description="email: default LOOPSTACK_SMTP_HOST"
    )
    smtp_port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _complete(self) -> Channel:
        if self.type == "webhook" and not (self.url and self.url.startswith(("http://", "https://"))):
            raise ValueError("a webhook channel needs an http:// or https:// url")
        if self.type == "email" and not self.to:
            raise ValueError("an email channel needs at least one address in 'to'")
        return self

    def target(self) -> str:
        if self.type == "webhook":
            return str(self.url)
        if self.type == "email":
            return ", ".join(self.to)
        return "log"


class AlertSpec(BaseModel):
    """The definition of an alert rule (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    metric: Metric
    filter: SpanFilter = Field(default_factory=SpanFilter)
    score_name: str | None = Field(default=None, max_length=200, description="the score a score metric reads")
    window_s: int = Field(default=300, ge=10, le=86_400)
    step_s: int | None = Field(default=None, ge=10, le=86_400, description="default: the window (tumbling)")
    fire: float | None = Field(default=None, description="threshold that breaches (not with baseline)")
    resolve: float | None = Field(default=None, description="threshold that clears; default: fire")
    min_samples: int = Field(default=30, ge=0, le=10_000_000)
    sustained: int = Field(default=1, ge=1, le=100)
    resolve_after: int = Field(default=1, ge=1, le=100)
    baseline: bool = False
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    resolve_alpha: float = Field(default=0.2, gt=0, lt=1)
    delay_s: int = Field(default=30, ge=0, le=3600, description="how long after a window ends it is decided")
    channels: list[Channel] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> AlertSpec:
        if self.baseline:
            if self.metric not in RATE_METRICS and self.metric != "mean_score":
                raise ValueError("baseline: true works for rates and mean_score, not " + self.metric)
            if self.fire is not None:
                raise ValueError("a baseline rule is decided by its test: leave fire/resolve out")
        elif self.fire is None:
            raise ValueError(f"metric {self.metric}: give a fire threshold (or baseline: true)")
        if self.metric == "mean_score" and not self.score_name:
            raise ValueError("mean_score needs score_name: the score to average")
        if self.metric in SCORE_METRICS and self.filter.model_dump(exclude_defaults=True):
            raise ValueError(f"{self.metric} reads scores: span filters do not apply to it")
        if self.resolve is not None and self.fire is not None:
            worse = (
                self.resolve > self.fire if self.metric not in LOWER_IS_WORSE else self.resolve < self.fire
            )
            if worse:
                raise ValueError("resolve must be on the good side of fire (hysteresis)")
        if (self.step_s or self.window_s) > self.window_s:
            raise ValueError("step_s cannot be longer than window_s")
        return self

    @property
    def step(self) -> int:
        return self.step_s or self.window_s

    @property
    def lower_is_worse(self) -> bool:
        return self.metric in LOWER_IS_WORSE


def parse_rule(data: Mapping[str, Any]) -> AlertSpec:
    """A checked alert rule; ``InvalidInput`` names the first problem."""
    try:
        return AlertSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc, "alert rule")) from None


def create_rule(
    store: Store, project: str, data: Mapping[str, Any], *, start_at: datetime | None = None
) -> dict[str, Any]:
    """Check and store a rule; its first window is the first to end after ``start_at`` (default now)."""
    spec = parse_rule(data)
    body = spec.model_dump(exclude_defaults=True, exclude={"name"})
    body["metric"] = spec.metric
    begin = start_at or datetime.now(UTC)
    return AlertRepository(store, project).create_rule(spec.name, body, start_at=_align(begin, spec.step))


def rule_spec(row: Mapping[str, Any]) -> AlertSpec:
    return AlertSpec.model_validate({"name": row["name"], **row["spec"]})


def _align(t: datetime, step: int) -> datetime:
    seconds = int((t - _EPOCH).total_seconds()) // step * step
    return _EPOCH + timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measure:
    """One window's figure: ``value`` over ``samples``; ``events`` for rates, ``var`` for means."""

    value: float | None
    samples: int
    events: int = 0
    var: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def measure(store: Store, project_id: str, spec: AlertSpec, start: datetime, end: datetime) -> Measure:
    """The rule's metric over ``[start, end)``."""
    match = spec.filter.match()
    with store.read() as conn:
        if spec.metric in SCORE_METRICS:
            if spec.metric == "mean_score":
                w = score_window(conn, project_id, start, end, name=spec.score_name)
                var = max(0.0, (w.total_sq - w.total**2 / w.n) / (w.n - 1)) if w.n > 1 else 0.0
                return Measure(w.mean, w.n, var=var)
            name = spec.score_name or ("accepted" if spec.metric == "acceptance_rate" else None)
            w = score_window(conn, project_id, start, end, name=name, feedback=True, boolean=True)
            good = int(round(w.total))
            events = good if spec.metric == "acceptance_rate" else w.n - good
            return Measure(events / w.n if w.n else None, w.n, events=events)
        s = span_window(
            conn,
            project_id,
            match,
            start,
            end,
            latency=spec.metric == "p95_latency_ms",
            per_user=spec.metric == "cost_per_user",
        )
    if spec.metric == "error_rate":
        return Measure(s.errors / s.requests if s.requests else None, s.requests, events=s.errors)
    if spec.metric == "p95_latency_ms":
        return Measure(s.p95_latency_ms, s.requests)
    if spec.metric == "cost":
        return Measure(s.cost, s.requests)
    return Measure(s.top_user_cost, s.requests, details={"user_id": s.top_user})


# ------------------------------------------------------------------------------------------ deciding


@dataclass(frozen=True)
class RuleState:
    """Where a rule stands between windows."""

    state: Literal["ok", "firing"] = "ok"
    breach_streak: int = 0
    clear_streak: int = 0


@dataclass(frozen=True)
class Decision:
    """What one window decided: the new state, the transition (``fired``/``resolved``) if any, and why."""

    state: RuleState
    transition: Literal["fired", "resolved"] | None
    verdict: Literal["breach", "clear", "between", "too_few"]
    p_value: float | None = None


def window_verdict(spec: AlertSpec, m: Measure, baseline: Measure | None) -> tuple[str, float | None]:
    """``breach``, ``clear``, ``between`` (hysteresis band) or ``too_few`` for one window, and the p-value
    of the baseline test when there is one."""
    counts_samples = spec.metric not in ("cost", "cost_per_user")
    if m.value is None or (counts_samples and m.samples < max(1, spec.min_samples)):
        return "too_few", None
    if spec.baseline:
        if baseline is None or baseline.samples < max(1, spec.min_samples):
            return "too_few", None
        if spec.metric == "mean_score":
            p = mean_decrease_p(
                m.value, m.var, m.samples, baseline.value or 0.0, baseline.var, baseline.samples
            )
        elif spec.lower_is_worse:
            p = rate_decrease_p(m.events, m.samples, baseline.events, baseline.samples)
        else:
            p = rate_increase_p(m.events, m.samples, baseline.events, baseline.samples)
        if p < spec.alpha:
            return "breach", p
        return ("clear" if p >= spec.resolve_alpha else "between"), p
    assert spec.fire is not None
    resolve = spec.fire if spec.resolve is None else spec.resolve
    if spec.lower_is_worse:
        breach, clear = m.value < spec.fire, m.value >= resolve
    else:
        breach, clear = m.value > spec.fire, m.value <= resolve
    return ("breach" if breach else "clear" if clear else "between"), None


def decide(spec: AlertSpec, state: RuleState, m: Measure, baseline: Measure | None = None) -> Decision:
    """The one decision: the rule's state after a window measured as ``m``."""
    verdict, p = window_verdict(spec, m, baseline)
    if verdict == "too_few":
        return Decision(state, None, "too_few", p)
    if state.state == "ok":
        streak = state.breach_streak + 1 if verdict == "breach" else 0
        if streak >= spec.sustained:
            return Decision(RuleState("firing", 0, 0), "fired", verdict, p)  # type: ignore[arg-type]
        return Decision(replace(state, breach_streak=streak), None, verdict, p)  # type: ignore[arg-type]
    streak = state.clear_streak + 1 if verdict == "clear" else 0
    if streak >= spec.resolve_after:
        return Decision(RuleState("ok", 0, 0), "resolved", verdict, p)  # type: ignore[arg-type]
    return Decision(replace(state, clear_streak=streak), None, verdict, p)  # type: ignore[arg-type]


def describe(spec: AlertSpec, kind: str, m: Measure, p: float | None) -> str:
    """One line for people: what fired or resolved, at what value."""
    value = "no value" if m.value is None else f"{m.value:.4g}"
    if spec.baseline:
        why = (
            f"vs the previous {BASELINE_DAYS} days, p = {p:.3g} (alpha {spec.alpha:g})"
            if p is not None
            else ""
        )
    else:
        why = f"threshold {spec.fire:g}" + (
            f", resolves at {spec.resolve:g}" if spec.resolve is not None else ""
        )
    user = f" (user {m.details['user_id']})" if m.details.get("user_id") else ""
    return f"{spec.name} {kind}: {spec.metric} = {value}{user} over {m.samples} samples; {why}"


# ------------------------------------------------------------------------------------------ the job


class AlertRunner:
    """Decides every enabled rule's windows that have ended (behind ``delay_s``) since its last one."""

    def __init__(self, store: Store, *, max_windows_per_tick: int = 50) -> None:
        self.store = store
        self.max_windows_per_tick = max_windows_per_tick
        self._baselines: dict[tuple[str, int, int], Measure] = {}

    def baseline(self, row: Mapping[str, Any], spec: AlertSpec, start: datetime) -> Measure:
        """The metric over the 7 days before ``start``, computed once per rule version and hour."""
        hour = int((start - _EPOCH).total_seconds()) // 3600
        key = (row["id"], row["version"], hour)
        if key not in self._baselines:
            if len(self._baselines) > 1000:
                self._baselines.clear()
            self._baselines[key] = measure(
                self.store, row["project_id"], spec, start - timedelta(days=BASELINE_DAYS), start
            )
        return self._baselines[key]

    def tick(self, now: datetime) -> dict[str, int]:
        """One pass over every enabled rule; counts of windows decided and transitions."""
        totals = {"windows": 0, "fired": 0, "resolved": 0, "skipped_windows": 0}
        for row in enabled_rules(self.store):
            try:
                for key, n in self.run_rule(row, now).items():
                    totals[key] += n
            except Exception:  # noqa: BLE001 - one broken rule must not stop the others
                log.exception("alerts: rule %s failed", row["name"])
        return totals

    def run_rule(self, row: Mapping[str, Any], now: datetime) -> dict[str, int]:
        spec = rule_spec(row)
        step = timedelta(seconds=spec.step)
        window = timedelta(seconds=spec.window_s)
        last_end = _align(now - timedelta(seconds=spec.delay_s), spec.step)
        end = (row["last_window_end"] or last_end - step) + step
        skipped = 0
        backlog = int((last_end - end) / step) + 1 if end <= last_end else 0
        if backlog > self.max_windows_per_tick:  # fell behind (the server was down): decide the recent ones
            skipped = backlog - self.max_windows_per_tick
            end += step * skipped
        state = RuleState(row["state"], row["breach_streak"], row["clear_streak"])
        events: list[dict[str, Any]] = []
        counts = {"windows": 0, "fired": 0, "resolved": 0, "skipped_windows": skipped}
        decided_end: datetime | None = None
        m: Measure | None = None
        while end <= last_end:
            start = end - window
            m = measure(self.store, row["project_id"], spec, start, end)
            base = self.baseline(row, spec, start) if spec.baseline else None
            d = decide(spec, state, m, base)
            state = d.state
            counts["windows"] += 1
            if d.transition is not None:
                counts[d.transition] += 1
                details: dict[str, Any] = {"metric": spec.metric, "p_value": d.p_value, **m.details}
                if base is not None:
                    details["baseline"] = {"value": base.value, "samples": base.samples}
                events.append(
                    {
                        "project_id": row["project_id"],
                        "kind": d.transition,
                        "value": m.value,
                        "samples": m.samples,
                        "window_start": start,
                        "window_end": end,
                        "message": describe(spec, d.transition, m, d.p_value),
                        "details": details,
                    }
                )
            decided_end = end
            end += step
        if decided_end is None and not skipped:
            return counts
        values: dict[str, Any] = {
            "state": state.state,
            "breach_streak": state.breach_streak,
            "clear_streak": state.clear_streak,
            "last_window_end": decided_end or row["last_window_end"],
            "skipped_windows": row["skipped_windows"] + skipped,
        }
        if m is not None:
            values.update(last_value=m.value, last_samples=m.samples)
        deliveries = [{"channel": c.type, "target": c.target()} for c in spec.channels]
        save_rule_state(self.store, row["id"], values, events, deliveries)
        return counts
