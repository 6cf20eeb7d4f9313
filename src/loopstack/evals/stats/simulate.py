"""Seeded, vectorised simulations of the printed statistics: coverage, false alarms and power.

``tests/evals/test_calibration.py`` runs a few cells in seconds; ``bench/calibration.py`` the full grid.
Each batch function here computes, for ``R`` simulated suites at once, exactly what
``estimate``/``paired_comparison``/``verdict`` and the gate print for one (the test checks a few rows
against the scalar path). Scenarios draw a baseline and a candidate run on the same ``N`` items,
correlated through a shared item difficulty (a Gaussian copula, rho 0.5), so that a true difference
of 0 is an A/A comparison; ``sparse`` is the exception: 80% of items unchanged, the rest shifted by a
skewed amount with mean 0 (same mean, not exchangeable).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopstack.evals.stats._estimate import MIN_CONTINUOUS_ITEMS
from loopstack.evals.stats._intervals import holm, paired_t_batch, skew_t_batch
from loopstack.evals.stats._paired import GRID_DECIMALS, MIN_CHANGED_ITEMS

Array = np.ndarray[Any, Any]
RHO = 0.5
ICC = 0.3


def _z(confidence: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(0.5 + confidence / 2))


def wilson_batch(k: Array, n: int, confidence: float = 0.95) -> tuple[Array, Array]:
    z = _z(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def agresti_min_batch(
    wins: Array, losses: Array, n: int, confidence: float = 0.95
) -> tuple[Array, Array, Array]:
    from scipy.special import ndtr

    z = _z(confidence)
    p_win, p_loss = (wins + 0.5) / (n + 2), (losses + 0.5) / (n + 2)
    diff = p_win - p_loss
    se = np.sqrt(np.maximum(0.0, p_win + p_loss - diff * diff) / (n + 2))
    return np.maximum(-1.0, diff - z * se), np.minimum(1.0, diff + z * se), 2 * ndtr(-np.abs(diff) / se)


def cr1_batch(y: Array, confidence: float = 0.95) -> tuple[Array, Array, Array]:
    """Cluster-robust (CR1) t(G-1) interval of the mean of ``y`` shaped ``(R, G, m)`` (equal clusters)."""
    from scipy.special import stdtr, stdtrit

    r, g, m = y.shape
    n = g * m
    mean = y.reshape(r, n).mean(axis=1)
    sums = (y - mean[:, None, None]).sum(axis=2)
    se = np.sqrt((sums**2).sum(axis=1) / (n * n) * g / (g - 1))
    q = float(stdtrit(g - 1, 0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stdtr(g - 1, -np.abs(mean / se))
    return mean - q * se, mean + q * se, p


@dataclass(frozen=True)
class Scenario:
    """How a pair of runs is drawn: ``draw(rng, R, N, delta) -> (baseline, candidate)``, each ``(R, N)``
    (or ``(R, G, m)`` when ``clusters``); ``mean`` is the candidate's true mean at ``delta = 0``."""

    name: str
    kind: str  # "binary" | "continuous"
    draw: Callable[[np.random.Generator, int, int, float], tuple[Array, Array]]
    mean: float
    sd_diff: float
    clusters: tuple[int, int] | None = None
    exchangeable: bool = True


def _copula(rng: np.random.Generator, r: int, n: int) -> tuple[Array, Array]:
    from scipy.special import ndtr

    shared = rng.standard_normal((r, n)) * math.sqrt(RHO)
    a = shared + rng.standard_normal((r, n)) * math.sqrt(1 - RHO)
    b = shared + rng.standard_normal((r, n)) * math.sqrt(1 - RHO)
    return ndtr(a), ndtr(b)


def _continuous(name: str, ppf: Callable[[Array], Array], mean: float) -> Scenario:
    def draw(rng: np.random.Generator, r: int, n: int, delta: float) -> tuple[Array, Array]:
        ua, ub = _copula(rng, r, n)
        return ppf(ua), ppf(ub) + delta

    sd = _diff_sd(draw)
    return Scenario(name, "continuous", draw, mean, sd)


def _binary(p: float) -> Scenario:
    def draw(rng: np.random.Generator, r: int, n: int, delta: float) -> tuple[Array, Array]:
        ua, ub = _copula(rng, r, n)
        return (ua < p).astype(float), (ub < p + delta).astype(float)

    return Scenario(f"binary p={p:g}", "binary", draw, p, _diff_sd(draw))


def _three_point(u: Array) -> Array:
    return np.where(u < 0.2, 0.0, np.where(u < 0.9, 0.5, 1.0))


