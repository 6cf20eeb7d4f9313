"""Result objects of the statistics: plain dataclasses with a ``to_dict()`` for reports and JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


@dataclass(frozen=True)
class Estimate:
    """A scorer's mean over items with a confidence interval.

    ``method`` names how the interval was computed: ``wilson`` (pass/fail), ``skew-t`` (Student's t
    with Hall's skewness correction, continuous scores), ``clustered`` (cluster-robust CR1 standard
    error with t(G-1), when items share a cluster key), ``bounded`` (every item identical on the [0, 1]
    scale: the widest interval a [0, 1] score allows), or ``none`` (no interval; ``note`` says why).
    ``bootstrap`` (seeded BCa) and ``clt`` (plain t) are only used when asked for by name.
    """

    mean: float
    ci_low: float
    ci_high: float
    n: int
    """Number of items (epochs are averaged per item first)."""
    method: str
    confidence: float = 0.95
    std: float = float("nan")
    """Standard deviation of the per-item values."""
    se: float = float("nan")
    n_clusters: int | None = None
    n_missing: int = 0
    """Items with no usable value (every epoch errored or non-numeric), left out of the mean."""
    binary: bool = False
    note: str | None = None
    """Why there is no interval, or that every item scored the same."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes ``None``)."""
        return {k: _clean(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PairedComparison:
    """Candidate minus baseline on the items both runs scored, with a CI, a paired test and power.

    Whether that is better or worse for the user depends on the scorer's direction: ask
    ``loopstack.evals.stats.verdict(comparison, higher_is_better)``, the one function every report,
    the UI and the gate use.
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    """How the CI was computed: ``agresti-min`` (paired pass/fail), ``paired-t`` (union of the t and
    skew-corrected t intervals), ``clustered`` (CR1, t(G-1)), ``bounded`` (every item changed by the
    same amount) or ``none``."""
    test: str
    """The test behind ``p_value``, inverted from the same interval (they always agree)."""
    p_value: float
    wins: int
    """Items where the candidate scored higher than the baseline."""
    ties: int
    losses: int
    baseline_mean: float
    candidate_mean: float
    mde: float
    """Minimum detectable effect at 80% power and alpha 0.05 for this N and data like these: for
    continuous scores the shift at which the printed test (t union skew-corrected t) excludes 0 in 80%
    of seeded resamples of the observed differences; clustered, t quantiles on G-1 degrees of freedom;
    pass/fail, the exact power of the Agresti-Min interval if the runs stay as alike as observed (their
    tetrachoric correlation kept while the pass rate moves; ``_power.binary_mde``)."""
    underpowered: bool
    note: str | None = None
    confidence: float = 0.95
    n_clusters: int | None = None
    binary: bool = False
    withheld: str | None = None
    """Why no verdict can be backed (too few items or changed items, one cluster), else ``None``."""

    @property
    def significant(self) -> bool:
        """The CI excludes zero and a verdict can be backed."""
        return self.withheld is None and (self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes ``None``), plus ``significant``."""
        out = {k: _clean(v) for k, v in asdict(self).items()}
        out["significant"] = self.significant
        return out
