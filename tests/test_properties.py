"""Property-based tests (hypothesis): invariants on random valid choice frames, and only
choicekit errors from random malformed ones.

The profile (derandomized, bounded number of examples, no deadline) is registered in
tests/conftest.py, so CI runs the same examples every time. The invariants are facts of the
logit model, not values we computed: probabilities over the available alternatives sum to one
and are zero elsewhere; the log-likelihood is the weighted sum of the log-probabilities of the
chosen alternatives and is finite; the long and wide layouts of the same data are the same
model; the order of the rows is irrelevant; building and fitting never change the user's frame.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import choicekit as ck

B, V = ck.Beta, ck.Var

LABEL_SETS: dict[str, list[Any]] = {
    "ints from 0": [0, 1, 2, 3],
    "negative ints": [-1, 0, 7, 42],
    "strings": ["car", "bus", "train", "walk"],
    "tuples": [(0, "a"), (0, "b"), (1, "a"), (1, "b")],
    "mixed": [0, "one", 2.5, ("three",)],
    "floats": [0.0, 0.5, 1.5, 2.25],
}


@dataclass
class Sample:
    labels: list[Any]
    avail: np.ndarray          # (n, J) bool
    chosen: np.ndarray         # (n,) index
    x: np.ndarray              # (n, J) alternative-varying
    z: np.ndarray              # (n,) case-level
    weight: np.ndarray | None
    case_ids: np.ndarray
    keep_unavailable_rows: bool
    params: dict[str, float]

    @property
    def n(self) -> int:
        return len(self.chosen)

    def long(self) -> pd.DataFrame:
        rows = []
        for i in range(self.n):
            for j, a in enumerate(self.labels):
                if not self.avail[i, j] and not self.keep_unavailable_rows:
                    continue
                rows.append({"case": self.case_ids[i], "alt": a,
                             "chosen": int(j == self.chosen[i]), "av": int(self.avail[i, j]),
                             "x": self.x[i, j], "z": self.z[i],
                             "w": 1.0 if self.weight is None else self.weight[i]})
        df = pd.DataFrame(rows)
        df["alt"] = pd.Series([r["alt"] for r in rows], dtype=object)
        return df

    def wide(self) -> pd.DataFrame:
        cols: dict[str, Any] = {"case": self.case_ids, "choice": self.chosen + 100,
                                "z": self.z, "w": 1.0 if self.weight is None else self.weight}
        for j in range(len(self.labels)):
            cols[f"av{j}"] = self.avail[:, j].astype(int)
            cols[f"x{j}"] = np.where(self.avail[:, j], self.x[:, j], 0.0)
        return pd.DataFrame(cols)

    def utilities(self) -> dict:
        u = {}
        for j, a in enumerate(self.labels):
            term = B("b_x") * V("x")
            if j > 0:
                term = term + B(f"ASC_{j}") + B(f"b_z{j}") * V("z")
            u[a] = term
        return u

    def data(self, layout: str) -> ck.ChoiceData:
        w = None if self.weight is None else "w"
        if layout == "long":
            return ck.ChoiceData.from_long(self.long(), "case", "alt", "chosen", "av", weight=w)
        return ck.ChoiceData.from_wide(
            self.wide(), "choice", {100 + j: a for j, a in enumerate(self.labels)},
            availability={a: f"av{j}" for j, a in enumerate(self.labels)},
            variables={"x": {a: f"x{j}" for j, a in enumerate(self.labels)}},
            weight=w, case="case")


@st.composite
def samples(draw, min_cases: int = 1, max_cases: int = 12) -> Sample:
    kind = draw(st.sampled_from(sorted(LABEL_SETS)))
    J = draw(st.integers(2, 4))
    labels = list(LABEL_SETS[kind][:J])
    order = draw(st.permutations(range(J)))
    labels = [labels[i] for i in order]
    n = draw(st.integers(min_cases, max_cases))
    avail = np.array(draw(st.lists(st.lists(st.booleans(), min_size=J, max_size=J),
                                   min_size=n, max_size=n)), dtype=bool)
    avail[:, 0] |= ~avail.any(axis=1)  # at least one available alternative per case
    avail[0, ~avail.any(axis=0)] = True  # every alternative somewhere (else the long frame
    # cannot know it exists)
    chosen = np.array([draw(st.sampled_from(list(np.flatnonzero(row)))) for row in avail])
    finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
    x = np.array(draw(st.lists(finite, min_size=n * J, max_size=n * J))).reshape(n, J)
    z = np.array(draw(st.lists(finite, min_size=n, max_size=n)))
    weight = None
    if draw(st.booleans()):
        weight = np.array(draw(st.lists(st.floats(0.1, 10), min_size=n, max_size=n)))
    ids = draw(st.sampled_from(["ints", "strings", "shifted"]))
    case_ids = {"ints": np.arange(n), "strings": np.array([f"c{i}" for i in range(n)]),
                "shifted": np.arange(n) * 7 + 1000}[ids]
    params = {"b_x": draw(finite)}
    for j in range(1, J):
        params[f"ASC_{j}"] = draw(finite)
        params[f"b_z{j}"] = draw(st.floats(-1, 1))
    return Sample(labels, avail, chosen, x, z, weight, case_ids, draw(st.booleans()), params)


def quiet():
    """Ignore choicekit's data warnings (single-alternative cases are legitimate here)."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", ck.DataWarning)
    return ctx


