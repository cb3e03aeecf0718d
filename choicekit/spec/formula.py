"""mlogit-style formulas: ``"choice ~ generic | case-specific | alternative-specific"``.

Grammar (whitespace is free)::

    formula := [lhs] "~" part ["|" part ["|" part]]
    part    := term ("+" term)* | ""
    term    := NAME | "0" | "1" | "-1" | "- 1" | "-" NAME

``NAME`` is a variable name (letters, digits, ``_`` and ``.``), or any column name in
backticks. Part 1: generic coefficients on alternative-varying variables. Part 2: case-level
variables with alternative-specific coefficients for every alternative but the reference, plus
alternative-specific constants (``0``/``-1`` drops them, ``1`` keeps them). Part 3:
alternative-varying variables with a coefficient for every alternative. This is the convention
of R's mlogit (Croissant 2020) and Stata's ``cmclogit``.

References
----------
Croissant, Y. (2020). Estimation of random utility models in R: the mlogit package. *Journal
of Statistical Software* 95(11).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass

from choicekit._validation import suggest
from choicekit.data.choicedata import ChoiceData
from choicekit.exceptions import SpecificationError
from choicekit.spec.expressions import Beta, Utility, Var, as_utility

__all__ = ["parse_formula", "utilities_from_formula", "ParsedFormula"]

_TOKEN = re.compile(r"\s*(?:(?P<name>`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*)|(?P<num>\d+(?:\.\d*)?)"
                    r"|(?P<op>[~|+\-]))")


@dataclass(frozen=True)
class ParsedFormula:
    """The three parts of a formula."""

    lhs: str | None
    generic: tuple[str, ...]
    case_specific: tuple[str, ...]
    alt_specific: tuple[str, ...]
    intercept: bool


def _error(formula: str, pos: int, msg: str) -> SpecificationError:
    return SpecificationError(f"{msg}\n  {formula}\n  {' ' * pos}^")


def parse_formula(formula: str) -> ParsedFormula:
    """Tokenize and parse a formula, with errors that point at the bad token."""
    if not isinstance(formula, str):
        raise SpecificationError(f"A formula must be a string. Got {type(formula).__name__}.")
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(formula):
        if formula[pos:].strip() == "":
            break
        m = _TOKEN.match(formula, pos)
        if m is None or m.end() == pos:
            start = len(formula[pos:]) - len(formula[pos:].lstrip()) + pos
            raise _error(formula, start, f"Unexpected character {formula[start]!r} in formula "
                         "(use + between terms, | between parts, backticks around odd names).")
        kind = m.lastgroup
        assert kind is not None
        text = m.group(kind)
        tokens.append((kind, text, m.start(kind)))
        pos = m.end()
    tildes = [t for t in tokens if t[1] == "~"]
    if len(tildes) != 1:
        where = tildes[1][2] if len(tildes) > 1 else len(formula)
        raise _error(formula, where, "A formula needs exactly one '~', as in "
                     "'choice ~ cost + time | income'.")
    split = tokens.index(tildes[0])
    lhs_tokens, rhs = tokens[:split], tokens[split + 1:]
    if len(lhs_tokens) > 1 or (lhs_tokens and lhs_tokens[0][0] != "name"):
        raise _error(formula, lhs_tokens[-1][2], "The left-hand side must be one column name.")
    lhs = lhs_tokens[0][1].strip("`") if lhs_tokens else None
    parts: list[list[tuple[str, str, int]]] = [[]]
    for t in rhs:
        if t[1] == "|":
            parts.append([])
            if len(parts) > 3:
                raise _error(formula, t[2], "A formula has at most three parts separated by '|'.")
        else:
            parts[-1].append(t)
    parsed: list[list[str]] = []
    intercept = True
    for p_i, part in enumerate(parts):
        names: list[str] = []
        i = 0
        expect_term = True
        while i < len(part):
            kind, text, at = part[i]
            if expect_term:
                sign = 1
                if text in "+-" and kind == "op":
                    sign = -1 if text == "-" else 1
                    i += 1
                    if i >= len(part):
                        raise _error(formula, at, f"Dangling {text!r}: a term must follow.")
                    kind, text, at = part[i]
                if kind == "num":
                    if text not in ("0", "1"):
                        raise _error(formula, at, f"Only 0, 1 and -1 are allowed as numbers "
                                     f"(to drop or keep constants); got {text!r}.")
                    keep = (text == "1") == (sign == 1)
                    if p_i == 1:
                        intercept = keep
                    elif keep:  # '0' in parts 1 and 3 means "no variables here" (mlogit)
                        raise _error(formula, at, "Constants are set in part 2 (after the first "
                                     "'|'): 'choice ~ x | 0' drops them.")
                elif kind == "name":
                    if sign == -1:
                        raise _error(formula, at, "Removing a variable with '-' is not supported;"
                                     " leave it out.")
                    name = text.strip("`")
                    if name in names:
                        raise _error(formula, at, f"Variable {name!r} appears twice in this "
                                     "part.")
                    names.append(name)
                else:
                    raise _error(formula, at, f"Expected a variable name, got {text!r}.")
                expect_term = False
            else:
                if kind == "op" and text == "-":  # 'x - 1': the '-' is the sign of the next term
                    expect_term = True
                    continue
                if not (kind == "op" and text == "+"):
                    raise _error(formula, at, f"Expected '+' or '|' between terms, got {text!r}.")
                expect_term = True
            i += 1
        if part and expect_term:
            raise _error(formula, part[-1][2], "The formula ends with '+': a term must follow.")
        parsed.append(names)
    while len(parsed) < 3:
        parsed.append([])
    return ParsedFormula(lhs, tuple(parsed[0]), tuple(parsed[1]), tuple(parsed[2]), intercept)


def utilities_from_formula(formula: str, data: ChoiceData, reference: Hashable | None = None
                           ) -> tuple[dict[Hashable, Utility], list[str]]:
    """Utilities ``{alternative: expression}`` equivalent to ``formula`` on ``data``.

    Parameter labels: ``"x"`` for generic terms, ``"x:alt"`` for alternative-specific ones,
    ``"ASC:alt"`` for constants. The reference alternative has no constant and no part-2
    coefficients. Also returns the parameter order: constants, generic, case-specific,
    alternative-specific.
    """
    pf = parse_formula(formula)
    alts = data.alternatives
    if reference is None:
        reference = alts[0]
    elif reference not in alts:
        raise SpecificationError(
            f"reference={reference!r} is not an alternative."
            f"{suggest(str(reference), alts)} The alternatives are {alts}."
        )
    for name in pf.generic + pf.case_specific + pf.alt_specific:
        if not data.has_variable(name):
            raise data._unknown(name, "Formula variable")
    if pf.lhs is not None and data.has_choice:
        choice_col = data._meta.get("choice")
        if choice_col is not None and pf.lhs != choice_col:
            raise SpecificationError(
                f"The formula's left-hand side {pf.lhs!r} is not the data's choice column "
                f"{choice_col!r}."
            )
    utils: dict[Hashable, Utility] = {}
    for a in alts:
        u = as_utility(0.0)
        if pf.intercept and a != reference:
            u = u + Beta(f"ASC:{a}")
        for name in pf.generic:
            u = u + Beta(name) * Var(name)
        if a != reference:
            for name in pf.case_specific:
                u = u + Beta(f"{name}:{a}") * Var(name)
        for name in pf.alt_specific:
            u = u + Beta(f"{name}:{a}") * Var(name)
        utils[a] = u
    others = [a for a in alts if a != reference]
    order = ([f"ASC:{a}" for a in others] if pf.intercept else []) + list(pf.generic)
    order += [f"{v}:{a}" for v in pf.case_specific for a in others]
    order += [f"{v}:{a}" for v in pf.alt_specific for a in alts]
    return utils, order
