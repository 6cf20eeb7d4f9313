"""Two runs on the same items: the paired difference, its CI, a paired test, and whether N suffices.

Pairing removes the item-difficulty variance both runs share, so a paired comparison detects
differences an unpaired one cannot. Pass/fail data uses the Agresti-Min interval for paired
proportions; continuous data the union of the t and Hall's skew-corrected t interval on the paired
differences; clustered items a cluster-robust (CR1) t(G-1) interval. Every p-value is the test inverted
from the interval printed beside it, so "worse" never sits next to p > 0.05. Continuous comparisons on
fewer than ``MIN_CHANGED_ITEMS`` changed items print an interval but no verdict: no test of a mean can
promise its error rate on so few values of an arbitrary distribution (Bahadur & Savage, 1956).
``mcnemar_exact`` and ``_wilcoxon`` remain for callers and for the reference tests; the printed path
does not use them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopstack.evals.stats._estimate import (
    IDENTICAL,
    MIN_CONTINUOUS_ITEMS,
    NAN,
    TOO_FEW,
    ItemValues,
    Kind,
    clustered_se,
    is_binary,
    item_clusters,
    reduce_epochs,
)
from loopstack.evals.stats._normal import normal_cdf, normal_quantile
from loopstack.evals.stats._results import PairedComparison


def mcnemar_exact(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    if wins + losses == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5).pvalue)


def paired_proportion_interval(
    wins: int, losses: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Agresti-Min (2005) adjusted Wald CI for candidate rate minus baseline rate on paired pass/fail data.

    ``wins``: pairs the candidate passed and the baseline failed; ``losses``: the reverse. Adding half
    a pair to each of the four cells (so ``n + 2`` pairs) keeps the interval honest when few or no
    pairs disagree (a plain Wald interval, and Newcombe's when no pair disagrees, collapse to [0, 0]).
    Chosen over Bonett-Price (+1 per discordant cell) by exact enumeration: closer to 95% at every N
    and difference in ``bench/calibration.py`` (docs/statistics.md).
    """
    if n <= 0:
        return NAN, NAN
    low, high, _ = _agresti_min(wins, losses, n, confidence)
    return low, high


def _agresti_min(wins: float, losses: float, n: int, confidence: float) -> tuple[float, float, float]:
    """``(low, high, se)`` of the Agresti-Min interval."""
    z = normal_quantile(0.5 + confidence / 2)
    total = n + 2
    p_win = (wins + 0.5) / total
    p_loss = (losses + 0.5) / total
    diff = p_win - p_loss
    se = math.sqrt(max(0.0, p_win + p_loss - diff * diff) / total)
    return max(-1.0, diff - z * se), min(1.0, diff + z * se), se


#: A continuous paired verdict needs at least this many items whose score changed.
MIN_CHANGED_ITEMS = 30
#: Differences are rounded to this many decimals before counting wins, ties and losses, so float
#: noise (0.1 + 0.2 - 0.3) is a tie, not a loss.
GRID_DECIMALS = 12


def minimum_detectable_effect(
    sd_diff: float, n: int, *, alpha: float = 0.05, power: float = 0.8, df: int | None = None
) -> float:
    """Smallest true mean difference a paired two-sided test detects with ``power`` at ``alpha``:
    ``(q_{1-alpha/2} + q_{power}) * sd_diff / sqrt(n)`` with normal quantiles, or Student t quantiles
    on ``df`` degrees of freedom when given (``G - 1`` for clustered items, ``n - 1`` otherwise)."""
    if n < 1 or math.isnan(sd_diff):
        return NAN
    if df is None:
        return (normal_quantile(1 - alpha / 2) + normal_quantile(power)) * sd_diff / math.sqrt(n)
    if df < 1:
        return NAN
    from scipy.special import stdtrit

    return float((stdtrit(df, 1 - alpha / 2) + stdtrit(df, power)) * sd_diff / math.sqrt(n))


