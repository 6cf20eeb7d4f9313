"""The minimum detectable effect of the test a comparison actually uses, for data like the sample's.

A normal-theory MDE, ``(z_{1-alpha/2} + z_power) * sd / sqrt(n)``, is optimistic where the printed test
is not a z test: the union of the t and skew-corrected t intervals loses power on heavy-tailed
differences (66% instead of 80% at N=30 for beta(0.1, 2) scores). So for continuous differences the
MDE is found by asking the test itself: the observed differences are centred, resampled (seeded) and
shifted by a candidate effect ``delta``; the paired interval printed for such a sample is computed for
every resample at once, and ``delta`` is bisected until 80% of them exclude 0.

For pass/fail comparisons the power depends on how the share of disagreeing items changes under a real
difference, which one pair of runs cannot show directly. ``binary_mde`` assumes the runs stay as alike
as they are: the items' latent agreement (the tetrachoric correlation of the observed 2x2 table) is kept
while the candidate's pass rate moves by ``delta``, and the power of the printed Agresti-Min interval is
computed exactly by enumerating every (wins, losses) outcome (normal theory above ``EXACT_MAX_N``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

NAN = float("nan")
Array = np.ndarray[Any, Any]
#: Resampled values per bisection step are capped near this (resamples x items).
_WORK = 400_000
_STEPS = 30


def _bisect(power_at: Any, hi: float, cap: float, target: float, rel: float = 0.005) -> float:
    """Smallest ``delta`` in ``(0, cap]`` with ``power_at(delta) >= target`` (NaN if none)."""
    while power_at(hi) < target:
        if hi >= cap:
            return NAN
        hi = min(cap, hi * 2)
    lo = 0.0
    for _ in range(_STEPS):
        if hi - lo <= rel * hi:
            break
        mid = (lo + hi) / 2
        if power_at(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def resampled_mde(
    d: Array,
    n: int | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
    resamples: int | None = None,
) -> float:
    """Smallest mean shift at which the paired interval (t union skew-corrected t) of ``n`` differences
    drawn like ``d`` (default ``n = len(d)``) excludes 0 in ``power`` of the resamples."""
    from loopstack.evals.stats._intervals import paired_t_batch

    d = np.asarray(d, dtype=float)
    n = len(d) if n is None else n
    if n < 2 or len(d) < 2:
        return NAN
    centred = d - d.mean()
    sd = float(centred.std(ddof=1))
    if not sd > 0:
        return NAN
    b = resamples or max(200, min(2000, _WORK // n))
    rng = np.random.default_rng(seed)
    sample = centred[rng.integers(0, len(d), size=(b, n))]
    confidence = 1 - alpha

    def power_at(delta: float) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            low, high, _ = paired_t_batch(sample + delta, confidence)
        return float(((low > 0) | (high < 0)).mean())

    return _bisect(power_at, 3.0 * sd / math.sqrt(n), 1e3 * sd, power)


#: Above this many items the pass/fail power is computed by normal theory (the enumeration has
#: ~n^2/2 outcomes; by then the discreteness it captures no longer matters).
EXACT_MAX_N = 600
_RHO_LIMIT = 0.995


def binary_mde_from_pairs(
    both: int, losses: int, wins: int, neither: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """``binary_mde`` for an observed 2x2 table of paired pass/fail items (half a pair added to each
    cell, as the interval does, so a table with no disagreement still has a finite correlation)."""
    n = both + losses + wins + neither
    if n < 2:
        return NAN
    total = n + 2
    p_base = (both + losses + 1) / total
    p_cand = (both + wins + 1) / total
    p = (p_base + p_cand) / 2
    rho = _tetrachoric(p, (both + 0.5) / total)
    return binary_mde(p, rho, n, alpha=alpha, power=power)


def binary_mde(p: float, rho: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest change ``delta`` of the pass rate from ``p`` that the Agresti-Min interval of ``n``
    paired items detects (excludes 0) with probability ``power``, for runs whose items agree with
    latent (tetrachoric) correlation ``rho``. The rate moves towards 0.5's side with more room."""
    from scipy.special import ndtri

    if n < 2 or not 0 < p < 1:
        return NAN
    sign = 1.0 if p <= 0.5 else -1.0
    cap = (1 - p) if sign > 0 else p
    h = float(ndtri(p))

    def power_at(delta: float) -> float:
        q = p + sign * delta
        if not 0 < q < 1:
            return 1.0
        both = _bivariate_normal_cdf(h, float(ndtri(q)), rho)
        p_win, p_loss = max(0.0, q - both), max(0.0, p - both)
        return _agresti_min_power(p_win, p_loss, n, 1 - alpha)

    return _bisect(power_at, min(cap, 3.0 * math.sqrt(p * (1 - p) / n)), cap, power)


