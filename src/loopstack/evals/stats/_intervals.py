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
from typing import Any

import numpy as np

from loopstack.evals.stats._estimate import wilson_fraction

NAN = float("nan")


Array = np.ndarray[Any, Any]


def _quantile(confidence: float, df: int | Array) -> Array:
    from scipy.special import stdtrit

    return np.asarray(stdtrit(df, 0.5 + confidence / 2), dtype=float)


def _t_sf(x: Array, df: int | Array) -> Array:
    from scipy.special import stdtr

    return np.asarray(stdtr(df, -np.asarray(x, dtype=float)), dtype=float)


def t_batch(y: Array, confidence: float = 0.95) -> tuple[Array, Array, Array]:
    """Row-wise Student t interval of the mean of ``y`` (shape ``(R, n)``) and its p-value of 0.
    Rows with no spread get NaN."""
    n = y.shape[1]
    mean = y.mean(axis=1)
    se = y.std(axis=1, ddof=1) / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(se > 0, se, np.nan)
        q = _quantile(confidence, n - 1)
        p = 2 * _t_sf(np.abs(mean / se), n - 1)
    return mean - q * se, mean + q * se, p


def skew_t_batch(y: Array, confidence: float = 0.95) -> tuple[Array, Array, Array]:
    """Row-wise Hall (1992) skew-corrected t interval of the mean and its p-value of 0.

    ``g(T) = T + u T^2 + u^2 T^3 / 3 + b`` with ``u = gamma / (3 sqrt n)``, ``b = gamma / (6 sqrt n)``
    and ``gamma`` the sample skewness, is monotone with the closed-form inverse
    ``((1 + 3u(x - b))^(1/3) - 1) / u``; the interval is ``{mu : |g(sqrt n (mean - mu) / s)| <= t}``.
    """
    n = y.shape[1]
    mean = y.mean(axis=1)
    sd = y.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.where(sd > 0, sd, np.nan)
        gamma = ((y - mean[:, None]) ** 3).mean(axis=1) / sd**3
        u = gamma / (3 * math.sqrt(n))
        b = gamma / (6 * math.sqrt(n))
        se = sd / math.sqrt(n)
        q = _quantile(confidence, n - 1)
        small = np.abs(u) < 1e-12
        safe_u = np.where(small, 1.0, u)

        def inverse(x: Array | float) -> Array:
            exact = (np.cbrt(1 + 3 * safe_u * (x - b)) - 1) / safe_u
            return np.asarray(np.where(small, x - b, exact), dtype=float)

        t0 = mean / se
        g0 = np.where(small, t0 + b, ((1 + safe_u * t0) ** 3 - 1) / (3 * safe_u) + b)
        p = np.minimum(1.0, 2 * _t_sf(np.abs(g0), n - 1))
    return mean - se * inverse(q), mean - se * inverse(-q), p


def paired_t_batch(d: Array, confidence: float = 0.95) -> tuple[Array, Array, Array]:
    """Row-wise union of the t and skew-corrected t intervals, ``p = max`` of their p-values."""
    lo1, hi1, p1 = t_batch(d, confidence)
    lo2, hi2, p2 = skew_t_batch(d, confidence)
    return np.fmin(lo1, lo2), np.fmax(hi1, hi2), np.fmax(p1, p2)


def _one(batch: tuple[Array, Array, Array]) -> tuple[float, float, float]:
    low, high, p = (float(a[0]) for a in batch)
    return low, high, p


def skew_t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Hall's skew-corrected t interval of the mean and the two-sided p-value of mean = 0."""
    y = np.asarray(values, dtype=float)
    if len(y) < 2:
        return NAN, NAN, NAN
    return _one(skew_t_batch(y[None, :], confidence))


def t_test_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Student's t interval of the mean and its two-sided p-value of mean = 0."""
    y = np.asarray(values, dtype=float)
    if len(y) < 2:
        return NAN, NAN, NAN
    return _one(t_batch(y[None, :], confidence))


def paired_t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The union of the t and skew-corrected t intervals, with ``p = max`` of their p-values."""
    y = np.asarray(values, dtype=float)
    if len(y) < 2:
        return NAN, NAN, NAN
    return _one(paired_t_batch(y[None, :], confidence))


def t_inverted(mean: float, se: float, df: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """``mean +- t_df * se`` and the two-sided p-value of mean = 0 from the same t distribution."""
    if df < 1 or math.isnan(se) or se <= 0:
        return NAN, NAN, NAN
    q = float(_quantile(confidence, df))
    return mean - q * se, mean + q * se, float(2 * _t_sf(np.asarray(abs(mean / se)), df))


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
    lo, hi = wilson_fraction(p, n, confidence)
    return lower + lo * span, lower + hi * span


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