def _sparse(rng: np.random.Generator, r: int, n: int, delta: float) -> tuple[Array, Array]:
    base = rng.beta(2, 2, (r, n))
    moved = rng.random((r, n)) < 0.2
    shift = (rng.exponential(1.0, (r, n)) - 1.0) * 0.25
    return base, base + np.where(moved, shift, 0.0) + delta


def _clustered(g: int, m: int) -> Scenario:
    def draw(rng: np.random.Generator, r: int, n: int, delta: float) -> tuple[Array, Array]:
        def scores() -> Array:
            return math.sqrt(ICC) * rng.standard_normal((r, g, 1)) + math.sqrt(1 - ICC) * rng.standard_normal(
                (r, g, m)
            )

        base = scores()
        return base, base + scores() * 0.5 + delta

    # d = 0.5 * (cluster + noise): var 0.25; the mean of N = g*m with ICC 0.3 has design effect 1 + (m-1) ICC
    return Scenario(f"clustered {g}x{m}", "continuous", draw, 0.0, 0.5, clusters=(g, m))


def _diff_sd(draw: Callable[[np.random.Generator, int, int, float], tuple[Array, Array]]) -> float:
    a, b = draw(np.random.default_rng(12345), 100, 1000, 0.0)
    return float(np.std(b - a))


def scenarios() -> dict[str, Scenario]:
    """The scenarios of the calibration grid, by name."""
    from scipy.special import betaincinv

    out = [
        _binary(0.05),
        _binary(0.5),
        _continuous("exponential", lambda u: -np.log1p(-u), 1.0),
        _continuous("beta(0.1, 2)", lambda u: betaincinv(0.1, 2, u), 0.1 / 2.1),
        _continuous("3-point ties", _three_point, 0.45),
        Scenario("sparse skewed", "continuous", _sparse, 0.5, _diff_sd(_sparse), exchangeable=False),
        _clustered(20, 5),
        _clustered(10, 10),
        _clustered(5, 20),
    ]
    return {s.name: s for s in out}


@dataclass(frozen=True)
class Batch:
    """What the reports would print for ``R`` simulated comparisons."""

    est_low: Array
    est_high: Array
    low: Array
    high: Array
    p: Array
    withheld: Array  # bool: no verdict can be backed


def compare_batch(s: Scenario, base: Array, cand: Array, confidence: float = 0.95) -> Batch:
    """The candidate's estimate interval and the paired comparison, row by row, as printed."""
    r = base.shape[0]
    none = np.zeros(r, dtype=bool)
    if s.clusters is not None:
        el, eh, _ = cr1_batch(cand, confidence)
        lo, hi, p = cr1_batch(cand - base, confidence)
        d = (cand - base).reshape(r, -1)
        changed = (np.round(d, GRID_DECIMALS) != 0).sum(axis=1)
        return Batch(el, eh, lo, hi, p, changed < MIN_CHANGED_ITEMS)
    n = base.shape[1]
    if s.kind == "binary":
        el, eh = wilson_batch(cand.sum(axis=1), n, confidence)
        d = cand - base
        lo, hi, p = agresti_min_batch((d > 0).sum(axis=1), (d < 0).sum(axis=1), n, confidence)
        return Batch(el, eh, lo, hi, p, none)
    if n < MIN_CONTINUOUS_ITEMS:
        nan = np.full(r, np.nan)
        return Batch(nan, nan, nan, nan, nan, ~none)
    el, eh, _ = skew_t_batch(cand, confidence)
    d = np.round(cand - base, GRID_DECIMALS)
    lo, hi, p = paired_t_batch(d, confidence)
    return Batch(el, eh, lo, hi, p, (d != 0).sum(axis=1) < MIN_CHANGED_ITEMS)


