"""Derived choice data: changed variables (scenarios) and restricted choice sets (IIA tests).

Both functions return a *new* :class:`~choicekit.ChoiceData` that shares every array it does
not change with the original; the user's frame and the original data are never modified. They
are also available as the methods ``ChoiceData.with_variables`` and
``ChoiceData.restrict_alternatives``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from choicekit._validation import suggest
from choicekit.exceptions import ChoiceDataError, SpecificationError

if TYPE_CHECKING:
    from choicekit.data.choicedata import ChoiceData

__all__ = ["with_variables", "restrict_alternatives"]


def with_variables(data: ChoiceData, values: Mapping[str, Any]) -> ChoiceData:
    """The same data with some variables replaced.

    Parameters
    ----------
    data : ChoiceData
    values : mapping
        ``{variable name: new values}``: an ``(n_cases, n_alts)`` array (or anything that
        broadcasts to it) for an alternative-varying variable, an ``(n_cases,)`` array (or a
        scalar) for a case-level one.

    Returns
    -------
    ChoiceData
        Cases, alternatives, availability, choices, weights and groups are shared; only the
        named variables differ.

    Raises
    ------
    SpecificationError
        If a variable is not in the data or the values do not have its shape.
    """
    if not isinstance(values, Mapping):
        raise SpecificationError("`values` must be a mapping {variable name: new values}.")
    long_updates: dict[str, np.ndarray] = {}
    case_updates: dict[str, np.ndarray] = {}
    for name, new in values.items():
        current = data._source(name)  # raises, naming close matches, if unknown
        try:
            arr = np.array(np.broadcast_to(np.asarray(new, dtype=np.float64), current.shape))
        except ValueError:
            what = "cases x alternatives" if len(current.shape) == 2 else "one value per case"
            raise SpecificationError(
                f"New values of variable {name!r} have shape {np.shape(new)}; the variable has "
                f"shape {current.shape} ({what})."
            ) from None
        if len(current.shape) == 2:
            arr.setflags(write=False)
            long_updates[name] = arr
        else:
            case_updates[name] = arr
    long_cache = dict(data._long_cache)
    long_cache.update(long_updates)
    case_frame = data._case_frame
    if case_updates:
        assert case_frame is not None
        case_frame = case_frame.assign(**case_updates)
    return data._replace(long_cache=long_cache, case_frame=case_frame)


def restrict_alternatives(data: ChoiceData, alternatives: Sequence[Hashable]) -> ChoiceData:
    """Data on a subset of alternatives: the others become unavailable, and cases that chose
    one of them are dropped (the restricted choice set of the Hausman-McFadden test).

    Parameters
    ----------
    data : ChoiceData
    alternatives : sequence
        Alternatives to keep.

    Returns
    -------
    ChoiceData
        Same alternatives list (so the same utilities apply), fewer cases, smaller choice sets.
    """
    alts = data.alternatives
    keep = list(alternatives)
    unknown = [a for a in keep if a not in alts]
    if unknown:
        raise SpecificationError(f"Unknown alternatives {unknown}.{suggest(str(unknown[0]), alts)}"
                                 f" The alternatives are {alts}.")
    mask = np.isin(np.arange(data.n_alts), [alts.index(a) for a in keep])
    avail = data.avail_array & mask
    rows = avail.any(axis=1)
    if data.chosen_array is not None:
        rows &= mask[data.chosen_array]
    if not rows.any():
        raise ChoiceDataError(f"No case chose one of {keep}; nothing is left.")
    sub = data.take(np.flatnonzero(rows))
    return sub._replace(avail=np.ascontiguousarray(avail[rows]))