def _agresti_min_power(p_win: float, p_loss: float, n: int, confidence: float) -> float:
    """P(the Agresti-Min interval excludes 0) when each item is a win, loss or tie at these rates."""
    from scipy.special import gammaln, ndtr, ndtri

    z = float(ndtri(0.5 + confidence / 2))
    p_tie = max(0.0, 1.0 - p_win - p_loss)
    if n > EXACT_MAX_N:
        diff = p_win - p_loss
        se = math.sqrt(max(1e-300, p_win + p_loss - diff * diff) / n)
        return float(ndtr(abs(diff) / se - z) + ndtr(-abs(diff) / se - z))
    ks = np.arange(n + 1)
    wins, losses = np.meshgrid(ks, ks, indexing="ij")
    ok = wins + losses <= n
    wins, losses = wins[ok].astype(float), losses[ok].astype(float)
    ties = n - wins - losses
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = (
            gammaln(n + 1)
            - gammaln(wins + 1)
            - gammaln(losses + 1)
            - gammaln(ties + 1)
            + _xlogy(wins, p_win)
            + _xlogy(losses, p_loss)
            + _xlogy(ties, p_tie)
        )
    prob = np.exp(log_p)
    total = n + 2
    pw, pl = (wins + 0.5) / total, (losses + 0.5) / total
    shift = pw - pl
    half = z * np.sqrt(np.maximum(0.0, pw + pl - shift * shift) / total)
    return float(prob[(shift - half > 0) | (shift + half < 0)].sum())


def _xlogy(x: Array, p: float) -> Array:
    """``x * log(p)`` with ``0 * log(0) = 0``."""
    if p <= 0:
        return np.where(x > 0, -np.inf, 0.0)
    return x * math.log(p)


def _tetrachoric(p: float, both: float) -> float:
    """The latent correlation of two runs that each pass at rate ``p`` and both pass at ``both``."""
    from scipy.special import ndtri

    h = float(ndtri(p))
    lo, hi = -_RHO_LIMIT, _RHO_LIMIT
    for _ in range(50):  # the bivariate CDF rises with rho
        mid = (lo + hi) / 2
        if _bivariate_normal_cdf(h, h, mid) < both:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _bivariate_normal_cdf(h: float, k: float, rho: float) -> float:
    """P(X <= h, Y <= k) for standard normals with correlation ``rho`` (Owen's T function)."""
    from scipy.special import ndtr, owens_t

    if abs(rho) >= 1:
        return float(ndtr(min(h, k))) if rho > 0 else max(0.0, float(ndtr(h) + ndtr(k) - 1))
    root = math.sqrt(1 - rho * rho)
    eps = 1e-12
    h = h if abs(h) > eps else eps
    k = k if abs(k) > eps else eps
    t1 = float(owens_t(h, (k - rho * h) / (h * root)))
    t2 = float(owens_t(k, (h - rho * k) / (k * root)))
    beta = 0.0 if h * k > 0 or (h * k == 0 and h + k >= 0) else 0.5
    return float(0.5 * (ndtr(h) + ndtr(k))) - t1 - t2 - beta
