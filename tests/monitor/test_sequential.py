"""The always-valid test keeps its promises under continuous peeking (seeded, vectorised simulation)."""

from __future__ import annotations

import numpy as np

from loopstack.monitor._sequential import mixture_test, srm_log_lr
from loopstack.monitor.rollouts import ROLLBACK, ArmPair, Evidence, RolloutPolicy, decide
from loopstack.prompts._rollout import BUCKETS, arm_of, bucket, control_from

R, PEEKS, BATCH = 2000, 200, 40


def _peek(p_control: float, p_candidate: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rollout: ever rejected (CS excluded 0), ever failed to cover the truth, and the final delta."""
    rng = np.random.default_rng(seed)
    na = nb = sa = sb = np.zeros(R)
    rejected = np.zeros(R, bool)
    missed = np.zeros(R, bool)
    truth = p_candidate - p_control
    for _ in range(PEEKS):
        ca, cb = rng.binomial(BATCH, 0.5, R), rng.binomial(BATCH, 0.5, R)
        na, nb = na + ca, nb + cb
        sa, sb = sa + rng.binomial(ca, p_control), sb + rng.binomial(cb, p_candidate)
        ma, mb = sa / na, sb / nb
        t = mixture_test(na, ma, ma * (1 - ma), nb, mb, mb * (1 - mb), alpha=0.05, tau_sd=0.1)
        live = (na >= 100) & (nb >= 100)
        rejected |= live & ((t.lower > 0) | (t.upper < 0))
        missed |= live & ((t.lower > truth) | (t.upper < truth))
    return rejected, missed, mb - ma


def test_false_positive_rate_with_peeking_after_every_batch_stays_below_alpha() -> None:
    rejected, _, _ = _peek(0.7, 0.7, seed=1)
    # A fixed-n z-test peeked at 200 times would reject ~30% of A/A tests; the mSPRT stays under 5%.
    assert rejected.mean() <= 0.05


def test_confidence_sequence_covers_the_true_difference_at_all_times() -> None:
    _, missed, _ = _peek(0.7, 0.62, seed=2)
    assert missed.mean() <= 0.05


def test_a_real_difference_is_found() -> None:
    rejected, _, _ = _peek(0.7, 0.6, seed=3)
    assert rejected.mean() >= 0.9


def test_srm_check_is_valid_and_catches_a_broken_split() -> None:
    rng = np.random.default_rng(4)
    n = np.arange(1, 5001)
    fair = np.cumsum(rng.random((500, 5000)) < 0.2, axis=1)
    assert (srm_log_lr(fair, n, 0.2) >= np.log(1000)).any(axis=1).mean() <= 0.005
    broken = np.cumsum(rng.random((100, 5000)) < 0.25, axis=1)
    assert (srm_log_lr(broken, n, 0.2) >= np.log(1000)).any(axis=1).mean() >= 0.9


def test_buckets_are_monotone_so_candidates_stay_candidates_and_control_stays_control() -> None:
    steps = [10, 25, 50, 100]
    wall = control_from(steps)
    units = [f"user-{i}" for i in range(20_000)]
    buckets = [bucket("salt", "r1", u) for u in units]
    arms = [[arm_of(b, pct, wall) for b in buckets] for pct in steps[:-1]]
    for earlier, later in zip(arms, arms[1:], strict=False):
        assert all(b == "candidate" for a, b in zip(earlier, later, strict=True) if a == "candidate")
        assert all(b == "control" for a, b in zip(earlier, later, strict=True) if a == "control")
    share = np.mean([a == "candidate" for a in arms[0]])
    assert abs(share - 0.10) < 0.01 and abs(np.mean([a == "control" for a in arms[0]]) - 0.5) < 0.015
    assert bucket("salt", "r1", "user-1") == buckets[1] and 0 <= max(buckets) < BUCKETS
    assert bucket("salt", "r2", "user-1") != buckets[1] or bucket("salt", "r3", "user-1") != buckets[1]


def test_decide_rolls_back_on_a_guardrail_even_when_acceptance_is_fine() -> None:
    policy = RolloutPolicy(steps=[50, 100], on_evidence=True)
    same = ArmPair(500, 0.7, 0.21, 500, 0.7, 0.21)
    errors = ArmPair(500, 0.01, 0.0099, 500, 0.08, 0.0736)
    v = decide(policy, Evidence(same, 0, 500, 500, 0.0, {"error_rate": errors}))
    assert int(v.action) == ROLLBACK and "error_rate" in v.reason_text


def test_one_arm_sequence_covers_its_mean_at_all_times() -> None:
    from loopstack.monitor._sequential import mean_sequence

    rng = np.random.default_rng(5)
    k = np.cumsum(rng.random((2000, 3000)) < 0.7, axis=1)
    n = np.arange(1, 3001)
    m = k / n
    lo, hi = mean_sequence(n, m, m * (1 - m), alpha=0.05, tau_sd=0.1)
    live = n >= 100
    assert ((lo[:, live] > 0.7) | (hi[:, live] < 0.7)).any(axis=1).mean() <= 0.05
