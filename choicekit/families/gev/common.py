"""What the GEV kernels share: the structure (:class:`GevStructure`), the per-case
derivatives (:class:`CaseDerivatives`), input checks and the masked log-sum-exp; the kernels
are :mod:`choicekit.families.gev.nl` and :mod:`choicekit.families.gev.cnl`, and
:mod:`choicekit.families.gev.kernel` documents the conventions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["CaseDerivatives", "GevStructure", "CHUNK_ELEMS"]

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------
def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class GevStructure:
    """Static description of a GEV (NL or CNL) nesting structure.

    Build it with :meth:`nested` or :meth:`cross_nested`; do not call the constructor directly.

    Attributes
    ----------
    kind : {"nested", "cross_nested"}
        Model family.
    n_alts : int
        Number of alternatives ``J``.
    n_nests : int
        Number of nests ``M`` (the root is not counted).
    parents : ndarray of intp, shape (M,)
        Nested only: parent nest of each nest, ``-1`` for the root.
    alt_nest : ndarray of intp, shape (J,)
        Nested only: nest directly containing each alternative, ``-1`` for the root.

    Notes
    -----
    Internally, tree nodes are numbered ``0..M-1`` for nests and ``M`` for the root.  For each
    node ``q`` the structure stores its alternative children, its nest children and its *local*
    parameter set: the utilities of all alternatives below ``q`` and the ``lam`` of all nests in
    the subtree of ``q`` (itself included), as indices into ``theta = (V, lam)``.
    """

    kind: str
    n_alts: int
    n_nests: int
    parents: np.ndarray = field(repr=False)
    alt_nest: np.ndarray = field(repr=False)
    # derived (nested only) ------------------------------------------------------------------
    alt_children: tuple = field(repr=False, default=())
    nest_children: tuple = field(repr=False, default=())
    alt_under: np.ndarray | None = field(repr=False, default=None)  # (J, M) bool
    local_idx: tuple = field(repr=False, default=())
    alt_pos: tuple = field(repr=False, default=())
    nest_pos: tuple = field(repr=False, default=())
    parent_node: np.ndarray | None = field(repr=False, default=None)  # (M,) parent node id
    alt_parent_node: np.ndarray | None = field(repr=False, default=None)  # (J,)

    # ---------------------------------------------------------------------------------------
    @classmethod
    def nested(cls, n_alts: int, parents: ArrayLike, alt_nest: ArrayLike) -> GevStructure:
        """Nested-logit tree of any depth.

        Parameters
        ----------
        n_alts : int
            Number of alternatives ``J``.
        parents : sequence of int, length M
            Parent nest of nest ``m`` or ``-1`` for the root; topologically ordered
            (``parents[m] < m``).
        alt_nest : sequence of int, length J
            Nest directly containing each alternative, ``-1`` for an alternative alone on the
            root.

        Returns
        -------
        GevStructure

        Raises
        ------
        ValueError
            If the arrays are inconsistent or a nest contains no alternative.
        """
        J = int(n_alts)
        par = np.asarray(parents, dtype=np.intp).reshape(-1)
        an = np.asarray(alt_nest, dtype=np.intp).reshape(-1)
        M = par.size
        if J < 1:
            raise ValueError("n_alts must be >= 1")
        if an.size != J:
            raise ValueError(f"alt_nest must have length {J}, got {an.size}")
        for m in range(M):
            if not (-1 <= par[m] < m):
                raise ValueError(f"parents[{m}]={par[m]}: must be -1 or a smaller nest index")
        if np.any((an < -1) | (an >= M)):
            raise ValueError("alt_nest entries must be -1 or a nest index")
        root = M
        parent_node = np.where(par < 0, root, par)
        alt_parent_node = np.where(an < 0, root, an)
        # nest_under[k, m]: nest k is in the subtree of nest m (k == m included)
        nest_under = np.zeros((M, M), dtype=bool)
        for k in range(M):
            q = k
            while q != root:
                nest_under[k, q] = True
                q = parent_node[q]
        alt_under = np.zeros((J, M), dtype=bool)
        for j in range(J):
            if an[j] >= 0:
                alt_under[j] = nest_under[an[j]]
        if M and np.any(~alt_under.any(axis=0)):
            empty = np.flatnonzero(~alt_under.any(axis=0)).tolist()
            raise ValueError(f"nests {empty} contain no alternative")
        alt_ch, nest_ch, loc, apos, npos = [], [], [], [], []
        for q in range(M + 1):
            alt_ch.append(_frozen(np.flatnonzero(alt_parent_node == q)))
            nest_ch.append(_frozen(np.flatnonzero(parent_node == q)))
            if q < M:
                idx = np.concatenate(
                    [np.flatnonzero(alt_under[:, q]), J + np.flatnonzero(nest_under[:, q])]
                )
            else:
                idx = np.arange(J + M)
            loc.append(_frozen(idx))
        for q in range(M + 1):
            apos.append(_frozen(np.searchsorted(loc[q], alt_ch[q])))
            npos.append(tuple(_frozen(np.searchsorted(loc[q], loc[c])) for c in nest_ch[q]))
        return cls(
            kind="nested",
            n_alts=J,
            n_nests=M,
            parents=_frozen(par),
            alt_nest=_frozen(an),
            alt_children=tuple(alt_ch),
            nest_children=tuple(nest_ch),
            alt_under=_frozen(alt_under),
            local_idx=tuple(loc),
            alt_pos=tuple(apos),
            nest_pos=tuple(npos),
            parent_node=_frozen(parent_node),
            alt_parent_node=_frozen(alt_parent_node),
        )

    @classmethod
    def cross_nested(cls, n_alts: int, n_nests: int) -> GevStructure:
        """Cross-nested logit with one level of ``n_nests`` nests under the root.

        The allocations ``alpha`` (J, M) are passed at evaluation time.

        Parameters
        ----------
        n_alts : int
            Number of alternatives ``J``.
        n_nests : int
            Number of nests ``M``.

        Returns
        -------
        GevStructure
        """
        J, M = int(n_alts), int(n_nests)
        if J < 1 or M < 1:
            raise ValueError("n_alts and n_nests must be >= 1")
        return cls(
            kind="cross_nested",
            n_alts=J,
            n_nests=M,
            parents=_frozen(np.full(M, -1, dtype=np.intp)),
            alt_nest=_frozen(np.full(J, -1, dtype=np.intp)),
        )


@dataclass(frozen=True)
class CaseDerivatives:
    """Per-case log-likelihood of the chosen alternative and its derivatives.

    Attributes
    ----------
    loglike : ndarray, shape (n,)
        ``log P_chosen``.
    d_v : ndarray, shape (n, J)
        ``d log P_chosen / d V``.
    d_nest : ndarray, shape (n, M)
        ``d log P_chosen / d lam``.
    d_alpha : ndarray, shape (n, J, M) or None
        CNL only: ``d log P_chosen / d alpha_jm``; 0 where ``alpha_jm = 0`` or ``j`` is
        unavailable.
    h_vv : ndarray, shape (n, J, J) or None
        ``d^2 log P_chosen / dV_j dV_k`` (order 2).
    h_vn : ndarray, shape (n, J, M) or None
        ``d^2 log P_chosen / dV_j d lam_m`` (order 2).
    h_nn : ndarray, shape (n, M, M) or None
        ``d^2 log P_chosen / d lam_m d lam_k`` (order 2).
    """

    loglike: FloatArray
    d_v: FloatArray
    d_nest: FloatArray
    d_alpha: FloatArray | None = None
    h_vv: FloatArray | None = None
    h_vn: FloatArray | None = None
    h_nn: FloatArray | None = None


# --------------------------------------------------------------------------------------------
# Input checks and helpers.  Internally every per-case array is stored "case-last", i.e. with
# shape (..., n) and the case axis contiguous, so that all reductions over alternatives / nests
# are elementwise operations on long vectors.
# --------------------------------------------------------------------------------------------
_LOGMIN = -1e150  # clamp for log-weights whose weight is exactly 0 (keeps 0 * log 0 = 0)


CHUNK_ELEMS = 1 << 20  # target number of float64 per (case-chunk x Hessian) temporary


def _validate(
    V: ArrayLike, avail: ArrayLike, lam: ArrayLike, struct: GevStructure, kind: str
) -> tuple[FloatArray, NDArray[np.bool_], FloatArray]:
    if struct.kind != kind:
        raise ValueError(f"structure is {struct.kind!r}, expected {kind!r}")
    V = np.asarray(V, dtype=np.float64)
    avail = np.asarray(avail, dtype=bool)
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    J, M = struct.n_alts, struct.n_nests
    if V.ndim != 2 or V.shape[1] != J:
        raise ValueError(f"V must have shape (n, {J}), got {V.shape}")
    if avail.shape != V.shape:
        raise ValueError(f"avail must have shape {V.shape}, got {avail.shape}")
    if lam.size != M:
        raise ValueError(f"lam must have {M} entries, got {lam.size}")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError("all nest parameters lam must be finite and > 0")
    return V, avail, lam


def _chunks(n: int, width: int):
    """Case slices of a size keeping ``width`` floats per case within ``CHUNK_ELEMS``."""
    size = int(min(16384, max(512, CHUNK_ELEMS // max(width, 1))))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _chunk_inputs(
    V: FloatArray, avail: NDArray[np.bool_], s: slice
) -> tuple[FloatArray, NDArray[np.bool_], FloatArray]:
    """Case-last ``VT`` (J, c) sanitised, ``aT`` (J, c) and ``negT`` (0 / -inf) for a chunk."""
    VT = np.ascontiguousarray(V[s].T)
    aT = np.ascontiguousarray(avail[s].T)
    if not np.all(aT.any(axis=0)):
        raise ValueError("every case needs at least one available alternative")
    na = ~aT
    np.copyto(VT, 0.0, where=na)
    negT = np.zeros_like(VT)
    np.copyto(negT, -np.inf, where=na)
    return VT, aT, negT


def _check_chosen(chosen: ArrayLike, n: int, J: int) -> NDArray[np.intp]:
    chosen = np.asarray(chosen, dtype=np.intp).reshape(-1)
    if chosen.size != n:
        raise ValueError(f"chosen must have length {n}")
    if np.any((chosen < 0) | (chosen >= J)):
        raise ValueError("chosen index out of range")
    return chosen


def _check_alpha(alpha: ArrayLike, struct: GevStructure) -> FloatArray:
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.shape != (struct.n_alts, struct.n_nests):
        raise ValueError(f"alpha must have shape {(struct.n_alts, struct.n_nests)}")
    if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
        raise ValueError("alpha must be finite and >= 0")
    return alpha


def _lse(Sm: FloatArray, axis: int = 0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Masked log-sum-exp along ``axis``; masked entries of ``Sm`` are ``-inf``.

    Returns ``(L, pi, logpi)``: ``L`` is ``-inf`` where everything is masked, ``pi`` the
    normalised weights (0 where masked) and ``logpi`` the log-weights (``-inf`` where masked,
    never NaN).
    """
    mx = np.maximum(Sm.max(axis=axis, keepdims=True), -1e300)
    sh = Sm - mx
    ex = np.exp(sh)
    tot = ex.sum(axis=axis, keepdims=True)
    tot1 = np.maximum(tot, 1.0)  # tot >= 1 whenever something is unmasked
    with np.errstate(divide="ignore"):
        L = mx + np.log(tot)
    ltot1 = np.log(tot1)
    return np.squeeze(L, axis), ex / tot1, sh - ltot1


def _case_first(a: FloatArray) -> FloatArray:
    """View of a case-last array with the case axis moved to the front."""
    return np.moveaxis(a, -1, 0)
