"""The model-family protocol: what every family (MNL, nested, cross-nested, ...) computes.

A family is bound to one :class:`~choicekit.design.linear.Design` (the linear utilities
``V = X beta + offset`` of its cases) and owns the parameter vector ``theta`` of the model:
the design's parameters first, then the family's own (nest parameters, allocations, ...).
Everything it computes is either a per-case array or an additive sum over a block of cases,
so the estimation layer can sum blocks in memory, over threads, from a stream of chunks or
over distributed partitions, and always reduce them in a fixed order.

Estimation, inference, post-estimation and simulation are written against this protocol and
never against a concrete family: a new family is new files plus one registration
(:data:`FAMILIES`).

Notes
-----
All derivatives are with respect to the family's full parameter vector :math:`\\theta`
(fixed parameters included; the objective picks the free ones). With weights :math:`w_n`:

.. math::

    \\ell(\\theta) = \\sum_n w_n \\log P_{n c_n}(\\theta), \\qquad
    g = \\sum_n w_n s_n, \\qquad s_n = \\partial \\log P_{n c_n} / \\partial \\theta,

and :math:`H = \\partial^2 \\ell / \\partial\\theta\\partial\\theta'` where the family has it
analytically (else the objective uses BHHH or quasi-Newton updates).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from choicekit.design.linear import Design

__all__ = ["Sums", "ParamTable", "Family", "ALL", "FAMILIES", "register_family", "family_sums",
           "family_proba", "family_logsum", "n_units", "unit_weight", "unit_codes"]

#: every case of the design
ALL = slice(None)


@dataclass(frozen=True)
class Sums:
    """Additive sums of one block of cases (or of a whole design).

    Blocks add elementwise (:meth:`__add__`); the objective adds them in block order so that the
    result does not depend on timing or partitioning.
    """

    loglike: float
    score: np.ndarray | None  # (K,)
    hessian: np.ndarray | None  # (K, K)
    n_units: int

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.loglike + other.loglike,
                    None if self.score is None else self.score + other.score,
                    None if self.hessian is None else self.hessian + other.hessian,
                    self.n_units + other.n_units)


@dataclass(frozen=True)
class ParamTable:
    """The parameter vector of a family: names, start values, fixed mask and bounds."""

    names: tuple[str, ...]
    start: np.ndarray
    fixed: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of_design(cls, design: Design) -> ParamTable:
        return cls(design.param_names, design.start, design.fixed, design.lower, design.upper)

    @property
    def free(self) -> np.ndarray:
        return ~self.fixed

    @cached_property
    def has_bounds(self) -> bool:
        """Whether some free parameter has a finite bound."""
        free = ~self.fixed
        return bool(np.isfinite(self.lower[free]).any() or np.isfinite(self.upper[free]).any())

    def __len__(self) -> int:
        return len(self.names)

    def concat(self, other: ParamTable) -> ParamTable:
        return ParamTable(self.names + other.names, *(
            np.concatenate([getattr(self, f), getattr(other, f)])
            for f in ("start", "fixed", "lower", "upper")))


@runtime_checkable
class Family(Protocol):
    """A model family bound to a design.

    Attributes
    ----------
    name : str
        Short name shown in summaries (``"MNL"``, ``"NL"``, ``"CNL"``).
    concave : bool
        Whether the log-likelihood is concave in ``theta`` (Newton by default) or not (trust
        region with the exact Hessian, or BHHH/BFGS, by default).
    analytic_hessian : bool
        Whether :meth:`sums` gives the exact Hessian.
    unit : str
        ``"case"``, or ``"group"`` for panel likelihoods (``nobs`` and the robust meat count
        units). A family whose likelihood terms are not the cases (the panel mixed logit) also
        has ``n_units`` (int), ``unit_weight`` (``(n_units,)`` or None) and ``case_unit``
        (``(n_cases,)``, the non-decreasing unit of every case): :meth:`sums` and
        :meth:`score_obs` then work on whole units (``rows`` from :meth:`blocks` hold whole
        units), :meth:`score_obs` has one row per unit, and :func:`n_units`,
        :func:`unit_weight`, :func:`unit_codes` read them (case families need none of them).
        A family over a stream of chunks (:class:`~choicekit.families.mnl.streamed.
        StreamedMNLFamily`) has ``n_units`` too, and ``score_blocks(theta)``: the per-unit
        scores one bounded piece at a time with their weights and cluster ids, from which
        the covariances sum their meats piece by piece (no ``(n, K)`` array), and ``totals``
        (:class:`~choicekit.families.mnl.streamed.StreamTotals`: counts, weight sums, the
        equal-shares log-likelihood) in place of the design's arrays.
    design : Design
    param_names : tuple of str
        The full parameter vector's names: the design's, then the family's own.
    """

    name: ClassVar[str]
    concave: ClassVar[bool]
    analytic_hessian: ClassVar[bool]
    unit: ClassVar[str]
    design: Design

    @property
    def param_names(self) -> tuple[str, ...]: ...

    @property
    def params(self) -> ParamTable: ...

    def blocks(self, chunk_size: int | None = None) -> list[slice]: ...

    def sums(self, theta: np.ndarray, rows: slice, order: int) -> Sums: ...

    def score_obs(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray: ...

    def proba(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray: ...

    def dproba(self, theta: np.ndarray, dv: np.ndarray, rows: slice = ALL,
               proba: np.ndarray | None = None) -> np.ndarray: ...

    def logsum(self, theta: np.ndarray, rows: slice = ALL) -> np.ndarray: ...

    def simulate(self, theta: np.ndarray, rng: np.random.Generator,
                 rows: slice = ALL) -> np.ndarray: ...


#: registered families by name (the one registration line a new family adds)
FAMILIES: dict[str, Any] = {}


def register_family(cls: type) -> type:
    """Class decorator: register a family under its ``name`` (the conformance suite runs every
    registered family)."""
    FAMILIES[cls.name] = cls
    return cls


def family_sums(family: Family, theta: np.ndarray, order: int) -> Sums:
    """The family's sums over every case, its blocks added in block order (so the result does
    not depend on timing). A family without an analytic Hessian gives order 1 at most (the
    caller takes the Hessian from differences of the score)."""
    if not family.analytic_hessian:
        order = min(order, 1)
    total: Sums | None = None
    for rows in family.blocks():
        part = family.sums(theta, rows, order)
        total = part if total is None else total + part
    assert total is not None
    return total


def family_proba(family: Family, theta: np.ndarray) -> np.ndarray:
    """Probabilities ``(n_cases, n_alts)`` of every case of a family's design, block by block
    (bounded temporaries)."""
    d = family.design
    P = np.empty((d.n_cases, d.n_alts))
    for rows in family.blocks():
        P[rows] = family.proba(theta, rows)
    return P


def family_logsum(family: Family, theta: np.ndarray) -> np.ndarray:
    """The family's logsum (expected maximum utility up to a constant) of every case."""
    out = np.empty(family.design.n_cases)
    for rows in family.blocks():
        out[rows] = family.logsum(theta, rows)
    return out


