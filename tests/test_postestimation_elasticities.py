"""Elasticities and marginal effects: analytic values against finite differences of
``predict_proba`` on perturbed data, aggregation, the IIA signature, delta-method standard errors
against a parametric simulation, and mlogit's published ``effects()`` at sample means.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _postest_helpers import modecanada_car_train_air, sim_data
from conftest import REFERENCE, mc_scale

import choicekit as ck

B, V = ck.Beta, ck.Var
MODES = {1: "air", 2: "train", 3: "bus", 4: "car"}


# --------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tm_res() -> ck.MNLResults:
    """Greene's TravelMode model (long data, generic gc and ttme)."""
    tm = ck.datasets.load_travelmode()
    tm = tm.assign(mode=tm["mode"].map(MODES))
    data = ck.ChoiceData.from_long(tm, case="individual", alt="mode", choice="choice")
    return ck.MNL.from_formula("choice ~ gc + ttme | hinc", data, reference="car").fit()


@pytest.fixture(scope="module")
def sim_res() -> ck.MNLResults:
    """Wide simulated data; transformed and nonlinear uses of the variables: TRAIN_TT / 100,
    log(cost + 1), a case-level INCOME entering two utilities through a product."""
    data = sim_data(ck.datasets.load_simulated_modechoice())
    t, c = B("B_TIME"), B("B_LOGCOST")
    return ck.MNL(data, {
        "train": B("ASC_TRAIN") + t * V("TRAIN_TT") / 100 + c * ck.log(V("TRAIN_COST") + 1)
        + B("B_INC_TRAIN") * V("INCOME") / 10,
        "bus": B("ASC_BUS") + t * V("BUS_TT") / 100 + c * ck.log(V("BUS_COST") + 1),
        "car": t * V("CAR_TT") / 100 + c * ck.log(V("CAR_COST") + 1)
        + B("B_INC_CAR") * (V("INCOME") / 10) ** 2 / 10,
    }).fit()


def _fd(res, data, name, alt, h, relative):
    """Central finite difference of predict_proba when the column moves by t (relative: t*x)."""
    x = np.asarray(data.variable(name), dtype=float)

    def moved(t):
        new = x.copy()
        step = t * (x if relative else 1.0)
        if x.ndim == 2:
            new[:, alt] = (x + step)[:, alt]
        else:
            new = x + step
        return res.predict_proba(data.with_variables({name: new})).to_numpy()

    return (moved(h) - moved(-h)) / (2 * h)


# ------------------------------------------------------------------ finite differences
# Central differences with h = 1e-5 have truncation error ~h^2 * P''' ~ 1e-10 and rounding
# error ~1e-16 / h ~ 1e-11, so 1e-7 absolute leaves a wide margin while any slip in a
# derivative formula (a missing factor, a wrong alternative) is O(1e-2) or more.
FD_ATOL = 1e-7


@pytest.mark.parametrize("variable", ["gc", "ttme"])
def test_point_elasticities_long_equal_finite_differences(tm_res, variable):
    data = tm_res.model.data
    P = tm_res.predict_proba().to_numpy()
    E = tm_res.elasticities(variable, kind="point")
    for j, alt in enumerate(data.alternatives):
        fd = _fd(tm_res, data, variable, j, 1e-5, relative=True) / P
        np.testing.assert_allclose(E[alt].to_numpy(), fd, atol=FD_ATOL, rtol=0)


