"""The analytic Hessian of the mixed logit's simulated log-likelihood, per unit.

With :math:`g_r = J_r^T G_r` the score of draw :math:`r` (:math:`G_r` its derivatives in the
distinct design columns' coefficients, :math:`J_r` their Jacobian in the parameters) and
:math:`M_r` its information in the coefficients,

.. math::

    H_u = \\sum_r \\omega_r \\big(g_r g_r^T - J_r^T M_r J_r
    + \\sum_p G_{rp} \\partial^2 c_p\\big) - s_u s_u^T,
    \\qquad s_u = \\sum_r \\omega_r g_r,

with the draws' posterior shares :math:`\\omega_r` and the second derivatives of the
nonlinear (lognormal) coefficients in the last sum. :func:`unit_hessian` lets the compiled
pass (:mod:`choicekit.families.mixed.native`) apply the chain rule itself from a sparse
Jacobian (:func:`jacobian_entries`), unit by unit; :func:`unit_hessian_reference` forms the
dense Jacobian ``(n_u, R, U, K)`` in NumPy from the pass's per-draw information and is its
reference (tested equal). Functions of a
:class:`~choicekit.families.mixed.family.MixedFamily`, whose methods call them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from choicekit.families.mixed import native

if TYPE_CHECKING:
    from choicekit.families.mixed.family import MixedFamily

__all__ = ["jacobian_entries", "unit_hessian", "unit_hessian_reference", "dense_jacobian",
           "add_exp_curvature"]


def dense_jacobian(fam: MixedFamily, theta: np.ndarray, z: np.ndarray,
                   C: np.ndarray) -> np.ndarray:
    """``(n_u, R, U, K)``: derivative of each distinct column's coefficient at each draw
    in the parameters."""
    s = fam.structure
    cols, col = fam._distinct_columns()
    n_u, R = z.shape[1], z.shape[2]
    Jm = np.zeros((n_u, R, len(cols), len(theta)))
    for p in fam._fixed:
        Jm[:, :, col[p], s.lin_k[p]] += 1.0
    for i, p in enumerate(fam._rand):
        if s.kind[p] == 0:
            Jm[:, :, col[p], s.lin_k[p]] += z[s.lin_d[p]]
        else:
            for k, dd, c in s.exp_terms[p]:
                Jm[:, :, col[p], k] += c * C[i] * (z[dd] if dd >= 0 else 1.0)
    return Jm


def jacobian_entries(fam: MixedFamily) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                               list[tuple[int, int, int, float]]]:
    """The sparse Jacobian of the distinct columns' coefficients in the parameters, for
    the compiled Hessian pass: entries ``(column, parameter, row of A)`` with row -1 for a
    constant 1 (a fixed slot), row ``d`` for draw ``d`` (a linear random slot), and rows
    after the draws for the lognormal terms, listed as ``(entry, random slot index i,
    draw or -1, multiplier c)``: their row is ``c * C_i * z_d``."""
    if fam._entries is None:
        s = fam.structure
        _, col = fam._distinct_columns()
        ec: list[int] = []
        ep: list[int] = []
        ea: list[int] = []
        extra: list[tuple[int, int, int, float]] = []
        D = len(s.draw_names)
        for p in fam._fixed:
            ec.append(int(col[p]))
            ep.append(int(s.lin_k[p]))
            ea.append(-1)
        for i, p in enumerate(fam._rand):
            if s.kind[p] == 0:
                ec.append(int(col[p]))
                ep.append(int(s.lin_k[p]))
                ea.append(int(s.lin_d[p]))
            else:
                for k, dd, c in s.exp_terms[p]:
                    extra.append((len(ec), i, int(dd), float(c)))
                    ec.append(int(col[p]))
                    ep.append(int(k))
                    ea.append(D + len(extra) - 1)
        fam._entries = (np.array(ec, dtype=np.int64), np.array(ep, dtype=np.int64),
                         np.array(ea, dtype=np.int64), extra)
    return fam._entries


def _block_inputs(fam: MixedFamily, theta: np.ndarray, rows: slice) -> tuple:
    """What both Hessian routes read of one block of whole units: its first case, its case
    slice, its units ``u0..u1``, their draws ``z``, the random coefficients ``C (Pr, n_u, R)``,
    the fixed part of the utilities ``V0`` and the design block ``X``."""
    start, stop, u0, u1 = fam._units_of(rows)
    sl = slice(start, stop)
    z = fam.draws[:, u0:u1, :]
    C = fam._coefficients(theta, z) if len(fam._rand) else np.zeros((0, u1 - u0, z.shape[2]))
    V0 = fam.design.utilities(fam._fixed_coefs(theta), sl)
    return start, sl, u0, u1, z, C, V0, fam._design_block(start, stop)


def unit_hessian(fam: MixedFamily, theta: np.ndarray, rows: slice
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-unit log-likelihoods, scores ``(n_u, K)`` and Hessians ``(n_u, K, K)`` of one
    block from the compiled pass, the chain rule applied inside it unit by unit
    (:func:`native.mxl_hessian_pass`, sparse Jacobian :func:`jacobian_entries`); the
    lognormal coefficients' second derivatives are added here. The same sums as
    :func:`unit_hessian_reference`, which forms the dense Jacobian, to rounding."""
    d = fam.design
    s = fam.structure
    start, sl, u0, u1, z, C, V0, X = _block_inputs(fam, theta, rows)
    R, K = z.shape[2], len(theta)
    _, col = fam._distinct_columns()
    ec, ep, ea, extra = jacobian_entries(fam)
    rows_a = [z] + [(c * C[i] * (z[dd] if dd >= 0 else 1.0))[None] for _, i, dd, c in extra]
    A = np.concatenate(rows_a) if extra else z
    ll_units, S, H, G, ell = native.mxl_hessian_pass(
        fam.unit_start[u0:u1 + 1] - start, X, V0, d.avail[sl], d.chosen[sl],
        col[fam._rand], C, R, K, ec, ep, ea, A)
    if any(s.kind[p] == 1 for p in fam._rand):
        w = np.exp(ell - ell.max(axis=1, keepdims=True))
        omega = w / w.sum(axis=1, keepdims=True)
        add_exp_curvature(fam, H, theta, z, C, G, omega)
    return ll_units, S, H


