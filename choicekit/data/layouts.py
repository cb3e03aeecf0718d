"""Reading long and wide choice frames into the fields of a
:class:`~choicekit.data.choicedata.ChoiceData`.

Every check of ``ChoiceData.from_long`` and ``ChoiceData.from_wide`` lives here. The checks do
not stop at the first problem: every kind of problem found is added to a
:class:`~choicekit._validation.Problems` collector with the rows it affects, and one
:class:`~choicekit.exceptions.ChoiceDataError` lists them all (or, with ``invalid="drop"``,
the affected cases are dropped with a :class:`~choicekit.exceptions.DataWarning` giving the
same listing, and the frame without them is read again).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import (
    Problems,
    affected_cases,
    check_option,
    first_cases,
    first_rows,
    label_list,
    numeric_column,
    plural,
    show_values,
    suggest,
    to_float,
    zero_one,
)
from choicekit._warnings import warn_user
from choicekit.exceptions import ChoiceDataError, DataWarning

__all__ = ["read_long", "read_wide", "INVALID_POLICIES"]

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


def _declared_labels(declared: Sequence[Hashable], found: list[Hashable], rank: np.ndarray,
                     column: str) -> tuple[list[Hashable], np.ndarray]:
    """The declared alternatives and the permutation from factorize codes to their order."""
    declared = label_list(declared)
    where = {a: i for i, a in enumerate(declared)}
    unknown = [a for a in found if a not in where]
    if unknown:
        raise ChoiceDataError(f"alt column {column!r} holds labels {unknown[:5]} that are not "
                              f"among the alternatives {declared[:10]}.")
    pos = np.array([where[a] for a in found], dtype=np.intp)
    return declared, pos[rank]


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


def _check_group(values: np.ndarray | pd.Series, column: str, case_ids: pd.Index,
                 problems: Problems, rows_of: Any) -> tuple[np.ndarray, pd.Index]:
    """Group codes (0..G-1) and labels per case; missing group ids are one problem line.
    ``rows_of`` as in :func:`_check_weight`."""
    miss = np.asarray(pd.isna(values), dtype=bool)
    if miss.any():
        problems.add(f"group column {column!r} is missing in {first_cases(case_ids[miss])}; "
                     "every case needs a group id.", rows_of(miss))
    return _factorize(pd.Series(values), f"group column {column!r}")


def _finish(problems: Problems, layout: str, n_cases_bad: int, n_cases: int,
            invalid: str) -> None:
    """Raise (``invalid="raise"``) or warn (``"drop"``) with the listing of every problem."""
    k = len(problems)
    head = (f"The {layout} frame has {k} {plural(k, 'kind')} of invalid data, affecting "
            f"{n_cases_bad} of {n_cases} {plural(n_cases, 'case')}:\n{problems.listing()}")
    if invalid == "raise" or n_cases_bad >= n_cases:
        tail = ("\nFix the data, or pass invalid='drop' to drop the affected cases (in a spec "
                "file: invalid = \"drop\" in [data]). (The values of the variables are checked "
                "when a model uses them: see MNL(missing=...).)"
                if invalid == "raise" else "\nNo valid case is left after invalid='drop'.")
        raise ChoiceDataError(head + tail)
    warn_user(f"{head}\ninvalid='drop': dropped these {n_cases_bad} "
                  f"{plural(n_cases_bad, 'case')}; {n_cases - n_cases_bad} remain "
                  "(see `data.dropped_cases`).", DataWarning)


def _label_kind(label: Hashable) -> str:
    if isinstance(label, (bool, np.bool_)):
        return "bool"
    if isinstance(label, (int, float, np.integer, np.floating)):
        return "number"
    return type(label).__name__


def _warn_mixed_labels(alts: list[Hashable], codes: np.ndarray, rank: np.ndarray,
                       rows: pd.Index, column: str) -> None:
    """Warn when the alternative labels mix types (``1`` and ``"air"``): each type's labels
    become alternatives of their own, which is rarely meant (a stray code among names)."""
    kinds: dict[str, list[int]] = {}
    for j, label in enumerate(alts):
        kinds.setdefault(_label_kind(label), []).append(j)
    if len(kinds) < 2:
        return
    model_idx = rank[codes]
    parts = []
    for kind, js in sorted(kinds.items(), key=lambda kv: len(kv[1])):
        in_rows = np.isin(model_idx, js)
        shown = ", ".join(repr(alts[j]) for j in js[:6]) + (", ..." if len(js) > 6 else "")
        parts.append(f"{kind} {plural(len(js), 'label')} {shown} in {first_rows(rows[in_rows])}")
    warn_user(
        f"alt column {column!r} mixes alternative labels of different types: "
        f"{'; '.join(parts)}. Each label is a separate alternative ({len(alts)} here: "
        f"{alts}), so a number among names (or the reverse) becomes an alternative of its own. "
        f"If that is not meant, recode the column to one type (e.g. "
        f"df[{column!r}].replace({{1: 'air'}}), or .astype(str)).", DataWarning)


def read_long(df: pd.DataFrame, case: str, alt: str, choice: str | None,
              availability: str | None, weight: str | None, group: str | None,
              invalid: str = "raise", *,
              alternatives: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Check a long frame; the keyword arguments of ``ChoiceData(...)`` (see ``from_long``).

    ``alternatives`` (optional) fixes the alternatives and their order, where the frame is one
    part of a larger table (a Dask partition) and may lack some of them; a label outside it is
    reported like any invalid row.
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
    _warn_mixed_labels(alts, a_codes, rank, df.index[valid], alt)
    if alternatives is not None:
        alts, rank = _declared_labels(alternatives, alts, rank, alt)
    alt_idx[valid] = rank[a_codes]
    n, J = len(case_ids), len(alts)
    rows = np.flatnonzero(valid)
    ci, ai = case_idx[rows], alt_idx[rows]

    def rows_of(case_mask: np.ndarray) -> np.ndarray:
        out = np.zeros(len(df), dtype=bool)
        out[rows] = case_mask[ci]
        return out

    def zero_one_rows(col: str, what: str, hint: str) -> tuple[np.ndarray, np.ndarray]:
        """A 0/1 column on the valid rows (other values reported, and read as 0), and the
        cases that hold such values."""
        values, bad = zero_one(df[col].iloc[rows])
        bad_cases = np.zeros(n, dtype=bool)
        if bad.any():
            bad_cases[ci[bad]] = True
            k = int(bad.sum())
            problems.add(
                f"{what} column {col!r} holds values other than 0/1 "
                f"({show_values(df[col].to_numpy()[rows][bad])}) in {k} {plural(k, 'row')} "
                f"of {first_cases(case_ids[np.flatnonzero(bad_cases)])}; recode it to 0/1"
                f"{hint}.", rows_of(bad_cases))
        return values & ~bad, bad_cases

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
        avail_rows, bad_av_cases = zero_one_rows(availability, "availability", "")
    avail = np.zeros(n * J, dtype=bool)
    avail[flat] = avail_rows
    avail = avail.reshape(n, J)

    chosen = None
    if choice is not None:
        ch, bad_ch_cases = zero_one_rows(choice, "choice", " (1 = chosen)")
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

    def per_case(role: str, column: str, need: str) -> np.ndarray:
        """The column's value in each case; one problem line where it varies within a case."""
        values, varies = _case_level(df[column].to_numpy()[rows], ci, n)
        if varies.any():
            problems.add(f"{role} column {column!r} varies within "
                         f"{first_cases(case_ids[varies])}; {need}.", rows_of(varies))
        return values

    w = g = g_labels = None
    if weight is not None:
        w = _check_weight(per_case("weight", weight, "give one weight per case"), weight,
                          case_ids, problems, rows_of)
    if group is not None:
        g, g_labels = _check_group(per_case("group", group, "a case belongs to one group"),
                                   group, case_ids, problems, rows_of)

    if problems:
        bad_cases = affected_cases(problems.rows, case_idx, n)
        n_rowless = int(na_case.sum())  # rows without a case id count as cases here
        _finish(problems, "long", int(bad_cases.sum()) + n_rowless, n + n_rowless, invalid)
        keep = ~(problems.rows | na_case)
        keep[~na_case] &= ~bad_cases[case_idx[~na_case]]
        out = read_long(df[keep], case, alt, choice, availability, weight, group,
                        alternatives=alternatives)
        out["meta"]["dropped_cases"] = pd.Index(case_ids[bad_cases], name=case)
        return out
    keys = {case, alt, choice, availability, weight, group} - {None}
    var_cols = [c for c in df.columns if c not in keys]
    long_frame = df[var_cols] if var_cols else None
    return dict(cases=pd.Index(case_ids, name=case, tupleize_cols=False), alternatives=alts,
               avail=avail, chosen=chosen, weight=w, group=g, group_labels=g_labels,
               long_frame=long_frame, long_pos=flat, long_cache={}, case_frame=None,
               layout="long", meta={"choice": choice, "weight": weight, "group": group})


