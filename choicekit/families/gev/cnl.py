"""The cross-nested logit kernel (one level of nests with allocations); conventions in
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
    _check_alpha,
    _check_chosen,
    _chunk_inputs,
    _chunks,
    _lse,
    _validate,
)

__all__ = ["cnl_log_proba", "cnl_logsum", "cnl_derivatives", "cnl_dproba_dv"]


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
