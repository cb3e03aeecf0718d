"""Identification diagnostics before fitting, singular Hessians after, and separation.

Ground truth comes from analytic facts: a full set of alternative-specific constants adds the
same number to every utility along (1, ..., 1); a case-level variable with a generic
coefficient cancels out of every probability; two columns with x2 = 2 x1 are collinear along
(2, -1); a variable that takes higher values on the chosen alternative in every case
separates the data (Albert & Anderson 1984), and so does an alternative that nobody chooses.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.estimation.identification import check_identification, detect_separation

B, V = ck.Beta, ck.Var

WIDE = dict(choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
            availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})


@pytest.fixture(scope="module")
def data() -> ck.ChoiceData:
    return ck.ChoiceData.from_wide(ck.datasets.load_simulated_modechoice(), **WIDE)


def utilities(asc_car: bool = False, extra: dict | None = None) -> dict:
    u = {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
        + B("B_COST") * V("TRAIN_COST") / 100,
        "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
        "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100,
    }
    if asc_car:
        u["car"] = u["car"] + B("ASC_CAR")
    for alt, term in (extra or {}).items():
        u[alt] = u[alt] + term
    return u


def test_identified_model_reports_ok_and_does_not_warn(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = ck.MNL(data, utilities()).check_identification()
    assert report.ok and report.unidentified == () and "identified" in str(report)


def test_full_set_of_constants(data):
    model = ck.MNL(data, utilities(asc_car=True))
    with pytest.warns(ck.IdentificationWarning,
                      match=r"\['ASC_TRAIN', 'ASC_BUS', 'ASC_CAR'\] form a full set of "
                            "alternative-specific constants"):
        report = model.check_identification()
    assert report.unidentified == ("ASC_TRAIN", "ASC_BUS", "ASC_CAR")
    (direction,) = report.directions
    # analytic: adding t to every constant changes no probability
    np.testing.assert_allclose(direction[["ASC_TRAIN", "ASC_BUS", "ASC_CAR"]], 1.0, rtol=1e-9)
    np.testing.assert_allclose(direction[["B_TIME", "B_COST"]], 0.0, atol=1e-12)


def test_fixing_one_constant_restores_identification(data):
    u = utilities()
    u["car"] = u["car"] + B("ASC_CAR", fixed=True)
    assert ck.MNL(data, u).check_identification(warn=False).ok


def test_generic_coefficient_on_case_level_variable(data):
    inc = B("B_INCOME")
    model = ck.MNL(data, utilities(extra={a: inc * V("INCOME") for a in ("train", "bus", "car")}))
    report = model.check_identification(warn=False)
    assert report.unidentified == ("B_INCOME",)
    assert "'B_INCOME' multiplies a variable that does not vary across the available " \
        "alternatives of any case" in report.problems[0]


def test_case_level_variable_on_every_alternative_is_collinear(data):
    model = ck.MNL(data, utilities(extra={a: B(f"INC_{a}") * V("INCOME")
                                          for a in ("train", "bus", "car")}))
    report = model.check_identification(warn=False)
    assert report.unidentified == ("INC_train", "INC_bus", "INC_car")
    assert "perfectly collinear" in report.problems[0]
    np.testing.assert_allclose(report.directions[0][list(report.unidentified)], 1.0, rtol=1e-9)


def test_collinear_columns_named_with_their_direction(data):
    # TIME2 = 2 * time (in every alternative): B_TIME and B_TIME2 are told apart only by 2:-1
    extra = {a: B("B_TIME2") * V(f"{a.upper()}_TT") / 50 for a in ("train", "bus", "car")}
    model = ck.MNL(data, utilities(extra=extra))
    report = model.check_identification(warn=False)
    assert set(report.unidentified) == {"B_TIME", "B_TIME2"}
    d = report.directions[0]
    assert d["B_TIME"] / d["B_TIME2"] == pytest.approx(-2.0, rel=1e-8)
    # the direction leaves every utility difference unchanged (checked on the design itself)
    X = model.design.X
    shift = X @ d.reindex(model.param_names).to_numpy()
    avail = model.design.avail
    spread = np.where(avail, shift, np.nan)
    assert np.nanmax(np.abs(spread - np.nanmean(spread, axis=1, keepdims=True))) < 1e-9


def test_variable_that_is_zero_everywhere(data):
    model = ck.MNL(data, utilities(extra={"car": B("B_ZERO") * V("CAR_TT") * 0}))
    report = model.check_identification(warn=False)
    assert report.unidentified == ("B_ZERO",)
    assert "zero in every available alternative" in report.problems[0]


def test_two_problems_reported_apart(data):
    model = ck.MNL(data, utilities(asc_car=True, extra={
        a: B("B_INCOME") * V("INCOME") for a in ("train", "bus", "car")}))
    report = model.check_identification(warn=False)
    assert len(report.problems) == 2
    assert set(report.unidentified) == {"ASC_TRAIN", "ASC_BUS", "ASC_CAR", "B_INCOME"}


def test_zero_weight_cases_carry_no_information():
    # x varies within case 3 only, whose weight is zero: b is not identified
    df = pd.DataFrame({"case": np.repeat([1, 2, 3], 2), "alt": [0, 1] * 3,
                       "ch": [1, 0, 0, 1, 1, 0], "x": [1.0, 1.0, 2.0, 2.0, 0.0, 5.0],
                       "w": np.repeat([1.0, 1.0, 0.0], 2)})
    d = ck.ChoiceData.from_long(df, "case", "alt", "ch", weight="w")
    model = ck.MNL(d, {0: B("b") * V("x"), 1: B("ASC") + B("b") * V("x")})
    assert check_identification(model.design).unidentified == ("b",)


def test_singular_hessian_gives_nan_se_and_a_warning_not_an_exception(data):
    free = ck.MNL(data, utilities(asc_car=True))
    with pytest.warns(ck.IdentificationWarning, match=r"ASC_BUS.*ASC_CAR.*ASC_TRAIN"):
        res = free.fit()
        bse = res.bse
    assert bse[["ASC_TRAIN", "ASC_BUS", "ASC_CAR"]].isna().all()
    # B_TIME and B_COST are estimable: their estimates and standard errors equal those of the
    # normalised model (any generalised inverse gives the same variance of an estimable
    # function); 1e-5 covers the optimizer tolerance on a singular problem
    ref = ck.MNL(data, utilities()).fit()
    for name in ("B_TIME", "B_COST"):
        assert res.params[name] == pytest.approx(ref.params[name], rel=1e-5)
        assert bse[name] == pytest.approx(ref.bse[name], rel=1e-5)
    diff = res.params["ASC_TRAIN"] - res.params["ASC_CAR"]
    assert diff == pytest.approx(ref.params["ASC_TRAIN"], rel=1e-5)


# ----------------------------------------------------------------------------- separation
def _binary(x: list[float], chosen: list[int]) -> ck.ChoiceData:
    n = len(x)
    df = pd.DataFrame({"case": np.repeat(np.arange(n), 2), "alt": ["a", "b"] * n,
                       "ch": np.ravel([[1 - c, c] for c in chosen]),
                       "x": np.ravel([[0.0, xi] for xi in x])})
    return ck.ChoiceData.from_long(df, "case", "alt", "ch")


@pytest.mark.filterwarnings("ignore:The Hessian:choicekit.IdentificationWarning")
def test_complete_separation_is_reported_not_converged():
    # b is chosen exactly when x > 0: any b_x > 0 times t -> infinity raises the likelihood
    data = _binary([-2, -1, -0.5, 0.5, 1, 2], [0, 0, 0, 1, 1, 1])
    model = ck.MNL(data, {"a": 0, "b": B("b_x") * V("x")})
    with pytest.warns(ck.SeparationWarning,
                      match=r"Perfect prediction \(complete separation\): along \+1\*b_x the "
                            r"choices of 6 cases .* of 6 are predicted perfectly.*\['b_x'\] do "
                            "not exist"):
        res = model.fit()
    assert not res.converged
    assert "separation" in res.message


@pytest.mark.filterwarnings("ignore:The Hessian:choicekit.IdentificationWarning")
def test_quasi_complete_separation_names_only_the_runaway_parameter():
    # alternative c is never chosen: ASC_c runs to -infinity, the rest is fine
    rng = np.random.default_rng(0)
    n = 60
    x = rng.normal(size=(n, 3))
    chosen = rng.integers(0, 2, n)
    df = pd.DataFrame({"case": np.repeat(np.arange(n), 3), "alt": ["a", "b", "c"] * n,
                       "ch": np.ravel([[int(c == j) for j in range(3)] for c in chosen]),
                       "x": x.ravel()})
    data = ck.ChoiceData.from_long(df, "case", "alt", "ch")
    model = ck.MNL(data, {"a": B("b_x") * V("x"), "b": B("ASC_b") + B("b_x") * V("x"),
                          "c": B("ASC_c") + B("b_x") * V("x")})
    with pytest.warns(ck.SeparationWarning, match=r"quasi-complete separation.*\['ASC_c'\]"):
        res = model.fit()
    assert not res.converged
    sep = detect_separation(res._core.objective)
    assert sep is not None and sep.parameters == ("ASC_c",) and not sep.complete
    assert sep.direction["ASC_c"] == -1.0
    assert len(sep.cases) == n  # every case has c available and not chosen


def test_overlapping_data_are_not_separated(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ck.SeparationWarning)
        res = ck.MNL(data, utilities()).fit()
    assert res.converged
    assert detect_separation(res._core.objective) is None


def test_one_overlapping_case_breaks_separation():
    data = _binary([-2, -1, -0.5, 0.5, 1, 2, 1.5], [0, 0, 0, 1, 1, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ck.SeparationWarning)
        res = ck.MNL(data, {"a": 0, "b": B("b_x") * V("x")}).fit()
    assert res.converged and np.isfinite(res.bse["b_x"])


def _two_alternatives(x: np.ndarray, chosen: np.ndarray) -> ck.MNL:
    n = len(chosen)
    df = pd.DataFrame({"case": np.repeat(np.arange(n), 2), "alt": [0, 1] * n,
                       "ch": np.ravel(np.eye(2, dtype=int)[chosen]), "x": x.ravel()})
    return ck.MNL(ck.ChoiceData.from_long(df, "case", "alt", "ch"),
                  {0: B("b_x") * V("x"), 1: B("A") + B("b_x") * V("x")})


@pytest.mark.filterwarnings("ignore::choicekit.ChoiceKitWarning")
@pytest.mark.parametrize("method", ["newton", "bfgs", "lbfgsb"])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
@pytest.mark.parametrize("ties", [False, True])
def test_separation_found_whatever_the_scale_and_optimizer(method, scale, ties):
    # chosen = the alternative with the larger x: separated along b_x (quasi-completely when
    # a third of the cases have equal x and a random choice)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 2)) * scale
    chosen = np.argmax(x, axis=1)
    if ties:
        x[:100, 1] = x[:100, 0]
        chosen[:100] = rng.integers(0, 2, 100)
    res = _two_alternatives(x, chosen).fit(method=method)
    assert not res.converged and "separation" in res.message
    assert "'b_x'" in res.message


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
def test_no_false_alarm_on_logit_data_whatever_the_scale(scale):
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2000, 2))
    chosen = np.argmax(3 * x + rng.gumbel(size=x.shape), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ck.ChoiceKitWarning)
        res = _two_alternatives(x * scale, chosen).fit()
    assert res.converged


def test_constant_in_every_utility(data):
    c = B("C_ALL")
    model = ck.MNL(data, utilities(extra={a: c for a in ("train", "bus", "car")}))
    report = model.check_identification(warn=False)
    assert report.unidentified == ("C_ALL",)
    assert "adds the same constant to every available alternative" in report.problems[0]


def test_large_designs_skip_the_exact_check_but_say_so(monkeypatch):
    import choicekit.estimation.identification as ident

    monkeypatch.setattr(ident, "MAX_LP_ROWS", 1)
    data = _binary([-2, -1, -0.5, 0.5, 1, 2], [0, 0, 0, 1, 1, 1])
    model = ck.MNL(data, {"a": 0, "b": B("b_x") * V("x")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(method="bfgs")
    kinds = [w.category for w in caught]
    assert ck.SeparationWarning not in kinds
    assert any("signs of perfect prediction" in str(w.message) and "was skipped" in str(w.message)
               for w in caught)
