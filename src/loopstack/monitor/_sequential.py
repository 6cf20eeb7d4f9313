"""Always-valid tests for a rollout: the mixture SPRT on a difference of means, and a sequential SRM check.

**Difference of two means (proportions included).** Each user contributes one value per metric (their
acceptance rate, error rate, …; one thumbs per user makes it a proportion). With per-arm user counts
``n_a, n_b``, means ``m_a, m_b`` and per-user variances ``s²_a, s²_b``, the estimate ``Δ = m_b − m_a`` is
asymptotically normal with variance ``V = s²_a/n_a + s²_b/n_b``. The normal-mixture SPRT of
Johari, Koomen, Pekelis & Walsh ("Always valid inference", Oper. Res. 2022) puts a N(0, τ²) mixture on
the true difference and tracks the likelihood ratio against Δ = 0::

    Λ = sqrt(V / (V + τ²)) · exp( τ² Δ² / (2 V (V + τ²)) )

``Λ`` is a test martingale under H0, so ``P(Λ ever ≥ 1/α) ≤ α`` (Ville's inequality): the always-valid
p-value is the running minimum of ``1/Λ`` and may be watched after every user. Inverting the test gives
the always-valid (1 − α) confidence sequence::

    Δ ± sqrt( V (V + τ²) / τ² · (2 log(1/α) + log((V + τ²) / V)) )

which covers the true difference at every time simultaneously with probability ≥ 1 − α. ``V`` is the
plug-in estimate (as in Optimizely's implementation); the test suite checks by seeded simulation that
coverage and the false-positive rate with continuous peeking stay within α. ``τ`` is set in units of
the pooled per-user standard deviation (``tau_sd``), so one default serves rates, costs and latencies.

**Sample-ratio mismatch.** Within one ramp step the users seen in the two arms should split as the
bucket ranges say (share ``q`` for the candidate). A Beta-binomial mixture (prior Beta(c·q, c·(1−q)) on the
candidate share) against the point ``q`` is again a test martingale, so the check is always valid too.

Every function takes floats or numpy arrays (broadcasting), so the vectorised simulation in
``bench/rollout_sim.py`` and the server's worker call the very same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln

Array = NDArray[np.float64]

#: Smallest per-user variance used (an arm where everyone agrees so far must not make V zero).
MIN_VAR = 1e-6


@dataclass(frozen=True)
class MixtureTest:
    """The mSPRT of one metric at one moment (arrays when the inputs were arrays)."""

    delta: Any
    """candidate − control"""
    lower: Any
    upper: Any
    """the always-valid confidence sequence for ``delta`` at this moment"""
    p_value: Any
    """``min(1, 1/Λ)`` now (the always-valid p-value is its running minimum; the caller keeps it)"""
    log_lr: Any


def mixture_test(
    n_a: ArrayLike,
    mean_a: ArrayLike,
    var_a: ArrayLike,
    n_b: ArrayLike,
    mean_b: ArrayLike,
    var_b: ArrayLike,
    *,
    alpha: float,
    tau_sd: float,
) -> MixtureTest:
    """The normal-mixture SPRT for ``mean_b − mean_a`` (see the module docstring for the formulas)."""
    na = np.maximum(np.asarray(n_a, dtype=float), 1.0)
    nb = np.maximum(np.asarray(n_b, dtype=float), 1.0)
    va = np.maximum(np.asarray(var_a, dtype=float), MIN_VAR)
    vb = np.maximum(np.asarray(var_b, dtype=float), MIN_VAR)
    delta = np.asarray(mean_b, dtype=float) - np.asarray(mean_a, dtype=float)
    v = va / na + vb / nb
    pooled = (va * na + vb * nb) / (na + nb)
    tau2 = tau_sd * tau_sd * pooled
    log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 * delta * delta / (2.0 * v * (v + tau2))
    half = np.sqrt(v * (v + tau2) / tau2 * (2.0 * np.log(1.0 / alpha) + np.log((v + tau2) / v)))
    p = np.minimum(1.0, np.exp(-log_lr))
    return MixtureTest(delta, delta - half, delta + half, p, log_lr)


def srm_log_lr(
    n_candidate: ArrayLike, n_total: ArrayLike, share: ArrayLike, concentration: float = 100.0
) -> Any:
    """log of the Beta-binomial mixture likelihood ratio against the expected candidate ``share``."""
    x = np.asarray(n_candidate, dtype=float)
    n = np.asarray(n_total, dtype=float)
    q = np.clip(np.asarray(share, dtype=float), 1e-9, 1 - 1e-9)
    a, b = concentration * q, concentration * (1 - q)
    return betaln(a + x, b + n - x) - betaln(a, b) - x * np.log(q) - (n - x) * np.log1p(-q)


def moments(values: ArrayLike) -> tuple[int, float, float]:
    """(n, mean, sample variance) of per-user values (variance 0 below two users)."""
    arr = np.asarray(values, dtype=float)
    n = int(arr.size)
    if n == 0:
        return 0, float("nan"), 0.0
    return n, float(arr.mean()), float(arr.var(ddof=1)) if n > 1 else 0.0


def mean_sequence(
    n: ArrayLike, mean: ArrayLike, var: ArrayLike, *, alpha: float, tau_sd: float
) -> tuple[Any, Any]:
    """The always-valid (1 − α) confidence sequence for one arm's mean: the same normal mixture with
    ``V = s²/n`` (what the rollout page draws around each arm)."""
    nn = np.maximum(np.asarray(n, dtype=float), 1.0)
    s2 = np.maximum(np.asarray(var, dtype=float), MIN_VAR)
    v = s2 / nn
    tau2 = tau_sd * tau_sd * s2
    half = np.sqrt(v * (v + tau2) / tau2 * (2.0 * np.log(1.0 / alpha) + np.log((v + tau2) / v)))
    m = np.asarray(mean, dtype=float)
    return m - half, m + half
