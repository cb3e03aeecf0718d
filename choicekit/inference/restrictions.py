"""Linear restrictions on parameters written as strings: ``"b_time = b_cost"``, ``"asc = 0"``.

Grammar (whitespace is free)::

    restriction := side ["=" side]          (no "=" means "= 0")
    side        := ["+"|"-"] term (("+"|"-") term)*
    term        := NUMBER ["*" NAME] | NAME ["*" NUMBER]

``NAME`` is a parameter name: any run of characters other than whitespace and ``+ - * = ,``
(so ``ASC:train`` and ``(Intercept):air`` work), or any name in backticks. Several restrictions
can be given as a list or separated by commas. Each becomes one row of :math:`R\\beta = q`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from choicekit._validation import suggest
from choicekit.exceptions import SpecificationError

__all__ = ["parse_restrictions"]

_TOKEN = re.compile(
    r"\s*(?:(?P<tick>`[^`]+`)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![^\s+\-*=,])"
    r"|(?P<name>[^\s+\-*=,`]+)"
    r"|(?P<op>[+\-*=]))"
)


def _error(text: str, pos: int, msg: str) -> SpecificationError:
    return SpecificationError(f"{msg}\n  {text}\n  {' ' * pos}^")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise _error(text, at, f"Unexpected character {text[at]!r} in restriction.")
        kind = m.lastgroup
        assert kind is not None
        value = m.group(kind)
        if kind == "tick":
            kind, value = "name", value.strip("`")
        out.append((kind, value, m.start(m.lastgroup)))
        pos = m.end()
    return out


def _side(text: str, toks: list[tuple[str, str, int]], names: Sequence[str]
          ) -> tuple[np.ndarray, float]:
    coef = np.zeros(len(names))
    const = 0.0
    i = 0
    if not toks:
        raise _error(text, len(text), "Empty side of a restriction.")
    while i < len(toks):
        sign = 1.0
        if toks[i][0] == "op" and toks[i][1] in "+-":
            sign = -1.0 if toks[i][1] == "-" else 1.0
            i += 1
        elif i > 0:
            raise _error(text, toks[i][2], f"Expected '+' or '-' before {toks[i][1]!r}.")
        if i >= len(toks):
            raise _error(text, toks[-1][2], "A term must follow the sign.")
        kind, val, at = toks[i]
        number, name = 1.0, None
        if kind == "num":
            number = float(val)
            if i + 1 < len(toks) and toks[i + 1][1] == "*":
                if i + 2 >= len(toks) or toks[i + 2][0] != "name":
                    raise _error(text, toks[i + 1][2], "'*' must be followed by a parameter.")
                name, at = toks[i + 2][1], toks[i + 2][2]
                i += 3
            else:
                i += 1
        elif kind == "name":
            name = val
            if i + 1 < len(toks) and toks[i + 1][1] == "*":
                if i + 2 >= len(toks) or toks[i + 2][0] != "num":
                    raise _error(text, toks[i + 1][2],
                                 "'*' after a parameter must be followed by a number.")
                number = float(toks[i + 2][1])
                i += 3
            else:
                i += 1
        else:
            raise _error(text, at, f"Expected a parameter or a number, got {val!r}.")
        if name is None:
            const += sign * number
        else:
            if name not in names:
                raise _error(text, at, f"Unknown parameter {name!r}.{suggest(name, names)} "
                             f"The parameters are {list(names)}.")
            coef[list(names).index(name)] += sign * number
    return coef, const


def parse_restrictions(restrictions: str | Sequence[str], names: Sequence[str]
                       ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parse restrictions into :math:`R` ``(m, K)`` and :math:`q` ``(m,)`` with their texts.

    Raises
    ------
    SpecificationError
        Pointing at the bad token, or naming a restriction that involves no parameter.
    """
    if isinstance(restrictions, str):
        items = [r for r in restrictions.split(",")]
    else:
        items = []
        for r in restrictions:
            if not isinstance(r, str):
                raise SpecificationError(f"Restrictions must be strings; got {r!r}.")
            items.extend(r.split(","))
    items = [r.strip() for r in items if r.strip()]
    if not items:
        raise SpecificationError("No restriction given; write e.g. 'b_time = b_cost'.")
    rows, q = [], []
    for text in items:
        toks = _tokens(text)
        eq = [t for t in toks if t[1] == "="]
        if len(eq) > 1:
            raise _error(text, eq[1][2], "A restriction has at most one '='.")
        if eq:
            k = toks.index(eq[0])
            lc, lk = _side(text, toks[:k], names)
            rc, rk = _side(text, toks[k + 1:], names)
        else:
            lc, lk = _side(text, toks, names)
            rc, rk = np.zeros(len(names)), 0.0
        row = lc - rc
        if not np.any(row):
            raise SpecificationError(f"Restriction {text!r} involves no parameter.")
        rows.append(row)
        q.append(rk - lk)
    return np.array(rows), np.array(q), items
