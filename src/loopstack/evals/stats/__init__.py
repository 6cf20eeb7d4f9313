"""Honest numbers for evals: per-scorer means with CIs and paired comparisons between runs.

``estimate(values)`` -> ``Estimate`` (mean, ci_low, ci_high, n, method ...);
``paired_comparison(baseline, candidate)`` -> ``PairedComparison`` (mean_diff + CI, the p-value
inverted from it, win/tie/loss, minimum detectable effect); ``verdict(comparison, higher_is_better)``
-> better/worse for the user. ``values`` map item key -> score or per-epoch scores. The methods and
their simulated calibration: docs/statistics.md.

Kept light on import: each name loads its module on first use, so a run that only estimates pass/fail
means (the Wilson interval) never loads numpy or scipy.
"""

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names

if TYPE_CHECKING:
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

_LAZY = {
    "MIN_CONTINUOUS_ITEMS": "loopstack.evals.stats._estimate",
    "ItemValues": "loopstack.evals.stats._estimate",
    "bootstrap_interval": "loopstack.evals.stats._estimate",
    "clustered_se": "loopstack.evals.stats._estimate",
    "estimate": "loopstack.evals.stats._estimate",
    "is_binary": "loopstack.evals.stats._estimate",
    "reduce_epochs": "loopstack.evals.stats._estimate",
    "t_interval": "loopstack.evals.stats._estimate",
    "wilson_interval": "loopstack.evals.stats._estimate",
    "bonferroni": "loopstack.evals.stats._intervals",
    "holm": "loopstack.evals.stats._intervals",
    "paired_t_interval": "loopstack.evals.stats._intervals",
    "skew_t_interval": "loopstack.evals.stats._intervals",
    "t_test_interval": "loopstack.evals.stats._intervals",
    "MIN_CHANGED_ITEMS": "loopstack.evals.stats._paired",
    "agresti_min_test": "loopstack.evals.stats._paired",
    "mcnemar_exact": "loopstack.evals.stats._paired",
    "minimum_detectable_effect": "loopstack.evals.stats._paired",
    "paired_comparison": "loopstack.evals.stats._paired",
    "paired_proportion_interval": "loopstack.evals.stats._paired",
    "paired_values": "loopstack.evals.stats._paired",
    "Estimate": "loopstack.evals.stats._results",
    "PairedComparison": "loopstack.evals.stats._results",
    "Verdict": "loopstack.evals.stats._verdict",
    "verdict": "loopstack.evals.stats._verdict",
}


__getattr__ = lazy_names(__name__, _LAZY)

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
