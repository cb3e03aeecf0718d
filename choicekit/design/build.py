"""Building a :class:`~choicekit.design.linear.Design` from data and a specification.

The utilities are evaluated once, in blocks of cases, into the parameter-major storage of
:mod:`choicekit.design.linear` (or, for sampled and sparse choice sets, into per-case slots,
:mod:`choicekit.design.slots`), with the missing-value, finiteness and scale checks made while
each block is in cache.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from choicekit._validation import check_option, plural, python_scalar
from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData, alt_values
from choicekit.data.layouts import WideVariable
from choicekit.design.linear import (
    LAYOUTS,
    MISSING_POLICIES,
    Design,
    _missing_report,
    _scan_block,
    warn_single_available,
)
from choicekit.design.slots import build_slot_design
from choicekit.exceptions import ChoiceDataError, DataWarning
from choicekit.spec.expressions import Expr, Specification, _Const

__all__ = ["build_design", "MISSING_POLICIES", "LAYOUTS"]


def _evaluate(expr: Expr, columns: dict[str, np.ndarray | WideVariable], j: int, rows: slice,
              n_rows: int) -> np.ndarray:
    """Value of a data expression in the utility of alternative ``j`` for cases ``rows``.

    ``columns`` maps variable names to the data as held (``data._source``), fetched once per
    design build: a case-level column is converted from pandas only once, not once per block,
    and a wide variable is read from its own column, never stacked into ``(n, J)``.
    """

    def lookup(name: str) -> np.ndarray:
        return alt_values(columns[name], j)[rows]

    val = expr.evaluate(lookup)
    return np.broadcast_to(np.asarray(val, dtype=np.float64), (n_rows,))


#: doubles per block of cases when filling the design: the zero-fill of unavailable
#: alternatives and the finiteness and column-maximum checks read the block again, which is
#: cheap while it is in cache (1M x 10 x 10, fill and checks: whole array at once 0.56 s,
#: blocks of 2^20 values 0.43 s, 2^22 (32 MiB, in L3) 0.38 s; smaller blocks pay Python overhead
#: per term and block)
_FILL_BLOCK = 1 << 22


def build_design(data: ChoiceData, spec: Specification, *, missing: str = "raise",
                 need_choice: bool = True, layout: str = "auto") -> Design:
    """Evaluate the utilities on the data into a :class:`Design`.

    Parameters
    ----------
    data : ChoiceData
    spec : Specification
    missing : {"raise", "drop"}
        What to do with cases where a variable used by an available alternative's utility is
        missing (NaN), non-numeric (e.g. ``"n/a"`` in a column of numbers) or infinite:
        ``"raise"`` one :class:`~choicekit.exceptions.ChoiceDataError` listing every
        (variable, alternative) with the count of each kind and the first case ids;
        ``"drop"`` drop the cases (listed in ``Design.dropped_cases``) with a
        :class:`~choicekit.exceptions.DataWarning` giving the same listing and the counts.
        Values of unavailable alternatives are never looked at.
    need_choice : bool
        Require observed choices (estimation) or not (prediction).
    layout : {"auto", "slots", "dense"}
        ``"auto"``: over every alternative, except for sampled data
        (:meth:`ChoiceData.sample_alternatives`) and sparse choice sets (the largest at most a
        quarter of 64 or more alternatives), which are laid out per case in slots
        (:mod:`choicekit.design.slots`); ``"dense"`` always over every alternative (a sampled
        data's correction then fills ``offset``).

    Warns
    -----
    DataWarning
        After ``missing="drop"``, and (estimation only) when some cases have a single
        available alternative. Such cases are kept: their chosen probability is 1 whatever
        the parameters, so they add exactly zero to the log-likelihood, score and Hessian,
        but they count in the number of cases.

    Raises
    ------
    ChoiceDataError
        No cases, no choices (``need_choice``), unusable values (``missing="raise"``), or nothing
        left after dropping.
    """
    check_option("missing", missing, MISSING_POLICIES, ChoiceDataError)
    if data.n_cases == 0:
        raise ChoiceDataError("The data have no cases (e.g. `data.take([])`): there is nothing "
                              "to model.")
    if need_choice and not data.has_choice:
        raise ChoiceDataError(
            "These data carry no observed choices; pass `choice=` when building the ChoiceData "
            "to estimate a model."
        )
    check_option("layout", layout, LAYOUTS, ChoiceDataError)
    sets = data._choice_sets(layout)
    if sets is not None:
        return build_slot_design(data, spec, sets, missing=missing, need_choice=need_choice)
    n, J, K = data.n_cases, data.n_alts, len(spec.params)
    index = {b.name: k for k, b in enumerate(spec.params)}
    avail = data.avail_array
    terms = [(j, index[name], mult) for j, alt in enumerate(data.alternatives)
             for name, (_, mult) in spec.utilities[alt].terms.items()]
    consts, specific = _sparse_parameters(terms)
    stored = np.array([k for k in range(K) if k not in consts and k not in specific],
                      dtype=np.intp)
    row_of = {int(k): i for i, k in enumerate(stored)}
    fill = [(row_of[k], j, mult) for j, k, mult in terms if k in row_of]
    spec_of = {k: s for s, k in enumerate(specific)}
    fill_specific = [(spec_of[k], j, mult) for j, k, mult in terms if k in spec_of]
    Z = np.zeros((len(specific), n), dtype=np.float64)
    offsets = [(j, spec.utilities[alt].offset) for j, alt in enumerate(data.alternatives)
               if spec.utilities[alt].offset is not None
               and not (isinstance(spec.utilities[alt].offset, _Const)
                        and spec.utilities[alt].offset.value == 0)]
    # np.zeros: pages the terms never write (a generic parameter missing from some
    # alternatives' utilities) stay untouched zero pages until read
    C = np.zeros((len(stored), J, n), dtype=np.float64)
    correction = None if data._sets is None else data._sets.correction
    offset = np.zeros((n, J), dtype=np.float64) if offsets or correction is not None else None
    if correction is not None:  # a sample's correction, spread over the alternatives
        valid = data._sets.alt >= 0
        r = np.broadcast_to(np.arange(n)[:, None], valid.shape)
        offset[r[valid], data._sets.alt[valid]] = correction[valid]
    columns = {name: data._source(name)
               for u in spec.utilities.values() for name in u.variables()}
    bad = np.zeros(n, dtype=bool)
    col_max = np.zeros(len(stored))
    z_max = np.zeros(len(specific))
    block = max(1, _FILL_BLOCK // max(J * len(stored), 1))
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        m = rows.stop - rows.start
        Cb, unavailable = C[:, :, rows], ~avail[rows]
        for i, j, mult in fill:
            Cb[i, j] = _evaluate(mult, columns, j, rows, m)
        if unavailable.any():
            # zero-fill unavailable alternatives (their values may be NaN: missing long rows)
            np.copyto(Cb, 0.0, where=unavailable.T)
        for s, j, mult in fill_specific:
            zb = Z[s, rows]
            zb[:] = _evaluate(mult, columns, j, rows, m)
            np.copyto(zb, 0.0, where=unavailable[:, j])
        _scan_block(Cb, col_max, bad[rows])
        _scan_block(Z[:, rows], z_max, bad[rows])
        if offset is not None:
            ob = offset[rows]
            for j, expr in offsets:
                ob[:, j] += _evaluate(expr, columns, j, rows, m)
            ob[unavailable] = 0.0
            bad[rows] |= ~np.isfinite(ob).all(axis=1)
    dropped = pd.Index([])
    keep = None
    if bad.any():
        if missing == "raise":
            raise ChoiceDataError(_missing_report(data, spec, columns, bad)
                                  + "\nClean the data, or pass missing='drop' to drop those "
                                  "cases (in a spec file: missing = \"drop\" in [data]).")
        keep = ~bad
        dropped = data.cases[bad]
        if not keep.any():
            raise ChoiceDataError("Every case has missing or non-numeric values in the variables "
                                  "the utilities use; nothing is left after missing='drop'.\n"
                                  + _missing_report(data, spec, columns, bad))
        k = int(bad.sum())
        warn_user(f"missing='drop' dropped {k} of {n} {plural(n, 'case')}; "
                      f"{n - k} remain (see `model.dropped_cases`).\n"
                      + _missing_report(data, spec, columns, bad), DataWarning)
    chosen = data.chosen_array
    weight = data.weight_array
    group = data.group_array
    cases = data.cases
    if keep is not None:
        C, avail = np.ascontiguousarray(C[:, :, keep]), avail[keep]
        Z = np.ascontiguousarray(Z[:, keep])
        offset = None if offset is None else offset[keep]
        chosen = None if chosen is None else chosen[keep]
        weight = None if weight is None else weight[keep]
        group = None if group is None else group[keep]
        cases = cases[keep]
    # ChoiceData guarantees an available alternative in every case (data.py, data_changes.py)
    if need_choice:
        counts = data.available_counts
        warn_single_available(cases, avail, counts if keep is None else counts[keep])
    for arr in (C, Z, offset, avail):
        if arr is not None:
            arr.setflags(write=False)
    design = Design(
        columns=C, stored=stored, constants=np.array(list(consts), dtype=np.intp),
        constant_alts=np.array(list(consts.values()), dtype=np.intp),
        specific=np.array(list(specific), dtype=np.intp),
        specific_alts=np.array(list(specific.values()), dtype=np.intp), specific_values=Z,
        offset=offset,
        avail=avail, chosen=chosen, weight=weight, group=group,
        param_names=tuple(b.name for b in spec.params),
        start=np.array([b.value for b in spec.params], dtype=np.float64),
        fixed=np.array([b.fixed for b in spec.params], dtype=bool),
        lower=np.array([b.lower for b in spec.params], dtype=np.float64),
        upper=np.array([b.upper for b in spec.params], dtype=np.float64),
        alternatives=tuple(data.alternatives), cases=cases, dropped_cases=dropped,
        group_labels=None if group is None else data._group_labels,
    )
    if keep is None:  # the cached_property's own slot: computed above, not again on first use
        design.__dict__["column_max"] = design._column_max(col_max, z_max)
    if need_choice:
        _check_scale(design, spec, terms)
    return design


#: a column whose largest |value| exceeds the typical (median) column's by this factor, or
#: exceeds SCALE_ABSOLUTE, is named in a DataWarning: its utilities then dwarf every other
#: term and the optimizer stalls at its start values (a single 1e200 in one attribute gave
#: only convergence and separation warnings). Newton's method with the exact Hessian is
#: scale-invariant, so attributes in odd units (x 1e6, tests/test_numerics.py) fit cleanly and
#: stay silent; these bounds are far beyond any unit choice
SCALE_RATIO = 1e12
SCALE_ABSOLUTE = 1e15


def _check_scale(design: Design, spec: Specification,
                 terms: list[tuple[int, int, Expr]]) -> None:
    """Warn about a design column many orders of magnitude larger than the rest, naming the
    parameter, its variables, the extreme value and where it is."""
    colmax = design.column_max
    is_data = np.ones(design.n_params, dtype=bool)
    is_data[design.constants] = False
    data_cols = np.flatnonzero(is_data)
    if not data_cols.size:
        return
    # the median (constants count as 1), by a sort: np.median's first call costs more than
    # the whole check on a small design
    v = np.sort(colmax)
    h = len(v) // 2
    typical = float(v[h] if len(v) % 2 else 0.5 * (v[h - 1] + v[h]))
    flagged = [k for k in data_cols if colmax[k] > SCALE_ABSOLUTE
               or (typical > 0 and colmax[k] > SCALE_RATIO * typical)]
    if not flagged:
        return
    lines = []
    names = design.param_names
    for k in sorted(flagged, key=lambda k: -colmax[k])[:5]:
        if k in design.stored:
            col = design.columns[int(np.flatnonzero(design.stored == k)[0])]
            j, i = np.unravel_index(int(np.argmax(np.abs(col))), col.shape)
            value = col[j, i]
        else:
            s = int(np.flatnonzero(design.specific == k)[0])
            i, j = int(np.argmax(np.abs(design.specific_values[s]))), design.specific_alts[s]
            value = design.specific_values[s, i]
        alt = design.alternatives[int(j)]
        variables = sorted({v for jj, kk, mult in terms if kk == k and jj == j
                            for v in mult.variables()})
        what = (f"variable {variables[0]!r}" if len(variables) == 1 else
                f"variables {variables}" if variables else "a constant")
        case = python_scalar(design.cases[int(i)])
        lines.append(f"  - parameter {names[k]!r} multiplies {what}: its column in the utility "
                     f"reaches {value:.3g} (alternative {alt!r}, case {case!r})")
    others = np.delete(colmax, flagged)
    rest = f"the other columns reach at most {others.max():.3g}" if others.size else \
        "a column of this size overwhelms every utility"
    verb = "is" if len(flagged) == 1 else "are"
    warn_user(
        f"{len(flagged)} design {plural(len(flagged), 'column')} {verb}"
        f" many orders of magnitude larger than the rest ({rest}; typical {typical:.3g}):\n"
        + "\n".join(lines) + "\nRescale the variable (e.g. divide it by a power of 10, or use "
        "other units) so that it is of the order of the others, and check the extreme values "
        "for data errors or codes such as 9999 for 'missing': the estimation will stall at its "
        "start values otherwise.", DataWarning)


def _sparse_parameters(terms: list[tuple[int, int, Expr]]
                       ) -> tuple[dict[int, int], dict[int, int]]:
    """Parameters in the utility of a single alternative, ``{parameter: alternative}``: the
    constants (multiplier exactly 1, ``Beta("asc")`` alone) and the other alternative-specific
    ones (multiplying data)."""
    count: dict[int, int] = {}
    for _, k, _ in terms:
        count[k] = count.get(k, 0) + 1
    single = [(j, k, mult) for j, k, mult in terms if count[k] == 1]
    consts = {k: j for j, k, mult in single if isinstance(mult, _Const) and mult.value == 1.0}
    return consts, {k: j for j, k, _ in single if k not in consts}