@pytest.mark.parametrize("variable", ["TRAIN_TT", "TRAIN_COST", "INCOME", "CAR_COST"])
def test_point_elasticities_transformed_wide_equal_finite_differences(sim_res, variable):
    data = sim_res.model.data
    P = sim_res.predict_proba().to_numpy()
    E = sim_res.elasticities(variable, kind="point")[variable].to_numpy()
    fd = _fd(sim_res, data, variable, None, 1e-5, relative=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fd = np.where(data.avail_array, fd / P, np.nan)
    np.testing.assert_allclose(E, fd, atol=FD_ATOL, rtol=0)


@pytest.mark.parametrize("variable", ["TRAIN_TT", "INCOME"])
def test_point_marginal_effects_equal_finite_differences(sim_res, variable):
    data = sim_res.model.data
    M = sim_res.marginal_effects(variable, kind="point")[variable].to_numpy()
    fd = _fd(sim_res, data, variable, None, 1e-4, relative=False)
    np.testing.assert_allclose(M, fd, atol=FD_ATOL, rtol=0)


def test_marginal_effects_long_equal_finite_differences(tm_res):
    data = tm_res.model.data
    M = tm_res.marginal_effects("gc", kind="point")
    for j, alt in enumerate(data.alternatives):
        fd = _fd(tm_res, data, "gc", j, 1e-4, relative=False)
        np.testing.assert_allclose(M[alt].to_numpy(), fd, atol=FD_ATOL, rtol=0)


def test_linear_term_has_textbook_closed_form(tm_res):
    """Train (2009, 3.6): direct beta*x*(1-P), cross -beta*x_l*P_l."""
    data = tm_res.model.data
    P = tm_res.predict_proba().to_numpy()
    x = data.variable("gc")
    b = tm_res.params["gc"]
    E = tm_res.elasticities("gc", kind="point")
    for j, alt in enumerate(data.alternatives):
        block = E[alt].to_numpy()
        np.testing.assert_allclose(block[:, j], b * x[:, j] * (1 - P[:, j]), rtol=1e-12)
        others = [k for k in range(len(data.alternatives)) if k != j]
        for k in others:
            np.testing.assert_allclose(block[:, k], -b * x[:, j] * P[:, j], rtol=1e-12)


def test_cross_elasticities_uniform_iia(tm_res):
    """The IIA signature: a change in alternative l moves every other share by the same %."""
    E = tm_res.elasticities("ttme", kind="point")
    alts = tm_res.model.data.alternatives
    for alt in alts:
        block = E[alt].drop(columns=alt).to_numpy()
        np.testing.assert_allclose(block, block[:, :1].repeat(block.shape[1], axis=1),
                                   rtol=1e-12, atol=0)
    agg = tm_res.elasticities("ttme").estimate
    # aggregate cross-elasticities are NOT uniform (heterogeneous cases): a sanity check
    # that the test above is not vacuous (car's ttme is 0, so its row is all zero)
    assert max(agg.loc[alt].drop(alt).std() for alt in alts) > 1e-3


def test_aggregate_is_probability_weighted_mean_of_point(tm_res):
    P = tm_res.predict_proba()
    E = tm_res.elasticities("gc", kind="point")
    agg = tm_res.elasticities("gc", se="none").estimate
    for alt in agg.index:
        expected = (E[alt] * P).sum() / P.sum()
        np.testing.assert_allclose(agg.loc[alt].to_numpy(), expected[agg.columns].to_numpy(),
                                   rtol=1e-12)


def test_average_marginal_effect_is_mean_of_point(sim_res):
    M = sim_res.marginal_effects("INCOME", kind="point")["INCOME"]
    ame = sim_res.marginal_effects("INCOME", se="none").estimate.loc["INCOME"]
    np.testing.assert_allclose(ame.to_numpy(), M.mean().to_numpy(), rtol=1e-12)
    # shares sum to one, so effects on them sum to zero
    assert abs(ame.sum()) < 1e-15


def test_arc_elasticity_tends_to_aggregate_point(tm_res):
    """Mid-point arc elasticity of the shares -> the aggregate elasticity as change -> 0
    (difference O(change))."""
    agg = tm_res.elasticities("gc", se="none").estimate
    arc = tm_res.elasticities("gc", kind="arc", change=1e-4, se="none").estimate
    np.testing.assert_allclose(arc.to_numpy(), agg.to_numpy(), atol=1e-3 * np.abs(agg).max().max())
    big = tm_res.elasticities("gc", kind="arc", change=0.5, se="none").estimate
    assert not np.allclose(big.to_numpy(), agg.to_numpy(), atol=1e-3)


def test_mapping_rows_and_errors(sim_res):
    t = sim_res.elasticities({"train": "TRAIN_TT", "bus": "BUS_TT", "car": "CAR_TT"},
                             se="none")
    assert list(t.estimate.index) == ["train", "bus", "car"]
    assert list(t.estimate.columns) == ["train", "bus", "car"]
    # a time increase of a mode lowers its own share
    assert (np.diag(t.estimate.to_numpy()) < 0).all()
    # se="none": no standard errors nor intervals, in the table and in the tidy frame
    assert t.se.isna().all().all()
    assert t.frame()[["se", "lower", "upper"]].isna().all().all()
    with pytest.raises(ck.SpecificationError, match="TRAIN_TT"):
        sim_res.elasticities("TRAIN_T")
    with pytest.raises(ck.SpecificationError, match="No utility uses"):
        sim_res.elasticities("GA")
    with pytest.raises(ck.SpecificationError, match="kind"):
        sim_res.elasticities("TRAIN_TT", kind="pointwise")


# ------------------------------------------------------------ delta method vs simulation
@pytest.mark.montecarlo
def test_delta_se_agrees_with_parametric_simulation(tm_res):
    """Delta-method SEs of aggregate elasticities and average marginal effects against the
    SD of the same quantities recomputed (by finite differences of predict_proba, an
    independent path) at draws from N(beta_hat, V). With R draws the SD has relative sampling
    error 1/sqrt(2R); the tolerance is 4 of those plus 5% for the second-order terms the
    linearisation ignores (the quantities are nonlinear in beta)."""
    R = int(1000 * mc_scale())
    rng = np.random.default_rng(20261122)
    model, data = tm_res.model, tm_res.model.data
    table = tm_res.elasticities("gc")
    me = tm_res.marginal_effects("gc")
    cov = tm_res.cov_params().to_numpy()
    draws = rng.multivariate_normal(tm_res.params.to_numpy(), cov, size=R)
    x = data.variable("gc")
    h = 1e-5
    up = data.with_variables({"gc": np.where(np.arange(4) == 0, x * (1 + h), x)})
    dn = data.with_variables({"gc": np.where(np.arange(4) == 0, x * (1 - h), x)})
    up_abs = data.with_variables({"gc": np.where(np.arange(4) == 0, x + 1e-3, x)})
    dn_abs = data.with_variables({"gc": np.where(np.arange(4) == 0, x - 1e-3, x)})
    el, mes = [], []
    for b in draws:
        P = model.predict_proba(b).to_numpy()
        dP = (model.predict_proba(b, up).to_numpy() - model.predict_proba(b, dn).to_numpy())
        el.append(dP.sum(axis=0) / (2 * h) / P.sum(axis=0))
        dPa = (model.predict_proba(b, up_abs).to_numpy()
               - model.predict_proba(b, dn_abs).to_numpy())
        mes.append(dPa.mean(axis=0) / 2e-3)
    tol = 4 / np.sqrt(2 * R) + 0.05
    alt0 = data.alternatives[0]
    np.testing.assert_allclose(np.std(el, axis=0, ddof=1), table.se.loc[alt0].to_numpy(),
                               rtol=tol)
    np.testing.assert_allclose(np.std(mes, axis=0, ddof=1), me.se.loc[alt0].to_numpy(),
                               rtol=tol)


@pytest.mark.montecarlo
def test_simulation_se_option_matches_delta(tm_res):
    """se='simulation' (Krinsky-Robb) against the delta method: same tolerance rule."""
    R = int(4000 * mc_scale())
    d = tm_res.elasticities("ttme")
    s = tm_res.elasticities("ttme", se="simulation", n_draws=R, rng=1)
    np.testing.assert_allclose(s.se.to_numpy(), d.se.to_numpy(), rtol=4 / np.sqrt(2 * R) + 0.05)
    np.testing.assert_allclose(s.estimate.to_numpy(), d.estimate.to_numpy(), rtol=1e-12)
    f = s.frame(0.1)
    assert {"estimate", "se", "lower", "upper"} <= set(f.columns)
    assert (f["lower"] <= f["estimate"]).all() and (f["estimate"] <= f["upper"]).all()


def test_se_follow_covariance_type(tm_res):
    a = tm_res.elasticities("gc").se
    b = tm_res.with_cov("robust").elasticities("gc").se
    assert not np.allclose(a.to_numpy(), b.to_numpy())


# -------------------------------------------------------------------- published values
def _mlogit_tolerance(ref: dict, se: np.ndarray, published: np.ndarray) -> np.ndarray:
    """mlogit stops with g'(-H)^{-1} g = crit > 0: by Cauchy-Schwarz any (linearised) function
    of its estimates lies within sqrt(crit) standard errors of ours; plus printed rounding."""
    crit = ref["convergence_criterion_printed"]["value"]
    digits = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(published))) - 6) * 1.01
    return np.sqrt(crit) * se + digits


