"""The mixed logit (random coefficients, simulated maximum likelihood) as a family of the protocol.

A *likelihood layer* around the logit kernel: for unit :math:`u` (a person in a panel, a case
otherwise) with draws :math:`z_{ur}`, :math:`r = 1..R`,

.. math::

    \\ell_{ur} = \\sum_{n \\in u} \\log P_{n c_n}(\\beta(\\theta, z_{ur})), \\qquad
    \\log L_u = \\log \\frac1R \\sum_r e^{\\ell_{ur}},

the simulated log-likelihood is :math:`\\sum_u w_u \\log L_u` and its score is

.. math::

    s_u = \\sum_r \\omega_{ur} \\sum_{n\\in u} \\sum_p \\big(x_{n c_n p} - \\textstyle\\sum_j
    P_{njr} x_{njp}\\big) \\frac{\\partial c_p(\\theta, z_{ur})}{\\partial \\theta},
    \\qquad \\omega_{ur} = e^{\\ell_{ur}} / \\textstyle\\sum_{r'} e^{\\ell_{ur'}}

(the weights :math:`\\omega` are each draw's posterior share, Revelt & Train 2000), with the
slot coefficients :math:`c_p` of :mod:`choicekit.families.mixed.structure`. Slots with a fixed
coefficient enter through :math:`\\bar P_{nj} = \\sum_r \\omega_{ur} P_{njr}` only.

Units are processed in blocks of whole units (:meth:`MixedFamily.unit_blocks`) whose
temporaries are ``(cases x draws x alternatives)`` of at most :data:`BLOCK_ELEMENTS` values:
nothing of size units x draws x alternatives x parameters is ever formed. The objective sums
one block of all cases (:meth:`MixedFamily.blocks`); :meth:`MixedFamily.sums` runs the unit
blocks of the compiled pass (:mod:`choicekit.families.mixed.native`) on the cores. With the
compiled pass the Hessian is analytic (each draw's information in the coefficients, chained to
the parameters: :func:`choicekit.families.mixed.hessian.unit_hessian`); with the NumPy pass
``analytic_hessian`` is False and the objective differentiates the analytic score.

References
----------
McFadden, D. & Train, K. (2000). Mixed MNL models for discrete response. *Journal of Applied
Econometrics* 15(5), 447-470.
Revelt, D. & Train, K. (2000). Customer-specific taste parameters and mixed logit. Working
paper E00-274, UC Berkeley.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 6 and 10.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from choicekit.design.linear import Design
from choicekit.families.mixed import hessian, native
from choicekit.families.mixed.structure import MixedStructure
from choicekit.families.mnl.family import cores, executor
from choicekit.families.protocol import ALL, ParamTable, Sums, register_family
from choicekit.spec.draws import standard_variate

__all__ = ["MixedFamily", "BLOCK_ELEMENTS"]

#: values of the (cases x draws x alternatives) temporaries per block: 2^19 doubles (4 MiB),
#: a few of which live at once
BLOCK_ELEMENTS = 1 << 19

#: values per block of the compiled pass: (cases x draws) times the larger of the alternatives
#: and the per-draw outputs per case (2 x columns; columns^2 with the Hessian). 2^21: 16 MiB
NATIVE_BLOCK_ELEMENTS = 1 << 21

#: (cases x draws x alternatives) values per thread below which a pass runs on one thread
#: (a thread's share of the work should outweigh handing it to the pool, ~50 us)
VALUES_PER_THREAD = 1 << 19

#: design values (cases x alternatives x slots) kept per family for the compiled pass (beyond,
#: each block's design is rebuilt per evaluation)
DESIGN_CACHE_ELEMENTS = 1 << 25


@register_family
class MixedFamily:
    """The mixed logit on a design of slots.

    Parameters
    ----------
    design : Design
        The linear design over the structure's slots; units contiguous in case order.
    structure : MixedStructure
    draws : ndarray, (D, n_units, R)
        Standard variates of every unit.
    case_unit : ndarray of int, (n_cases,)
        Unit (0..n_units-1, non-decreasing) of every case.
    unit : {"group", "case"}
        Whether a unit is a group of cases (panel) or one case.
    unit_weight : ndarray, optional
        Weight of every unit.
    chunk_size : int, optional
        Cases per block (rounded to whole units).
    use_native : bool, optional
        Use the compiled per-unit pass (:mod:`choicekit.families.mixed.native`); by default
        whenever it is built. The NumPy pass is the reference and the fallback.
    threads : int, optional
        Threads of the compiled pass (blocks of units in contiguous groups, added in block
        order, so the sums do not depend on it). Default: the cores, when each gets at least
        :data:`VALUES_PER_THREAD` values; 1 for the NumPy pass.
    """

    name: ClassVar[str] = "MXL"
    concave: ClassVar[bool] = False
    analytic_hessian: bool = False  # per instance: True with the compiled pass

    def __init__(self, design: Design, *, structure: MixedStructure, draws: np.ndarray,
                 case_unit: np.ndarray, unit: str = "group",
                 unit_weight: np.ndarray | None = None, chunk_size: int | None = None,
                 use_native: bool | None = None, threads: int | None = None) -> None:
        self.design = design
        self.structure = structure
        self.draws = np.ascontiguousarray(draws, dtype=np.float64)
        self.case_unit = np.asarray(case_unit, dtype=np.intp)
        self.unit = unit
        self.unit_weight = unit_weight
        self.chunk_size = chunk_size
        n_units = self.draws.shape[1]
        if len(self.case_unit) != design.n_cases or (np.diff(self.case_unit) < 0).any():
            raise ValueError("case_unit must give a non-decreasing unit per case")
        counts = np.bincount(self.case_unit, minlength=n_units)
        self.unit_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        s = structure
        self._fixed = s.fixed_slots
        self._fixed_k = s.lin_k[self._fixed]
        self._rand = s.random_slots
        self.use_native = native.available() if use_native is None else bool(use_native)
        # the compiled pass also gives each draw's information: an analytic Hessian
        self.analytic_hessian = self.use_native
        self._xcache: dict[tuple[int, int], np.ndarray] = {}
        self._xcached = 0
        if threads is None:
            work = design.n_cases * self.n_draws * design.n_alts
            threads = min(cores(), max(1, work // VALUES_PER_THREAD)) if self.use_native else 1
        self.threads = max(1, int(threads))
        self._pass_block_cache: dict[int, list[slice]] = {}
        self._columns: np.ndarray | None = None  # distinct design columns (compiled pass)
        self._column_of: np.ndarray | None = None  # slot -> its distinct column
        self._entries: tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[
            int, int, int, float]]] | None = None  # sparse Jacobian (compiled Hessian)

    # ------------------------------------------------------------------ protocol basics
    @property
    def n_draws(self) -> int:
        return self.draws.shape[2]

    @property
    def n_units(self) -> int:
        return self.draws.shape[1]

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.structure.params.names

    @property
    def params(self) -> ParamTable:
        return self.structure.params

    def blocks(self, chunk_size: int | None = None) -> list[slice]:
        """What the objective sums over: one slice of all the cases. :meth:`sums` splits it
        into :meth:`unit_blocks` itself and runs them on :attr:`threads` threads; with
        ``chunk_size`` (or the family's), the unit blocks themselves."""
        if chunk_size is not None or self.chunk_size is not None:
            return self.unit_blocks(chunk_size)
        return [slice(0, self.design.n_cases)] if self.design.n_cases else []

    def unit_blocks(self, chunk_size: int | None = None) -> list[slice]:
        """Slices of cases holding whole units, each with about :data:`BLOCK_ELEMENTS`
        values of ``(cases x draws x alternatives)`` (or ``chunk_size`` cases)."""
        d = self.design
        per = chunk_size or self.chunk_size or max(
            1, BLOCK_ELEMENTS // max(1, self.n_draws * d.n_alts))
        return self._blocks_of(per)

    def _pass_blocks(self, order: int) -> list[slice]:
        """The blocks of one compiled pass: larger than :meth:`unit_blocks` (the pass keeps
        no (cases x draws x alternatives) temporaries; its outputs are (units x draws x
        columns; the Hessian pass applies the chain rule inside, so its outputs are per unit,
        and its inputs add the draws' rows of the Jacobian), bounded by
        :data:`NATIVE_BLOCK_ELEMENTS`, and at least one per thread."""
        if self.chunk_size is not None:
            return self.unit_blocks()
        key = min(order, 2)
        if key not in self._pass_block_cache:
            U = len(self._distinct_columns()[0])
            R, J = self.n_draws, self.design.n_alts
            rows_a = len(self.structure.draw_names) + len(self._jacobian_entries()[3])
            width = max(J, 2 * U) + (rows_a if order >= 2 else 0)
            per = max(1, NATIVE_BLOCK_ELEMENTS // max(1, R * width))
            n = self.design.n_cases
            nb = -(-n // per)  # blocks, then a multiple of the threads: even shares
            nb = -(-nb // self.threads) * self.threads
            # blocks end at the last unit starting before start + per: pad by a unit's size
            per = max(1, -(-n // nb) + int(np.diff(self.unit_start).max(initial=1)) - 1)
            self._pass_block_cache[key] = self._blocks_of(per)
        return self._pass_block_cache[key]

    def _blocks_of(self, per: int) -> list[slice]:
        out = []
        starts = self.unit_start
        u = 0
        while u < self.n_units:
            c0 = starts[u]
            # the last unit starting before c0 + per (at least one unit)
            v = max(u + 1, int(np.searchsorted(starts, c0 + per, side="right")) - 1)
            v = min(v, self.n_units)
            out.append(slice(int(c0), int(starts[v])))
            u = v
        return out

    def _units_of(self, rows: slice) -> tuple[int, int, int, int]:
        start = 0 if rows.start is None else rows.start
        stop = self.design.n_cases if rows.stop is None else rows.stop
        if stop <= start:
            return start, stop, 0, 0
        return start, stop, int(self.case_unit[start]), int(self.case_unit[stop - 1]) + 1

    # ------------------------------------------------------------------ coefficients
    def _coefficients(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Random slots' coefficients ``(Pr, n_u, R)`` from draws ``z`` ``(D, n_u, R)``."""
        s = self.structure
        out = np.empty((len(self._rand), z.shape[1], z.shape[2]))
        for i, p in enumerate(self._rand):
            if s.kind[p] == 0:
                np.multiply(theta[s.lin_k[p]], z[s.lin_d[p]], out=out[i])
            else:
                a = np.full(z.shape[1:], s.exp_const[p])
                for k, d, c in s.exp_terms[p]:
                    a += c * theta[k] * (z[d] if d >= 0 else 1.0)
                np.exp(a, out=out[i])
        return out

    def _fixed_coefs(self, theta: np.ndarray) -> np.ndarray:
        c = np.zeros(len(self.structure.slot_names))
        c[self._fixed] = theta[self._fixed_k]
        return c

    def _utilities(self, theta: np.ndarray, rows: slice, z: np.ndarray,
                   C: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Utilities ``(m, R, J)`` of the cases ``rows`` (-inf where unavailable) with the
        draws ``z`` of their units, and the random slots' design block ``(m, J, Pr)``."""
        d = self.design
        start, stop, u0, _ = self._units_of(rows)
        sl = slice(start, stop)
        V0 = d.utilities(self._fixed_coefs(theta), sl)  # (m, J), offset included
        V0[~d.avail[sl]] = -np.inf
        R = z.shape[2]
        V = np.repeat(V0[:, None, :], R, axis=1)
        Xr = d.block(sl, params=self._rand)
        if len(self._rand):
            if C is None:
                C = self._coefficients(theta, z)
            cu = self.case_unit[sl] - u0
            for i in range(len(self._rand)):
                x = Xr[:, :, i]
                if not x.any():
                    continue
                V += C[i][cu][:, :, None] * x[:, None, :]
        return V, Xr

    @staticmethod
    def _log_softmax(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(exp(V - max), log-sum)`` over the last axis (V is overwritten)."""
        mx = V.max(axis=2, keepdims=True)
        V -= mx
        np.exp(V, out=V)
        S = V.sum(axis=2, keepdims=True)
        return V, np.log(S) + mx

    # ------------------------------------------------------------------ likelihood
    def _distinct_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The slots' distinct design columns and each slot's column: a normal coefficient
        ``B + S * z`` has two slots on one column (the mean's and the spread's), so the
        compiled pass differentiates each column once."""
        if self._columns is None:
            d = self.design
            reps: list[int] = []
            column_of = np.empty(d.n_params, dtype=np.intp)
            for p in range(d.n_params):
                col = d.column(p)
                hit = next((i for i, q in enumerate(reps) if np.array_equal(d.column(q), col)),
                           None)
                if hit is None:
                    reps.append(p)
                    hit = len(reps) - 1
                column_of[p] = hit
            self._columns = np.array(reps, dtype=np.intp)
            self._column_of = column_of
        assert self._column_of is not None
        return self._columns, self._column_of

    def _design_block(self, start: int, stop: int) -> np.ndarray:
        """The dense design ``(m, J, U)`` of cases ``start:stop`` over the distinct columns
        (:meth:`_distinct_columns`; cached while small)."""
        key = (start, stop)
        X = self._xcache.get(key)
        if X is None:
            X = self.design.block(slice(start, stop), params=self._distinct_columns()[0])
            if self._xcached + X.size <= DESIGN_CACHE_ELEMENTS:
                self._xcache[key] = X
                self._xcached += X.size
        return X

    def _unit_pass(self, theta: np.ndarray, rows: slice, order: int
                   ) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-unit simulated log-likelihood ``(n_u,)`` and (order >= 1) scores ``(n_u, K)``
        of the whole units in ``rows`` (one block): the compiled pass where available, else
        :meth:`_unit_pass_numpy`."""
        if self.use_native:
            return self._unit_pass_native(theta, rows, order)
        return self._unit_pass_numpy(theta, rows, order)

    def _unit_pass_native(self, theta: np.ndarray, rows: slice, order: int
                          ) -> tuple[np.ndarray, np.ndarray | None]:
        d = self.design
        s = self.structure
        start, stop, u0, u1 = self._units_of(rows)
        if self.unit_start[u0] != start or self.unit_start[u1] != stop:
            raise ValueError(f"rows {start}:{stop} do not hold whole units; use "
                             "family.unit_blocks()")
        sl = slice(start, stop)
        z = self.draws[:, u0:u1, :]
        R = z.shape[2]
        C = self._coefficients(theta, z) if len(self._rand) else np.zeros((0, u1 - u0, R))
        V0 = d.utilities(self._fixed_coefs(theta), sl)
        X = self._design_block(start, stop)
        _, col = self._distinct_columns()
        ll_units, WG, _, _ = native.mxl_pass(
            self.unit_start[u0:u1 + 1] - start, X, V0, d.avail[sl], d.chosen[sl],
            col[self._rand], C, R, order >= 1)
        if order < 1:
            return ll_units, None
        # WG (n_u, U, R): the per-draw derivatives in each distinct column's coefficient
        # times the draws' posterior shares
        S = np.zeros((u1 - u0, len(theta)))
        if len(self._fixed):
            np.add.at(S.T, self._fixed_k, WG.sum(axis=2)[:, col[self._fixed]].T)
        for i, p in enumerate(self._rand):
            Gu = WG[:, col[p], :]
            if s.kind[p] == 0:
                S[:, s.lin_k[p]] += np.einsum("ur,ur->u", Gu, z[s.lin_d[p]])
            else:
                GC = Gu * C[i]
                for k, dd, c in s.exp_terms[p]:
                    S[:, k] += c * ((GC * z[dd]).sum(axis=1) if dd >= 0 else GC.sum(axis=1))
        return ll_units, S

    # the analytic Hessian: choicekit.families.mixed.hessian
    def _jacobian_entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[
            int, int, int, float]]]:
        return hessian.jacobian_entries(self)

    def _unit_hessian_native(self, theta: np.ndarray, rows: slice
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-unit log-likelihoods, scores and Hessians of one block from the compiled pass
        (:func:`~choicekit.families.mixed.hessian.unit_hessian`)."""
        return hessian.unit_hessian(self, theta, rows)

    def _unit_hessian_reference(self, theta: np.ndarray, rows: slice
                                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same through the dense Jacobian, its reference
        (:func:`~choicekit.families.mixed.hessian.unit_hessian_reference`)."""
        return hessian.unit_hessian_reference(self, theta, rows)

    def _unit_pass_numpy(self, theta: np.ndarray, rows: slice, order: int
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """The NumPy pass: the reference of the compiled one."""
        d = self.design
        s = self.structure
        start, stop, u0, u1 = self._units_of(rows)
        if self.unit_start[u0] != start or self.unit_start[u1] != stop:
            raise ValueError(f"rows {start}:{stop} do not hold whole units; use "
                             "family.unit_blocks()")
        sl = slice(start, stop)
        m = stop - start
        z = self.draws[:, u0:u1, :]
        C = self._coefficients(theta, z) if len(self._rand) else None
        V, Xr = self._utilities(theta, sl, z, C)
        chosen = d.chosen[sl]
        t = np.arange(m)
        Vc = V[t, :, chosen]  # (m, R) utilities of the chosen alternatives
        E, lse = self._log_softmax(V)  # E: exp(V - max)
        lpc = Vc - lse[:, :, 0]
        local = self.unit_start[u0:u1] - start
        ell = np.add.reduceat(lpc, local, axis=0)  # (n_u, R)
        R = ell.shape[1]
        mx = ell.max(axis=1, keepdims=True)
        w = np.exp(ell - mx)
        tot = w.sum(axis=1, keepdims=True)
        ll_units = (np.log(tot) + mx)[:, 0] - np.log(R)
        if order < 1:
            return ll_units, None
        omega = w / tot  # (n_u, R): posterior share of each draw
        P = E
        P /= P.sum(axis=2, keepdims=True)  # (m, R, J) probabilities per draw
        cu = self.case_unit[sl] - u0
        oc = omega[cu]  # (m, R)
        K = len(theta)
        S = np.zeros((u1 - u0, K))
        if len(self._fixed):
            Xf = d.block(sl, params=self._fixed)  # (m, J, Pf)
            Pbar = np.einsum("mr,mrj->mj", oc, P)
            Q = -Pbar
            Q[t, chosen] += 1.0
            sf = np.einsum("mjp,mj->mp", Xf, Q)
            np.add.at(S.T, self._fixed_k, np.add.reduceat(sf, local, axis=0).T)
        for i, p in enumerate(self._rand):
            x = Xr[:, :, i]
            G = x[t, chosen][:, None] - np.einsum("mj,mrj->mr", x, P)  # (m, R)
            Gu = np.add.reduceat(G, local, axis=0) * omega  # (n_u, R)
            if s.kind[p] == 0:
                S[:, s.lin_k[p]] += (Gu * z[s.lin_d[p]]).sum(axis=1)
            else:
                GC = Gu * C[i]
                for k, dd, c in s.exp_terms[p]:
                    S[:, k] += c * ((GC * z[dd]).sum(axis=1) if dd >= 0 else GC.sum(axis=1))
        return ll_units, S

    def sums(self, theta: np.ndarray, rows: slice = ALL, order: int = 1) -> Sums:
        """Simulated log-likelihood, score and (order 2, compiled pass) the analytic Hessian
        over the whole units in ``rows``."""
        subs = self._sub_blocks(rows, order)
        workers = min(self.threads, len(subs)) if self.use_native else 1
        if workers <= 1:
            parts = [self._block_sums(theta, sub, order) for sub in subs]
        else:  # contiguous groups of blocks; each block's sums kept apart and added in order
            bounds = np.linspace(0, len(subs), workers + 1).astype(int)
            groups = [subs[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            done = executor(workers).map(
                lambda grp: [self._block_sums(theta, sub, order) for sub in grp], groups)
            parts = [p for grp in done for p in grp]
        ll = 0.0
        g = np.zeros(len(theta)) if order >= 1 else None
        H = np.zeros((len(theta), len(theta))) if order >= 2 and self.analytic_hessian else None
        n = 0
        for lb, gb, hb, nb in parts:
            ll += lb
            if g is not None:
                g += gb
            if H is not None:
                H += hb
            n += nb
        return Sums(ll, g, None if H is None else 0.5 * (H + H.T), n)

    def _block_sums(self, theta: np.ndarray, sub: slice, order: int
                    ) -> tuple[float, np.ndarray | None, np.ndarray | None, int]:
        _, _, u0, u1 = self._units_of(sub)
        w = None if self.unit_weight is None else self.unit_weight[u0:u1]
        Hb = None
        if order >= 2 and self.analytic_hessian:
            lu, S, Hu = self._unit_hessian_native(theta, sub)
            Hb = Hu.sum(axis=0) if w is None else np.einsum("u,ukl->kl", w, Hu)
        else:
            lu, S = self._unit_pass(theta, sub, order)
        ll = float(lu.sum() if w is None else lu @ w)
        g = None if order < 1 else (S.sum(axis=0) if w is None else w @ S)
        return ll, g, Hb, u1 - u0

    def _sub_blocks(self, rows: slice, order: int = 1) -> list[slice]:
        """The family's blocks inside ``rows`` (``rows`` holds whole units): the compiled
        pass's (:meth:`_pass_blocks`) or the NumPy pass's (:meth:`unit_blocks`)."""
        start, stop, u0, u1 = self._units_of(rows)
        if stop <= start:
            return []
        if self.unit_start[u0] != start or self.unit_start[u1] != stop:
            raise ValueError(f"rows {start}:{stop} do not hold whole units; use "
                             "family.unit_blocks()")
        blocks = self._pass_blocks(order) if self.use_native else self.unit_blocks()
        # both hold whole units, so do their intersections
        return [slice(max(b.start, start), min(b.stop, stop)) for b in blocks
                if b.start < stop and b.stop > start]

    def score_obs(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Per-unit (unweighted) scores ``(n_units, K)`` of the units in ``rows``."""
        parts = [self._unit_pass(theta, sub, 1)[1] for sub in self._sub_blocks(rows)]
        return np.concatenate(parts) if parts else np.zeros((0, len(theta)))

    def unit_loglike(self, theta: np.ndarray) -> np.ndarray:
        """Simulated log-likelihood of every unit ``(n_units,)`` (unweighted)."""
        return np.concatenate([self._unit_pass(theta, b, 0)[0] for b in self.unit_blocks()])

    # ------------------------------------------------------------------ prediction
    def _proba_blocks(self, rows: slice) -> list[slice]:
        start = 0 if rows.start is None else rows.start
        stop = self.design.n_cases if rows.stop is None else rows.stop
        per = max(1, BLOCK_ELEMENTS // max(1, self.n_draws * self.design.n_alts))
        return [slice(a, min(stop, a + per)) for a in range(start, stop, per)]

    def _draw_proba(self, theta: np.ndarray, sl: slice) -> np.ndarray:
        """Probabilities per draw ``(m, R, J)``."""
        _, _, u0, u1 = self._units_of(sl)
        V, _ = self._utilities(theta, sl, self.draws[:, u0:u1, :])
        E, _ = self._log_softmax(V)
        E /= E.sum(axis=2, keepdims=True)
        return E

    def proba(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Simulated choice probabilities ``(n, J)``: the mean over the unit's draws of the
        logit probabilities (each choice on its own, not conditional on the unit's other
        choices)."""
        return np.concatenate([self._draw_proba(theta, b).mean(axis=1)
                               for b in self._proba_blocks(rows)])

    def dproba(self, theta: np.ndarray, dv: np.ndarray, rows: slice = ALL,
               proba: np.ndarray | None = None) -> np.ndarray:
        """Derivative of the simulated probabilities along ``dv`` ``(n, J)``: the mean over
        draws of :math:`P_r (dV - \\sum_j P_{jr} dV_j)`."""
        start = 0 if rows.start is None else rows.start
        out = []
        for b in self._proba_blocks(rows):
            P = self._draw_proba(theta, b)
            dvb = dv[b.start - start:b.stop - start][:, None, :]
            out.append((P * (dvb - (P * dvb).sum(axis=2, keepdims=True))).mean(axis=1))
        return np.concatenate(out)

    def dproba_design(self, theta: np.ndarray, DX: np.ndarray,
                      doff: np.ndarray | None = None) -> np.ndarray:
        """Derivative ``(n, J)`` of the simulated probabilities along a change of the data
        whose slot multipliers move by ``DX`` ``(n, J, P)`` (and the offset by ``doff``): per
        draw :math:`dV_r = DX \\cdot c(\\theta, z_r) + d_o`, then the mean over the unit's draws
        of :math:`P_r (dV_r - \\sum_j P_{jr} dV_{jr})` (the random coefficients move the
        utilities differently at every draw, so one ``dv`` per case, :meth:`dproba`, cannot)."""
        out = []
        for b in self._proba_blocks(ALL):
            _, _, u0, u1 = self._units_of(b)
            P = self._draw_proba(theta, b)  # (m, R, J)
            Cs = self.draw_coefficients(theta, self.draws[:, u0:u1, :])  # (P, n_u, R)
            cu = self.case_unit[b] - u0
            dV = np.einsum("mjp,pmr->mrj", DX[b], Cs[:, cu, :])
            if doff is not None:
                dV += doff[b][:, None, :]
            out.append((P * (dV - (P * dV).sum(axis=2, keepdims=True))).mean(axis=1))
        return np.concatenate(out) if out else np.zeros((0, self.design.n_alts))

    def logsum(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray:
        """Mean over the unit's draws of :math:`\\log\\sum_j \\exp V_{njr}` (consumer surplus
        with a fixed cost coefficient; with a random one divide per draw, see
        :meth:`draw_logsums`)."""
        return np.concatenate([self.draw_logsums(theta, b).mean(axis=1)
                               for b in self._proba_blocks(rows)])

    def draw_logsums(self, theta: np.ndarray, rows: slice) -> np.ndarray:
        """Logsums per case and draw ``(m, R)``."""
        _, _, u0, u1 = self._units_of(rows)
        V, _ = self._utilities(theta, rows, self.draws[:, u0:u1, :])
        _, lse = self._log_softmax(V)
        return lse[:, :, 0]

    def draw_coefficients(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Every slot's coefficient ``(P, n_u, R)`` at draws ``z`` ``(D, n_u, R)``."""
        P = len(self.structure.slot_names)
        out = np.empty((P,) + z.shape[1:])
        out[self._fixed] = theta[self._fixed_k][:, None, None]
        if len(self._rand):
            out[self._rand] = self._coefficients(theta, z)
        return out

    def simulate(self, theta: np.ndarray, rng: np.random.Generator,
                 rows: slice = ALL) -> np.ndarray:
        """Chosen index per case: each unit draws its coefficients once (fresh standard
        variates from their distributions, not the estimation draws), then every case adds
        iid Gumbel errors and takes the argmax."""
        start, stop, u0, u1 = self._units_of(rows)
        s = self.structure
        u = rng.random((len(s.draw_names), u1 - u0, 1))
        z = np.empty_like(u)
        for k, dist in enumerate(s.draw_dists):
            z[k] = standard_variate(np.clip(u[k], 1e-300, 1 - 1e-16), dist)
        V, _ = self._utilities(theta, slice(start, stop), z)
        U = V[:, 0, :] + rng.gumbel(size=V[:, 0, :].shape)
        U[~self.design.avail[start:stop]] = -np.inf
        return U.argmax(axis=1)
