"""From :class:`~choicekit.spec.nests.Nest` specifications to the arrays a GEV family evaluates.

The nest parameters and estimated allocations are appended to the utilities' parameters: the
family's parameter vector is ``theta = (design parameters, family parameters)``. Several nests
may share one Beta (one parameter). Every check on the structure that a user can get wrong is
made here, with a message naming the nest and the alternative.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from choicekit.exceptions import SpecificationError
from choicekit.families.gev.common import GevStructure
from choicekit.families.protocol import ParamTable
from choicekit.spec.expressions import Beta
from choicekit.spec.nests import Nest, unknown_alternative

__all__ = ["GevSpec", "nested_spec", "cross_nested_spec"]


@dataclass(frozen=True)
class GevSpec:
    """A GEV structure with its parameters mapped into ``theta``.

    Attributes
    ----------
    struct : GevStructure
    nest_names : tuple of str
    lam_index : ndarray of int, (M,)
        Position in ``theta`` of nest ``m``'s parameter, -1 where it is a fixed number.
    lam_is_mu : ndarray of bool, (M,)
        Whether that parameter is Biogeme's ``mu = 1 / lambda``.
    lam_value : ndarray, (M,)
        Lambda of the nests whose parameter is a number.
    alloc_const, alloc_coef : ndarray, (J, M)
        Cross-nested only: ``alpha_jm = const + coef * theta[alloc_index]``.
    alloc_index : ndarray of int, (J, M)
        Position in ``theta`` of the allocation's parameter, -1 for a number.
    params : ParamTable
        The family's own parameters (after the design's).
    """

    struct: GevStructure
    nest_names: tuple[str, ...]
    lam_index: np.ndarray
    lam_is_mu: np.ndarray
    lam_value: np.ndarray
    alloc_const: np.ndarray | None
    alloc_coef: np.ndarray | None
    alloc_index: np.ndarray | None
    params: ParamTable

    @property
    def lam_names(self) -> tuple[str, ...]:
        """Names of the estimated nest parameters (lambda or mu)."""
        return tuple(n for n, k in zip(self.params.names, self._kinds) if k != "alpha")

    _kinds: tuple[str, ...] = ()


class _Params:
    """Collects the family parameters (one per Beta name), after the design's ``offset``."""

    def __init__(self, offset: int, taken: Sequence[str]) -> None:
        self.offset = offset
        self.taken = set(taken)
        self.betas: dict[str, Beta] = {}
        self.kinds: dict[str, str] = {}
        self.bounds: dict[str, tuple[float, float]] = {}

    def add(self, beta: Beta, kind: str, where: str, lo: float = -math.inf,
            hi: float = math.inf) -> int:
        name = beta.name
        if name in self.taken:
            raise SpecificationError(
                f"{where}: parameter {name!r} also appears in the utilities. A nest parameter "
                "or allocation must be a parameter of its own.")
        if name in self.betas:
            old = self.betas[name]
            if (old.value, old.fixed, old.lower, old.upper) != (beta.value, beta.fixed,
                                                                beta.lower, beta.upper):
                raise SpecificationError(
                    f"{where}: parameter {name!r} is given twice with different settings "
                    f"({old!r} and {beta!r}). Use one Beta object.")
            if self.kinds[name] != kind:
                raise SpecificationError(f"{where}: parameter {name!r} is used both as a "
                                         f"{self.kinds[name]} and as a {kind}.")
            lo0, hi0 = self.bounds[name]
            self.bounds[name] = (max(lo0, lo), min(hi0, hi))
        else:
            self.betas[name] = beta
            self.kinds[name] = kind
            self.bounds[name] = (lo, hi)
        return self.offset + list(self.betas).index(name)

    def table(self) -> tuple[ParamTable, tuple[str, ...]]:
        names = tuple(self.betas)
        b = [self.betas[n] for n in names]
        lower = np.array([max(x.lower, self.bounds[n][0]) for n, x in zip(names, b)])
        upper = np.array([min(x.upper, self.bounds[n][1]) for n, x in zip(names, b)])
        return ParamTable(names, np.array([x.value for x in b], dtype=np.float64),
                          np.array([x.fixed for x in b], dtype=bool), lower, upper), tuple(
            self.kinds[n] for n in names)