def add_exp_curvature(fam: MixedFamily, H: np.ndarray, theta: np.ndarray, z: np.ndarray,
                      C: np.ndarray, G: np.ndarray, omega: np.ndarray) -> None:
    """Add :math:`\\sum_r \\omega_r G_{rp} \\partial^2 c_p` of the lognormal slots (``G``
    unweighted ``(n_u, U, R)``)."""
    s = fam.structure
    _, col = fam._distinct_columns()
    K = H.shape[1]
    for i, p in enumerate(fam._rand):
        if s.kind[p] != 1:
            continue
        a = np.zeros((z.shape[1], z.shape[2], K))
        for k, dd, c in s.exp_terms[p]:
            a[:, :, k] += c * (z[dd] if dd >= 0 else 1.0)
        wv = omega * G[:, col[p], :] * C[i]
        H += np.einsum("ur,urk,url->ukl", wv, a, a)


def unit_hessian_reference(fam: MixedFamily, theta: np.ndarray, rows: slice
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-unit log-likelihoods, scores ``(n_u, K)`` and Hessians ``(n_u, K, K)`` of one
    block, the reference of :func:`unit_hessian`: the module's formula with the dense
    Jacobian ``(n_u, R, U, K)`` (:func:`dense_jacobian`) and the per-draw information
    ``M_r`` of the compiled pass."""
    d = fam.design
    start, sl, u0, u1, z, C, V0, X = _block_inputs(fam, theta, rows)
    R, K, n_u = z.shape[2], len(theta), u1 - u0
    cols, col = fam._distinct_columns()
    U = len(cols)
    ll_units, G, M, ell = native.mxl_pass(
        fam.unit_start[u0:u1 + 1] - start, X, V0, d.avail[sl], d.chosen[sl],
        col[fam._rand], C, R, True, True)
    w = np.exp(ell - ell.max(axis=1, keepdims=True))
    omega = w / w.sum(axis=1, keepdims=True)  # (n_u, R)
    Jm = dense_jacobian(fam, theta, z, C)  # (n_u, R, U, K)
    Gt = np.ascontiguousarray(G.transpose(0, 2, 1))  # (n_u, R, U)
    gr = np.einsum("urc,urck->urk", Gt, Jm)  # per-draw scores (n_u, R, K)
    S = np.einsum("ur,urk->uk", omega, gr)
    Mf = np.ascontiguousarray(M.transpose(0, 3, 1, 2))  # (n_u, R, U, U), lower filled
    Mf = Mf + np.swapaxes(np.tril(Mf, -1), 2, 3)
    T = np.matmul(Mf.reshape(n_u * R, U, U), Jm.reshape(n_u * R, U, K)).reshape(
        n_u, R * U, K)
    Jw = (Jm * omega[:, :, None, None]).reshape(n_u, R * U, K)
    H = -np.matmul(Jw.transpose(0, 2, 1), T)
    grw = gr * omega[:, :, None]
    H += np.matmul(grw.transpose(0, 2, 1), gr)
    add_exp_curvature(fam, H, theta, z, C, G, omega)
    H -= S[:, :, None] * S[:, None, :]
    return ll_units, S, H
