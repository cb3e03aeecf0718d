"""Standard errors of functions of the estimates: delta method and parametric simulation.

A derived quantity :math:`g(\\hat\\beta)` (a share, an elasticity, a welfare change, a ratio of
coefficients) inherits the sampling uncertainty of :math:`\\hat\\beta`. Two estimators of its
covariance are provided, both usable with any covariance of the estimates (classical, robust,
cluster, bootstrap):

* **delta method**: :math:`\\widehat{\\mathrm{Var}}\\,g(\\hat\\beta) = G V G'` with
  :math:`G = \\partial g / \\partial \\beta'` at :math:`\\hat\\beta`, by central finite
  differences unless an analytic Jacobian is supplied;
* **parametric simulation** (Krinsky & Robb 1986): draws
  :math:`\\beta^{(r)} \\sim N(\\hat\\beta, V)`, the standard deviation of
  :math:`g(\\beta^{(r)})` across draws, and percentile intervals.

Fixed parameters have zero variance and are never perturbed or drawn.

References
----------
Krinsky, I. & Robb, A. L. (1986). On approximating the statistical properties of elasticities.
*Review of Economics and Statistics* 68(4), 715-719.
Greene, W. H. (2012). *Econometric Analysis*, 7th ed., section 4.6 (the delta method).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from choicekit._random import as_generator
from choicekit._validation import check_option
from choicekit.exceptions import SpecificationError

__all__ = ["DeltaResult", "numerical_jacobian", "delta_method", "simulate_quantity",
           "SE_METHODS"]


def z_two_sided(alpha: float) -> float:
    """The standard normal quantile :math:`z_{1-\\alpha/2}`, from the lower tail (accurate
    for small ``alpha``); the standard library's, so that a first interval does not import
    scipy.stats (1.2-3.7 s)."""
    from statistics import NormalDist

    return -NormalDist().inv_cdf(alpha / 2)

SE_METHODS = ("delta", "simulation", "none")

Func = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DeltaResult:
    """A derived quantity with its covariance.

    Attributes
    ----------
    estimate : ndarray, shape (m,)
        :math:`g(\\hat\\beta)`.
    cov : ndarray, shape (m, m)
        Covariance of the estimate (NaN when not computed).
    method : str
        ``"delta"``, ``"simulation"`` or ``"none"``.
    draws : ndarray, shape (R, m), optional
        Simulated values (simulation only), for percentile intervals.
    """

    estimate: np.ndarray
    cov: np.ndarray
    method: str
    draws: np.ndarray | None = None

    @property
    def se(self) -> np.ndarray:
        """Standard errors, ``sqrt(diag(cov))``."""
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def conf_int(self, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Normal intervals (delta) or percentile intervals (simulation)."""
        if not 0 < alpha < 1:
            raise SpecificationError(f"`alpha` must lie in (0, 1). Got {alpha!r}.")
        if self.draws is not None:
            lo, hi = np.nanquantile(self.draws, [alpha / 2, 1 - alpha / 2], axis=0)
            return lo, hi
        z = z_two_sided(alpha)
        return self.estimate - z * self.se, self.estimate + z * self.se


