"""ChoiceData: validated, immutable choice data built once from a pandas frame.

A :class:`ChoiceData` holds, for ``n_cases`` choice situations and ``n_alts`` alternatives:

* ``cases`` (the user's case ids) and ``alternatives`` (the user's labels, any hashable);
* an availability matrix ``(n_cases, n_alts)``;
* the chosen alternative of each case (or none, for data used only for prediction);
* optional case weights and a group id (person, for panels and clustering);
* variables: *alternative-varying* ones, an ``(n_cases, n_alts)`` array each (the long table's
  columns, or wide columns gathered by ``variables=``), and *case-level* ones (the wide table's
  columns), an ``(n_cases,)`` array each.

Everything is checked once here; the estimation code downstream trusts it. The checks do not
stop at the first problem: every kind of problem found (missing ids, duplicate rows, choice
codes outside the declared alternatives, cases with no or several chosen rows, chosen
alternatives that are unavailable, cases with no available alternative, bad weights or groups)
is listed in one :class:`~choicekit.exceptions.ChoiceDataError`, with the count and the first
case ids of each. ``invalid="drop"`` drops the affected cases instead, with a
:class:`~choicekit.exceptions.DataWarning` giving the same listing; ``data.dropped_cases``
names them. Values of the variables are checked later, when a utility uses them (see
:func:`choicekit.design.build_design` and ``MNL(missing=...)``).

The user's frame is never mutated: long columns are read into arrays lazily, from a private
view of the frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._validation import (
    Problems,
    affected_cases,
    check_option,
    first_cases,
    first_rows,
    label_list,
    plural,
    show_values,
    suggest,
    to_float,
    zero_one,
)
from .exceptions import ChoiceDataError, DataWarning, SpecificationError

__all__ = ["ChoiceData", "INVALID_POLICIES"]

#: what the constructors do with invalid cases: list them in one error, or drop them
INVALID_POLICIES = ("raise", "drop")


def _check_frame(df: Any, layout: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ChoiceDataError(f"`df` must be a pandas DataFrame. Got {type(df).__name__}.")
    if not df.columns.is_unique:
        dup = df.columns[df.columns.duplicated()].unique()
        raise ChoiceDataError(
            f"Column names of the {layout} frame must be unique; {list(dup)[:5]} appear more "
            "than once. Rename or drop the duplicates."
        )


def _require_columns(df: pd.DataFrame, columns: Mapping[str, Any], layout: str,
                     extra: Sequence[str] = ()) -> None:
    """Raise naming every argument whose column is missing from ``df`` (plus ``extra`` lines)."""
    problems = list(extra)
    for arg, col in columns.items():
        if col is None:
            continue
        try:
            present = col in df.columns
        except TypeError:  # unhashable, e.g. a list
            problems.append(f"{arg} must be a column name; got {type(col).__name__} {col!r}.")
            continue
        if not present:
            problems.append(f"{arg}={col!r} is not a column of the {layout} frame."
                            + suggest(col, df.columns))
    if problems:
        cols = ", ".join(map(repr, list(df.columns)[:20]))
        raise ChoiceDataError(
            " ".join(problems) + f" The frame has {df.shape[1]} columns: {cols}"
            + (", ..." if df.shape[1] > 20 else "") + "."
        )


def _factorize(values: pd.Series, what: str) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` with a choicekit error for unhashable ids."""
    try:
        codes, uniques = pd.factorize(values, sort=False)
    except TypeError as err:
        raise ChoiceDataError(
            f"{what} holds values that cannot serve as ids ({err}); use numbers or strings."
        ) from None
    return codes, pd.Index(uniques, tupleize_cols=False)


def _ordered_labels(uniques: pd.Index) -> tuple[list[Hashable], np.ndarray]:
    """Alternative labels sorted when mutually comparable (else in order of appearance), as
    Python scalars, and the permutation from factorize codes to model order."""
    labels = label_list(uniques)
    order = list(range(len(labels)))
    try:
        order = sorted(order, key=lambda i: labels[i])
    except TypeError:
        pass
    rank = np.empty(len(labels), dtype=np.intp)
    rank[order] = np.arange(len(labels))
    return [labels[i] for i in order], rank


