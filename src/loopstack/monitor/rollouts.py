"""Gradual rollouts: the policy a rollout runs under and ``decide``, the one function that rules on it.

A rollout serves a candidate version to a growing share of users (``steps``, candidate percent) behind a
label whose own version stays the control until promotion. Arms are sticky (``prompts/_rollout.py``).
At every check the worker gathers per-user evidence per arm and calls ``decide``, which returns one of:

* ``rollback`` — the candidate is significantly worse on the primary metric (acceptance: the share of
  positive boolean feedback per user) or on a guardrail (error rate, share of requests slower than the
  control's p95, cost per request, judge score), or the arms' sample ratio is off;
* ``promote`` — at the widest test step the candidate is significantly better (or, with a
  ``non_inferiority_margin``, not worse than it) and ``auto_promote`` is on; ``ready`` when it is off;
* ``step`` — ramp to the next step: on a timetable (``every_s``) or on evidence (``min_users`` new users
  per arm in this step, without harm);
* ``continue`` — keep collecting.

Significance is always valid (``_sequential.py``), so checking every few seconds does not inflate the
error rates. ``decide`` takes floats or numpy arrays: the worker, ``loopstack rollout status`` and the
vectorised bench (``bench/rollout_sim.py``) call it alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopstack.errors import InvalidInput
from loopstack.monitor._sequential import MixtureTest, mixture_test, srm_log_lr
from loopstack.monitor.alerts import Channel
from loopstack.monitor.evaluators import pydantic_message

CONTINUE, STEP, ROLLBACK, PROMOTE, READY = 0, 1, 2, 3, 4
ACTIONS = ("continue", "step", "rollback", "promote", "ready")
Guardrail = Literal["error_rate", "p95_latency", "cost", "judge_score"]
#: Guardrails where a higher candidate value is the harm (the judge score harms when it drops).
HIGHER_IS_WORSE = {"error_rate": True, "p95_latency": True, "cost": True, "judge_score": False}
REASONS = (
    "",
    "acceptance is significantly lower",
    "acceptance is significantly higher",
    "acceptance is not worse than the margin",
    "sample ratio mismatch",
    "timetable",
    "evidence",
    *(f"guardrail {g} is significantly worse" for g in HIGHER_IS_WORSE),
)
DEFAULT_GUARDRAILS: tuple[Guardrail, ...] = ("error_rate", "p95_latency", "cost")
_GUARD_REASON = {g: 7 + i for i, g in enumerate(HIGHER_IS_WORSE)}


class RolloutPolicy(BaseModel):
    """How a rollout ramps and decides (stored with it)."""

    model_config = ConfigDict(extra="forbid")

    steps: list[int] = Field(default_factory=lambda: [10, 25, 50, 100], min_length=1, max_length=20)
    every_s: int | None = Field(default=None, ge=1, le=30 * 86_400, description="timetable: seconds per step")
    on_evidence: bool = Field(default=False, description="step once min_users per arm were seen without harm")
    min_users: int = Field(default=200, ge=1, le=10_000_000, description="users per arm per step (evidence)")
    min_decide_users: int = Field(
        default=100, ge=2, le=10_000_000, description="users per arm before a verdict"
    )
    auto_promote: bool = False
    non_inferiority_margin: float | None = Field(default=None, gt=0, lt=1)
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="primary metric, both directions")
    guardrail_alpha: float = Field(default=0.01, gt=0, lt=0.5, description="each guardrail, harm only")
    srm_alpha: float = Field(default=0.001, gt=0, lt=0.5)
    tau_sd: float = Field(default=0.1, gt=0, le=10, description="mixture spread in per-user SDs")
    guardrails: list[Guardrail] = Field(default_factory=lambda: list(DEFAULT_GUARDRAILS))
    judge_score: str | None = Field(default=None, max_length=200, description="score name of the judge")
    channels: list[Channel] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> RolloutPolicy:
        steps = self.steps
        if any(s < 1 or s > 100 for s in steps) or any(
            b <= a for a, b in zip(steps, steps[1:], strict=False)
        ):
            raise ValueError(f"steps must rise strictly within 1..100 (candidate percent), not {steps}")
        if [s for s in steps if s < 100] == []:
            raise ValueError("steps need at least one step below 100 (100 alone is a plain label move)")
        if max(s for s in steps if s < 100) > 50:
            raise ValueError(
                "the widest test step is at most 50: the control arm is the buckets the candidate never "
                f"reaches during the test (steps {steps})"
            )
        if (self.every_s is None) == (not self.on_evidence):
            raise ValueError("give one ramp schedule: every_s (a timetable) or on_evidence")
        if "judge_score" in self.guardrails and not self.judge_score:
            raise ValueError("the judge_score guardrail needs judge_score: the score name to compare")
        return self

    @property
    def test_steps(self) -> list[int]:
        return [s for s in self.steps if s < 100]


def parse_policy(data: Mapping[str, Any]) -> RolloutPolicy:
    """A checked policy; ``InvalidInput`` names the first problem."""
    try:
        return RolloutPolicy.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc, "rollout")) from None


def parse_weights(weights: Mapping[str, Any], control: int) -> tuple[int, int]:
    """``{"v3": 90, "v4": 10}`` (the label's version and a candidate) -> (candidate, candidate percent)."""
    from loopstack.prompts.registry import parse_ref

    parsed: dict[int, float] = {}
    for key, pct in weights.items():
        _, version = parse_ref(str(key))
        if version is None:
            raise InvalidInput(f"weights: {key!r} is not a version (write 3 or v3)")
        if not isinstance(pct, int | float) or isinstance(pct, bool) or not 0 < pct < 100:
            raise InvalidInput(f"weights: {key}: give a percent strictly between 0 and 100, not {pct!r}")
        parsed[version] = float(pct)
    if len(parsed) != 2 or control not in parsed:
        raise InvalidInput(f"weights: give two versions, the label's v{control} and one candidate")
    total = sum(parsed.values())
    if abs(total - 100) > 1e-9:
        raise InvalidInput(f"weights must sum to 100, not {total:g}")
    candidate = next(v for v in parsed if v != control)
    if not float(parsed[candidate]).is_integer():
        raise InvalidInput("weights: the candidate's percent must be a whole number")
    return candidate, int(parsed[candidate])


# ------------------------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class ArmPair:
    """One metric's per-user moments in both arms (floats, or arrays of one shape)."""

    n_control: Any
    mean_control: Any
    var_control: Any
    n_candidate: Any
    mean_candidate: Any
    var_candidate: Any


@dataclass(frozen=True)
class Evidence:
    """What a check knows: the primary metric, guardrails, and where the ramp stands."""

    primary: ArmPair
    step_index: Any
    step_users_control: Any
    step_users_candidate: Any
    step_elapsed_s: Any
    guardrails: Mapping[str, ArmPair] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """``decide``'s answer: action and reason codes (index ``ACTIONS`` / ``REASONS``) and the tests."""

    action: Any
    reason: Any
    primary: MixtureTest
    guardrails: dict[str, MixtureTest]
    srm_log_lr: Any

    @property
    def action_name(self) -> str:
        return ACTIONS[int(self.action)]

    @property
    def reason_text(self) -> str:
        return REASONS[int(self.reason)]


def decide(policy: RolloutPolicy, ev: Evidence) -> Verdict:
    """The one decision on a rollout (see the module docstring); elementwise over array evidence."""
    steps = np.asarray(policy.steps)
    widest = len(policy.test_steps) - 1
    step = np.asarray(ev.step_index)
    primary = _test(ev.primary, policy.alpha, policy.tau_sd)
    enough = _enough(ev.primary, policy.min_decide_users)
    worse = enough & (primary.upper < 0)
    better = enough & (primary.lower > 0)
    action = np.full(np.shape(step), CONTINUE)
    reason = np.zeros(np.shape(step), dtype=int)

    pct = steps[np.minimum(step, widest)]
    control_pct = 100 - policy.test_steps[-1]
    share = pct / (pct + control_pct)
    users = np.asarray(ev.step_users_control) + np.asarray(ev.step_users_candidate)
    srm = srm_log_lr(ev.step_users_candidate, users, share)
    srm_bad = srm >= np.log(1 / policy.srm_alpha)

    guards: dict[str, MixtureTest] = {}
    harm = np.zeros(np.shape(step), dtype=bool)
    harm_reason = np.zeros(np.shape(step), dtype=int)
    for name, pair in ev.guardrails.items():
        if name not in policy.guardrails:
            continue
        t = _test(pair, policy.guardrail_alpha, policy.tau_sd)
        guards[name] = t
        bad = _enough(pair, policy.min_decide_users) & (
            (t.lower > 0) if HIGHER_IS_WORSE[name] else (t.upper < 0)
        )
        harm_reason = np.where(bad & ~harm, _GUARD_REASON[name], harm_reason)
        harm |= bad

    at_widest = step >= widest
    margin = policy.non_inferiority_margin
    good = better | (enough & (primary.lower > -margin)) if margin is not None else better
    good_reason = np.where(better, 2, 3)
    ready_step = np.asarray(ev.step_users_control) >= policy.min_users
    ready_step &= np.asarray(ev.step_users_candidate) >= policy.min_users
    timed = (
        np.asarray(ev.step_elapsed_s) >= policy.every_s
        if policy.every_s is not None
        else np.zeros(np.shape(step), dtype=bool)
    )
    can_step = ~at_widest & (ready_step if policy.on_evidence else timed)

    # Later assignments win: continue < step < ready/promote < rollback.
    action = np.where(can_step, STEP, action)
    reason = np.where(can_step, 6 if policy.on_evidence else 5, reason)
    final = at_widest & good & ~harm
    action = np.where(final, PROMOTE if policy.auto_promote else READY, action)
    reason = np.where(final, good_reason, reason)
    for bad, why in (
        (srm_bad, np.full(np.shape(step), 4)),
        (harm, harm_reason),
        (worse, np.ones_like(reason)),
    ):
        action = np.where(bad, ROLLBACK, action)
        reason = np.where(bad, why, reason)
    return Verdict(action, reason, primary, guards, srm)


def _test(pair: ArmPair, alpha: float, tau_sd: float) -> MixtureTest:
    return mixture_test(
        pair.n_control,
        pair.mean_control,
        pair.var_control,
        pair.n_candidate,
        pair.mean_candidate,
        pair.var_candidate,
        alpha=alpha,
        tau_sd=tau_sd,
    )


def _enough(pair: ArmPair, least: int) -> Any:
    return (np.asarray(pair.n_control) >= least) & (np.asarray(pair.n_candidate) >= least)
