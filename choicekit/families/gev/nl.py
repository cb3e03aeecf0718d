"""The nested logit kernel (trees of any depth); conventions in
:mod:`choicekit.families.gev.kernel`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from choicekit.families.gev.common import (
    _LOGMIN,
    CaseDerivatives,
    FloatArray,
    GevStructure,
    _case_first,
    _check_chosen,
    _chunk_inputs,
    _chunks,
    _lse,
    _validate,
)

__all__ = ["nl_log_proba", "nl_logsum", "nl_derivatives", "nl_dproba_dv"]


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
