"""Honest numbers for evals: per-scorer means with CIs and paired comparisons between runs.

``estimate(values)`` -> ``Estimate`` (mean, ci_low, ci_high, n, method ...);
``paired_comparison(baseline, candidate)`` -> ``PairedComparison`` (mean_diff + CI, the p-value
inverted from it, win/tie/loss, minimum detectable effect); ``verdict(comparison, higher_is_better)``
-> better/worse for the user. ``values`` map item key -> score or per-epoch scores. The methods and
their simulated calibration: docs/statistics.md.
"""

from loopstack.evals.stats._estimate import (
    MIN_CONTINUOUS_ITEMS,
    ItemValues,
    bootstrap_interval,
    clustered_se,
    estimate,
    is_binary,
    reduce_epochs,
    t_interval,
    wilson_interval,
)
from loopstack.evals.stats._intervals import (
    bonferroni,
    holm,
    paired_t_interval,
    skew_t_interval,
    t_test_interval,
)
from loopstack.evals.stats._paired import (
    MIN_CHANGED_ITEMS,
    agresti_min_test,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_comparison,
    paired_proportion_interval,
    paired_values,
)
from loopstack.evals.stats._results import Estimate, PairedComparison
from loopstack.evals.stats._verdict import Verdict, verdict

__all__ = [
    "MIN_CHANGED_ITEMS",
    "MIN_CONTINUOUS_ITEMS",
    "Estimate",
    "Verdict",
    "agresti_min_test",
    "bonferroni",
    "holm",
    "paired_t_interval",
    "skew_t_interval",
    "t_test_interval",
    "verdict",
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
