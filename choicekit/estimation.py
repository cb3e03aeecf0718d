"""Maximum-likelihood estimation: the objective over a design, and the optimizer driver.

The objective is :math:`f(\\theta) = -\\ell(\\theta) / N` over the free parameters
:math:`\\theta` (fixed parameters are folded into the utility offset), with analytic gradient
and Hessian. Its value, gradient and Hessian come from one pass of the kernels over the design
(in chunks of cases, so memory stays bounded) and are cached per parameter vector, since
SciPy's trust-region methods ask for them in separate calls.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize

from .design import Design
from .exceptions import ConvergenceWarning, EstimationError
from .kernels import loglike_derivatives, score_obs

__all__ = ["Objective", "Optimum", "maximize_loglike", "METHODS", "chunk_slices"]

Method = Literal["newton", "bfgs", "lbfgsb", "trust-constr"]
METHODS = ("newton", "bfgs", "lbfgsb", "trust-constr")

#: elements of the (cases x alternatives x parameters) design processed per chunk: large enough
#: for BLAS efficiency, small enough that the chunk temporaries (a few copies) stay ~100 MB.
DEFAULT_CHUNK_ELEMENTS = 1 << 22


def chunk_slices(n: int, per_case: int, chunk_size: int | None = None) -> list[slice]:
    """Slices of cases such that each chunk holds about ``DEFAULT_CHUNK_ELEMENTS`` values."""
    if chunk_size is None:
        chunk_size = max(1024, DEFAULT_CHUNK_ELEMENTS // max(per_case, 1))
    return [slice(s, min(n, s + chunk_size)) for s in range(0, n, chunk_size)]


class Objective:
    """Log-likelihood of a design as a function of the free parameters.

    Parameters
    ----------
    design : Design
    fixed_values : ndarray
        Full parameter vector whose fixed entries are used (free entries ignored).
    chunk_size : int, optional
        Cases per kernel call; by default sized to keep temporaries small.
    """

    def __init__(self, design: Design, fixed_values: np.ndarray,
                 chunk_size: int | None = None) -> None:
        self.design = design
        self.free = ~design.fixed
        X = design.X
        offset = design.offset
        if design.fixed.any():
            fixed_part = X[:, :, design.fixed] @ fixed_values[design.fixed]
            offset = fixed_part if offset is None else offset + fixed_part
            X = np.ascontiguousarray(X[:, :, self.free])
        self.X = X
        self.offset = offset
        self.n_free = int(self.free.sum())
        self.fixed_values = np.array(fixed_values, dtype=np.float64)
        self.scale = float(design.n_cases)
        self.slices = chunk_slices(design.n_cases, X.shape[1] * max(X.shape[2], 1), chunk_size)
        self._key: bytes | None = None
        self._order = -1
        self._val: tuple[float, np.ndarray | None, np.ndarray | None] = (np.nan, None, None)
        self.n_evaluations = 0
        #: derivatives computed with every value: the trust-region methods ask for value,
        #: gradient and Hessian at the same point in turn, so one fused pass serves all three
        self.eager_order = 2

    def full_params(self, theta: np.ndarray) -> np.ndarray:
        """The full parameter vector with ``theta`` in the free positions."""
        beta = self.fixed_values.copy()
        beta[self.free] = theta
        return beta

    def evaluate(self, theta: np.ndarray, order: int = 2) -> tuple[float, np.ndarray | None,
                                                                    np.ndarray | None]:
        """Log-likelihood, score and Hessian (sums over all cases) at ``theta``."""
        theta = np.asarray(theta, dtype=np.float64)
        key = theta.tobytes()
        if key == self._key and self._order >= order:
            return self._val
        d = self.design
        ll, g, H = 0.0, np.zeros(self.n_free), np.zeros((self.n_free, self.n_free))
        for sl in self.slices:
            part = loglike_derivatives(
                self.X[sl], theta, d.avail[sl], d.chosen[sl],
                None if self.offset is None else self.offset[sl],
                None if d.weight is None else d.weight[sl], order=order)
            ll += part.loglike
            if order >= 1:
                g += part.score
            if order >= 2:
                H += part.hessian
        self.n_evaluations += 1
        self._key, self._order = key, order
        self._val = (ll, g if order >= 1 else None, H if order >= 2 else None)
        return self._val

    def score_obs(self, theta: np.ndarray) -> np.ndarray:
        """Per-case (unweighted) scores at ``theta``, shape ``(n_cases, n_free)``."""
        d = self.design
        out = np.empty((d.n_cases, self.n_free))
        for sl in self.slices:
            out[sl] = score_obs(self.X[sl], theta, d.avail[sl], d.chosen[sl],
                                None if self.offset is None else self.offset[sl])
        return out

    # scipy callbacks on the scaled objective f = -ll / N ---------------------------------
    def fun(self, theta: np.ndarray) -> float:
        ll, _, _ = self.evaluate(theta, order=self.eager_order)
        return -ll / self.scale

    def jac(self, theta: np.ndarray) -> np.ndarray:
        _, g, _ = self.evaluate(theta, order=1)
        return -g / self.scale

    def hess(self, theta: np.ndarray) -> np.ndarray:
        _, _, H = self.evaluate(theta, order=2)
        return -H / self.scale


@dataclass(frozen=True)
class Optimum:
    """What the optimizer found."""

    theta: np.ndarray
    loglike: float
    score: np.ndarray
    hessian: np.ndarray
    converged: bool
    message: str
    iterations: int
    method: str
    gradient_norm: float


def maximize_loglike(objective: Objective, start: np.ndarray, *, method: str = "newton",
                     maxiter: int = 200, gtol: float = 1e-8) -> Optimum:
    """Maximize the log-likelihood over the free parameters.

    Parameters
    ----------
    objective : Objective
    start : ndarray
        Starting values of the free parameters.
    method : {"newton", "bfgs", "lbfgsb", "trust-constr"}
        ``newton``: SciPy's ``trust-exact`` (Newton steps in a trust region with the exact
        Hessian), the default; ``bfgs``: quasi-Newton with analytic gradient; ``lbfgsb``:
        limited-memory BFGS with bounds; ``trust-constr``: trust region with exact Hessian and
        bounds.
    maxiter : int
        Maximum iterations.
    gtol : float
        Tolerance on the gradient of the objective ``-ll/N`` (max-norm for BFGS/L-BFGS-B,
        2-norm for the trust-region methods).
    """
    d = objective.design
    free = objective.free
    ll0, _, _ = objective.evaluate(start, order=1)
    if not np.isfinite(ll0):
        raise EstimationError(
            "The log-likelihood is not finite at the starting values "
            f"({dict(zip(np.asarray(d.param_names)[free], np.round(start, 6)))}). Check the "
            "data scaling and the starting values."
        )
    if objective.n_free == 0:
        ll, g, H = objective.evaluate(start, order=2)
        return Optimum(start, ll, g, H, True, "no free parameters", 0, method, 0.0)
    objective.eager_order = 1 if method in ("bfgs", "lbfgsb") else 2
    bounds = None
    if method in ("lbfgsb", "trust-constr"):
        bounds = optimize.Bounds(d.lower[free], d.upper[free])
    with warnings.catch_warnings():
        # SciPy's own warnings (e.g. "delta_grad == 0.0") are replaced by our report below
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        warnings.simplefilter("ignore", UserWarning)
        if method == "newton":
            r = optimize.minimize(objective.fun, start, jac=objective.jac, hess=objective.hess,
                                  method="trust-exact",
                                  options={"gtol": gtol, "maxiter": maxiter})
        elif method == "bfgs":
            r = optimize.minimize(objective.fun, start, jac=objective.jac, method="BFGS",
                                  options={"gtol": gtol, "maxiter": maxiter})
        elif method == "lbfgsb":
            r = optimize.minimize(objective.fun, start, jac=objective.jac, method="L-BFGS-B",
                                  bounds=bounds,
                                  options={"gtol": gtol, "maxiter": maxiter, "ftol": 1e-15,
                                           "maxcor": 30})
        elif method == "trust-constr":
            r = optimize.minimize(objective.fun, start, jac=objective.jac, hess=objective.hess,
                                  method="trust-constr", bounds=bounds,
                                  options={"gtol": gtol, "xtol": 1e-14, "maxiter": maxiter})
        else:  # pragma: no cover - validated by the caller
            raise AssertionError(method)
    theta = np.asarray(r.x, dtype=np.float64)
    ll, g, H = objective.evaluate(theta, order=2)
    gnorm = float(np.abs(g / objective.scale).max()) if g.size else 0.0
    converged = bool(r.success)
    message = str(r.message)
    if not converged and gnorm < 1e-6 and np.isfinite(ll):
        # trust-region methods sometimes stop on a tiny radius at the optimum (precision loss);
        # the projected gradient says whether that point is a maximum
        converged = _stationary(theta, g, objective)
        if converged:
            message = f"{message} (accepted: scaled gradient max-norm {gnorm:.2e})"
    iterations = int(getattr(r, "nit", getattr(r, "niter", 0)) or 0)
    if not converged:
        names = np.asarray(d.param_names)[free]
        worst = names[np.argsort(-np.abs(g))[:3]] if g.size else []
        warnings.warn(
            f"Estimation did not converge ({method}, {iterations} iterations): {message}. "
            f"Scaled gradient max-norm {gnorm:.3g}, largest for {list(worst)}. Try other "
            "starting values, rescale variables, raise `maxiter`, or check identification.",
            ConvergenceWarning, stacklevel=3)
    return Optimum(theta, ll, g, H, converged, message, iterations, method, gnorm)


def _stationary(theta: np.ndarray, g: np.ndarray, objective: Objective) -> bool:
    """Gradient zero up to tolerance, except where pushed against an active bound."""
    d = objective.design
    lo, hi = d.lower[objective.free], d.upper[objective.free]
    gs = g / objective.scale
    at_lo = (theta <= lo + 1e-10) & (gs < 0)
    at_hi = (theta >= hi - 1e-10) & (gs > 0)
    return bool(np.all(np.abs(gs[~(at_lo | at_hi)]) < 1e-6))
