"""Post-estimation of random-coefficient models: derivatives of the simulated probabilities
per draw (point and aggregate elasticities, marginal effects) against finite differences of the
simulated probabilities at the same draws (draws are keyed by unit id, so a perturbed copy of
the data has the same draws)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from family_models import mixed_model  # noqa: E402

import choicekit as ck  # noqa: E402
from choicekit.postestimation.elasticities import (  # noqa: E402
    perturbed_data,
    resolve_perturbations,
)
from choicekit.postestimation.shares import PostContext  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = mixed_model(n_draws=30)
        res = m.fit()
    return m, res


def _fd_proba(m, res, p, h):
    up = m.predict_proba(res.params, data=perturbed_data(m.data, p, 1 + h)).to_numpy()
    dn = m.predict_proba(res.params, data=perturbed_data(m.data, p, 1 - h)).to_numpy()
    return (up - dn) / (2 * h)  # d P / d log x


@pytest.mark.parametrize("variable", ["x1", "x2"])  # normal and lognormal coefficients
def test_point_elasticities_match_finite_differences(fitted, variable):
    m, res = fitted
    P = m.predict_proba(res.params).to_numpy()
    el = res.elasticities(variable, kind="point")
    perts = resolve_perturbations(variable, PostContext.from_results(res))
    ok = P > 1e-8
    for p in perts[:3]:
        fd = _fd_proba(m, res, p, 1e-5)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.where(ok, fd / P, np.nan)
        got = el[p.label].to_numpy()
        np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-5, atol=1e-7)


def test_marginal_effects_of_a_case_variable(fitted):
    m, res = fitted
    me = res.marginal_effects("inc", kind="point").to_numpy()
    ctx = PostContext.from_results(res)
    (p,) = resolve_perturbations("inc", ctx)  # a case-level column: one perturbation
    x = np.asarray(m.data.variable("inc"), dtype=float)
    x = np.nanmax(x, axis=1) if x.ndim == 2 else x  # one value per case
    h = 1e-5
    # an absolute change: inc + h, via the relative change of a constant-free column
    up = m.predict_proba(res.params, data=perturbed_data(m.data, p, 1 + h)).to_numpy()
    dn = m.predict_proba(res.params, data=perturbed_data(m.data, p, 1 - h)).to_numpy()
    fd = (up - dn) / (2 * h) / x[ctx.data_rows][:, None]  # d P / d inc
    np.testing.assert_allclose(me, fd, rtol=1e-5, atol=1e-9)


def test_aggregate_elasticities_are_share_weighted_points(fitted):
    m, res = fitted
    agg = res.elasticities("x1")
    assert np.isfinite(agg.estimate.to_numpy()).all()
    assert np.isfinite(agg.se.to_numpy()).all() and (agg.se.to_numpy() > 0).any()
    P = m.predict_proba(res.params)
    pt = res.elasticities("x1", kind="point").fillna(0.0)
    w = m.data.weight if m.data.weight is not None else None
    w = np.ones(len(P)) if w is None else np.asarray(w)
    col = pt.columns[0][0]
    direct = (w @ (pt[col].to_numpy() * P.to_numpy())) / (w @ P.to_numpy())
    np.testing.assert_allclose(agg.estimate.loc[col].to_numpy(), direct, rtol=1e-10)
    assert isinstance(agg.estimate, pd.DataFrame)




def test_wtp_distribution_with_a_fixed_cost(fitted):
    m, res = fitted
    # B1 (normal) over B_INC (fixed): mean B1 / B_INC, sd |S1 / B_INC| up to draw noise
    w = res.wtp("B1", "B_INC", scale=2.0)
    p = res.params
    co = m.coefficient_draws(p)
    direct = 2.0 * co["B1"] / p["B_INC"]
    assert w.loc["B1", "mean"] == pytest.approx(direct.mean(), rel=1e-12)
    assert w.loc["B1", "median"] == pytest.approx(np.median(direct), rel=1e-12)
    assert w.loc["B1", "mean"] == pytest.approx(2 * p["B1"] / p["B_INC"], rel=0.02)
    assert w.loc["B1", "sd"] == pytest.approx(abs(2 * p["S1"] / p["B_INC"]), rel=0.05)
    assert w.loc["B1", "q_lo"] < w.loc["B1", "median"] < w.loc["B1", "q_hi"]
    assert np.isfinite(w.loc["B1", ["mean_se", "median_se"]].astype(float)).all()
    # the mean's delta-method SE at a fixed cost is that of 2 * B1 / B_INC
    g = np.zeros(len(p))
    names = list(p.index)
    g[names.index("B1")] = 2 / p["B_INC"]
    g[names.index("B_INC")] = -2 * p["B1"] / p["B_INC"] ** 2
    se_ratio = np.sqrt(g @ res.cov_params().to_numpy() @ g)
    assert w.loc["B1", "mean_se"] == pytest.approx(se_ratio, rel=0.05)
    # the MNL's columns: the mean with its SE and a normal interval
    assert w.loc["B1", "wtp"] == w.loc["B1", "mean"] and w.loc["B1", "se"] == w.loc["B1",
                                                                                     "mean_se"]
    z = 1.959963984540054
    assert w.loc["B1", "lower"] == pytest.approx(w.loc["B1", "wtp"] - z * w.loc["B1", "se"])
    assert w.loc["B1", "upper"] == pytest.approx(w.loc["B1", "wtp"] + z * w.loc["B1", "se"])


def test_wtp_with_a_cost_of_both_signs_has_no_mean(fitted):
    m, res = fitted
    p = res.params.copy()
    p["S1"] = 3 * abs(p["B1"])  # B1 is normal: now it crosses 0 over the draws
    with pytest.warns(ck.MixedLogitWarning, match="no mean"):
        w = m.wtp_distribution(p, res.cov_params(), "B_INC", "B1")
    assert np.isnan(w.loc["B_INC", "mean"]) and np.isfinite(w.loc["B_INC", "median"])
    # no mean: the table's estimate is the median, with its SE
    assert w.loc["B_INC", "statistic"] == "median"
    assert w.loc["B_INC", "wtp"] == w.loc["B_INC", "median"]
    assert w.loc["B_INC", "se"] == w.loc["B_INC", "median_se"]
    assert np.isnan(w.loc["B_INC", "sd"])
    with pytest.raises(ck.SpecificationError, match="not a coefficient"):
        res.wtp("nope", "B_INC")


def test_consumer_surplus_uses_the_cost_coefficient_per_draw():
    """Adding delta to the cost of every alternative moves every draw's logsum by c_r delta,
    so the surplus change is -delta in every case exactly when the cost coefficient is divided
    out per draw (dividing the mean logsum change by the mean coefficient would not be)."""
    sim = ck.make_choice_data(200, 3, choices_per_person=3, rng=2)
    cost = ck.exp(ck.Beta("M_cost", -1.0) + ck.Beta("S_cost", 0.8) * ck.Draw("c"))
    V = ck.Var
    u = {a: (ck.Beta(f"ASC_{a}") if a != 1 else 0.0) + ck.Beta("time") * V("time")
         - cost * V("cost") for a in sim.utilities}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit(sim.data, u, n_draws=50, rng=0)
        res = m.fit()
    name = [c for c in m.coefficient_draws(res.params) if c not in ("time",)
            and not c.startswith("ASC")][0]
    sc = res.scenario({"cost": 0.5}, how="add", cost=name, cost_scale=-1.0)
    np.testing.assert_allclose(sc.surplus_per_case.to_numpy(), -0.5, rtol=1e-10)
    assert sc.surplus.loc["mean", "estimate"] == pytest.approx(-0.5, rel=1e-10)
    # against a direct per-draw computation for a proportional change
    sc2 = res.scenario({"time": 1.1}, cost=name, cost_scale=-1.0)
    f0 = m.family()
    f1 = m.family(m._design_for(sc2.data))
    theta = m.params_vector(res.params)
    lam = m.coefficient_draws(res.params)[name][f0.case_unit]
    L0 = np.concatenate([f0.draw_logsums(theta, b) for b in f0._proba_blocks(slice(None))])
    L1 = np.concatenate([f1.draw_logsums(theta, b) for b in f1._proba_blocks(slice(None))])
    np.testing.assert_allclose(sc2.surplus_per_case.to_numpy(), ((L1 - L0) / lam).mean(axis=1),
                               rtol=1e-10)
