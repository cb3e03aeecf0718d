"""Nests: the family structure of nested and cross-nested logit models.

A :class:`Nest` names a group of alternatives that share an unobserved component of utility,
and its nest parameter: ``lam`` (the logsum coefficient :math:`\\lambda`, Train / mlogit /
Larch) or ``mu`` (Biogeme's :math:`\\mu = 1/\\lambda`). Either is a
:class:`~choicekit.Beta` (estimated, fixed or bounded) or a number (fixed). For a nested logit
the members are alternatives or other nests (trees of any depth, with absolute lambdas:
:math:`0 < \\lambda_{child} \\le \\lambda_{parent} \\le 1` is consistent with utility
maximisation); for a cross-nested logit the members map alternatives to allocations
:math:`\\alpha_{jm}` (a number, a Beta, or ``1 - Beta``).

This module only describes and checks the structure; the families in
:mod:`choicekit.families.gev` evaluate it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from choicekit._validation import suggest
from choicekit.exceptions import SpecificationError
from choicekit.spec.expressions import Beta, _Const, as_utility

__all__ = ["Nest", "NestParameter", "Allocation", "nest_parameter", "allocation"]


@dataclass(frozen=True)
class NestParameter:
    """A nest's parameter: a Beta (estimated or fixed) or a fixed number, as ``lam`` or
    ``mu`` (``lam = 1 / mu``)."""

    beta: Beta | None
    value: float
    kind: str  # "lam" or "mu"

    @property
    def name(self) -> str | None:
        return None if self.beta is None else self.beta.name


@dataclass(frozen=True)
class Allocation:
    """An allocation :math:`\\alpha = a + b\\,\\beta`: a number (``beta`` None) or linear in one
    Beta (``B("A")`` or ``1 - B("A")``)."""

    const: float
    coef: float
    beta: Beta | None


def nest_parameter(name: str, lam: Any, mu: Any) -> NestParameter:
    """Check and normalise a nest's ``lam``/``mu`` argument."""
    if (lam is None) == (mu is None):
        raise SpecificationError(
            f"Nest {name!r}: give exactly one of `lam` (the logsum coefficient, e.g. "
            f"B('LAMBDA_{name.upper()}', 1.0, lower=0.01, upper=1.0)) and `mu` (Biogeme's "
            "1 / lambda).")
    kind, x = ("lam", lam) if lam is not None else ("mu", mu)
    if isinstance(x, Beta):
        v = float(x.value)
        if not (math.isfinite(v) and v > 0):
            raise SpecificationError(
                f"Nest {name!r}: the starting value of {x.name!r} is {v}; a nest parameter "
                f"must be positive (e.g. {x.name}=1.0, the MNL).")
        if x.lower is not None and math.isfinite(x.lower) and x.lower <= 0 and not x.fixed:
            raise SpecificationError(
                f"Nest {name!r}: the lower bound of {x.name!r} is {x.lower}; a nest parameter "
                "must stay positive (use e.g. lower=0.01).")
        return NestParameter(x, v, kind)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
        raise SpecificationError(
            f"Nest {name!r}: `{kind}` must be a Beta or a positive number. Got {x!r}.")
    return NestParameter(None, float(x), kind)


def allocation(nest: str, alt: Hashable, x: Any) -> Allocation:
    """An allocation from a number, a Beta or an expression ``a + b * Beta``."""
    if isinstance(x, bool):
        x = float(x)
    if isinstance(x, (int, float)):
        if not (math.isfinite(x) and 0 <= x <= 1):
            raise SpecificationError(
                f"Nest {nest!r}: the allocation of {alt!r} is {x}; allocations lie in [0, 1].")
        return Allocation(float(x), 0.0, None)
    try:
        u = as_utility(x)
    except SpecificationError:
        u = None
    if u is not None and len(u.terms) == 1 and (u.offset is None or isinstance(u.offset,
                                                                                   _Const)):
        (beta, mult), = u.terms.values()
        if isinstance(mult, _Const):
            const = 0.0 if u.offset is None else float(u.offset.value)
            return Allocation(const, float(mult.value), beta)
    raise SpecificationError(
        f"Nest {nest!r}: the allocation of {alt!r} must be a number, a Beta or `1 - Beta` "
        f"(linear in one parameter). Got {x!r}.")


class Nest:
    """A nest of a nested or cross-nested logit.

    Parameters
    ----------
    name : str
        The nest's name (shown in messages).
    members : sequence or mapping
        Nested logit: alternatives and other :class:`Nest` objects (a tree). Cross-nested
        logit: ``{alternative: allocation}`` with allocations a number, a Beta or
        ``1 - Beta``.
    lam : Beta or float, optional
        The logsum coefficient :math:`\\lambda` (1 is the MNL).
    mu : Beta or float, optional
        Biogeme's :math:`\\mu = 1/\\lambda` instead (its value, SE and bounds are then mu's).

    Examples
    --------
    >>> import choicekit as ck
    >>> B = ck.Beta
    >>> ck.Nest("existing", ["train", "car"], B("LAMBDA_EX", 1.0, lower=0.01, upper=1.0))
    Nest('existing', ['train', 'car'], lam=LAMBDA_EX)
    """

    def __init__(self, name: str, members: Sequence[Any] | Mapping[Hashable, Any],
                 lam: Any = None, *, mu: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise SpecificationError(f"A nest's name must be a non-empty string. Got {name!r}.")
        self.name = name
        self.parameter = nest_parameter(name, lam, mu)
        if isinstance(members, Mapping):
            self.allocations: dict[Hashable, Allocation] | None = {
                alt: allocation(name, alt, a) for alt, a in members.items()}
            self.members: tuple[Any, ...] = tuple(members)
            if any(isinstance(m, Nest) for m in self.members):
                raise SpecificationError(f"Nest {name!r}: a cross-nested logit's nests hold "
                                         "alternatives, not other nests.")
        elif isinstance(members, (str, bytes)) or not isinstance(members, Sequence):
            raise SpecificationError(
                f"Nest {name!r}: `members` must be a list of alternatives (and nests), or a "
                f"dict {{alternative: allocation}} for a cross-nested logit. Got {members!r}.")
        else:
            self.allocations = None
            self.members = tuple(members)
        if not self.members:
            raise SpecificationError(f"Nest {name!r} is empty: give it at least one "
                                     "alternative.")

    def __repr__(self) -> str:
        p = self.parameter
        par = p.name if p.beta is not None else p.value
        inner = (dict(self.allocations) if self.allocations is not None
                 else [m if not isinstance(m, Nest) else m for m in self.members])
        if self.allocations is not None:
            inner = {a: (v.const if v.beta is None else v.beta.name)
                     for a, v in self.allocations.items()}
        return f"Nest({self.name!r}, {inner!r}, {p.kind}={par})"

    def walk(self) -> list[Nest]:
        """This nest and every nest below it, parents first."""
        out = [self]
        for m in self.members:
            if isinstance(m, Nest):
                out.extend(m.walk())
        return out


def unknown_alternative(nest: str, alt: Any, alternatives: list[Hashable]) -> SpecificationError:
    """The error for a nest member that is not an alternative of the data."""
    return SpecificationError(
        f"Nest {nest!r} lists {alt!r}, which is not an alternative of the data."
        f"{suggest(str(alt), [str(a) for a in alternatives])} The alternatives are "
        f"{alternatives}.")
