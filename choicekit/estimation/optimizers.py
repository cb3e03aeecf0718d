"""Optimizers: Newton-Raphson for concave likelihoods, safeguarded Newton, BHHH, SciPy's methods.

The default for a concave family (the MNL) is a plain Newton-Raphson iteration with a
backtracking line search: the Newton direction is always an ascent direction and the full step
is accepted from the first iterations on; the iteration converges quadratically and each
iteration costs exactly one pass over the design. For families whose log-likelihood is not
concave (nested and cross-nested logit) the same iteration runs on a *safeguarded* Hessian: where
minus the Hessian is not positive definite, its negative eigenvalues are replaced by their
absolute values (Nocedal & Wright 2006, sec. 3.4), so every direction still ascends, and at a
maximum (where the Hessian is negative definite) the steps are exact Newton steps. ``bhhh``
uses the outer product of the per-case scores instead of the Hessian (Berndt, Hall, Hall &
Hausman 1974). SciPy's trust-region and quasi-Newton methods remain available by name; for
small models their per-iteration bookkeeping costs more than the likelihood itself.

References
----------
Berndt, E., Hall, B., Hall, R. & Hausman, J. (1974). Estimation and inference in nonlinear
structural models. *Annals of Economic and Social Measurement* 3, 653-665.
Nocedal, J. & Wright, S. J. (2006). *Numerical Optimization*, 2nd ed., Springer: ch. 3
(backtracking line search, Armijo condition, modified Newton) and ch. 4 (trust regions).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from choicekit._warnings import warn_user
from choicekit.estimation.objective import Objective
from choicekit.exceptions import ConvergenceWarning, EstimationError, SpecificationError

__all__ = ["Optimum", "maximize_loglike", "newton_raphson", "METHODS", "polish_active_set",
           "check_negative_definite", "bfgs_then_newton", "polish_fixed_hessian"]

METHODS = ("newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr", "bhhh")


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


#: relative size of the last Newton step below which the iterate counts as the maximum: a
#: Newton step is the distance to the optimum up to its square, so 1e-10 leaves the estimates
#: accurate to ~1e-10 relative, well inside the 1e-8 agreement promised between code paths
XTOL = 1e-10


def newton_raphson(evaluate: Callable[[np.ndarray, int], tuple[float, np.ndarray | None,
                                                                np.ndarray | None]],
                   start: np.ndarray, scale: float, *, maxiter: int = 200,
                   gtol: float = 1e-8, xtol: float = XTOL, concave: bool = True,
                   lower: np.ndarray | None = None,
                   upper: np.ndarray | None = None) -> Optimum:
    """Maximize a concave log-likelihood by Newton-Raphson with backtracking.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(theta, order) -> (loglike, score, hessian)`` (sums over cases).
    start : ndarray
        Starting values.
    scale : float
        Number of cases :math:`N`; tolerances apply to the scaled gradient ``score / N``.
    maxiter : int
        Maximum Newton iterations.
    gtol : float
        Tolerance on the max-norm of ``score / N``.
    xtol : float
        Tolerance on the Newton step, relative to ``1 + |theta|``, elementwise.
    concave : bool
        Whether the log-likelihood is concave. If not, negative curvature of minus the Hessian
        is replaced by its absolute value (a safeguarded, still ascending, direction).
    lower, upper : ndarray, optional
        Bounds: the iteration is then a projected Newton method (Bertsekas 1982). Parameters at
        a bound whose gradient points outwards are held there; the Newton direction is taken
        in the others and each trial point is projected onto the box.

    Returns
    -------
    Optimum
        With ``method="newton"`` and the final scaled gradient's max-norm.

    Notes
    -----
    At :math:`\\theta_k` the direction solves :math:`(-H_k) d_k = g_k` (Cholesky when
    :math:`-H_k` is positive definite; an eigen-decomposition with the null directions dropped
    when it is singular, e.g. an unidentified parameter). The step :math:`t d_k` starts at
    :math:`t = 1` and is halved until the Armijo condition
    :math:`\\ell(\\theta_k + t d_k) \\ge \\ell(\\theta_k) + 10^{-4}\\, t\\, g_k' d_k`
    holds (up to rounding of :math:`\\ell`); with bounds each trial is projected onto the
    box, and when the full step fails, the halvings go on from the largest one that stays
    inside the box (the ones in between would end on the bound again). Each trial point is
    evaluated with its score and Hessian in the same pass, so an accepted step (the rule for
    a concave likelihood) costs one pass over the data. Converged: :math:`\\max|g/N| \\le`
    ``gtol`` and the Newton step is below ``xtol`` (relative), or the gradient is below
    ``gtol`` and no step can raise the likelihood beyond rounding.
    """
    theta = np.array(start, dtype=np.float64)
    bounded = lower is not None or upper is not None
    lo = np.full(theta.shape, -np.inf) if lower is None else np.asarray(lower, np.float64)
    hi = np.full(theta.shape, np.inf) if upper is None else np.asarray(upper, np.float64)
    with np.errstate(invalid="ignore"):  # infinite bounds: no tolerance
        tol_lo = np.where(np.isfinite(lo), 1e-12 * (1 + np.abs(lo)), 0.0)
        tol_hi = np.where(np.isfinite(hi), 1e-12 * (1 + np.abs(hi)), 0.0)
    ll, g, H = evaluate(theta, 2)
    message = "maximum iterations reached"
    converged = False
    it = 0
    while True:
        gs = g / scale
        if bounded:
            held = (((theta <= lo + tol_lo) & (gs < 0)) | ((theta >= hi - tol_hi) & (gs > 0)))
            live = ~held
            gmax = float(np.abs(gs[live]).max()) if live.any() else 0.0
            d = np.zeros_like(theta)
            if live.any():
                d[live] = _newton_direction(-H[np.ix_(live, live)] / scale, gs[live], concave)
        else:
            gmax = float(np.abs(gs).max()) if gs.size else 0.0
            d = _newton_direction(-H / scale, gs, concave)
        small = bool(np.all(np.abs(d) <= xtol * (1.0 + np.abs(theta))))
        if gmax <= gtol and small:
            converged, message = True, "Newton step and gradient below tolerance"
            break
        if it >= maxiter:
            break
        it += 1
        slope = float(gs @ d) * scale  # directional derivative of ll along d, > 0
        # rounding of ll: sums of N terms each with relative error ~eps
        slack = 1e-13 * max(abs(ll), 1.0)
        t = 1.0
        accepted = False
        for _ in range(60):
            trial = theta + t * d
            if bounded:  # projected onto the box; the Armijo slope along the projected step
                trial = np.clip(trial, lo, hi)
                slope_t = float(g @ (trial - theta))
            else:
                slope_t = t * slope
            ll_t, g_t, H_t = evaluate(trial, 2)
            if np.isfinite(ll_t) and ll_t >= ll + 1e-4 * slope_t - slack:
                accepted = True
                break
            t *= 0.5
            if bounded and t == 0.5:
                # the full step failed: if it crossed a bound far (a nest parameter's first
                # step from 1 past 0), halvings that still end on the bound are wasted passes;
                # go on from the largest halving that stays inside the box
                with np.errstate(divide="ignore", invalid="ignore"):
                    reach = np.where(d < 0, (lo - theta) / d, np.where(d > 0, (hi - theta) / d,
                                                                        np.inf))
                t_box = float(np.min(reach, initial=np.inf))
                # (not below 1/1024: a live parameter on its bound gives t_box = 0, and the
                # plain halvings would reach that far only after ten failed trials anyway)
                while t > t_box and t > 1e-3:
                    t *= 0.5
        if not accepted:
            converged = gmax <= gtol
            message = ("gradient below tolerance; no step raises the likelihood beyond rounding"
                       if converged else "line search failed: no ascent along the Newton "
                       "direction")
            break
        theta, ll, g, H = trial, ll_t, g_t, H_t
    return Optimum(theta, ll, g, H, converged, message, it,
                   "projected newton" if bounded else "newton", gmax)


def _newton_direction(A: np.ndarray, g: np.ndarray, concave: bool = True) -> np.ndarray:
    """Solve ``A d = g`` for symmetric positive semi-definite ``A`` (minus the Hessian).

    NumPy's LAPACK (Cholesky as the positive-definiteness test, then a solve: ~8 us for a small
    matrix); SciPy's ``dposv`` is faster per call but importing ``scipy.linalg`` costs ~0.15 s,
    more than a whole small fit.
    """
    if not np.isfinite(A).all():
        return np.zeros_like(g)
    try:
        np.linalg.cholesky(A)  # raises unless A is positive definite
        return np.linalg.solve(A, g)
    except np.linalg.LinAlgError:
        # not positive definite. Directions of (numerically) zero curvature (an unidentified
        # parameter) are dropped; negative curvature (a non-concave likelihood away from its
        # maximum) is replaced by its absolute value, so the direction still ascends
        w, Q = np.linalg.eigh(A)
        if concave:  # negative eigenvalues are rounding of zero ones: drop them
            keep = w > 1e-10 * max(float(w.max()), 0.0)
            return Q[:, keep] @ ((Q[:, keep].T @ g) / w[keep])
        keep = np.abs(w) > 1e-10 * float(np.abs(w).max())
        return Q[:, keep] @ ((Q[:, keep].T @ g) / np.abs(w[keep]))


def maximize_loglike(objective: Objective, start: np.ndarray, *, method: str = "newton",
                     maxiter: int = 200, gtol: float = 1e-8) -> Optimum:
    """Maximize the log-likelihood over the free parameters.

    Parameters
    ----------
    objective : Objective
    start : ndarray
        Starting values of the free parameters.
    method : {"newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr", "bhhh"}
        ``newton``: Newton-Raphson with a backtracking line search and the exact (safeguarded)
        Hessian (:func:`newton_raphson`), the default; ``bhhh``: the same iteration with the
        outer product of the per-case scores; ``trust-exact``: SciPy's Newton steps in a trust
        region with the exact Hessian; ``bfgs``: quasi-Newton with analytic gradient;
        ``lbfgsb``: limited-memory BFGS with bounds; ``trust-constr``: trust region with exact
        Hessian and bounds. ``newton`` and ``bhhh`` respect bounds by projection; so do the
        last two.
    maxiter : int
        Maximum iterations.
    gtol : float
        Tolerance on the gradient of the objective ``-ll/N`` (max-norm for Newton, BFGS and
        L-BFGS-B, 2-norm for SciPy's trust-region methods).
    """
    d = objective.params
    free = objective.free
    # Newton's iteration projects onto the bounds for the non-concave families; the MNL's
    # bounded fits polish L-BFGS-B instead ('auto')
    unbounded = ("trust-exact", "bfgs") + (("newton", "bhhh") if objective.family.concave
                                           else ())
    if method in unbounded and d.has_bounds:
        bounded = [n for n, lo, hi, f in zip(d.names, d.lower, d.upper, d.fixed)
                   if not f and (np.isfinite(lo) or np.isfinite(hi))]
        raise SpecificationError(
            f"Parameters {bounded} have bounds, which method {method!r} cannot respect. Use "
            "method='trust-constr' or 'lbfgsb' (or 'auto')."
        )
    ll0, _, _ = objective.evaluate(start, order=2 if method == "newton" else 1)
    if not np.isfinite(ll0):
        raise EstimationError(
            "The log-likelihood is not finite at the starting values "
            f"({dict(zip(np.asarray(d.names)[free], np.round(start, 6)))}). Check the "
            "data scaling and the starting values."
        )
    if objective.n_free == 0:
        ll, g, H = objective.evaluate(start, order=2)
        return Optimum(start, ll, g, H, True, "no free parameters", 0, method, 0.0)
    if method in ("newton", "bhhh"):
        evaluate = objective.evaluate if method == "newton" else _bhhh_evaluate(objective)
        bounds = ({"lower": d.lower[free], "upper": d.upper[free]} if d.has_bounds else {})
        nr = newton_raphson(evaluate, start, objective.scale, maxiter=maxiter, gtol=gtol,
                            concave=bool(objective.family.concave) or method == "bhhh",
                            **bounds)
        theta, converged, message, iterations = nr.theta, nr.converged, nr.message, nr.iterations
    else:
        theta, converged, message, iterations = _scipy_minimize(objective, start, method,
                                                                maxiter, gtol)
    ll, g, H = objective.evaluate(theta, order=2)
    gnorm = float(np.abs(g / objective.scale).max()) if g.size else 0.0
    if not converged and gnorm < 1e-6 and np.isfinite(ll):
        # trust-region methods sometimes stop on a tiny radius at the optimum (precision loss);
        # the projected gradient says whether that point is a maximum
        converged = _stationary(theta, g, objective)
        if converged:
            message = f"{message} (accepted: scaled gradient max-norm {gnorm:.2e})"
    if not converged:
        names = np.asarray(d.names)[free]
        worst = names[np.argsort(-np.abs(g))[:3]] if g.size else []
        warn_user(
            f"Estimation did not converge ({method}, {iterations} iterations): {message}. "
            f"Scaled gradient max-norm {gnorm:.3g}, largest for {[str(w) for w in worst]}. "
            "Try other starting values, rescale variables, raise `maxiter`, or check "
            "identification.",
            ConvergenceWarning)
    return Optimum(theta, ll, g, H, converged, message, iterations, method, gnorm)


def bfgs_then_newton(obj: Objective, start: np.ndarray, *, switch_gtol: float,
                     maxiter: int = 200, gtol: float = 1e-8) -> Optimum:
    """BFGS until the scaled gradient's max-norm is below ``switch_gtol``, then Newton's
    method (safeguarded, the analytic Hessian) to ``gtol``.

    For likelihoods that are not concave but have a cheap analytic Hessian (the mixed logit):
    BFGS finds the basin, where Newton's method from a far start can take a step into another
    local maximum; near the maximum Newton converges quadratically where BFGS needs many
    iterations. The Newton result is kept when it converges to a point at least as good whose
    Hessian is negative definite; otherwise BFGS goes on from the hand-over point to ``gtol``
    (method ``"bfgs"``, for the caller's polish).
    """
    first = maximize_loglike(obj, start, method="bfgs", maxiter=maxiter, gtol=switch_gtol)
    with warnings.catch_warnings(record=True):  # Newton's warnings go with its result
        warnings.simplefilter("always")
        opt = maximize_loglike(obj, first.theta, method="newton", maxiter=maxiter, gtol=gtol)
    if (opt.converged and opt.loglike >= first.loglike - 1e-9 * abs(first.loglike)
            and check_negative_definite(opt, obj) is None):
        return replace(opt, method="bfgs then newton", iterations=first.iterations + opt.iterations,
                       message=f"BFGS to a scaled gradient of {switch_gtol:g} "
                       f"({first.iterations} iterations), then Newton: {opt.message}")
    return maximize_loglike(obj, first.theta, method="bfgs", maxiter=maxiter, gtol=gtol)


def polish_fixed_hessian(obj: Objective, opt: Optimum, maxiter: int = 10,
                          xtol: float = 1e-10) -> Optimum:
    """Newton steps on the fixed Hessian ``opt.hessian`` (score passes only); kept when the
    log-likelihood does not fall. The Hessian reported stays the one computed at the start.

    After a quasi-Newton run that stopped within ~1e-5 (relative) of the maximum, steps
    :math:`(-H)^{-1} g` on that Hessian converge linearly at a rate about the Hessian's
    relative change over the step: two or three steps reach ``xtol``.
    """
    H = opt.hessian
    try:
        L = np.linalg.cholesky(-H)
    except np.linalg.LinAlgError:
        return opt  # not negative definite there: leave it to the checks
    theta, ll, g = opt.theta, opt.loglike, opt.score
    steps = 0
    for _ in range(maxiter):
        step = np.linalg.solve(L.T, np.linalg.solve(L, g))  # (-H)^-1 g
        new = theta + step
        ll_new, g_new, _ = obj.evaluate(new, order=1)
        if not np.isfinite(ll_new) or ll_new < ll - 1e-9 * abs(ll):
            break
        theta, ll, g = new, ll_new, g_new
        steps += 1
        if np.abs(step).max() <= xtol * max(1.0, float(np.abs(theta).max())):
            break
    if steps == 0:
        return opt
    gnorm = float(np.abs(g / obj.scale).max()) if g.size else 0.0
    return replace(opt, theta=theta, loglike=ll, score=g, gradient_norm=gnorm,
                   converged=opt.converged or gnorm < 1e-6, method=f"{opt.method}+newton",
                   message=f"{opt.message}; Newton polish ({steps} steps on one Hessian)",
                   iterations=opt.iterations + steps)


def _bhhh_evaluate(objective: Objective) -> Callable[[np.ndarray, int], tuple[
        float, np.ndarray | None, np.ndarray | None]]:
    """``evaluate`` with minus the weighted outer product of the per-unit scores in place of
    the Hessian (BHHH)."""
    opg = getattr(objective.family, "opg", None)  # distributed: summed on the partitions
    w = None if opg is not None else objective.unit_weight

    def evaluate(theta: np.ndarray, order: int) -> tuple[float, np.ndarray | None,
                                                         np.ndarray | None]:
        ll, g, _ = objective.evaluate(theta, order=min(order, 1) if order else 0)
        if order < 2:
            return ll, g, None
        if opg is not None:
            return ll, g, -opg(objective.full_params(theta), objective.free, "frequency")
        S = objective.score_obs(theta)
        Sw = S if w is None else S * w[:, None]
        return ll, g, -(S.T @ Sw)

    return evaluate


def polish_active_set(obj: Objective, opt: Optimum, *, maxiter: int, gtol: float) -> Optimum:
    """Newton refinement after L-BFGS-B: hold parameters at their active bounds, solve the rest.

    L-BFGS-B lands exactly on active bounds but its free parameters stop at ~1e-6 relative
    accuracy; Newton steps on the free subset bring them to the precision of an unbounded fit.
    The result is kept only if it stays within bounds and improves (or keeps) the likelihood.
    """
    d = obj.params
    theta = opt.theta
    lo, hi = d.lower[obj.free], d.upper[obj.free]
    active = (theta <= lo + 1e-10) | (theta >= hi - 1e-10)
    full = obj.full_params(theta)
    fixed = d.fixed.copy()
    fixed[np.flatnonzero(obj.free)[active]] = True
    if fixed.all():
        return opt
    # the sub-problem is unbounded (its result is checked against the bounds below)
    sub = Objective(obj.family, full, fixed=fixed, bounds=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sub_opt = maximize_loglike(sub, full[~fixed], method="newton", maxiter=maxiter,
                                   gtol=gtol)
    new_full = sub.full_params(sub_opt.theta)
    new_theta = new_full[obj.free]
    if not (np.all(new_theta >= lo) and np.all(new_theta <= hi)) or \
            sub_opt.loglike < opt.loglike - 1e-9 * abs(opt.loglike):
        return opt
    ll, g, H = obj.evaluate(new_theta, order=2)
    gs = g / obj.scale
    # at a maximum the gradient at an active bound points out of the feasible set
    inward = ((new_theta <= lo + 1e-10) & (gs < 0)) | ((new_theta >= hi - 1e-10) & (gs > 0))
    gnorm = float(np.abs(gs[~active]).max()) if (~active).any() else 0.0
    converged = sub_opt.converged and bool(inward[active].all())
    return Optimum(new_theta, ll, g, H, converged or opt.converged,
                   f"{opt.message}; Newton polish on {int((~active).sum())} free parameters "
                   f"with {int(active.sum())} at bounds: {sub_opt.message}",
                   opt.iterations + sub_opt.iterations, "lbfgsb+newton", gnorm)


def _scipy_minimize(objective: Objective, start: np.ndarray, method: str, maxiter: int,
                    gtol: float) -> tuple[np.ndarray, bool, str, int]:
    """Run one of SciPy's optimizers on ``-ll/N`` (imported here: it costs import time)."""
    from scipy import optimize

    d = objective.params
    free = objective.free
    objective.eager_order = 1 if method in ("bfgs", "lbfgsb") else 2
    bounds = None
    if method in ("lbfgsb", "trust-constr"):
        bounds = optimize.Bounds(d.lower[free], d.upper[free])
    with warnings.catch_warnings():
        # SciPy's own warnings (e.g. "delta_grad == 0.0") are replaced by our report
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        warnings.simplefilter("ignore", UserWarning)
        if method == "trust-exact":
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
        else:
            raise SpecificationError(f"`method` must be one of {METHODS}. Got {method!r}.")
    iterations = int(getattr(r, "nit", getattr(r, "niter", 0)) or 0)
    return np.asarray(r.x, dtype=np.float64), bool(r.success), str(r.message), iterations


def _stationary(theta: np.ndarray, g: np.ndarray, objective: Objective) -> bool:
    """Gradient zero up to tolerance, except where pushed against an active bound."""
    d = objective.params
    lo, hi = d.lower[objective.free], d.upper[objective.free]
    gs = g / objective.scale
    at_lo = (theta <= lo + 1e-10) & (gs < 0)
    at_hi = (theta >= hi - 1e-10) & (gs > 0)
    return bool(np.all(np.abs(gs[~(at_lo | at_hi)]) < 1e-6))


def check_negative_definite(opt: Optimum, objective: Objective) -> str | None:
    """A sentence naming the parameters when the Hessian at the estimates is not negative
    definite on the parameters not at a bound (a saddle point or a flat direction), else None.
    """
    if opt.hessian is None or opt.hessian.size == 0:
        return None
    d = objective.params
    lo, hi = d.lower[objective.free], d.upper[objective.free]
    inner = ~((opt.theta <= lo + 1e-10) | (opt.theta >= hi - 1e-10))
    if not inner.any():
        return None
    A = -opt.hessian[np.ix_(inner, inner)] / objective.scale
    if not np.isfinite(A).all():
        return "The Hessian at the estimates is not finite."
    w, Q = np.linalg.eigh(A)
    tol = 1e-10 * max(float(np.abs(w).max()), 1e-300)
    if w[0] > tol:
        return None
    names = np.asarray(d.names)[objective.free][inner]
    v = Q[:, 0]
    involved = [str(names[k]) for k in np.argsort(-np.abs(v))[:4] if abs(v[k]) > 0.1]
    return (f"The Hessian at the estimates is not negative definite (smallest eigenvalue of "
            f"minus the scaled Hessian {w[0]:.3g}), along a direction involving {involved}: "
            "the point is a saddle or the model is not identified there. Try other starting "
            "values or fix one of these parameters.")