@given(samples())
def test_probabilities_sum_to_one_and_vanish_when_unavailable(s):
    ctx = quiet()
    try:
        for layout in ("long", "wide"):
            data = s.data(layout)
            assert data.alternatives == s.labels or layout == "long"
            model = ck.MNL(data, s.utilities())
            P = model.predict_proba(s.params)
            order = [data.alternatives.index(a) for a in s.labels]
            P = P.loc[list(s.case_ids)].to_numpy()[:, order]
            assert np.isfinite(P).all()
            np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
            assert (P[~s.avail] == 0).all()
            assert (P[s.avail] > 0).all() or np.abs(list(s.params.values())).max() > 1
            ll = model.loglike(s.params)
            assert np.isfinite(ll)
            w = np.ones(s.n) if s.weight is None else s.weight
            lp = np.log(np.clip(P[np.arange(s.n), s.chosen], 1e-300, None))
            # the log-probabilities of the chosen alternatives, weighted (logs of clipped
            # probabilities agree to 1e-9 unless a probability underflows)
            if (P[np.arange(s.n), s.chosen] > 1e-250).all():
                assert ll == pytest.approx(float(w @ lp), rel=1e-9, abs=1e-9)
    finally:
        ctx.__exit__(None, None, None)


@given(samples())
def test_long_and_wide_are_the_same_model(s):
    ctx = quiet()
    try:
        long_data, wide_data = s.data("long"), s.data("wide")
        # put the long data's alternatives in the wide order, then compare everything
        long_model = ck.MNL(long_data, s.utilities())
        wide_model = ck.MNL(wide_data, s.utilities())
        assert set(long_data.alternatives) == set(wide_data.alternatives)
        Pl = long_model.predict_proba(s.params)[wide_data.alternatives]
        Pw = wide_model.predict_proba(s.params)
        Pl.index = Pw.index
        np.testing.assert_allclose(Pl.to_numpy(), Pw.to_numpy(), rtol=1e-12, atol=1e-15)
        assert long_model.loglike(s.params) == pytest.approx(wide_model.loglike(s.params),
                                                            rel=1e-12, abs=1e-12)
    finally:
        ctx.__exit__(None, None, None)


@given(samples(min_cases=8, max_cases=16))
def test_long_and_wide_give_identical_fits(s):
    ctx = quiet()
    warnings.simplefilter("ignore", ck.ChoiceKitWarning)  # small samples: separation etc.
    try:
        fits = []
        for layout in ("long", "wide"):
            data = s.data(layout)
            if layout == "long":
                # same alternative order as the wide data, so the designs coincide
                assume(data.alternatives == s.labels)
            fits.append(ck.MNL(data, s.utilities()).fit(method="newton", maxiter=50))
        a, b = fits
        assert a.converged == b.converged
        assert a.llf == pytest.approx(b.llf, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-8,
                                   atol=1e-8)
    finally:
        ctx.__exit__(None, None, None)


