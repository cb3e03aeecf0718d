"""Predicted shares by sample enumeration (weights, segments), the observed-vs-predicted table,
and mlogit's published mean fitted probabilities.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _postest_helpers import SIM_UTILS, heating_data, modecanada_car_train_air, sim_data
from conftest import REFERENCE

import choicekit as ck

B, V = ck.Beta, ck.Var


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = ck.datasets.load_simulated_modechoice()
    return df.assign(w=np.where(df["GA"] == 1, 3.0, 1.0))


@pytest.fixture(scope="module")
def res(frame) -> ck.MNLResults:
    return ck.MNL(sim_data(frame), SIM_UTILS).fit()


def test_shares_are_mean_probabilities(res, frame):
    s = res.predicted_shares()
    np.testing.assert_allclose(s["share"], res.predict_proba().mean(), rtol=1e-13)
    assert s["share"].sum() == pytest.approx(1.0, abs=1e-14)
    assert (s["lower"] < s["share"]).all() and (s["share"] < s["upper"]).all()
    # on other data: predict on the first 100 cases
    sub = sim_data(frame.iloc[:100])
    np.testing.assert_allclose(res.predicted_shares(sub, se="none")["share"],
                               res.predict_proba(sub).mean(), rtol=1e-13)


def test_weights_respected(frame):
    wres = ck.MNL(sim_data(frame, weight="w"), SIM_UTILS).fit()
    P = wres.predict_proba()
    expected = np.average(P.to_numpy(), axis=0, weights=frame["w"].to_numpy())
    np.testing.assert_allclose(wres.predicted_shares(se="none")["share"], expected, rtol=1e-13)
    t = wres.share_table()
    obs = pd.Series(frame["w"].to_numpy(), index=wres.model.data.chosen.to_numpy()) \
        .groupby(level=0).sum()
    np.testing.assert_allclose(t["observed_count"], obs.reindex(["train", "bus", "car"]),
                               rtol=1e-13)


def test_segments(res, frame):
    s = res.predicted_shares(by="GA", se="none")
    assert s[["se", "lower", "upper"]].isna().all().all()
    P = res.predict_proba()
    ga = frame["GA"].to_numpy()
    for g in (0, 1):
        np.testing.assert_allclose(s.loc[g, "share"].to_numpy(), P[ga == g].mean().to_numpy(),
                                   rtol=1e-13)
    # a Series by case id and an array give the same table
    t1 = res.share_table(by=pd.Series(ga, index=res.model.data.cases, name="GA"))
    t2 = res.share_table(by=ga)
    np.testing.assert_allclose(t1.to_numpy(), t2.to_numpy())
    with pytest.raises(ck.SpecificationError, match="GAA|GA"):
        res.predicted_shares(by="GAA")
    with pytest.raises(ck.ChoiceDataError, match="one value per case"):
        res.predicted_shares(by=ga[:10])


def test_share_table_with_constants_matches_observed(res):
    """The first-order condition of each constant, sum_n (y_nj - P_nj) = 0, makes predicted
    counts equal observed ones for train and bus, hence also for car (both sum to N)."""
    t = res.share_table()
    np.testing.assert_allclose(t["predicted_count"], t["observed_count"], rtol=1e-8)
    assert (t["observed"] - t["predicted"] + t["difference"]).abs().max() < 1e-15


def test_delta_se_of_shares_against_closed_form(res):
    """dS/dbeta = mean_n P_nj (x_nj - xbar_n): the delta SE from the analytic Jacobian."""
    d = res.model.design
    P = res.predict_proba().to_numpy()
    X = d.X
    xbar = np.einsum("nj,njk->nk", P, X)
    G = np.einsum("nj,njk->jk", P, X - xbar[:, None, :]) / d.n_cases
    se = np.sqrt(np.diag(G @ res.cov_params().to_numpy() @ G.T))
    # the library differentiates numerically: central differences, ~1e-10 relative error
    np.testing.assert_allclose(res.predicted_shares()["se"], se, rtol=1e-6)


@pytest.mark.parametrize("file, formula, reference", [
    ("mlogit_heating_ic_oc_noasc.json", "depvar ~ ic + oc | 0", None),
    ("mlogit_heating_asc_hp.json", "depvar ~ ic + oc", "hp"),
])
def test_heating_mean_fitted_probabilities(shared_data, file, formula, reference):
    ref = json.loads((REFERENCE / file).read_text())["derived"]["mean_fitted_probabilities"]
    data = heating_data(ck.datasets.load_heating())
    r = ck.MNL.from_formula(formula, data, reference=reference).fit()
    s = r.predicted_shares(se="none")["share"]
    for alt, value in ref.items():
        # 8 decimals printed, README rtol 1e-5 for convergence slack
        assert s[alt] == pytest.approx(value, rel=1e-5, abs=5e-9)


def test_modecanada_prediction_at_sample_means(shared_data):
    """predict(ml.MC1) in the mlogit c3 vignette: probabilities at the per-alternative sample
    means, i.e. a prediction on new data with one case. Tolerance: mlogit stops at
    g'(-H)^{-1}g = crit, so any linearised function of its estimates is within sqrt(crit)
    standard errors of ours; plus half a unit of the 7th digit."""
    ref = json.loads((REFERENCE / "mlogit_modecanada_car_train_air.json").read_text())
    df, res = modecanada_car_train_air(ck.datasets.load_modecanada())
    z = df.groupby("alt")[["cost", "freq", "time"]].mean().reset_index()
    zd = ck.ChoiceData.from_long(z.assign(income=df["income"].mean(), case=1), case="case",
                                 alt="alt")
    s = res.predicted_shares(zd)
    np.testing.assert_allclose(s["share"], res.predict_proba(zd).iloc[0], rtol=1e-14)
    crit = ref["convergence_criterion_printed"]["value"]
    for alt, value in ref["derived"]["predict_at_sample_means"].items():
        tol = np.sqrt(crit) * s.loc[alt, "se"] + 5e-8
        assert abs(s.loc[alt, "share"] - value) <= tol
    for alt, value in ref["derived"]["mean_fitted_probabilities"].items():
        assert res.predicted_shares(se="none").loc[alt, "share"] == pytest.approx(
            value, abs=5e-8 * 1.01)


def test_chunked_probabilities_and_logsums_equal_whole_design():
    """design_proba / design_logsum run in chunks of cases on large designs; the chunks must
    line up: compared with one softmax / log-sum-exp over the whole textbook design."""
    from choicekit.estimation.objective import chunk_slices
    from choicekit.families.logit import log_softmax, logsum
    from choicekit.postestimation.shares import design_logsum, design_proba

    rng = np.random.default_rng(5)
    n = 100_000
    df = pd.DataFrame({"choice": rng.integers(1, 4, n), "inc": rng.uniform(1, 3, n),
                       **{f"x_{j}": rng.normal(size=n) for j in "abc"}})
    data = ck.ChoiceData.from_wide(df, choice="choice", alternatives={1: "a", 2: "b", 3: "c"},
                                   variables={"x": {a: f"x_{a}" for a in "abc"}})
    B, V = ck.Beta, ck.Var
    d = ck.MNL(data, {"a": B("bx") * V("x"), "b": B("asc_b") + B("bx") * V("x")
                      + B("inc_b") * V("inc"), "c": B("bx") * V("x")}).design
    assert len(chunk_slices(d.n_cases, d.n_alts * len(d.stored))) > 1  # really chunked
    beta = np.array([0.7, -0.3, 0.2])
    V_all = d.X @ beta
    # the design sums the utilities in another order (per-alternative BLAS products) than
    # X @ beta: equal to rounding, a few 1e-16 absolute on values of order 1
    np.testing.assert_allclose(design_proba(d, beta), np.exp(log_softmax(V_all)), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(design_logsum(d, beta), logsum(V_all), rtol=1e-12, atol=1e-14)
