"""Scalar standard-normal quantile and CDF from the standard library.

``statistics.NormalDist`` uses Wichura's AS241 (relative error ~1e-16), so a pass/fail interval needs
no scipy import: a 1-item eval of a pass/fail scorer starts faster. Vectorised code keeps scipy.
"""

from __future__ import annotations

from statistics import NormalDist

_STANDARD = NormalDist()


def normal_quantile(p: float) -> float:
    """The ``p`` quantile of the standard normal distribution."""
    return _STANDARD.inv_cdf(p)


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return _STANDARD.cdf(x)
