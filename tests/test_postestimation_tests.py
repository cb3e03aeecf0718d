"""LR, Wald, score and Hausman-McFadden tests and fit measures against published mlogit output
(Heating and Fishing examples, ModeCanada, Greene's TravelMode) and analytic identities.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _postest_helpers import HEAT_ALTS, heating_data, sim_data
from conftest import REFERENCE, SHARED_DATA

import choicekit as ck

B, V = ck.Beta, ck.Var
FISH_ALTS = ["beach", "boat", "charter", "pier"]
MODES = {1: "air", 2: "train", 3: "bus", 4: "car"}


def _ref(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def _test(ref: dict, prefix: str) -> dict:
    return next(t for t in ref["tests"] if t["name"].startswith(prefix))


def _stat_tol(x: float) -> float:
    """README: half a unit of the last printed digit plus 1e-3 relative slack."""
    s = f"{x:.10g}"
    decimals = len(s.split(".")[1]) if "." in s else 0
    return 0.5 * 10.0 ** (-decimals) * 1.01 + 1e-3 * abs(x)


def _skip_without(filename: str) -> None:
    if not (SHARED_DATA / filename).is_file():
        pytest.skip(f"{filename} not found in {SHARED_DATA}")


@pytest.fixture(scope="module")
def heating() -> ck.ChoiceData:
    _skip_without("heating.csv")
    return heating_data(ck.datasets.load_heating(SHARED_DATA))


@pytest.fixture(scope="module")
def fishing() -> ck.ChoiceData:
    _skip_without("fishing.csv")
    df = ck.datasets.load_fishing(SHARED_DATA)
    return ck.ChoiceData.from_wide(
        df, choice="mode", alternatives={a: a for a in FISH_ALTS},
        variables={v: {a: f"{v}.{a}" for a in FISH_ALTS} for v in ("price", "catch")})


@pytest.fixture(scope="module")
def travelmode() -> ck.ChoiceData:
    tm = ck.datasets.load_travelmode()
    tm = tm.assign(mode=tm["mode"].map(MODES), avinc=tm["hinc"] * (tm["mode"] == 1))
    return ck.ChoiceData.from_long(tm, case="individual", alt="mode", choice="choice")


# ---------------------------------------------------------------- Heating: LR, Wald, score
def test_heating_income_interactions_lr_wald_score(heating):
    ref = _ref("mlogit_heating_asc_hp.json")
    mc = ck.MNL.from_formula("depvar ~ ic + oc", heating, reference="hp").fit()
    mi2 = ck.MNL.from_formula("depvar ~ oc + ic | income", heating, reference="hp").fit()
    lr = mc.lr_test(mi2)
    pub = _test(ref, "LR test")
    assert lr.df == pub["df"]
    assert lr.statistic == pytest.approx(pub["statistic"], abs=_stat_tol(pub["statistic"]))
    assert lr.pvalue == pytest.approx(pub["p_value"], abs=5e-5 * 1.01)
    wald = mi2.wald_test([f"income:{a} = 0" for a in ["ec", "er", "gc", "gr"]])
    pub = _test(ref, "Wald test")
    assert wald.df == pub["df"]
    assert wald.statistic == pytest.approx(pub["statistic"], abs=_stat_tol(pub["statistic"]))
    score = mc.score_test(mi2.model)
    pub = _test(ref, "Score test")
    assert score.df == pub["df"]
    assert score.statistic == pytest.approx(pub["statistic"], abs=_stat_tol(pub["statistic"]))


def test_heating_lifecycle_cost_lr(heating):
    """lrtest(m, mlcc): lcc = ic + oc / 0.12 is a linear restriction, not an exclusion."""
    pub = _test(_ref("mlogit_heating_ic_oc_noasc.json"), "LR test")
    m = ck.MNL.from_formula("depvar ~ ic + oc | 0", heating).fit()
    mlcc = ck.MNL(heating, {a: B("lcc") * (V("ic") + V("oc") / 0.12) for a in HEAT_ALTS}).fit()
    with pytest.raises(ck.SpecificationError, match="check_names=False"):
        m.lr_test(mlcc)
    lr = m.lr_test(mlcc, check_names=False)
    assert lr.df == pub["df"]
    assert lr.statistic == pytest.approx(pub["statistic"], abs=_stat_tol(pub["statistic"]))
    # the same restriction as a Wald test: oc = ic / 0.12 (asymptotically equivalent, not equal)
    w = m.wald_test("0.12 * oc = ic")
    assert w.df == 1 and w.statistic > 100


# -------------------------------------------------- LR tests against the market-share model
def _fit(data_name: str, formula: str, reference, request) -> ck.MNLResults:
    data = request.getfixturevalue(data_name)
    return ck.MNL.from_formula(formula, data, reference=reference).fit()


@pytest.mark.parametrize("file, data_name, formula, reference", [
    ("mlogit_heating_asc_hp.json", "heating", "depvar ~ ic + oc", "hp"),
    ("mlogit_heating_income_asv.json", "heating", "depvar ~ oc + ic | income", "hp"),
    ("mlogit_fishing_conditional.json", "fishing", "mode ~ price + catch", "beach"),
    ("mlogit_fishing_income_only.json", "fishing", "mode ~ 0 | income", "beach"),
    ("mlogit_fishing_price_catch_income.json", "fishing", "mode ~ price + catch | income",
     "beach"),
    ("mlogit_fishing_price_income_catch.json", "fishing", "mode ~ price | income | catch",
     "beach"),
])
def test_lr_and_rho_squared_vs_market_shares(file, data_name, formula, reference, request):
    ref = _ref(file)
    res = _fit(data_name, formula, reference, request)
    pub = _test(ref, "mlogit summary LR test")
    lr = res.lr_test_market_share()
    assert lr.statistic == pytest.approx(pub["statistic"], abs=_stat_tol(pub["statistic"]))
    if isinstance(pub["p_value"], float) and pub["p_value"] > 1e-15:
        assert lr.pvalue == pytest.approx(pub["p_value"], rel=1e-3)
    r2 = ref["goodness_of_fit"]["mcfadden_r2_vs_constants_only"]
    assert res.rho_squared_market_share == pytest.approx(r2, abs=_stat_tol(r2))


def test_fishing_income_effects_lr_between_published_models(fishing):
    """LR of the income terms added to price + catch: the difference of the two published
    market-share LR statistics (565.17 - 533.88), to their combined rounding."""
    a = _test(_ref("mlogit_fishing_conditional.json"), "mlogit summary LR test")["statistic"]
    b = _test(_ref("mlogit_fishing_price_catch_income.json"),
              "mlogit summary LR test")["statistic"]
    r = ck.MNL.from_formula("mode ~ price + catch", fishing, reference="beach").fit()
    u = ck.MNL.from_formula("mode ~ price + catch | income", fishing, reference="beach").fit()
    lr = r.lr_test(u)
    assert lr.df == 3
    assert lr.statistic == pytest.approx(b - a, abs=_stat_tol(a) + _stat_tol(b))


def test_greene_travelmode_market_share_lr(travelmode):
    """Always runs (statsmodels data): Greene Table 21.11 model, mlogit's summary."""
    ref = _ref("greene_travelmode_table21_11.json")
    B_, V_ = ck.Beta, ck.Var
    common = B_("GC") * V_("gc") + B_("TTME") * V_("ttme")
    res = ck.MNL(travelmode, {"air": B_("ASC_AIR") + common + B_("HINC_AIR") * V_("hinc"),
                              "train": B_("ASC_TRAIN") + common, "bus": B_("ASC_BUS") + common,
                              "car": common}).fit()
    pub = _test(ref, "mlogit summary")
    assert res.lr_test_market_share().statistic == pytest.approx(
        pub["statistic"], abs=_stat_tol(pub["statistic"]))
    r2 = ref["goodness_of_fit"]["mcfadden_r2_vs_constants_only"]
    assert res.rho_squared_market_share == pytest.approx(r2, abs=_stat_tol(r2))


