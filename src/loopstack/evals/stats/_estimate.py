"""One run, one scorer: the mean over items and its confidence interval.

Epochs are averaged per item first (an item run three times is one observation, not three), then the
interval matches the data: Wilson for pass/fail, Hall's skew-corrected t for continuous scores (chosen
by simulation, see docs/statistics.md), and a cluster-robust standard error when items share a cluster
key (several questions about one document are not independent evidence). Fewer than
``MIN_CONTINUOUS_ITEMS`` continuous scores get no interval ("too few items for an interval"); identical
scores on the [0, 1] scale get the widest interval any [0, 1] distribution allows, never a point.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from loopstack.evals.stats._normal import normal_quantile
from loopstack.evals.stats._results import Estimate

Kind = Literal["auto", "binary", "continuous"]
Method = Literal["auto", "wilson", "skew-t", "bootstrap", "clt", "clustered"]
#: item key -> one value, or one value per epoch. ``None``/NaN values (errored scores) are skipped.
ItemValues = Mapping[str, Any]

NAN = float("nan")
#: Fewer continuous (non pass/fail) items than this get no interval and no verdict.
MIN_CONTINUOUS_ITEMS = 10
TOO_FEW = f"too few items for an interval (a continuous score needs at least {MIN_CONTINUOUS_ITEMS})"
IDENTICAL = "all items identical"


def _epochs(raw: Any) -> Any:
    """A value's epochs: a list, tuple or numpy array as it is, a scalar as one epoch. (An array can
    only be one when numpy is loaded, so this never imports it.)"""
    if isinstance(raw, list | tuple):
        return raw
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(raw, numpy.ndarray):
        return raw
    return [raw]


def _sample_std(y: Sequence[float], mean: float) -> float:
    """Sample standard deviation (ddof 1) of at least two values."""
    return math.sqrt(math.fsum((v - mean) ** 2 for v in y) / (len(y) - 1))


def _usable(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def reduce_epochs(values: ItemValues | Sequence[Any]) -> tuple[dict[str, float], int]:
    """``(item -> mean over its usable epochs, number of items with no usable value)``.

    A plain sequence is read as one value per item, keyed by position.
    """
    mapping: Mapping[str, Any] = (
        values if isinstance(values, Mapping) else {str(i): v for i, v in enumerate(values)}
    )
    out: dict[str, float] = {}
    missing = 0
    for key, raw in mapping.items():
        epochs = _epochs(raw)
        usable = [u for u in (_usable(v) for v in epochs) if u is not None]
        if usable:  # fsum is exactly rounded: the order of the epochs cannot change the mean
            out[key] = math.fsum(usable) / len(usable)
        else:
            missing += 1
    return out, missing


def is_binary(values: ItemValues | Sequence[Any]) -> bool:
    """Every usable raw value is a bool or 0/1 (before epoch averaging)."""
    mapping: Mapping[str, Any] = (
        values if isinstance(values, Mapping) else {str(i): v for i, v in enumerate(values)}
    )
    seen = False
    for raw in mapping.values():
        for v in _epochs(raw):
            u = _usable(v)
            if u is None:
                continue
            if u not in (0.0, 1.0):
                return False
            seen = True
    return seen


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (well behaved at 0%, 100% and small N)."""
    if n <= 0:
        return NAN, NAN
    return wilson_fraction(successes / n, n, confidence)


