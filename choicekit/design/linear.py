"""Design: the frozen arrays a model is estimated on, built once from data and specification.

The design stores the utilities' data parameter-major: ``columns`` of shape
``(n_stored, n_alts, n_cases)`` (C-contiguous float64, zero at unavailable alternatives) holds
the column of every parameter that multiplies data in several alternatives' utilities.
Alternative-specific constants (a parameter entering one alternative's utility with
multiplier 1) are not stored at all, only named with their alternative, and other
alternative-specific parameters (entering one utility, e.g. income in the utility of train)
store only their ``n_cases`` values in that alternative (``specific_values``), not the other
alternatives' zeros. Next to them: the parameter-free ``offset``
``(n_cases, n_alts)`` or None, availability, chosen alternative, weights, groups, and the
parameter metadata (names, start values, fixed mask, bounds). Kernels consume it in chunks of
cases; :attr:`Design.X` gives the textbook ``(n_cases, n_alts, n_params)`` array on request.

Why this layout (measured on the 1,000,000 x 10 alternatives x (10 attributes + 9 constants)
benchmark, ``benchmarks/README.md``): the case-major ``(n, J, K)`` array took 4.9 s to fill
(each value written one cache line apart) and 1.45 GiB, half of it ones and zeros of the
constants, and the estimator copied the attribute columns out of every chunk on every pass.
Stored parameter-major, each variable is written as contiguous runs, the constants cost
nothing, and a chunk of cases is ``columns[:, :, a:b]``, rows the fused kernel reads as they
are (:func:`choicekit.families.mnl.kernels.chunk_derivatives`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from choicekit._validation import check_option, first_cases, plural, python_scalar
from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData, alt_values
from choicekit.data.layouts import WideVariable
from choicekit.exceptions import ChoiceDataError, DataWarning
from choicekit.spec.expressions import Expr, Specification, _Const

__all__ = ["Design", "build_design", "MISSING_POLICIES", "LAYOUTS"]

MISSING_POLICIES = ("raise", "drop")

#: how a design is laid out: "auto" (per case slots for sampled or sparse choice sets,
#: :mod:`choicekit.design.slots`), "slots", or "dense" (over every alternative)
LAYOUTS = ("auto", "slots", "dense")

_ALL = slice(None)


@dataclass(frozen=True)
class Design:
    """Frozen estimation arrays (see module docstring).

    ``columns[i]`` (``(n_alts, n_cases)``) is the column of parameter ``stored[i]``;
    parameter ``constants[a]`` is 1 in the utility of alternative ``constant_alts[a]`` and 0
    elsewhere; parameter ``specific[s]`` is ``specific_values[s]`` (``(n_cases,)``) in the
    utility of alternative ``specific_alts[s]`` and 0 elsewhere. Every parameter is exactly
    one of the three.
    """

    columns: np.ndarray
    stored: np.ndarray
    constants: np.ndarray
    constant_alts: np.ndarray
    specific: np.ndarray
    specific_alts: np.ndarray
    specific_values: np.ndarray
    offset: np.ndarray | None
    avail: np.ndarray
    chosen: np.ndarray | None
    weight: np.ndarray | None
    group: np.ndarray | None
    param_names: tuple[str, ...]
    start: np.ndarray
    fixed: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    alternatives: tuple[Hashable, ...]
    cases: pd.Index
    dropped_cases: pd.Index = field(default_factory=lambda: pd.Index([]))
    #: choice sets stored per case (:mod:`choicekit.design.slots`): ``(n_cases, n_slots)``,
    #: the index into ``alternatives`` of every slot (0 in empty slots, which are unavailable);
    #: None when the design is laid out over every alternative. With slots, ``n_alts`` is the
    #: number of slots and every per-alternative array (``avail``, ``chosen``, ``offset``,
    #: probabilities) is per slot; :meth:`to_alternatives` spreads one over the alternatives.
    slot_alts: np.ndarray | None = None

    @property
    def n_cases(self) -> int:
        return self.avail.shape[0]

    @property
    def n_alts(self) -> int:
        return self.avail.shape[1]

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def to_alternatives(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """A per-slot ``(n_cases, n_slots)`` array as ``(n_cases, len(alternatives))``:
        ``fill`` where the alternative is not in the case's set (the array itself when the
        design is not laid out in slots)."""
        if self.slot_alts is None:
            return values
        out = np.full((self.n_cases, len(self.alternatives)), fill, dtype=values.dtype)
        rows = np.broadcast_to(np.arange(self.n_cases)[:, None], self.avail.shape)
        out[rows[self.avail], self.slot_alts[self.avail]] = values[self.avail]
        return out

    def __getstate__(self) -> dict:
        # the dense X is a cache as large as the design (rebuilt on use); the column maxima
        # (K numbers, a pass over the design to recompute) travel
        state = self.__dict__.copy()
        state.pop("X", None)
        return state

    def chosen_alternatives(self) -> np.ndarray | None:
        """Index into ``alternatives`` of the chosen alternative per case (``chosen`` is the
        slot in a slot design)."""
        if self.chosen is None or self.slot_alts is None:
            return self.chosen
        return self.slot_alts[np.arange(self.n_cases), self.chosen]

    @property
    def has_bounds(self) -> bool:
        free = ~self.fixed
        return bool(np.isfinite(self.lower[free]).any() or np.isfinite(self.upper[free]).any())

    @cached_property
    def X(self) -> np.ndarray:
        """The textbook design ``(n_cases, n_alts, n_params)``, materialised on first use.

        Costs ``n_cases * n_alts * n_params`` doubles (constants included); estimation and
        prediction never ask for it (they read :attr:`columns` in chunks), so a large model
        only pays for it when user code does.
        """
        X = self.block()
        X.setflags(write=False)
        return X

    def block(self, rows: slice = _ALL, params: np.ndarray | None = None) -> np.ndarray:
        """The textbook design of the cases ``rows``: ``(m, n_alts, len(params))``, a new
        C-contiguous array (all parameters by default, else those positions in that order)."""
        avail = self.avail[rows]
        params = np.arange(self.n_params) if params is None else np.asarray(params, np.intp)
        out = np.zeros((avail.shape[0], self.n_alts, len(params)))
        where = {int(k): i for i, k in enumerate(self.stored)}
        const = {int(k): int(j) for k, j in zip(self.constants, self.constant_alts)}
        spec = {int(k): (s, int(j)) for s, (k, j) in enumerate(zip(self.specific,
                                                                    self.specific_alts))}
        for c, k in enumerate(params):
            if int(k) in where:
                out[:, :, c] = self.columns[where[int(k)], :, rows].T
            elif int(k) in spec:
                s, j = spec[int(k)]
                out[:, j, c] = self.specific_values[s, rows]
            else:  # a constant: 1 where its alternative is available (0 elsewhere, as stored)
                j = const[int(k)]
                out[:, j, c] = avail[:, j]
        return out

    def column(self, k: int) -> np.ndarray:
        """Parameter ``k``'s values, ``(n_cases, n_alts)`` (a view for stored columns)."""
        where = np.flatnonzero(self.stored == k)
        if len(where):
            return self.columns[where[0]].T
        return self.block(params=[k])[:, :, 0]

    def utilities(self, beta: np.ndarray, rows: slice = _ALL) -> np.ndarray:
        """Systematic utilities ``X beta + offset`` of the cases ``rows``: ``(m, n_alts)``.

        Unavailable alternatives get the offset only (their stored values are zero).
        """
        beta = np.asarray(beta, dtype=np.float64)
        avail = self.avail[rows]
        m, J = avail.shape
        Vt = np.zeros((J, m))
        bs = beta[self.stored]
        if len(bs):
            for j in range(J):  # one BLAS product per alternative, on the stored rows as laid
                np.matmul(bs, self.columns[:, j, rows], out=Vt[j])
        for k, j in zip(self.constants, self.constant_alts):
            Vt[j] += beta[k] * avail[:, j]
        for s, (k, j) in enumerate(zip(self.specific, self.specific_alts)):
            Vt[j] += beta[k] * self.specific_values[s, rows]
        V = np.ascontiguousarray(Vt.T)
        if self.offset is not None:
            V += self.offset[rows]
        return V

    @cached_property
    def column_max(self) -> np.ndarray:
        """Largest absolute value of each design column, ``(n_params,)`` (overflow guards)."""
        # max and -min rather than abs(X).max(): no temporary copy of the whole design
        flat = self.columns.reshape(len(self.stored), -1)
        Z = self.specific_values
        return self._column_max(
            np.maximum(flat.max(axis=1), -flat.min(axis=1)) if flat.size else 0.0,
            np.maximum(Z.max(axis=1), -Z.min(axis=1)) if Z.size else 0.0)

    def _column_max(self, stored_max: np.ndarray | float,
                    specific_max: np.ndarray | float) -> np.ndarray:
        """All parameters' ``column_max`` from those of the stored and specific columns (a
        constant's is 1)."""
        out = np.zeros(self.n_params)
        out[self.constants] = 1.0
        out[self.stored] = stored_max
        out[self.specific] = specific_max
        return out

    def with_chosen(self, chosen: np.ndarray) -> Design:
        """The same design with other choices (shares every array but ``chosen``)."""
        return replace(self, chosen=np.asarray(chosen, dtype=np.intp))


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
        from choicekit.design.slots import build_slot_design

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
    n_avail = avail.sum(axis=1)
    if need_choice and (n_avail == 1).any():
        warn_user(
            f"{first_cases(cases[n_avail == 1])} of {len(cases)} have a single available "
            "alternative. They are kept but carry no information: their chosen probability is 1 "
            "whatever the parameters, so they add exactly 0 to the log-likelihood, score and "
            f"Hessian; they do count in `nobs` (and so in BIC). Drop them (`data.take(...)`) if "
            "that matters.", DataWarning)
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
    data_cols = np.setdiff1d(np.arange(design.n_params), design.constants)
    if not data_cols.size:
        return
    typical = float(np.median(colmax))  # constants count as 1
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