def _case_level(raw: np.ndarray, case_idx: np.ndarray, n_cases: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """First value of a long column in each case, and the mask of cases where it varies."""
    first = np.full(n_cases, -1, dtype=np.intp)
    # position of the first row of each case (rows are visited in reverse so the first wins)
    first[case_idx[::-1]] = np.arange(len(case_idx))[::-1]
    per_case = raw[first]
    try:
        same = pd.Series(raw).eq(pd.Series(per_case[case_idx])).to_numpy(dtype=bool)
    except TypeError:  # pragma: no cover - incomparable objects
        same = np.zeros(len(raw), dtype=bool)
    same = same | (pd.isna(raw) & pd.isna(per_case[case_idx]))
    varies = np.zeros(n_cases, dtype=bool)
    varies[case_idx[~same]] = True
    return per_case, varies


def _check_weight(values: np.ndarray, column: str, case_ids: pd.Index, problems: Problems,
                  rows_of: Any) -> np.ndarray:
    """Case weights as float; each kind of bad value (non-numeric, NaN, infinite, negative)
    is one problem line. ``rows_of(case_mask)`` maps cases to rows of the frame."""
    w, nonnum = to_float(pd.Series(values))
    kinds = [
        ("non-numeric", nonnum),
        ("missing (NaN)", np.isnan(w) & ~nonnum),
        ("infinite", np.isinf(w)),
        ("negative", np.isfinite(w) & (w < 0)),
    ]
    for kind, bad in kinds:
        if bad.any():
            vals = f" ({show_values(values[bad])})" if kind == "non-numeric" else ""
            problems.add(f"weight column {column!r} is {kind}{vals} in "
                         f"{first_cases(case_ids[bad])}; weights must be finite and "
                         "non-negative.", rows_of(bad))
    ok = np.isfinite(w) & (w >= 0)
    if ok.any() and not (w[ok] > 0).any():
        problems.add(f"weight column {column!r} is zero in every case: the weighted "
                     "log-likelihood is 0 whatever the parameters.", None)
    return w


def _finish(problems: Problems, layout: str, n_cases_bad: int, n_cases: int,
            invalid: str) -> None:
    """Raise (``invalid="raise"``) or warn (``"drop"``) with the listing of every problem."""
    k = len(problems)
    head = (f"The {layout} frame has {k} {plural(k, 'kind')} of invalid data, affecting "
            f"{n_cases_bad} of {n_cases} {plural(n_cases, 'case')}:\n{problems.listing()}")
    if invalid == "raise" or n_cases_bad >= n_cases:
        tail = ("\nFix the data, or pass invalid='drop' to drop the affected cases."
                if invalid == "raise" else "\nNo valid case is left after invalid='drop'.")
        raise ChoiceDataError(head + tail)
    warnings.warn(f"{head}\ninvalid='drop': dropped these {n_cases_bad} "
                  f"{plural(n_cases_bad, 'case')}; {n_cases - n_cases_bad} remain "
                  "(see `data.dropped_cases`).", DataWarning, stacklevel=3)


def _check_numeric_columns(df: pd.DataFrame, columns: Mapping[str, Any]) -> list[str]:
    """Lines for declared variable columns that hold no number at all."""
    out = []
    for arg, col in columns.items():
        vals, nonnum = to_float(df[col])
        if nonnum.any() and np.isnan(vals).all():
            out.append(f"{arg}={col!r} is not numeric (dtype {df[col].dtype}, values such as "
                       f"{show_values(df[col][nonnum], 3)}); a utility can only use numbers.")
    return out


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
    dropped_cases : pandas.Index
        Cases dropped by ``invalid="drop"`` (empty otherwise).
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
        *,
        invalid: Literal["raise", "drop"] = "raise",
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
            Column of alternative labels (any hashable: ints, strings, tuples...; 0 is a
            valid label).
        choice : str, optional
            0/1 column marking the chosen row; exactly one chosen available row per case.
            Omit it for data used only for prediction.
        availability : str, optional
            0/1 column; rows with 0 are unavailable. Default: every present row is available.
        weight : str, optional
            Column of case weights (constant within a case, finite, non-negative).
        group : str, optional
            Column of group ids (e.g. person), constant within a case; used for panels and
            cluster-robust covariances.
        invalid : {"raise", "drop"}, default "raise"
            What to do with invalid cases (see Raises): ``"raise"`` one error listing every
            kind of problem; ``"drop"`` drop the affected cases with a
            :class:`~choicekit.exceptions.DataWarning` giving the same listing.

        Returns
        -------
        ChoiceData

        Raises
        ------
        ChoiceDataError
            Listing, with counts and the first case ids of each: rows without a case id or
            alternative, duplicate case-alternative rows, availability or choice values other
            than 0/1, cases with no or several chosen rows, chosen alternatives that are
            unavailable, cases with no available alternative, and weights or group ids that
            are missing, invalid or not constant within a case.

        Notes
        -----
        All other columns are alternative-varying variables that a ``Var`` can name. A case
        whose only available alternative is the chosen one is kept: it adds exactly zero to
        the log-likelihood and its derivatives; estimation warns about such cases.
        """
        _check_frame(df, "long")
        check_option("invalid", invalid, INVALID_POLICIES, ChoiceDataError)
        cols = {"case": case, "alt": alt, "choice": choice, "availability": availability,
                "weight": weight, "group": group}
        _require_columns(df, cols, "long")
        used = [c for c in cols.values() if c is not None]
        if len(set(used)) != len(used):
            raise ChoiceDataError(f"The same column is given for two roles: {cols}. Each of "
                                  "case, alt, choice, availability, weight, group needs its "
                                  "own column.")
        if len(df) == 0:
            raise ChoiceDataError("The long frame is empty (0 rows): there is nothing to model.")
        problems = Problems(len(df))
        na_case = df[case].isna().to_numpy()
        na_alt = df[alt].isna().to_numpy()
        for arg, col, na in (("case", case, na_case), ("alt", alt, na_alt)):
            if na.any():
                problems.add(f"{arg} column {col!r} is missing in {first_rows(df.index[na])}; "
                             f"every row needs {'a case id' if arg == 'case' else 'an alternative'}"
                             ".", na)
        valid = ~(na_case | na_alt)
        if not valid.any():
            raise ChoiceDataError("Every row of the long frame lacks a case id or an "
                                  f"alternative:\n{problems.listing()}")
        case_idx = np.full(len(df), -1, dtype=np.intp)
        alt_idx = np.full(len(df), -1, dtype=np.intp)
        case_idx[~na_case], case_ids = _factorize(df[case][~na_case], f"case column {case!r}")
        a_codes, a_uniq = _factorize(df[alt][valid], f"alt column {alt!r}")
        alts, rank = _ordered_labels(a_uniq)
        alt_idx[valid] = rank[a_codes]
        n, J = len(case_ids), len(alts)
        rows = np.flatnonzero(valid)
        ci, ai = case_idx[rows], alt_idx[rows]

        def rows_of(case_mask: np.ndarray) -> np.ndarray:
            out = np.zeros(len(df), dtype=bool)
            out[rows] = case_mask[ci]
            return out

        flat = ci.astype(np.int64) * J + ai
        counts = np.bincount(flat, minlength=n * J)
        dup_cases = np.zeros(n, dtype=bool)
        if (counts > 1).any():
            dup = np.flatnonzero(counts > 1)
            dup_cases[dup // J] = True
            problems.add(
                f"duplicate case-alternative rows: {int((counts[dup] - 1).sum())} extra rows in "
                f"{first_cases(case_ids[np.flatnonzero(dup_cases)])} (e.g. alternative "
                f"{alts[dup[0] % J]!r}); each ({case!r}, {alt!r}) pair must appear once.",
                rows_of(dup_cases))
        avail_rows = np.ones(len(rows), dtype=bool)
        bad_av_cases = np.zeros(n, dtype=bool)
        if availability is not None:
            avail_rows, bad = zero_one(df[availability].iloc[rows])
            if bad.any():
                bad_av_cases[ci[bad]] = True
                problems.add(
                    f"availability column {availability!r} holds values other than 0/1 "
                    f"({show_values(df[availability].to_numpy()[rows][bad])}) in "
                    f"{int(bad.sum())} {plural(int(bad.sum()), 'row')} of "
                    f"{first_cases(case_ids[np.flatnonzero(bad_av_cases)])}; recode it to 0/1.",
                    rows_of(bad_av_cases))
                avail_rows = avail_rows & ~bad
        avail = np.zeros(n * J, dtype=bool)
        avail[flat] = avail_rows
        avail = avail.reshape(n, J)

        chosen = None
        if choice is not None:
            ch, bad = zero_one(df[choice].iloc[rows])
            bad_ch_cases = np.zeros(n, dtype=bool)
            if bad.any():
                bad_ch_cases[ci[bad]] = True
                problems.add(
                    f"choice column {choice!r} holds values other than 0/1 "
                    f"({show_values(df[choice].to_numpy()[rows][bad])}) in {int(bad.sum())} "
                    f"{plural(int(bad.sum()), 'row')} of "
                    f"{first_cases(case_ids[np.flatnonzero(bad_ch_cases)])}; recode it to 0/1 "
                    "(1 = chosen).", rows_of(bad_ch_cases))
            ch = ch & ~bad
            n_chosen = np.bincount(ci[ch], minlength=n)
            none = (n_chosen == 0) & ~bad_ch_cases
            if none.any():
                problems.add(f"no chosen row (choice column {choice!r} = 1) in "
                             f"{first_cases(case_ids[none])}; every case needs exactly one.",
                             rows_of(none))
            several = n_chosen > 1
            if several.any():
                problems.add(f"several chosen rows (choice column {choice!r} = 1) in "
                             f"{first_cases(case_ids[several])}; every case needs exactly one.",
                             rows_of(several))
            chosen = np.zeros(n, dtype=np.intp)
            chosen[ci[ch]] = ai[ch]
            one = n_chosen == 1
            unavailable = one & ~avail[np.arange(n), chosen] & ~bad_av_cases & ~dup_cases
            if unavailable.any():
                problems.add(f"the chosen alternative is unavailable (availability column "
                             f"{availability!r} = 0) in {first_cases(case_ids[unavailable])}.",
                             rows_of(unavailable))
        else:
            empty = ~avail.any(axis=1) & ~bad_av_cases
            if empty.any():
                problems.add(f"no alternative is available in {first_cases(case_ids[empty])}.",
                             rows_of(empty))

        w = None
        if weight is not None:
            raw = df[weight].to_numpy()[rows]
            per_case, varies = _case_level(raw, ci, n)
            if varies.any():
                problems.add(f"weight column {weight!r} varies within "
                             f"{first_cases(case_ids[varies])}; give one weight per case.",
                             rows_of(varies))
            w = _check_weight(per_case, weight, case_ids, problems, rows_of)
        g = g_labels = None
        if group is not None:
            raw = df[group].to_numpy()[rows]
            g_raw, varies = _case_level(raw, ci, n)
            if varies.any():
                problems.add(f"group column {group!r} varies within "
                             f"{first_cases(case_ids[varies])}; a case belongs to one group.",
                             rows_of(varies))
            miss = pd.isna(g_raw)
            if miss.any():
                problems.add(f"group column {group!r} is missing in "
                             f"{first_cases(case_ids[miss])}; every case needs a group id.",
                             rows_of(miss))
            g, g_labels = _factorize(pd.Series(g_raw), f"group column {group!r}")

        if problems:
            bad_cases = affected_cases(problems.rows, case_idx, n)
            n_rowless = int(na_case.sum())  # rows without a case id count as cases here
            _finish(problems, "long", int(bad_cases.sum()) + n_rowless, n + n_rowless, invalid)
            keep = ~(problems.rows | na_case)
            keep[~na_case] &= ~bad_cases[case_idx[~na_case]]
            out = cls.from_long(df[keep], case, alt, choice, availability, weight, group)
            out._meta["dropped_cases"] = pd.Index(case_ids[bad_cases], name=case)
            return out
        keys = {case, alt, choice, availability, weight, group} - {None}
        var_cols = [c for c in df.columns if c not in keys]
        long_frame = df[var_cols] if var_cols else None
        return cls(cases=pd.Index(case_ids, name=case, tupleize_cols=False), alternatives=alts,
                   avail=avail, chosen=chosen, weight=w, group=g, group_labels=g_labels,
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
        *,
        invalid: Literal["raise", "drop"] = "raise",
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
            should appear. Codes and labels may be any hashable (0 included).
        availability : mapping, optional
            ``{alternative label: 0/1 column}``; an alternative left out is always available.
        variables : mapping, optional
            ``{variable name: {alternative label: column}}``: alternative-varying variables
            gathered from wide columns; an alternative left out of a mapping gets 0.
        weight, group : str, optional
            Columns of case weights and group ids.
        case : str, optional
            Column of case ids; by default the frame's index (if unique) gives the ids.
        invalid : {"raise", "drop"}, default "raise"
            What to do with invalid cases: ``"raise"`` one error listing every kind of
            problem; ``"drop"`` drop them with a :class:`~choicekit.exceptions.DataWarning`.

        Returns
        -------
        ChoiceData

        Raises
        ------
        ChoiceDataError
            Listing, with counts and the first case ids of each: missing or repeated case ids,
            choice codes that are not declared alternatives (missing codes included),
            availability values other than 0/1, chosen alternatives that are unavailable,
            cases with no available alternative, and missing or invalid weights and groups.

        Notes
        -----
        Every column of ``df`` stays available as a case-level variable, so utilities can use
        ``Var("TRAIN_TT")`` directly, in the Biogeme style.
        """
        _check_frame(df, "wide")
        check_option("invalid", invalid, INVALID_POLICIES, ChoiceDataError)
        if not isinstance(alternatives, Mapping) or not alternatives:
            raise ChoiceDataError(
                "`alternatives` must be a non-empty mapping {code in the choice column: "
                "alternative name}, e.g. {1: 'train', 2: 'sm', 3: 'car'}."
            )
        alts = label_list(alternatives.values())
        try:
            unique = len(set(alts)) == len(alts) and len(set(alternatives)) == len(alts)
        except TypeError:
            raise ChoiceDataError(f"Alternative codes and names must be hashable (numbers, "
                                  f"strings, tuples); got {alternatives!r}.") from None
        if not unique:
            raise ChoiceDataError(f"Alternative names must be unique; got {alts}.")
        if availability is not None and not isinstance(availability, Mapping):
            raise ChoiceDataError("`availability` must map alternative names to 0/1 columns, "
                                  f"e.g. {{{alts[0]!r}: 'AV_COLUMN'}}. Got "
                                  f"{type(availability).__name__}.")
        if variables is not None and not isinstance(variables, Mapping):
            raise ChoiceDataError("`variables` must map variable names to {alternative: "
                                  f"column}} mappings. Got {type(variables).__name__}.")
        availability = dict(availability or {})
        variables = dict(variables or {})
        cols: dict[str, Any] = {"choice": choice, "weight": weight, "group": group, "case": case}
        cols.update({f"availability[{a!r}]": c for a, c in availability.items()})
        var_cols: dict[str, Any] = {}
        for v, mapping in variables.items():
            if not isinstance(mapping, Mapping):
                raise ChoiceDataError(
                    f"variables[{v!r}] must map alternative names to columns, e.g. "
                    f"{{'train': 'TRAIN_TT'}}. Got {type(mapping).__name__}."
                )
            var_cols.update({f"variables[{v!r}][{a!r}]": c for a, c in mapping.items()})
        cols.update(var_cols)
        unknown_lines = []
        for what, keys in [("availability", availability.keys())] + [
            (f"variables[{v!r}]", m.keys()) for v, m in variables.items()
        ]:
            unknown = [a for a in keys if a not in alts]
            if unknown:
                unknown_lines.append(f"{what} names unknown alternatives {label_list(unknown)}"
                                     f"{suggest(unknown[0], alts) or '.'}"
                                     f" The alternatives are {alts}.")
        _require_columns(df, cols, "wide", unknown_lines)
        non_numeric = _check_numeric_columns(df, var_cols)
        if non_numeric:
            raise ChoiceDataError(" ".join(non_numeric))
        if len(df) == 0:
            raise ChoiceDataError("The wide frame is empty (0 rows): there is nothing to model.")
        n, J = len(df), len(alts)
        problems = Problems(n)
        if case is not None:
            case_ids = pd.Index(df[case].to_numpy(), name=case, tupleize_cols=False)
        else:
            case_ids = pd.Index(df.index, tupleize_cols=False)
        where = f"column {case!r}" if case else "the frame index"
        na_id = np.asarray(pd.isna(case_ids), dtype=bool)
        if na_id.any():
            problems.add(f"case id ({where}) is missing in {first_rows(df.index[na_id])}.",
                         na_id)
        try:
            repeated = np.asarray(case_ids.duplicated(keep=False), dtype=bool) & ~na_id
        except TypeError:
            raise ChoiceDataError(f"Case ids ({where}) must be hashable (numbers or "
                                  "strings).") from None
        if repeated.any():
            ids = case_ids[repeated].unique()
            shown = first_cases(ids).split(" (", 1)[1]
            problems.add(f"case ids must be unique in a wide frame, but {len(ids)} "
                         f"{plural(len(ids), 'id')} {'is' if len(ids) == 1 else 'are'} shared by "
                         f"{int(repeated.sum())} rows ({where}; {shown}; pass `case=` with a "
                         "unique id column or reset the index.", repeated)
        avail = np.ones((n, J), dtype=bool)
        bad_av = np.zeros(n, dtype=bool)
        for j, a in enumerate(alts):
            if a in availability:
                col = availability[a]
                avail[:, j], bad = zero_one(df[col])
                if bad.any():
                    problems.add(f"availability column {col!r} (alternative {a!r}) holds values "
                                 f"other than 0/1 ({show_values(df[col][bad])}) in "
                                 f"{first_cases(case_ids[bad])}; recode it to 0/1.", bad)
                    avail[bad, j] = False
                    bad_av |= bad
        chosen = None
        if choice is not None:
            codes = df[choice].to_numpy()
            code_index = pd.Index(label_list(alternatives.keys()), tupleize_cols=False)
            try:
                chosen = code_index.get_indexer(codes)
            except (TypeError, ValueError, pd.errors.InvalidIndexError):
                chosen = np.asarray(pd.Series(codes).map(
                    lambda c: _safe_code(c, alternatives)), dtype=np.intp)
            chosen = np.asarray(chosen, dtype=np.intp)
            miss = np.asarray(pd.isna(df[choice]), dtype=bool)
            if miss.any():
                problems.add(f"choice column {choice!r} is missing (NaN) in "
                             f"{first_cases(case_ids[miss])}.", miss)
            undeclared = (chosen < 0) & ~miss
            if undeclared.any():
                hint = _code_type_hint(codes[undeclared], list(alternatives.keys()))
                problems.add(
                    f"choice column {choice!r} holds codes that are not declared alternatives "
                    f"({show_values(codes[undeclared])}) in {first_cases(case_ids[undeclared])}"
                    f"; declared codes: {label_list(alternatives.keys())}.{hint} Add them to "
                    "`alternatives` or drop those cases.", undeclared)
            ok = chosen >= 0
            unavailable = np.zeros(n, dtype=bool)
            unavailable[ok] = ~avail[np.flatnonzero(ok), chosen[ok]]
            unavailable &= ~bad_av
            if unavailable.any():
                by_alt = ", ".join(
                    f"{alts[j]!r}: {int((chosen[unavailable] == j).sum())}"
                    for j in range(J) if (chosen[unavailable] == j).any())
                problems.add(f"the chosen alternative is unavailable in "
                             f"{first_cases(case_ids[unavailable])} (by alternative: {by_alt}).",
                             unavailable)
            chosen = np.where(ok, chosen, 0).astype(np.intp)
        else:
            empty = ~avail.any(axis=1) & ~bad_av
            if empty.any():
                problems.add(f"no alternative is available in {first_cases(case_ids[empty])}.",
                             empty)
        w = None
        if weight is not None:
            w = _check_weight(df[weight].to_numpy(), weight, case_ids, problems, lambda m: m)
        g = g_labels = None
        if group is not None:
            miss = np.asarray(df[group].isna(), dtype=bool)
            if miss.any():
                problems.add(f"group column {group!r} is missing in "
                             f"{first_cases(case_ids[miss])}; every case needs a group id.",
                             miss)
            g, g_labels = _factorize(df[group], f"group column {group!r}")
        if problems:
            n_bad = int(problems.rows.sum())
            _finish(problems, "wide", n_bad, n, invalid)
            out = cls.from_wide(df[~problems.rows], choice, alternatives, availability,
                                variables, weight, group, case)
            out._meta["dropped_cases"] = case_ids[problems.rows]
            return out
        long_cache: dict[str, np.ndarray] = {}
        for v, mapping in variables.items():
            arr = np.zeros((n, J), dtype=np.float64)
            for j, a in enumerate(alts):
                if a in mapping:
                    arr[:, j] = to_float(df[mapping[a]])[0]
            arr.setflags(write=False)
            long_cache[v] = arr
        return cls(cases=case_ids, alternatives=alts, avail=avail, chosen=chosen, weight=w,
                   group=g, group_labels=g_labels, long_frame=None, long_pos=None,
                   long_cache=long_cache, case_frame=df.copy(deep=False), layout="wide",
                   meta={"choice": choice, "weight": weight, "group": group,
                         "alternatives": dict(alternatives), "variables": variables})



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
    def dropped_cases(self) -> pd.Index:
        """Cases dropped by ``invalid="drop"`` when the data were built (empty otherwise)."""
        return self._meta.get("dropped_cases", pd.Index([]))

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
        return isinstance(name, str) and (name in self._long_cache
                                          or _key(self._long_frame, name) is not None
                                          or _key(self._case_frame, name) is not None)

    def variable(self, name: str) -> np.ndarray:
        """Values of a variable: ``(n_cases, n_alts)`` if alternative-varying, else ``(n_cases,)``.

        Alternative-varying values of unavailable (missing) rows are NaN in long data.
        Entries that are present but not numbers (e.g. ``"n/a"`` in a column of numbers) are
        NaN here; :meth:`nonnumeric` locates them for error messages.

        Raises
        ------
        SpecificationError
            If the variable does not exist or holds no number at all (a text column).
        """
        if not isinstance(name, str):
            raise SpecificationError(f"A variable name must be a str. Got {name!r}.")
        if name in self._long_cache:
            return self._long_cache[name]
        key = _key(self._long_frame, name)
        if key is not None:
            arr = np.full(self.n_cases * self.n_alts, np.nan)
            arr[self._long_pos] = _numeric(self._long_frame[key], name)
            arr = arr.reshape(self.n_cases, self.n_alts)
            arr.setflags(write=False)
            self._long_cache[name] = arr
            return arr
        key = _key(self._case_frame, name)
        if key is not None:
            return _numeric(self._case_frame[key], name)
        raise SpecificationError(
            f"Variable {name!r} is not in the data.{suggest(name, self.variables)} "
            f"Available variables: {', '.join(map(repr, self.variables[:30]))}"
            + (", ..." if len(self.variables) > 30 else "") + "."
        )

    def nonnumeric(self, name: str) -> tuple[np.ndarray, str] | None:
        """Where a variable holds entries that are not numbers, and examples of them.

        Returns
        -------
        (mask, examples) or None
            ``mask`` has the shape of :meth:`variable` (True at non-numeric entries) and
            ``examples`` shows the first few offending values; None when every entry is a
            number or missing, or when the source column is no longer at hand (subsets made
            by :meth:`take` keep only the converted values).
        """
        spec = self._meta.get("variables", {})
        if name in self._long_cache and name in spec and self._case_frame is not None:
            mask = np.zeros((self.n_cases, self.n_alts), dtype=bool)
            vals: list[Any] = []
            for j, a in enumerate(self._alts):
                if a in spec[name]:
                    col = self._case_frame[spec[name][a]]
                    m = to_float(col)[1]
                    mask[:, j] = m
                    vals += list(col[m][:5])
            return (mask, show_values(vals)) if mask.any() else None
        key = _key(self._long_frame, name)
        if key is not None:
            col = self._long_frame[key]
            m = to_float(col)[1]
            if not m.any():
                return None
            mask = np.zeros(self.n_cases * self.n_alts, dtype=bool)
            mask[self._long_pos] = m
            return mask.reshape(self.n_cases, self.n_alts), show_values(col[m])
        if name in self._long_cache:
            return None
        key = _key(self._case_frame, name)
        if key is not None:
            col = self._case_frame[key]
            m = to_float(col)[1]
            return (m, show_values(col[m])) if m.any() else None
        return None

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
            if index.shape != (self.n_cases,):
                raise ChoiceDataError(f"A boolean case mask must have {self.n_cases} entries; "
                                      f"got shape {index.shape}.")
            index = np.flatnonzero(index)
        if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
            raise ChoiceDataError("`index` must be a 1-d array of case positions (ints) or a "
                                  f"boolean mask. Got dtype {index.dtype}, shape {index.shape}.")
        index = index.astype(np.intp)
        out_of_range = (index < -self.n_cases) | (index >= self.n_cases)
        if out_of_range.any():
            raise ChoiceDataError(
                f"Case positions {index[out_of_range][:5].tolist()} are out of range for "
                f"{self.n_cases} cases (positions run from 0 to {self.n_cases - 1})."
            )
        J = self.n_alts
        long_cache = {k: v[index] for k, v in self._long_cache.items()}
        long_frame, long_pos = None, None
        if self._long_frame is not None:
            # materialise the remaining long columns for the subset (numeric ones only)
            for c in self._long_frame.columns:
                if c not in long_cache and isinstance(c, str):
                    try:
                        long_cache[c] = self.variable(c)[index]
                    except SpecificationError:  # text columns cannot be utility variables
                        continue
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
    """A column as float64; non-numeric entries become NaN (reported where used), and a
    column with no number at all is refused."""
    values, nonnum = to_float(col)
    if nonnum.any() and np.isnan(values).all():
        raise SpecificationError(
            f"Variable {name!r} is not numeric (dtype {col.dtype}, values such as "
            f"{show_values(col[nonnum], 3)}); a utility can only use numbers. Recode it (e.g. "
            "indicator columns, or `Var(name) == value` on a numeric code)."
        )
    return values


def _safe_code(code: Any, alternatives: Mapping[Any, Hashable]) -> int:
    """Position of ``code`` among the declared codes, -1 when absent or not comparable."""
    for j, c in enumerate(alternatives):
        try:
            if bool(code == c):
                return j
        except (TypeError, ValueError):
            continue
    return -1


def _code_type_hint(bad: np.ndarray, declared: list[Any]) -> str:
    """A hint when choice codes and declared codes differ only in type ('1' versus 1)."""
    text = [isinstance(c, str) for c in bad[:50]]
    declared_text = [isinstance(c, str) for c in declared]
    if all(text) and not any(declared_text):
        return (" The column holds text codes (e.g. '1') while the declared codes are numbers; "
                "convert the column (e.g. `df[choice].astype(int)`) or declare text codes.")
    if not any(text) and all(declared_text):
        return (" The column holds numbers while the declared codes are text; declare numeric "
                "codes.")
    return ""


# =============================================================================================
# Derived data for post-estimation (issue 4): the code lives in choicekit/data_changes.py.
# =============================================================================================


def _with_variables(self: ChoiceData, values: Mapping[str, Any]) -> ChoiceData:
    """The same data with some variables replaced (:func:`.data_changes.with_variables`)."""
    from .data_changes import with_variables

    return with_variables(self, values)


def _restrict_alternatives(self: ChoiceData, alternatives: Sequence[Hashable]) -> ChoiceData:
    """Data on a subset of alternatives (:func:`.data_changes.restrict_alternatives`)."""
    from .data_changes import restrict_alternatives

    return restrict_alternatives(self, alternatives)


ChoiceData.with_variables = _with_variables  # type: ignore[attr-defined]
ChoiceData.restrict_alternatives = _restrict_alternatives  # type: ignore[attr-defined]


def _key(frame: pd.DataFrame | None, name: str) -> Any:
    """The column of ``frame`` that a ``Var(name)`` means: the column ``name`` itself, else the
    one whose ``str()`` is ``name`` (so ``Var("5")`` finds a column labelled ``5``); None."""
    if frame is None:
        return None
    try:
        if name in frame.columns:
            return name
    except TypeError:  # pragma: no cover - unhashable name
        return None
    for c in frame.columns:
        if str(c) == name:
            return c
    return None
