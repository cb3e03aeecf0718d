"""The multinomial logit on a design streamed in chunks of cases (out of core), as a family.

The log-likelihood, its score and its Hessian are sums over cases, so a Newton iteration needs
only one pass over the cases, in any order and in pieces. :class:`ChunkedDesign` describes
such a stream: a callable that returns a fresh iterable of :class:`DesignChunk` (read from
``.npy`` files on disk, parquet row groups, a database cursor, or slices of an array or memory
map). :class:`StreamedMNLFamily` implements the family protocol
(:mod:`choicekit.families.protocol`) on it: :meth:`~StreamedMNLFamily.fast_sums` is one pass of
the same fused kernel as the in-memory MNL (the compiled :mod:`choicekit.families.mnl.native`
where it is built, else :func:`choicekit.families.mnl.kernels.chunk_derivatives`) with one
reused workspace; :meth:`~StreamedMNLFamily.score_blocks` gives the per-case scores one bounded
piece at a time, so the robust, OPG and cluster meats are summed per piece and no ``(n, K)``
array is ever held. The design is never held whole: memory is bounded by the chunk size.

Alternative-specific constants are not stored in the chunks: they are given as a mapping
``{parameter name: alternative index}`` and the kernel handles them without a design column
(``constants=`` of :func:`choicekit.families.mnl.kernels.chunk_derivatives`), so the data on disk
hold only the attributes and the kernel moves only those.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.families.logit import log_softmax, logsum
from choicekit.families.mnl import native
from choicekit.families.mnl.family import DEFAULT_CHUNK_ELEMENTS
from choicekit.families.mnl.kernels import KernelWorkspace, blas_threads, chunk_derivatives
from choicekit.families.protocol import ALL, ParamTable, Sums

__all__ = ["DesignChunk", "ChunkedDesign", "StreamTotals", "StreamedMNLFamily", "npy_chunks"]

WEIGHT_TYPES = ("sampling", "frequency")


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
    group : ndarray of int, shape (n,), optional
        Cluster of each case (non-negative integer ids) for the cluster covariance.
    """

    X: np.ndarray
    chosen: np.ndarray
    avail: np.ndarray | None = None
    offset: np.ndarray | None = None
    weight: np.ndarray | None = None
    group: np.ndarray | None = None

    def rows(self, s: int, e: int) -> DesignChunk:
        """The cases ``s:e`` of this chunk."""
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[s:e]

        return DesignChunk(self.X[s:e], self.chosen[s:e], cut(self.avail), cut(self.offset),
                           cut(self.weight), cut(self.group))


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
        (:data:`choicekit.families.mnl.family.DEFAULT_CHUNK_ELEMENTS` values), so a piece and
        its temporaries stay in cache whatever size the chunks are read in.
    alternatives : sequence, optional
        Names of the ``J`` alternatives (default ``0..J-1``), for summaries and shares.
    weight_type : {"sampling", "frequency"}, optional
        What the chunks' weights mean; by default inferred on the first pass as
        :class:`~choicekit.ChoiceData` does (``"frequency"`` when every weight is an integer,
        ``"sampling"`` otherwise).
    """

    def __init__(self, chunks: Callable[[], Iterable[DesignChunk]],
                 param_names: Sequence[str], *, n_alts: int,
                 constants: Mapping[str, int] | None = None,
                 max_cases: int | None = None, alternatives: Sequence | None = None,
                 weight_type: str | None = None) -> None:
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
        self.alternatives = (tuple(range(self.n_alts)) if alternatives is None
                             else tuple(alternatives))
        if len(self.alternatives) != self.n_alts:
            raise SpecificationError(f"{len(self.alternatives)} alternative names for "
                                     f"{self.n_alts} alternatives.")
        if weight_type is not None and weight_type not in WEIGHT_TYPES:
            raise SpecificationError(f"`weight_type` must be one of {WEIGHT_TYPES}. Got "
                                     f"{weight_type!r}.")
        self.weight_type = weight_type

    def pieces(self) -> Iterator[DesignChunk]:
        """One pass over the cases in pieces of at most :attr:`max_cases` (oversized chunks are
        cut; the pieces are views)."""
        cap = self.max_cases
        for c in self.chunks():
            n = c.X.shape[0]
            for s in range(0, n, cap):
                e = min(n, s + cap)
                yield c if (s == 0 and e == n) else c.rows(s, e)

    @classmethod
    def from_arrays(cls, X: np.ndarray, chosen: np.ndarray, param_names: Sequence[str], *,
                    avail: np.ndarray | None = None, constants: Mapping[str, int] | None = None,
                    chunk_size: int = 65536, offset: np.ndarray | None = None,
                    weight: np.ndarray | None = None, group: np.ndarray | None = None,
                    **options) -> ChunkedDesign:
        """Chunks as slices of in-memory (or memory-mapped) arrays; nothing is copied whole.

        ``options`` (``alternatives``, ``weight_type``, ``max_cases``) go to the constructor.
        """
        n, J, _ = X.shape
        chosen = np.asarray(chosen)
        if chosen.shape != (n,):
            raise ChoiceDataError(f"`chosen` must have one entry per case ({n}); got shape "
                                  f"{chosen.shape}.")
        whole = DesignChunk(X, chosen, avail, offset, weight, group)

        def chunks() -> Iterator[DesignChunk]:
            for s in range(0, n, chunk_size):
                yield whole.rows(s, min(n, s + chunk_size))

        return cls(chunks, param_names, n_alts=J, constants=constants, **options)

    @classmethod
    def from_npy(cls, X_path: str | os.PathLike, chosen_path: str | os.PathLike,
                 param_names: Sequence[str], *, constants: Mapping[str, int] | None = None,
                 chunk_size: int = 65536, **options) -> ChunkedDesign:
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

        return cls(chunks, param_names, n_alts=shape[1], constants=constants, **options)


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




@dataclass(frozen=True)
class StreamTotals:
    """What one pass learns about the stream besides the likelihood (recorded on the first).

    Attributes
    ----------
    n_cases : int
    weighted : bool
        Whether some chunk carries weights (cases of chunks without weights weigh 1).
    weight_sum, n_positive : float, int
        Sum of the weights and number of cases with a positive weight (``n_cases`` and
        ``n_cases`` unweighted).
    integer_weights : bool
        Whether every weight is an integer (how an unspecified weight type is read).
    llnull : float
        Log-likelihood of equal shares over each case's available alternatives (weighted).
    chosen_counts : ndarray, shape (J,)
        Weighted number of choices of each alternative.
    """

    n_cases: int
    weighted: bool
    weight_sum: float
    n_positive: int
    integer_weights: bool
    llnull: float
    chosen_counts: np.ndarray


class _TotalsCounter:
    """Accumulates :class:`StreamTotals` piece by piece."""

    def __init__(self, J: int) -> None:
        self.n = 0
        self.weighted = False
        self.wsum = 0.0
        self.npos = 0
        self.integer = True
        self.llnull = 0.0
        self.counts = np.zeros(J)

    def add(self, c: DesignChunk, chosen: np.ndarray) -> None:
        n = len(chosen)
        J = self.counts.size
        w = None if c.weight is None else np.asarray(c.weight, dtype=np.float64)
        ll = -np.log(c.avail.sum(axis=1)) if c.avail is not None else np.full(n, -np.log(J))
        if w is None:
            self.wsum += n
            self.npos += n
            self.llnull += float(ll.sum())
        else:
            self.weighted = True
            self.wsum += float(w.sum())
            self.npos += int(np.count_nonzero(w > 0))
            self.integer = self.integer and bool(np.all(w == np.round(w)))
            self.llnull += float(ll @ w)
        self.counts += np.bincount(chosen, weights=w, minlength=J)
        self.n += n

    def totals(self) -> StreamTotals:
        return StreamTotals(self.n, self.weighted, self.wsum, self.npos, self.integer,
                            self.llnull, self.counts)


def _check_piece(c: DesignChunk, design: ChunkedDesign, first_case: int) -> np.ndarray:
    """The piece's choices as indices, after checking shapes and choices."""
    n, J, Ks = c.X.shape
    if J != design.n_alts or Ks != len(design.stored_names):
        raise ChoiceDataError(
            f"A chunk has shape {c.X.shape}; expected (n, {design.n_alts}, "
            f"{len(design.stored_names)}) for parameters {design.stored_names}.")
    chosen = np.asarray(c.chosen, dtype=np.intp)
    if chosen.shape != (n,) or (n and not 0 <= chosen.min() <= chosen.max() < J):
        raise ChoiceDataError(
            f"A chunk starting at case {first_case} has {np.shape(c.chosen)} choices for "
            f"{n} cases, or a chosen alternative outside 0..{J - 1}: give one 0-based "
            "alternative index per case.")
    if c.avail is not None and not c.avail[np.arange(n), chosen].all():
        raise ChoiceDataError("A chosen alternative is unavailable in a chunk starting "
                              f"at case {first_case}.")
    return chosen


