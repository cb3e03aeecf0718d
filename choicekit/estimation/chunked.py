"""Out-of-core estimation: a multinomial logit fitted from a design fed in chunks of cases.

The log-likelihood, its score and its Hessian are sums over cases, so a Newton iteration needs
only one pass over the cases, in any order and in pieces. :class:`ChunkedDesign` describes
such a stream: a callable that returns a fresh iterable of :class:`DesignChunk` (read from
``.npy`` files on disk, parquet row groups, a database cursor, or slices of an array or memory
map). :func:`fit_chunked` maximizes the likelihood with the same fused pass as
:meth:`choicekit.MNL.fit` (the compiled :mod:`choicekit.families.mnl.native` where it is built, else
:func:`choicekit.families.mnl.kernels.chunk_derivatives`) and the same Newton-Raphson iteration
(:func:`choicekit.estimation.objective.newton_raphson`), with memory bounded by the chunk size: the
design is never held whole. Each piece of a chunk is transposed to the parameter-major layout
in a reused workspace before the pass reads it.

Alternative-specific constants are not stored in the chunks: they are given as a mapping
``{parameter name: alternative index}`` and the kernel handles them without a design column
(``constants=`` of :func:`choicekit.families.mnl.kernels.chunk_derivatives`), so the data on disk
hold
only
the attributes and the kernel moves only those.

Examples
--------
>>> import numpy as np
>>> from choicekit.estimation.chunked import ChunkedDesign, fit_chunked
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((5000, 3, 2))
>>> U = X @ np.array([1.0, -0.5]) + rng.gumbel(size=(5000, 3))
>>> design = ChunkedDesign.from_arrays(X, U.argmax(axis=1), ["b1", "b2"], chunk_size=1000)
>>> res = fit_chunked(design)
>>> bool(res.converged), res.params.round(1).tolist()
(True, [1.0, -0.5])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from choicekit._linalg import sym_inverse
from choicekit.estimation.objective import DEFAULT_CHUNK_ELEMENTS
from choicekit.estimation.optimizers import newton_raphson
from choicekit.exceptions import ChoiceDataError, ConvergenceWarning, SpecificationError
from choicekit.families.mnl import native
from choicekit.families.mnl.kernels import KernelWorkspace, blas_threads, chunk_derivatives

__all__ = ["DesignChunk", "ChunkedDesign", "ChunkedResults", "fit_chunked", "npy_chunks"]


@dataclass(frozen=True)
class DesignChunk:
    """One chunk of cases.

    Attributes
    ----------
    X : ndarray, shape (n, J, K)
        Attributes multiplying the ``K`` stored parameters (zero where unavailable).
    chosen : ndarray of int, shape (n,)
        Chosen alternative of each case (0-based).
    avail : ndarray of bool, shape (n, J), optional
        Availability (default: all available).
    offset : ndarray, shape (n, J), optional
        Parameter-free part of the utility.
    weight : ndarray, shape (n,), optional
        Case weights.
    """

    X: np.ndarray
    chosen: np.ndarray
    avail: np.ndarray | None = None
    offset: np.ndarray | None = None
    weight: np.ndarray | None = None


class ChunkedDesign:
    """A design streamed in chunks of cases.

    Parameters
    ----------
    chunks : callable
        ``chunks()`` returns a new iterable of :class:`DesignChunk` covering every case once;
        it is called once per pass (once per Newton iteration).
    param_names : sequence of str
        Names of the ``K`` parameters multiplying ``DesignChunk.X``.
    n_alts : int
        Number of alternatives ``J``.
    constants : mapping, optional
        ``{parameter name: alternative index}``: alternative-specific constants, placed after
        the stored parameters.
    max_cases : int, optional
        Most cases the kernel processes at once; larger chunks are processed in pieces. By
        default sized like the in-memory estimator's chunks
        (:data:`choicekit.estimation.objective.DEFAULT_CHUNK_ELEMENTS` values), so a piece and its
        temporaries stay in cache whatever size the chunks are read in.
    """

    def __init__(self, chunks: Callable[[], Iterable[DesignChunk]],
                 param_names: Sequence[str], *, n_alts: int,
                 constants: Mapping[str, int] | None = None,
                 max_cases: int | None = None) -> None:
        if not callable(chunks):
            raise SpecificationError("`chunks` must be a callable returning an iterable of "
                                     f"DesignChunk. Got {type(chunks).__name__}.")
        self.chunks = chunks
        self.stored_names = tuple(str(p) for p in param_names)
        self.constants = dict(constants or {})
        self.n_alts = int(n_alts)
        for name, j in self.constants.items():
            if not 0 <= int(j) < self.n_alts:
                raise SpecificationError(f"Constant {name!r} is for alternative {j}, outside "
                                         f"0..{self.n_alts - 1}.")
        self.param_names = self.stored_names + tuple(self.constants)
        if len(set(self.param_names)) != len(self.param_names):
            raise SpecificationError(f"Parameter names must be unique. Got {self.param_names}.")
        per_case = self.n_alts * max(len(self.stored_names), 1)
        self.max_cases = int(max_cases) if max_cases is not None else max(
            256, DEFAULT_CHUNK_ELEMENTS // max(per_case, 1))

    @classmethod
    def from_arrays(cls, X: np.ndarray, chosen: np.ndarray, param_names: Sequence[str], *,
                    avail: np.ndarray | None = None, constants: Mapping[str, int] | None = None,
                    chunk_size: int = 65536) -> ChunkedDesign:
        """Chunks as slices of in-memory (or memory-mapped) arrays; nothing is copied whole."""
        n, J, _ = X.shape
        chosen = np.asarray(chosen)
        if chosen.shape != (n,):
            raise ChoiceDataError(f"`chosen` must have one entry per case ({n}); got shape "
                                  f"{chosen.shape}.")

        def chunks() -> Iterator[DesignChunk]:
            for s in range(0, n, chunk_size):
                e = min(n, s + chunk_size)
                yield DesignChunk(X[s:e], chosen[s:e], None if avail is None else avail[s:e])

        return cls(chunks, param_names, n_alts=J, constants=constants)

    @classmethod
    def from_npy(cls, X_path: str | os.PathLike, chosen_path: str | os.PathLike,
                 param_names: Sequence[str], *, constants: Mapping[str, int] | None = None,
                 chunk_size: int = 65536) -> ChunkedDesign:
        """Chunks read from ``.npy`` files on disk (``X`` ``(n, J, K)`` float64, choices ``(n,)``).

        Each chunk is read into one reused buffer with plain file reads (not a memory map), so
        the process holds at most one chunk of the data whatever the file size.
        """
        X_path, chosen_path = Path(X_path), Path(chosen_path)
        shape, _ = _npy_header(X_path)
        if len(shape) != 3:
            raise ChoiceDataError(f"{X_path} must hold an (n, J, K) array; it holds {shape}.")

        def chunks() -> Iterator[DesignChunk]:
            for Xc, yc in zip(npy_chunks(X_path, chunk_size), npy_chunks(chosen_path,
                                                                          chunk_size)):
                yield DesignChunk(Xc, yc)

        return cls(chunks, param_names, n_alts=shape[1], constants=constants)


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        shape, fortran, dtype = _read_header(fh, version)
    if fortran:
        raise ChoiceDataError(f"{path} is stored in Fortran order; save it C-ordered.")
    return tuple(shape), np.dtype(dtype)


def _read_header(fh, version: tuple[int, int]) -> tuple:
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


def npy_chunks(path: str | os.PathLike, chunk_size: int) -> Iterator[np.ndarray]:
    """Consecutive blocks of at most ``chunk_size`` rows of a C-ordered ``.npy`` file.

    The blocks share one buffer (each is valid until the next is read), so memory stays at one
    block; the data pass through the operating system's page cache, not the process.
    """
    path = Path(path)
    shape, dtype = _npy_header(path)
    row = int(np.prod(shape[1:], dtype=np.int64))
    buf = np.empty(chunk_size * row, dtype=dtype)
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        _read_header(fh, version)  # positions the file at the data
        for s in range(0, shape[0], chunk_size):
            m = min(chunk_size, shape[0] - s)
            view = buf[:m * row]
            got = fh.readinto(memoryview(view).cast("B"))
            if got != view.nbytes:
                raise ChoiceDataError(f"{path} is truncated at row {s}.")
            yield view.reshape((m,) + tuple(shape[1:]))


class _ChunkedObjective:
    """Sums of the fused kernel over one pass of the chunk stream."""

    def __init__(self, design: ChunkedDesign, use_native: bool | None = None) -> None:
        self.design = design
        self.K = len(design.param_names)
        self.n_cases: int | None = None
        self.n_evaluations = 0
        self._ws: KernelWorkspace | None = None
        self._last: tuple | None = None
        self._const = np.array(list(design.constants.values()), dtype=np.intp)
        #: the compiled pass (choicekit.families.mnl.native) on each piece, as MNL.fit uses it;
        #: else the
        #: NumPy kernel
        self.use_native = native.available() if use_native is None else bool(use_native)
        self._native_work: np.ndarray | None = None  # one workspace for every piece

    def _pieces(self) -> Iterator[DesignChunk]:
        cap = self.design.max_cases
        for c in self.design.chunks():
            n = c.X.shape[0]
            for s in range(0, n, cap):  # oversized chunks are processed in pieces
                e = min(n, s + cap)
                yield c if (s == 0 and e == n) else DesignChunk(
                    c.X[s:e], c.chosen[s:e], None if c.avail is None else c.avail[s:e],
                    None if c.offset is None else c.offset[s:e],
                    None if c.weight is None else c.weight[s:e])

    def _fill(self, c: DesignChunk) -> np.ndarray:
        """The chunk's attributes in the kernel's parameter-major layout (constants apart)."""
        n, J, Ks = c.X.shape
        if J != self.design.n_alts or Ks != len(self.design.stored_names):
            raise ChoiceDataError(
                f"A chunk has shape {c.X.shape}; expected (n, {self.design.n_alts}, "
                f"{len(self.design.stored_names)}) for parameters {self.design.stored_names}.")
        return self._ws.transposed(np.asarray(c.X, dtype=np.float64))

    def evaluate(self, theta: np.ndarray, order: int = 2) -> tuple[float, np.ndarray | None,
                                                                    np.ndarray | None]:
        """Log-likelihood, score and Hessian summed over one pass of the stream."""
        key = (np.asarray(theta, dtype=np.float64).tobytes(), order)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        if self._ws is None:
            self._ws = KernelWorkspace(self.design.max_cases, self.design.n_alts,
                                       len(self.design.stored_names))
        with blas_threads(1):  # small products: see choicekit.families.mnl.kernels.blas_threads
            ll, g, H, n_cases = self._pass(theta, order)
        if self.n_cases is None:
            self.n_cases = n_cases
        elif n_cases != self.n_cases:
            raise ChoiceDataError(f"The chunk stream gave {n_cases} cases on this pass and "
                                  f"{self.n_cases} on the first; it must repeat the same data.")
        self.n_evaluations += 1
        self._last = (key, (ll, g, H))
        return ll, g, H

    def _pass(self, theta: np.ndarray, order: int) -> tuple[float, np.ndarray, np.ndarray, int]:
        J = self.design.n_alts
        ll, g, H = 0.0, np.zeros(self.K), np.zeros((self.K, self.K))
        n_cases = 0
        for c in self._pieces():
            n = c.X.shape[0]
            chosen = np.asarray(c.chosen, dtype=np.intp)
            if chosen.shape != (n,) or (n and not 0 <= chosen.min() <= chosen.max() < J):
                raise ChoiceDataError(
                    f"A chunk starting at case {n_cases} has {np.shape(c.chosen)} choices for "
                    f"{n} cases, or a chosen alternative outside 0..{J - 1}: give one 0-based "
                    "alternative index per case.")
            if c.avail is not None and not c.avail[np.arange(n), chosen].all():
                raise ChoiceDataError("A chosen alternative is unavailable in a chunk starting "
                                      f"at case {n_cases}.")
            if self.use_native:
                part = self._native_piece(c, chosen, theta, order)
            else:
                unavail = None if c.avail is None else np.ascontiguousarray(~c.avail.T)
                part = chunk_derivatives(
                    self._fill(c), J, theta, chosen * n + np.arange(n), unavail,
                    None if c.offset is None else np.ascontiguousarray(c.offset.T), c.weight,
                    order, self._ws, constants=self._const)
            ll += part[0]
            if order >= 1:
                g += part[1]
            if order >= 2:
                H += part[2]
            n_cases += n
        return ll, g, H, n_cases

    def _native_piece(self, c: DesignChunk, chosen: np.ndarray, theta: np.ndarray,
                      order: int) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """The compiled pass over one piece, transposed into the workspace first."""
        n = c.X.shape[0]
        Ks, J = len(self.design.stored_names), self.design.n_alts
        if self._native_work is None:
            self._native_work = np.empty(native.NativePass.work_size(
                Ks, J, 0, native.default_chunk_cases(J, Ks)))
        nat = native.NativePass(self._fill(c).reshape(Ks, J, n), chosen, c.avail, c.offset,
                                c.weight, self._const, work=self._native_work)
        return nat.run(theta, order)


@dataclass(frozen=True)
class ChunkedResults:
    """Estimates from :func:`fit_chunked` (classical covariance from the Hessian)."""

    params: pd.Series
    bse: pd.Series
    cov: pd.DataFrame
    llf: float
    nobs: int
    converged: bool
    iterations: int
    evaluations: int
    message: str
    score: np.ndarray
    hessian: np.ndarray


def fit_chunked(design: ChunkedDesign, *, start: Sequence[float] | None = None,
                maxiter: int = 100, gtol: float = 1e-8) -> ChunkedResults:
    """Maximum-likelihood fit of a multinomial logit on a chunked design.

    Parameters
    ----------
    design : ChunkedDesign
    start : sequence of float, optional
        Starting values in ``design.param_names`` order (default zeros).
    maxiter : int
        Maximum Newton iterations (each is one pass over the chunks).
    gtol : float
        Tolerance on the max-norm of the score divided by the number of cases.

    Returns
    -------
    ChunkedResults

    Notes
    -----
    Identical in exact arithmetic to :meth:`choicekit.MNL.fit` with ``method="newton"`` on
    the same data; in floating point the chunk sums are added in another order, which changes
    the estimates by rounding only (``tests/test_kernels_equivalence.py``).
    """
    import warnings

    obj = _ChunkedObjective(design)
    K = obj.K
    theta0 = np.zeros(K) if start is None else np.asarray(start, dtype=np.float64)
    if theta0.shape != (K,):
        raise SpecificationError(f"`start` must have {K} values ({design.param_names}); got "
                                 f"{theta0.size}.")
    ll0, _, _ = obj.evaluate(theta0, 2)  # counts the cases; Newton reuses this pass
    if not np.isfinite(ll0):
        raise ChoiceDataError("The log-likelihood is not finite at the starting values; check "
                              "the data for NaN or infinite values.")
    nr = newton_raphson(obj.evaluate, theta0, float(obj.n_cases), maxiter=maxiter, gtol=gtol)
    names = list(design.param_names)
    if not nr.converged:
        warnings.warn(f"Chunked estimation did not converge after {nr.iterations} iterations: "
                      f"{nr.message}.", ConvergenceWarning, stacklevel=2)
    cov = sym_inverse(-nr.hessian, names, "Hessian of the log-likelihood").inverse
    return ChunkedResults(
        params=pd.Series(nr.theta, index=names, name="params"),
        bse=pd.Series(np.sqrt(np.diag(cov)), index=names, name="bse"),
        cov=pd.DataFrame(cov, index=names, columns=names), llf=float(nr.loglike),
        nobs=int(obj.n_cases), converged=nr.converged, iterations=nr.iterations,
        evaluations=obj.n_evaluations, message=nr.message, score=nr.score,
        hessian=nr.hessian)