def _scan_block(values: np.ndarray, col_max: np.ndarray, bad: np.ndarray) -> None:
    """Fold a filled block's largest ``|value|`` per column (first axis) into ``col_max``
    and mark in ``bad`` the cases (last axis) holding a NaN or inf.

    Done while the block is in cache: computed afterwards, ``Design.column_max`` was one more
    pass over the design (0.11 s on 1M x 10 x 10). The maximum and minimum propagate NaN and
    inf, so only a block that has one needs the per-case finiteness check.
    """
    if not values.size:
        return
    inner = tuple(range(1, values.ndim))
    hi, lo = values.max(axis=inner), values.min(axis=inner)
    if np.isfinite(hi).all() and np.isfinite(lo).all():
        np.maximum(col_max, np.maximum(hi, -lo), out=col_max)
    else:
        bad |= ~np.isfinite(values).all(axis=tuple(range(values.ndim - 1)))


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


def _missing_report(data: ChoiceData, spec: Specification,
                    columns: dict[str, np.ndarray | WideVariable], bad_cases: np.ndarray) -> str:
    """Name every (variable, alternative) with unusable values where available: NaN, non-numeric
    entries and infinite values are counted separately. ``columns`` as in :func:`_evaluate`."""
    avail = data.avail_array
    lines = []
    covered = np.zeros(data.n_cases, dtype=bool)
    for j, alt in enumerate(data.alternatives):
        u = spec.utilities[alt]
        for name in sorted(u.variables()):
            col = alt_values(columns[name], j)
            nonfinite = ~np.isfinite(col) & avail[:, j]
            if not nonfinite.any():
                continue
            covered |= nonfinite
            nn = data.nonnumeric(name)
            nonnum = np.zeros(len(col), dtype=bool)
            examples = ""
            if nn is not None:
                mask = nn[0][:, j] if nn[0].ndim == 2 else nn[0]
                nonnum = mask & avail[:, j]
                examples = nn[1]
            kinds = []
            k_nonnum = int(nonnum.sum())
            k_nan = int((np.isnan(col) & avail[:, j] & ~nonnum).sum())
            k_inf = int((np.isinf(col) & avail[:, j]).sum())
            if k_nan:
                kinds.append(f"{k_nan} missing (NaN)")
            if k_nonnum:
                kinds.append(f"{k_nonnum} non-numeric ({examples})")
            if k_inf:
                kinds.append(f"{k_inf} infinite")
            lines.append(f"  - variable {name!r} for alternative {alt!r}: "
                         f"{', '.join(kinds)} {plural(k_nan + k_nonnum + k_inf, 'value')} in "
                         f"{first_cases(data.cases[nonfinite])}")
    rest = bad_cases & ~covered
    if rest.any():  # the expression itself produced inf/NaN (e.g. log(0), division by zero)
        lines.append(f"  - the utility expressions evaluate to NaN/inf in "
                     f"{first_cases(data.cases[rest])} although the variables are finite (e.g. "
                     "log of 0 or of a negative number, division by 0)")
    k = int(bad_cases.sum())
    return (f"Missing, non-numeric or infinite values in {k} {plural(k, 'case')} where the "
            "alternative is available:\n" + "\n".join(lines))
