"""The mixed logit beyond the conformance suite: the reduction to the MNL, draws keyed by unit
id, formulas, lognormal and WTP-space patterns, results extras, checks and messages."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from family_models import ALTS, mixed_model, panel_data, utilities  # noqa: E402

import choicekit as ck  # noqa: E402

B, V, D = ck.Beta, ck.Var, ck.Draw


@pytest.fixture(scope="module")
def pdata():
    return panel_data()


def _zero_spread_utilities():
    b1 = B("B1") + B("S1", 0.0, fixed=True) * D("d1")
    u = {alt: B(f"ASC_{alt}") + b1 * V("x1") + B("B2") * V("x2") for alt in ALTS[:-1]}
    u["e"] = b1 * V("x1") + B("B2") * V("x2") + B("B_INC") * V("inc")
    return u


def test_every_spread_zero_is_the_mnl(pdata):
    mnl = ck.MNL(pdata, utilities())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        mxl = ck.MixedLogit(pdata, _zero_spread_utilities(), n_draws=37, panel=False)
        mxp = ck.MixedLogit(pdata, _zero_spread_utilities(), n_draws=37, panel=True)
    theta = np.random.default_rng(5).normal(scale=0.5, size=mnl.design.n_params)
    p = dict(zip(mnl.param_names, theta))
    full = {**p, "S1": 0.0}
    for m in (mxl, mxp):
        assert m.loglike(full) == pytest.approx(mnl.loglike(p), rel=1e-10)
        np.testing.assert_allclose(m.score(full)[mnl.param_names], mnl.score(p), rtol=1e-10,
                                   atol=1e-10)
        np.testing.assert_allclose(m.predict_proba(full), mnl.predict_proba(p), rtol=1e-10,
                                   atol=1e-13)
    # a panel of one-case units is the cross-section
    assert mxp.loglike(full) == pytest.approx(mxl.loglike(full), rel=1e-12)


def test_lognormal_with_zero_spread_is_the_mnl_in_its_log(pdata):
    u = {alt: B(f"ASC_{alt}") + B("B1") * V("x1")
         - ck.exp(B("M2") + B("S2", 0.0, fixed=True) * D("d2")) * V("x2") for alt in ALTS[:-1]}
    u["e"] = B("B1") * V("x1") - ck.exp(B("M2") + B("S2", 0.0, fixed=True) * D("d2")) * V(
        "x2") + B("B_INC") * V("inc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        mx = ck.MixedLogit(pdata, u, n_draws=20)
    mnl = ck.MNL(pdata, utilities())
    theta = dict(zip(mnl.param_names, np.random.default_rng(2).normal(scale=0.3, size=7)))
    theta["B2"] = -0.7
    full = {k: v for k, v in theta.items() if k != "B2"} | {"M2": np.log(0.7), "S2": 0.0}
    assert mx.loglike(full) == pytest.approx(mnl.loglike(theta), rel=1e-10)


def test_draws_are_keyed_by_unit_id_not_row_order(pdata):
    m = mixed_model(n_draws=50)
    theta = m.mnl_start()
    # the same persons in reverse order, and half of them alone
    rev = pdata.take(np.arange(pdata.n_cases)[::-1])
    m_rev = m.rebuild(rev)
    lu = pd.Series(m.family().unit_loglike(m.params_vector(theta)), index=m.unit_ids)
    lr = pd.Series(m_rev.family().unit_loglike(m_rev.params_vector(theta)), index=m_rev.unit_ids)
    pd.testing.assert_series_equal(lu, lr.loc[lu.index], rtol=1e-12)
    half = m.rebuild(pdata.take(np.arange(150)))
    lh = pd.Series(half.family().unit_loglike(half.params_vector(theta)), index=half.unit_ids)
    pd.testing.assert_series_equal(lh, lu.loc[lh.index], rtol=1e-12)


@pytest.mark.parametrize("kind", ["halton", "sobol", "mlhs", "random"])
def test_draw_types_give_standard_variates(kind):
    from choicekit.families.mixed.draws import make_draws

    z = make_draws(pd.Index(range(400)), 256, ["a", "b", "c"],
                   ["normal", "uniform_sym", "triangular"], kind, 3)
    assert z.shape == (3, 400, 256)
    assert abs(z[0].mean()) < 0.02 and z[0].std() == pytest.approx(1, abs=0.02)
    assert z[1].min() > -1 and z[1].max() < 1 and z[1].std() == pytest.approx(3 ** -0.5, abs=0.01)
    assert z[2].std() == pytest.approx(6 ** -0.5, abs=0.01)


def test_user_draws_reproduce_exactly(pdata):
    m = mixed_model(n_draws=40)
    fam = m.family()
    given = {name: pd.DataFrame(fam.draws[i], index=m.unit_ids)
             for i, name in enumerate(m.structure.draw_names)}
    m2 = ck.MixedLogit(pdata, m.specification.utilities, draws=given, rng=99)
    theta = m.mnl_start()
    assert m2.loglike(theta) == m.loglike(theta)
    arrays = {k: v.to_numpy() for k, v in given.items()}
    m3 = ck.MixedLogit(pdata, m.specification.utilities, draws=arrays)
    assert m3.loglike(theta) == m.loglike(theta)
    with pytest.raises(ck.SpecificationError, match="gives no values"):
        ck.MixedLogit(pdata, m.specification.utilities, draws={"d1": arrays["d1"]})


def test_wtp_space_pattern_reproduces_preference_space(pdata):
    """WTP space (Train & Weeks 2005) with a lognormal scale and a lognormal WTP:
    V = lambda * (w * x1 - x2), lambda = exp(L + SL z_s), w = exp(M + S z_w), so the
    coefficient of x1 is exp(L + M + SL z_s + S z_w), one lognormal slot; it is the
    preference-space model with correlated lognormals b1 = exp(C + T1 z_s + T2 z_w),
    b2 = -exp(A + T1' z_s) at C = L + M, T1 = SL, T2 = S, A = L, T1' = SL."""
    def wtp_u(a):
        lam = ck.exp(B("L") + B("SL") * D("s"))
        lam_w = ck.exp(B("L") + B("SL") * D("s") + B("M") + B("S") * D("w"))
        return (B(f"ASC_{a}") if a != "e" else 0) + lam_w * V("x1") - lam * V("x2")

    def pref_u(a):
        b1 = ck.exp(B("C") + B("T1") * D("s") + B("T2") * D("w"))
        b2 = ck.exp(B("A") + B("U1") * D("s"))
        return (B(f"ASC_{a}") if a != "e" else 0) + b1 * V("x1") - b2 * V("x2")

    wtp = ck.MixedLogit(pdata, {a: wtp_u(a) for a in ALTS}, n_draws=100)
    pref = ck.MixedLogit(pdata, {a: pref_u(a) for a in ALTS}, n_draws=100)
    asc = {f"ASC_{a}": 0.1 * i for i, a in enumerate(ALTS[:-1])}
    w = {**asc, "L": -0.3, "SL": 0.4, "M": 0.2, "S": 0.5}
    p = {**asc, "C": -0.1, "T1": 0.4, "T2": 0.5, "A": -0.3, "U1": 0.4}
    assert wtp.loglike(w) == pytest.approx(pref.loglike(p), rel=1e-12)


def test_formula_labels_and_correlated(pdata):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit.from_formula("chosen ~ x1 + x2 | inc", pdata,
                                       random={"x1": "n", "x2": "ln"}, n_draws=30)
        c = ck.MixedLogit.from_formula("chosen ~ x1 + x2", pdata,
                                       random={"x1": "n", "x2": "n"}, correlated=True,
                                       n_draws=30)
    assert "sd:x1" in m.param_names and "sd:x2" in m.param_names
    assert m.param_names.index("sd:x1") > m.param_names.index("x2")
    assert {"chol:x1:x1", "chol:x2:x1", "chol:x2:x2"} <= set(c.param_names)
    with pytest.raises(ck.SpecificationError, match="mlogit's letters"):
        ck.MixedLogit.from_formula("chosen ~ x1", pdata, random={"x1": "normal"})


def test_mnl_refuses_draws(pdata):
    u = {a: B(f"ASC_{a}") + (B("B1") + B("S1") * D("d")) * V("x1") for a in ALTS}
    with pytest.raises(ck.SpecificationError, match="MixedLogit"):
        ck.MNL(pdata, u)
    with pytest.raises(ck.SpecificationError, match="distribution"):
        D("x", "gauss")
    with pytest.raises(ck.SpecificationError, match="two draws"):
        ck.MixedLogit(pdata, {a: B("S") * D("a") * D("b") * V("x1") for a in ALTS})


def test_panel_needs_groups_and_checks(pdata):
    df = pdata
    nogroup = ck.ChoiceData.from_long(
        __import__("family_models").synthetic_long(), case="case", alt="alt",
        choice="chosen")
    with pytest.raises(ck.SpecificationError, match="group"):
        ck.MixedLogit(nogroup, {a: (B("B1") + B("S1") * D("d")) * V("x1") for a in ALTS})
    with pytest.warns(ck.MixedLogitWarning, match="draws per unit"):
        ck.MixedLogit(df, {a: (B("B1") + B("S1") * D("d")) * V("x1") for a in ALTS},
                      n_draws=10)
    rep = mixed_model(n_draws=20).unit_report()
    assert rep["units"] == 100 and rep["cases"] == 300


def test_fit_results_extras(pdata):
    m = mixed_model(n_draws=60)
    res = m.fit()
    assert res.converged
    assert res.nobs == 100  # persons, not cases
    assert res.family_name == "MXL"
    text = str(res.summary())
    assert "Mixed logit" in text and "60 per unit" in text
    rp = res.random_parameters()
    assert set(rp["distribution"]) == {"normal", "lognormal"}
    assert rp.loc["B1", "spread"] == pytest.approx(abs(res.params["S1"]))
    ln = rp[rp.distribution == "lognormal"].iloc[0]
    assert ln["median"] == pytest.approx(np.exp(res.params["M2"]))
    cp = res.conditional_params()
    assert cp.shape[0] == 100 and "B1" in cp.columns
    # conditional means average to about the population mean (Train 2009, sec. 11.5)
    assert cp["B1"].mean() == pytest.approx(res.params["B1"], abs=0.15)
    rob = res.with_cov("robust")
    clu = res.with_cov("cluster")  # the persons: the robust meat with G/(G-1)
    np.testing.assert_allclose(clu.bse ** 2, rob.bse ** 2 * 100 / 99, rtol=1e-8)
    noise = m.simulation_noise(res.params, n_sets=3)
    assert noise["sd"] > 0
    bh = m.fit(method="bhhh")
    assert bh.llf == pytest.approx(res.llf, abs=1e-3)


def test_simulate_draws_coefficients_per_unit(pdata):
    m = mixed_model(n_draws=30)
    theta = m.mnl_start()
    sim = m.simulate(theta, rng=3)
    assert isinstance(sim, ck.ChoiceData) and sim.n_cases == pdata.n_cases
    assert not sim.chosen.equals(pdata.chosen)


def test_derivative_post_estimation_without_draws_is_the_mnls():
    """Point and aggregate elasticities, marginal effects and WTP of a mixed logit go through
    the per-draw derivative path (MixedFamily.dproba_design, wtp_distribution); with no draws
    they are the MNL's at the same estimates."""
    import choicekit as ck

    sim = ck.make_choice_data(300, 3, choices_per_person=3, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit(sim.data, {a: u for a, u in sim.utilities.items()}, n_draws=20,
                          panel=True, rng=0)
    res = m.fit()
    mnl = ck.MNL(sim.data, dict(sim.utilities)).fit()
    np.testing.assert_allclose(res.params[mnl.params.index], mnl.params, rtol=1e-6)
    for f in (lambda r: r.elasticities("cost").estimate,
              lambda r: r.elasticities("time", kind="point"),
              lambda r: r.marginal_effects("cost").estimate):
        np.testing.assert_allclose(f(res).to_numpy(), f(mnl).to_numpy(), rtol=1e-5,
                                   atol=1e-8)
    w = res.wtp("time", "cost")
    w_mnl = mnl.wtp("time", "cost")
    assert w.loc["time", "median"] == pytest.approx(w_mnl.loc["time", "wtp"], rel=1e-6)
    # the MNL's columns first, the same numbers (the mean of a constant ratio is the ratio)
    assert list(w.columns[:4]) == list(w_mnl.columns) == ["wtp", "se", "lower", "upper"]
    assert w.loc["time", "statistic"] == "mean"
    np.testing.assert_allclose(w[w_mnl.columns].to_numpy(float), w_mnl.to_numpy(float),
                               rtol=1e-5)
    arc = res.elasticities("cost", kind="arc")
    assert np.isfinite(arc.estimate.to_numpy()).all()


def test_default_fit_hands_over_to_newton_and_agrees_with_bfgs(pdata):
    """The default fit (BFGS to a scaled gradient of 1e-2, then Newton on the analytic Hessian)
    reaches the maximum that BFGS alone (plus its fixed-Hessian polish), the plain reference,
    reaches, with the same covariance."""
    m = mixed_model(n_draws=60)
    auto = m.fit()
    plain = m.fit(method="bfgs")
    assert auto.converged and plain.converged
    assert auto.method == "bfgs then newton" and plain.method == "bfgs+newton"  # + polish
    assert auto.llf == pytest.approx(plain.llf, abs=1e-8)
    np.testing.assert_allclose(auto.params, plain.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(auto.bse, plain.bse, rtol=1e-4)


def test_default_fit_falls_back_to_bfgs_when_newton_fails(pdata, monkeypatch):
    """A Newton phase that does not converge (here: forced) is dropped, and BFGS goes on from
    the hand-over point to the tolerance: the same maximum, reported as BFGS's."""
    from choicekit.estimation import optimizers

    real = optimizers.maximize_loglike

    def newton_fails(obj, start, *, method="newton", **kw):
        if method == "newton":
            return optimizers.replace(real(obj, start, method=method, maxiter=0, **{
                k: v for k, v in kw.items() if k != "maxiter"}), converged=False)
        return real(obj, start, method=method, **kw)

    m = mixed_model(n_draws=60)
    reference = m.fit(method="bfgs")
    monkeypatch.setattr(optimizers, "maximize_loglike", newton_fails)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.ConvergenceWarning)
        res = m.fit()
    assert res.converged and res.method == "bfgs+newton"  # BFGS and its fixed-Hessian polish
    assert res.llf == pytest.approx(reference.llf, abs=1e-8)
