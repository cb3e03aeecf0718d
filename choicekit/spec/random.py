"""Random coefficients written from mlogit's letters: the utilities of
:meth:`MixedLogit.from_formula <choicekit.MixedLogit.from_formula>` from a formula's.

``{variable: "n" | "ln" | "u" | "t"}`` (mlogit's ``rpar``) makes the generic coefficient of
``variable`` random: normal ``x + sd:x * z``, lognormal ``exp(x + sd:x * z)``, uniform and
triangular on ``x -/+ sd:x`` (``z`` a :class:`~choicekit.Draw` named after the variable);
correlated normal coefficients get the entries of a lower-triangular Cholesky factor,
``chol:x:y`` (row ``x``, column ``y``), in place of the spreads.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from choicekit.exceptions import SpecificationError
from choicekit.spec.draws import Draw
from choicekit.spec.expressions import Beta, Utility, as_utility, exp

__all__ = ["RANDOM_KINDS", "random_coefficient_utilities"]

#: mlogit's letters for the distribution of a random coefficient
RANDOM_KINDS = ("n", "ln", "u", "t")


def random_coefficient_utilities(utilities: Mapping[Hashable, Any], terms: Sequence[str],
                                 random: Mapping[str, str] | None,
                                 correlated: bool | Sequence[str] = False
                                 ) -> tuple[dict[Hashable, Any], list[str]]:
    """The utilities with the coefficients of ``random``'s variables made random.

    Parameters
    ----------
    utilities : mapping
        ``{alternative: utility}`` of a formula (:func:`~choicekit.spec.formula.
        utilities_from_formula`); a generic term's Beta is named after its variable.
    terms : sequence of str
        The formula's parameter names (``random`` may name only these).
    random : mapping, optional
        ``{variable: "n" | "ln" | "u" | "t"}``.
    correlated : bool or sequence of str
        Correlated normal coefficients: all normal ones (``True``) or those listed.

    Returns
    -------
    utilities : dict
        The new utilities.
    extra : list of str
        The new parameters' names (spreads ``sd:x``, Cholesky entries ``chol:x:y``), in
        order.
    """
    random = dict(random or {})
    for v, k in random.items():
        if k not in RANDOM_KINDS:
            raise SpecificationError(f"random[{v!r}] must be one of {list(RANDOM_KINDS)} "
                                     f"(mlogit's letters). Got {k!r} instead.")
        if v not in terms:
            raise SpecificationError(f"random names {v!r}, which is not a generic term of "
                                     f"the formula (its terms are {list(terms)}).")
    corr = ([v for v, k in random.items() if k == "n"] if correlated is True
            else list(correlated or []))
    bad = [v for v in corr if random.get(v) != "n"]
    if bad:
        raise SpecificationError(f"correlated coefficients must be normal ('n'); {bad} "
                                 "are not.")
    coef: dict[str, Any] = {}
    extra: list[str] = []
    for v, k in random.items():
        if v in corr:
            continue
        mean, sd = Beta(v), Beta(f"sd:{v}")
        extra.append(f"sd:{v}")
        if k == "n":
            coef[v] = mean + sd * Draw(v)
        elif k == "u":
            coef[v] = mean + sd * Draw(v, "uniform_sym")
        elif k == "t":
            coef[v] = mean + sd * Draw(v, "triangular")
        else:
            coef[v] = exp(mean + sd * Draw(v))
    for i, v in enumerate(corr):
        expr = as_utility(Beta(v))
        for j in range(i + 1):
            name = f"chol:{v}:{corr[j]}"
            extra.append(name)
            expr = expr + Beta(name) * Draw(corr[j])
        coef[v] = expr
    new: dict[Hashable, Any] = {}
    for alt, u in utilities.items():
        u = as_utility(u)
        acc: Any = as_utility(0.0) if u.offset is None else Utility({}, u.offset)
        for name, (b, m) in u.terms.items():
            acc = acc + (coef[name] if name in coef else b) * m
        new[alt] = acc
    return new, extra
