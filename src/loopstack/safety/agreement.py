"""Agreement statistics for judge calibration: κ, α, accuracy, Spearman, each with a bootstrap CI.

Ratings are a raters x items array with NaN where a rater gave no label. Every interval resamples
*items* (the unit that was sampled), seeded — BCa for κ and α (their leave-one-item-out jackknife is
as cheap as the resamples), percentile for accuracy and Spearman — and is computed for all resamples at
once: Cohen's κ from a batch of confusion matrices, Krippendorff's α from a batch of
coincidence matrices (each item's coincidences add up, so a resample is a weighted sum), so a
2,000-resample interval costs milliseconds. The point estimates match the references (``krippendorff``
for α, scikit-learn's ``cohen_kappa_score``, scipy's ``spearmanr``); the tests check both that and the
intervals' coverage by seeded simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Level = Literal["nominal", "ordinal", "interval"]
Weights = Literal["linear", "quadratic"] | None
FloatArray = npt.NDArray[np.float64]

#: Fewer paired items than this and no agreement figure is printed as if it meant anything.
MIN_ITEMS = 10
RELIABLE = 0.80
TENTATIVE = 0.667


@dataclass(frozen=True)
class Interval:
    """A statistic with its percentile-bootstrap CI over items."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def badge(alpha: float | None) -> str:
    """``reliable`` (α ≥ 0.80), ``tentative`` (0.667–0.80), else ``not trusted`` (Krippendorff's bands)."""
    if alpha is None or math.isnan(alpha):
        return "not trusted"
    if alpha >= RELIABLE:
        return "reliable"
    if alpha >= TENTATIVE:
        return "tentative"
    return "not trusted"


def _codes(values: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Each value's index among the sorted distinct values (-1 for NaN), and those values."""
    finite = values[~np.isnan(values)]
    levels = np.unique(finite)
    codes = np.full(values.shape, -1, dtype=np.int64)
    mask = ~np.isnan(values)
    codes[mask] = np.searchsorted(levels, values[mask])
    return codes, levels.astype(float)


def _resample_weights(n: int, n_resamples: int, seed: int) -> FloatArray:
    """How often each item appears in each bootstrap resample: ``(n_resamples, n)`` counts."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    offsets = (np.arange(n_resamples) * n)[:, None]
    counts = np.bincount((idx + offsets).ravel(), minlength=n_resamples * n)
    return counts.reshape(n_resamples, n).astype(float)


def _percentile(stats: FloatArray, confidence: float) -> tuple[float | None, float | None]:
    finite = stats[np.isfinite(stats)]
    if len(finite) < 0.9 * len(stats) or len(finite) == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))


def _bca(
    theta: float, stats: FloatArray, jackknife: FloatArray, confidence: float
) -> tuple[float | None, float | None]:
    """Efron's BCa interval from the bootstrap and leave-one-item-out values; the percentile interval
    when the bias or acceleration is undefined (a constant jackknife, every resample on one side)."""
    from scipy.stats import norm

    finite = stats[np.isfinite(stats)]
    jack = jackknife[np.isfinite(jackknife)]
    if len(finite) < 0.9 * len(stats) or len(finite) == 0 or len(jack) < 2 or math.isnan(theta):
        return _percentile(stats, confidence)
    share = float((finite < theta).mean() + 0.5 * (finite == theta).mean())
    d = jack.mean() - jack
    spread = float((d**2).sum())
    if not 0 < share < 1 or spread == 0:
        return _percentile(stats, confidence)
    z0 = float(norm.ppf(share))
    accel = float((d**3).sum()) / (6 * spread**1.5)
    z = norm.ppf([(1 - confidence) / 2, (1 + confidence) / 2])
    levels = norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z))) * 100
    return float(np.percentile(finite, levels[0])), float(np.percentile(finite, levels[1]))


# -- Cohen's kappa ------------------------------------------------------------------------------------


def _kappa_from_tables(tables: FloatArray, weights: Weights) -> FloatArray:
    """κ of each ``(..., K, K)`` confusion table (counts), weighted like scikit-learn's."""
    k = tables.shape[-1]
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j).astype(float)
    else:
        w = ((i - j) ** 2).astype(float)
    total = tables.sum(axis=(-2, -1), keepdims=True)
    expected = tables.sum(axis=-1, keepdims=True) * tables.sum(axis=-2, keepdims=True) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = 1 - (w * tables).sum(axis=(-2, -1)) / (w * expected).sum(axis=(-2, -1))
    return out


