"""The minimum detectable effect of the test a comparison actually uses, for data like the sample's.

A normal-theory MDE, ``(z_{1-alpha/2} + z_power) * sd / sqrt(n)``, is optimistic where the printed test
is not a z test: the union of the t and skew-corrected t intervals loses power on heavy-tailed
differences (66% instead of 80% at N=30 for beta(0.1, 2) scores). So for continuous differences the
MDE is found by asking the test itself: the observed differences are centred, resampled (seeded) and
shifted by a candidate effect ``delta``; the paired interval printed for such a sample is computed for
every resample at once, and ``delta`` is bisected until 80% of them exclude 0.

Pass/fail comparisons keep the normal-theory MDE at the observed discordance (``_paired``): their power
depends on how the share of disagreeing items changes under a real difference, which one run cannot
show, so that MDE is approximate and the report says so (docs/statistics.md).
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
