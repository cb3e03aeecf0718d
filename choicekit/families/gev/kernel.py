"""Numerical core of nested logit (NL) and cross-nested logit (CNL) models.

All functions work on blocks of ``n`` cases with ``J`` alternatives and are vectorised over
cases; Python loops run only over nests / tree nodes.  Derivatives are exact (analytic) and are
taken in *utility space* (with respect to the utilities ``V``), with respect to the nest
parameters ``lam`` and, for the CNL, with respect to the allocations ``alpha``.

Conventions
-----------
``lam`` is the logsum coefficient (Train / Larch convention), absolute for deeper trees.  The
inclusive value of a nest is ``W_m = lam_m * log sum_{c in children(m)} exp(W_c / lam_m)`` with
``W_c = V_c`` for an alternative.  The root has ``lam = 1``.  Unavailable alternatives contribute
nothing; a nest without an available member drops out of the case.  Unavailable entries of
``log P`` are ``-inf`` and all derivative arrays are zero there.

Parameter ordering used internally for derivatives (and in the flattened Hessian) is
``theta = (V_0, ..., V_{J-1}, lam_0, ..., lam_{M-1})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CaseDerivatives",
    "GevStructure",
    "cnl_derivatives",
    "cnl_dproba_dv",
    "cnl_log_proba",
    "cnl_logsum",
    "nl_derivatives",
    "nl_dproba_dv",
    "nl_log_proba",
    "nl_logsum",
]

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


# --------------------------------------------------------------------------------------------
# Nested logit
# --------------------------------------------------------------------------------------------
@dataclass
class _NLPass:
    W: list  # per node (n,), inclusive value (-inf where the nest is dead)
    pi: list  # per node (C, n) conditional probabilities of the children (alts first)
    logpi: list  # per node (C, n) log pi, -inf where pi == 0 structurally
    lps: list  # per node (C, n) log pi clamped to _LOGMIN (safe for products)
    ent: list  # per node (n,) entropy; equals the direct dW_q / dlam_q
    g: list  # per node (k_q, n) gradient of W_q over its local parameters (order >= 1)
    H: list  # per nest (k_q, k_q, n) Hessian of W_q over local parameters (order 2, no root)
    lam_node: FloatArray  # (M+1,) with 1 for the root


def _nl_pass(VT: FloatArray, negT: FloatArray, lam: FloatArray, st: GevStructure, order: int):
    J, n = VT.shape
    M = st.n_nests
    lam_node = np.append(lam, 1.0)
    W: list = [None] * (M + 1)
    pis: list = [None] * (M + 1)
    lpr: list = [None] * (M + 1)
    lpss: list = [None] * (M + 1)
    ents: list = [None] * (M + 1)
    g: list = [None] * (M + 1)
    H: list = [None] * (M + 1)
    for q in [*range(M - 1, -1, -1), M]:
        lq = lam_node[q]
        a = st.alt_children[q]
        kids = st.nest_children[q]
        na = a.size
        Sm = np.empty((na + kids.size, n))
        if na:
            np.divide(VT[a], lq, out=Sm[:na])
            Sm[:na] += negT[a]
        for ci, c in enumerate(kids):
            np.divide(W[c], lq, out=Sm[na + ci])
        L, pi, logpi = _lse(Sm, 0)
        W[q] = lq * L
        lps = np.maximum(logpi, _LOGMIN)
        ent = -(pi * lps).sum(axis=0)
        pis[q], lpr[q], lpss[q], ents[q] = pi, logpi, lps, ent
        if order < 1:
            continue
        idx = st.local_idx[q]
        k = idx.size
        apos = st.alt_pos[q]
        npos = st.nest_pos[q]
        gq = np.zeros((k, n))
        if na:
            gq[apos] = pi[:na]
        for ci, c in enumerate(kids):
            gq[npos[ci]] += pi[na + ci] * g[c]
        g[q] = gq
        if q == M:
            break
        # gbar = gq without the own-lambda entry (children do not depend on lam_q)
        lp = int(np.searchsorted(idx, J + q))
        if order >= 2:
            inv = 1.0 / lq
            Hq = np.multiply(gq[:, None, :], gq[None, :, :])
            Hq *= -inv
            if na:
                Hq[apos, apos] += pi[:na] * inv
            coef = pi * (lps + ent)
            coef *= -inv  # d^2 W_q / (dlam_q dW_c)
            avec = np.zeros((k, n))
            if na:
                avec[apos] = coef[:na]
            for ci, c in enumerate(kids):
                P = npos[ci]
                gc = g[c]
                blk = np.multiply(gc[:, None, :], gc[None, :, :])
                blk *= inv
                blk += H[c]
                blk *= pi[na + ci]
                Hq[P[:, None], P[None, :]] += blk
                avec[P] += coef[na + ci] * gc
            Hq[lp] += avec
            Hq[:, lp] += avec
            var = (pi * lps * lps).sum(axis=0) - ent * ent
            Hq[lp, lp] += inv * var
            H[q] = Hq
        gq[lp] = ent
    return _NLPass(W, pis, lpr, lpss, ents, g, H, lam_node)


def nl_log_proba(V: ArrayLike, avail: ArrayLike, lam: ArrayLike, struct: GevStructure):
    """Log choice probabilities of the nested logit.

    Parameters
    ----------
    V : ndarray, shape (n, J)
        Systematic utilities.
    avail : ndarray of bool, shape (n, J)
        Availability.
    lam : ndarray, shape (M,)
        Nest (logsum) parameters, absolute, > 0.
    struct : GevStructure
        Built with :meth:`GevStructure.nested`.

    Returns
    -------
    ndarray, shape (n, J)
        ``log P``; ``-inf`` where unavailable.

    Notes
    -----
    ``log P_i = sum_{edges c -> p on the path root -> i} (W_c - W_p) / lam_p``, accumulated
    top-down from the masked log-sum-exp at each node.
    """
    V, avail, lam = _validate(V, avail, lam, struct, "nested")
    n, J = V.shape
    out = np.empty((J, n))
    for s in _chunks(n, 4 * J):
        VT, _aT, negT = _chunk_inputs(V, avail, s)
        ps = _nl_pass(VT, negT, lam, struct, order=0)
        out[:, s] = _nl_all_logp(ps, struct, VT.shape[1])
    return out.T


def _nl_all_logp(ps: _NLPass, st: GevStructure, n: int) -> FloatArray:
    """Case-last (J, n) log-probabilities of all alternatives."""
    M = st.n_nests
    node_lp: list = [None] * (M + 1)
    out = np.empty((st.n_alts, n))
    for q in [M, *range(M)]:  # parents before children
        a = st.alt_children[q]
        na = a.size
        lpq = ps.logpi[q] if q == M else ps.logpi[q] + node_lp[q]
        if na:
            out[a] = lpq[:na]
        for ci, c in enumerate(st.nest_children[q]):
            node_lp[c] = lpq[na + ci]
    return out


def nl_logsum(V: ArrayLike, avail: ArrayLike, lam: ArrayLike, struct: GevStructure):
    """Root logsum ``log G`` of the nested logit.

    Returns
    -------
    ndarray, shape (n,)

    Notes
    -----
    ``W_root = log sum_{c in children(root)} exp(W_c)``; the expected maximum utility equals
    ``W_root`` plus Euler's constant.
    """
    V, avail, lam = _validate(V, avail, lam, struct, "nested")
    n, J = V.shape
    out = np.empty(n)
    for s in _chunks(n, 4 * J):
        VT, _aT, negT = _chunk_inputs(V, avail, s)
        out[s] = _nl_pass(VT, negT, lam, struct, order=0).W[struct.n_nests]
    return out


def nl_derivatives(
    V: ArrayLike,
    avail: ArrayLike,
    chosen: ArrayLike,
    lam: ArrayLike,
    struct: GevStructure,
    order: int = 1,
) -> CaseDerivatives:
    """Log-likelihood of the chosen alternative and its exact derivatives (nested logit).

    Parameters
    ----------
    V, avail, lam, struct
        As in :func:`nl_log_proba`.
    chosen : ndarray of intp, shape (n,)
        Index of the chosen (available) alternative.
    order : {1, 2}
        1: ``loglike, d_v, d_nest``; 2: additionally ``h_vv, h_vn, h_nn``.

    Returns
    -------
    CaseDerivatives
        Arrays of the documented shapes; they may be non-contiguous views (the case axis is
        innermost in memory).

    Notes
    -----
    With ``t_m`` = 1 if nest ``m`` lies on the path of the chosen alternative ``i``,
    ``c_m = 1/lam_{p(m)} - 1/lam_m`` and ``l_p`` the log conditional probability of the path
    child at nest ``p``::

        log P_i = V_i / lam_{p(i)} + sum_m t_m c_m W_m - W_root
        grad    = e_{V_i}/lam_{p(i)} + sum_m t_m c_m g_m - g_root - sum_p l_p/lam_p e_p
        Hess    = sum_m t_m c_m H_m - H_root
                  - sum_p [(u_p - t_p g_p) e_p' + e_p (u_p - t_p g_p)'] / lam_p^2
                  + sum_p 2 l_p / lam_p^2 e_p e_p'

    where ``g_q, H_q`` are the gradient / Hessian of ``W_q`` (forward recursion bottom-up, see
    NOTES.md) and ``u_p`` the gradient of the path child's ``W``.
    """
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2")
    V, avail, lam = _validate(V, avail, lam, struct, "nested")
    n, J = V.shape
    M = struct.n_nests
    D = J + M
    chosen = _check_chosen(chosen, n, J)
    loglike = np.empty(n)
    grad = np.empty((D, n))
    Hf = np.empty((D, D, n)) if order == 2 else None
    for s in _chunks(n, D * D if order == 2 else 4 * D):
        VT, aT, negT = _chunk_inputs(V, avail, s)
        _nl_deriv_chunk(
            VT,
            aT,
            negT,
            chosen[s],
            lam,
            struct,
            order,
            loglike[s],
            grad[:, s],
            None if Hf is None else Hf[:, :, s],
        )
    h_vv = h_vn = h_nn = None
    if order == 2:
        h_vv = _case_first(Hf[:J, :J])
        h_vn = _case_first(Hf[:J, J:])
        h_nn = _case_first(Hf[J:, J:])
    return CaseDerivatives(
        loglike=loglike,
        d_v=grad[:J].T,
        d_nest=grad[J:].T,
        h_vv=h_vv,
        h_vn=h_vn,
        h_nn=h_nn,
    )


def _nl_deriv_chunk(VT, aT, negT, chosen, lam, st, order, ll_out, grad_out, H_out) -> None:
    if not np.all(aT[chosen, np.arange(chosen.size)]):
        raise ValueError("chosen alternative must be available")
    J, n = VT.shape
    M = st.n_nests
    ps = _nl_pass(VT, negT, lam, st, order=order)
    lam_node = ps.lam_node
    rows = np.arange(n)
    t_nest = np.ascontiguousarray(st.alt_under[chosen].T, dtype=np.float64)  # (M, n)
    par_ch = st.alt_parent_node[chosen]
    # log pi of every alternative at its parent, and of every nest at its parent
    lp_alt = np.empty((J, n))
    lp_nest = np.empty((M, n))
    for q in range(M + 1):
        a = st.alt_children[q]
        lp_alt[a] = ps.lps[q][: a.size]
        for ci, c in enumerate(st.nest_children[q]):
            lp_nest[c] = ps.lps[q][a.size + ci]
    lp_alt_ch = lp_alt[chosen, rows]
    ell = np.zeros((M + 1, n))  # log pi of the path child at each node
    for q in range(M + 1):
        ell[q] = np.where(par_ch == q, lp_alt_ch, 0.0)
        for c in st.nest_children[q]:
            ell[q] += t_nest[c] * lp_nest[c]
    ll_out[...] = ell.sum(axis=0)
    grad = grad_out
    grad[...] = 0.0
    grad[chosen, rows] = 1.0 / lam_node[par_ch]
    cms = 1.0 / lam_node[st.parent_node] - 1.0 / lam
    for m in range(M):
        grad[st.local_idx[m]] += (cms[m] * t_nest[m]) * ps.g[m]
    grad -= ps.g[M]
    grad[J:] -= ell[:M] / lam[:, None]
    if order == 2:
        _nl_hessian(ps, st, chosen, t_nest, ell, cms, H_out)


def _nl_hessian(ps: _NLPass, st: GevStructure, chosen, t_nest, ell, cms, out) -> None:
    """Write the case-last (D, D, n) Hessian of log P_chosen over theta = (V, lam) to out."""
    J, M = st.n_alts, st.n_nests
    root = M
    lam = ps.lam_node[:M]
    # -H_root = -[diag(pi_alt) + sum_c pi_c (H_c + g_c g_c') - gbar gbar'] with gbar = g_root
    gr = ps.g[root]
    Hf = np.multiply(gr[:, None, :], gr[None, :, :], out=out)
    a = st.alt_children[root]
    na = a.size
    pi_r = ps.pi[root]
    if na:
        Hf[a, a] -= pi_r[:na]
    root_kids = {int(c): ci for ci, c in enumerate(st.nest_children[root])}
    for m in range(M):
        idx = st.local_idx[m]
        w = cms[m] * t_nest[m]
        gm = ps.g[m]
        if m in root_kids:
            pm = pi_r[na + root_kids[m]]
            blk = ps.H[m] * (w - pm)
            blk -= pm * np.multiply(gm[:, None, :], gm[None, :, :])
        else:
            blk = ps.H[m] * w
        Hf[idx[:, None], idx[None, :]] += blk
    # cross terms of the 1/lam_p factors
    for p in range(M):
        idx = st.local_idx[p]
        ap = st.alt_children[p]
        vec = ps.g[p] * (-t_nest[p])
        if ap.size:
            vec[st.alt_pos[p]] += chosen[None, :] == ap[:, None]
        for ci, c in enumerate(st.nest_children[p]):
            vec[st.nest_pos[p][ci]] += t_nest[c] * ps.g[c]
        vec *= 1.0 / lam[p] ** 2
        Hf[idx, J + p] -= vec
        Hf[J + p, idx] -= vec
        Hf[J + p, J + p] += (2.0 / lam[p] ** 2) * ell[p]


def nl_dproba_dv(V: ArrayLike, avail: ArrayLike, lam: ArrayLike, struct: GevStructure):
    """Jacobian of the NL probabilities with respect to the utilities.

    Returns
    -------
    ndarray, shape (n, J, J)
        ``out[:, i, k] = dP_i / dV_k`` (0 for unavailable ``i`` or ``k``).

    Notes
    -----
    ``dP_i/dV_k = P_i [delta_ik / lam_{p(i)} + sum_{m ancestor of i} c_m P(k|m) - P_k]`` with
    ``c_m = 1/lam_{p(m)} - 1/lam_m`` and ``P(k|m) = dW_m/dV_k`` (0 if ``k`` is not below ``m``).
    """
    V, avail, lam = _validate(V, avail, lam, struct, "nested")
    n, J = V.shape
    res = np.empty((J, J, n))
    for s in _chunks(n, J * J):
        VT, _aT, negT = _chunk_inputs(V, avail, s)
        _nl_dproba_chunk(VT, negT, lam, struct, res[:, :, s])
    return _case_first(res)


def _nl_dproba_chunk(VT, negT, lam, st, out) -> None:
    J, n = VT.shape
    M = st.n_nests
    ps = _nl_pass(VT, negT, lam, st, order=1)
    P = np.exp(_nl_all_logp(ps, st, n))
    out[...] = 0.0
    ar = np.arange(J)
    out[ar, ar] = (1.0 / ps.lam_node[st.alt_parent_node])[:, None]
    for m in range(M):
        cm = 1.0 / ps.lam_node[st.parent_node[m]] - 1.0 / lam[m]
        u = np.flatnonzero(st.alt_under[:, m])
        out[u[:, None], u[None, :]] += cm * ps.g[m][None, : u.size]
    out -= ps.g[M][None, :J]
    out *= P[:, None, :]


# --------------------------------------------------------------------------------------------
# Cross-nested logit
# --------------------------------------------------------------------------------------------
@dataclass
class _CNLPass:
    r: FloatArray  # (J, M, n) P(j | m)
    logr: FloatArray  # (J, M, n) log P(j|m), -inf where not a member / unavailable
    lrs: FloatArray  # (J, M, n) log P(j|m) clamped to _LOGMIN
    ent: FloatArray  # (M, n) entropy of P(.|m)
    logq: FloatArray  # (M, n) log P(m), -inf for dead nests
    q: FloatArray  # (M, n)
    logsum: FloatArray  # (n,)


def _cnl_pass(VT, negT, lam, alpha) -> _CNLPass:
    pos = alpha > 0
    la = np.where(pos, np.log(np.where(pos, alpha, 1.0)), -np.inf)  # (J, M)
    Y = (VT[:, None, :] + la[:, :, None]) / lam[None, :, None]
    Y += negT[:, None, :]
    Im, r, logr = _lse(Y, 0)  # Im: (M, n)
    lrs = np.maximum(logr, _LOGMIN)
    ent = -(r * lrs).sum(axis=0)
    u = lam[:, None] * Im
    logsum, q, logq = _lse(u, 0)
    return _CNLPass(r, logr, lrs, ent, logq, q, logsum)


def cnl_log_proba(
    V: ArrayLike, avail: ArrayLike, lam: ArrayLike, alpha: ArrayLike, struct: GevStructure
):
    """Log choice probabilities of the cross-nested logit.

    Parameters
    ----------
    V : ndarray, shape (n, J)
    avail : ndarray of bool, shape (n, J)
    lam : ndarray, shape (M,)
        Nest parameters, > 0.
    alpha : ndarray, shape (J, M)
        Allocations, >= 0 (0: not a member).
    struct : GevStructure
        Built with :meth:`GevStructure.cross_nested`.

    Returns
    -------
    ndarray, shape (n, J)
        ``log P``; ``-inf`` where unavailable (or in no nest).

    Notes
    -----
    ``y_jm = (log alpha_jm + V_j)/lam_m``, ``I_m = LSE_j y_jm``,
    ``log P(j|m) = y_jm - I_m``, ``log P(m) = lam_m I_m - LSE_m' lam_m' I_m'`` and
    ``log P_j = LSE_m [log P(m) + log P(j|m)]``.
    """
    V, avail, lam = _validate(V, avail, lam, struct, "cross_nested")
    alpha = _check_alpha(alpha, struct)
    n, J = V.shape
    out = np.empty((J, n))
    for s in _chunks(n, 4 * J * struct.n_nests):
        VT, _aT, negT = _chunk_inputs(V, avail, s)
        ps = _cnl_pass(VT, negT, lam, alpha)
        out[:, s], _, _ = _lse(ps.logq[None] + ps.logr, 1)
    return out.T


def cnl_logsum(
    V: ArrayLike, avail: ArrayLike, lam: ArrayLike, alpha: ArrayLike, struct: GevStructure
):
    """Root logsum ``log G = LSE_m lam_m I_m`` of the cross-nested logit, shape (n,)."""
    V, avail, lam = _validate(V, avail, lam, struct, "cross_nested")
    alpha = _check_alpha(alpha, struct)
    n, J = V.shape
    out = np.empty(n)
    for s in _chunks(n, 4 * J * struct.n_nests):
        VT, _aT, negT = _chunk_inputs(V, avail, s)
        out[s] = _cnl_pass(VT, negT, lam, alpha).logsum
    return out


def cnl_derivatives(
    V: ArrayLike,
    avail: ArrayLike,
    chosen: ArrayLike,
    lam: ArrayLike,
    alpha: ArrayLike,
    struct: GevStructure,
    order: int = 1,
) -> CaseDerivatives:
    """Log-likelihood of the chosen alternative and its exact derivatives (cross-nested logit).

    Parameters
    ----------
    V, avail, lam, alpha, struct
        As in :func:`cnl_log_proba`.
    chosen : ndarray of intp, shape (n,)
    order : {1, 2}
        1: ``loglike, d_v, d_nest, d_alpha``; 2: additionally the exact ``h_vv, h_vn, h_nn``
        (second derivatives involving ``alpha`` are not provided).

    Returns
    -------
    CaseDerivatives
        Arrays of the documented shapes; they may be non-contiguous views.

    Notes
    -----
    ``log P_i = LSE_m z_m - LSE_m u_m`` with ``u_m = lam_m I_m`` and
    ``z_m = u_m - I_m + y_im``.  With ``w_m = P(m | i)`` (softmax of ``z``), ``q_m = P(m)``,
    ``r_jm = P(j|m)``, ``E_m`` the entropy of ``r_.m`` and ``delta_jm = log r_jm + E_m``::

        dlogP/dV_j      = sum_m A_jm,  A_jm = w_m [r_jm (1 - 1/lam_m) + [j=i]/lam_m] - q_m r_jm
        dlogP/dalpha_jm = A_jm / alpha_jm
        dlogP/dlam_m    = w_m [E_m - delta_im/lam_m] - q_m E_m

    and the Hessian is ``sum_m w_m (Hz_m + gz_m gz_m') - gz_bar gz_bar'
    - sum_m q_m (Hu_m + gu_m gu_m') + gu_bar gu_bar'`` (see NOTES.md for ``Hz, Hu``).
    """
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2")
    V, avail, lam = _validate(V, avail, lam, struct, "cross_nested")
    alpha = _check_alpha(alpha, struct)
    n, J = V.shape
    M = struct.n_nests
    D = J + M
    chosen = _check_chosen(chosen, n, J)
    loglike = np.empty(n)
    grad = np.empty((D, n))
    d_alpha = np.empty((J, M, n))
    Hf = np.empty((D, D, n)) if order == 2 else None
    for s in _chunks(n, max(D * D, 6 * J * M) if order == 2 else 6 * J * M):
        VT, aT, negT = _chunk_inputs(V, avail, s)
        _cnl_deriv_chunk(
            VT,
            aT,
            negT,
            chosen[s],
            lam,
            alpha,
            order,
            loglike[s],
            grad[:, s],
            d_alpha[:, :, s],
            None if Hf is None else Hf[:, :, s],
        )
    h_vv = h_vn = h_nn = None
    if order == 2:
        h_vv = _case_first(Hf[:J, :J])
        h_vn = _case_first(Hf[:J, J:])
        h_nn = _case_first(Hf[J:, J:])
    return CaseDerivatives(
        loglike=loglike,
        d_v=grad[:J].T,
        d_nest=grad[J:].T,
        d_alpha=_case_first(d_alpha),
        h_vv=h_vv,
        h_vn=h_vn,
        h_nn=h_nn,
    )


def _cnl_deriv_chunk(
    VT, aT, negT, chosen, lam, alpha, order, ll_out, grad_out, da_out, H_out
) -> None:
    J, n = VT.shape
    if not np.all(aT[chosen, np.arange(n)]):
        raise ValueError("chosen alternative must be available")
    ps = _cnl_pass(VT, negT, lam, alpha)
    rows = np.arange(n)
    logr_i = ps.logr[chosen, :, rows].T  # (M, n)
    z = ps.logq + logr_i
    loglike, w, _ = _lse(z, 0)
    if not np.all(np.isfinite(loglike)):
        raise ValueError("chosen alternative belongs to no nest (all alpha zero)")
    onehot = np.zeros((J, n))
    onehot[chosen, rows] = 1.0
    inv = 1.0 / lam
    r, q, E = ps.r, ps.q, ps.ent
    inv_c = inv[:, None]
    gzV = r * (1.0 - inv_c)  # (J, M, n) dz_m/dV_j
    gzV += onehot[:, None, :] * inv_c
    A = w * gzV - q * r
    A.sum(axis=1, out=grad_out[:J])  # d_v (J, n)
    delta_i = np.maximum(logr_i, _LOGMIN) + E  # (M, n) y_im - ybar_m
    gzL = E - delta_i * inv_c  # (M, n) dz_m / dlam_m
    grad_out[J:] = w * gzL - q * E  # d_nest
    inv_alpha = np.where(alpha > 0, 1.0 / np.where(alpha > 0, alpha, 1.0), 0.0)
    np.multiply(A, inv_alpha[:, :, None], out=da_out)
    ll_out[...] = loglike
    if order == 2:
        _cnl_hessian(ps, lam, chosen, onehot, w, gzV, gzL, delta_i, H_out)


def _cnl_hessian(ps: _CNLPass, lam, chosen, onehot, w, gzV, gzL, delta_i, out) -> None:
    """Write the case-last (D, D, n) CNL Hessian of log P_chosen over (V, lam) to out."""
    J, M, n = ps.r.shape
    rows = np.arange(n)
    r, q, E = ps.r, ps.q, ps.ent
    inv = (1.0 / lam)[:, None]  # (M, 1)
    inv2 = inv * inv
    delta = ps.lrs + E  # (J, M, n)
    var = (r * delta * delta).sum(axis=0)  # (M, n)
    Hf = out
    # ---- V-V block:  sum_m gamma_m r_m r_m' - a a' + P P' + diag(sum_m kappa_m r_m)
    #                  + rho e_i' + e_i rho' + sigma e_i e_i'
    kappa = w * (inv - inv2) - q * inv
    gamma = (1.0 - inv) * (w * (1.0 - 2.0 * inv) - q)
    vv = Hf[:J, :J]
    P = (q * r).sum(axis=1)  # (J, n)
    np.multiply(P[:, None, :], P[None, :, :], out=vv)
    a = (w * (1.0 - inv) * r).sum(axis=1)  # (J, n)
    vv -= a[:, None, :] * a[None, :, :]
    for m in range(M):
        rm = r[:, m]
        vv += (gamma[m] * rm)[:, None, :] * rm[None, :, :]
    jj = np.arange(J)
    vv[jj, jj] += (kappa * r).sum(axis=1)
    b = (w * inv).sum(axis=0)  # (n,)
    rho = (w * (1.0 - inv) * inv * r).sum(axis=1) - b * a  # (J, n)
    sigma = (w * inv2).sum(axis=0) - b * b
    vv[:, chosen, rows] += rho
    vv[chosen, :, rows] += rho.T
    vv[chosen, chosen, rows] += sigma
    # ---- V-lam block (J, M, n)
    gzbarL = w * gzL  # (M, n)
    gubarL = q * E
    gzbarV = a + b * onehot  # (J, n)
    vn = w * (-r * delta * inv + r * (delta + 1.0) * inv2 - onehot[:, None, :] * inv2)
    vn += q * r * delta * inv
    vn += w * gzV * gzL - q * r * E
    vn -= gzbarV[:, None, :] * gzbarL[None]
    vn += P[:, None, :] * gubarL[None]
    Hf[:J, J:] = vn
    Hf[J:, :J] = np.swapaxes(vn, 0, 1)
    # ---- lam-lam block (M, M, n)
    nn = Hf[J:, J:]
    np.multiply(gubarL[:, None, :], gubarL[None, :, :], out=nn)
    nn -= gzbarL[:, None, :] * gzbarL[None, :, :]
    mm = np.arange(M)
    nn[mm, mm] += w * (var * (inv - inv2) + 2.0 * delta_i * inv2) - q * var * inv
    nn[mm, mm] += w * gzL * gzL - q * E * E


def cnl_dproba_dv(
    V: ArrayLike, avail: ArrayLike, lam: ArrayLike, alpha: ArrayLike, struct: GevStructure
):
    """Jacobian of the CNL probabilities with respect to the utilities.

    Returns
    -------
    ndarray, shape (n, J, J)
        ``out[:, i, k] = dP_i / dV_k``.

    Notes
    -----
    ``dP_i/dV_k = sum_m q_m (1 - 1/lam_m) r_im r_km + [i=k] sum_m q_m r_im / lam_m - P_i P_k``.
    """
    V, avail, lam = _validate(V, avail, lam, struct, "cross_nested")
    alpha = _check_alpha(alpha, struct)
    n, J = V.shape
    res = np.empty((J, J, n))
    for s in _chunks(n, max(J * J, 4 * J * struct.n_nests)):
        VT, _aT, negT = _chunk_inputs(V, avail, s)
        res[:, :, s] = _cnl_dproba_chunk(VT, negT, lam, alpha)
    return _case_first(res)


def _cnl_dproba_chunk(VT, negT, lam, alpha) -> FloatArray:
    ps = _cnl_pass(VT, negT, lam, alpha)
    J, M, _n = ps.r.shape
    qr = ps.q * ps.r  # (J, M, n) = P(m) P(j|m)
    P = qr.sum(axis=1)
    out = -P[:, None, :] * P[None, :, :]
    c = 1.0 - 1.0 / lam
    for m in range(M):
        out += (c[m] * qr[:, m])[:, None, :] * ps.r[None, :, m]
    jj = np.arange(J)
    out[jj, jj] += (qr / lam[:, None]).sum(axis=1)
    return out