def mde(s: Scenario, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The minimum detectable effect the report prints, for data drawn like the scenario's: the same
    functions as ``paired_comparison``, fed the scenario's true spread (pass/fail, clustered) or a large
    sample of its differences (continuous, resampled to ``n``)."""
    from loopstack.evals.stats._paired import minimum_detectable_effect
    from loopstack.evals.stats._power import resampled_mde

    if s.clusters is not None:
        g, m = s.clusters
        sd = s.sd_diff * math.sqrt(1 + (m - 1) * ICC)
        return minimum_detectable_effect(sd, g * m, alpha=alpha, power=power, df=g - 1)
    if s.kind == "binary":  # the report's exact MDE, at the scenario's true latent agreement
        from loopstack.evals.stats._power import binary_mde

        return binary_mde(s.mean, RHO, n, alpha=alpha, power=power)
    if n < MIN_CONTINUOUS_ITEMS:
        return minimum_detectable_effect(s.sd_diff, n, alpha=alpha, power=power, df=n - 1)
    base, cand = s.draw(np.random.default_rng(54321), 1, 20_000, 0.0)
    d = np.round(cand - base, GRID_DECIMALS)[0]
    return resampled_mde(d, n, alpha=alpha, power=power, resamples=2000)


@dataclass(frozen=True)
class Cell:
    scenario: str
    n: int
    delta: float
    coverage: float
    """Share of the candidate's estimate intervals that cover its true mean."""
    diff_coverage: float
    """Share of paired-difference intervals that cover the true difference."""
    verdicts: float
    """Share of replications with a verdict of better/worse (false positives at delta 0, power else)."""
    withheld: float
    """Share where the report says it cannot back a verdict."""
    gate_alarm: float
    """Share where the gate fails the candidate (a scorer 'worse' after Holm), 1 scorer."""


def run_cell(s: Scenario, n: int, delta: float, reps: int, seed: int, confidence: float = 0.95) -> Cell:
    rng = np.random.default_rng(seed)
    if s.clusters is not None:
        n = s.clusters[0] * s.clusters[1]
        base, cand = s.draw(rng, reps, n, delta)
    else:
        base, cand = s.draw(rng, reps, n, delta)
    b = compare_batch(s, base, cand, confidence)
    with np.errstate(invalid="ignore"):
        mean = s.mean + delta
        covered = (b.est_low <= mean) & (mean <= b.est_high)
        diff_covered = (b.low <= delta) & (delta <= b.high)
        found = ~b.withheld & ((b.low > 0) | (b.high < 0))
        worse = ~b.withheld & (b.high < 0)
    return Cell(
        s.name, n, delta, float(covered.mean()), float(diff_covered.mean()), float(found.mean()),
        float(b.withheld.mean()), float(worse.mean()),
    )  # fmt: skip


def gate_alarm_rate(
    s: Scenario, n: int, scorers: int, reps: int, seed: int, alpha: float = 0.05, correction: str = "holm"
) -> float:
    """Share of A/A suites with ``scorers`` independent scorers that the gate fails (any scorer worse
    after the family-wise correction)."""
    rng = np.random.default_rng(seed)
    batches = [compare_batch(s, *s.draw(rng, reps, n, 0.0)) for _ in range(scorers)]
    p = np.stack([np.where(b.withheld, np.nan, b.p) for b in batches], axis=1)
    worse = np.stack([~b.withheld & (b.high < 0) for b in batches], axis=1)
    alarms = 0
    for row in range(reps):
        ok = ~np.isnan(p[row])
        if not ok.any():
            continue
        raw = list(p[row][ok])
        adjusted = holm(raw) if correction == "holm" else raw
        alarms += any(a < alpha and w for a, w in zip(adjusted, worse[row][ok], strict=True))
    return alarms / reps


def binary_exact(p: float, n: int, delta: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """Exact (enumerated, no simulation noise) ``(coverage, diff_coverage, verdict rate)`` of the
    Wilson interval of the candidate's pass rate ``p + delta`` and of the Agresti-Min paired interval,
    for the copula scenario of ``scenarios()`` (pass/fail runs correlated with rho 0.5)."""
    from scipy.stats import binom, multinomial, multivariate_normal, norm

    q = p + delta
    ks = np.arange(n + 1)
    low, high = wilson_batch(ks.astype(float), n, confidence)
    coverage = float(binom.pmf(ks, n, q)[(low <= q) & (q <= high)].sum())
    both = float(multivariate_normal(mean=[0, 0], cov=[[1, RHO], [RHO, 1]]).cdf([norm.ppf(p), norm.ppf(q)]))
    p_win, p_loss = q - both, p - both
    wins, losses = np.meshgrid(ks, ks, indexing="ij")
    ok = wins + losses <= n
    wins, losses = wins[ok], losses[ok]
    cells = np.stack([wins, losses, n - wins - losses], 1)
    probs = multinomial.pmf(cells, n, [p_win, p_loss, 1 - p_win - p_loss])
    dlow, dhigh, _ = agresti_min_batch(wins.astype(float), losses.astype(float), n, confidence)
    diff_coverage = float(probs[(dlow <= delta) & (delta <= dhigh)].sum())
    return coverage, diff_coverage, float(probs[(dlow > 0) | (dhigh < 0)].sum())