def n_units(family: Family) -> int:
    """Number of likelihood terms (units): the cases, or the family's ``n_units``."""
    if hasattr(family, "n_units"):
        return int(family.n_units)
    return int(family.design.n_cases)


def unit_weight(family: Family) -> np.ndarray | None:
    """Weights of the likelihood's units: the case weights, or the family's ``unit_weight``."""
    if hasattr(family, "case_unit"):
        return family.unit_weight
    return family.design.weight


def unit_codes(family: Family, case_codes: np.ndarray) -> np.ndarray:
    """Cluster codes per unit from cluster codes per case (the same for a case family).

    Raises
    ------
    ValueError
        A unit whose cases lie in several clusters (clusters must nest the units).
    """
    cu = getattr(family, "case_unit", None)
    if cu is None:
        return case_codes
    n = n_units(family)
    first = np.full(n, -1, dtype=np.intp)
    first[cu[::-1]] = case_codes[::-1]
    if (first[cu] != case_codes).any():
        bad = int(np.unique(cu[first[cu] != case_codes]).size)
        raise ValueError(
            f"{bad} units (panel groups) have cases in several clusters; the clusters of a "
            "panel likelihood must hold whole units (cluster on the group or coarser).")
    return np.unique(first, return_inverse=True)[1].astype(np.intp)
