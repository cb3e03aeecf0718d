"""The multinomial logit as a family of the protocol (:mod:`choicekit.families.protocol`).

Two paths compute the same sums. The *plain* path (:meth:`MNLFamily.sums`) evaluates the
textbook kernel on a block of cases, like every other family. The *fast* path
(:meth:`MNLFamily.fast_sums`), which estimation uses, is one fused pass over the design's
parameter-major storage: the compiled pass of :mod:`choicekit.families.mnl.native` where it
is built (on one thread per core for large designs), else the NumPy kernel
:func:`choicekit.families.mnl.kernels.chunk_derivatives`; both work in chunks of cases so that
the temporaries stay small (and in cache), with workspaces reused across iterations. The
conformance suite tests that the paths agree.

Notes
-----
The fast path reads each chunk straight from the design's parameter-major storage
(``design.columns[:, :, a:b]``) and handles the constants and alternative-specific columns
(``design.specific_values[:, a:b]``) without their zeros. It works on the full parameter
vector, fixed parameters included (their values are simply held); the free parameters' entries
are picked out of its sums. Holding a parameter fixed therefore costs nothing but a row of the
kernel's products, and no copy of the design is made. The compiled pass computes the same
sums over a range of cases in one call; threads take contiguous ranges (the call releases the
GIL) and their sums are added in range order, so the result does not depend on thread timing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from choicekit.design.linear import Design
from choicekit.families.mnl import native
from choicekit.families.mnl.kernels import (
    KernelWorkspace,
    blas_threads,
    chunk_derivatives,
    loglike_derivatives_reference,
    score_obs,
)
from choicekit.families.protocol import ALL, ParamTable, Sums, register_family

__all__ = ["MNLFamily", "chunk_slices", "DEFAULT_CHUNK_ELEMENTS", "cores", "executor",
           "sum_over_ranges"]

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

#: threads the NumPy kernel uses by default. The chunks are independent and NumPy releases the
#: GIL in its loops, but each chunk is ~25 short NumPy calls, and two threads handing the GIL
#: back and forth were measured 2x *slower* than one on the 2-core benchmark machine (200k x 5
#: x 14: 43 ms per evaluation with one thread, 97 ms with two). One thread, BLAS included, is
#: the default; ``threads=`` is there for machines with idle cores and larger chunks.
DEFAULT_THREADS = 1

#: design values (cases x alternatives x stored columns) per thread below which the compiled
#: pass runs on one thread: handing a range to a pool thread costs ~50 us, the pass ~1 ns per
#: value (2^20 values: ~1 ms of work per thread)
NATIVE_VALUES_PER_THREAD = 1 << 20


def chunk_slices(n: int, per_case: int, chunk_size: int | None = None) -> list[slice]:
    """Slices of cases such that each chunk holds about ``DEFAULT_CHUNK_ELEMENTS`` values."""
    if chunk_size is None and n * per_case <= SINGLE_CHUNK_ELEMENTS:
        chunk_size = n
    elif chunk_size is None:
        chunk_size = max(256, DEFAULT_CHUNK_ELEMENTS // max(per_case, 1))
    chunk_size = max(1, int(chunk_size))
    return [slice(s, min(n, s + chunk_size)) for s in range(0, n, chunk_size)]


def sum_over_ranges(n: int, chunk_cases: int, threads: int, order: int,
                    run: Callable[[int, int, int], tuple[float, np.ndarray | None,
                                                         np.ndarray | None]]
                    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """A compiled pass over cases ``0..n-1`` in up to ``threads`` contiguous ranges of whole
    chunks, ``run(first, last, worker)`` each (ctypes releases the GIL, so they run in
    parallel); the sums ``(ll, score, hessian)`` up to ``order`` are added in range order, so
    they do not depend on thread timing."""
    workers = max(1, min(threads, n // max(chunk_cases, 1)))
    if workers == 1:
        return run(0, n, 0)
    per = -(-n // (workers * chunk_cases)) * chunk_cases
    parts = list(executor(workers).map(
        lambda w: run(min(n, w * per), min(n, (w + 1) * per), w), range(workers)))
    return (sum(p[0] for p in parts),
            None if order < 1 else np.sum([p[1] for p in parts], axis=0),
            None if order < 2 else np.sum([p[2] for p in parts], axis=0))


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def executor(workers: int) -> ThreadPoolExecutor:
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
    #: first pass with derivatives (``MNLFamily._known``)
    x_chosen_sum: np.ndarray


@register_family
class MNLFamily:
    """The multinomial logit on a design.

    Parameters
    ----------
    design : Design
    chunk_size : int, optional
        Cases per kernel call; by default sized to keep temporaries small.
    threads : int, optional
        Threads of the fast path. With the compiled pass, by default one per core for each
        :data:`NATIVE_VALUES_PER_THREAD` design values (so small designs use one); with the
        NumPy kernel :data:`DEFAULT_THREADS` (designs of fewer than two chunks per thread use
        one).
    use_native : bool, optional
        Use the compiled pass (:mod:`choicekit.families.mnl.native`); by default whenever it is
        built. ``False`` forces the NumPy kernel.

    Notes
    -----
    :math:`P_{nj} = \\exp V_{nj} / \\sum_{i \\in A_n} \\exp V_{ni}` (McFadden 1974); the
    log-likelihood is concave, so Newton's method is the default optimizer. See
    :mod:`choicekit.families.mnl.kernels` for the score and Hessian.
    """

    name: ClassVar[str] = "MNL"
    concave: ClassVar[bool] = True
    analytic_hessian: ClassVar[bool] = True
    unit: ClassVar[str] = "case"

    def __init__(self, design: Design, *, chunk_size: int | None = None,
                 threads: int | None = None, use_native: bool | None = None) -> None:
        self.design = design
        self.chunk_size = chunk_size
        self.n_stored = len(design.stored)
        self.slices = chunk_slices(design.n_cases, design.n_alts * max(self.n_stored, 1),
                                   chunk_size)
        # the kernel's parameter order: stored columns, constants, alternative-specific ones
        self._perm = np.concatenate([design.stored, design.constants,
                                     design.specific]).astype(np.intp)
        self._chunks: list[_Chunk] | None = None
        self._picks: dict[bytes, np.ndarray] = {}
        self._workspaces: list[KernelWorkspace] = []
        self.use_native = native.available() if use_native is None else bool(use_native)
        #: compiled passes by the free parameters they sum (a model's fit and its all-free
        #: objective share the family)
        self._natives: dict[bytes, native.NativePass] = {}
        if threads is None and self.use_native:
            values = design.n_cases * design.n_alts * max(self.n_stored, 1)
            threads = min(cores(), max(1, values // NATIVE_VALUES_PER_THREAD))
        self.threads = max(1, int(threads if threads is not None else DEFAULT_THREADS))

    def with_design(self, design: Design) -> MNLFamily:
        """The same family on a design of the same layout with other choices (a Monte Carlo
        refit): the chunk layout, thread count and scratch workspaces are shared; everything
        that reads the choices is rebuilt on use."""
        new = object.__new__(MNLFamily)
        new.__dict__.update(self.__dict__)
        new.design = design
        new._chunks, new._natives = None, {}
        return new

    def __getstate__(self) -> dict:
        # the compiled pass's ctypes handle and the workspaces are caches: rebuilt on use
        state = self.__dict__.copy()
        state.update(_natives={}, _workspaces=[], _chunks=None)
        return state

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.design.param_names

    @property
    def params(self) -> ParamTable:
        """Names, start values, fixed mask and bounds (the design's)."""
        return ParamTable.of_design(self.design)

    def blocks(self, chunk_size: int | None = None) -> list[slice]:
        """Blocks of cases for the plain path (bounded temporaries)."""
        d = self.design
        return chunk_slices(d.n_cases, d.n_alts * d.n_params, chunk_size or self.chunk_size)

    # ------------------------------------------------------------------ plain path
    def sums(self, theta: np.ndarray, rows: slice = ALL, order: int = 2) -> Sums:
        """Textbook sums over the cases ``rows`` (the reference for the fast path)."""
        d = self.design
        r = loglike_derivatives_reference(
            d.block(rows), theta, d.avail[rows], d.chosen[rows],
            None if d.offset is None else d.offset[rows],
            None if d.weight is None else d.weight[rows], order)
        return Sums(r.loglike, r.score, r.hessian, d.avail[rows].shape[0])

    def score_obs(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Per-case (unweighted) scores ``(n, K)``."""
        d = self.design
        n = d.avail[rows].shape[0]
        out = np.empty((n, d.n_params))
        for sl in chunk_slices(n, d.n_alts * max(self.n_stored, 1)):
            sub = _sub(rows, sl)
            out[sl] = score_obs(d.block(sub), theta, d.avail[sub], d.chosen[sub],
                                None if d.offset is None else d.offset[sub])
        return out

    def utilities(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        return self.design.utilities(theta, rows)

    def proba(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Choice probabilities ``(n, J)``, 0 where unavailable."""
        d = self.design
        V = d.utilities(theta, rows)
        avail = d.avail[rows]
        if not avail.all():
            V[~avail] = -np.inf
        # exp(V - max) / sum: the probabilities directly (half the passes of exp(log_softmax),
        # which post-estimation by simulation evaluates thousands of times)
        m = _row_max(V)
        np.subtract(V, m[:, None], out=V)
        np.exp(V, out=V)
        V /= _row_sum(V)[:, None]
        return V

    def dproba(self, theta: np.ndarray, dv: np.ndarray, rows: slice = ALL,
               proba: np.ndarray | None = None) -> np.ndarray:
        """Derivative of the probabilities along a change ``dv`` ``(n, J)`` of the utilities:
        :math:`dP_{nk} = P_{nk}(dV_{nk} - \\sum_j P_{nj} dV_{nj})`."""
        P = self.proba(theta, rows) if proba is None else proba
        return P * (dv - (P * dv).sum(axis=1, keepdims=True))

    def logsum(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """:math:`\\log\\sum_{j\\in A_n} \\exp V_{nj}` per case."""
        d = self.design
        V = d.utilities(theta, rows)
        avail = d.avail[rows]
        if not avail.all():
            V[~avail] = -np.inf
        m = _row_max(V)
        np.subtract(V, m[:, None], out=V)
        np.exp(V, out=V)
        with np.errstate(divide="ignore"):
            return np.log(_row_sum(V)) + m

    def simulate(self, theta: np.ndarray, rng: np.random.Generator,
                 rows: slice = ALL) -> np.ndarray:
        """Chosen index per case: argmax over available alternatives of ``V + iid Gumbel``."""
        d = self.design
        U = d.utilities(theta, rows) + rng.gumbel(size=d.avail[rows].shape)
        U[~d.avail[rows]] = -np.inf
        return U.argmax(axis=1)

    # ------------------------------------------------------------------ fast path
    def fast_sums(self, theta: np.ndarray, order: int, free: np.ndarray
                  ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Log-likelihood, score and Hessian over every case, for the ``free`` parameters
        (a boolean mask in the design's order), in one fused pass."""
        key = free.tobytes()
        pick = self._picks.get(key)
        if pick is None:  # kernel positions of the free parameters, once per mask
            pick = self._picks[key] = np.argsort(self._perm)[free]
        beta_k = np.asarray(theta, dtype=np.float64)[self._perm]  # the kernel's order
        if self.use_native:
            return self._native_sums(beta_k, order, pick)
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
                    parts = list(executor(workers).map(
                        lambda i: self._sum_chunks(chunks[i::workers], beta_k, order, i),
                        range(workers)))
                    ll = sum(p[0] for p in parts)
                    g = None if order < 1 else np.sum([p[1] for p in parts], axis=0)
                    H = None if order < 2 else np.sum([p[2] for p in parts], axis=0)
        g = None if g is None else g[pick]
        if H is not None:
            # the (free x free) block by one take of flat positions (np.ix_ costs ~15 us, a
            # tenth of a small refit's evaluation)
            H = H.take(pick[:, None] * len(self._perm) + pick[None, :])
        return ll, g, H

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

    def _native_sums(self, beta_k: np.ndarray, order: int, pick: np.ndarray) -> tuple[
            float, np.ndarray | None, np.ndarray | None]:
        """The compiled pass over all cases, in ``threads`` contiguous ranges, for the free
        parameters (the design's order)."""
        d = self.design
        nat = self._natives.get(pick.tobytes())
        if nat is None:
            nat = self._natives[pick.tobytes()] = native.NativePass(
                d.columns, d.chosen, d.avail, d.offset, d.weight, d.constant_alts,
                d.specific_alts, d.specific_values, chunk_cases=self.chunk_size, pick=pick)
        return sum_over_ranges(d.n_cases, nat.chunk_cases, self.threads, order,
                               lambda first, last, w: nat.run(beta_k, order, first, last, w))

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


def _row_max(V: np.ndarray) -> np.ndarray:
    """The finite row maxima of ``V`` ``(n, J)`` (0 where a row has none). For few
    alternatives a column-by-column maximum: NumPy's reduction along a short contiguous axis
    took 0.37 ms of each 1 ms evaluation on 6,768 x 3 (Swissmetro)."""
    if V.shape[1] <= 16 and V.shape[1] > 0:
        m = V[:, 0].copy()
        for j in range(1, V.shape[1]):
            np.maximum(m, V[:, j], out=m)
    else:
        m = V.max(axis=1)
    m[~np.isfinite(m)] = 0.0
    return m


def _row_sum(V: np.ndarray) -> np.ndarray:
    """Row sums by a matrix-vector product (faster than a short-axis reduction)."""
    return V @ np.ones(V.shape[1])


def _sub(rows: slice, sl: slice) -> slice:
    """The slice ``sl`` of the cases ``rows`` (both with step 1) as a slice of all cases."""
    start = rows.start or 0
    return slice(start + sl.start, start + sl.stop)