def _check_nests(nests: Sequence[Nest]) -> list[Nest]:
    if isinstance(nests, Nest):
        nests = [nests]
    nests = list(nests)
    if not nests:
        raise SpecificationError("Give at least one ck.Nest (with no nest the model is the "
                                 "MNL: use ck.MNL).")
    for n in nests:
        if not isinstance(n, Nest):
            raise SpecificationError(f"`nests` must be ck.Nest objects. Got {n!r}.")
    return nests


def _lam_entry(nest: Nest, params: _Params, where: str) -> tuple[int, bool, float]:
    p = nest.parameter
    is_mu = p.kind == "mu"
    if p.beta is None:
        return -1, is_mu, (1.0 / p.value if is_mu else p.value)
    return params.add(p.beta, p.kind, where), is_mu, 1.0


def nested_spec(nests: Sequence[Nest], alternatives: Sequence[Hashable], offset: int,
                taken: Sequence[str]) -> GevSpec:
    """The structure of a nested logit (a tree of any depth).

    Parameters
    ----------
    nests : sequence of Nest
        The top-level nests (sub-nests are members of their parents).
    alternatives : sequence
        The data's alternatives, in design order.
    offset : int
        Number of design parameters (the family's come after them).
    taken : sequence of str
        The design's parameter names.
    """
    top = _check_nests(nests)
    alts = list(alternatives)
    order: list[Nest] = []
    parents: list[int] = []
    seen: set[int] = set()

    def visit(n: Nest, parent: int) -> None:
        if n.allocations is not None:
            raise SpecificationError(
                f"Nest {n.name!r} maps alternatives to allocations: that is a cross-nested "
                "logit (ck.CrossNestedLogit). A nested logit's nest lists its members.")
        if id(n) in seen:
            raise SpecificationError(f"Nest {n.name!r} appears twice in the tree.")
        seen.add(id(n))
        order.append(n)
        parents.append(parent)
        me = len(order) - 1
        for m in n.members:
            if isinstance(m, Nest):
                visit(m, me)

    for n in top:
        visit(n, -1)
    names = [n.name for n in order]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise SpecificationError(f"Nest names must be unique; {dup} appear more than once.")
    alt_nest = np.full(len(alts), -1, dtype=np.intp)
    for m, n in enumerate(order):
        for a in n.members:
            if isinstance(a, Nest):
                continue
            if a not in alts:
                raise unknown_alternative(n.name, a, alts)
            j = alts.index(a)
            if alt_nest[j] >= 0:
                raise SpecificationError(
                    f"Alternative {a!r} is in two nests ({order[alt_nest[j]].name!r} and "
                    f"{n.name!r}). In a nested logit each alternative belongs to one nest; an "
                    "alternative in several nests is a cross-nested logit "
                    "(ck.CrossNestedLogit).")
            alt_nest[j] = m
    params = _Params(offset, taken)
    lam_index, lam_is_mu, lam_value = [], [], []
    for n in order:
        where = f"Nest {n.name!r}"
        n_members = len(n.members)
        p = n.parameter
        if n_members == 1 and not isinstance(n.members[0], Nest) and p.beta is not None \
                and not p.beta.fixed:
            raise SpecificationError(
                f"Nest {n.name!r} holds one alternative ({n.members[0]!r}) and a free "
                f"{p.kind} {p.name!r}: a nest of one alternative is the alternative itself, so "
                f"its parameter is not identified. Fix it (e.g. {p.kind}=1.0) or drop the nest.")
        i, mu, v = _lam_entry(n, params, where)
        lam_index.append(i)
        lam_is_mu.append(mu)
        lam_value.append(v)
    table, kinds = params.table()
    struct = GevStructure.nested(len(alts), parents, alt_nest)
    return GevSpec(struct, tuple(names), np.array(lam_index, dtype=np.intp),
                   np.array(lam_is_mu, dtype=bool), np.array(lam_value), None, None, None,
                   table, kinds)


