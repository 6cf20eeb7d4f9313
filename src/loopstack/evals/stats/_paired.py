"""Two runs on the same items: the paired difference, its CI, a paired test, and whether N suffices.

Pairing removes the item-difficulty variance both runs share, so a paired comparison detects
differences an unpaired one cannot. Pass/fail data uses the Bonett-Price interval for paired
proportions and the exact McNemar test on discordant pairs; continuous data a seeded paired
bootstrap and the Wilcoxon signed-rank test; clustered items a cluster-robust t interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from loopstack.evals.stats._estimate import (
    NAN,
    ItemValues,
    Kind,
    bootstrap_interval,
    clustered_se,
    is_binary,
    item_clusters,
    reduce_epochs,
    t_interval,
)
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
    """Bonett-Price (2012) adjusted Wald CI for candidate rate minus baseline rate on paired pass/fail data.

    ``wins``: pairs the candidate passed and the baseline failed; ``losses``: the reverse. Adding one
    pseudo-pair to each discordant cell keeps the interval honest when few or no pairs disagree (a
    plain Wald interval, and Newcombe's when no pair disagrees, collapse to [0, 0]); its coverage is
    close to nominal even for small N (Fagerland, Lydersen & Laake 2014 recommend it).
    """
    if n <= 0:
        return NAN, NAN
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p_win = (wins + 1) / (n + 2)
    p_loss = (losses + 1) / (n + 2)
    diff = p_win - p_loss
    half = z * math.sqrt(max(0.0, p_win + p_loss - diff * diff) / (n + 2))
    return max(-1.0, diff - half), min(1.0, diff + half)


def minimum_detectable_effect(sd_diff: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a paired two-sided test detects with ``power`` at ``alpha``:
    ``(z_{1-alpha/2} + z_{power}) * sd_diff / sqrt(n)``."""
    if n < 1 or math.isnan(sd_diff):
        return NAN
    from scipy.stats import norm

    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * sd_diff / math.sqrt(n))


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
    base, _ = reduce_epochs(baseline)
    cand, _ = reduce_epochs(candidate)
    keys = [k for k in base if k in cand]
    n = len(keys)
    binary = kind == "binary" or (kind == "auto" and is_binary(baseline) and is_binary(candidate))
    b = np.array([base[k] for k in keys], dtype=float)
    c = np.array([cand[k] for k in keys], dtype=float)
    d = c - b
    wins = int((d > tie_tolerance).sum())
    losses = int((d < -tie_tolerance).sum())
    ties = n - wins - losses
    dropped = (len(base) - n) + (len(cand) - n)
    if n == 0:
        return PairedComparison(
            NAN, NAN, NAN, 0, "none", "none", NAN, 0, 0, 0, NAN, NAN, NAN, True,
            "no items were scored in both runs", confidence, None, binary,
        )  # fmt: skip
    mean_diff = float(d.mean())
    whole = bool(np.isin(b, (0.0, 1.0)).all() and np.isin(c, (0.0, 1.0)).all())
    binary = binary and whole
    labels = item_clusters(keys, clusters)
    n_clusters: int | None = None
    alpha = 1 - confidence
    sd = float(d.std(ddof=1)) if n > 1 else NAN

    if labels is not None:
        n_clusters = len(set(labels))
        se = clustered_se(list(d), labels)
        low, high = t_interval(mean_diff, se, n_clusters - 1, confidence)
        method = "clustered"
        sd_for_power = se * math.sqrt(n) if not math.isnan(se) else NAN
    elif binary:
        low, high = paired_proportion_interval(wins, losses, n, confidence)
        method = "bonett-price"
        # Under no true difference var(d) = discordance rate; with none observed, assume one
        # discordant pair rather than claim the runs could never differ.
        sd_for_power = math.sqrt(max(wins + losses, 1) / n)
    else:
        low, high = bootstrap_interval(list(d), confidence=confidence, seed=seed, n_resamples=n_resamples)
        method = "bootstrap"
        sd_for_power = sd

    if binary:
        test, p_value = "mcnemar-exact", mcnemar_exact(wins, losses)
    else:
        test, p_value = _wilcoxon(d)

    mde = minimum_detectable_effect(sd_for_power, n, alpha=alpha)
    notes: list[str] = []
    underpowered = n < 2 or math.isnan(mde) or mde > min_effect
    if n < 2:
        notes.append(f"only {n} paired item; no interval is possible")
    elif (math.isnan(mde) or sd_for_power == 0) and not d.any():
        notes.append("the two runs scored every item identically; the data cannot bound a difference")
        underpowered = True
    elif math.isnan(mde) or sd_for_power == 0:
        notes.append(f"every item changed by exactly {mean_diff:+.3g}")
        underpowered = False
    elif underpowered:
        notes.append(
            f"N={n} can only reliably detect differences of {mde:.3g} or more "
            f"(80% power, alpha {alpha:.2g}); smaller ones, such as {min_effect:g}, may go unnoticed"
        )
    if dropped:
        notes.append(f"{dropped} item(s) scored in only one run were left out")
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
        note="; ".join(notes) or None,
        confidence=confidence,
        n_clusters=n_clusters,
        binary=binary,
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
