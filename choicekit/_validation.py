"""Small helpers shared by the input checks: suggestions, case listings, option checks."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["suggest", "first_cases", "check_option", "plural"]


def suggest(name: str, candidates: Iterable[Any], n: int = 3) -> str:
    """``" Did you mean 'x' or 'y'?"`` for close matches of ``name``, else ``""``."""
    pool = [str(c) for c in candidates]
    close = difflib.get_close_matches(str(name), pool, n=n, cutoff=0.6)
    if not close:
        lowered = {p.lower(): p for p in pool}
        if str(name).lower() in lowered:
            close = [lowered[str(name).lower()]]
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def first_cases(ids: Sequence[Any] | np.ndarray, k: int = 5) -> str:
    """``"3 cases (ids 4, 17, 22)"``: the count and the first ``k`` ids."""
    ids = list(ids)
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in ids[:k])
    more = ", ..." if len(ids) > k else ""
    return f"{len(ids)} {plural(len(ids), 'case')} (ids {shown}{more})"


def plural(n: int, word: str) -> str:
    """``word`` or ``word + 's'`` by ``n``."""
    return word if n == 1 else word + "s"


def check_option(name: str, value: Any, allowed: Sequence[Any], exc: type[Exception]) -> None:
    """Raise ``exc`` naming the allowed values when ``value`` is not one of them."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise exc(f"`{name}` must be one of {choices}. Got {value!r} instead.")