@given(samples(min_cases=2), st.randoms(use_true_random=False))
def test_shuffling_rows_changes_nothing(s, rnd):
    ctx = quiet()
    warnings.simplefilter("ignore", ck.ChoiceKitWarning)
    try:
        df = s.long()
        perm = list(range(len(df)))
        rnd.shuffle(perm)
        shuffled = df.iloc[perm]
        w = None if s.weight is None else "w"
        d1 = ck.ChoiceData.from_long(df, "case", "alt", "chosen", "av", weight=w)
        d2 = ck.ChoiceData.from_long(shuffled, "case", "alt", "chosen", "av", weight=w)
        assert d1.alternatives == d2.alternatives or set(d1.alternatives) == set(d2.alternatives)
        m1, m2 = ck.MNL(d1, s.utilities()), ck.MNL(d2, s.utilities())
        P1 = m1.predict_proba(s.params)
        P2 = m2.predict_proba(s.params).loc[P1.index, P1.columns]
        np.testing.assert_allclose(P1.to_numpy(), P2.to_numpy(), rtol=1e-12, atol=1e-15)
        assert m1.loglike(s.params) == pytest.approx(m2.loglike(s.params), rel=1e-12,
                                                     abs=1e-12)
        if d1.alternatives == d2.alternatives:
            r1, r2 = m1.fit(maxiter=30), m2.fit(maxiter=30)
            if r1.converged and r2.converged:  # (separated samples have no maximum)
                assert r1.llf == pytest.approx(r2.llf, rel=1e-9, abs=1e-9)
    finally:
        ctx.__exit__(None, None, None)


@given(samples())
def test_user_frames_are_never_modified(s):
    ctx = quiet()
    warnings.simplefilter("ignore", ck.ChoiceKitWarning)
    try:
        long_df, wide_df = s.long(), s.wide()
        long_before, wide_before = long_df.copy(deep=True), wide_df.copy(deep=True)
        w = None if s.weight is None else "w"
        d = ck.ChoiceData.from_long(long_df, "case", "alt", "chosen", "av", weight=w)
        res = ck.MNL(d, s.utilities()).fit(maxiter=20)
        res.predict_proba()
        ck.MNL(d, s.utilities()).simulate(s.params, rng=0)
        ck.ChoiceData.from_wide(wide_df, "choice",
                                {100 + j: a for j, a in enumerate(s.labels)},
                                availability={a: f"av{j}" for j, a in enumerate(s.labels)},
                                case="case")
        pd.testing.assert_frame_equal(long_df, long_before)
        pd.testing.assert_frame_equal(wide_df, wide_before)
    finally:
        ctx.__exit__(None, None, None)


# ----------------------------------------------------------------------------- malformed input
CORRUPTIONS = [
    "drop column", "nan case", "nan alt", "duplicate row", "choice 2", "choice text",
    "no chosen", "two chosen", "chosen unavailable", "availability 3", "weight negative",
    "weight nan", "weight text", "x nan", "x inf", "x text", "x all text", "empty",
    "all unavailable", "unhashable alt", "weight varies",
]


def corrupt(df: pd.DataFrame, kind: str, row: int) -> pd.DataFrame:
    df = df.copy()
    row = row % len(df)
    idx = df.index[row]
    if kind == "drop column":
        return df.drop(columns="chosen")
    if kind == "nan case":
        df["case"] = df["case"].astype(object)
        df.loc[idx, "case"] = np.nan
    elif kind == "nan alt":
        df.loc[idx, "alt"] = None
    elif kind == "duplicate row":
        df = pd.concat([df, df.iloc[[row]]])
    elif kind == "choice 2":
        df.loc[idx, "chosen"] = 2
    elif kind == "choice text":
        df["chosen"] = df["chosen"].astype(object)
        df.loc[idx, "chosen"] = "yes"
    elif kind == "no chosen":
        df.loc[df["case"] == df.loc[idx, "case"], "chosen"] = 0
    elif kind == "two chosen":
        df.loc[df["case"] == df.loc[idx, "case"], "chosen"] = 1
    elif kind == "chosen unavailable":
        df.loc[df["chosen"] == 1, "av"] = 0
    elif kind == "availability 3":
        df.loc[idx, "av"] = 3
    elif kind == "weight negative":
        df.loc[df["case"] == df.loc[idx, "case"], "w"] = -1.0
    elif kind == "weight nan":
        df.loc[df["case"] == df.loc[idx, "case"], "w"] = np.nan
    elif kind == "weight text":
        df["w"] = df["w"].astype(object)
        df.loc[df["case"] == df.loc[idx, "case"], "w"] = "heavy"
    elif kind == "weight varies":
        df.loc[idx, "w"] = df.loc[idx, "w"] + 1.0
    elif kind == "x nan":
        df.loc[idx, "x"] = np.nan
    elif kind == "x inf":
        df.loc[idx, "x"] = np.inf
    elif kind == "x text":
        df["x"] = df["x"].astype(object)
        df.loc[idx, "x"] = "n/a"
    elif kind == "x all text":
        df["x"] = "n/a"
    elif kind == "empty":
        return df.iloc[:0]
    elif kind == "all unavailable":
        df["av"] = 0
    elif kind == "unhashable alt":
        df["alt"] = df["alt"].astype(object)
        df.at[idx, "alt"] = [1, 2]
    return df


