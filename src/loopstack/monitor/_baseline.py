"""The baseline-relative tests of alert rules: is this window worse than the previous 7 days?

Rates (errors, negative feedback, acceptance) use Fisher's exact test, one-sided, conditional on the
total count of events in window + baseline: it is exact at any window size (a normal approximation is
not, at 2 errors in 100 requests) and conservative, so its false-alarm rate stays at or below ``alpha``
per window. Means (a scorer's score) use Welch's one-sided t test. ``tests/monitor`` checks both by
simulating A/A windows.

A rule tests every window, so over a day of 288 five-minute windows a rule at ``alpha = 0.01`` would
raise about 2.9 false breaches; ``sustained: N`` consecutive breaches are needed to fire, which on
independent windows makes a false firing about ``alpha ** N`` per window. To bound a day's false
firings at ``A`` over ``W`` windows, choose ``alpha = (A / W) ** (1 / N)`` (Bonferroni over windows);
``alpha_for_budget`` computes it.
"""

from __future__ import annotations

import math


def rate_increase_p(k: int, n: int, k0: int, n0: int) -> float:
    """One-sided p-value that the window's rate ``k/n`` exceeds the baseline's ``k0/n0`` (Fisher)."""
    if n <= 0 or n0 <= 0:
        return 1.0
    from scipy.stats import hypergeom

    # X = events in the window given K events in all: large X means the window is worse.
    return float(min(1.0, hypergeom.sf(k - 1, n + n0, k + k0, n)))


def rate_decrease_p(k: int, n: int, k0: int, n0: int) -> float:
    """One-sided p-value that the window's rate is below the baseline's (Fisher)."""
    if n <= 0 or n0 <= 0:
        return 1.0
    from scipy.stats import hypergeom

    return float(min(1.0, hypergeom.cdf(k, n + n0, k + k0, n)))


def mean_decrease_p(mean: float, var: float, n: int, mean0: float, var0: float, n0: int) -> float:
    """One-sided Welch t p-value that the window's mean is below the baseline's."""
    if n < 2 or n0 < 2:
        return 1.0
    se2 = var / n + var0 / n0
    if se2 <= 0:
        return 0.0 if mean < mean0 else 1.0
    from scipy.special import stdtr

    t = (mean - mean0) / math.sqrt(se2)
    df = (
        se2**2 / ((var / n) ** 2 / (n - 1) + (var0 / n0) ** 2 / (n0 - 1))
        if var > 0 or var0 > 0
        else n + n0 - 2
    )
    return float(stdtr(max(df, 1.0), t))


def alpha_for_budget(false_alerts_per_day: float, windows_per_day: int, sustained: int) -> float:
    """The per-window ``alpha`` that keeps expected false firings under the daily budget (see module)."""
    return float(min(1.0, (false_alerts_per_day / max(1, windows_per_day)) ** (1.0 / max(1, sustained))))
