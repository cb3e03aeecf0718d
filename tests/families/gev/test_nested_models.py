"""Nested and cross-nested logit models: structure checks, fits, post-estimation, simulation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import mc_scale  # tests/conftest.py

import choicekit as ck

B, V = ck.Beta, ck.Var


@pytest.fixture(scope="module")
def nl_sim():
    """3,000 cases from a nested logit with the nest {1, 2} (lambda 0.5) and 3 alone."""
    nests = [ck.Nest("n12", [1, 2], B("LAM", 0.5, lower=0.05, upper=1.0))]
    return ck.make_choice_data(3000, 3, nests=nests, rng=4)


@pytest.fixture(scope="module")
def nl_fit(nl_sim):
    return nl_sim.model().fit()


# ------------------------------------------------------------------ structure checks
def _data():
    return ck.make_choice_data(200, 4, rng=0)


@pytest.mark.parametrize("nests, words", [
    (lambda: [ck.Nest("a", [1, 2], 0.5), ck.Nest("b", [2, 3], 0.5)],
     r"Alternative 2 is in two nests \('a' and 'b'\)"),
    (lambda: [ck.Nest("a", [1, 9], 0.5)], r"Nest 'a' lists 9, which is not an alternative"),
    (lambda: [ck.Nest("a", [1], B("L", 0.5))], r"holds one alternative .* not identified"),
    (lambda: [ck.Nest("a", {1: 1.0, 2: 1.0}, 0.5)], r"that is a cross-nested logit"),
    (lambda: [ck.Nest("a", [1, 2], B("cost", 0.5))], r"'cost' also appears in the utilities"),
    (lambda: [ck.Nest("a", [1, 2], B("L", 0.5)), ck.Nest("a", [3, 4], 0.5)],
     r"Nest names must be unique"),
])
def test_nested_logit_structure_errors(nests, words):
    sim = _data()
    with pytest.raises(ck.SpecificationError, match=words):
        ck.NestedLogit(sim.data, sim.utilities, nests())


@pytest.mark.parametrize("make, words", [
    (lambda: ck.Nest("a", [], 0.5), r"Nest 'a' is empty"),
    (lambda: ck.Nest("a", [1, 2]), r"give exactly one of `lam`"),
    (lambda: ck.Nest("a", [1, 2], 0.5, mu=2.0), r"give exactly one of `lam`"),
    (lambda: ck.Nest("a", [1, 2], -0.5), r"`lam` must be a Beta or a positive number"),
    (lambda: ck.Nest("a", [1, 2], B("L", 0.5, lower=-1)), r"must stay positive"),
    (lambda: ck.Nest("a", {1: 1.5}, 0.5), r"allocations lie in \[0, 1\]"),
    (lambda: ck.Nest("a", {1: B("A") + B("C")}, 0.5), r"linear in one parameter"),
])
def test_nest_specification_errors(make, words):
    with pytest.raises(ck.SpecificationError, match=words):
        make()


def test_cross_nested_structure_errors():
    sim = _data()
    a = B("A", 0.5, lower=0, upper=1)
    with pytest.raises(ck.SpecificationError, match=r"Alternative 4 is in no nest"):
        ck.CrossNestedLogit(sim.data, sim.utilities, [
            ck.Nest("x", {1: 1.0, 2: a}, 0.5), ck.Nest("y", {2: 1 - a, 3: 1.0}, 0.5)])
    with pytest.raises(ck.SpecificationError, match=r"allocations of alternative 2 must add up"):
        ck.CrossNestedLogit(sim.data, sim.utilities, [
            ck.Nest("x", {1: 1.0, 2: a, 4: 1.0}, 0.5), ck.Nest("y", {2: a, 3: 1.0}, 0.5)])
    with pytest.raises(ck.SpecificationError, match=r"Nest 'z' holds one alternative"):
        ck.CrossNestedLogit(sim.data, sim.utilities, [
            ck.Nest("x", {1: 1.0, 2: 1.0, 3: 1.0}, 0.5), ck.Nest("z", {4: 1.0}, B("LZ", 0.5))])
    with pytest.raises(ck.SpecificationError, match=r"add up to 0.7"):
        ck.CrossNestedLogit(sim.data, sim.utilities, [
            ck.Nest("x", {1: 1.0, 2: 0.3, 4: 1.0}, 0.5), ck.Nest("y", {2: 0.4, 3: 1.0}, 0.5)])


def test_nest_parameter_values_must_be_positive(nl_sim):
    m = nl_sim.model()
    with pytest.raises(ck.SpecificationError, match=r"lambda <= 0"):
        m.loglike(nl_sim.params.to_dict() | {"LAM": -0.2})


# ------------------------------------------------------------------ fits and numerics
def test_biogeme_mu_form_equals_lambda_form(nl_sim, nl_fit):
    nests = [ck.Nest("n12", [1, 2], mu=B("MU", 1.0, lower=1.0))]
    res = ck.NestedLogit(nl_sim.data, nl_sim.utilities, nests).fit()
    assert res.llf == pytest.approx(nl_fit.llf, rel=1e-10)
    assert res.params["MU"] == pytest.approx(1 / nl_fit.params["LAM"], rel=1e-6)
    # delta method: se(mu) = se(lambda) / lambda^2 (the same likelihood, reparametrised)
    assert res.bse["MU"] == pytest.approx(nl_fit.bse["LAM"] / nl_fit.params["LAM"] ** 2,
                                          rel=1e-5)


def test_lambda_near_zero_is_numerically_stable(nl_sim):
    nests = [ck.Nest("n12", [1, 2], 0.005)]
    m = ck.NestedLogit(nl_sim.data, nl_sim.utilities, nests)
    ll = m.loglike(nl_sim.params.drop("LAM") * 50)  # large utilities and a tiny lambda
    assert np.isfinite(ll)
    assert np.isfinite(m.score(nl_sim.params.drop("LAM") * 50)).all()


def test_lambda_above_one_warns(nl_sim):
    nests = [ck.Nest("n12", [1, 2], 1.5)]  # fixed at 1.5: not consistent with RUM
    with pytest.warns(ck.NestWarning, match=r"outside \(0, 1\] for nests \[\('n12', 1.5\)\]"):
        ck.NestedLogit(nl_sim.data, nl_sim.utilities, nests).fit()


def test_lambda_at_its_bound_is_marked():
    """Errors of 1 and 2 negatively correlated: the unconstrained lambda exceeds 1, so with
    upper=1 the estimate sits at the bound, and every table says so."""
    rng = np.random.default_rng(12)
    n = 4000
    z = rng.gumbel(size=n)
    sim = ck.make_choice_data(n, 3, rng=5)
    d = sim.model().design
    U = d.utilities(sim.model().params_vector(sim.params)) + rng.gumbel(size=(n, 3))
    U[:, 0] += 1.5 * z
    U[:, 1] -= 1.5 * z
    data = sim.data.with_chosen(U.argmax(axis=1))
    nests = [ck.Nest("n12", [1, 2], B("LAM", 0.9, lower=0.05, upper=1.0))]
    res = ck.NestedLogit(data, sim.utilities, nests).fit()
    assert res.converged and res.params["LAM"] == 1.0 and res.at_bound["LAM"]
    text = str(res.summary())
    assert "LAM (at bound)" in text and "At a bound" in text
    assert "[b]" in ck.compare([res]).as_text()


def test_summary_tests_nest_parameters_against_one(nl_fit):
    s = nl_fit.summary()
    col = [c for c in s.table.columns if c.startswith("t vs 1")]
    assert len(col) == 1
    t = s.table.loc["LAM", col[0]]
    assert t == pytest.approx((nl_fit.params["LAM"] - 1) / nl_fit.bse["LAM"])
    assert s.table[col[0]].drop("LAM").isna().all()
    assert "nested logit" in str(s)


def test_recovers_the_true_lambda(nl_sim, nl_fit):
    # 3,000 cases: estimates within 4 classical standard errors of the truth
    z = (nl_fit.params - nl_sim.params) / nl_fit.bse
    assert (z.abs() < 4).all(), z


def test_lr_test_against_the_mnl(nl_sim, nl_fit):
    mnl = ck.MNL(nl_sim.data, nl_sim.utilities).fit()
    t = nl_fit.lr_test(mnl)
    assert t.df == 1 and t.statistic == pytest.approx(2 * (nl_fit.llf - mnl.llf))
    assert t.pvalue < 1e-6  # lambda 0.5 on 3,000 cases: the MNL is rejected


def test_robust_and_cluster_covariances(nl_fit):
    rob = nl_fit.with_cov("robust")
    assert np.isfinite(rob.bse).all() and not np.allclose(rob.bse, nl_fit.bse)
    groups = np.arange(nl_fit.nobs) // 3
    cl = nl_fit.with_cov("cluster", groups=groups)
    assert cl.n_clusters == 1000 and np.isfinite(cl.bse).all()


def test_pickle_round_trip(nl_fit):
    import pickle

    back = pickle.loads(pickle.dumps(nl_fit))
    pd.testing.assert_series_equal(back.params, nl_fit.params)
    pd.testing.assert_series_equal(back.bse, nl_fit.bse)


# ------------------------------------------------------------------ post-estimation
def _fd_point_elasticity(res, var, alt_pos, h=1e-6):
    """Elasticity of every probability with respect to ``var`` of one alternative, by
    central differences of predict_proba on changed data."""
    data = res.model.data
    x = data.variable(var)

    def P(f):
        new = x.copy()
        new[:, alt_pos] = x[:, alt_pos] * f
        return res.predict_proba(data.with_variables({var: new})).to_numpy()

    dP = (P(1 + h) - P(1 - h)) / (2 * h)
    return dP / res.predict_proba().to_numpy()


def test_elasticities_match_finite_differences_and_break_iia(nl_fit):
    point = nl_fit.elasticities("cost", kind="point")
    alts = list(nl_fit.model.design.alternatives)
    fd = _fd_point_elasticity(nl_fit, "cost", 0)
    got = point.xs(alts[0], axis=1, level="variable_of").to_numpy()
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-8)
    # own, cross within the nest (2), cross outside it (3): the cross elasticities differ (no
    # IIA), and the nest partner reacts more strongly
    within, outside = got[:, 1], got[:, 2]
    assert np.all(within > outside + 1e-6)


def test_mnl_cross_elasticities_are_equal(nl_sim):
    res = ck.MNL(nl_sim.data, nl_sim.utilities).fit()
    got = res.elasticities("cost", kind="point").xs(1, axis=1, level="variable_of").to_numpy()
    np.testing.assert_allclose(got[:, 1], got[:, 2], rtol=1e-10)  # IIA


def test_aggregate_elasticities_and_shares(nl_fit):
    agg = nl_fit.elasticities("cost")
    assert np.isfinite(agg.estimate.to_numpy()).all() and np.isfinite(agg.se.to_numpy()).all()
    shares = nl_fit.predicted_shares()
    assert shares["share"].sum() == pytest.approx(1.0)


def test_logsum_and_consumer_surplus_use_the_nested_logsum(nl_fit):
    from choicekit.families.gev import kernel as gk

    m = nl_fit.model
    theta = m.params_vector(nl_fit.params)
    Vu = m.design.utilities(theta[:m.design.n_params])
    want = gk.nl_logsum(Vu, m.design.avail, np.array([nl_fit.params["LAM"]]),
                        m.family().spec.struct)
    np.testing.assert_allclose(nl_fit.logsum().to_numpy(), want, rtol=1e-12)
    sc = nl_fit.scenario({"cost": 1.1}, cost="cost")
    assert np.isfinite(sc.surplus.to_numpy(dtype=float)).all()


def test_wtp(nl_fit):
    w = nl_fit.wtp("time", "cost")
    assert w.loc["time", "wtp"] == pytest.approx(nl_fit.params["time"] / nl_fit.params["cost"])
    assert np.isfinite(w.loc["time", "se"])


def test_formula_models_take_nests(nl_sim):
    nests = [ck.Nest("n12", [1, 2], B("LAM", 0.5, lower=0.05, upper=1.0))]
    m = ck.NestedLogit.from_formula("chosen ~ cost + time", nl_sim.data, nests=nests)
    assert m.param_names[-1] == "LAM" and "ASC:2" in m.param_names
    assert m.fit().converged


# ------------------------------------------------------------------ simulation
def test_derivation_check_and_its_negative_control(nl_sim):
    """The nested logit's own errors reproduce its probabilities (chi-square p > 0.001 with
    the default seed); iid Gumbel errors do not (lambda 0.5: the control is rejected)."""
    c = ck.derivation_check(nl_sim.model(), nl_sim.params, n_draws=int(100_000 * mc_scale()),
                            rng=3)
    assert c.passed and c.control_rejected
    assert c.df == 10 and len(c.table) == 15


def test_derivation_check_cross_nested():
    a = B("A", 0.3, lower=0, upper=1)
    nests = [ck.Nest("x", {1: 1.0, 2: a}, B("L1", 0.4)), ck.Nest("y", {2: 1 - a, 3: 1.0},
                                                                 B("L2", 0.6))]
    sim = ck.make_choice_data(20, 3, nests=nests, rng=2)
    c = ck.derivation_check(sim.model(), sim.params, n_draws=int(100_000 * mc_scale()), rng=5)
    assert c.passed and c.control_rejected


def test_mnl_derivation_control_is_not_rejected():
    sim = ck.make_choice_data(20, 3, rng=2)
    c = ck.derivation_check(sim.model(), sim.params, n_draws=50_000, rng=5)
    assert c.passed and not c.control_rejected  # iid Gumbel is the MNL's own error


def test_simulate_returns_choice_data(nl_sim):
    out = nl_sim.model().simulate(nl_sim.params, rng=0)
    assert isinstance(out, ck.ChoiceData) and out.n_cases == nl_sim.data.n_cases
    with pytest.raises(ck.SpecificationError, match="MNL's iid errors only"):
        nl_sim.model().simulate(nl_sim.params, rng=0, scale=2.0)


@pytest.mark.montecarlo
def test_recovery_study_of_a_nested_logit():
    """Unbiased estimates and standard errors that match the spread: bias within 4 Monte
    Carlo standard errors, and the ratio of mean SE to empirical SD within 4 of its own
    sampling error (about 1/sqrt(2R) relative for R replications)."""
    reps = max(20, int(60 * mc_scale()))
    nests = [ck.Nest("n12", [1, 2], B("LAM", 0.5, lower=0.05, upper=1.0))]
    sim = ck.make_choice_data(2000, 3, nests=nests, rng=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)
        st = ck.recovery_study(sim, n_reps=reps, rng=1)
    mc_se = st.estimates.std() / np.sqrt(len(st.estimates))
    bias = st.estimates.mean() - st.true_params
    assert (bias.abs() < 4 * mc_se).all(), bias / mc_se
    ratio = st.std_errors["classical"].mean() / st.estimates.std()
    assert ((ratio - 1).abs() < 4 / np.sqrt(2 * reps)).all(), ratio


@pytest.mark.montecarlo
def test_recovery_study_of_a_cross_nested_logit():
    reps = max(20, int(40 * mc_scale()))
    a = B("A", 0.4, lower=0, upper=1)
    nests = [ck.Nest("x", {1: 1.0, 2: a}, B("L1", 0.4, lower=0.05, upper=1)),
             ck.Nest("y", {2: 1 - a, 3: 1.0}, B("L2", 0.5, lower=0.05, upper=1))]
    sim = ck.make_choice_data(3000, 3, nests=nests, rng=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)
        st = ck.recovery_study(sim, n_reps=reps, rng=2)
    ok = st.converged
    est = st.estimates[ok]
    mc_se = est.std() / np.sqrt(len(est))
    bias = est.mean() - st.true_params
    assert ok.mean() > 0.8
    assert (bias.abs() < 4 * mc_se).all(), bias / mc_se
