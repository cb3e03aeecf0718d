"""Helpers shared by the input checks: suggestions, listings of ids, option checks, and the
collector that gathers every problem of a frame into one error.

The checks at the boundary (:mod:`choicekit.data.choicedata`, :mod:`choicekit.design.linear`) do
not stop at the
first problem: each check adds a line to a :class:`Problems` collector together with the rows
it affects, and one :class:`~choicekit.exceptions.ChoiceDataError` then lists every kind of
problem (or, with ``invalid="drop"``, the affected cases are dropped with a
:class:`~choicekit.exceptions.DataWarning` giving the same listing).
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from choicekit.exceptions import SpecificationError

__all__ = ["suggest", "first_cases", "first_rows", "show_values", "check_option", "check_int",
           "plural",
           "python_scalar", "to_float", "numeric_column", "zero_one", "Problems"]


def suggest(name: str, candidates: Iterable[Any], n: int = 3) -> str:
    """``" Did you mean 'x' or 'y'?"`` for close matches of ``name``, else ``""``."""
    originals: dict[str, Any] = {}
    for c in candidates:
        originals.setdefault(str(c), python_scalar(c))
    pool = list(originals)
    # a name differing only in case comes first ('TIME' -> 'time', not 'INCOME', which
    # difflib scores higher on the upper-case letters they share)
    same_case = [p for p in pool if p.lower() == str(name).lower() and p != str(name)]
    close = same_case + [c for c in difflib.get_close_matches(str(name), pool, n=n, cutoff=0.6)
                         if c not in same_case]
    close = close[:n]
    if not close:
        return ""
    out = " Did you mean " + " or ".join(repr(originals[c]) for c in close) + "?"
    same_text = [originals[c] for c in close if c == str(name)]
    if same_text and type(same_text[0]) is not type(python_scalar(name)):
        out += (f" (The labels are {type(same_text[0]).__name__}, not "
                f"{type(python_scalar(name)).__name__}.)")
    return out


def _show(x: Any) -> str:
    x = python_scalar(x)
    return repr(x) if isinstance(x, str) else str(x)


def first_cases(ids: Sequence[Any] | np.ndarray | pd.Index, k: int = 5) -> str:
    """``"3 cases (ids 4, 17, 22)"``: the count and the first ``k`` ids."""
    return _count_and_first(ids, "case", "ids", k)


def first_rows(labels: Sequence[Any] | np.ndarray | pd.Index, k: int = 5) -> str:
    """``"2 rows (index 4, 17)"``: the count and the first ``k`` row labels of the frame."""
    return _count_and_first(labels, "row", "index", k)


def _count_and_first(labels: Sequence[Any] | np.ndarray | pd.Index, word: str, what: str,
                     k: int) -> str:
    labels = list(labels)
    shown = ", ".join(_show(i) for i in labels[:k])
    more = ", ..." if len(labels) > k else ""
    return f"{len(labels)} {plural(len(labels), word)} ({what} {shown}{more})"


def show_values(values: Any, k: int = 5) -> str:
    """The first ``k`` distinct values, as ``"'n/a', '?', 7"``."""
    try:
        uniq = list(pd.unique(pd.Series(np.asarray(values, dtype=object))))
    except TypeError:  # unhashable values (lists, dicts)
        uniq = list(np.asarray(values, dtype=object))
    shown = [repr(python_scalar(v)) for v in uniq[:k]]
    return ", ".join(shown) + (", ..." if len(uniq) > k else "")


def plural(n: int, word: str) -> str:
    """``word`` or ``word + 's'`` by ``n``."""
    return word if n == 1 else word + "s"


def python_scalar(x: Any) -> Any:
    """A numpy scalar as the matching Python scalar (labels print as ``0``, not ``np.int64(0)``)."""
    return x.item() if isinstance(x, np.generic) else x


def check_int(name: str, value: Any, minimum: int = 1, *, allow_none: bool = False,
              what: str = "") -> None:
    """Raise a SpecificationError unless ``value`` is an integer ``>= minimum`` (not a bool).

    ``what`` is a parenthetical explaining the option, e.g. ``"(cases per kernel call)"``.
    """
    if allow_none and value is None:
        return
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum:
        return
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise SpecificationError(f"`{name}` must be {kind}{' ' + what if what else ''}"
                             f"{' or None' if allow_none else ''}. Got {value!r}.")


def check_option(name: str, value: Any, allowed: Sequence[Any], exc: type[Exception]) -> None:
    """Raise ``exc`` naming the allowed values when ``value`` is not one of them."""
    try:
        ok = bool(value in allowed)
    except (TypeError, ValueError):  # e.g. an unhashable value or an array
        ok = False
    if not ok:
        choices = ", ".join(repr(a) for a in allowed)
        raise exc(f"`{name}` must be one of {choices}. Got {value!r} instead.")


def to_float(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as float64 plus the mask of its *non-numeric* entries (which become NaN).

    Numeric and boolean columns convert directly (missing values become NaN and are not
    "non-numeric"). Other columns (object, string, categorical) are converted entry by entry
    with :func:`pandas.to_numeric`, so numeric strings such as ``"1.5"`` are accepted; entries
    that are present but cannot be read as a real number (``"n/a"``, ``"?"``, dates, complex
    numbers) are flagged.
    """
    n = len(col)
    if pd.api.types.is_complex_dtype(col.dtype):
        return np.full(n, np.nan), col.notna().to_numpy()
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(n, dtype=bool)
    obj = pd.Series(np.asarray(col, dtype=object))
    present = obj.notna().to_numpy()
    try:
        num = pd.to_numeric(obj, errors="coerce")
    except (TypeError, ValueError):  # pragma: no cover - to_numeric coerces what it can
        return np.full(n, np.nan), present
    if pd.api.types.is_complex_dtype(num.dtype):
        return np.full(n, np.nan), present
    out = num.to_numpy(dtype=np.float64, na_value=np.nan)
    return out, present & np.isnan(out) & ~_nan_strings(obj)