class StreamedMNLFamily:
    """The multinomial logit on a :class:`ChunkedDesign`: the family protocol over a stream.

    Every method is one pass over the stream. The sums (:meth:`fast_sums`, :meth:`sums`) hold
    ``O(K^2)``; :meth:`score_blocks` and :meth:`proba_blocks` yield bounded pieces, which is
    how covariances and post-estimation use the stream. :meth:`score_obs`, :meth:`proba`,
    :meth:`logsum` and :meth:`simulate` (the protocol's per-case arrays) concatenate the pieces,
    so they hold ``(n, K)`` or ``(n, J)``: they exist for the protocol, not for large data.

    Parameters
    ----------
    design : ChunkedDesign
    use_native : bool, optional
        The compiled pass (:mod:`choicekit.families.mnl.native`) on each piece, as
        :meth:`choicekit.MNL.fit` uses it; by default whenever it is built.
    """

    name: ClassVar[str] = "MNL"
    concave: ClassVar[bool] = True
    analytic_hessian: ClassVar[bool] = True
    unit: ClassVar[str] = "case"
    threads: int = 1

    def __init__(self, design: ChunkedDesign, *, use_native: bool | None = None) -> None:
        if not isinstance(design, ChunkedDesign):
            raise SpecificationError("StreamedMNLFamily needs a ChunkedDesign. Got "
                                     f"{type(design).__name__}.")
        self.design = design
        self.K = len(design.param_names)
        self.n_stored = len(design.stored_names)
        self.use_native = native.available() if use_native is None else bool(use_native)
        self._const = np.array(list(design.constants.values()), dtype=np.intp)
        self._ws: KernelWorkspace | None = None
        self._native_work: np.ndarray | None = None  # one workspace for every piece
        self._last: tuple | None = None
        self._totals: StreamTotals | None = None
        #: passes over the stream so far (each costs a read of the data)
        self.n_passes = 0

    # ------------------------------------------------------------------ protocol basics
    @property
    def param_names(self) -> tuple[str, ...]:
        return self.design.param_names

    @property
    def params(self) -> ParamTable:
        """All parameters free, unbounded, starting at 0."""
        K = self.K
        return ParamTable(self.param_names, np.zeros(K), np.zeros(K, dtype=bool),
                          np.full(K, -np.inf), np.full(K, np.inf))

    @property
    def totals(self) -> StreamTotals:
        """Counts of the stream (cases, weights, equal-shares log-likelihood, choices), from
        the first pass (one order-0 pass at zero if none ran yet)."""
        if self._totals is None:
            self.fast_sums(np.zeros(self.K), 0, np.ones(self.K, dtype=bool))
        assert self._totals is not None
        return self._totals

    @property
    def n_units(self) -> int:
        """Number of cases (the likelihood's units)."""
        return self.totals.n_cases

    @property
    def weight_type(self) -> str | None:
        """The design's weight type, or the one inferred from the weights (None unweighted)."""
        t = self.totals
        if not t.weighted:
            return None
        if self.design.weight_type is not None:
            return self.design.weight_type
        return "frequency" if t.integer_weights else "sampling"

    def blocks(self, chunk_size: int | None = None) -> list[slice]:
        """One block: the whole stream (a pass sums it piece by piece)."""
        return [ALL]

    @staticmethod
    def _whole(rows: slice) -> None:
        if rows != ALL:
            raise SpecificationError("A streamed design is read in passes over all its cases; "
                                     "rows other than all of them are not addressable.")

    # ------------------------------------------------------------------ the fused pass
    def fast_sums(self, theta: np.ndarray, order: int, free: np.ndarray
                  ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Log-likelihood, score and Hessian over one pass of the stream, for the ``free``
        parameters (a boolean mask)."""
        ll, g, H = self._full_sums(theta, order)
        free = np.asarray(free, dtype=bool)
        if free.all():
            return ll, g, H
        return (ll, None if g is None else g[free],
                None if H is None else H[np.ix_(free, free)])

    def sums(self, theta: np.ndarray, rows: slice = ALL, order: int = 2) -> Sums:
        """The same pass as :class:`Sums` (all parameters)."""
        self._whole(rows)
        ll, g, H = self._full_sums(theta, order)
        return Sums(ll, g if order >= 1 else None, H if order >= 2 else None, self.n_units)

    def _full_sums(self, theta: np.ndarray, order: int) -> tuple[
            float, np.ndarray | None, np.ndarray | None]:
        theta = np.asarray(theta, dtype=np.float64)
        key = theta.tobytes()
        if self._last is not None and self._last[0] == key and self._last[1] >= order:
            return self._last[2]
        if self._ws is None:
            self._ws = KernelWorkspace(self.design.max_cases, self.design.n_alts, self.n_stored)
        with blas_threads(1):  # small products: see choicekit.families.mnl.kernels.blas_threads
            ll, g, H = self._pass(theta, order)
        self.n_passes += 1
        out = (ll, g if order >= 1 else None, H if order >= 2 else None)
        self._last = (key, order, out)
        return out

    def _pass(self, theta: np.ndarray, order: int) -> tuple[float, np.ndarray, np.ndarray]:
        J = self.design.n_alts
        ll, g, H = 0.0, np.zeros(self.K), np.zeros((self.K, self.K))
        counter = _TotalsCounter(J) if self._totals is None else None
        n_cases = 0
        for c in self.design.pieces():
            n = c.X.shape[0]
            chosen = _check_piece(c, self.design, n_cases)
            if counter is not None:
                counter.add(c, chosen)
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
        self._count(n_cases, counter)
        return ll, g, H

    def _count(self, n_cases: int, counter: _TotalsCounter | None) -> None:
        """Record the first pass's totals; later passes must see the same number of cases."""
        if counter is not None:
            self._totals = counter.totals()
        elif n_cases != self._totals.n_cases:
            raise ChoiceDataError(f"The chunk stream gave {n_cases} cases on this pass and "
                                  f"{self._totals.n_cases} on the first; it must repeat the "
                                  "same data.")

    def _fill(self, c: DesignChunk) -> np.ndarray:
        """The chunk's attributes in the kernel's parameter-major layout (constants apart)."""
        return self._ws.transposed(np.asarray(c.X, dtype=np.float64))

    def _native_piece(self, c: DesignChunk, chosen: np.ndarray, theta: np.ndarray,
                      order: int) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """The compiled pass over one piece, transposed into the workspace first."""
        n = c.X.shape[0]
        Ks, J = self.n_stored, self.design.n_alts
        if self._native_work is None:
            self._native_work = np.empty(native.NativePass.work_size(
                Ks, J, 0, native.default_chunk_cases(J, Ks)))
        nat = native.NativePass(self._fill(c).reshape(Ks, J, n), chosen, c.avail, c.offset,
                                c.weight, self._const, work=self._native_work)
        return nat.run(theta, order)

    # ------------------------------------------------------------------ bounded pieces
    def _utilities(self, c: DesignChunk, theta: np.ndarray) -> np.ndarray:
        Ks = self.n_stored
        V = np.asarray(c.X, dtype=np.float64) @ theta[:Ks]
        if self._const.size:
            cv = np.zeros(self.design.n_alts)
            np.add.at(cv, self._const, theta[Ks:])
            V += cv
        if c.offset is not None:
            V += c.offset
        return V

    def proba_blocks(self, theta: np.ndarray) -> Iterator[tuple[DesignChunk, np.ndarray]]:
        """One pass: each piece with its probabilities ``(m, J)`` (0 where unavailable)."""
        theta = np.asarray(theta, dtype=np.float64)
        first = 0
        for c in self.design.pieces():
            _check_piece(c, self.design, first)
            first += c.X.shape[0]
            yield c, np.exp(log_softmax(self._utilities(c, theta), available=c.avail))
        self.n_passes += 1

    def score_blocks(self, theta: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray | None,
                                                                np.ndarray | None]]:
        """One pass: per-case (unweighted) scores of each piece ``(m, K)`` with its weights
        and cluster ids (None where the chunk has none). Memory: one piece."""
        Ks = self.n_stored
        n_cases = 0
        for c, P in self.proba_blocks(theta):
            n = len(P)
            chosen = np.asarray(c.chosen, dtype=np.intp)
            X = np.asarray(c.X, dtype=np.float64)
            s = np.empty((n, self.K))
            rows = np.arange(n)
            s[:, :Ks] = X[rows, chosen] - np.einsum("nj,njk->nk", P, X, optimize=True)
            for k, a in enumerate(self._const):
                s[:, Ks + k] = (chosen == a) - P[:, a]
            n_cases += n
            yield s, c.weight, c.group
        if self._totals is not None:
            self._count(n_cases, None)

    # ------------------------------------------------------------------ per-case arrays
    def score_obs(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Per-case (unweighted) scores ``(n, K)``: :meth:`score_blocks` concatenated (holds
        ``(n, K)``; covariances use the blocks)."""
        self._whole(rows)
        return np.concatenate([s for s, _, _ in self.score_blocks(theta)])

    def proba(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Choice probabilities ``(n, J)`` (holds ``(n, J)``)."""
        self._whole(rows)
        return np.concatenate([P for _, P in self.proba_blocks(theta)])

    def dproba(self, theta: np.ndarray, dv: np.ndarray, rows: slice = ALL,
               proba: np.ndarray | None = None) -> np.ndarray:
        """:math:`dP_{nk} = P_{nk}(dV_{nk} - \\sum_j P_{nj} dV_{nj})`."""
        P = self.proba(theta, rows) if proba is None else proba
        return P * (dv - (P * dv).sum(axis=1, keepdims=True))

    def logsum(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """:math:`\\log\\sum_{j\\in A_n} \\exp V_{nj}` per case."""
        self._whole(rows)
        theta = np.asarray(theta, dtype=np.float64)
        return np.concatenate([logsum(self._utilities(c, theta), available=c.avail)
                               for c in self.design.pieces()])

    def simulate(self, theta: np.ndarray, rng: np.random.Generator,
                 rows: slice = ALL) -> np.ndarray:
        """Chosen index per case: argmax over available alternatives of ``V + iid Gumbel``."""
        self._whole(rows)
        theta = np.asarray(theta, dtype=np.float64)
        out = []
        for c in self.design.pieces():
            U = self._utilities(c, theta) + rng.gumbel(size=(c.X.shape[0], self.design.n_alts))
            if c.avail is not None:
                U[~c.avail] = -np.inf
            out.append(U.argmax(axis=1))
        return np.concatenate(out)
