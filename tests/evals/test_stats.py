"""Statistics agree with scipy and with closed forms computed by hand on fixed data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from loopstack.evals.stats import (
    clustered_se,
    estimate,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_comparison,
    paired_proportion_interval,
    reduce_epochs,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (47, 80), (1, 1), (500, 1000)])
def test_wilson_matches_scipy_binomtest(k: int, n: int) -> None:
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    values = {str(i): i < k for i in range(n)}
    est = estimate(values)
    assert (est.method, est.n, est.mean) == ("wilson", n, k / n)
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    ci90 = sps.binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
    assert estimate(values, confidence=0.9).ci_low == pytest.approx(ci90.low, abs=1e-12)


CONTINUOUS = [0.12, 0.55, 0.31, 0.98, 0.47, 0.66, 0.05, 0.73, 0.81, 0.29, 0.44, 0.9]


def test_bootstrap_ci_is_scipys_seeded_bca_and_reproducible() -> None:
    est = estimate(CONTINUOUS, seed=7, n_resamples=3000)
    direct = sps.bootstrap(
        (np.array(CONTINUOUS),), np.mean, n_resamples=3000, method="BCa", rng=np.random.default_rng(7)
    )
    assert est.method == "bootstrap"
    assert (est.ci_low, est.ci_high) == (direct.confidence_interval.low, direct.confidence_interval.high)
    assert est.mean == pytest.approx(np.mean(CONTINUOUS))
    assert est.ci_low < est.mean < est.ci_high
    assert estimate(CONTINUOUS, seed=7, n_resamples=3000) == est
    assert est.std == pytest.approx(np.std(CONTINUOUS, ddof=1))


def test_clt_interval_is_the_t_interval() -> None:
    est = estimate(CONTINUOUS, method="clt")
    n = len(CONTINUOUS)
    se = np.std(CONTINUOUS, ddof=1) / math.sqrt(n)
    q = sps.t.ppf(0.975, n - 1)
    assert (est.ci_low, est.ci_high) == pytest.approx(
        (np.mean(CONTINUOUS) - q * se, np.mean(CONTINUOUS) + q * se)
    )


def test_constant_scores_give_a_point_interval() -> None:
    est = estimate([0.5, 0.5, 0.5])
    assert (est.mean, est.ci_low, est.ci_high) == (0.5, 0.5, 0.5)


def test_epochs_are_averaged_per_item_first_and_errors_skipped() -> None:
    per_item, missing = reduce_epochs({"a": [1, 0, 1], "b": [True, True], "c": [None, None], "d": 0.5})
    assert per_item == {"a": pytest.approx(2 / 3), "b": 1.0, "d": 0.5}
    assert missing == 1
    est = estimate({"a": [True, False, True], "b": [True, True], "c": [None]})
    assert (est.n, est.n_missing, est.method) == (2, 1, "bootstrap")  # 2/3 is not pass/fail any more
    assert est.mean == pytest.approx((2 / 3 + 1) / 2)
    whole = estimate({"a": [True, True], "b": [False, False], "c": True})
    assert (whole.method, whole.n, whole.mean) == ("wilson", 3, pytest.approx(2 / 3))


# Fixed clustered data: three documents with two questions each.
Y = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
G = ["a", "a", "b", "b", "c", "c"]


def test_clustered_se_matches_the_cr0_cr1_sandwich_by_hand() -> None:
    # mean 0.5; residuals +-.5; cluster sums a: 0, b: +1, c: -1  ->  V_CR0 = (0 + 1 + 1) / 6^2
    assert clustered_se(Y, G, small_sample=False) == pytest.approx(math.sqrt(2 / 36))
    assert clustered_se(Y, G) == pytest.approx(math.sqrt(2 / 36 * 3 / 2))  # CR1: x G/(G-1)
    # The same through the OLS sandwich (X'X)^-1 X'(sum_g e_g e_g')X (X'X)^-1 with X = column of ones.
    x = np.ones((6, 1))
    e = np.array(Y) - np.mean(Y)
    bread = np.linalg.inv(x.T @ x)
    meat = sum(
        x[[i for i, g in enumerate(G) if g == c]].T
        @ np.outer(e[[i for i, g in enumerate(G) if g == c]], e[[i for i, g in enumerate(G) if g == c]])
        @ x[[i for i, g in enumerate(G) if g == c]]
        for c in "abc"
    )  # noqa: E501
    assert clustered_se(Y, G, small_sample=False) == pytest.approx(math.sqrt((bread @ meat @ bread)[0, 0]))


def test_estimate_uses_clustered_errors_when_items_share_a_cluster() -> None:
    values = {f"q{i}": v for i, v in enumerate(Y)}
    clusters = {f"q{i}": g for i, g in enumerate(G)}
    est = estimate(values, clusters=clusters)
    se = math.sqrt(2 / 36 * 3 / 2)
    q = sps.t.ppf(0.975, 2)  # G - 1 degrees of freedom
    assert (est.method, est.n_clusters, est.se) == ("clustered", 3, pytest.approx(se))
    assert (est.ci_low, est.ci_high) == pytest.approx((0.5 - q * se, 0.5 + q * se))
    independent = estimate(values)
    assert est.ci_high - est.ci_low > independent.ci_high - independent.ci_low
    assert estimate(values, clusters={k: None for k in clusters}).method == "wilson"  # no shared key


def test_empty_and_single_item() -> None:
    assert estimate({}).n == 0 and math.isnan(estimate({}).mean)
    one = estimate({"a": 0.7})
    assert (one.n, one.mean, one.method) == (1, 0.7, "none") and math.isnan(one.ci_low)
    d = estimate({"a": 0.7}).to_dict()
    assert d["ci_low"] is None and d["mean"] == 0.7


# -- paired comparisons ------------------------------------------------------------------------------


def test_exact_mcnemar_matches_the_binomial_closed_form_and_scipy() -> None:
    # 1 loss, 9 wins: p = 2 * (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(9, 1) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(9, 1) == pytest.approx(sps.binomtest(1, 10, 0.5).pvalue)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    base = {str(i): v for i, v in enumerate([1] * 20 + [1] * 1 + [0] * 9 + [0] * 10)}
    cand = {str(i): v for i, v in enumerate([1] * 20 + [0] * 1 + [1] * 9 + [0] * 10)}
    cmp = paired_comparison(base, cand)
    assert (cmp.test, cmp.wins, cmp.losses, cmp.ties, cmp.n) == ("mcnemar-exact", 9, 1, 30, 40)
    assert cmp.p_value == pytest.approx(2 * 11 / 1024)
    assert cmp.mean_diff == pytest.approx(8 / 40)
    assert cmp.method == "bonett-price" and cmp.ci_low > 0  # significant improvement


def test_paired_proportion_interval_by_hand_and_its_coverage() -> None:
    # Bonett-Price: p12 = (9+1)/42, p21 = (1+1)/42, diff +- z * sqrt((p12 + p21 - diff^2) / 42)
    p_win, p_loss = 10 / 42, 2 / 42
    half = sps.norm.ppf(0.975) * math.sqrt((p_win + p_loss - (p_win - p_loss) ** 2) / 42)
    assert paired_proportion_interval(9, 1, 40) == pytest.approx(
        (p_win - p_loss - half, p_win - p_loss + half)
    )
    low, high = paired_proportion_interval(0, 0, 20)  # no disagreement is not proof of no difference
    assert low == pytest.approx(-high) and high == pytest.approx(1.96 * math.sqrt(2 / 22 / 22), abs=1e-3)
    rng = np.random.default_rng(0)
    covered, trials, n = 0, 2000, 40
    true_diff = 0.1  # candidate passes 70%, baseline 60%, correlated through a shared item difficulty
    for _ in range(trials):
        z = rng.random(n)
        base = z < 0.6
        cand = z < 0.7
        flip = rng.random(n) < 0.15  # independent noise on both sides keeps the rates unchanged
        base = np.where(flip & (rng.random(n) < 0.5), rng.random(n) < 0.6, base)
        cand = np.where(flip & (rng.random(n) < 0.5), rng.random(n) < 0.7, cand)
        wins = int((cand & ~base).sum())
        losses = int((base & ~cand).sum())
        lo, hi = paired_proportion_interval(wins, losses, n)
        covered += lo <= true_diff <= hi
    assert 0.93 <= covered / trials <= 0.98


def test_wilcoxon_and_paired_bootstrap_for_continuous_scores() -> None:
    base = dict(zip("abcdefghijkl", CONTINUOUS, strict=True))
    shifts = [0.1, 0.05, -0.02, 0.12, 0.08, 0.0, 0.15, 0.03, 0.09, -0.01, 0.07, 0.11]
    cand = {k: v + s for (k, v), s in zip(base.items(), shifts, strict=True)}
    cmp = paired_comparison(base, cand, seed=3)
    d = np.array([cand[k] - base[k] for k in base])
    assert cmp.test == "wilcoxon"
    assert cmp.p_value == pytest.approx(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    direct = sps.bootstrap((d,), np.mean, n_resamples=2000, method="BCa", rng=np.random.default_rng(3))
    assert (cmp.ci_low, cmp.ci_high) == (direct.confidence_interval.low, direct.confidence_interval.high)
    assert (cmp.wins, cmp.ties, cmp.losses) == (9, 1, 2)
    assert cmp.mean_diff == pytest.approx(d.mean())
    assert cmp.mde == pytest.approx((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * d.std(ddof=1) / math.sqrt(12))


def test_a_clearly_worse_candidate_has_ci_high_below_zero() -> None:
    base = {str(i): 1 for i in range(60)}
    cand = {str(i): int(i % 3 == 0) for i in range(60)}
    cmp = paired_comparison(base, cand)
    assert cmp.ci_high < 0 and cmp.significant and cmp.losses == 40


def test_small_n_is_reported_as_underpowered() -> None:
    base = {"a": 1, "b": 0, "c": 1, "d": 1, "e": 0}
    cand = {"a": 1, "b": 1, "c": 1, "d": 0, "e": 0}
    cmp = paired_comparison(base, cand)
    assert cmp.underpowered
    assert cmp.mde == pytest.approx(minimum_detectable_effect(math.sqrt(2 / 5), 5))
    assert cmp.note is not None and cmp.note.startswith("N=5 can only reliably detect differences of")
    big = paired_comparison({str(i): i % 2 for i in range(4000)}, {str(i): (i // 2) % 2 for i in range(4000)})
    assert not big.underpowered


def test_identical_runs_cannot_bound_the_difference_and_missing_items_are_noted() -> None:
    base = {"a": 0.5, "b": 0.7, "c": 0.2}
    cmp = paired_comparison(base, {**base, "z": 1.0})
    assert (cmp.mean_diff, cmp.ties, cmp.p_value) == (0.0, 3, 1.0)
    assert cmp.underpowered and cmp.note is not None
    assert "scored every item identically" in cmp.note and "1 item(s) scored in only one run" in cmp.note


def test_paired_differences_use_clustered_errors_with_shared_clusters() -> None:
    base = {f"q{i}": 0.0 for i in range(6)}
    cand = {f"q{i}": v for i, v in enumerate(Y)}
    clusters = {f"q{i}": g for i, g in enumerate(G)}
    cmp = paired_comparison(base, cand, clusters=clusters)
    se = math.sqrt(2 / 36 * 3 / 2)
    q = sps.t.ppf(0.975, 2)
    assert (cmp.method, cmp.n_clusters) == ("clustered", 3)
    assert (cmp.ci_low, cmp.ci_high) == pytest.approx((0.5 - q * se, 0.5 + q * se))
    assert cmp.to_dict()["significant"] is False


def test_a_constant_shift_is_not_called_identical() -> None:
    cmp = paired_comparison({"a": 0.5, "b": 0.25, "c": 0.0}, {"a": 0.75, "b": 0.5, "c": 0.25})
    assert (cmp.mean_diff, cmp.ci_low, cmp.ci_high, cmp.wins) == (0.25, 0.25, 0.25, 3)
    assert cmp.note == "every item changed by exactly +0.25" and not cmp.underpowered