def cohen_kappa(
    a: Sequence[Any] | FloatArray,
    b: Sequence[Any] | FloatArray,
    *,
    weights: Weights = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Cohen's κ between two raters on the items both rated (weighted for ordinal scales)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[both], y[both]
    n = len(x)
    if n < 2:
        return Interval(None, None, None, n)
    codes, _ = _codes(np.concatenate([x, y]))
    ca, cb = codes[:n], codes[n:]
    k = int(codes.max()) + 1
    cell = ca * k + cb
    table = np.bincount(cell, minlength=k * k).reshape(k, k).astype(float)
    value = float(_kappa_from_tables(table, weights))
    weights_b = _resample_weights(n, n_resamples, seed)
    onehot = np.zeros((n, k * k))
    onehot[np.arange(n), cell] = 1.0
    tables = (weights_b @ onehot).reshape(n_resamples, k, k)
    jackknife = _kappa_from_tables(table[None] - onehot.reshape(n, k, k), weights)
    low, high = _bca(value, _kappa_from_tables(tables, weights), jackknife, confidence)
    return Interval(None if math.isnan(value) else value, low, high, n)


# -- Krippendorff's alpha -----------------------------------------------------------------------------


def _item_coincidences(codes: npt.NDArray[np.int64], k: int) -> FloatArray:
    """Each item's coincidence matrix ``(items, K, K)`` (items with < 2 labels contribute nothing)."""
    items = codes.shape[1]
    counts = np.zeros((items, k))
    for r in range(codes.shape[0]):
        rated = codes[r] >= 0
        counts[np.arange(items)[rated], codes[r][rated]] += 1
    m = counts.sum(axis=1)
    pairs = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(k)[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = pairs / np.where(m > 1, m - 1, np.inf)[:, None, None]
    return np.asarray(scaled, dtype=float)


def _alpha_from_coincidences(o: FloatArray, levels: FloatArray, level: Level) -> FloatArray:
    """α from ``(..., K, K)`` coincidence matrices (Krippendorff 2011, with the ordinal metric on n_v)."""
    n_v = o.sum(axis=-1)
    total = n_v.sum(axis=-1)[..., None, None]
    e = (n_v[..., :, None] * n_v[..., None, :] - n_v[..., :, None] * np.eye(len(levels))) / (total - 1)
    k = len(levels)
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if level == "nominal":
        d = np.broadcast_to((i != j).astype(float), o.shape)
    elif level == "interval":
        d = np.broadcast_to((levels[:, None] - levels[None, :]) ** 2, o.shape)
    else:
        cum = np.cumsum(n_v, axis=-1)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        between = np.take(cum, hi, axis=-1) - np.take(cum, lo, axis=-1) + np.take(n_v, lo, axis=-1)
        half = (np.take(n_v, i, axis=-1) + np.take(n_v, j, axis=-1)) / 2
        d = (between - half) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = 1 - (o * d).sum(axis=(-2, -1)) / (e * d).sum(axis=(-2, -1))
    return out


def krippendorff_alpha(
    ratings: Sequence[Sequence[Any]] | FloatArray,
    *,
    level: Level = "nominal",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Krippendorff's α of a raters x items array (NaN = missing); ``n`` = items with ≥ 2 labels.

    The point estimate is the ``krippendorff`` package's; the CI resamples items.
    """
    data = np.asarray(ratings, dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    data = data[:, pairable]
    n = data.shape[1]
    if n < 2:
        return Interval(None, None, None, n)
    codes, levels = _codes(data)
    if len(levels) < 2:
        return Interval(None, None, None, n)  # one value only: α is undefined (no variation)
    import krippendorff

    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    per_item = _item_coincidences(codes, len(levels))
    weights_b = _resample_weights(n, n_resamples, seed)
    o = np.einsum("bn,nvw->bvw", weights_b, per_item)
    jackknife = _alpha_from_coincidences(per_item.sum(axis=0)[None] - per_item, levels, level)
    low, high = _bca(value, _alpha_from_coincidences(o, levels, level), jackknife, confidence)
    return Interval(None if math.isnan(value) else value, low, high, n)


# -- accuracy, confusion, Spearman --------------------------------------------------------------------


def accuracy(
    a: Sequence[Any] | FloatArray,
    b: Sequence[Any] | FloatArray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Share of items on which the two raters gave the same label."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(y)
    same = (x[both] == y[both]).astype(float)
    n = len(same)
    if n == 0:
        return Interval(None, None, None, 0)
    stats = _resample_weights(n, n_resamples, seed) @ same / n
    low, high = _percentile(stats, confidence)
    return Interval(float(same.mean()), low, high, n)


def confusion(
    judge: Sequence[Any] | FloatArray, human: Sequence[Any] | FloatArray, labels: Sequence[str]
) -> list[list[int]]:
    """Counts with rows = human label, columns = judge label, in the order of ``labels`` (codes 0..K-1)."""
    k = len(labels)
    x, y = np.asarray(judge, dtype=float), np.asarray(human, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(y)
    table = np.zeros((k, k), dtype=int)
    np.add.at(table, (y[both].astype(int), x[both].astype(int)), 1)
    return [[int(v) for v in row] for row in table]


def _ranks(x: FloatArray) -> FloatArray:
    from scipy.stats import rankdata

    return np.asarray(rankdata(x, axis=-1), dtype=float)


def spearman(
    a: Sequence[Any] | FloatArray,
    b: Sequence[Any] | FloatArray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Spearman's ρ between two numeric raters (scipy's), CI by resampling items."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[both], y[both]
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Interval(None, None, None, n)
    from scipy.stats import spearmanr

    value = float(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    rx, ry = _ranks(x[idx]), _ranks(y[idx])
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    low, high = _percentile(rho, confidence)
    return Interval(value, low, high, n)


def position_bias(consistent: Sequence[bool]) -> Interval:
    """Share of pairwise comparisons whose verdict changed when the two answers swapped places.

    The CI is Wilson's (a proportion of independent pairs)."""
    from loopstack.evals.stats import wilson_interval

    n = len(consistent)
    if n == 0:
        return Interval(None, None, None, 0)
    flipped = sum(1 for c in consistent if not c)
    low, high = wilson_interval(flipped, n)
    return Interval(flipped / n, low, high, n)


@dataclass
class Agreement:
    """Judge-vs-human agreement on one scale, and the human-human ceiling when two people rated."""

    level: Level
    n: int
    enough: bool
    message: str | None = None
    kappa: Interval | None = None
    kappa_weights: str | None = None
    alpha: Interval | None = None
    alpha_all: Interval | None = None
    """α over every rater (the judge and all humans), missing labels allowed."""
    human_alpha: Interval | None = None
    """α between the two human raters: the ceiling a judge can be expected to reach."""
    accuracy: Interval | None = None
    confusion: list[list[int]] | None = None
    labels: list[str] = field(default_factory=list)
    spearman: Interval | None = None

    @property
    def badge(self) -> str:
        return badge(self.alpha.value if self.enough and self.alpha is not None else None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["badge"] = self.badge
        return out


def agreement(
    judge: Sequence[Any],
    humans: Sequence[Sequence[Any]],
    *,
    level: Level,
    labels: Sequence[str] = (),
    seed: int = 0,
    n_resamples: int = 2000,
) -> Agreement:
    """Agreement of ``judge`` with ``humans[0]`` (κ, α, accuracy/confusion or Spearman), α over all
    raters, and the human-human α when there are two or more human raters.

    Values are numbers (categorical labels already coded 0..K-1 in the order of ``labels``), None or
    NaN where missing. Fewer than ``MIN_ITEMS`` items rated by both the judge and the first human and
    ``enough`` is false: the figures are left out and ``message`` says why.
    """
    j = np.array([np.nan if v is None else float(v) for v in judge])
    hs = [np.array([np.nan if v is None else float(v) for v in h]) for h in humans]
    h0 = hs[0]
    n = int((~np.isnan(j) & ~np.isnan(h0)).sum())
    out = Agreement(level=level, n=n, enough=n >= MIN_ITEMS, labels=list(labels))
    if not out.enough:
        out.message = (
            f"only {n} item(s) have both a judge score and a human label; calibration needs at least "
            f"{MIN_ITEMS}, so no agreement figure is given"
        )
        return out
    kw: dict[str, Any] = {"seed": seed, "n_resamples": n_resamples}
    weights: Weights = "quadratic" if level != "nominal" else None
    out.kappa_weights = weights
    out.kappa = cohen_kappa(j, h0, weights=weights, **kw)
    out.alpha = krippendorff_alpha(np.vstack([j, h0]), level=level, **kw)
    if len(hs) > 1:
        out.alpha_all = krippendorff_alpha(np.vstack([j, *hs]), level=level, **kw)
        out.human_alpha = krippendorff_alpha(np.vstack(hs), level=level, **kw)
    if level == "nominal":
        out.accuracy = accuracy(j, h0, **kw)
        out.confusion = confusion(j, h0, labels)
    else:
        out.spearman = spearman(j, h0, **kw)
    return out


__all__ = [
    "MIN_ITEMS",
    "Agreement",
    "Interval",
    "accuracy",
    "agreement",
    "badge",
    "cohen_kappa",
    "confusion",
    "krippendorff_alpha",
    "position_bias",
    "spearman",
]