@given(samples(min_cases=2, max_cases=6),
       st.lists(st.sampled_from(CORRUPTIONS), min_size=1, max_size=3),
       st.integers(0, 1000), st.sampled_from(["raise", "drop"]), st.sampled_from(["raise", "drop"]))
def test_malformed_long_frames_raise_only_choicekit_errors(s, kinds, row, invalid, missing):
    df = s.long()
    for k in kinds:
        if len(df) == 0 or not {"case", "alt", "chosen", "av", "w", "x"} <= set(df.columns):
            break  # an earlier corruption removed what this one would touch
        try:
            df = corrupt(df, k, row)
        except (TypeError, ValueError):  # pandas refuses the value (e.g. inf in a str column)
            continue
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any other warning (numpy, pandas) fails the test
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)
        try:
            data = ck.ChoiceData.from_long(df, "case", "alt", "chosen", "av", weight="w",
                                           invalid=invalid)
            model = ck.MNL(data, s.utilities(), missing=missing)
            model.check_identification(warn=False)
            res = model.fit(maxiter=20)
            res.predict_proba()
            str(res.summary())
        except ck.ChoiceKitError as err:
            assert str(err)  # a message, naming what is wrong


@given(samples(min_cases=2, max_cases=6), st.sampled_from(
    ["code 0", "code text", "code nan", "av 2", "chosen unavailable", "dup id", "nan id",
     "x text", "x nan", "drop av", "weight negative"]), st.integers(0, 100),
    st.sampled_from(["raise", "drop"]))
def test_malformed_wide_frames_raise_only_choicekit_errors(s, kind, row, invalid):
    df = s.wide()
    i = df.index[row % len(df)]
    if kind == "code 0":
        df.loc[i, "choice"] = 0
    elif kind == "code text":
        df["choice"] = df["choice"].astype(str)
    elif kind == "code nan":
        df["choice"] = df["choice"].astype(float)
        df.loc[i, "choice"] = np.nan
    elif kind == "av 2":
        df.loc[i, "av0"] = 2
    elif kind == "chosen unavailable":
        df["av0"], df["choice"] = 0, 100
    elif kind == "dup id":
        df.loc[i, "case"] = df["case"].iloc[0]
    elif kind == "nan id":
        df["case"] = df["case"].astype(object)
        df.loc[i, "case"] = None
    elif kind == "x text":
        df["x0"] = df["x0"].astype(object)
        df.loc[i, "x0"] = "?"
    elif kind == "x nan":
        df.loc[i, "x0"] = np.nan
    elif kind == "drop av":
        df = df.drop(columns="av0")
    elif kind == "weight negative":
        df.loc[i, "w"] = -3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)
        try:
            data = ck.ChoiceData.from_wide(
                df, "choice", {100 + j: a for j, a in enumerate(s.labels)},
                availability={a: f"av{j}" for j, a in enumerate(s.labels)},
                variables={"x": {a: f"x{j}" for j, a in enumerate(s.labels)}},
                weight="w", case="case", invalid=invalid)
            ck.MNL(data, s.utilities(), missing="drop").fit(maxiter=20)
        except ck.ChoiceKitError as err:
            assert str(err)



@given(st.text(alphabet="~|+-01 xzwab`$().*:", max_size=30))
def test_random_formulas_give_a_model_or_a_specification_error(text):
    df = pd.DataFrame({"case": np.repeat([1, 2, 3], 2), "alt": ["a", "b"] * 3,
                       "chosen": [1, 0, 0, 1, 1, 0], "x": [1.0, 2.0, 0.5, 1.0, 2.0, 0.0],
                       "z": np.repeat([1.0, 2.0, 3.0], 2)})
    data = ck.ChoiceData.from_long(df, "case", "alt", "chosen")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)
        try:
            ck.MNL.from_formula(text, data).fit(maxiter=10)
        except ck.SpecificationError as err:
            assert str(err)


OPTION_VALUES = st.one_of(st.none(), st.integers(-3, 3), st.floats(allow_nan=True),
                          st.text(max_size=8), st.sampled_from(["newton", "robust", "drop"]),
                          st.lists(st.integers(), max_size=2))


@given(st.sampled_from(["method", "cov_type", "maxiter", "gtol", "start", "chunk_size"]),
       OPTION_VALUES)