def test_modecanada_cost_elasticities_at_means(shared_data):
    ref = json.loads((REFERENCE / "mlogit_modecanada_car_train_air.json").read_text())
    df, res = modecanada_car_train_air(ck.datasets.load_modecanada())
    # mlogit's "at the means": per-alternative sample means of the covariates, one case
    z = df.groupby("alt")[["cost", "freq", "time"]].mean().reset_index()
    z = z.assign(income=df["income"].mean(), case=1)
    zd = ck.ChoiceData.from_long(z, case="case", alt="alt")
    e = res.elasticities("cost", data=zd)  # aggregate over one case = point, with SEs
    pub = ref["derived"]["elasticities_cost_rr_at_means"]
    got = e.estimate.loc[pub["rows_cost_of"], pub["cols_probability_of"]].to_numpy()
    se = e.se.loc[pub["rows_cost_of"], pub["cols_probability_of"]].to_numpy()
    published = np.array(pub["values"])
    assert np.all(np.abs(got - published) <= _mlogit_tolerance(ref, se, published))


def test_fishing_effects_at_means(shared_data):
    ref = json.loads((REFERENCE / "mlogit_fishing_price_income_catch.json").read_text())
    df = ck.datasets.load_fishing()
    alts = ["beach", "boat", "charter", "pier"]
    data = ck.ChoiceData.from_wide(
        df, choice="mode", alternatives={a: a for a in alts},
        variables={v: {a: f"{v}.{a}" for a in alts} for v in ("price", "catch")})
    res = ck.MNL.from_formula("mode ~ price | income | catch", data, reference="beach").fit()
    z = pd.DataFrame({"alt": alts, "case": 1, "income": df["income"].mean(),
                      "price": [df[f"price.{a}"].mean() for a in alts],
                      "catch": [df[f"catch.{a}"].mean() for a in alts]})
    zd = ck.ChoiceData.from_long(z, case="case", alt="alt")
    der = ref["derived"]
    # income: type "aa", dP/dincome
    me = res.marginal_effects("income", data=zd)
    pub = np.array([der["effects_income_at_means"][a] for a in alts])
    got = me.estimate.loc["income", alts].to_numpy()
    se = me.se.loc["income", alts].to_numpy()
    assert np.all(np.abs(got - pub) <= _mlogit_tolerance(ref, se, pub))
    # catch: type "ar", dP/dx * x = the marginal effect of a proportional change; in our terms
    # the aggregate elasticity times the share over one case
    pc = der["effects_catch_ar_at_means"]
    mar = res.marginal_effects("catch", data=zd)
    x = zd.variable("catch")[0]
    rows, cols = pc["rows_catch_of"], pc["cols_probability_of"]
    got = mar.estimate.loc[rows, cols].to_numpy() * x[[alts.index(r) for r in rows]][:, None]
    se = mar.se.loc[rows, cols].to_numpy() * x[[alts.index(r) for r in rows]][:, None]
    published = np.array(pc["values"])
    assert np.all(np.abs(got - published) <= _mlogit_tolerance(ref, se, published))


