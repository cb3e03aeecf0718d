"""The conformance suite: every registered family passes the same checks (DESIGN.md section 4).

Analytic score against finite differences of the log-likelihood and the Hessian against
finite differences of the score; per-case scores summing to the score; ``dproba`` against
finite differences of ``proba``; probabilities summing to one; simulated frequencies against
``proba``; block sums equal to the whole (and the MNL's fast path equal to its plain path);
and the reduction identities (NL with every lambda = 1 is the MNL; CNL with one-hot
allocations is the NL; CNL with one nest per alternative is the MNL).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from family_models import ALTS, family_models, nl_nests, utilities
from family_models import family_data as _family_data

import choicekit as ck
from choicekit.estimation.objective import Objective
from choicekit.families.protocol import ALL, FAMILIES, family_proba, n_units, unit_weight

B = ck.Beta
NAMES = sorted(FAMILIES)


@pytest.fixture(scope="module")
def family_data():
    return _family_data()


@pytest.fixture(scope="module")
def models(family_data):
    return family_models(family_data)


def test_every_registered_family_has_a_model_here(models):
    assert sorted(models) == NAMES


def _fd_grad(f, x, h=1e-6):
    g = np.empty_like(x)
    for k in range(len(x)):
        e = np.zeros_like(x)
        e[k] = h * max(1.0, abs(x[k]))
        g[k] = (f(x + e) - f(x - e)) / (2 * e[k])
    return g


@pytest.mark.parametrize("name", NAMES)
def test_score_matches_finite_differences(models, name):
    m, theta = models[name]
    fd = _fd_grad(m.loglike, theta)
    g = m.score(theta).to_numpy()
    # central differences of a sum of ~300 terms: truncation O(h^2) and rounding ~1e-10 / h
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_finite_differences_of_the_score(models, name):
    m, theta = models[name]
    H = m.hessian(theta).to_numpy()
    fd = np.column_stack([_fd_grad(lambda t, k=k: m.score(t).to_numpy()[k], theta)
                          for k in range(len(theta))]).T
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(H, H.T)


@pytest.mark.parametrize("name", NAMES)
def test_score_obs_sum_to_the_score(models, name):
    m, theta = models[name]
    S = m.score_obs(theta).to_numpy()
    w = unit_weight(m.family())  # one row per likelihood unit (case, or panel person)
    assert S.shape[0] == n_units(m.family())
    np.testing.assert_allclose(w @ S, m.score(theta).to_numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_probabilities_sum_to_one_and_vanish_where_unavailable(models, name):
    m, theta = models[name]
    P = m.predict_proba(theta).to_numpy()
    avail = m.design.avail
    assert np.all(P[~avail] == 0.0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    if m.family().unit == "case":  # the chosen probabilities are the likelihood's terms
        ll = m.design.weight @ np.log(P[np.arange(len(P)), m.design.chosen])
        assert ll == pytest.approx(m.loglike(theta), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_dproba_matches_finite_differences_of_proba(models, name):
    m, theta = models[name]
    fam = m.family()
    d = m.design
    dv = np.random.default_rng(1).normal(size=(d.n_cases, d.n_alts)) * d.avail
    base = np.zeros((d.n_cases, d.n_alts)) if d.offset is None else d.offset

    def proba_at(h: float) -> np.ndarray:
        return family_proba(m.family(replace(d, offset=base + h * dv)), theta)

    h = 1e-6
    fd = (proba_at(h) - proba_at(-h)) / (2 * h)
    np.testing.assert_allclose(fam.dproba(theta, dv), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_block_sums_equal_the_whole(models, name):
    m, theta = models[name]
    fam = m.family()
    order = 2 if fam.analytic_hessian else 1
    whole = fam.sums(theta, ALL, order)
    # blocks of whole units (cases, or a panel's persons), of uneven sizes
    cuts = [0, 7, 150, m.n_cases]
    cu = getattr(fam, "case_unit", None)
    if cu is not None:  # move each cut to the next unit boundary
        cuts = [int(np.searchsorted(cu, cu[c - 1] + 1)) if 0 < c < m.n_cases else c
                for c in cuts]
    parts = [fam.sums(theta, slice(a, b), order) for a, b in zip(cuts, cuts[1:])]
    total = parts[0] + parts[1] + parts[2]
    assert total.n_units == whole.n_units == n_units(fam)
    assert total.loglike == pytest.approx(whole.loglike, rel=1e-12)
    np.testing.assert_allclose(total.score, whole.score, rtol=1e-10, atol=1e-10)
    if fam.analytic_hessian:
        # columns a family takes from central differences of its score (the CNL's estimated
        # allocations) carry the differences' rounding (~1e-11 / 1e-5 relative) per block
        fd = np.zeros(len(theta), dtype=bool)
        fd[getattr(fam, "fd_hessian_params", [])] = True
        exact = ~fd[:, None] & ~fd[None, :]
        np.testing.assert_allclose(total.hessian[exact], whole.hessian[exact], rtol=1e-10,
                                   atol=1e-10)
        np.testing.assert_allclose(total.hessian, whole.hessian, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_objective_over_blocks_equals_the_family_sums(models, name):
    """The objective's path (the MNL's fused fast path; the others' block loop) against the
    plain sums over all cases."""
    m, theta = models[name]
    fam = m.family()
    obj = Objective(fam, theta, fixed=np.zeros(len(theta), dtype=bool), bounds=False)
    ll, g, _ = obj.evaluate(theta, order=1)
    plain = fam.sums(theta, ALL, 1)
    assert ll == pytest.approx(plain.loglike, rel=1e-12)
    np.testing.assert_allclose(g, plain.score, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_simulated_frequencies_match_probabilities(models, name):
    """Frequencies of argmax(V + e) with the family's own errors against its probabilities,
    on 60 cases x 4,000 draws; the tolerance is 4.5 binomial standard errors per cell (the
    largest of ~250 |z| values exceeds 4.5 with probability below 0.002)."""
    m, theta = models[name]
    sub = m.rebuild(m.data.take(np.arange(60)))
    freq = sub.simulate(theta, rng=11, n_draws=4000).to_numpy()
    P = sub.predict_proba(theta).to_numpy()
    se = np.sqrt(np.maximum(P * (1 - P), 1e-12) / 4000)
    z = np.abs(freq - P) / se
    assert z[sub.design.avail].max() < 4.5


def test_nested_logit_with_every_lambda_one_is_the_mnl(family_data):
    u = utilities()
    mnl = ck.MNL(family_data, u)
    nl = ck.NestedLogit(family_data, u, nl_nests(1.0, 1.0, 1.0))  # fixed lambdas of 1
    theta = np.random.default_rng(5).normal(scale=0.5, size=mnl.design.n_params)
    assert nl.param_names == mnl.param_names
    assert nl.loglike(theta) == pytest.approx(mnl.loglike(theta), rel=1e-10)
    np.testing.assert_allclose(nl.score(theta), mnl.score(theta), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nl.hessian(theta), mnl.hessian(theta), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(nl.predict_proba(theta), mnl.predict_proba(theta), rtol=1e-10,
                               atol=1e-13)
    r_nl, r_mnl = nl.fit(), mnl.fit()
    np.testing.assert_allclose(r_nl.params, r_mnl.params, rtol=1e-8)
    np.testing.assert_allclose(r_nl.bse, r_mnl.bse, rtol=1e-8)


def test_nested_logit_with_free_lambdas_at_one_is_the_mnl(family_data):
    u = utilities()
    mnl = ck.MNL(family_data, u)
    nl = ck.NestedLogit(family_data, u, nl_nests())
    theta = np.random.default_rng(6).normal(scale=0.5, size=mnl.design.n_params)
    full = np.concatenate([theta, [1.0, 1.0, 1.0]])
    assert nl.loglike(full) == pytest.approx(mnl.loglike(theta), rel=1e-10)
    np.testing.assert_allclose(nl.score(full)[:len(theta)], mnl.score(theta), rtol=1e-10,
                               atol=1e-10)


def test_cross_nested_with_one_hot_allocations_is_the_nested_logit(family_data):
    u = utilities()
    nl = ck.NestedLogit(family_data, u, [
        ck.Nest("ab", ["a", "b"], B("L1", 0.5)), ck.Nest("cde", ["c", "d", "e"], B("L2", 0.7))])
    cnl = ck.CrossNestedLogit(family_data, u, [
        ck.Nest("ab", {"a": 1.0, "b": 1.0}, B("L1", 0.5)),
        ck.Nest("cde", {"c": 1.0, "d": 1.0, "e": 1.0}, B("L2", 0.7))])
    theta = np.concatenate([np.random.default_rng(8).normal(scale=0.5, size=nl.design.n_params),
                            [0.45, 0.8]])
    assert cnl.loglike(theta) == pytest.approx(nl.loglike(theta), rel=1e-10)
    np.testing.assert_allclose(cnl.score(theta), nl.score(theta), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(cnl.hessian(theta), nl.hessian(theta), rtol=1e-9, atol=1e-9)


def test_cross_nested_with_one_nest_per_alternative_is_the_mnl(family_data):
    u = utilities()
    mnl = ck.MNL(family_data, u)
    cnl = ck.CrossNestedLogit(family_data, u, [ck.Nest(f"n_{a}", {a: 1.0}, 0.6) for a in ALTS])
    theta = np.random.default_rng(9).normal(scale=0.5, size=mnl.design.n_params)
    assert cnl.loglike(theta) == pytest.approx(mnl.loglike(theta), rel=1e-10)
    np.testing.assert_allclose(cnl.predict_proba(theta), mnl.predict_proba(theta),
                               rtol=1e-10, atol=1e-13)