def test_market_share_loglike_with_varying_availability():
    """Car is unavailable for some persons: the constants-only model must be estimated; it
    equals an ASC-only MNL fitted through the public API."""
    data = sim_data(ck.datasets.load_simulated_modechoice())
    assert not data.avail_array.all()
    res = ck.MNL(data, {"train": B("A") + B("T") * V("TRAIN_TT"), "bus": B("T") * V("BUS_TT"),
                        "car": B("C") + B("T") * V("CAR_TT")}).fit()
    asc = ck.MNL(data, {"train": B("A"), "bus": 0, "car": B("C")}).fit()
    # two maximisations of the same likelihood, each converged to gtol=1e-8
    assert res.llnull_market_share == pytest.approx(asc.llf, abs=1e-8)
    # with every alternative available the closed form applies: shares' log-likelihood
    full = data.take(data.avail_array.all(axis=1))
    r2 = ck.MNL(full, {"train": B("A") + B("T") * V("TRAIN_TT"), "bus": B("T") * V("BUS_TT"),
                       "car": B("C") + B("T") * V("CAR_TT")}).fit()
    counts = np.bincount(full.chosen_array, minlength=3)
    assert r2.llnull_market_share == pytest.approx(
        (counts * np.log(counts / counts.sum())).sum(), rel=1e-13)