@pytest.mark.filterwarnings("ignore:missing='drop' dropped:choicekit.DataWarning")
def test_offsets_fixed_parameters_weights_and_dropped_cases():
    """A parameter-free term (offset), a fixed parameter, case weights and cases dropped for
    missing values: point elasticities still equal finite differences, and aggregates are
    the weighted probability-weighted means."""
    df = ck.datasets.load_simulated_modechoice()
    df = df.assign(w=1.0 + (df["person"] % 3), TRAIN_TT=df["TRAIN_TT"].astype(float))
    df.loc[[5, 17], "TRAIN_TT"] = np.nan
    data = sim_data(df, weight="w")
    res = ck.MNL(data, {
        "train": B("ASC_TRAIN") + 0.4 * V("TRAIN_TT") / 100
        + B("B_TT_FIX", -1.5, fixed=True) * V("TRAIN_TT") / 100
        + B("B_COST") * V("TRAIN_COST") / 100,
        "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
        "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100,
    }, missing="drop").fit()
    assert len(res.model.dropped_cases) == 2
    P = res.predict_proba()
    E = res.elasticities("TRAIN_TT", kind="point")["TRAIN_TT"]
    assert E.index.equals(P.index)
    fd = _fd(res, data, "TRAIN_TT", None, 1e-5, relative=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fd = np.where(res.model.design.avail, fd / P.to_numpy(), np.nan)
    np.testing.assert_allclose(E.to_numpy(), fd, atol=FD_ATOL, rtol=0)
    # direct elasticity of a train-only variable: (0.4 - 1.5) / 100 * x * (1 - P)
    x = df["TRAIN_TT"].drop(index=[5, 17]).to_numpy()
    np.testing.assert_allclose(E["train"], -1.1 / 100 * x * (1 - P["train"]), rtol=1e-12)
    w = res.model.design.weight
    agg = res.elasticities("TRAIN_TT").estimate.loc["TRAIN_TT"]
    expected = (E * P).mul(w, axis=0).sum() / P.mul(w, axis=0).sum()
    np.testing.assert_allclose(agg.to_numpy(), expected[agg.index].to_numpy(), rtol=1e-12)
    # no estimated parameter multiplies TRAIN_TT... except through the fixed one: its SE
    # comes from the probabilities only, and is positive
    assert (res.elasticities("TRAIN_TT").se > 0).all().all()
