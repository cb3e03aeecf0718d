"""Core model behaviour: layouts, invariances, fixed parameters, bounds, results, summary."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.estimation.optimizers import newton_raphson

B, V = ck.Beta, ck.Var
ALTS = {1: "train", 2: "bus", 3: "car"}
AV = {"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"}


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    return ck.datasets.load_simulated_modechoice()


def wide_utilities(asc_train=None, asc_bus=None, asc_car=None):
    """Generic time and cost (per 100), constants for train and bus; pass a Beta to replace a
    constant (e.g. a fixed or bounded one) or to add one for car."""
    ascs = {"train": asc_train or B("ASC_TRAIN"), "bus": asc_bus or B("ASC_BUS"), "car": asc_car}
    u = {a: B("B_TIME") * V(f"{a.upper()}_TT") / 100 + B("B_COST") * V(f"{a.upper()}_COST") / 100
         for a in ALTS.values()}
    return {a: u[a] if ascs[a] is None else ascs[a] + u[a] for a in ALTS.values()}


def to_long(wide: pd.DataFrame) -> pd.DataFrame:
    """The same data in long form; unavailable alternatives get no row (unbalanced sets)."""
    parts = []
    for code, alt in ALTS.items():
        p = alt.upper()
        parts.append(pd.DataFrame({
            "case": wide["case"], "alt": alt, "chosen": (wide["CHOICE"] == code).astype(int),
            "tt": wide[f"{p}_TT"] / 100, "cost": wide[f"{p}_COST"] / 100,
            "av": wide[f"{p}_AV"], "person": wide["person"],
        }))
    long = pd.concat(parts, ignore_index=True)
    return long[long["av"] == 1].drop(columns="av")


def long_utilities():
    return {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("tt") + B("B_COST") * V("cost"),
        "bus": B("ASC_BUS") + B("B_TIME") * V("tt") + B("B_COST") * V("cost"),
        "car": B("B_TIME") * V("tt") + B("B_COST") * V("cost"),
    }


@pytest.fixture(scope="module")
def wide_data(wide):
    return ck.ChoiceData.from_wide(wide, choice="CHOICE", alternatives=ALTS, availability=AV,
                                   group="person", case="case")


@pytest.fixture(scope="module")
def wide_fit(wide_data):
    return ck.MNL(wide_data, wide_utilities()).fit()


def test_long_and_wide_give_identical_estimates(wide, wide_fit):
    long = to_long(wide)
    data = ck.ChoiceData.from_long(long, case="case", alt="alt", choice="chosen", group="person")
    assert data.n_cases == len(wide)
    assert not data.availability["car"].all()  # missing rows became unavailable
    res = ck.MNL(data, long_utilities()).fit()
    names = wide_fit.params.index
    np.testing.assert_allclose(res.params[names], wide_fit.params, rtol=1e-10)
    np.testing.assert_allclose(res.bse[names], wide_fit.bse, rtol=1e-8)
    assert res.llf == pytest.approx(wide_fit.llf, rel=1e-12)
    assert res.llnull == pytest.approx(wide_fit.llnull, rel=1e-12)
    # variables= gathers the same long variables from wide columns
    gathered = ck.ChoiceData.from_wide(
        wide.assign(**{c: wide[c] / 100 for c in wide if c.endswith(("_TT", "_COST"))}),
        choice="CHOICE", alternatives=ALTS, availability=AV, case="case",
        variables={"tt": {a: f"{a.upper()}_TT" for a in ALTS.values()},
                   "cost": {a: f"{a.upper()}_COST" for a in ALTS.values()}})
    res2 = ck.MNL(gathered, long_utilities()).fit()
    np.testing.assert_allclose(res2.params[names], wide_fit.params, rtol=1e-10)


def test_shuffling_rows_and_permuting_alternatives_change_nothing(wide, wide_fit):
    long = to_long(wide)
    shuffled = long.sample(frac=1.0, random_state=3)
    data = ck.ChoiceData.from_long(shuffled, case="case", alt="alt", choice="chosen")
    res = ck.MNL(data, long_utilities()).fit()
    np.testing.assert_allclose(res.params[wide_fit.params.index], wide_fit.params, rtol=1e-10)
    # permuted alternative order (wide mapping order defines model order)
    perm = {3: "car", 1: "train", 2: "bus"}
    pdata = ck.ChoiceData.from_wide(wide, choice="CHOICE", alternatives=perm, availability=AV,
                                    case="case")
    assert pdata.alternatives == ["car", "train", "bus"]
    pres = ck.MNL(pdata, wide_utilities()).fit()
    np.testing.assert_allclose(pres.params[wide_fit.params.index], wide_fit.params, rtol=1e-10)
    np.testing.assert_allclose(pres.predict_proba()[["train", "bus", "car"]].to_numpy(),
                               wide_fit.predict_proba().to_numpy(), rtol=1e-10)


def test_constant_added_to_every_utility_changes_no_probability(wide_data, wide_fit):
    u = {a: e + 7.5 * V("INCOME") + 3.0 for a, e in wide_utilities().items()}
    model = ck.MNL(wide_data, u)
    np.testing.assert_allclose(model.predict_proba(wide_fit.params).to_numpy(),
                               wide_fit.predict_proba().to_numpy(), rtol=1e-12)


def test_probabilities_sum_to_one_and_zero_when_unavailable(wide_data, wide_fit):
    P = wide_fit.predict_proba()
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (P.to_numpy()[~wide_data.availability.to_numpy()] == 0).all()
    assert list(P.columns) == ["train", "bus", "car"]
    assert P.index.equals(wide_data.cases)


def test_predict_on_new_data(wide, wide_fit):
    new = wide.iloc[:10].copy()
    new["TRAIN_COST"] *= 2
    data = ck.ChoiceData.from_wide(new, choice=None, alternatives=ALTS, availability=AV,
                                   case="case")
    P_new = wide_fit.predict_proba(data)
    P_old = wide_fit.predict_proba().iloc[:10]
    assert P_new.shape == (10, 3)
    assert (P_new["train"] <= P_old["train"].to_numpy() + 1e-15).all()  # B_COST < 0


def test_user_frames_are_not_mutated(wide):
    before = wide.copy(deep=True)
    data = ck.ChoiceData.from_wide(wide, choice="CHOICE", alternatives=ALTS, availability=AV,
                                   case="case")
    ck.MNL(data, wide_utilities()).fit().predict_proba()
    pd.testing.assert_frame_equal(wide, before)
    long = to_long(wide)
    lbefore = long.copy(deep=True)
    ldata = ck.ChoiceData.from_long(long, case="case", alt="alt", choice="chosen")
    ck.MNL(ldata, long_utilities()).fit()
    pd.testing.assert_frame_equal(long, lbefore)


def test_fixed_parameter_is_held_and_reported(wide_data, wide_fit):
    res = ck.MNL(wide_data, wide_utilities(asc_train=B("ASC_TRAIN", -0.4, fixed=True))).fit()
    assert res.params["ASC_TRAIN"] == -0.4
    assert np.isnan(res.bse["ASC_TRAIN"])
    assert res.df_model == 3
    assert res.fixed["ASC_TRAIN"] and not res.fixed["B_TIME"]
    assert "Fixed parameters (not estimated): ASC_TRAIN" in str(res.summary())
    # the restricted optimum: score of the free parameters is zero, and LL below the free fit
    assert np.abs(res.score).max() < 1e-4
    assert res.llf < wide_fit.llf
    # a fixed value equal to the unrestricted estimate reproduces the unrestricted fit
    u = wide_utilities(asc_train=B("ASC_TRAIN", wide_fit.params["ASC_TRAIN"], fixed=True))
    res2 = ck.MNL(wide_data, u).fit()
    np.testing.assert_allclose(res2.params, wide_fit.params[res2.params.index], rtol=1e-6)


def test_bounds_are_respected(wide_data, wide_fit):
    assert wide_fit.params["ASC_BUS"] < -0.5  # the bound binds
    model = ck.MNL(wide_data, wide_utilities(asc_bus=B("ASC_BUS", -0.5, lower=-0.5)))
    # the bounded optimum equals the fit with ASC_BUS fixed at its bound
    exact = ck.MNL(wide_data, wide_utilities(asc_bus=B("ASC_BUS", -0.5, fixed=True))).fit()
    auto = model.fit()
    assert auto.converged and auto.params["ASC_BUS"] == -0.5
    np.testing.assert_allclose(auto.params, exact.params, rtol=1e-6)  # both stop at gtol 1e-8
    # L-BFGS-B alone: on the bound, the rest to quasi-Newton precision; trust-constr is an
    # interior-point method, so it approaches the bound from inside (barrier tolerance)
    for method, tol in (("lbfgsb", 1e-4), ("trust-constr", 1e-3)):
        res = model.fit(method=method)
        assert res.params["ASC_BUS"] >= -0.5 - 1e-9
        np.testing.assert_allclose(res.params, exact.params, rtol=tol, atol=tol)
    with pytest.raises(ck.SpecificationError, match="bounds"):
        model.fit(method="newton")


@pytest.mark.parametrize("method", ["bfgs", "lbfgsb", "trust-constr"])
def test_other_optimizers_reach_the_same_optimum(wide_data, wide_fit, method):
    res = ck.MNL(wide_data, wide_utilities()).fit(method=method, gtol=1e-9, maxiter=1000)
    np.testing.assert_allclose(res.params, wide_fit.params, rtol=1e-5)


def test_start_values_and_model_immutable(wide_data, wide_fit):
    model = ck.MNL(wide_data, wide_utilities())
    start = model.start_params.copy()
    res = model.fit(start={"ASC_TRAIN": 1.0, "ASC_BUS": 1.0, "B_TIME": 0.5, "B_COST": 0.5})
    np.testing.assert_allclose(res.params, wide_fit.params, rtol=1e-7)
    pd.testing.assert_series_equal(model.start_params, start)


def test_nonconvergence_warns(wide_data):
    with pytest.warns(ck.ConvergenceWarning, match="did not converge"):
        res = ck.MNL(wide_data, wide_utilities()).fit(maxiter=1)
    assert not res.converged
    assert "did not converge" in str(res.summary())


def test_weights_are_frequency_weights(wide):
    """Integer weights give the same estimates as duplicating the cases."""
    w = (np.arange(len(wide)) % 3 + 1)
    wdata = ck.ChoiceData.from_wide(wide.assign(w=w), choice="CHOICE", alternatives=ALTS,
                                    availability=AV, case="case", weight="w")
    rep = wide.loc[wide.index.repeat(w)].reset_index(drop=True)
    rdata = ck.ChoiceData.from_wide(rep, choice="CHOICE", alternatives=ALTS, availability=AV)
    r1 = ck.MNL(wdata, wide_utilities()).fit()
    r2 = ck.MNL(rdata, wide_utilities()).fit()
    np.testing.assert_allclose(r1.params, r2.params, rtol=1e-8)
    np.testing.assert_allclose(r1.bse, r2.bse, rtol=1e-8)
    assert r1.llf == pytest.approx(r2.llf)
    assert r1.llnull == pytest.approx(r2.llnull)


def test_unidentified_parameters_are_named(wide_data):
    u = wide_utilities(asc_car=B("ASC_CAR"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ck.MNL(wide_data, u).fit()
    msgs = [str(w.message) for w in caught if issubclass(w.category, ck.IdentificationWarning)]
    assert msgs and all(a in msgs[0] for a in ("ASC_TRAIN", "ASC_BUS", "ASC_CAR"))
    assert res.bse[["ASC_TRAIN", "ASC_BUS", "ASC_CAR"]].isna().all()
    assert res.bse[["B_TIME", "B_COST"]].notna().all()


def test_results_api_and_summary_formats(wide_fit):
    res = wide_fit
    assert isinstance(res.params, pd.Series) and list(res.params.index) == \
        ["ASC_TRAIN", "B_TIME", "B_COST", "ASC_BUS"]
    ci = res.conf_int()
    assert ((ci["lower"] < res.params) & (res.params < ci["upper"])).all()
    assert res.cov_params().shape == (4, 4)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov_params())), res.bse)
    np.testing.assert_allclose(res.pvalues, 2 * __import__("scipy").stats.norm.sf(
        np.abs(res.params / res.bse)))
    s = res.summary()
    text = str(s)
    for needle in ("Log-likelihood", "Null log-likelihood", "Rho-squared", "AIC", "BIC",
                   "robust std err", "B_TIME", "Converged"):
        assert needle in text
    frame = s.as_frame()
    assert frame.loc["B_TIME", "estimate"] == res.params["B_TIME"]
    assert frame.loc["B_TIME", "robust std err"] == pytest.approx(
        res.with_cov("robust").bse["B_TIME"])
    assert "\\begin{tabular}" in s.as_latex() and "B\\_TIME" in s.as_latex()
    assert "<table>" in s.as_html()
    rob = res.with_cov("robust")
    assert rob.cov_type == "robust" and res.cov_type == "classical"
    np.testing.assert_array_equal(rob.params, res.params)


def test_invalid_options_name_allowed_values(wide_data):
    model = ck.MNL(wide_data, wide_utilities())
    with pytest.raises(ck.SpecificationError, match="`cov_type` must be one of"):
        model.fit(cov_type="robst")
    with pytest.raises(ck.SpecificationError, match="`method` must be one of"):
        model.fit(method="newtn")
    # integer options: bools are not counts (check_int, shared by every integer option)
    with pytest.raises(ck.SpecificationError, match="`maxiter` must be a positive integer"):
        model.fit(maxiter=True)
    with pytest.raises(ck.SpecificationError, match=r"`n_draws` must be a positive integer"):
        model.simulate(model.start_params, rng=0, n_draws=0)
    with pytest.raises(ck.SpecificationError, match="needs clusters"):
        ck.MNL(ck.ChoiceData.from_wide(
            ck.datasets.load_simulated_modechoice(), choice="CHOICE", alternatives=ALTS,
            availability=AV), wide_utilities()).fit(cov_type="cluster")


def test_projected_newton_does_not_waste_passes_on_the_bound():
    """A Newton step far past a bound (as a nest parameter's first step from lambda = 1 can
    be): after the full, clipped step fails, the next trial lies inside the box instead of
    on the bound again, and the iteration still reaches the maximum."""
    trials = []

    def evaluate(theta, order):
        x = float(theta[0])
        trials.append(x)
        ll = -100.0 * (x - 0.6) ** 2 - (50.0 if x < 0.05 else 0.0)  # a cliff by the bound
        g = np.array([-200.0 * (x - 0.6)])
        # flat (wrong) curvature at the start, as at the MNL point: the step is huge
        H = np.array([[-0.1 if x == 1.0 else -200.0]])
        return ll, g, H

    opt = newton_raphson(evaluate, np.array([1.0]), 1.0, concave=False,
                         lower=np.array([0.01]), upper=np.array([1.0]))
    assert opt.converged and opt.theta[0] == pytest.approx(0.6, abs=1e-8)
    # the full step ends on the bound (0.01); the next trial is the largest halving inside
    assert trials[1] == 0.01
    assert 0.01 < trials[2] < 1.0


def test_data_level_quantities_are_computed_once_and_stay_right(wide, wide_data):
    """ChoiceData keeps the available alternatives per case and the case-level columns as
    float64 after their first use (every model built on it reads them): read-only, equal to a
    fresh computation, and a subset's own (not its parent's)."""
    counts = wide_data.available_counts
    np.testing.assert_array_equal(counts, wide_data.avail_array.sum(axis=1))
    assert counts is wide_data.available_counts and not counts.flags.writeable
    sub = wide_data.take(np.arange(0, wide_data.n_cases, 3))
    np.testing.assert_array_equal(sub.available_counts, counts[::3])
    income = wide_data.variable("INCOME")
    assert not income.flags.writeable
    np.testing.assert_array_equal(income, wide["INCOME"].to_numpy(dtype=float))
    # two models on the same data build the same design (the second from the cached values)
    a, b = ck.MNL(wide_data, wide_utilities()), ck.MNL(wide_data, wide_utilities())
    np.testing.assert_array_equal(a.design.columns, b.design.columns)