def read_wide(df: pd.DataFrame, choice: str | None, alternatives: Mapping[Any, Hashable],
              availability: Mapping[Hashable, str] | None,
              variables: Mapping[str, Mapping[Hashable, str]] | None, weight: str | None,
              group: str | None, case: str | None, invalid: str = "raise") -> dict[str, Any]:
    """Check a wide frame; the keyword arguments of ``ChoiceData(...)`` (see ``from_wide``)."""
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
    var_values: dict[Any, np.ndarray] = {}  # column -> float values, converted once
    non_numeric = []
    for arg, col in var_cols.items():
        var_values[col], message = numeric_column(df[col], f"{arg}={col!r}")
        if message is not None:
            non_numeric.append(message)
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
    w = g = g_labels = None
    if weight is not None:
        w = _check_weight(df[weight].to_numpy(), weight, case_ids, problems, lambda m: m)
    if group is not None:
        g, g_labels = _check_group(df[group], group, case_ids, problems, lambda m: m)
    if problems:
        n_bad = int(problems.rows.sum())
        _finish(problems, "wide", n_bad, n, invalid)
        out = read_wide(df[~problems.rows], choice, alternatives, availability,
                            variables, weight, group, case)
        out["meta"]["dropped_cases"] = case_ids[problems.rows]
        return out
    long_cache: dict[str, WideVariable] = {
        v: WideVariable(n, [var_values[mapping[a]] if a in mapping else None for a in alts])
        for v, mapping in variables.items()}
    return dict(cases=case_ids, alternatives=alts, avail=avail, chosen=chosen, weight=w,
               group=g, group_labels=g_labels, long_frame=None, long_pos=None,
               long_cache=long_cache, case_frame=df.copy(deep=False), layout="wide",
               meta={"choice": choice, "weight": weight, "group": group,
                     "alternatives": dict(alternatives), "variables": variables})


