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

    ``method`` names how the interval was computed: ``wilson`` (pass/fail), ``bootstrap`` (seeded
    percentile bootstrap over items), ``clt`` (normal approximation), ``clustered`` (cluster-robust CR1
    standard error, when items share a cluster key), or ``none`` (fewer than two items).
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes ``None``)."""
        return {k: _clean(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PairedComparison:
    """Candidate minus baseline on the items both runs scored, with a CI, a paired test and power.

    A gate fails when ``ci_high < 0``: the candidate is worse with the stated confidence.
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    """How the CI was computed: ``bonett-price`` (paired pass/fail), ``bootstrap``, ``clustered``."""
    test: str
    """The paired test: ``mcnemar-exact``, ``wilcoxon`` or ``none``."""
    p_value: float
    wins: int
    """Items where the candidate scored higher than the baseline."""
    ties: int
    losses: int
    baseline_mean: float
    candidate_mean: float
    mde: float
    """Minimum detectable effect at 80% power and alpha 0.05 for this N and the observed spread."""
    underpowered: bool
    note: str | None = None
    confidence: float = 0.95
    n_clusters: int | None = None
    binary: bool = False

    @property
    def significant(self) -> bool:
        """The CI excludes zero."""
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes ``None``), plus ``significant``."""
        out = {k: _clean(v) for k, v in asdict(self).items()}
        out["significant"] = self.significant
        return out