def cross_nested_spec(nests: Sequence[Nest], alternatives: Sequence[Hashable], offset: int,
                      taken: Sequence[str]) -> GevSpec:
    """The structure of a cross-nested logit (one level of nests with allocations).

    Every alternative must be allocated to some nest, and its allocations must add up to one
    (identically in the parameters, e.g. ``B("A")`` and ``1 - B("A")``): the normalisation of
    Ben-Akiva & Bierlaire (1999) under which the model is consistent with utility maximisation
    (Papola 2004 for the general conditions).
    """
    top = _check_nests(nests)
    alts = list(alternatives)
    J, M = len(alts), len(top)
    names = [n.name for n in top]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise SpecificationError(f"Nest names must be unique; {dup} appear more than once.")
    params = _Params(offset, taken)
    lam_index, lam_is_mu, lam_value = [], [], []
    for n in top:
        p = n.parameter
        if n.allocations is not None and len(n.allocations) == 1 and p.beta is not None \
                and not p.beta.fixed:
            raise SpecificationError(
                f"Nest {n.name!r} holds one alternative and a free {p.kind} {p.name!r}: "
                "(alpha y)^(1/lambda))^lambda = alpha y, so its parameter is not identified. Fix "
                f"it (e.g. {p.kind}=1.0) or add alternatives to the nest.")
        if n.allocations is None:
            raise SpecificationError(
                f"Nest {n.name!r} lists its members without allocations. A cross-nested "
                "logit's nest maps alternatives to allocations, e.g. {'car': 1.0, 'train': "
                "B('ALPHA', 0.5, lower=0, upper=1)}.")
        i, mu, v = _lam_entry(n, params, f"Nest {n.name!r}")
        lam_index.append(i)
        lam_is_mu.append(mu)
        lam_value.append(v)
    const = np.zeros((J, M))
    coef = np.zeros((J, M))
    index = np.full((J, M), -1, dtype=np.intp)
    for m, n in enumerate(top):
        for a, al in n.allocations.items():
            if a not in alts:
                raise unknown_alternative(n.name, a, alts)
            j = alts.index(a)
            const[j, m] = al.const
            if al.beta is not None:
                coef[j, m] = al.coef
                # alpha = const + coef * beta in [0, 1]: the bounds this implies for beta
                ends = sorted(((0.0 - al.const) / al.coef, (1.0 - al.const) / al.coef))
                index[j, m] = params.add(al.beta, "allocation", f"Nest {n.name!r}", *ends)
    table, kinds = params.table()
    start = np.concatenate([np.zeros(offset), table.start])
    alpha0 = const + coef * np.where(index >= 0, start[np.maximum(index, 0)], 0.0)
    for j, a in enumerate(alts):
        in_any = (const[j] != 0) | (coef[j] != 0)
        if not in_any.any():
            raise SpecificationError(
                f"Alternative {a!r} is in no nest. In a cross-nested logit every alternative "
                "must be allocated to at least one nest (a nest of its own with allocation 1 "
                "and a fixed lambda of 1 leaves it as in the MNL).")
        total = alpha0[j].sum()
        by_param: dict[int, float] = {}
        for m in range(M):
            if index[j, m] >= 0:
                by_param[int(index[j, m])] = by_param.get(int(index[j, m]), 0.0) + coef[j, m]
        varying = [table.names[k - offset] for k, c in by_param.items() if abs(c) > 1e-12]
        if abs(total - 1.0) > 1e-9 or varying:
            detail = (f"they depend on {varying}" if varying
                      else f"at the starting values they add up to {total:.6g}")
            raise SpecificationError(
                f"The allocations of alternative {a!r} must add up to 1 whatever the "
                f"parameters; {detail}. Write them as B('ALPHA') and 1 - B('ALPHA'), or as "
                "numbers that add up to 1.")
    struct = GevStructure.cross_nested(J, M)
    return GevSpec(struct, tuple(names), np.array(lam_index, dtype=np.intp),
                   np.array(lam_is_mu, dtype=bool), np.array(lam_value), const, coef, index,
                   table, kinds)
