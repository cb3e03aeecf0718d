"""Maximum-likelihood estimation: the objective over a design, and the optimizer driver.

The objective is :math:`f(\\theta) = -\\ell(\\theta) / N` over the free parameters
:math:`\\theta` (fixed parameters are folded into the utility offset), with analytic gradient
and Hessian. Its value, gradient and Hessian come from one fused pass over the design: the
compiled pass of :mod:`choicekit.families.mnl.native` where it is built (on one thread per core for
large
designs), else the NumPy kernel :func:`choicekit.families.mnl.kernels.chunk_derivatives`; both work
in
chunks of cases so that the temporaries stay small (and in cache), with workspaces reused
across iterations.

The default optimizer (``method="newton"``) is a plain Newton-Raphson iteration with a
backtracking line search. The logit log-likelihood is concave, so the Newton direction is
always an ascent direction and the full step is accepted from the first iterations on; the
iteration converges quadratically and each iteration costs exactly one pass over the design.
SciPy's trust-region and quasi-Newton methods remain available by name; for small models
their per-iteration bookkeeping costs more than the likelihood itself.

References
----------
Nocedal, J. & Wright, S. J. (2006). *Numerical Optimization*, 2nd ed., Springer: ch. 3
(backtracking line search, Armijo condition) and ch. 4 (trust regions).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from choicekit.design.linear import Design
from choicekit.exceptions import ConvergenceWarning, EstimationError, SpecificationError
from choicekit.families.mnl import native
from choicekit.families.mnl.kernels import (
    KernelWorkspace,
    blas_threads,
    chunk_derivatives,
    score_obs,
)

__all__ = ["Objective", "Optimum", "maximize_loglike", "newton_raphson", "METHODS",
           "chunk_slices", "polish_active_set"]

Method = Literal["newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr"]
METHODS = ("newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr")

#: elements of the (cases x alternatives x parameters) design processed per chunk. Measured on
#: the 2-core Xeon of benchmarks/README.md (one pass over 1M x 10 x 10 + 9 constants): 2^18
#: values 0.69 s, 2^17 0.64 s, 2^16 0.55 s, 2^15 0.66 s. At 2^16 (512 KiB) the chunk and the
#: kernel's product buffer both stay in the 2 MiB per-core L2 between the kernel's passes;
#: smaller chunks pay Python overhead per chunk.
DEFAULT_CHUNK_ELEMENTS = 1 << 16


#: designs up to this many values are one chunk: splitting a small design costs more in
#: per-chunk overhead (and the BLAS thread switch of multi-chunk passes) than cache locality
#: returns (Swissmetro, 81k values: 5.9 ms per fit as one chunk, 7.4-8.9 ms as two, cold)
SINGLE_CHUNK_ELEMENTS = 1 << 17


def chunk_slices(n: int, per_case: int, chunk_size: int | None = None) -> list[slice]:
    """Slices of cases such that each chunk holds about ``DEFAULT_CHUNK_ELEMENTS`` values."""
    if chunk_size is None and n * per_case <= SINGLE_CHUNK_ELEMENTS:
        chunk_size = n
    elif chunk_size is None:
        chunk_size = max(256, DEFAULT_CHUNK_ELEMENTS // max(per_case, 1))
    chunk_size = max(1, int(chunk_size))
    return [slice(s, min(n, s + chunk_size)) for s in range(0, n, chunk_size)]


#: threads an objective uses by default. The chunks are independent and NumPy releases the GIL
#: in its loops, but each chunk is ~25 short NumPy calls, and two threads handing the GIL back
#: and forth were measured 2x *slower* than one on the 2-core benchmark machine (200k x 5 x 14:
#: 43 ms per evaluation with one thread, 97 ms with two). One thread, BLAS included, is the
#: default; ``threads=`` is there for machines with idle cores and larger chunks.
DEFAULT_THREADS = 1

#: design values (cases x alternatives x stored columns) per thread below which the compiled
#: pass runs on one thread: handing a range to a pool thread costs ~50 us, the pass ~1 ns per
#: value (2^20 values: ~1 ms of work per thread)
NATIVE_VALUES_PER_THREAD = 1 << 20


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _executor(workers: int) -> ThreadPoolExecutor:
    """One pool per size, created on first use and kept (threads start once per process)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="choicekit-kernel")


