"""Scenarios: no change gives no change; published mlogit scenarios (ModeCanada faster train
with its consumer surplus, Heating heat-pump rebate) are reproduced; the consumer surplus is
the Small-Rosen logsum rule; the user's data are never changed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _postest_helpers import heating_data, modecanada_car_train_air, sim_data
from conftest import REFERENCE, SHARED_DATA, mc_scale

import choicekit as ck

B, V = ck.Beta, ck.Var


def _ref(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ck.datasets.load_simulated_modechoice()


@pytest.fixture(scope="module")
def sim_res(frame) -> ck.MNLResults:
    data = sim_data(
        frame, variables={"cost": {"train": "TRAIN_COST", "bus": "BUS_COST", "car": "CAR_COST"},
                   "time": {"train": "TRAIN_TT", "bus": "BUS_TT", "car": "CAR_TT"}})
    return ck.MNL(data, {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("time") / 100 + B("B_COST") * V("cost") / 100,
        "bus": B("ASC_BUS") + B("B_TIME") * V("time") / 100 + B("B_COST") * V("cost") / 100,
        "car": B("B_TIME") * V("time") / 100 + B("B_COST") * V("cost") / 100,
    }).fit()


@pytest.fixture(scope="module")
def modecanada() -> ck.MNLResults:
    if not (SHARED_DATA / "modecanada.csv").is_file():
        pytest.skip(f"modecanada.csv not found in {SHARED_DATA}")
    return modecanada_car_train_air(ck.datasets.load_modecanada(SHARED_DATA))[1]


@pytest.mark.parametrize("changes, kw", [
    ({"cost": 1.0}, {}),
    ({"cost": 0.0}, {"how": "add"}),
    ({"time": lambda x: x}, {"alternatives": "train"}),
    ({"TRAIN_COST": 1.0}, {"cases": "GA"}),
])
def test_no_change_gives_zero(sim_res, changes, kw):
    sc = sim_res.scenario(changes, cost="B_COST", cost_scale=0.01, **kw)
    assert np.array_equal(sc.shares["change"].to_numpy(), np.zeros(3))
    np.testing.assert_array_equal(sc.shares["before"], sc.shares["after"])
    assert np.array_equal(sc.surplus["estimate"].to_numpy(), [0.0, 0.0])
    assert (sc.surplus_per_case == 0).all()
    # the delta-method SE of an identically-zero function is zero
    assert np.allclose(sc.shares["se"], 0.0, atol=1e-12)


def test_fare_rise_effects_and_small_rosen(sim_res):
    sc = sim_res.scenario({"cost": 1.10}, alternatives=["train"], cost="B_COST",
                          cost_scale=0.01)
    ch = sc.shares["change"]
    assert ch["train"] < 0 and ch["bus"] > 0 and ch["car"] > 0
    assert abs(ch.sum()) < 1e-14
    # before = sample-enumeration shares of predict_proba on the original data
    np.testing.assert_allclose(sc.shares["before"], sim_res.predict_proba().mean(), rtol=1e-13)
    np.testing.assert_allclose(sc.shares["after"],
                               sim_res.predict_proba(sc.data).mean(), rtol=1e-13)
    # Small & Rosen: -(logsum1 - logsum0) / (b_cost / 100), logsum from the model utilities
    model, p = sim_res.model, sim_res.params
    V0 = model.utilities(p).to_numpy()
    V1 = model.utilities(p, sc.data).to_numpy()
    ls0 = np.log(np.nansum(np.exp(V0), axis=1))
    ls1 = np.log(np.nansum(np.exp(V1), axis=1))
    cs = (ls1 - ls0) / -(p["B_COST"] / 100)
    np.testing.assert_allclose(sc.surplus_per_case.to_numpy(), cs, rtol=1e-10, atol=1e-13)
    assert sc.surplus.loc["total", "estimate"] == pytest.approx(cs.sum(), rel=1e-12)
    assert sc.surplus.loc["mean", "estimate"] < 0
    # only train's cost changed
    np.testing.assert_array_equal(sc.data.variable("cost")[:, 1:],
                                  sim_res.model.data.variable("cost")[:, 1:])


def test_small_change_surplus_equals_share_weighted_cost_change(sim_res):
    """Roy's identity: for a small change dc of alternative j's cost, dCS = -P_j dc per case."""
    dc = 1e-4
    sc = sim_res.scenario({"cost": dc}, how="add", alternatives="bus", cost="B_COST",
                          cost_scale=0.01)
    P = sim_res.predict_proba()["bus"].to_numpy()
    # the second-order term is (1 - P) |B_COST| cost_scale dc / 2 ~ 5e-7 relative here
    np.testing.assert_allclose(sc.surplus_per_case.to_numpy(), -P * dc, rtol=1e-4)


def test_segment_and_user_frame_untouched(frame, sim_res):
    before = frame.copy(deep=True)
    sc = sim_res.scenario({"cost": 2.0}, alternatives="car", cases=frame["GA"].to_numpy() == 1,
                          cost="B_COST", cost_scale=0.01)
    pd.testing.assert_frame_equal(frame, before)
    ga = frame["GA"].to_numpy() == 1
    assert (sc.surplus_per_case[~ga] == 0).all()
    has_car = sim_res.model.data.avail_array[:, 2] & (frame["CAR_COST"].to_numpy() > 0)
    assert (sc.surplus_per_case[ga & has_car] < 0).all()


def test_function_of_data_and_errors(sim_res):
    data = sim_res.model.data
    time_before = data.variable("time").copy()
    sc = sim_res.scenario(lambda d: d.with_variables({"time": d.variable("time") * 0.9}))
    assert sc.shares["change"].abs().max() > 0
    assert sc.surplus is None
    with pytest.raises(ck.SpecificationError, match="how"):
        sim_res.scenario({"cost": 1.1}, how="scale")
    with pytest.raises(ck.SpecificationError, match="Unknown alternatives"):
        sim_res.scenario({"cost": 1.1}, alternatives="tram")
    with pytest.raises(ck.SpecificationError, match="case-level"):
        sim_res.scenario({"GA": 1.0}, alternatives="train")
    with pytest.raises(ck.SpecificationError, match="cost_tt"):
        sim_res.scenario({"cost_tt": 1.1})
    with pytest.raises(ck.SpecificationError, match="B_COS"):
        sim_res.scenario({"cost": 1.1}, cost="B_COS")
    # the scenarios changed copies: the model's data are the same object with the same values
    assert sim_res.model.data is data
    np.testing.assert_array_equal(data.variable("time"), time_before)


def test_modecanada_faster_train_published(modecanada):
    """mlogit c3 vignette: train time -20%: mean probabilities and the surplus distribution
    (-(logsum(new) - logsum(old)) / b_cost), 7 and 5 significant digits."""
    ref = _ref("mlogit_modecanada_car_train_air.json")["derived"]
    sc = modecanada.scenario({"time": 0.8}, alternatives="train", cost="cost")
    pub = ref["train_time_minus_20pct_mean_probabilities"]
    for alt, value in pub.items():
        # half a unit of the 7th significant digit plus README's rtol 1e-5 for convergence
        assert sc.shares.loc[alt, "after"] == pytest.approx(value, rel=1e-5, abs=5e-8)
    s = sc.surplus_per_case
    summ = ref["surplus_summary_CAD"]
    got = {"min": s.min(), "q1": s.quantile(0.25), "median": s.median(), "mean": s.mean(),
           "q3": s.quantile(0.75), "max": s.max()}
    for key, value in summ.items():
        assert got[key] == pytest.approx(value, abs=5e-5 * 1.01, rel=1e-5), key


def test_heating_heat_pump_rebate_published(shared_data):
    """mlogit exercise 1.7: 10% rebate on heat-pump installation cost."""
    ref = _ref("mlogit_heating_asc_hp.json")["derived"]["hp_rebate_10pct_mean_probabilities"]
    data = heating_data(ck.datasets.load_heating())
    res = ck.MNL.from_formula("depvar ~ ic + oc", data, reference="hp").fit()
    sc = res.scenario({"ic": 0.9}, alternatives="hp")
    for alt, value in ref.items():
        assert sc.shares.loc[alt, "after"] == pytest.approx(value, rel=1e-5, abs=5e-8)


@pytest.mark.montecarlo
def test_surplus_delta_se_agrees_with_simulation(sim_res):
    """Delta vs Krinsky-Robb SE of the mean surplus change: 4 sampling SEs of an SD
    (1/sqrt(2R)) plus 5% for the nonlinearity in 1/b_cost."""
    R = int(2000 * mc_scale())
    kw = {"alternatives": "train", "cost": "B_COST", "cost_scale": 0.01}
    d = sim_res.scenario({"time": 0.8}, **kw)
    s = sim_res.scenario({"time": 0.8}, se="simulation", n_draws=R, rng=11, **kw)
    tol = 4 / np.sqrt(2 * R) + 0.05
    np.testing.assert_allclose(s.shares["se"], d.shares["se"], rtol=tol)
    # the surplus of a time saving divides by b_cost: heavy-tailed, so compare the
    # central 50% of the draws (IQR / 1.349) rather than their SD
    draws = s.result.draws[:, -2]
    q1, q3 = np.quantile(draws, [0.25, 0.75])
    assert (q3 - q1) / 1.349 == pytest.approx(d.surplus.loc["mean", "se"],
                                              rel=4 * 1.17 / np.sqrt(R) + 0.05)


def test_segments_add_up(sim_res, frame):
    """Per-segment results recombine into the overall ones (weights = segment sizes)."""
    kw = {"alternatives": "train", "cost": "B_COST", "cost_scale": 0.01}
    overall = sim_res.scenario({"cost": 1.2}, **kw)
    seg = sim_res.scenario({"cost": 1.2}, by="GA", **kw)
    n = frame["GA"].value_counts().sort_index()
    for col in ("before", "after", "change"):
        recombined = sum(seg.shares.loc[g, col] * n[g] for g in (0, 1)) / n.sum()
        np.testing.assert_allclose(recombined, overall.shares[col], rtol=1e-12, atol=1e-15)
    tot = seg.surplus.xs("total", level="consumer_surplus")["estimate"]
    assert tot.sum() == pytest.approx(overall.surplus.loc["total", "estimate"], rel=1e-12)
    ga = frame["GA"].to_numpy() == 1
    assert seg.surplus.loc[(1, "mean"), "estimate"] == pytest.approx(
        overall.surplus_per_case[ga].mean(), rel=1e-12)
    # GA holders pay no train fare: a fare rise costs them nothing
    assert seg.surplus.loc[(1, "mean"), "estimate"] == 0