class WideVariable:
    """An alternative-varying variable of wide data: one ``(n,)`` array per alternative (the
    frame's own column, not copied, or None where the variable is 0 for that alternative).

    The ``(n, J)`` array is built only when asked for (:meth:`array`); the design builder reads
    the per-alternative columns directly (:meth:`alt`). On 1M cases x 10 alternatives x 10
    variables this keeps 763 MiB of stacked copies out of memory and lets the design be
    written from contiguous columns.
    """

    __slots__ = ("n", "columns")

    def __init__(self, n: int, columns: Sequence[np.ndarray | None]) -> None:
        self.n = n
        self.columns = tuple(columns)
        for c in self.columns:
            if c is not None and c.flags.writeable:
                c.setflags(write=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, len(self.columns)

    def alt(self, j: int) -> np.ndarray:
        """The values for alternative ``j``, ``(n,)``."""
        c = self.columns[j]
        return np.zeros(self.n) if c is None else c

    def array(self) -> np.ndarray:
        """The ``(n, J)`` array (a new, read-only copy)."""
        out = np.zeros(self.shape)
        for j, c in enumerate(self.columns):
            if c is not None:
                out[:, j] = c
        out.setflags(write=False)
        return out

    def take(self, index: np.ndarray) -> WideVariable:
        """The variable for the cases at positions ``index``."""
        return WideVariable(len(index), [None if c is None else c[index] for c in self.columns])


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