@dataclass(frozen=True)
class _Chunk:
    """What the fused kernel needs about one chunk of cases, prepared once per fit."""

    index: int
    sl: slice
    unavail: np.ndarray | None  # (J, n) or None when everything is available
    chosen_flat: np.ndarray  # (n,) positions c_n * n + i
    offset: np.ndarray | None  # (J, n)
    weight: np.ndarray | None
    #: (K,): sum_n w_n x_{n c_n}, constant over iterations; written by the kernel in the
    #: first pass with derivatives (``Objective._known``)
    x_chosen_sum: np.ndarray


class Objective:
    """Log-likelihood of a design as a function of the free parameters.

    Parameters
    ----------
    design : Design
    fixed_values : ndarray
        Full parameter vector whose fixed entries are used (free entries ignored).
    chunk_size : int, optional
        Cases per kernel call; by default sized to keep temporaries small.
    threads : int, optional
        Threads evaluating chunks in parallel. With the compiled pass, by default one per
        core for each :data:`NATIVE_VALUES_PER_THREAD` design values (so small designs use
        one); with the NumPy kernel :data:`DEFAULT_THREADS` (designs of fewer than two chunks
        per thread use one).
    use_native : bool, optional
        Use the compiled pass (:mod:`choicekit.families.mnl.native`); by default whenever it is
        built.
        ``False`` forces the NumPy kernel.

    Notes
    -----
    The kernel reads each chunk straight from the design's parameter-major storage
    (``design.columns[:, :, a:b]``) and handles the constants and alternative-specific
    columns (``design.specific_values[:, a:b]``) without their zeros. It works on the
    full parameter vector, fixed parameters included (their values are simply held); the
    free parameters' entries are picked out of its sums. Holding a parameter fixed therefore
    costs nothing but a row of the kernel's products, and no copy of the design is made.

    The compiled pass computes the same sums over a range of cases in one call, for the
    stored columns, one constant per alternative and the alternative-specific columns;
    threads take contiguous ranges (the call releases the GIL) and their sums are added in
    range order, so the result does not depend on thread timing.
    """

    def __init__(self, design: Design, fixed_values: np.ndarray,
                 chunk_size: int | None = None, threads: int | None = None,
                 use_native: bool | None = None) -> None:
        self.design = design
        self.free = ~design.fixed
        self.n_free = int(self.free.sum())
        self.fixed_values = np.array(fixed_values, dtype=np.float64)
        self.scale = float(design.n_cases)
        self.n_stored = len(design.stored)
        self.slices = chunk_slices(design.n_cases, design.n_alts * max(self.n_stored, 1),
                                   chunk_size)
        self.chunk_size = chunk_size
        # the kernel's parameter order: stored columns, constants, alternative-specific ones
        self._perm = np.concatenate([design.stored, design.constants,
                                     design.specific]).astype(np.intp)
        #: kernel positions of the free parameters, in the design's order
        self._pick = np.argsort(self._perm)[self.free]
        # their (free x free) block of the kernel's Hessian as flat positions: one take per
        # evaluation (np.ix_ cost ~15 us, a tenth of a small refit's evaluation)
        self._pick_pairs = self._pick[:, None] * len(self._perm) + self._pick[None, :]
        self._chunks: list[_Chunk] | None = None
        self._workspaces: list[KernelWorkspace] = []
        self.use_native = native.available() if use_native is None else bool(use_native)
        self._native: native.NativePass | None = None
        if threads is None and self.use_native:
            values = design.n_cases * design.n_alts * max(self.n_stored, 1)
            threads = min(_cores(), max(1, values // NATIVE_VALUES_PER_THREAD))
        self.threads = max(1, int(threads if threads is not None else DEFAULT_THREADS))
        self._key: bytes | None = None
        self._order = -1
        self._val: tuple[float, np.ndarray | None, np.ndarray | None] = (np.nan, None, None)
        self.n_evaluations = 0
        #: derivatives computed with every value: the trust-region methods ask for value,
        #: gradient and Hessian at the same point in turn, so one fused pass serves all three
        self.eager_order = 2

    def _prepare(self) -> list[_Chunk]:
        """Per-chunk masks, offsets and chosen sums, built on first use (choices are fixed
        by then)."""
        if self._chunks is not None:
            return self._chunks
        d = self.design
        chunks = []
        K = len(self._perm)
        for i, sl in enumerate(self.slices):
            m = sl.stop - sl.start
            a = d.avail[sl]
            chunks.append(_Chunk(
                i, sl, None if a.all() else np.ascontiguousarray(~a.T),
                d.chosen[sl] * m + np.arange(m),
                None if d.offset is None else np.ascontiguousarray(d.offset[sl].T),
                None if d.weight is None else d.weight[sl], np.empty(K)))
        self._known = np.zeros(len(chunks), dtype=bool)
        self._chunks = chunks
        return chunks

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
        beta_k = self.full_params(theta)[self._perm]  # the kernel's order
        if self.use_native:
            ll, g, H = self._native_sums(beta_k, order)
            self.n_evaluations += 1
            self._key, self._order = key, order
            self._val = (ll, g, H)
            return self._val
        chunks = self._prepare()
        workers = self.threads if len(chunks) >= 2 * self.threads else 1
        if workers == 1 and len(chunks) == 1:
            ll, g, H = self._sum_chunks(chunks, beta_k, order, 0)
        else:
            with blas_threads(1):
                if workers == 1:
                    ll, g, H = self._sum_chunks(chunks, beta_k, order, 0)
                else:
                    # chunk i goes to worker i % workers; the partial sums are added in worker
                    # order, so the result does not depend on thread timing
                    parts = list(_executor(workers).map(
                        lambda i: self._sum_chunks(chunks[i::workers], beta_k, order, i),
                        range(workers)))
                    ll = sum(p[0] for p in parts)
                    g = None if order < 1 else np.sum([p[1] for p in parts], axis=0)
                    H = None if order < 2 else np.sum([p[2] for p in parts], axis=0)
        pick = self._pick  # back to the design's order, free parameters only
        g = None if g is None else g[pick]
        H = None if H is None else H.take(self._pick_pairs)
        self.n_evaluations += 1
        self._key, self._order = key, order
        self._val = (ll, g, H)
        return self._val

    def _native_sums(self, beta_k: np.ndarray, order: int) -> tuple[
            float, np.ndarray | None, np.ndarray | None]:
        """The compiled pass over all cases, in ``threads`` contiguous ranges, for the free
        parameters (the design's order)."""
        d = self.design
        if self._native is None:
            self._native = native.NativePass(
                d.columns, d.chosen, d.avail, d.offset, d.weight, d.constant_alts,
                d.specific_alts, d.specific_values, chunk_cases=self.chunk_size,
                pick=self._pick)
        nat = self._native
        n = d.n_cases
        workers = max(1, min(self.threads, n // nat.chunk_cases))
        if workers == 1:
            return nat.run(beta_k, order)
        # contiguous ranges on whole chunks; added in range order (deterministic)
        per = -(-n // (workers * nat.chunk_cases)) * nat.chunk_cases
        parts = list(_executor(workers).map(
            lambda w: nat.run(beta_k, order, min(n, w * per), min(n, (w + 1) * per), w),
            range(workers)))
        return (sum(p[0] for p in parts),
                None if order < 1 else np.sum([p[1] for p in parts], axis=0),
                None if order < 2 else np.sum([p[2] for p in parts], axis=0))

    def _sum_chunks(self, chunks: list[_Chunk], beta: np.ndarray, order: int,
                    worker: int) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Kernel sums over some chunks with the workspace of one worker."""
        ws = self._workspace(worker)
        d = self.design
        K = len(beta)
        ll = 0.0
        g = np.zeros(K) if order >= 1 else None
        H = np.zeros((K, K)) if order >= 2 else None
        for c in chunks:
            known = self._known[c.index]
            part_ll, part_g, part_H = chunk_derivatives(
                d.columns[:, :, c.sl], d.n_alts, beta, c.chosen_flat, c.unavail, c.offset,
                c.weight, order, ws, c.x_chosen_sum if known else None, d.constant_alts,
                None if known else c.x_chosen_sum, d.specific_alts,
                d.specific_values[:, c.sl])
            ll += part_ll
            if order >= 1:
                self._known[c.index] = True  # the kernel wrote its chosen sums
                g += part_g
            if order >= 2:
                H += part_H
        return ll, g, H

    def _workspace(self, worker: int) -> KernelWorkspace:
        while len(self._workspaces) <= worker:
            self._workspaces.append(KernelWorkspace(
                max(sl.stop - sl.start for sl in self.slices), self.design.n_alts,
                self.n_stored))
        return self._workspaces[worker]

    def score_obs(self, theta: np.ndarray) -> np.ndarray:
        """Per-case (unweighted) scores at ``theta``, shape ``(n_cases, n_free)``."""
        d = self.design
        beta = self.full_params(theta)
        out = np.empty((d.n_cases, self.n_free))
        for sl in self.slices:
            out[sl] = score_obs(d.block(sl), beta, d.avail[sl], d.chosen[sl],
                                None if d.offset is None else d.offset[sl])[:, self.free]
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


#: relative size of the last Newton step below which the iterate counts as the maximum: a
#: Newton step is the distance to the optimum up to its square, so 1e-10 leaves the estimates
#: accurate to ~1e-10 relative, well inside the 1e-8 agreement promised between code paths
XTOL = 1e-10


def newton_raphson(evaluate: Callable[[np.ndarray, int], tuple[float, np.ndarray | None,
                                                                np.ndarray | None]],
                   start: np.ndarray, scale: float, *, maxiter: int = 200,
                   gtol: float = 1e-8, xtol: float = XTOL) -> Optimum:
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
    holds (up to rounding of :math:`\\ell`). Each trial point is evaluated with its score and
    Hessian in the same pass, so an accepted step (the rule for a concave likelihood) costs
    one pass over the data. Converged: :math:`\\max|g/N| \\le` ``gtol`` and the Newton step is
    below ``xtol`` (relative), or the gradient is below ``gtol`` and no step can raise the
    likelihood beyond rounding.
    """
    theta = np.array(start, dtype=np.float64)
    ll, g, H = evaluate(theta, 2)
    message = "maximum iterations reached"
    converged = False
    it = 0
    while True:
        gs = g / scale
        gmax = float(np.abs(gs).max()) if gs.size else 0.0
        d = _newton_direction(-H / scale, gs)
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
            ll_t, g_t, H_t = evaluate(trial, 2)
            if np.isfinite(ll_t) and ll_t >= ll + 1e-4 * t * slope - slack:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            converged = gmax <= gtol
            message = ("gradient below tolerance; no step raises the likelihood beyond rounding"
                       if converged else "line search failed: no ascent along the Newton "
                       "direction")
            break
        theta, ll, g, H = trial, ll_t, g_t, H_t
    return Optimum(theta, ll, g, H, converged, message, it, "newton", gmax)


def _newton_direction(A: np.ndarray, g: np.ndarray) -> np.ndarray:
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
        # not positive definite (an unidentified direction): solve on the identified subspace
        w, Q = np.linalg.eigh(A)
        keep = w > 1e-10 * max(float(w.max()), 0.0)
        return Q[:, keep] @ ((Q[:, keep].T @ g) / w[keep])


def maximize_loglike(objective: Objective, start: np.ndarray, *, method: str = "newton",
                     maxiter: int = 200, gtol: float = 1e-8) -> Optimum:
    """Maximize the log-likelihood over the free parameters.

    Parameters
    ----------
    objective : Objective
    start : ndarray
        Starting values of the free parameters.
    method : {"newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr"}
        ``newton``: Newton-Raphson with a backtracking line search and the exact Hessian
        (:func:`newton_raphson`), the default; ``trust-exact``: SciPy's Newton steps in a trust
        region with the exact Hessian; ``bfgs``: quasi-Newton with analytic gradient;
        ``lbfgsb``: limited-memory BFGS with bounds; ``trust-constr``: trust region with exact
        Hessian and bounds. Only the last two respect bounds.
    maxiter : int
        Maximum iterations.
    gtol : float
        Tolerance on the gradient of the objective ``-ll/N`` (max-norm for Newton, BFGS and
        L-BFGS-B, 2-norm for SciPy's trust-region methods).
    """
    d = objective.design
    free = objective.free
    if method in ("newton", "trust-exact", "bfgs") and d.has_bounds:
        bounded = [n for n, lo, hi, f in zip(d.param_names, d.lower, d.upper, d.fixed)
                   if not f and (np.isfinite(lo) or np.isfinite(hi))]
        raise SpecificationError(
            f"Parameters {bounded} have bounds, which method {method!r} cannot respect. Use "
            "method='trust-constr' or 'lbfgsb' (or 'auto')."
        )
    ll0, _, _ = objective.evaluate(start, order=2 if method == "newton" else 1)
    if not np.isfinite(ll0):
        raise EstimationError(
            "The log-likelihood is not finite at the starting values "
            f"({dict(zip(np.asarray(d.param_names)[free], np.round(start, 6)))}). Check the "
            "data scaling and the starting values."
        )
    if objective.n_free == 0:
        ll, g, H = objective.evaluate(start, order=2)
        return Optimum(start, ll, g, H, True, "no free parameters", 0, method, 0.0)
    if method == "newton":
        nr = newton_raphson(objective.evaluate, start, objective.scale, maxiter=maxiter,
                            gtol=gtol)
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
        names = np.asarray(d.param_names)[free]
        worst = names[np.argsort(-np.abs(g))[:3]] if g.size else []
        warnings.warn(
            f"Estimation did not converge ({method}, {iterations} iterations): {message}. "
            f"Scaled gradient max-norm {gnorm:.3g}, largest for {[str(w) for w in worst]}. "
            "Try other starting values, rescale variables, raise `maxiter`, or check "
            "identification.",
            ConvergenceWarning, stacklevel=3)
    return Optimum(theta, ll, g, H, converged, message, iterations, method, gnorm)


def polish_active_set(obj: Objective, opt: Optimum, *, maxiter: int, gtol: float) -> Optimum:
    """Newton refinement after L-BFGS-B: hold parameters at their active bounds, solve the rest.

    L-BFGS-B lands exactly on active bounds but its free parameters stop at ~1e-6 relative
    accuracy; Newton steps on the free subset bring them to the precision of an unbounded fit.
    The result is kept only if it stays within bounds and improves (or keeps) the likelihood.
    """
    d = obj.design
    theta = opt.theta
    lo, hi = d.lower[obj.free], d.upper[obj.free]
    active = (theta <= lo + 1e-10) | (theta >= hi - 1e-10)
    full = obj.full_params(theta)
    fixed = d.fixed.copy()
    fixed[np.flatnonzero(obj.free)[active]] = True
    if fixed.all():
        return opt
    # the sub-problem is unbounded (its result is checked against the bounds below)
    unbounded = np.full(d.lower.shape, np.inf)
    sub = Objective(replace(d, fixed=fixed, lower=-unbounded, upper=unbounded), full)
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

    d = objective.design
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
    d = objective.design
    lo, hi = d.lower[objective.free], d.upper[objective.free]
    gs = g / objective.scale
    at_lo = (theta <= lo + 1e-10) & (gs < 0)
    at_hi = (theta >= hi - 1e-10) & (gs > 0)
    return bool(np.all(np.abs(gs[~(at_lo | at_hi)]) < 1e-6))