def test_random_fit_options_give_a_fit_or_a_choicekit_error(option, value):
    df = pd.DataFrame({"case": np.repeat([1, 2, 3, 4], 2), "alt": [0, 1] * 4,
                       "chosen": [1, 0, 0, 1, 1, 0, 0, 1], "x": [1.0, 2.0, 0.5, 1.0, 2, 0, 1, 3]})
    model = ck.MNL(ck.ChoiceData.from_long(df, "case", "alt", "chosen"),
                   {0: 0, 1: B("A") + B("b") * V("x")})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)
        try:
            model.fit(**{option: value})
        except ck.ChoiceKitError as err:
            assert str(err)


# ------------------------------------------------------------------------------------------
# spec-file expressions (choicekit.spec.specfile): random expressions over parameters, data
# columns and hostile constants (issue 17) give a utility or a SpecificationError, never a raw
# OverflowError / ZeroDivisionError, and logic on a parameter is never the silent constant 0
# ------------------------------------------------------------------------------------------

_PARAMS = ("B", "ASC")
_LEAVES = st.sampled_from(["B", "ASC", "x1", "x2", "0", "1", "10", "400", "0.5", "-8",
                           "1e308", "10.0", "(3 - 3)"])


def _expressions(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, bool]]:
    """``(text, logic_on_a_parameter)``: the flag says whether some comparison, not, and or
    or has a parameter among its operands (then the expression must be refused)."""

    def has_param(text: str) -> bool:
        import re

        return any(re.search(rf"\b{p}\b", text) for p in _PARAMS)

    def extend(children: st.SearchStrategy[tuple[str, bool]]):
        binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
            lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})", t[0][1] or t[2][1]))
        logic = st.tuples(children, st.sampled_from(["==", "<", "!=", "and", "or"]),
                          children).map(
            lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})",
                       t[0][1] or t[2][1] or has_param(t[0][0]) or has_param(t[2][0])))
        unary = st.tuples(st.sampled_from(["-", "not ", "log", "exp"]), children).map(
            lambda t: (f"{t[0]}({t[1][0]})", t[1][1] or (t[0] == "not " and has_param(t[1][0]))))
        return st.one_of(binary, logic, unary)

    return st.recursive(leaves.map(lambda s: (s, False)), extend, max_leaves=8)


_EXPR_FRAME = pd.DataFrame({"y": [1, 2, 1, 2], "x1": [1.0, 2.0, 0.0, 3.0],
                            "x2": [2.0, 1.0, 1.0, 0.5]})


@given(_expressions(_LEAVES))
def test_random_spec_utilities_give_a_utility_or_a_specification_error(case):
    from choicekit.spec.specfile import utility_from_expression

    text, logic_on_param = case
    params = {p: B(p) for p in _PARAMS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)  # e.g. B * 1e308: a scale warning
        try:
            u = utility_from_expression(text, params, lambda n: n in ("x1", "x2"),
                                        ["x1", "x2"], where="[utilities] a")
        except ck.SpecificationError as err:
            assert str(err).count("[utilities] a") == 1
            return
        assert not logic_on_param, f"{text!r} applies logic to a parameter but was accepted"
        # the design is built or refused with a choicekit error, never a raw exception
        data = ck.ChoiceData.from_wide(_EXPR_FRAME, choice="y", alternatives={1: "a", 2: "b"})
        try:
            ck.MNL(data, {"a": u, "b": 0})
        except ck.ChoiceKitError as err:
            assert str(err)
        except ValueError as err:  # pragma: no cover - must not happen
            raise AssertionError(f"{text!r}: {type(err).__name__}: {err}") from None


@given(_expressions(st.sampled_from(["x1", "x2", "0", "1", "10", "400", "0.5", "-8",
                                     "1e308", "10.0", "(3 - 3)"])))
def test_random_data_expressions_give_values_or_a_specification_error(case):
    from choicekit.spec.specfile import evaluate_expression

    text, _ = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            evaluate_expression(text, _EXPR_FRAME, where="[variables] Z")
        except ck.SpecificationError as err:
            assert str(err).count("[variables] Z") == 1


@pytest.mark.parametrize("text", ["10**10**10", "10.0**400", "x1 / 0", "B / 0", "not B",
                                  "B == 0", "(ASC == B)", "B and x1", "x1 or B",
                                  "0 ** -1", "(-8) ** 0.5", "log(0)", "1e308 * 10"])
def test_spec_interpreter_regressions(text):
    """The hostile cases of issue 17, kept so that a change cannot reopen them."""
    from choicekit.spec.specfile import utility_from_expression

    with pytest.raises(ck.SpecificationError):
        utility_from_expression(f"B * x1 + ({text})", {p: B(p) for p in _PARAMS},
                                lambda n: n in ("x1", "x2"), ["x1", "x2"])
