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
    paired_comparison,
    paired_proportion_interval,
    reduce_epochs,
    wilson_interval,
)
from loopstack.evals.stats._intervals import paired_t_interval


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
    est = estimate(CONTINUOUS, seed=7, n_resamples=3000, method="bootstrap")
    direct = sps.bootstrap(
        (np.array(CONTINUOUS),), np.mean, n_resamples=3000, method="BCa", rng=np.random.default_rng(7)
    )
    assert est.method == "bootstrap"
    assert (est.ci_low, est.ci_high) == (direct.confidence_interval.low, direct.confidence_interval.high)
    assert est.mean == pytest.approx(np.mean(CONTINUOUS))
    assert est.ci_low < est.mean < est.ci_high
    assert estimate(CONTINUOUS, seed=7, n_resamples=3000, method="bootstrap") == est
    assert est.std == pytest.approx(np.std(CONTINUOUS, ddof=1))


def test_clt_interval_is_the_t_interval() -> None:
    est = estimate(CONTINUOUS, method="clt")
    n = len(CONTINUOUS)
    se = np.std(CONTINUOUS, ddof=1) / math.sqrt(n)
    q = sps.t.ppf(0.975, n - 1)
    assert (est.ci_low, est.ci_high) == pytest.approx(
        (np.mean(CONTINUOUS) - q * se, np.mean(CONTINUOUS) + q * se)
    )


def _hall_by_hand(y: np.ndarray, conf: float = 0.95) -> tuple[float, float, float]:
    """Hall (1992): g(T) = T + g/(3 sqrt n) T^2 + g^2/(27 n) T^3 + g/(6 sqrt n), inverted by a root
    search (independent of the closed-form inverse in the code)."""
    from scipy.optimize import brentq

    n = len(y)
    m, s = y.mean(), y.std(ddof=1)
    gam = ((y - m) ** 3).mean() / s**3
    se = s / math.sqrt(n)

    def g(t: float) -> float:
        return t + gam / (3 * math.sqrt(n)) * t**2 + gam**2 / (27 * n) * t**3 + gam / (6 * math.sqrt(n))

    q = sps.t.ppf(0.5 + conf / 2, n - 1)
    t_hi = brentq(lambda t: g(t) - q, -50, 50)
    t_lo = brentq(lambda t: g(t) + q, -50, 50)
    return m - se * t_hi, m - se * t_lo, 2 * sps.t.sf(abs(g(m / se)), n - 1)