def wilson_fraction(p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson interval for an observed share ``p`` of ``n`` (``p`` need not be a whole count)."""
    z = normal_quantile(0.5 + confidence / 2)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def clustered_se(values: Sequence[float], clusters: Sequence[str], *, small_sample: bool = True) -> float:
    """Cluster-robust standard error of the mean (CR1 by default, CR0 without the G/(G-1) factor).

    The sandwich for an intercept-only model: ``V = sum_g (sum_{i in g} e_i)^2 / n^2`` with residuals
    ``e_i = y_i - mean``, times ``G/(G-1)`` for CR1 (with one regressor Stata's (n-1)/(n-k) is 1).
    """
    import numpy as np

    y = np.asarray(values, dtype=float)
    n = len(y)
    groups: dict[str, float] = {}
    resid = y - y.mean()
    for r, g in zip(resid, clusters, strict=True):
        groups[g] = groups.get(g, 0.0) + float(r)
    g_count = len(groups)
    if n == 0 or g_count < 2:
        return NAN
    v = sum(s * s for s in groups.values()) / (n * n)
    if small_sample:
        v *= g_count / (g_count - 1)
    return math.sqrt(v)


def bootstrap_interval(
    values: Sequence[float], *, confidence: float = 0.95, seed: int = 0, n_resamples: int = 2000
) -> tuple[float, float]:
    """Seeded BCa bootstrap CI of the mean (percentile if BCa is undefined); a constant sample -> a point."""
    import numpy as np

    y = np.asarray(values, dtype=float)
    if len(y) < 2:
        return NAN, NAN
    if float(np.ptp(y)) == 0.0:
        return float(y[0]), float(y[0])
    import warnings

    from scipy.stats import bootstrap

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap(
                (y,),
                np.mean,
                n_resamples=n_resamples,
                confidence_level=confidence,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isnan(low) or math.isnan(high)):
            return low, high
    return NAN, NAN


def t_interval(mean: float, se: float, df: int, confidence: float = 0.95) -> tuple[float, float]:
    """``mean +- t_{df} * se``."""
    if df < 1 or math.isnan(se):
        return NAN, NAN
    from scipy.special import stdtrit

    q = float(stdtrit(df, 0.5 + confidence / 2))
    return mean - q * se, mean + q * se


def item_clusters(keys: Sequence[str], clusters: Mapping[str, str | None] | None) -> list[str] | None:
    """Cluster label per item (an item without one is its own cluster); ``None`` when no item shares."""
    if not clusters:
        return None
    labels = [str(clusters.get(k)) if clusters.get(k) is not None else f"\0item:{k}" for k in keys]
    if len(set(labels)) == len(labels):
        return None  # every item is alone: clustering changes nothing
    return labels


def estimate(
    values: ItemValues | Sequence[Any],
    *,
    kind: Kind = "auto",
    clusters: Mapping[str, str | None] | None = None,
    method: Method = "auto",
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> Estimate:
    """Mean of a scorer over items with a ``confidence`` interval.

    ``values`` maps item key -> value or list of per-epoch values (booleans count as 1/0; ``None`` is
    an errored score and is skipped). ``method="auto"`` picks ``clustered`` when items share a cluster
    key in ``clusters``, else ``wilson`` for pass/fail data, else ``bootstrap``.
    """
    per_item, missing = reduce_epochs(values)
    binary = is_binary(values) if kind == "auto" else kind == "binary"
    keys = list(per_item)
    y = [per_item[k] for k in keys]
    n = len(y)
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0, "none", confidence, n_missing=missing, binary=binary)
    mean = math.fsum(y) / n
    std = _sample_std(y, mean) if n > 1 else NAN
    labels = item_clusters(keys, clusters)
    whole = all(v in (0.0, 1.0) for v in y)
    chosen: str = method
    if method == "auto":
        if labels is not None:
            chosen = "clustered"
        elif binary and whole:
            chosen = "wilson"
        else:
            chosen = "skew-t"
    se = std / math.sqrt(n) if n > 1 else NAN
    n_clusters: int | None = None
    note: str | None = None
    identical = n > 1 and min(y) == max(y)
    bounded = all(0.0 <= v <= 1.0 for v in y)
    if chosen == "wilson":
        if not whole:
            raise ValueError("the Wilson interval needs pass/fail values (0/1 per item)")
        low, high = wilson_interval(round(sum(y)), n, confidence)
    elif chosen == "clustered":
        cl = labels if labels is not None else [f"\0item:{k}" for k in keys]
        n_clusters = len(set(cl))
        se = clustered_se(y, cl)
        low, high = t_interval(mean, se, n_clusters - 1, confidence)
        if identical:
            low, high, chosen, note = _identical(mean, n_clusters, bounded, confidence)
        elif n_clusters < 2:
            note = "only one cluster: no interval is possible across clusters"
    elif chosen == "clt":
        low, high = t_interval(mean, se, n - 1, confidence)
    elif chosen == "bootstrap":
        low, high = bootstrap_interval(y, confidence=confidence, seed=seed, n_resamples=n_resamples)
    elif chosen == "skew-t":
        from loopstack.evals.stats._intervals import skew_t_interval

        if identical:
            low, high, chosen, note = _identical(mean, n, bounded, confidence)
        elif n < MIN_CONTINUOUS_ITEMS:
            low, high, chosen, note = NAN, NAN, "none", TOO_FEW
        else:
            low, high, _ = skew_t_interval(y, confidence)
    else:
        raise ValueError(f"unknown CI method {method!r}")
    if n < 2 and chosen != "wilson":
        chosen = "none"
    return Estimate(
        mean=mean,
        ci_low=low,
        ci_high=high,
        n=n,
        method=chosen,
        confidence=confidence,
        std=std,
        se=se,
        n_clusters=n_clusters,
        n_missing=missing,
        binary=binary and whole,
        note=note,
    )


def _identical(value: float, n: int, bounded: bool, confidence: float) -> tuple[float, float, str, str]:
    """Every item scored ``value``: on [0, 1] the widest interval any [0, 1] score allows, else none."""
    if not bounded:
        return NAN, NAN, "none", f"{IDENTICAL}; an unbounded score gives no interval"
    from loopstack.evals.stats._intervals import bounded_identical_interval

    low, high = bounded_identical_interval(value, n, 0.0, 1.0, confidence)
    return low, high, "bounded", IDENTICAL