def numeric_column(col: pd.Series, what: str) -> tuple[np.ndarray, str | None]:
    """:func:`to_float` values of a column a utility uses, plus a message (starting with
    ``what``) when the column holds no number at all, else None."""
    values, nonnum = to_float(col)
    if nonnum.any() and np.isnan(values).all():
        return values, (f"{what} is not numeric (dtype {col.dtype}, values such as "
                        f"{show_values(col[nonnum], 3)}); a utility can only use numbers.")
    return values, None


def _nan_strings(obj: pd.Series) -> np.ndarray:
    """Entries that are the text of a missing value ("nan", "NaN", "") and so count as missing."""
    s = obj.map(lambda v: isinstance(v, str) and v.strip().lower() in ("", "nan", "na"))
    return s.to_numpy(dtype=bool)


def zero_one(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A 0/1 (or boolean) column as bool plus the mask of entries that are not 0/1."""
    raw = col.to_numpy()
    if raw.dtype == bool:
        return raw, np.zeros(len(raw), dtype=bool)
    num, _ = to_float(col)
    bad = ~np.isin(num, (0.0, 1.0))
    return num == 1.0, bad


class Problems:
    """Every problem found in one pass over a frame: a message per kind plus the rows hit.

    Parameters
    ----------
    n_rows : int
        Rows of the frame being checked.
    """

    def __init__(self, n_rows: int) -> None:
        self.lines: list[str] = []
        self.rows = np.zeros(n_rows, dtype=bool)

    def add(self, message: str, rows: np.ndarray | None = None) -> None:
        """Record one kind of problem and the rows (bool mask over the frame) it affects."""
        self.lines.append(message)
        if rows is not None:
            self.rows |= rows

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    def listing(self) -> str:
        """The problems as an indented bullet list."""
        return "\n".join(f"  - {line}" for line in self.lines)


def affected_cases(rows: np.ndarray, case_codes: np.ndarray, n_cases: int) -> np.ndarray:
    """Bool mask over cases: a case is affected when any of its rows is."""
    out = np.zeros(n_cases, dtype=bool)
    out[case_codes[rows & (case_codes >= 0)]] = True
    return out


def label_list(labels: Iterable[Hashable]) -> list[Any]:
    """Labels as plain Python scalars (for messages and public attributes)."""
    return [python_scalar(a) for a in labels]
