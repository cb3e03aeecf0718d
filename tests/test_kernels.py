"""Kernels: textbook softmax values, stability, and analytic derivatives vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logsumexp

# the one random-design builder of the kernel tests (availability holes, weights, offset)
from test_kernels_equivalence import random_design

import choicekit as ck
from choicekit.families.mnl.kernels import loglike_derivatives, loglike_obs, score_obs


# --------------------------------------------------------------------------- array functions
def test_softmax_textbook_values():
    # DESIGN.md section 2 (textbook examples, rounded as printed there)
    np.testing.assert_allclose(ck.softmax([0.25, 1.23, -0.8]), [0.249, 0.664, 0.087], atol=5e-4)
    np.testing.assert_allclose(ck.softmax([1.3, 5.1, 2.2, 0.7, 1.1]),
                               [0.0202, 0.9025, 0.0497, 0.0111, 0.0165], atol=5e-5)


def test_softmax_shift_invariance_and_binary_sigmoid():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(50, 6))
    np.testing.assert_allclose(ck.softmax(v + 123.4), ck.softmax(v), rtol=1e-12)
    z = rng.normal(scale=5, size=100)
    p = ck.softmax(np.column_stack([z, np.zeros_like(z)]))
    np.testing.assert_allclose(p[:, 0], expit(z), rtol=1e-12)
    np.testing.assert_allclose(p[:, 1], 1 - expit(z), rtol=1e-10, atol=1e-300)
    np.testing.assert_array_equal(ck.softmax(v).argmax(axis=1), v.argmax(axis=1))


def test_softmax_temperature_limit_is_argmax():
    v = np.array([0.3, 1.7, 1.2])
    np.testing.assert_allclose(ck.softmax(v / 1e-3), [0, 1, 0], atol=1e-100)


@pytest.mark.parametrize("big", [1000.0, 1e6, -1e6, 1e300])
def test_stable_for_any_magnitude(big):
    v = np.array([big, big + 1.0]) if abs(big) < 1e200 else np.array([big, 0.0])
    p = ck.softmax(v)
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0)
    if abs(big) < 1e200:
        # v - logsum(v) cancels two numbers of size |big|: rounding error ~ |big| * eps
        tol = max(1e-12, 10 * abs(big) * np.finfo(float).eps)
        np.testing.assert_allclose(p, expit(np.array([-1.0, 1.0])), rtol=tol)
        assert ck.logsum(v) == pytest.approx(big + 1 + np.log1p(np.exp(-1)), rel=1e-14)


def test_availability_mask():
    v = np.array([[1.0, 2.0, 3.0], [5.0, -1.0, 0.0]])
    avail = np.array([[True, False, True], [False, False, True]])
    p = ck.softmax(v, available=avail)
    np.testing.assert_allclose(p[0], [np.exp(1) / (np.exp(1) + np.exp(3)), 0,
                                      np.exp(3) / (np.exp(1) + np.exp(3))])
    np.testing.assert_allclose(p[1], [0, 0, 1])
    lp = ck.log_softmax(v, available=avail)
    assert lp[0, 1] == -np.inf and lp[1, 0] == -np.inf
    np.testing.assert_allclose(ck.logsum(v, available=avail),
                               [logsumexp([1.0, 3.0]), 0.0])
    # no alternative available: logsum -inf, probabilities 0, no NaN
    none = ck.softmax([1.0, 2.0], available=[False, False])
    np.testing.assert_array_equal(none, [0.0, 0.0])
    assert ck.logsum([1.0, 2.0], available=[0, 0]) == -np.inf


def test_axis_argument():
    rng = np.random.default_rng(2)
    v = rng.normal(size=(4, 3))
    np.testing.assert_allclose(ck.softmax(v, axis=0), ck.softmax(v.T).T)
    np.testing.assert_allclose(ck.logsum(v, axis=0), logsumexp(v, axis=0))


# --------------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_score_and_hessian_match_finite_differences(seed, weighted):
    X, avail, chosen, offset, weight, beta = random_design(seed, n=60)
    w = weight if weighted else None

    def ll(b):
        return loglike_derivatives(X, b, avail, chosen, offset, w, order=0).loglike

    def grad(b):
        return loglike_derivatives(X, b, avail, chosen, offset, w, order=1).score

    d = loglike_derivatives(X, beta, avail, chosen, offset, w, order=2)
    h = 1e-6
    eye = np.eye(len(beta))
    fd_grad = np.array([(ll(beta + h * e) - ll(beta - h * e)) / (2 * h) for e in eye])
    fd_hess = np.array([(grad(beta + h * e) - grad(beta - h * e)) / (2 * h) for e in eye])
    # central differences: truncation O(h^2) and rounding O(eps/h) -> ~1e-7 relative
    np.testing.assert_allclose(d.score, fd_grad, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d.hessian, fd_hess, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d.hessian, d.hessian.T)
    assert np.linalg.eigvalsh(d.hessian).max() < 0  # log-likelihood is concave


def test_score_obs_sums_to_score_and_loglike_obs_to_loglike():
    X, avail, chosen, offset, weight, beta = random_design(5, n=60)
    d = loglike_derivatives(X, beta, avail, chosen, offset, weight)
    s = score_obs(X, beta, avail, chosen, offset)
    np.testing.assert_allclose(weight @ s, d.score, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weight @ loglike_obs(X, beta, avail, chosen, offset), d.loglike)


def test_loglike_matches_direct_formula():
    X, avail, chosen, offset, weight, beta = random_design(7, n=60)
    V = X @ beta + offset
    direct = 0.0
    for n in range(len(chosen)):
        a = np.flatnonzero(avail[n])
        direct += weight[n] * (V[n, chosen[n]] - logsumexp(V[n, a]))
    got = loglike_derivatives(X, beta, avail, chosen, offset, weight, order=0).loglike
    assert got == pytest.approx(direct, rel=1e-12)


def test_model_derivatives_with_expression_design():
    """MNL.score / hessian (through design building) agree with finite differences."""
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 80
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                       "y1": rng.normal(size=n), "y2": rng.normal(size=n),
                       "inc": rng.uniform(1, 5, n), "ch": rng.integers(1, 4, n),
                       "av3": (rng.random(n) < 0.7).astype(int), "w": rng.uniform(0.5, 2, n)})
    df.loc[df.ch == 3, "av3"] = 1
    data = ck.ChoiceData.from_wide(df, choice="ch", alternatives={1: "a", 2: "b", 3: "c"},
                                   availability={"c": "av3"}, weight="w")
    B, V = ck.Beta, ck.Var
    model = ck.MNL(data, {
        "a": B("A") + B("bx") * V("x1") + B("g") * ck.log(V("inc")),
        "b": B("bx") * V("x2") / 10 + B("by") * V("y1") * (V("inc") > 2),
        "c": B("C") + B("by") * V("y2") ** 2,
    })
    beta = pd.Series([0.2, -0.3, 0.5, 0.1, -0.4], index=model.param_names)
    g, H = model.score(beta).to_numpy(), model.hessian(beta).to_numpy()
    h = 1e-6
    eye = np.eye(len(beta))
    fd_g = np.array([(model.loglike(beta + h * e) - model.loglike(beta - h * e)) / (2 * h)
                     for e in eye])
    fd_H = np.array([(model.score(beta + h * e) - model.score(beta - h * e)) / (2 * h)
                     for e in eye])
    np.testing.assert_allclose(g, fd_g, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(H, fd_H, rtol=1e-6, atol=1e-6)
    so = model.score_obs(beta).to_numpy()
    np.testing.assert_allclose(df["w"].to_numpy() @ so, g, rtol=1e-10)
    # the model reuses one objective (and its last result) across calls: editing a returned
    # Series/DataFrame must not change the next call (pandas 2 wraps arrays without a copy);
    # rtol: the score of the order-2 pass is summed in another order than the order-1 one
    s, h = model.score(beta), model.hessian(beta)
    s.iloc[:] = 0.0
    h.iloc[:, :] = 0.0
    np.testing.assert_allclose(model.score(beta).to_numpy(), g, rtol=1e-12)
    np.testing.assert_allclose(model.hessian(beta).to_numpy(), H, rtol=1e-12)
