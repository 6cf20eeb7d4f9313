"""Analytic intervals for means of continuous scores, each with the p-value inverted from it.

Chosen by simulation (``bench/calibration.py``, docs/statistics.md), not by name: a percentile or BCa
bootstrap undercovers skewed scores at small N (88% for exponential scores at N=10) and its paired
version gave 10% false alarms, while these close-form intervals are vectorisable and cover.

- ``skew_t_interval``: Student's t with Hall's (1992) monotone skewness correction of the studentized
  mean, for one run's mean (the studentized mean of a right-skewed score has a long left tail, so the
  interval reaches further up than down).
- ``paired_t_interval``: the union of the plain t interval and the skew-corrected one, for a mean of
  paired differences. Under an A/A comparison the differences are symmetric and the plain t holds its
  rate while a noisy skewness estimate would not; under a skewed shift the correction does. The union
  excludes 0 only when both do, so its false-alarm rate is at most the smaller of the two.

Each returns ``(low, high, p)`` where ``p`` is the smallest ``1 - confidence`` at which the interval
excludes 0: the p-value printed beside an interval always agrees with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NAN = float("nan")


def _hall_parts(y: np.ndarray) -> tuple[float, float, float, float]:
    n = len(y)
    mean = float(y.mean())
    sd = float(y.std(ddof=1))
    m3 = float(((y - mean) ** 3).mean())
    gamma = m3 / sd**3 if sd > 0 else 0.0
    return mean, sd / math.sqrt(n), gamma / (3 * math.sqrt(n)), gamma / (6 * math.sqrt(n))


def _hall(t: float, u: float, b: float) -> float:
    """Hall's transformation ``g(T) = T + u T^2 + u^2 T^3 / 3 + b`` = ``((1 + uT)^3 - 1) / 3u + b``."""
    if abs(u) < 1e-12:
        return t + b
    return ((1 + u * t) ** 3 - 1) / (3 * u) + b


def _hall_inverse(x: float, u: float, b: float) -> float:
    if abs(u) < 1e-12:
        return x - b
    return float((np.cbrt(1 + 3 * u * (x - b)) - 1) / u)


def skew_t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Hall's skew-corrected t interval of the mean and the two-sided p-value of mean = 0."""
    from scipy.stats import t as student

    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 2:
        return NAN, NAN, NAN
    mean, se, u, b = _hall_parts(y)
    if se == 0:
        return NAN, NAN, NAN
    q = float(student.ppf(0.5 + confidence / 2, n - 1))
    low = mean - se * _hall_inverse(q, u, b)
    high = mean - se * _hall_inverse(-q, u, b)
    g0 = _hall(mean / se, u, b)
    p = float(2 * student.sf(abs(g0), n - 1))
    return low, high, min(1.0, p)


def t_test_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Student's t interval of the mean and its two-sided p-value of mean = 0."""
    from scipy.stats import t as student

    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 2:
        return NAN, NAN, NAN
    mean = float(y.mean())
    se = float(y.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        return NAN, NAN, NAN
    q = float(student.ppf(0.5 + confidence / 2, n - 1))
    return mean - q * se, mean + q * se, float(2 * student.sf(abs(mean / se), n - 1))


def paired_t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The union of the t and skew-corrected t intervals, with ``p = max`` of their p-values."""
    lo1, hi1, p1 = t_test_interval(values, confidence)
    lo2, hi2, p2 = skew_t_interval(values, confidence)
    return min(lo1, lo2), max(hi1, hi2), max(p1, p2)


def t_inverted(mean: float, se: float, df: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """``mean +- t_df * se`` and the two-sided p-value of mean = 0 from the same t distribution."""
    from scipy.stats import t as student

    if df < 1 or math.isnan(se) or se <= 0:
        return NAN, NAN, NAN
    q = float(student.ppf(0.5 + confidence / 2, df))
    return mean - q * se, mean + q * se, float(2 * student.sf(abs(mean / se), df))


def bounded_identical_interval(
    value: float, n: int, lower: float, upper: float, confidence: float = 0.95
) -> tuple[float, float]:
    """An interval for ``n`` identical scores on a scale bounded by ``[lower, upper]``.

    Of all distributions on a bounded scale with a given mean, the two-point one at the bounds has the
    largest variance, so the Wilson interval of the rescaled mean (read as a pass rate over ``n``
    items) bounds the mean of any of them: never zero width, and as wide as ``n`` items warrant.
    """
    span = upper - lower
    p = min(1.0, max(0.0, (value - lower) / span))
    lo, hi = _wilson_fraction(p, n, confidence)
    return lower + lo * span, lower + hi * span


def _wilson_fraction(p: float, n: int, confidence: float) -> tuple[float, float]:
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control for any dependence)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Bonferroni-adjusted p-values."""
    return [min(1.0, len(p_values) * p) for p in p_values]