# ------------------------------------------------------------------------------- Wald tests
def test_wald_single_restriction_is_squared_z(travelmode):
    res = ck.MNL.from_formula("choice ~ gc + ttme | hinc", travelmode, reference="car").fit()
    for cov in ("classical", "robust"):
        r = res.with_cov(cov)
        w = r.wald_test("gc = 0")
        assert w.statistic == pytest.approx(r.tvalues["gc"] ** 2, rel=1e-12)
        assert w.pvalue == pytest.approx(r.pvalues["gc"], rel=1e-9)
    w = res.wald_test("gc = ttme")
    C = res.cov_params()
    d = res.params["gc"] - res.params["ttme"]
    var = C.loc["gc", "gc"] + C.loc["ttme", "ttme"] - 2 * C.loc["gc", "ttme"]
    assert w.statistic == pytest.approx(d**2 / var, rel=1e-12)
    both = res.wald_test("gc = ttme, ASC:air = 0")
    assert both.df == 2
    with pytest.raises(ck.SpecificationError, match="linearly dependent"):
        res.wald_test(["gc = 0", "2*gc = 0"])
    with pytest.raises(ck.SpecificationError, match="Did you mean 'gc'"):
        res.wald_test("gcc = 0")


# ------------------------------------------------------------------------ Hausman-McFadden
def test_hmftest_reproduces_mlogit_example(travelmode):
    """mlogit's hmftest example (Greene p. 731): x uses air as reference, g (car, bus, train)
    uses car; the four coefficients with equal names are compared and mlogit prints
    chisq = -10.77, df = 4, p-value = 1 (a non-positive-definite difference, which we flag)."""
    pub = _ref("mlogit_travelmode_hmftest.json")["tests"][0]
    x = ck.MNL.from_formula("choice ~ ttme + gc + avinc", travelmode, reference="air").fit()
    sub = travelmode.restrict_alternatives(["car", "bus", "train"])
    assert sub.alternatives == ["bus", "car", "train"]  # air is gone: no ASC:air to estimate
    g = ck.MNL.from_formula("choice ~ ttme + gc", sub, reference="car").fit()
    assert g.param_names == ["ASC:bus", "ASC:train", "ttme", "gc"]
    with pytest.warns(ck.ChoiceKitWarning, match="not positive"):
        t = x.hausman_mcfadden(g)
    assert t.df == pub["df"]
    assert t.statistic == pytest.approx(pub["statistic"], abs=0.005 * 1.01)
    assert t.pvalue == pytest.approx(1.0)


def test_hmftest_subset_refit_matches_manual(travelmode):
    """The alternatives form drops air choosers and air, refits, and forms
    d'(Vs - Vf)^{-1} d; rebuild the subset from the pandas frame independently."""
    full = ck.MNL.from_formula("choice ~ ttme + gc + avinc", travelmode, reference="car").fit()
    t = full.hausman_mcfadden(["car", "bus", "train"])
    tm = ck.datasets.load_travelmode().assign(mode=lambda d: d["mode"].map(MODES))
    air_choosers = tm.loc[(tm["mode"] == "air") & (tm["choice"] == 1), "individual"]
    sub = tm[~tm["individual"].isin(air_choosers) & (tm["mode"] != "air")]
    sdata = ck.ChoiceData.from_long(sub, case="individual", alt="mode", choice="choice")
    s = ck.MNL.from_formula("choice ~ ttme + gc", sdata, reference="car").fit()
    names = ["ASC:bus", "ASC:train", "ttme", "gc"]
    d = s.params[names] - full.params[names]
    Vd = s.cov_params().loc[names, names] - full.cov_params().loc[names, names]
    manual = float(d @ np.linalg.solve(Vd, d))
    assert t.df == 4
    assert sorted(t.details["compared"]) == sorted(names)
    # two fits of the same subset model (different starts), each converged to gtol
    assert t.statistic == pytest.approx(manual, rel=1e-6)


