"""The objective: a family's log-likelihood as a function of the free parameters.

The objective is :math:`f(\\theta) = -\\ell(\\theta) / N` over the free parameters
:math:`\\theta` (fixed parameters are held at their values), with analytic gradient and Hessian.
Its value, gradient and Hessian are the family's additive sums (:mod:`choicekit.families.
protocol`): from the family's fused fast path where it has one (the MNL's compiled pass), else
the family's block sums added in block order, so the result never depends on timing. A family
without an analytic Hessian gets one by central differences of its analytic score.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from choicekit.design.linear import Design
from choicekit.families.mnl.family import (
    DEFAULT_CHUNK_ELEMENTS,
    MNLFamily,
    chunk_slices,
    cores,
)
from choicekit.families.protocol import ParamTable, family_sums, n_units, unit_weight

__all__ = ["Objective", "chunk_slices", "DEFAULT_CHUNK_ELEMENTS", "hessian_from_scores"]

_cores = cores  # the benchmark reads it under this name


def hessian_from_scores(score: Any, beta: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Central differences of an analytic score ``score(beta) -> (n_free,)`` in the free
    parameters, symmetrised: the Hessian of a family that has no analytic one.

    The step is ``1e-5 * max(1, |beta_k|)``: the truncation error is O(h^2) ~ 1e-10 relative
    and the rounding error ~ eps / h ~ 1e-11, both far below the sampling error of the
    standard errors it serves.
    """
    idx = np.flatnonzero(free)
    H = np.empty((len(idx), len(idx)))
    for c, k in enumerate(idx):
        h = 1e-5 * max(1.0, abs(beta[k]))
        up, dn = beta.copy(), beta.copy()
        up[k] += h
        dn[k] -= h
        H[:, c] = (score(up) - score(dn)) / (2 * h)
    return 0.5 * (H + H.T)


