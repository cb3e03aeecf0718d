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

from choicekit._validation import first_cases, plural
from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData, alt_values
from choicekit.data.layouts import WideVariable
from choicekit.exceptions import DataWarning
from choicekit.spec.expressions import Specification

__all__ = ["Design", "MISSING_POLICIES", "LAYOUTS"]

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
    #: labels of the ``group`` codes (``group_labels[group]`` is each case's group id), so
    #: that families keyed by group id (the mixed logit's draws) can name the units
    group_labels: pd.Index | None = None

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

    @property
    def weight_total(self) -> float | None:
        """Sum of the case weights (None unweighted)."""
        return None if self.weight is None else float(self.weight.sum())

    def null_loglike(self) -> float:
        """Log-likelihood of equal shares over each case's available alternatives."""
        ll_obs = -np.log(self.avail.sum(axis=1))
        return float(ll_obs.sum() if self.weight is None else ll_obs @ self.weight)

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


def warn_single_available(cases: pd.Index, avail: np.ndarray,
                          n_avail: np.ndarray | None = None) -> None:
    """The DataWarning for cases with a single available alternative (estimation only);
    ``n_avail``: the available alternatives per case, when known."""
    n_avail = avail.sum(axis=1) if n_avail is None else n_avail
    if (n_avail == 1).any():
        warn_user(
            f"{first_cases(cases[n_avail == 1])} of {len(cases)} have a single available "
            "alternative. They are kept but carry no information: their chosen probability is 1 "
            "whatever the parameters, so they add exactly 0 to the log-likelihood, score and "
            f"Hessian; they do count in `nobs` (and so in BIC). Drop them (`data.take(...)`) if "
            "that matters.", DataWarning)


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
