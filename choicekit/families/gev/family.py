"""Nested and cross-nested logit families on the protocol (:mod:`choicekit.families.protocol`).

Both are a GEV kernel in utility space (:mod:`choicekit.families.gev.kernel`) composed with the
linear design: the kernel gives, per case, :math:`\\log P` of the chosen alternative and its
derivatives with respect to the utilities :math:`V`, the nest parameters :math:`\\lambda` and
(cross-nested) the allocations :math:`\\alpha`; the chain rule through :math:`V = X\\beta + o`
and through the parameters' maps (:math:`\\lambda = \\theta_p` or :math:`1/\\theta_p` for
Biogeme's :math:`\\mu`; :math:`\\alpha = a + b\\,\\theta_q`) gives the sums over cases.

Notes
-----
With :math:`g^V_n = \\partial \\log P_{nc_n}/\\partial V_n` (J-vector), :math:`h^{VV}_n` its
Jacobian, :math:`h^{V\\lambda}_n`, :math:`h^{\\lambda\\lambda}_n` the other blocks and
:math:`D = \\partial\\lambda/\\partial\\theta`:

.. math::

    g_\\beta = \\sum_n w_n X_n' g^V_n, \\qquad
    H_{\\beta\\beta} = \\sum_n w_n X_n' h^{VV}_n X_n, \\qquad
    H_{\\beta\\theta} = \\sum_n w_n X_n' h^{V\\lambda}_n D,

    H_{\\theta\\theta} = D' \\Big(\\sum_n w_n h^{\\lambda\\lambda}_n\\Big) D
        + \\mathrm{diag}\\Big(\\sum_n w_n g^\\lambda_n
        \\,\\partial^2\\lambda/\\partial\\theta^2\\Big).

The nested family's fast path is the compiled pass of :mod:`choicekit.families.gev.native`
(:meth:`NestedFamily.fast_sums`), which computes these sums in one call per range of cases;
the NumPy kernel and :meth:`_GevFamily.sums` stay its reference and fallback.
The cross-nested family's Hessian in the allocations is not analytic: the objective takes it
from central differences of the analytic score when allocations are estimated.

References
----------
Ben-Akiva, M. & Bierlaire, M. (1999). Discrete choice methods and their applications to short
term travel decisions. In R. Hall (ed.), *Handbook of Transportation Science*, 5-33.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 4.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from choicekit.design.linear import Design
from choicekit.families.gev import kernel as gk
from choicekit.families.gev import native
from choicekit.families.gev.errors import draw_cnl_errors, draw_nl_errors
from choicekit.families.gev.structure import GevSpec
from choicekit.families.mnl.family import (
    NATIVE_VALUES_PER_THREAD,
    chunk_slices,
    cores,
    sum_over_ranges,
)
from choicekit.families.protocol import ALL, ParamTable, Sums, family_sums, register_family

__all__ = ["NestedFamily", "CrossNestedFamily", "BLOCK_VALUES"]

#: design values (cases x alternatives x parameters) per block. Measured on the 200,000 x 5 x
#: 14 nested logit (a whole fit, 13 evaluations with the Hessian): blocks of 2^16 values 6.7 s,
#: of 2^20 5.1 s (the kernel's per-call overhead is per tree node, not per case)
BLOCK_VALUES = 1 << 20

#: largest dense design (bytes) whose blocks a GEV family keeps between evaluations
CACHE_BYTES = 1 << 28


class _GevFamily:
    """What the nested and cross-nested families share: parameter maps and the chain rule."""

    name: ClassVar[str]
    concave: ClassVar[bool] = False
    unit: ClassVar[str] = "case"

    def __init__(self, design: Design, *, spec: GevSpec, chunk_size: int | None = None,
                 threads: int | None = None) -> None:
        self.design = design
        self.spec = spec
        self.chunk_size = chunk_size
        self.n_design = design.n_params
        self.analytic_hessian = True
        self._blocks: dict[tuple[int | None, int | None], np.ndarray] = {}

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.params.names

    def _block(self, rows: slice) -> np.ndarray:
        """The textbook ``(n, J, K)`` block of the cases ``rows``, kept after its first use
        when the whole dense design fits in :data:`CACHE_BYTES` (it is rebuilt from the
        parameter-major storage at every evaluation otherwise: 0.55 s of a 5.6 s 200k NL fit)."""
        key = (rows.start, rows.stop)
        X = self._blocks.get(key)
        if X is None:
            X = self.design.block(rows)
            d = self.design
            if d.n_cases * d.n_alts * d.n_params * 8 <= CACHE_BYTES:
                self._blocks[key] = X
        return X

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_blocks"] = {}  # a cache
        return state

    @property
    def params(self) -> ParamTable:
        return ParamTable.of_design(self.design).concat(self.spec.params)

    def blocks(self, chunk_size: int | None = None) -> list[slice]:
        """Blocks of :data:`BLOCK_VALUES` design values: the kernel's per-call overhead (a
        few dozen NumPy calls per tree node) is paid once per block."""
        d = self.design
        size = chunk_size or self.chunk_size or max(
            1024, BLOCK_VALUES // (d.n_alts * max(d.n_params, 1)))
        return chunk_slices(d.n_cases, d.n_alts * max(d.n_params, 1), size)

    # ------------------------------------------------------------------ parameter maps
    def lam(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lambdas ``(M,)`` and their first and second derivatives in their parameter."""
        s = self.spec
        idx = s.lam_index
        raw = np.where(idx >= 0, theta[np.maximum(idx, 0)], s.lam_value)
        mu = s.lam_is_mu & (idx >= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(mu, 1.0 / raw, raw)
            d1 = np.where(mu, -1.0 / raw**2, 1.0)
            d2 = np.where(mu, 2.0 / raw**3, 0.0)
        d1 = np.where(idx >= 0, d1, 0.0)
        d2 = np.where(idx >= 0, d2, 0.0)
        return lam, d1, d2

    def alpha(self, theta: np.ndarray) -> np.ndarray | None:
        s = self.spec
        if s.alloc_const is None:
            return None
        vals = np.where(s.alloc_index >= 0, theta[np.maximum(s.alloc_index, 0)], 0.0)
        return s.alloc_const + s.alloc_coef * vals

    def _valid(self, theta: np.ndarray) -> bool:
        lam = self.lam(theta)[0]
        if not (np.isfinite(lam).all() and (lam > 0).all()):
            return False
        a = self.alpha(theta)
        return a is None or bool((a >= 0).all())

    # ------------------------------------------------------------------ the kernel
    def _derivatives(self, V: np.ndarray, avail: np.ndarray, chosen: np.ndarray,
                     theta: np.ndarray, order: int) -> gk.CaseDerivatives:
        raise NotImplementedError

    def _log_proba(self, V: np.ndarray, avail: np.ndarray, theta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def proba(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Choice probabilities ``(n, J)``, 0 where unavailable."""
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        return np.exp(self._log_proba(V, d.avail[rows], theta))

    def sums(self, theta: np.ndarray, rows: slice = ALL, order: int = 2) -> Sums:
        """Log-likelihood, score and (order 2) Hessian over the cases ``rows``."""
        d = self.design
        K = len(theta)
        avail = d.avail[rows]
        n = avail.shape[0]
        if not self._valid(theta):  # outside the domain: a line search steps back
            return Sums(-np.inf, np.zeros(K) if order >= 1 else None,
                        np.zeros((K, K)) if order >= 2 else None, n)
        V = d.utilities(theta[:self.n_design], rows)
        w = None if d.weight is None else d.weight[rows]
        if order == 0:
            lp = self._log_proba(V, avail, theta)[np.arange(n), d.chosen[rows]]
            return Sums(float(lp.sum() if w is None else lp @ w), None, None, n)
        cd = self._derivatives(V, avail, d.chosen[rows], theta, order)
        ll = float(cd.loglike.sum() if w is None else cd.loglike @ w)
        X = self._block(rows)
        Kd = self.n_design
        wv = cd.d_v if w is None else cd.d_v * w[:, None]
        g = np.zeros(K)
        g[:Kd] = np.einsum("nj,njk->k", wv, X)
        lam, d1, d2 = self.lam(theta)
        g_lam = cd.d_nest.sum(axis=0) if w is None else w @ cd.d_nest
        Dl = self._lam_jacobian(d1, K)  # (M, K)
        g += g_lam @ Dl
        Da = None
        if cd.d_alpha is not None:
            Da = self._alpha_jacobian(K)  # (J*M, K)
            ga = (cd.d_alpha.sum(axis=0) if w is None
                  else np.einsum("n,njm->jm", w, cd.d_alpha))
            g += ga.reshape(-1) @ Da
        if order == 1:
            return Sums(ll, g, None, n)
        H = np.zeros((K, K))
        hvv = cd.h_vv if w is None else cd.h_vv * w[:, None, None]
        HX = np.matmul(hvv, X)  # (n, J, Kd)
        H[:Kd, :Kd] = X.reshape(-1, Kd).T @ HX.reshape(-1, Kd)
        hvn = cd.h_vn if w is None else cd.h_vn * w[:, None, None]
        M = hvn.shape[2]
        Hb_lam = X.reshape(-1, Kd).T @ np.ascontiguousarray(hvn).reshape(-1, M)  # (Kd, M)
        cross = Hb_lam @ Dl  # (Kd, K)
        H[:Kd] += cross
        H[:, :Kd] += cross.T
        H_ll = cd.h_nn.sum(axis=0) if w is None else np.einsum("n,nmk->mk", w, cd.h_nn)
        H += Dl.T @ H_ll @ Dl
        H += np.diag(g_lam @ self._lam_jacobian(d2, K))
        H = 0.5 * (H + H.T)
        return Sums(ll, g, H, n)

    def _lam_jacobian(self, dvals: np.ndarray, K: int) -> np.ndarray:
        """``(M, K)``: derivative of each lambda in the parameters (``dvals`` at its own)."""
        idx = self.spec.lam_index
        D = np.zeros((len(idx), K))
        live = idx >= 0
        D[np.flatnonzero(live), idx[live]] = dvals[live]
        return D

    def _alpha_jacobian(self, K: int) -> np.ndarray:
        """``(J*M, K)``: derivative of each allocation in the parameters."""
        s = self.spec
        idx = s.alloc_index.reshape(-1)
        D = np.zeros((idx.size, K))
        live = idx >= 0
        D[np.flatnonzero(live), idx[live]] = s.alloc_coef.reshape(-1)[live]
        return D

    def score_obs(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Per-case (unweighted) scores ``(n, K)``."""
        d = self.design
        n = d.avail[rows].shape[0]
        K = len(theta)
        out = np.empty((n, K))
        start = rows.start or 0
        for sl in chunk_slices(n, d.n_alts * max(d.n_params, 1)):
            sub = slice(start + sl.start, start + sl.stop)
            V = d.utilities(theta[:self.n_design], sub)
            cd = self._derivatives(V, d.avail[sub], d.chosen[sub], theta, 1)
            X = self._block(sub)
            part = np.zeros((sl.stop - sl.start, K))
            part[:, :self.n_design] = np.einsum("nj,njk->nk", cd.d_v, X)
            part += cd.d_nest @ self._lam_jacobian(self.lam(theta)[1], K)
            if cd.d_alpha is not None:
                part += cd.d_alpha.reshape(len(part), -1) @ self._alpha_jacobian(K)
            out[sl] = part
        return out


@register_family
class NestedFamily(_GevFamily):
    """The nested logit (trees of any depth) on a design.

    Notes
    -----
    :math:`P_i = \\prod_{(p \\to c) \\in \\mathrm{path}(i)} \\exp((W_c - W_p)/\\lambda_p)`
    with the inclusive values :math:`W_m = \\lambda_m \\log \\sum_{c \\in m}
    \\exp(W_c/\\lambda_m)` (McFadden 1978; Train 2009, ch. 4). With every
    :math:`\\lambda = 1` it is the MNL.
    """

    name: ClassVar[str] = "NL"

    def __init__(self, design: Design, *, spec: GevSpec, chunk_size: int | None = None,
                 threads: int | None = None, use_native: bool | None = None) -> None:
        super().__init__(design, spec=spec, chunk_size=chunk_size, threads=threads)
        st = spec.struct
        fits = st.n_nests <= native.MAX_NESTS
        #: whether :meth:`fast_sums` runs the compiled pass (:mod:`~choicekit.families.gev.native`)
        self.use_native = fits and (native.available() if use_native is None
                                    else bool(use_native))
        if threads is None:
            values = design.n_cases * design.n_alts * max(len(design.stored), 1)
            threads = min(cores(), max(1, values // NATIVE_VALUES_PER_THREAD))
        self.threads = max(1, int(threads))
        self._native: native.NestedPass | None = None
        self._to_theta: np.ndarray | None = None

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.update(_native=None)  # a ctypes handle and workspaces: rebuilt on use
        return state

    def fast_sums(self, theta: np.ndarray, order: int, free: np.ndarray
                  ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Log-likelihood, score and Hessian over every case for the ``free`` parameters.

        The compiled pass (:class:`~choicekit.families.gev.native.NestedPass`) where it is
        built, in ``threads`` contiguous ranges of cases added in range order; the block sums
        of :meth:`sums` (the reference) otherwise.

        Notes
        -----
        The pass sums over ``u = (beta_stored, one constant per alternative, beta_specific,
        lambda)``; with :math:`A = \\partial u/\\partial\\theta` (constants of one alternative
        share its column, :math:`\\partial\\lambda/\\partial\\theta` from the parameters' maps)
        the score is :math:`A' g_u` and the Hessian
        :math:`A' H_u A + \\mathrm{diag}(g_\\lambda' \\partial^2\\lambda/\\partial\\theta^2)`.
        """
        K = len(theta)
        if not self.use_native:
            total = family_sums(self, theta, order)
            return (total.loglike, None if order < 1 else total.score[free],
                    None if order < 2 else total.hessian[np.ix_(free, free)])
        if not self._valid(theta):  # outside the domain: a line search steps back
            nf = int(free.sum())
            return -np.inf, np.zeros(nf) if order >= 1 else None, \
                np.zeros((nf, nf)) if order >= 2 else None
        d = self.design
        nat = self._native
        if nat is None:
            nat = self._native = native.NestedPass(d, self.spec.struct,
                                                   chunk_cases=self.chunk_size)
        lam, d1, d2 = self.lam(theta)
        A = self._theta_map(K)
        A[nat.L - nat.M:] = self._lam_jacobian(d1, K)
        beta_d = theta[d.stored]
        alt_add = np.bincount(d.constant_alts, weights=theta[d.constants],
                              minlength=d.n_alts) if len(d.constants) else np.zeros(d.n_alts)
        beta_s = theta[d.specific]
        ll, gu, Hu = sum_over_ranges(
            d.n_cases, nat.chunk_cases, self.threads, order,
            lambda first, last, w: nat.run(beta_d, alt_add, beta_s, lam, order, first, last, w))
        if order < 1:
            return ll, None, None
        Af = A[:, free]
        g = gu @ Af
        if order < 2:
            return ll, g, None
        H = Af.T @ Hu @ Af
        g_lam = gu[nat.L - nat.M:]
        H += np.diag((g_lam @ self._lam_jacobian(d2, K))[free])
        return ll, g, 0.5 * (H + H.T)

    def _theta_map(self, K: int) -> np.ndarray:
        """``(L, K)``: the pass's sums' quantities in the parameters, the design's rows filled
        once (the lambdas' rows are the caller's)."""
        if self._to_theta is None or self._to_theta.shape[1] != K:
            d = self.design
            Kd, J, S = len(d.stored), d.n_alts, len(d.specific)
            A = np.zeros((Kd + J + S + self.spec.struct.n_nests, K))
            A[np.arange(Kd), d.stored] = 1.0
            A[Kd + np.asarray(d.constant_alts, dtype=np.intp), d.constants] = 1.0
            A[Kd + J + np.arange(S), d.specific] = 1.0
            self._to_theta = A
        return self._to_theta.copy()

    def _derivatives(self, V, avail, chosen, theta, order):
        return gk.nl_derivatives(V, avail, chosen, self.lam(theta)[0], self.spec.struct,
                                 order=order)

    def _log_proba(self, V, avail, theta):
        return gk.nl_log_proba(V, avail, self.lam(theta)[0], self.spec.struct)

    def dproba(self, theta: np.ndarray, dv: np.ndarray, rows: slice = ALL,
               proba: np.ndarray | None = None) -> np.ndarray:
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        Jac = gk.nl_dproba_dv(V, d.avail[rows], self.lam(theta)[0], self.spec.struct)
        return np.matmul(Jac, dv[:, :, None])[:, :, 0]

    def logsum(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        return np.asarray(gk.nl_logsum(V, d.avail[rows], self.lam(theta)[0], self.spec.struct))

    def simulate(self, theta: np.ndarray, rng: np.random.Generator,
                 rows: slice = ALL) -> np.ndarray:
        """Chosen index per case: argmax of ``V + eps`` with the nested logit's correlated
        extreme-value errors (not a draw from the probabilities)."""
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        U = V + draw_nl_errors(V.shape[0], self.spec.struct, self.lam(theta)[0], rng)
        U[~d.avail[rows]] = -np.inf
        return U.argmax(axis=1)


@register_family
class CrossNestedFamily(_GevFamily):
    """The cross-nested logit on a design.

    Notes
    -----
    Generating function :math:`G(y) = \\sum_m (\\sum_j (\\alpha_{jm} y_j)^{1/\\lambda_m})^
    {\\lambda_m}` (Ben-Akiva & Bierlaire 1999, the form Biogeme uses), so that
    :math:`P_i = \\sum_m P(m) P(i|m)`.
    """

    name: ClassVar[str] = "CNL"

    def __init__(self, design: Design, *, spec: GevSpec, chunk_size: int | None = None,
                 threads: int | None = None) -> None:
        super().__init__(design, spec=spec, chunk_size=chunk_size, threads=threads)
        #: positions in theta of the estimated allocations: their Hessian columns come from
        #: central differences of the analytic score (the kernel's Hessian is exact in V and
        #: lambda only)
        self.fd_hessian_params = np.unique(spec.alloc_index[spec.alloc_index >= 0])

    def _derivatives(self, V, avail, chosen, theta, order):
        return gk.cnl_derivatives(V, avail, chosen, self.lam(theta)[0], self.alpha(theta),
                                  self.spec.struct, order=order)

    def sums(self, theta: np.ndarray, rows: slice = ALL, order: int = 2) -> Sums:
        """As the nested logit's, with the allocation columns of the Hessian from central
        differences of the analytic score on the same cases (2 score passes per estimated
        allocation; step ``1e-5 max(1, |alpha|)``, truncation error O(1e-10) relative)."""
        out = super().sums(theta, rows, order)
        if order < 2 or not len(self.fd_hessian_params) or not np.isfinite(out.loglike):
            return out
        H = out.hessian.copy()
        for q in self.fd_hessian_params:
            h = 1e-5 * max(1.0, abs(theta[q]))
            up, dn = theta.copy(), theta.copy()
            up[q] += h
            dn[q] -= h
            col = (super().sums(up, rows, 1).score - super().sums(dn, rows, 1).score) / (2 * h)
            H[:, q] = col
            H[q, :] = col
        return Sums(out.loglike, out.score, H, out.n_units)

    def _log_proba(self, V, avail, theta):
        return gk.cnl_log_proba(V, avail, self.lam(theta)[0], self.alpha(theta),
                                self.spec.struct)

    def dproba(self, theta: np.ndarray, dv: np.ndarray, rows: slice = ALL,
               proba: np.ndarray | None = None) -> np.ndarray:
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        Jac = gk.cnl_dproba_dv(V, d.avail[rows], self.lam(theta)[0], self.alpha(theta),
                               self.spec.struct)
        return np.matmul(Jac, dv[:, :, None])[:, :, 0]

    def logsum(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        return np.asarray(gk.cnl_logsum(V, d.avail[rows], self.lam(theta)[0],
                                        self.alpha(theta), self.spec.struct))

    def simulate(self, theta: np.ndarray, rng: np.random.Generator,
                 rows: slice = ALL) -> np.ndarray:
        """Chosen index per case: argmax of ``V + eps`` with the cross-nested logit's errors
        (the maximum over nests of independent logistic extreme-value vectors)."""
        d = self.design
        V = d.utilities(theta[:self.n_design], rows)
        U = V + draw_cnl_errors(V.shape[0], self.spec.struct, self.lam(theta)[0],
                                self.alpha(theta), rng)
        U[~d.avail[rows]] = -np.inf
        return U.argmax(axis=1)
