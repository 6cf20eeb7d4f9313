"""Honest numbers for evals: per-scorer means with CIs and paired comparisons between runs.

``estimate(values)`` -> ``Estimate`` (mean, ci_low, ci_high, n, method ...);
``paired_comparison(baseline, candidate)`` -> ``PairedComparison`` (mean_diff + CI, paired test,
win/tie/loss, minimum detectable effect). ``values`` map item key -> score or per-epoch scores.
"""

from loopstack.evals.stats._estimate import (
    ItemValues,
    bootstrap_interval,
    clustered_se,
    estimate,
    is_binary,
    reduce_epochs,
    t_interval,
    wilson_interval,
)
from loopstack.evals.stats._paired import (
    mcnemar_exact,
    minimum_detectable_effect,
    paired_comparison,
    paired_proportion_interval,
    paired_values,
)
from loopstack.evals.stats._results import Estimate, PairedComparison

__all__ = [
    "Estimate",
    "ItemValues",
    "PairedComparison",
    "bootstrap_interval",
    "clustered_se",
    "estimate",
    "is_binary",
    "mcnemar_exact",
    "minimum_detectable_effect",
    "paired_proportion_interval",
    "paired_comparison",
    "paired_values",
    "reduce_epochs",
    "t_interval",
    "wilson_interval",
]
