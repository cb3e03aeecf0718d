"""The design of data whose choice sets are stored per case (slots), not over every alternative.

When each case has a few of many alternatives (a sample of 20 destinations out of 2,000, see
:meth:`ChoiceData.sample_alternatives`, or a long frame whose cases have short, different
choice sets), the ``(n_params, n_alts, n_cases)`` layout of :mod:`choicekit.design.linear` is
almost all zeros: on 5,000 cases x 2,000 zones x 2 generic parameters, 160 MB of design and a
32 s fit for 20 available alternatives per case. Here the design is laid out over the slots:
``columns`` is ``(n_params, n_slots, n_cases)``, ``avail``, ``chosen`` and ``offset`` are per
slot, and ``Design.slot_alts`` ``(n_cases, n_slots)`` says which alternative each slot holds.
The kernels and the estimator see an ordinary design with ``n_slots`` alternatives, so a fit
costs what a model with ``n_slots`` alternatives costs.

Every parameter is a stored column here: a constant or alternative-specific parameter sits in
a different slot in every case. That is cheap for a few of them and costs ``n_cases *
n_slots`` values each, so a constant for each of thousands of alternatives is refused with
advice (generic coefficients are the usual specification on sampled sets).

The sampling correction (:mod:`choicekit.data.sampling`) is added to the parameter-free
offset of every slot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from choicekit._validation import plural
from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData
from choicekit.data.sampling import ChoiceSets
from choicekit.design.linear import Design, _missing_report, _scan_block, warn_single_available
from choicekit.exceptions import ChoiceDataError, DataWarning, SpecificationError
from choicekit.spec.expressions import Expr, Specification, _Const

__all__ = ["build_slot_design", "MAX_SLOT_VALUES"]

#: largest slot design (doubles) built without complaint: 2^27 = 1 GiB
MAX_SLOT_VALUES = 1 << 27

#: doubles per block of cases when filling (as in linear._FILL_BLOCK)
_FILL_BLOCK = 1 << 22


def _groups(items: list[tuple[int, int, Expr]]) -> dict[tuple[int, str], tuple[int, Expr, list]]:
    """``(alternative, parameter, expression)`` triples grouped by parameter and expression
    text: a generic term over 2,000 alternatives is evaluated once over every slot."""
    out: dict[tuple[int, str], tuple[int, Expr, list]] = {}
    for j, k, mult in items:
        key = (k, repr(mult))
        if key not in out:
            out[key] = (k, mult, [])
        out[key][2].append(j)
    return out


def build_slot_design(data: ChoiceData, spec: Specification, sets: ChoiceSets, *,
                      missing: str, need_choice: bool):
    """Evaluate the utilities on the slots of ``sets`` into a :class:`Design` (see module
    docstring; the arguments and warnings are those of :func:`linear.build_design`)."""
    n, J, K = data.n_cases, data.n_alts, len(spec.params)
    alt = sets.alt
    S = alt.shape[1]
    valid = alt >= 0
    a = np.where(valid, alt, 0)
    avail = valid & np.take_along_axis(data.avail_array, a, axis=1)
    if K * S * n > MAX_SLOT_VALUES:
        raise SpecificationError(
            f"The design of {K} parameters over {S} slots of {n} cases needs "
            f"{K * S * n * 8 / 2**30:.1f} GiB. On choice sets stored per case every parameter "
            "takes n_cases x n_slots values; a constant or coefficient for each of many "
            "alternatives is rarely estimated on sampled sets. Use generic coefficients (in a "
            "formula, `| 0` drops the alternative-specific constants), or fewer cases.")
    index = {b.name: k for k, b in enumerate(spec.params)}
    terms = [(j, index[name], mult) for j, a_ in enumerate(data.alternatives)
             for name, (_, mult) in spec.utilities[a_].terms.items()]
    offsets = [(j, -1, spec.utilities[a_].offset) for j, a_ in enumerate(data.alternatives)
               if spec.utilities[a_].offset is not None
               and not (isinstance(spec.utilities[a_].offset, _Const)
                        and spec.utilities[a_].offset.value == 0)]
    names = {name for u in spec.utilities.values() for name in u.variables()}
    values = {name: data._slot_values(name, alt) for name in names}
    all_alts = set(range(J))

    def masks(groups):  # alternative set -> (n, S) mask of the slots holding one of them
        out = {}
        for _, _, alts in groups.values():
            key = tuple(alts)
            if key not in out:
                out[key] = None if set(alts) == all_alts else np.isin(a, alts) & valid
        return out

    tgroups, ogroups = _groups(terms), _groups(offsets)
    tmask, omask = masks(tgroups), masks(ogroups)
    C = np.zeros((K, S, n))
    offset = np.zeros((n, S)) if (offsets or sets.correction is not None) else None
    bad = np.zeros(n, dtype=bool)
    col_max = np.zeros(K)
    block = max(1, _FILL_BLOCK // max(S * K, 1))
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        m = rows.stop - rows.start

        def value(expr: Expr, rows: slice = rows, m: int = m) -> np.ndarray:
            v = expr.evaluate(lambda name: values[name][rows])
            return np.broadcast_to(np.asarray(v, dtype=np.float64), (m, S))

        unavailable = ~avail[rows]
        Cb = C[:, :, rows]
        for k, mult, alts in tgroups.values():
            v, mask = value(mult), tmask[tuple(alts)]
            Cb[k] += (v if mask is None else np.where(mask[rows], v, 0.0)).T
        np.copyto(Cb, 0.0, where=unavailable.T)
        _scan_block(Cb, col_max, bad[rows])
        if offset is not None:
            ob = offset[rows]
            for _, expr, alts in ogroups.values():
                v, mask = value(expr), omask[tuple(alts)]
                ob += v if mask is None else np.where(mask[rows], v, 0.0)
            if sets.correction is not None:
                ob += sets.correction[rows]
            ob[unavailable] = 0.0
            bad[rows] |= ~np.isfinite(ob).all(axis=1)
    chosen = data.chosen_array
    if chosen is not None:
        hit = (a == chosen[:, None]) & avail
        if not hit.any(axis=1).all():  # pragma: no cover - the sampler keeps the chosen
            raise ChoiceDataError("A chosen alternative is missing from its case's choice set.")
        chosen = hit.argmax(axis=1)
    weight, group, cases = data.weight_array, data.group_array, data.cases
    dropped = pd.Index([])
    keep = None
    if bad.any():
        columns = {name: data._source(name) for name in names}  # the error path only
        report = _missing_report(data, spec, columns, bad)
        if missing == "raise":
            raise ChoiceDataError(report + "\nClean the data, or pass missing='drop' to drop "
                                  "those cases (in a spec file: missing = \"drop\" in "
                                  "[data]).")
        if bad.all():
            raise ChoiceDataError("Every case has missing or non-numeric values in the variables "
                                  "the utilities use; nothing is left after missing='drop'.\n"
                                  + report)
        keep = ~bad
        dropped = cases[bad]
        k = int(bad.sum())
        warn_user(f"missing='drop' dropped {k} of {n} {plural(n, 'case')}; "
                      f"{n - k} remain (see `model.dropped_cases`).\n" + report, DataWarning)
        C, avail, a = np.ascontiguousarray(C[:, :, keep]), avail[keep], a[keep]
        offset = None if offset is None else offset[keep]
        chosen = None if chosen is None else chosen[keep]
        weight = None if weight is None else weight[keep]
        group = None if group is None else group[keep]
        cases = cases[keep]
    if need_choice:
        warn_single_available(cases, avail)
    for arr in (C, offset, avail, a):
        if arr is not None:
            arr.setflags(write=False)
    empty = np.zeros(0, dtype=np.intp)
    design = Design(
        columns=C, stored=np.arange(K, dtype=np.intp), constants=empty, constant_alts=empty,
        specific=empty, specific_alts=empty, specific_values=np.zeros((0, len(cases))),
        offset=offset, avail=avail, chosen=chosen, weight=weight, group=group,
        param_names=tuple(b.name for b in spec.params),
        start=np.array([b.value for b in spec.params], dtype=np.float64),
        fixed=np.array([b.fixed for b in spec.params], dtype=bool),
        lower=np.array([b.lower for b in spec.params], dtype=np.float64),
        upper=np.array([b.upper for b in spec.params], dtype=np.float64),
        alternatives=tuple(data.alternatives), cases=cases, dropped_cases=dropped,
        slot_alts=a,
    )
    if keep is None:
        design.__dict__["column_max"] = design._column_max(col_max, 0.0)
    return design