def test_continuous_means_use_halls_skew_corrected_t() -> None:
    from loopstack.evals.stats import skew_t_interval

    y = np.array(CONTINUOUS) ** 3  # right-skewed
    est = estimate(list(y))
    low, high, p = _hall_by_hand(y)
    assert est.method == "skew-t"
    assert (est.ci_low, est.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert skew_t_interval(list(y))[2] == pytest.approx(p, rel=1e-9)
    # skewed right: the interval reaches further above the mean than below it
    assert est.ci_high - est.mean > est.mean - est.ci_low
    # symmetric data: no correction, the plain t interval
    sym = np.array([-2.0, -1, 0, 1, 2] * 2)
    t_low, t_high = sps.t.interval(0.95, 9, loc=0, scale=sym.std(ddof=1) / math.sqrt(10))
    assert (estimate(list(sym)).ci_low, estimate(list(sym)).ci_high) == pytest.approx((t_low, t_high))


def test_too_few_continuous_items_get_no_interval() -> None:
    est = estimate([0.1, 0.4, 0.3, 0.9])
    assert est.method == "none" and math.isnan(est.ci_low)
    assert est.note is not None and est.note.startswith("too few items for an interval")


def test_constant_scores_never_give_a_zero_width_interval() -> None:
    est = estimate([0.5] * 5)
    assert est.mean == 0.5 and est.note == "all items identical" and est.method == "bounded"
    # the Wilson interval of a 50% pass rate over 5 items bounds any [0, 1] score with mean 0.5
    assert (est.ci_low, est.ci_high) == pytest.approx(_wilson_half(5))
    assert estimate([120.0] * 12).note == "all items identical; an unbounded score gives no interval"
    values = {f"q{i}": 1 for i in range(6)}
    clustered = estimate(values, clusters={f"q{i}": "abc"[i // 2] for i in range(6)})
    assert clustered.ci_high - clustered.ci_low > 0 and clustered.note == "all items identical"


def _wilson_half(n: int) -> tuple[float, float]:
    z = sps.norm.ppf(0.975)
    centre = (0.5 + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(0.25 / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_epochs_are_averaged_per_item_first_and_errors_skipped() -> None:
    per_item, missing = reduce_epochs({"a": [1, 0, 1], "b": [True, True], "c": [None, None], "d": 0.5})
    assert per_item == {"a": pytest.approx(2 / 3), "b": 1.0, "d": 0.5}
    assert missing == 1
    est = estimate({"a": [True, False, True], "b": [True, True], "c": [None]})
    assert (est.n, est.n_missing, est.method) == (2, 1, "none")  # 2/3 is not pass/fail any more
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
    assert (cmp.test, cmp.wins, cmp.losses, cmp.ties, cmp.n) == ("agresti-min", 9, 1, 30, 40)
    # the p-value printed is the one inverted from the Agresti-Min interval beside it
    p_win, p_loss = 9.5 / 42, 1.5 / 42
    z = (p_win - p_loss) / math.sqrt((p_win + p_loss - (p_win - p_loss) ** 2) / 42)
    assert cmp.p_value == pytest.approx(2 * sps.norm.sf(z))
    assert cmp.mean_diff == pytest.approx(8 / 40)
    assert cmp.method == "agresti-min" and cmp.ci_low > 0  # significant improvement
    # 5 losses, 0 wins at N=48: p and interval agree (McNemar's p = 0.0625 beside "worse" was the bug)
    five = paired_comparison({str(i): 1 for i in range(48)}, {str(i): int(i >= 5) for i in range(48)})
    assert (five.ci_high < 0) == (five.p_value < 0.05)


def test_paired_proportion_interval_by_hand_and_its_coverage() -> None:
    # Agresti-Min: half a pair in each of the 4 cells, p12 = (9+.5)/42, p21 = (1+.5)/42,
    # diff +- z * sqrt((p12 + p21 - diff^2) / 42)
    p_win, p_loss = 9.5 / 42, 1.5 / 42
    half = sps.norm.ppf(0.975) * math.sqrt((p_win + p_loss - (p_win - p_loss) ** 2) / 42)
    assert paired_proportion_interval(9, 1, 40) == pytest.approx(
        (p_win - p_loss - half, p_win - p_loss + half)
    )
    low, high = paired_proportion_interval(0, 0, 20)  # no disagreement is not proof of no difference
    assert low == pytest.approx(-high) and high == pytest.approx(1.96 * math.sqrt(1 / 22 / 22), abs=1e-3)
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


def test_wilcoxon_and_bootstrap_still_match_scipy() -> None:
    from loopstack.evals.stats import bootstrap_interval
    from loopstack.evals.stats._paired import _wilcoxon

    d = np.array([0.1, 0.05, -0.02, 0.12, 0.08, 0.0, 0.15, 0.03, 0.09, -0.01, 0.07, 0.11])
    assert _wilcoxon(d)[1] == pytest.approx(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    direct = sps.bootstrap((d,), np.mean, n_resamples=2000, method="BCa", rng=np.random.default_rng(3))
    assert bootstrap_interval(list(d), seed=3) == (
        direct.confidence_interval.low,
        direct.confidence_interval.high,
    )


def test_paired_continuous_scores_use_the_union_of_t_and_skew_corrected_t() -> None:
    base = dict(zip("abcdefghijkl", CONTINUOUS, strict=True))
    shifts = [0.1, 0.05, -0.02, 0.12, 0.08, 0.0, 0.15, 0.03, 0.09, -0.01, 0.07, 0.11]
    cand = {k: v + s for (k, v), s in zip(base.items(), shifts, strict=True)}
    cmp = paired_comparison(base, cand)
    d = np.round(np.array([cand[k] - base[k] for k in base]), 12)
    test = sps.ttest_1samp(d, 0.0)
    t_low, t_high = test.confidence_interval(0.95)
    h_low, h_high, h_p = _hall_by_hand(d)
    assert cmp.test == "paired-t"
    assert cmp.ci_low == pytest.approx(min(t_low, h_low))
    assert cmp.ci_high == pytest.approx(max(t_high, h_high))
    assert cmp.p_value == pytest.approx(max(test.pvalue, h_p))
    assert (cmp.wins, cmp.ties, cmp.losses) == (9, 1, 2)
    assert cmp.mean_diff == pytest.approx(d.mean())
    # the MDE is what the printed test detects 80% of the time on differences like these: checked on
    # independent resamples through the scalar interval, not the batch code that found it
    rng = np.random.default_rng(99)

    def power(delta: float) -> float:
        found = 0
        for _ in range(400):
            sample = rng.choice(d - d.mean(), size=len(d)) + delta
            low, high, _ = paired_t_interval(list(sample))
            found += low > 0 or high < 0
        return found / 400

    assert 0.74 <= power(cmp.mde) <= 0.86
    assert power(0.6 * cmp.mde) < 0.6
    # 12 changed items are too few for a continuous verdict that could promise its error rate
    assert cmp.withheld is not None and "Bahadur" in cmp.withheld and not cmp.significant
    assert "approximate" in cmp.withheld  # the interval printed beside it is not sold as exact


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
    # the MDE is the exact power of the printed interval: at it, 80% of such comparisons exclude 0
    assert 0.3 < cmp.mde < 1
    assert cmp.note is not None and cmp.note.startswith(
        f"N=5 can only reliably detect differences of {cmp.mde:.3g}"
    )
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


def test_a_constant_shift_is_not_called_identical_nor_given_a_point_interval() -> None:
    cmp = paired_comparison({"a": 0.5, "b": 0.25, "c": 0.0}, {"a": 0.75, "b": 0.5, "c": 0.25})
    assert (cmp.mean_diff, cmp.wins) == (0.25, 3)
    assert cmp.ci_low < 0 < 0.25 < cmp.ci_high  # 3 items cannot prove a shift, however regular
    assert cmp.note is not None and cmp.note.startswith(
        "all items identical: every item changed by exactly +0.25"
    )
    assert cmp.withheld is not None  # 3 changed items cannot back a verdict
    # five items all down by exactly 0.01 is not "worse"
    five = paired_comparison({str(i): 0.5 for i in range(5)}, {str(i): 0.49 for i in range(5)})
    assert five.ci_low < 0 < five.ci_high and not five.significant


def test_epoch_order_and_float_noise_do_not_change_win_tie_loss() -> None:
    a = paired_comparison({"x": [0.1, 0.2, 0.3]}, {"x": [0.3, 0.2, 0.1]})
    b = paired_comparison({"x": [0.7, 0.1, 0.2]}, {"x": [0.3, 0.6, 0.1]})
    assert (a.wins, a.ties, a.losses) == (0, 1, 0) and a.mean_diff == 0.0
    assert (b.wins, b.ties, b.losses) == (0, 1, 0)


def test_one_cluster_does_not_claim_every_item_changed_alike() -> None:
    base = {f"q{i}": 0.5 for i in range(6)}
    cand = {f"q{i}": 0.5 - 0.02 * i for i in range(6)}
    cmp = paired_comparison(base, cand, clusters={k: "doc" for k in base})
    assert cmp.note is not None and "only one cluster" in cmp.note and "exactly" not in cmp.note
    assert cmp.withheld == "only one cluster" and not cmp.significant


def test_clustered_mde_uses_t_with_g_minus_1_degrees_of_freedom() -> None:
    rng = np.random.default_rng(4)
    keys = [f"q{i}" for i in range(50)]
    base = {k: float(v) for k, v in zip(keys, rng.random(50), strict=True)}
    cand = {k: float(v) for k, v in zip(keys, rng.random(50), strict=True)}
    clusters = {k: str(i // 5) for i, k in enumerate(keys)}
    cmp = paired_comparison(base, cand, clusters=clusters)
    d = [cand[k] - base[k] for k in keys]
    se = clustered_se(d, [clusters[k] for k in keys])
    assert cmp.mde == pytest.approx((sps.t.ppf(0.975, 9) + sps.t.ppf(0.8, 9)) * se)
    assert cmp.p_value == pytest.approx(2 * sps.t.sf(abs(np.mean(d) / se), 9))


def test_printed_statistics_do_not_import_scipy_stats() -> None:
    # importing scipy.stats costs ~0.6 s of a one-item eval; quantiles come from scipy.special
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from loopstack.evals.stats import estimate, paired_comparison\n"
        "estimate([0.1, 0.5, 0.9] * 5); estimate([1, 0, 1])\n"
        "estimate({'a': 1, 'b': 0.5, 'c': 0.2}, clusters={'a': 'x', 'b': 'x'})\n"
        "paired_comparison([0.1, 0.5, 0.9] * 12, [0.2, 0.4, 0.95] * 12)\n"
        "paired_comparison([1, 0, 1, 0] * 10, [1, 1, 0, 0] * 10)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