def _steps(beta: np.ndarray, cov: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Central-difference steps: 1e-5 of the larger of |beta| and its standard error."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    scale = np.maximum(np.abs(beta), np.where(np.isfinite(sd), sd, 0.0))
    scale = np.where(scale > 0, scale, 1.0)
    return np.where(free, 1e-5 * scale, 0.0)


def numerical_jacobian(func: Func, beta: np.ndarray, free: np.ndarray,
                       steps: np.ndarray) -> np.ndarray:
    """Jacobian of ``func`` at ``beta`` by central differences over the free parameters.

    Parameters
    ----------
    func : callable
        ``func(beta) -> ndarray (m,)``; ``beta`` is the full parameter vector.
    beta : ndarray, shape (K,)
    free : ndarray of bool, shape (K,)
        Parameters to differentiate; the columns of fixed ones are zero.
    steps : ndarray, shape (K,)
        Step per parameter.

    Returns
    -------
    ndarray, shape (m, K)

    Notes
    -----
    The central difference :math:`(g(\\beta + h e_k) - g(\\beta - h e_k)) / 2h` has truncation
    error :math:`O(h^2)`; with :math:`h` of relative size :math:`10^{-5}` that is about
    :math:`10^{-10}` relative, far below any standard error.
    """
    g0 = np.atleast_1d(np.asarray(func(beta), dtype=np.float64)).ravel()
    J = np.zeros((g0.size, beta.size))
    for k in np.flatnonzero(free):
        e = np.zeros_like(beta)
        e[k] = steps[k]
        gp = np.asarray(func(beta + e), dtype=np.float64).ravel()
        gm = np.asarray(func(beta - e), dtype=np.float64).ravel()
        J[:, k] = (gp - gm) / (2.0 * steps[k])
    return J


def delta_method(func: Func, beta: np.ndarray, cov: np.ndarray, free: np.ndarray, *,
                 jacobian: Callable[[np.ndarray], np.ndarray] | None = None) -> DeltaResult:
    """Delta-method covariance of ``func(beta)``.

    Parameters
    ----------
    func : callable
        ``func(beta) -> ndarray (m,)`` on the full parameter vector.
    beta : ndarray, shape (K,)
        Estimates (fixed parameters included).
    cov : ndarray, shape (K, K)
        Covariance of the estimates (zero rows/columns for fixed parameters).
    free : ndarray of bool, shape (K,)
    jacobian : callable, optional
        Analytic ``jacobian(beta) -> (m, K)``; default: central differences.

    Returns
    -------
    DeltaResult

    Notes
    -----
    :math:`\\mathrm{Var}\\, g(\\hat\\beta) \\approx G V G'`, :math:`G = \\partial g/\\partial
    \\beta'` (Greene 2012, Theorem 4.5). Parameters with NaN variance (unidentified) make the
    affected entries NaN.
    """
    est = np.atleast_1d(np.asarray(func(beta), dtype=np.float64)).ravel()
    G = (jacobian(beta) if jacobian is not None
         else numerical_jacobian(func, beta, free, _steps(beta, cov, free)))
    G = np.asarray(G, dtype=np.float64).reshape(est.size, beta.size)
    C = np.where(np.isnan(cov), 0.0, cov)
    out = G @ C @ G.T
    bad_params = np.isnan(cov).any(axis=1) & free
    if bad_params.any():
        touched = (np.abs(G[:, bad_params]) > 0).any(axis=1)
        out[touched, :] = np.nan
        out[:, touched] = np.nan
    return DeltaResult(est, 0.5 * (out + out.T), "delta")


def simulate_quantity(func: Func, beta: np.ndarray, cov: np.ndarray, free: np.ndarray, *,
                      n_draws: int = 1000, rng: Any = None) -> DeltaResult:
    """Parametric-simulation (Krinsky-Robb) covariance of ``func(beta)``.

    Parameters
    ----------
    func, beta, cov, free
        As in :func:`delta_method`.
    n_draws : int, default 1000
        Number of draws :math:`R` from :math:`N(\\hat\\beta, V)`.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    DeltaResult
        ``estimate`` is ``func(beta)`` (not the mean of the draws); ``cov`` the covariance of
        the draws; ``draws`` the simulated values for percentile intervals.
    """

    if not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise SpecificationError(f"`n_draws` must be an integer >= 2. Got {n_draws!r}.")
    gen = as_generator(rng)
    est = np.atleast_1d(np.asarray(func(beta), dtype=np.float64)).ravel()
    idx = np.flatnonzero(free)
    C = cov[np.ix_(idx, idx)]
    if np.isnan(C).any():
        raise SpecificationError("The covariance of the estimates has NaN entries "
                                 "(unidentified parameters); simulation is not possible.")
    draws_free = gen.multivariate_normal(beta[idx], C, size=int(n_draws), method="eigh")
    out = np.empty((int(n_draws), est.size))
    b = beta.copy()
    for r in range(int(n_draws)):
        b[idx] = draws_free[r]
        out[r] = np.asarray(func(b), dtype=np.float64).ravel()
    cov_sim = np.atleast_2d(np.cov(out, rowvar=False))
    return DeltaResult(est, cov_sim, "simulation", out)


def standard_errors(func: Func, beta: np.ndarray, cov: np.ndarray, free: np.ndarray, *,
                    method: str = "delta", n_draws: int = 1000, rng: Any = None) -> DeltaResult:
    """Dispatch on ``method`` in :data:`SE_METHODS`."""

    check_option("se", method, SE_METHODS, SpecificationError)
    if method == "delta":
        return delta_method(func, beta, cov, free)
    if method == "simulation":
        return simulate_quantity(func, beta, cov, free, n_draws=n_draws, rng=rng)
    est = np.atleast_1d(np.asarray(func(beta), dtype=np.float64)).ravel()
    return DeltaResult(est, np.full((est.size, est.size), np.nan), "none")
