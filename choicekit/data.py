"""ChoiceData: validated, immutable choice data built once from a pandas frame.

A :class:`ChoiceData` holds, for ``n_cases`` choice situations and ``n_alts`` alternatives:

* ``cases`` (the user's case ids) and ``alternatives`` (the user's labels, any hashable);
* an availability matrix ``(n_cases, n_alts)``;
* the chosen alternative of each case (or none, for data used only for prediction);
* optional case weights and a group id (person, for panels and clustering);
* variables: *alternative-varying* ones, an ``(n_cases, n_alts)`` array each (the long table's
  columns, or wide columns gathered by ``variables=``), and *case-level* ones (the wide table's
  columns), an ``(n_cases,)`` array each.

Everything is checked once here; the estimation code downstream trusts it. The user's frame is
never mutated: long columns are read into arrays lazily, from a private view of the frame.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import first_cases, plural, suggest
from .exceptions import ChoiceDataError, SpecificationError

__all__ = ["ChoiceData"]


def _require_columns(df: pd.DataFrame, columns: Mapping[str, Any], layout: str) -> None:
    """Raise naming every argument whose column is missing from ``df``."""
    problems = []
    for arg, col in columns.items():
        if col is None:
            continue
        if col not in df.columns:
            problems.append(f"{arg}={col!r} is not a column of the {layout} frame."
                            + suggest(col, df.columns))
    if problems:
        cols = ", ".join(map(repr, list(df.columns)[:20]))
        raise ChoiceDataError(
            " ".join(problems) + f" The frame has {df.shape[1]} columns: {cols}"
            + (", ..." if df.shape[1] > 20 else "") + "."
        )


def _as_01(values: pd.Series, what: str, case_ids: np.ndarray) -> np.ndarray:
    """A 0/1 (or boolean) column as bool, with an error naming bad rows."""
    raw = values.to_numpy()
    if raw.dtype == bool:
        return raw
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        examples = pd.unique(values[bad])[:5]
        raise ChoiceDataError(
            f"{what} must be 0/1 (or boolean); {int(bad.sum())} {plural(int(bad.sum()), 'row')} "
            f"hold other values ({', '.join(map(repr, examples))}) in "
            f"{first_cases(pd.unique(case_ids[bad]))}. Recode the column to 0/1."
        )
    return num == 1.0


def _case_level(values: pd.Series, case_idx: np.ndarray, n_cases: int, column: str,
                case_ids: pd.Index) -> np.ndarray:
    """Collapse a long column that must be constant within each case to one value per case."""
    raw = values.to_numpy()
    first = np.full(n_cases, -1, dtype=np.intp)
    # position of the first row of each case (rows are visited in reverse so the first wins)
    first[case_idx[::-1]] = np.arange(len(case_idx))[::-1]
    per_case = raw[first]
    same = pd.Series(raw).eq(pd.Series(per_case[case_idx])).to_numpy() | (
        pd.isna(raw) & pd.isna(per_case[case_idx])
    )
    if not same.all():
        bad = pd.unique(case_idx[~same])
        raise ChoiceDataError(
            f"Column {column!r} must be constant within each case but varies within "
            f"{first_cases(case_ids[bad])}. Give one value per case."
        )
    return per_case


def _check_weight(weight: np.ndarray, column: str, case_ids: pd.Index) -> np.ndarray:
    w = pd.to_numeric(pd.Series(weight), errors="coerce").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ChoiceDataError(
            f"Weight column {column!r} must be finite and non-negative; it is negative, NaN, "
            f"infinite or non-numeric in {first_cases(case_ids[bad])}. Fix or drop those cases."
        )
    return w


def _ordered_labels(values: np.ndarray) -> list[Hashable]:
    """Unique labels, sorted when they are mutually comparable, else in order of appearance."""
    uniq = list(pd.unique(values))
    try:
        return sorted(uniq)
    except TypeError:
        return uniq


class ChoiceData:
    """Validated choice data: cases, alternatives, availability, choices, weights, groups.

    Build it with :meth:`from_long` or :meth:`from_wide`; it is immutable afterwards.

    Attributes
    ----------
    cases : pandas.Index
        Case ids, in the order of the input.
    alternatives : list
        Alternative labels.
    n_cases, n_alts : int
        Numbers of cases and alternatives.
    """

    __slots__ = (
        "_cases", "_alts", "_avail", "_chosen", "_weight", "_group", "_group_labels",
        "_long_frame", "_long_pos", "_long_cache", "_case_frame", "_layout", "_meta",
    )

    def __init__(self, *, cases: pd.Index, alternatives: Sequence[Hashable],
                 avail: np.ndarray, chosen: np.ndarray | None, weight: np.ndarray | None,
                 group: np.ndarray | None, group_labels: pd.Index | None,
                 long_frame: pd.DataFrame | None, long_pos: np.ndarray | None,
                 long_cache: dict[str, np.ndarray], case_frame: pd.DataFrame | None,
                 layout: str, meta: Mapping[str, Any] | None = None) -> None:
        self._cases = cases
        self._alts = list(alternatives)
        self._avail = avail
        self._avail.setflags(write=False)
        self._chosen = chosen
        if chosen is not None:
            chosen.setflags(write=False)
        self._weight = weight
        self._group = group
        self._group_labels = group_labels
        self._long_frame = long_frame
        self._long_pos = long_pos
        self._long_cache = long_cache
        self._case_frame = case_frame
        self._layout = layout
        self._meta = dict(meta or {})

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        case: str,
        alt: str,
        choice: str | None = None,
        availability: str | None = None,
        weight: str | None = None,
        group: str | None = None,
    ) -> ChoiceData:
        """Choice data from a long frame: one row per case and alternative.

        Parameters
        ----------
        df : pandas.DataFrame
            The long table. Rows may come in any order; a case-alternative pair without a row
            is unavailable (unbalanced choice sets).
        case : str
            Column of case (choice situation) ids.
        alt : str
            Column of alternative labels (ints or strings; 0 is a valid label).
        choice : str, optional
            0/1 column marking the chosen row; exactly one chosen available row per case.
            Omit it for data used only for prediction.
        availability : str, optional
            0/1 column; rows with 0 are unavailable. Default: every present row is available.
        weight : str, optional
            Column of case weights (constant within a case, non-negative).
        group : str, optional
            Column of group ids (e.g. person), constant within a case; used for panels and
            cluster-robust covariances.

        Returns
        -------
        ChoiceData

        Notes
        -----
        All other columns are alternative-varying variables that a ``Var`` can name.
        """
        if not isinstance(df, pd.DataFrame):
            raise ChoiceDataError(f"`df` must be a pandas DataFrame. Got {type(df).__name__}.")
        _require_columns(df, {"case": case, "alt": alt, "choice": choice,
                              "availability": availability, "weight": weight,
                              "group": group}, "long")
        if len(df) == 0:
            raise ChoiceDataError("The long frame is empty (0 rows): there is nothing to model.")
        for arg, col in {"case": case, "alt": alt}.items():
            if df[col].isna().any():
                k = int(df[col].isna().sum())
                raise ChoiceDataError(f"{arg} column {col!r} has {k} missing "
                                      f"{plural(k, 'value')}. Every row needs a {arg} id.")
        case_idx, case_ids = pd.factorize(df[case], sort=False)
        alts = _ordered_labels(df[alt].to_numpy())
        alt_idx = pd.Index(alts).get_indexer(df[alt].to_numpy())
        n, J = len(case_ids), len(alts)
        flat = case_idx.astype(np.int64) * J + alt_idx
        counts = np.bincount(flat, minlength=n * J)
        if (counts > 1).any():
            dup = np.flatnonzero(counts > 1)
            raise ChoiceDataError(
                f"Duplicate case-alternative rows: {int((counts[dup] - 1).sum())} extra rows in "
                f"{first_cases(case_ids[dup // J])} (e.g. alternative {alts[dup[0] % J]!r}). "
                f"Each ({case!r}, {alt!r}) pair must appear once."
            )
        avail_rows = (np.ones(len(df), dtype=bool) if availability is None
                      else _as_01(df[availability], f"Availability column {availability!r}",
                                  case_ids[case_idx]))
        avail = np.zeros(n * J, dtype=bool)
        avail[flat] = avail_rows
        avail = avail.reshape(n, J)

        chosen = None
        if choice is not None:
            ch = _as_01(df[choice], f"Choice column {choice!r}", case_ids[case_idx])
            n_chosen = np.bincount(case_idx[ch], minlength=n)
            if (n_chosen == 0).any():
                bad = np.flatnonzero(n_chosen == 0)
                raise ChoiceDataError(
                    f"No chosen row (choice column {choice!r} = 1) in {first_cases(case_ids[bad])}."
                    " Every case needs exactly one chosen alternative; drop those cases."
                )
            if (n_chosen > 1).any():
                bad = np.flatnonzero(n_chosen > 1)
                raise ChoiceDataError(
                    f"Several chosen rows (choice column {choice!r} = 1) in "
                    f"{first_cases(case_ids[bad])}. Every case needs exactly one chosen "
                    "alternative."
                )
            chosen = np.empty(n, dtype=np.intp)
            chosen[case_idx[ch]] = alt_idx[ch]
            bad = ~avail[np.arange(n), chosen]
            if bad.any():
                raise ChoiceDataError(
                    f"The chosen alternative is unavailable in {first_cases(case_ids[bad])}"
                    f" (availability column {availability!r} = 0). Fix the availability or "
                    "drop those cases."
                )

        w = None
        if weight is not None:
            w = _check_weight(_case_level(df[weight], case_idx, n, weight, case_ids), weight,
                              case_ids)
        g = g_labels = None
        if group is not None:
            g_raw = _case_level(df[group], case_idx, n, group, case_ids)
            if pd.isna(g_raw).any():
                raise ChoiceDataError(
                    f"Group column {group!r} is missing in "
                    f"{first_cases(case_ids[pd.isna(g_raw)])}. Every case needs a group id."
                )
            g, g_labels = pd.factorize(g_raw, sort=False)
        keys = {case, alt, choice, availability, weight, group} - {None}
        var_cols = [c for c in df.columns if c not in keys]
        long_frame = df[var_cols] if var_cols else None
        return cls(cases=pd.Index(case_ids, name=case), alternatives=alts, avail=avail,
                   chosen=chosen, weight=w, group=g, group_labels=g_labels,
                   long_frame=long_frame, long_pos=flat, long_cache={}, case_frame=None,
                   layout="long", meta={"choice": choice, "weight": weight, "group": group})

    @classmethod
    def from_wide(
        cls,
        df: pd.DataFrame,
        choice: str | None,
        alternatives: Mapping[Any, Hashable],
        availability: Mapping[Hashable, str] | None = None,
        variables: Mapping[str, Mapping[Hashable, str]] | None = None,
        weight: str | None = None,
        group: str | None = None,
        case: str | None = None,
    ) -> ChoiceData:
        """Choice data from a wide frame: one row per case.

        Parameters
        ----------
        df : pandas.DataFrame
            The wide table.
        choice : str or None
            Column holding the code of the chosen alternative (None: no choices, prediction
            only).
        alternatives : mapping
            ``{code in the choice column: alternative label}``, in the order alternatives
            should appear.
        availability : mapping, optional
            ``{alternative label: 0/1 column}``; an alternative left out is always available.
        variables : mapping, optional
            ``{variable name: {alternative label: column}}``: alternative-varying variables
            gathered from wide columns; an alternative left out of a mapping gets 0.
        weight, group : str, optional
            Columns of case weights and group ids.
        case : str, optional
            Column of case ids; by default the frame's index (if unique) gives the ids.

        Returns
        -------
        ChoiceData

        Notes
        -----
        Every column of ``df`` stays available as a case-level variable, so utilities can use
        ``Var("TRAIN_TT")`` directly, in the Biogeme style.
        """
        if not isinstance(df, pd.DataFrame):
            raise ChoiceDataError(f"`df` must be a pandas DataFrame. Got {type(df).__name__}.")
        if not isinstance(alternatives, Mapping) or not alternatives:
            raise ChoiceDataError(
                "`alternatives` must be a non-empty mapping {code in the choice column: "
                "alternative name}, e.g. {1: 'train', 2: 'sm', 3: 'car'}."
            )
        alts = list(alternatives.values())
        if len(set(alts)) != len(alts):
            raise ChoiceDataError(f"Alternative names must be unique; got {alts}.")
        availability = dict(availability or {})
        variables = dict(variables or {})
        cols: dict[str, Any] = {"choice": choice, "weight": weight, "group": group, "case": case}
        cols.update({f"availability[{a!r}]": c for a, c in availability.items()})
        for v, mapping in variables.items():
            if not isinstance(mapping, Mapping):
                raise ChoiceDataError(
                    f"variables[{v!r}] must map alternative names to columns, e.g. "
                    f"{{'train': 'TRAIN_TT'}}. Got {type(mapping).__name__}."
                )
            cols.update({f"variables[{v!r}][{a!r}]": c for a, c in mapping.items()})
        _require_columns(df, cols, "wide")
        for what, keys in [("availability", availability.keys())] + [
            (f"variables[{v!r}]", m.keys()) for v, m in variables.items()
        ]:
            unknown = [a for a in keys if a not in alts]
            if unknown:
                raise ChoiceDataError(
                    f"{what} names unknown alternatives {unknown}"
                    f"{suggest(unknown[0], alts)} The alternatives are {alts}."
                )
        if len(df) == 0:
            raise ChoiceDataError("The wide frame is empty (0 rows): there is nothing to model.")
        n, J = len(df), len(alts)
        if case is not None:
            case_ids = pd.Index(df[case].to_numpy(), name=case)
        else:
            case_ids = pd.Index(df.index)
        if not case_ids.is_unique:
            dup = case_ids[case_ids.duplicated()].unique()
            raise ChoiceDataError(
                f"Case ids must be unique in a wide frame; {first_cases(dup)} repeat "
                f"({'column ' + repr(case) if case else 'the frame index'}). Pass `case=` with a "
                "unique id column or reset the index."
            )
        avail = np.ones((n, J), dtype=bool)
        for j, a in enumerate(alts):
            if a in availability:
                avail[:, j] = _as_01(df[availability[a]],
                                     f"Availability column {availability[a]!r}",
                                     case_ids.to_numpy())
        chosen = None
        if choice is not None:
            codes = df[choice]
            code_index = pd.Index(list(alternatives.keys()))
            try:
                chosen = code_index.get_indexer(codes.to_numpy())
            except (TypeError, pd.errors.InvalidIndexError) as err:  # pragma: no cover
                raise ChoiceDataError(
                    f"Choice column {choice!r} cannot be matched: {err}") from None
            if (chosen < 0).any():
                bad = chosen < 0
                examples = pd.unique(codes[bad])[:5]
                raise ChoiceDataError(
                    f"Choice column {choice!r} holds codes that are not declared alternatives "
                    f"({', '.join(map(repr, examples))}) in {first_cases(case_ids[bad])}. "
                    f"Declared codes: {list(alternatives.keys())}. Add them to `alternatives` "
                    "or drop those cases."
                )
            chosen = chosen.astype(np.intp)
            bad = ~avail[np.arange(n), chosen]
            if bad.any():
                raise ChoiceDataError(
                    f"The chosen alternative is unavailable in {first_cases(case_ids[bad])}. "
                    "Fix the availability columns or drop those cases."
                )
        w = None if weight is None else _check_weight(df[weight].to_numpy(), weight, case_ids)
        g = g_labels = None
        if group is not None:
            if df[group].isna().any():
                raise ChoiceDataError(
                    f"Group column {group!r} is missing in "
                    f"{first_cases(case_ids[df[group].isna().to_numpy()])}."
                )
            g, g_labels = pd.factorize(df[group], sort=False)
        long_cache: dict[str, np.ndarray] = {}
        for v, mapping in variables.items():
            arr = np.zeros((n, J), dtype=np.float64)
            for j, a in enumerate(alts):
                if a in mapping:
                    arr[:, j] = _numeric(df[mapping[a]], mapping[a])
            arr.setflags(write=False)
            long_cache[v] = arr
        return cls(cases=case_ids, alternatives=alts, avail=avail, chosen=chosen, weight=w,
                   group=g, group_labels=g_labels, long_frame=None, long_pos=None,
                   long_cache=long_cache, case_frame=df.copy(deep=False), layout="wide",
                   meta={"choice": choice, "weight": weight, "group": group,
                         "alternatives": dict(alternatives)})

    # ------------------------------------------------------------------ public view
    @property
    def alternatives(self) -> list[Hashable]:
        """Alternative labels, in model order."""
        return list(self._alts)

    @property
    def cases(self) -> pd.Index:
        """Case ids."""
        return self._cases

    @property
    def n_cases(self) -> int:
        """Number of cases (choice situations)."""
        return len(self._cases)

    @property
    def n_alts(self) -> int:
        """Number of alternatives."""
        return len(self._alts)

    @property
    def layout(self) -> str:
        """``"long"`` or ``"wide"``: the layout the data came from."""
        return self._layout

    @property
    def has_choice(self) -> bool:
        """Whether the data carry observed choices."""
        return self._chosen is not None

    @property
    def chosen(self) -> pd.Series | None:
        """Chosen alternative label per case (index: case ids), or None without choices."""
        if self._chosen is None:
            return None
        labels = np.empty(len(self._alts), dtype=object)
        labels[:] = self._alts
        return pd.Series(labels[self._chosen], index=self._cases, name="chosen")

    @property
    def availability(self) -> pd.DataFrame:
        """Availability as a boolean frame (cases x alternatives)."""
        return pd.DataFrame(self._avail, index=self._cases, columns=self._alts)

    @property
    def weight(self) -> pd.Series | None:
        """Case weights, or None."""
        return None if self._weight is None else pd.Series(self._weight, index=self._cases,
                                                            name="weight")

    @property
    def group(self) -> pd.Series | None:
        """Group id per case, or None."""
        if self._group is None:
            return None
        return pd.Series(np.asarray(self._group_labels)[self._group], index=self._cases,
                         name="group")

    @property
    def variables(self) -> list[str]:
        """Names a ``Var`` can refer to: alternative-varying first, then case-level."""
        names = list(self._long_cache)
        if self._long_frame is not None:
            names += [str(c) for c in self._long_frame.columns if c not in self._long_cache]
        if self._case_frame is not None:
            names += [str(c) for c in self._case_frame.columns if c not in names]
        return names

    def __repr__(self) -> str:
        extra = []
        if self._weight is not None:
            extra.append("weighted")
        if self._group is not None:
            extra.append(f"{len(self._group_labels)} groups")
        tail = (", " + ", ".join(extra)) if extra else ""
        return (f"ChoiceData({self.n_cases} cases, {self.n_alts} alternatives "
                f"{self._alts}, {self._layout}{tail})")

    # ------------------------------------------------------------------ variable lookup
    def has_variable(self, name: str) -> bool:
        """Whether ``name`` is an alternative-varying or case-level variable."""
        return (name in self._long_cache
                or (self._long_frame is not None and name in self._long_frame.columns)
                or (self._case_frame is not None and name in self._case_frame.columns))

    def variable(self, name: str) -> np.ndarray:
        """Values of a variable: ``(n_cases, n_alts)`` if alternative-varying, else ``(n_cases,)``.

        Alternative-varying values of unavailable (missing) rows are NaN in long data.

        Raises
        ------
        SpecificationError
            If the variable does not exist or is not numeric.
        """
        if name in self._long_cache:
            return self._long_cache[name]
        if self._long_frame is not None and name in self._long_frame.columns:
            arr = np.full(self.n_cases * self.n_alts, np.nan)
            arr[self._long_pos] = _numeric(self._long_frame[name], name)
            arr = arr.reshape(self.n_cases, self.n_alts)
            arr.setflags(write=False)
            self._long_cache[name] = arr
            return arr
        if self._case_frame is not None and name in self._case_frame.columns:
            return _numeric(self._case_frame[name], name)
        raise SpecificationError(
            f"Variable {name!r} is not in the data.{suggest(name, self.variables)} "
            f"Available variables: {', '.join(map(repr, self.variables[:30]))}"
            + (", ..." if len(self.variables) > 30 else "") + "."
        )

    # ------------------------------------------------------------------ derived data
    def _replace(self, **changes: Any) -> ChoiceData:
        fields = {
            "cases": self._cases, "alternatives": self._alts, "avail": self._avail,
            "chosen": self._chosen, "weight": self._weight, "group": self._group,
            "group_labels": self._group_labels, "long_frame": self._long_frame,
            "long_pos": self._long_pos, "long_cache": self._long_cache,
            "case_frame": self._case_frame, "layout": self._layout, "meta": self._meta,
        }
        fields.update(changes)
        return ChoiceData(**fields)

    def with_chosen(self, chosen: np.ndarray) -> ChoiceData:
        """The same data with other choices (an index into ``alternatives`` per case).

        Used by simulation: everything else (variables, availability, weights, groups) is
        shared, not copied.
        """
        chosen = np.asarray(chosen, dtype=np.intp)
        if chosen.shape != (self.n_cases,):
            raise ChoiceDataError(f"`chosen` must have shape ({self.n_cases},); got "
                                  f"{chosen.shape}.")
        if ((chosen < 0) | (chosen >= self.n_alts)).any():
            raise ChoiceDataError("`chosen` holds indices outside the alternatives.")
        if not self._avail[np.arange(self.n_cases), chosen].all():
            bad = ~self._avail[np.arange(self.n_cases), chosen]
            raise ChoiceDataError(
                f"`chosen` picks an unavailable alternative in {first_cases(self._cases[bad])}."
            )
        return self._replace(chosen=chosen.copy())

    def take(self, index: np.ndarray) -> ChoiceData:
        """A subset (or resample, with repeats) of cases by position."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        J = self.n_alts
        long_cache = {k: v[index] for k, v in self._long_cache.items()}
        long_frame, long_pos = None, None
        if self._long_frame is not None:
            # materialise the remaining long columns for the subset (numeric ones only)
            for c in self._long_frame.columns:
                if c not in long_cache and pd.api.types.is_numeric_dtype(self._long_frame[c]):
                    long_cache[c] = self.variable(c)[index]
        for v in long_cache.values():
            v.setflags(write=False)
        case_frame = None if self._case_frame is None else self._case_frame.iloc[index]
        cases = self._cases[index]
        if not cases.is_unique:  # a bootstrap resample: give the repeats new ids
            cases = pd.RangeIndex(len(index), name=self._cases.name)
        del J
        return self._replace(
            cases=cases, avail=self._avail[index],
            chosen=None if self._chosen is None else self._chosen[index],
            weight=None if self._weight is None else self._weight[index],
            group=None if self._group is None else self._group[index],
            long_frame=long_frame, long_pos=long_pos, long_cache=long_cache,
            case_frame=case_frame,
        )

    # internal array access for the design builder (read-only arrays)
    @property
    def avail_array(self) -> np.ndarray:
        """Availability as a read-only ``(n_cases, n_alts)`` bool array."""
        return self._avail

    @property
    def chosen_array(self) -> np.ndarray | None:
        """Chosen alternative index per case as a read-only int array, or None."""
        return self._chosen

    @property
    def weight_array(self) -> np.ndarray | None:
        """Case weights as an array, or None."""
        return self._weight

    @property
    def group_array(self) -> np.ndarray | None:
        """Group codes (0..G-1) per case, or None."""
        return self._group