class Objective:
    """Log-likelihood of a family as a function of the free parameters.

    Parameters
    ----------
    family : Family or Design
        The model family bound to its design (a bare :class:`Design` means the MNL on it).
    fixed_values : ndarray
        Full parameter vector whose fixed entries are used (free entries ignored).
    chunk_size, threads, use_native :
        Passed to :class:`~choicekit.families.mnl.family.MNLFamily` when ``family`` is a
        design.
    fixed : ndarray of bool, optional
        Which parameters are held (default: the family's fixed mask).
    bounds : bool, default True
        Whether the parameters' bounds apply (an active-set polish drops them).
    """

    def __init__(self, family: Any, fixed_values: np.ndarray,
                 chunk_size: int | None = None, threads: int | None = None,
                 use_native: bool | None = None, *, fixed: np.ndarray | None = None,
                 bounds: bool = True) -> None:
        if isinstance(family, Design):
            family = MNLFamily(family, chunk_size=chunk_size, threads=threads,
                               use_native=use_native)
        self.family = family
        table: ParamTable = family.params
        if fixed is not None:
            table = ParamTable(table.names, table.start, np.asarray(fixed, dtype=bool),
                               table.lower, table.upper)
        if not bounds:
            inf = np.full(len(table), np.inf)
            table = ParamTable(table.names, table.start, table.fixed, -inf, inf)
        self.params = table
        self.free = ~table.fixed
        self.n_free = int(self.free.sum())
        self.fixed_values = np.array(fixed_values, dtype=np.float64)
        #: the likelihood's units: cases, or panel units (the mixed logit's persons)
        self.scale = float(n_units(family))
        self._fast = getattr(family, "fast_sums", None)
        self._key: bytes | None = None
        self._order = -1
        self._val: tuple[float, np.ndarray | None, np.ndarray | None] = (np.nan, None, None)
        self.n_evaluations = 0
        #: derivatives computed with every value: the trust-region methods ask for value,
        #: gradient and Hessian at the same point in turn, so one fused pass serves all three
        self.eager_order = 2

    def __getstate__(self) -> dict[str, Any]:
        # the last evaluation is a cache (and the fast path a bound method of the family)
        state = self.__dict__.copy()
        state.update(_key=None, _order=-1, _val=(np.nan, None, None), _fast=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fast = getattr(self.family, "fast_sums", None)

    @property
    def design(self) -> Design:
        """The family's linear design."""
        return self.family.design

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.params.names

    @property
    def unit_weight(self) -> np.ndarray | None:
        """Weights of the rows of :meth:`score_obs` (case weights, or the family's unit
        weights)."""
        return unit_weight(self.family)

    @property
    def use_native(self) -> bool:
        """Whether the family's compiled fast path computes the sums."""
        return bool(getattr(self.family, "use_native", False))

    @property
    def threads(self) -> int:
        return int(getattr(self.family, "threads", 1))

    def full_params(self, theta: np.ndarray) -> np.ndarray:
        """The full parameter vector with ``theta`` in the free positions."""
        beta = self.fixed_values.copy()
        beta[self.free] = theta
        return beta

    def evaluate(self, theta: np.ndarray, order: int = 2) -> tuple[float, np.ndarray | None,
                                                                    np.ndarray | None]:
        """Log-likelihood, score and Hessian (sums over all cases) at ``theta``."""
        theta = np.asarray(theta, dtype=np.float64)
        key = theta.tobytes()
        if key == self._key and self._order >= order:
            return self._val
        beta = self.full_params(theta)
        if self._fast is not None:
            ll, g, H = self._fast(beta, order, self.free)
        else:
            ll, g, H = self._block_sums(beta, order)
        self.n_evaluations += 1
        self._key, self._order = key, order
        self._val = (ll, g, H)
        return self._val

    def _block_sums(self, beta: np.ndarray, order: int) -> tuple[
            float, np.ndarray | None, np.ndarray | None]:
        """The family's block sums, added in block order, for the free parameters."""
        total = family_sums(self.family, beta, order)
        free = self.free
        g = None if order < 1 else total.score[free]
        if order < 2:
            return total.loglike, g, None
        H = (total.hessian[np.ix_(free, free)] if self.family.analytic_hessian
             else self._hessian_from_scores(beta))
        return total.loglike, g, H

    def _hessian_from_scores(self, beta: np.ndarray) -> np.ndarray:
        """Central differences of the analytic score (free parameters), symmetrised."""
        fam = self.family

        def score(b: np.ndarray) -> np.ndarray:
            g = sum((fam.sums(b, r, 1).score for r in fam.blocks()), np.zeros(len(b)))
            return g[self.free]

        return hessian_from_scores(score, beta, self.free)

    def score_obs(self, theta: np.ndarray) -> np.ndarray:
        """Per-unit (unweighted) scores at ``theta``, shape ``(n_units, n_free)`` (one row per
        case, or per panel unit for a family whose unit is a group)."""
        return self.family.score_obs(self.full_params(theta))[:, self.free]

    def score_blocks(self, theta: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray | None,
                                                                np.ndarray | None]]:
        """The family's per-unit scores one bounded block at a time (a streamed family's
        ``score_blocks``), free parameters only: ``(scores, weight, group)`` per block."""
        free = self.free
        for s, w, g in self.family.score_blocks(self.full_params(theta)):
            yield s[:, free], w, g

    # scipy callbacks on the scaled objective f = -ll / N ---------------------------------
    def fun(self, theta: np.ndarray) -> float:
        ll, _, _ = self.evaluate(theta, order=self.eager_order)
        return -ll / self.scale

    def jac(self, theta: np.ndarray) -> np.ndarray:
        _, g, _ = self.evaluate(theta, order=1)
        return -g / self.scale

    def hess(self, theta: np.ndarray) -> np.ndarray:
        _, _, H = self.evaluate(theta, order=2)
        return -H / self.scale