# ------------------------------------------------------------------------ fit measures
def test_confusion_table_identities(heating):
    """With a full set of constants the MLE reproduces the observed counts: predicted column
    sums equal observed row sums (first-order conditions of the constants)."""
    res = ck.MNL.from_formula("depvar ~ ic + oc", heating, reference="hp").fit()
    t = res.confusion_table()
    obs = pd.Series(heating.chosen).value_counts().reindex(HEAT_ALTS)
    np.testing.assert_allclose(t.loc[HEAT_ALTS, "total"], obs, rtol=1e-12)
    # the first-order conditions hold to the fit's gradient tolerance, not exactly
    np.testing.assert_allclose(t.loc["total", HEAT_ALTS], obs, rtol=1e-6)
    a = res.confusion_table(kind="argmax")
    assert a.loc["total", "total"] == heating.n_cases
    P = res.predict_proba()
    hits = (P.idxmax(axis=1) == heating.chosen).mean()
    assert res.hit_rate()["hit_rate"] == pytest.approx(hits, rel=1e-14)
    assert np.trace(a.loc[HEAT_ALTS, HEAT_ALTS].to_numpy()) == pytest.approx(
        hits * heating.n_cases)
    exp_hit = np.mean([P.loc[c, heating.chosen[c]] for c in heating.cases])
    assert res.hit_rate()["expected_hit_rate"] == pytest.approx(exp_hit, rel=1e-12)


def test_holdout_loglike(travelmode):
    rng = np.random.default_rng(3)
    train = rng.random(travelmode.n_cases) < 0.7
    fit_data, hold = travelmode.take(train), travelmode.take(~train)
    res = ck.MNL.from_formula("choice ~ gc + ttme | hinc", fit_data, reference="car").fit()
    # in sample, the holdout log-likelihood is the fit's
    assert res.holdout(fit_data)["loglike"] == pytest.approx(res.llf, rel=1e-12)
    h = res.holdout(hold)
    other = ck.MNL.from_formula("choice ~ gc + ttme | hinc", hold, reference="car")
    assert h["loglike"] == pytest.approx(other.loglike(res.params), rel=1e-12)
    assert h["n_cases"] == hold.n_cases
    assert h["rho_squared"] == pytest.approx(1 - h["loglike"] / (hold.n_cases * np.log(0.25)))
    other_alts = ck.ChoiceData.from_wide(pd.DataFrame({"c": [1, 2]}), choice="c",
                                         alternatives={1: "x", 2: "y"})
    with pytest.raises(ck.ChoiceDataError, match="alternatives"):
        res.holdout(other_alts)


def test_hmftest_refuses_dropping_the_reference(travelmode):
    full = ck.MNL.from_formula("choice ~ ttme + gc", travelmode, reference="air").fit()
    with pytest.raises(ck.SpecificationError, match="not identified"):
        full.hausman_mcfadden(["car", "bus", "train"])


def test_restriction_parser():
    from choicekit.inference.restrictions import parse_restrictions

    names = ["b_time", "b_cost", "(Intercept):air", "ASC:train"]
    R, q, texts = parse_restrictions(
        ["b_time = b_cost", "2*b_time - b_cost*0.5 = 1e-3 + ASC:train", "(Intercept):air",
         "`b_cost` = -0.5"], names)
    np.testing.assert_array_equal(R, [[1, -1, 0, 0], [2, -0.5, 0, -1], [0, 0, 1, 0],
                                      [0, 1, 0, 0]])
    np.testing.assert_array_equal(q, [0, 1e-3, 0, -0.5])
    assert len(texts) == 4
    assert parse_restrictions("b_time = 0, b_cost = 0", names)[0].shape == (2, 4)
    for bad, msg in [("b_tim = 0", "Did you mean 'b_time'"), ("b_time == 0", "at most one"),
                     ("b_time b_cost", "Expected '\\+' or '-'"), ("1 = 1", "no parameter"),
                     ("b_time * b_cost", "followed by a number"), ("", "No restriction")]:
        with pytest.raises(ck.SpecificationError, match=msg):
            parse_restrictions(bad, names)


def test_market_share_lr_needs_nesting(heating):
    m = ck.MNL.from_formula("depvar ~ ic + oc | 0", heating).fit()
    with pytest.raises(ck.SpecificationError, match="does not nest"):
        m.lr_test_market_share()
    # the log-likelihood of the market-share model is still available
    counts = pd.Series(heating.chosen).value_counts()
    assert m.llnull_market_share == pytest.approx(
        float((counts * np.log(counts / counts.sum())).sum()), rel=1e-13)