def agresti_min_test(wins: int, losses: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """The Agresti-Min interval and the p-value inverted from it (the adjusted Wald z test)."""
    low, high, se = _agresti_min(wins, losses, n, confidence)
    diff = (wins - losses) / (n + 2)
    p = 2 * normal_cdf(-abs(diff) / se) if se > 0 else 1.0
    return low, high, p


def paired_comparison(
    baseline: ItemValues,
    candidate: ItemValues,
    *,
    kind: Kind = "auto",
    clusters: Mapping[str, str | None] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
    tie_tolerance: float = 0.0,
    min_effect: float = 0.05,
) -> PairedComparison:
    """Compare ``candidate`` with ``baseline`` on the items both scored (difference = candidate - baseline).

    Values are item key -> value or per-epoch values, as for ``estimate``. ``min_effect`` is the smallest
    difference worth detecting, on the score's own scale; when the minimum detectable effect at 80%
    power exceeds it, ``underpowered`` is true and ``note`` says so in words.
    """
    from loopstack.evals.stats._intervals import (
        bounded_identical_interval,
        paired_t_interval,
        t_inverted,
    )

    base, _ = reduce_epochs(baseline)
    cand, _ = reduce_epochs(candidate)
    keys = [k for k in base if k in cand]
    n = len(keys)
    binary = kind == "binary" or (kind == "auto" and is_binary(baseline) and is_binary(candidate))
    b = np.array([base[k] for k in keys], dtype=float)
    c = np.array([cand[k] for k in keys], dtype=float)
    d = np.round(c - b, GRID_DECIMALS)
    wins = int((d > tie_tolerance).sum())
    losses = int((d < -tie_tolerance).sum())
    ties = n - wins - losses
    dropped = (len(base) - n) + (len(cand) - n)
    if n == 0:
        return PairedComparison(
            NAN, NAN, NAN, 0, "none", "none", NAN, 0, 0, 0, NAN, NAN, NAN, True,
            "no items were scored in both runs", confidence, None, binary, "no paired items",
        )  # fmt: skip
    mean_diff = float(np.round(math.fsum(d) / n, GRID_DECIMALS))
    whole = bool(np.isin(b, (0.0, 1.0)).all() and np.isin(c, (0.0, 1.0)).all())
    binary = binary and whole
    bounded = bool(((b >= 0) & (b <= 1) & (c >= 0) & (c <= 1)).all())
    labels = item_clusters(keys, clusters)
    n_clusters: int | None = None
    alpha = 1 - confidence
    sd = float(d.std(ddof=1)) if n > 1 else NAN
    identical = n > 1 and bool((d == d[0]).all())
    changed = int((d != 0).sum())
    notes: list[str] = []
    withheld: str | None = None
    df: int | None = n - 1

    def identical_interval(count: int) -> tuple[float, float, float]:
        if not bounded:
            return NAN, NAN, NAN
        lo, hi = bounded_identical_interval(mean_diff, count, -1.0, 1.0, confidence)
        return lo, hi, 1.0 if lo <= 0 <= hi else 0.0

    if labels is not None:
        n_clusters = len(set(labels))
        df = n_clusters - 1
        se = clustered_se(list(d), labels)
        method, test = "clustered", "clustered-t"
        if identical:
            low, high, p_value = identical_interval(n_clusters)
        else:
            low, high, p_value = t_inverted(mean_diff, se, n_clusters - 1, confidence)
        sd_for_power = se * math.sqrt(n) if not math.isnan(se) else NAN
        if n_clusters < 2:
            notes.append("only one cluster: no interval is possible across clusters")
            withheld = "only one cluster"
        elif not binary and changed < MIN_CHANGED_ITEMS and not identical:
            withheld = _too_few_changed(changed)
    elif binary:
        low, high, p_value = agresti_min_test(wins, losses, n, confidence)
        method, test = "agresti-min", "agresti-min"
        df = None
        sd_for_power = NAN  # the MDE is the exact power of this interval (binary_mde), not a formula
    else:
        method, test = "paired-t", "paired-t"
        sd_for_power = sd
        if n < 2:
            low, high, p_value = NAN, NAN, NAN
        elif identical:
            low, high, p_value = identical_interval(n)
            method = test = "bounded"
            if changed and changed < MIN_CHANGED_ITEMS:
                withheld = _too_few_changed(changed)
        elif n < MIN_CONTINUOUS_ITEMS:
            low, high, p_value = NAN, NAN, NAN
            method, withheld = "none", TOO_FEW
        else:
            low, high, p_value = paired_t_interval(list(d), confidence)
            if changed < MIN_CHANGED_ITEMS:
                withheld = _too_few_changed(changed)

    if method == "paired-t":  # the power of the union test itself, on differences like these
        from loopstack.evals.stats._power import resampled_mde

        mde = resampled_mde(d, alpha=alpha, seed=seed)
    elif method == "agresti-min":  # the exact power of the interval, if the runs stay as alike
        from loopstack.evals.stats._power import binary_mde_from_pairs

        both = int(((b == 1) & (c == 1)).sum())
        mde = binary_mde_from_pairs(both, losses, wins, n - both - losses - wins, alpha=alpha)
    else:
        mde = minimum_detectable_effect(sd_for_power, n, alpha=alpha, df=df)
    underpowered = n < 2 or math.isnan(mde) or mde > min_effect
    if n < 2:
        notes.append(f"only {n} paired item; no interval is possible")
        withheld = withheld or "too few items"
    elif identical and mean_diff == 0:
        notes.append(f"{IDENTICAL}: the two runs scored every item identically")
        underpowered = True
    elif identical:
        notes.append(f"{IDENTICAL}: every item changed by exactly {mean_diff:+.3g}")
    elif withheld == TOO_FEW:
        notes.append(TOO_FEW)
    elif underpowered and not math.isnan(mde):
        notes.append(
            f"N={n} can only reliably detect differences of {mde:.3g} or more "
            f"(80% power, alpha {alpha:.2g}); smaller ones, such as {min_effect:g}, may go unnoticed"
        )
    if withheld and withheld not in (TOO_FEW, "too few items", "only one cluster"):
        notes.append(f"cannot back a verdict: {withheld}")
    if dropped:
        notes.append(f"{dropped} item(s) scored in only one run were left out")
    if identical and math.isnan(low):
        withheld = withheld or f"{IDENTICAL} on an unbounded score"
    return PairedComparison(
        mean_diff=mean_diff,
        ci_low=low,
        ci_high=high,
        n=n,
        method=method,
        test=test,
        p_value=p_value,
        wins=wins,
        ties=ties,
        losses=losses,
        baseline_mean=float(b.mean()),
        candidate_mean=float(c.mean()),
        mde=mde,
        underpowered=underpowered,
        note="; ".join(dict.fromkeys(notes)) or None,
        confidence=confidence,
        n_clusters=n_clusters,
        binary=binary,
        withheld=withheld,
    )


def _too_few_changed(changed: int) -> str:
    return (
        f"only {changed} item(s) changed, so the interval is approximate (it can cover less than it says); "
        f"a continuous verdict needs {MIN_CHANGED_ITEMS}, and no test of a mean can promise its error rate "
        "on fewer (Bahadur & Savage, 1956)"
    )


def _wilcoxon(d: np.ndarray[Any, Any]) -> tuple[str, float]:
    nonzero = d[d != 0]
    if len(nonzero) == 0:
        return "wilcoxon", 1.0
    from scipy.stats import wilcoxon

    return "wilcoxon", float(wilcoxon(d, zero_method="wilcox").pvalue)


def paired_values(baseline: ItemValues, candidate: ItemValues) -> tuple[list[str], list[float], list[float]]:
    """The items both runs scored, with their epoch-averaged values (for reports and plots)."""
    base, _ = reduce_epochs(baseline)
    cand, _ = reduce_epochs(candidate)
    keys = [k for k in base if k in cand]
    return keys, [base[k] for k in keys], [cand[k] for k in keys]