def _numeric(col: pd.Series, name: str) -> np.ndarray:
    """A column as float64, with a clear error for non-numeric data."""
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=np.float64)
    if not pd.api.types.is_numeric_dtype(col):
        raise SpecificationError(
            f"Variable {name!r} is not numeric (dtype {col.dtype}); a utility can only use "
            "numbers. Recode it (e.g. indicator columns, or `Var(name) == value` on a numeric "
            "code)."
        )
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


# =============================================================================================
# Derived data with changed variables (post-estimation scenarios; added for issue 4).
# Attached to ChoiceData below so that the class body above stays untouched.
# =============================================================================================


def _with_variables(self: ChoiceData, values: Mapping[str, Any]) -> ChoiceData:
    """The same data with some variables replaced (the original is not changed).

    Parameters
    ----------
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
        current = self.variable(name)  # raises, naming close matches, if unknown
        try:
            arr = np.array(np.broadcast_to(np.asarray(new, dtype=np.float64), current.shape))
        except ValueError:
            what = "cases x alternatives" if current.ndim == 2 else "one value per case"
            raise SpecificationError(
                f"New values of variable {name!r} have shape {np.shape(new)}; the variable has "
                f"shape {current.shape} ({what})."
            ) from None
        if current.ndim == 2:
            arr.setflags(write=False)
            long_updates[name] = arr
        else:
            case_updates[name] = arr
    long_cache = dict(self._long_cache)
    long_cache.update(long_updates)
    case_frame = self._case_frame
    if case_updates:
        assert case_frame is not None
        case_frame = case_frame.assign(**case_updates)
    return self._replace(long_cache=long_cache, case_frame=case_frame)


ChoiceData.with_variables = _with_variables  # type: ignore[attr-defined]
