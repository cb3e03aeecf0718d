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
from choicekit.data.layouts import WideVariable
from choicekit.data.sampling import sparse_choice_sets
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
    """Data on a subset of alternatives: the others are removed, and cases that chose one of
    them are dropped (the restricted choice set of the Hausman-McFadden test).

    Parameters
    ----------
    data : ChoiceData
    alternatives : sequence
        Alternatives to keep.

    Returns
    -------
    ChoiceData
        Only the kept alternatives (in the data's order), fewer cases, smaller choice sets.
        A formula on them creates no parameter for a removed alternative; utilities given as
        a dict name only the kept alternatives. (The alternatives used to stay, unavailable
        everywhere, so that a formula created constants and coefficients of the removed
        alternatives, unidentified and shown as 0.)

    Raises
    ------
    SpecificationError
        For an unknown alternative, or on sampled choice sets (the sampling correction is
        that of the full set).
    """
    alts = data.alternatives
    keep = list(alternatives)
    unknown = [a for a in keep if a not in alts]
    if unknown:
        raise SpecificationError(f"Unknown alternatives {unknown}.{suggest(str(unknown[0]), alts)}"
                                 f" The alternatives are {alts}.")
    if not keep:
        raise SpecificationError("Give at least one alternative to keep.")
    if data.is_sampled:
        raise SpecificationError(
            "restrict_alternatives does not apply to sampled choice sets: the sampling "
            "correction belongs to the full choice set. Restrict the data first, then sample.")
    cols = np.array(sorted({alts.index(a) for a in keep}), dtype=np.intp)
    mask = np.zeros(data.n_alts, dtype=bool)
    mask[cols] = True
    avail = data.avail_array & mask
    rows = avail.any(axis=1)
    if data.chosen_array is not None:
        rows &= mask[data.chosen_array]
    if not rows.any():
        raise ChoiceDataError(f"No case chose one of {keep}; nothing is left.")
    sub = data.take(np.flatnonzero(rows))
    new_index = np.full(data.n_alts, -1, dtype=np.intp)
    new_index[cols] = np.arange(len(cols))
    long_cache = {}
    for name, v in sub._long_cache.items():
        if isinstance(v, WideVariable):
            long_cache[name] = WideVariable(v.n, [v.columns[j] for j in cols])
        elif v.ndim == 2:
            arr = np.ascontiguousarray(v[:, cols])
            arr.setflags(write=False)
            long_cache[name] = arr
        else:
            long_cache[name] = v
    avail = np.ascontiguousarray(avail[rows][:, cols])
    meta = dict(sub._meta)
    kept = {alts[j] for j in cols}
    if "variables" in meta:  # wide: {variable: {alternative: column}}
        meta["variables"] = {k: {a: c for a, c in m.items() if a in kept}
                             for k, m in meta["variables"].items()}
    sets = None
    if data._sets is not None:  # sparse choice sets: rebuilt on the kept alternatives
        sets = sparse_choice_sets(avail, force=True)
    chosen = None if sub._chosen is None else new_index[sub._chosen]
    return sub._replace(alternatives=[alts[j] for j in cols], avail=avail, chosen=chosen,
                        long_cache=long_cache, meta=meta, sets=sets)
