"""One test per error path: the exception class and the words of its message.

Every message must name what is wrong (column, alternative, parameter, case ids and counts)
and say what to do; these tests pin both. docs/errors.md lists the same errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.spec.formula import parse_formula

B, V = ck.Beta, ck.Var


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def long() -> pd.DataFrame:
    """Three cases, alternatives 0/1/2 (0 is a label like any other)."""
    return pd.DataFrame({
        "case": [1, 1, 1, 2, 2, 2, 3, 3, 3],
        "alt": [0, 1, 2] * 3,
        "ch": [1, 0, 0, 0, 1, 0, 0, 0, 1],
        "av": [1, 1, 1, 1, 1, 1, 1, 1, 1],
        "w": [1.0] * 9,
        "g": [10, 10, 10, 10, 10, 10, 20, 20, 20],
        "x": [1.0, 2.0, 3.0, 2.0, 1.0, 0.5, 3.0, 1.0, 2.0],
        "label": list("abcabcabc"),
    })


@pytest.fixture
def wide() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [1, 2, 3, 4],
        "CHOICE": [1, 2, 3, 1],
        "A_AV": [1, 1, 1, 1], "B_AV": [1, 1, 0, 1], "C_AV": [1, 1, 1, 0],
        "A_X": [1.0, 2.0, 3.0, 4.0], "B_X": [2.0, 1.0, 1.0, 3.0], "C_X": [0.5, 1.5, 2.5, 1.0],
        "INC": [10.0, 20.0, 30.0, 40.0], "w": [1.0, 1.0, 2.0, 1.0],
    })


WIDE = dict(choice="CHOICE", alternatives={1: "A", 2: "B", 3: "C"},
            availability={"A": "A_AV", "B": "B_AV", "C": "C_AV"})


def from_long(df: pd.DataFrame, **kw) -> ck.ChoiceData:
    args = dict(case="case", alt="alt", choice="ch")
    args.update(kw)
    return ck.ChoiceData.from_long(df, **args)


def model(data: ck.ChoiceData, **kw) -> ck.MNL:
    return ck.MNL(data, {0: 0, 1: B("ASC1") + B("bx") * V("x"), 2: B("ASC2") + B("bx") * V("x")},
                  **kw)


# ----------------------------------------------------------------------------- long frames
def test_long_not_a_frame():
    with pytest.raises(ck.ChoiceDataError, match="`df` must be a pandas DataFrame. Got dict"):
        ck.ChoiceData.from_long({"case": [1]}, case="case", alt="alt")


def test_long_duplicate_column_names(long):
    df = pd.concat([long, long[["x"]]], axis=1)
    with pytest.raises(ck.ChoiceDataError, match=r"must be unique; \['x'\] appear more than"):
        from_long(df)


def test_long_missing_column_suggests_close_names(long):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"alt='alts' is not a column of the long frame. Did you mean "
                             r"'alt'\?.*The frame has 8 columns"):
        from_long(long, alt="alts")


def test_long_every_missing_column_is_named(long):
    with pytest.raises(ck.ChoiceDataError, match=r"case='cse'.*alt='alternative'.*weight='wt'"):
        from_long(long, case="cse", alt="alternative", weight="wt")


def test_long_column_argument_not_a_name(long):
    with pytest.raises(ck.ChoiceDataError, match=r"case must be a column name; got list"):
        from_long(long, case=["case"])


def test_long_same_column_two_roles(long):
    with pytest.raises(ck.ChoiceDataError, match="same column is given for two roles"):
        from_long(long, availability="ch")


def test_long_empty(long):
    with pytest.raises(ck.ChoiceDataError, match=r"long frame is empty \(0 rows\)"):
        from_long(long.iloc[:0])


def test_long_all_rows_without_ids(long):
    with pytest.raises(ck.ChoiceDataError, match="Every row of the long frame lacks a case id"):
        from_long(long.assign(case=np.nan))


def test_long_missing_case_id(long):
    df = long.astype({"case": float})
    df.loc[4, "case"] = np.nan
    with pytest.raises(ck.ChoiceDataError,
                       match=r"case column 'case' is missing in 1 row \(index 4\)"):
        from_long(df)


def test_long_missing_alternative(long):
    df = long.astype({"alt": float})
    df.loc[[3, 5], "alt"] = np.nan
    with pytest.raises(ck.ChoiceDataError,
                       match=r"alt column 'alt' is missing in 2 rows \(index 3, 5\)"):
        from_long(df)


def test_long_duplicate_case_alternative_rows(long):
    df = pd.concat([long, long.iloc[[4]]])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"duplicate case-alternative rows: 1 extra rows in 1 case \(ids 2\) "
                             r"\(e.g. alternative 1\)"):
        from_long(df)


def test_long_availability_not_01(long):
    df = long.assign(av=[1, 1, 2, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"availability column 'av' holds values other than 0/1 \(2\) in 1 "
                             r"row of 1 case \(ids 1\); recode it to 0/1"):
        from_long(df, availability="av")


def test_long_choice_not_01(long):
    df = long.assign(ch=["y", "n", "n", "n", "y", "n", "n", "n", "y"])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"choice column 'ch' holds values other than 0/1 \('y', 'n'\) in 9 "
                             r"rows of 3 cases"):
        from_long(df)


def test_long_no_chosen_row(long):
    df = long.assign(ch=[1, 0, 0, 0, 0, 0, 0, 0, 1])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"no chosen row \(choice column 'ch' = 1\) in 1 case \(ids 2\)"):
        from_long(df)


def test_long_several_chosen_rows(long):
    df = long.assign(ch=[1, 1, 0, 0, 1, 0, 0, 0, 1])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"several chosen rows \(choice column 'ch' = 1\) in 1 case \(ids 1\)"):
        from_long(df)


def test_long_chosen_unavailable(long):
    df = long.assign(av=[0, 1, 1, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"chosen alternative is unavailable \(availability column 'av' = 0\)"
                             r" in 1 case \(ids 1\)"):
        from_long(df, availability="av")


def test_long_no_alternative_available(long):
    df = long.assign(av=[0, 0, 0, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"no alternative is available in 1 case \(ids 1\)"):
        from_long(df, choice=None, availability="av")


def test_long_weight_varies_within_case(long):
    df = long.assign(w=[1.0, 2.0, 1.0, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"weight column 'w' varies within 1 case \(ids 1\); give one weight"):
        from_long(df, weight="w")


@pytest.mark.parametrize("value, kind", [(-1.0, "negative"), (np.nan, r"missing \(NaN\)"),
                                         (np.inf, "infinite"), ("heavy", "non-numeric")])
def test_long_bad_weight(long, value, kind):
    w = long["w"].astype(object)
    w[6:9] = value
    with pytest.raises(ck.ChoiceDataError,
                       match=rf"weight column 'w' is {kind}.* in 1 case \(ids 3\); weights must be "
                             "finite and non-negative"):
        from_long(long.assign(w=w), weight="w")


def test_long_all_weights_zero(long):
    with pytest.raises(ck.ChoiceDataError, match="weight column 'w' is zero in every case"):
        from_long(long.assign(w=0.0), weight="w")


def test_long_group_varies_within_case(long):
    df = long.assign(g=[10, 11, 10, 10, 10, 10, 20, 20, 20])
    with pytest.raises(ck.ChoiceDataError,
                       match=r"group column 'g' varies within 1 case \(ids 1\)"):
        from_long(df, group="g")


def test_long_group_missing(long):
    df = long.astype({"g": float})
    df.loc[6:8, "g"] = np.nan
    with pytest.raises(ck.ChoiceDataError,
                       match=r"group column 'g' is missing in 1 case \(ids 3\)"):
        from_long(df, group="g")


def test_invalid_option_lists_allowed_values(long):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"`invalid` must be one of 'raise', 'drop'. Got 'ignore' instead."):
        from_long(long, invalid="ignore")


def test_long_lists_every_kind_of_problem(long):
    df = long.assign(ch=[1, 1, 0, 0, 0, 0, 0, 0, 1], w=[1, 1, 1, 1, 1, 1, -1, -1, -1])
    with pytest.raises(ck.ChoiceDataError) as err:
        from_long(df, weight="w")
    msg = str(err.value)
    assert "3 kinds of invalid data, affecting 3 of 3 cases" in msg
    for words in ("no chosen row", "several chosen rows", "weight column 'w' is negative",
                  "pass invalid='drop'"):
        assert words in msg


def test_long_invalid_drop_warns_and_names_dropped_cases(long):
    df = long.assign(ch=[1, 0, 0, 0, 0, 0, 0, 0, 1])
    with pytest.warns(ck.DataWarning, match=r"invalid='drop': dropped these 1 case; 2 remain"):
        data = from_long(df, invalid="drop")
    assert data.n_cases == 2 and list(data.dropped_cases) == [2]


def test_long_invalid_drop_nothing_left(long):
    with pytest.raises(ck.ChoiceDataError, match="No valid case is left after invalid='drop'"):
        from_long(long.assign(ch=0), invalid="drop")


# ----------------------------------------------------------------------------- wide frames
def test_wide_alternatives_not_a_mapping(wide):
    with pytest.raises(ck.ChoiceDataError, match="`alternatives` must be a non-empty mapping"):
        ck.ChoiceData.from_wide(wide, "CHOICE", ["A", "B", "C"])


def test_wide_alternative_names_not_unique(wide):
    with pytest.raises(ck.ChoiceDataError, match=r"Alternative names must be unique"):
        ck.ChoiceData.from_wide(wide, "CHOICE", {1: "A", 2: "A", 3: "C"})


def test_wide_availability_not_a_mapping(wide):
    with pytest.raises(ck.ChoiceDataError, match="`availability` must map alternative names"):
        ck.ChoiceData.from_wide(wide, "CHOICE", WIDE["alternatives"], availability=["A_AV"])


def test_wide_variables_entry_not_a_mapping(wide):
    with pytest.raises(ck.ChoiceDataError, match=r"variables\['x'\] must map alternative names"):
        ck.ChoiceData.from_wide(wide, **WIDE, variables={"x": "A_X"})


def test_wide_unknown_alternative_in_mapping_suggests(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"availability names unknown alternatives \['a'\] Did you mean 'A'"):
        ck.ChoiceData.from_wide(wide, "CHOICE", WIDE["alternatives"],
                                availability={"a": "A_AV"})


def test_wide_declared_variable_not_numeric(wide):
    df = wide.assign(A_X=list("pqrs"))
    with pytest.raises(ck.ChoiceDataError,
                       match=r"variables\['x'\]\['A'\]='A_X' is not numeric"):
        ck.ChoiceData.from_wide(df, **WIDE, variables={"x": {"A": "A_X", "B": "B_X"}})


def test_wide_missing_column(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"availability\['C'\]='C_A' is not a column.*Did you mean 'C_AV'"):
        ck.ChoiceData.from_wide(wide, "CHOICE", WIDE["alternatives"],
                                availability={"A": "A_AV", "C": "C_A"})


def test_wide_empty(wide):
    with pytest.raises(ck.ChoiceDataError, match="wide frame is empty"):
        ck.ChoiceData.from_wide(wide.iloc[:0], **WIDE)


def test_wide_repeated_case_ids(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"case ids must be unique in a wide frame, but 1 id is shared by "
                             r"2 rows \(column 'id'; ids 1\)"):
        ck.ChoiceData.from_wide(wide.assign(id=[1, 1, 3, 4]), **WIDE, case="id")


def test_wide_missing_case_id(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"case id \(column 'id'\) is missing in 1 row \(index 2\)"):
        ck.ChoiceData.from_wide(wide.assign(id=[1, 2, np.nan, 4]), **WIDE, case="id")


def test_wide_undeclared_choice_code(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"choice column 'CHOICE' holds codes that are not declared "
                             r"alternatives \(0\) in 1 case \(ids 1\); declared codes: "
                             r"\[1, 2, 3\]"):
        ck.ChoiceData.from_wide(wide.assign(CHOICE=[0, 2, 3, 1]).set_index("id"), **WIDE)


def test_wide_text_codes_get_a_hint(wide):
    with pytest.raises(ck.ChoiceDataError, match=r"holds text codes \(e.g. '1'\)"):
        ck.ChoiceData.from_wide(wide.assign(CHOICE=["1", "2", "3", "1"]), **WIDE)


def test_wide_missing_choice(wide):
    df = wide.astype({"CHOICE": float})
    df.loc[1, "CHOICE"] = np.nan
    with pytest.raises(ck.ChoiceDataError,
                       match=r"choice column 'CHOICE' is missing \(NaN\) in 1 case \(ids 2\)"):
        ck.ChoiceData.from_wide(df.set_index("id"), **WIDE)


def test_wide_availability_not_01(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"availability column 'B_AV' \(alternative 'B'\) holds values other "
                             r"than 0/1 \(-1\) in 1 case"):
        ck.ChoiceData.from_wide(wide.assign(B_AV=[1, 1, -1, 1]), **WIDE)


def test_wide_chosen_unavailable(wide):
    with pytest.raises(ck.ChoiceDataError,
                       match=r"chosen alternative is unavailable in 1 case \(ids 4\) \(by "
                             r"alternative: 'C': 1\)"):
        ck.ChoiceData.from_wide(wide.assign(CHOICE=[1, 2, 3, 3]).set_index("id"), **WIDE)


def test_wide_no_alternative_available(wide):
    df = wide.assign(A_AV=[1, 1, 1, 0], B_AV=[1, 1, 1, 0], C_AV=[1, 1, 1, 0])
    with pytest.raises(ck.ChoiceDataError, match=r"no alternative is available in 1 case"):
        ck.ChoiceData.from_wide(df, None, WIDE["alternatives"], WIDE["availability"])


def test_wide_negative_weight(wide):
    with pytest.raises(ck.ChoiceDataError, match=r"weight column 'w' is negative.*\(ids 2\)"):
        ck.ChoiceData.from_wide(wide.assign(w=[1, -2, 1, 1]).set_index("id"), **WIDE, weight="w")


def test_wide_group_missing(wide):
    with pytest.raises(ck.ChoiceDataError, match=r"group column 'INC' is missing in 1 case"):
        ck.ChoiceData.from_wide(wide.assign(INC=[1, np.nan, 2, 3]), **WIDE, group="INC")


# ----------------------------------------------------------------------------- ChoiceData use
def test_unknown_variable_suggests(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"Variable 'xx' is not in the data. Did you mean 'x'"):
        from_long(long).variable("xx")


def test_text_variable_is_not_numeric(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"Variable 'label' is not numeric .*values such as 'a', 'b', 'c'"):
        from_long(long).variable("label")


def test_take_out_of_range(long):
    with pytest.raises(ck.ChoiceDataError, match=r"Case positions \[7\] are out of range for 3"):
        from_long(long).take([0, 7])


def test_take_mask_of_wrong_length(long):
    with pytest.raises(ck.ChoiceDataError, match="boolean case mask must have 3 entries"):
        from_long(long).take(np.array([True, False]))


def test_with_chosen_unavailable(long):
    data = from_long(long.assign(av=[1, 1, 0, 1, 1, 1, 1, 1, 1]), availability="av")
    with pytest.raises(ck.ChoiceDataError, match=r"picks an unavailable alternative in 1 case"):
        data.with_chosen(np.array([2, 0, 0]))


# ----------------------------------------------------------------------------- specification
@pytest.mark.parametrize("make, words", [
    (lambda: B(""), r"Beta needs a name \(a non-empty str\)"),
    (lambda: B("b", "big"), r"Beta 'b': value must be a number; got 'big'"),
    (lambda: B("b", np.inf), r"Beta 'b': value must be finite"),
    (lambda: B("b", lower=1, upper=0), r"Beta 'b': lower bound 1.0 exceeds upper bound 0.0"),
    (lambda: B("b", 5.0, upper=1), r"Beta 'b': starting value 5.0 lies outside its bounds"),
    (lambda: B("b", lower=np.nan), r"Beta 'b': bounds must not be NaN"),
    (lambda: B("b", lower="low"), r"Beta 'b': bounds must be numbers or None"),
    (lambda: V(3), r"Var needs a column name \(a non-empty str\). Got 3"),
    (lambda: B("a") * B("b"), r"Product of two parameter terms \(a times b\)"),
    (lambda: V("x") / B("b"), r"Division by a parameter \(b\)"),
    (lambda: V("x") ** B("b"), "A parameter cannot appear in an exponent"),
    (lambda: V("x") == B("b"), "A comparison cannot involve a parameter"),
    (lambda: bool(V("x") > 1), "An expression has no truth value"),
    (lambda: ck.log(B("b")), r"log\(\) of a parameter is not linear"),
    (lambda: B("b", 1.0) + B("b", 2.0) * V("x"), "Parameter 'b' is declared twice"),
])
def test_specification_errors(make, words):
    with pytest.raises(ck.SpecificationError, match=words):
        make()


def test_utilities_not_a_mapping(long):
    with pytest.raises(ck.SpecificationError, match="`utilities` must be a non-empty dict"):
        ck.MNL(from_long(long), [B("a")])


def test_utility_for_unknown_alternative_suggests(wide):
    data = ck.ChoiceData.from_wide(wide, **WIDE)
    with pytest.raises(ck.SpecificationError,
                       match=r"Utilities are given for unknown alternatives \['a'\]. Did you mean "
                             r"'A'\?.*The data's alternatives are \['A', 'B', 'C'\]"):
        ck.MNL(data, {"a": 0, "B": B("b"), "C": 0})


def test_alternative_without_utility(wide):
    data = ck.ChoiceData.from_wide(wide, **WIDE)
    with pytest.raises(ck.SpecificationError,
                       match=r"No utility is given for alternatives \['C'\]"):
        ck.MNL(data, {"A": 0, "B": B("b")})


def test_utility_of_unsupported_type(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"Utility of alternative 1: A utility must be built from Beta, Var "
                             r"and numbers; got str 'x'"):
        ck.MNL(from_long(long), {0: 0, 1: "x", 2: 0})


def test_utility_uses_unknown_variable_suggests(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"Utility of alternative 1 uses variable 'X', which is not in the "
                             r"data. Did you mean 'x'"):
        ck.MNL(from_long(long), {0: 0, 1: B("b") * V("X"), 2: 0})


# ----------------------------------------------------------------------------- design
def test_missing_values_name_variable_alternative_and_kind(long):
    x = long["x"].astype(object)
    x[1], x[4], x[7] = np.nan, "n/a", np.inf
    data = from_long(long.assign(x=x))
    with pytest.raises(ck.ChoiceDataError) as err:
        model(data)
    msg = str(err.value)
    assert "Missing, non-numeric or infinite values in 3 cases" in msg
    assert ("variable 'x' for alternative 1: 1 missing (NaN), 1 non-numeric ('n/a'), 1 "
            "infinite values in 3 cases (ids 1, 2, 3)") in msg
    assert "pass missing='drop'" in msg


def test_missing_drop_reports_count(long):
    x = long["x"].copy()
    x[4] = np.nan
    with pytest.warns(ck.DataWarning, match=r"missing='drop' dropped 1 of 3 cases; 2 remain"):
        m = model(from_long(long.assign(x=x)), missing="drop")
    assert list(m.dropped_cases) == [2] and m.n_cases == 2


def test_missing_drop_nothing_left(long):
    with pytest.raises(ck.ChoiceDataError, match="nothing is left after missing='drop'"):
        model(from_long(long.assign(x=np.nan)), missing="drop")


def test_missing_option_lists_allowed_values(long):
    with pytest.raises(ck.ChoiceDataError, match=r"`missing` must be one of 'raise', 'drop'"):
        model(from_long(long), missing="omit")


def test_expression_that_evaluates_to_inf(long):
    data = from_long(long.assign(x=[0.0, 1, 1, 1, 1, 1, 1, 1, 1]))
    with pytest.raises(ck.ChoiceDataError,
                       match=r"utility expressions evaluate to NaN/inf in 1 case \(ids 1\) "
                             "although the variables are finite"):
        ck.MNL(data, {0: B("b") * ck.log(V("x")), 1: 0, 2: 0})


def test_estimation_needs_choices(long):
    data = from_long(long, choice=None)
    m = model(data)
    with pytest.raises(ck.ChoiceDataError, match="carry no observed choices"):
        m.fit()


def test_single_available_alternative_warns(long):
    df = long.assign(av=[1, 0, 0, 1, 1, 1, 1, 1, 1])
    with pytest.warns(ck.DataWarning,
                      match=r"1 case \(ids 1\) of 3 have a single available alternative"):
        model(from_long(df, availability="av"))


# ----------------------------------------------------------------------------- formulas
@pytest.mark.parametrize("formula, words, caret", [
    ("ch ~ x $ y", r"Unexpected character '\$'", 7),
    ("ch ~ x ~ y", "exactly one '~'", 7),
    ("ch + x ~ y", "left-hand side must be one column name", 5),
    ("ch ~ x | 1 | x | y", r"at most three parts", 15),
    ("ch ~ x + ", r"ends with '\+': a term must follow", 7),
    ("ch ~ x y", r"Expected '\+' or '\|' between terms, got 'y'", 7),
    ("ch ~ x + 2", r"Only 0, 1 and -1 are allowed as numbers", 9),
    ("ch ~ 1 + x", "Constants are set in part 2", 5),
    ("ch ~ x - y", "Removing a variable with '-' is not supported", 9),
    ("ch ~ x + x", "Variable 'x' appears twice in this part", 9),
])
def test_formula_syntax_errors_point_at_the_token(formula, words, caret):
    with pytest.raises(ck.SpecificationError, match=words) as err:
        parse_formula(formula)
    lines = str(err.value).splitlines()
    assert lines[-2].strip() == formula.strip()
    assert lines[-1].index("^") - lines[-2].index(formula[0]) == caret


def test_formula_not_a_string():
    with pytest.raises(ck.SpecificationError, match="A formula must be a string. Got int"):
        parse_formula(3)


def test_formula_unknown_variable_suggests(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"Formula variable 'xx' is not in the data. Did you mean 'x'\? "
                             r"Available variables:"):
        ck.MNL.from_formula("ch ~ xx", from_long(long))


def test_formula_reference_not_an_alternative(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"reference=5 is not an alternative. The alternatives are "
                             r"\[0, 1, 2\]"):
        ck.MNL.from_formula("ch ~ x", from_long(long), reference=5)


def test_formula_lhs_is_not_the_choice_column(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"left-hand side 'choice' is not the data's choice column 'ch'"):
        ck.MNL.from_formula("choice ~ x", from_long(long))


# ----------------------------------------------------------------------------- model & fit
def test_model_needs_choicedata(long):
    with pytest.raises(ck.ChoiceDataError, match=r"`data` must be a ChoiceData"):
        ck.MNL(long, {0: 0})


@pytest.mark.parametrize("option, value, words", [
    ("method", "newtn", r"`method` must be one of 'auto', 'newton'.*Got 'newtn' instead"),
    ("cov_type", "robst", r"`cov_type` must be one of 'classical', 'robust', 'opg', 'cluster'"),
    ("maxiter", 0, r"`maxiter` must be a positive integer. Got 0"),
    ("gtol", -1.0, r"`gtol` must be a positive number. Got -1.0"),
    ("chunk_size", 0, r"`chunk_size` must be a positive integer \(cases per kernel call\)"),
])
def test_fit_option_values(long, option, value, words):
    with pytest.raises(ck.SpecificationError, match=words):
        model(from_long(long)).fit(**{option: value})


def test_with_cov_option_value(long):
    res = model(from_long(long)).fit()
    with pytest.raises(ck.SpecificationError, match=r"`cov_type` must be one of .*'robst'"):
        res.with_cov("robst")


def test_bounds_with_unbounded_method(long):
    m = ck.MNL(from_long(long), {0: 0, 1: B("b", lower=-5, upper=5) * V("x"), 2: 0})
    with pytest.raises(ck.SpecificationError, match=r"Parameters \['b'\] have bounds"):
        m.fit(method="bfgs")


def test_cluster_covariance_without_groups(long):
    with pytest.raises(ck.SpecificationError, match="cov_type='cluster' needs clusters"):
        model(from_long(long)).fit(cov_type="cluster")


@pytest.mark.parametrize("params, words", [
    ({"ASC1": 0, "ASC2": 0, "bx": 0, "by": 1}, r"Unknown parameters \['by'\]"),
    ({"ASC1": 0, "bx": 0}, r"Values are missing for parameters \['ASC2'\]"),
    ([0.0, 1.0], r"Expected 3 parameter values"),
    ({"ASC1": 0, "ASC2": np.nan, "bx": 0}, r"must be finite; \['ASC2'\] are not"),
    ({"ASC1": 0, "ASC2": "x", "bx": 0}, r"must be numbers; got \{'ASC2': 'x'\}"),
    ({"ASC1": 0, "ASC2": 0, "bx": 1e308}, r"utilities overflow .* mostly through \['bx'"),
])
def test_parameter_values(long, params, words):
    with pytest.raises(ck.SpecificationError, match=words):
        model(from_long(long)).predict_proba(params)


def test_prediction_data_with_other_alternatives(long):
    m = model(from_long(long))
    other = from_long(long.assign(alt=[0, 1, 3] * 3))
    with pytest.raises(ck.ChoiceDataError, match=r"new data have alternatives \[0, 1, 3\]"):
        m.predict_proba({"ASC1": 0, "ASC2": 0, "bx": 0}, data=other)


# ----------------------------------------------------------------------------- no raw errors
def test_errors_are_also_builtin_errors(long):
    """``except ValueError`` keeps working in user code."""
    with pytest.raises(ValueError):
        from_long(long, choice="nope")
    assert issubclass(ck.EstimationError, RuntimeError)
    assert issubclass(ck.SeparationWarning, ck.ConvergenceWarning)
    assert issubclass(ck.SeparationWarning, ck.IdentificationWarning)


def test_user_frame_untouched_by_failed_and_dropped_builds(long):
    df = long.assign(ch=[1, 0, 0, 0, 0, 0, 0, 0, 1])
    before = df.copy(deep=True)
    with pytest.raises(ck.ChoiceDataError):
        from_long(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.DataWarning)
        from_long(df, invalid="drop")
    pd.testing.assert_frame_equal(df, before)


def test_utility_key_of_the_wrong_type_gets_a_hint(long):
    with pytest.raises(ck.SpecificationError,
                       match=r"unknown alternatives \['1'\]. Did you mean 1\? \(The labels are "
                             r"int, not str.\)"):
        ck.MNL(from_long(long), {0: 0, "1": B("b"), 2: 0})


def test_model_on_zero_cases(long):
    with pytest.raises(ck.ChoiceDataError, match="The data have no cases"):
        model(from_long(long).take([]))


@pytest.mark.parametrize("alpha", [0.0, 1.5, "x"])
def test_conf_int_alpha(long, alpha):
    res = model(from_long(long)).fit()
    with pytest.raises(ck.SpecificationError, match=r"`alpha` must lie in \(0, 1\)"):
        res.conf_int(alpha=alpha)
