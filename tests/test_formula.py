"""Formula front end: mlogit's three-part convention and our parameter labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.spec.formula import parse_formula


@pytest.fixture(scope="module")
def long_data() -> ck.ChoiceData:
    rng = np.random.default_rng(11)
    n, alts = 300, ["x", "y", "z"]
    rows = []
    for i in range(n):
        inc = rng.uniform(1, 4)
        V = []
        for a in alts:
            cost, time = rng.uniform(1, 5), rng.uniform(1, 5)
            rows.append({"id": i, "alt": a, "cost": cost, "time": time, "inc": inc})
            V.append(-0.5 * cost - 0.3 * time + {"x": 0, "y": 0.4, "z": -0.2}[a]
                     + {"x": 0, "y": 0.3, "z": -0.1}[a] * inc)
        ch = int(np.argmax(np.array(V) + rng.gumbel(size=3)))
        for k in range(3):
            rows[-3 + k]["ch"] = int(k == ch)
    return ck.ChoiceData.from_long(pd.DataFrame(rows), case="id", alt="alt", choice="ch")


def test_parse_three_parts():
    pf = parse_formula("ch ~ cost + time | inc + `odd name` | wait")
    assert pf.lhs == "ch" and pf.generic == ("cost", "time")
    assert pf.case_specific == ("inc", "odd name") and pf.alt_specific == ("wait",)
    assert pf.intercept
    assert not parse_formula("ch ~ cost | 0").intercept
    assert not parse_formula("ch ~ cost | -1 + inc").intercept
    assert parse_formula("~ 0 | inc").generic == ()


def test_labels_and_reference(long_data):
    m = ck.MNL.from_formula("ch ~ cost + time | inc", long_data, reference="x")
    assert m.param_names == ["ASC:y", "ASC:z", "cost", "time", "inc:y", "inc:z"]
    m2 = ck.MNL.from_formula("ch ~ cost | 0 | time", long_data, reference="z")
    assert m2.param_names == ["cost", "time:x", "time:y", "time:z"]


def test_formula_equals_expressions(long_data):
    B, V = ck.Beta, ck.Var
    f = ck.MNL.from_formula("ch ~ cost + time | inc", long_data, reference="x").fit()
    e = ck.MNL(long_data, {
        "x": B("cost") * V("cost") + B("time") * V("time"),
        "y": B("ASC:y") + B("cost") * V("cost") + B("time") * V("time") + B("inc:y") * V("inc"),
        "z": B("ASC:z") + B("cost") * V("cost") + B("time") * V("time") + B("inc:z") * V("inc"),
    }).fit()
    np.testing.assert_allclose(f.params[e.params.index], e.params, rtol=1e-10)


def test_reference_changes_labels_not_fit(long_data):
    a = ck.MNL.from_formula("ch ~ cost + time | inc", long_data, reference="x").fit()
    b = ck.MNL.from_formula("ch ~ cost + time | inc", long_data, reference="y").fit()
    assert a.llf == pytest.approx(b.llf, rel=1e-12)
    assert a.params["cost"] == pytest.approx(b.params["cost"], rel=1e-8)
    # constants are differences from the reference: ASC:y (ref x) = -ASC:x (ref y)
    assert a.params["ASC:y"] == pytest.approx(-b.params["ASC:x"], rel=1e-8)


@pytest.mark.parametrize("formula, match", [
    ("ch ~ cost +", "ends with"),
    ("ch ~ cost | inc | time | more", "at most three parts"),
    ("ch cost", "exactly one '~'"),
    ("ch ~ cost * time", "Unexpected character"),
    ("ch ~ cost | 2", "Only 0, 1 and -1"),
    ("ch ~ cots", "not in the data.*cost"),
])
def test_formula_errors_point_at_the_problem(long_data, formula, match):
    with pytest.raises(ck.SpecificationError, match=match):
        ck.MNL.from_formula(formula, long_data)


def test_unknown_reference(long_data):
    with pytest.raises(ck.SpecificationError, match="reference='w' is not an alternative"):
        ck.MNL.from_formula("ch ~ cost", long_data, reference="w")
