"""Tests of gev_kernel (NL / CNL probabilities and derivatives) and mev_simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

import choicekit.families.gev.kernel as gk
from choicekit.families.gev.errors import draw_cnl_errors, draw_nl_errors
from choicekit.families.gev.kernel import (
    GevStructure,
    cnl_derivatives,
    cnl_dproba_dv,
    cnl_log_proba,
    cnl_logsum,
    nl_derivatives,
    nl_dproba_dv,
    nl_log_proba,
    nl_logsum,
)

# 3-level tree on 7 alternatives a..g: nest0 = (nest1, c), nest1 = (a, b), nest2 = (d, e),
# f and g alone on the root.
TREE = GevStructure.nested(7, parents=[-1, 0, -1], alt_nest=[1, 1, 0, 2, 2, -1, -1])
TREE_LAM = np.array([0.8, 0.45, 0.3])
ALPHA = np.array(
    [[1.0, 0, 0], [0.5, 0.5, 0], [0, 0.3, 0.7], [0, 1.0, 0], [0.2, 0.2, 0.6], [0, 0, 1.0]]
)
CNL = GevStructure.cross_nested(6, 3)
CNL_LAM = np.array([0.7, 0.45, 0.25])


def _data(n: int, J: int, seed: int, holes: float = 0.25):
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(n, J))
    avail = rng.random((n, J)) > holes
    avail[:, -1] = True
    chosen = np.array([rng.choice(np.flatnonzero(a)) for a in avail])
    return V, avail, chosen


def _nl_data(n=30, seed=0):
    V, avail, chosen = _data(n, 7, seed)
    avail[0, [3, 4]] = False  # nest2 dead
    avail[1, [0, 1]] = False  # nest1 dead, nest0 alive through c
    avail[2, :6] = False  # only g
    chosen[:3] = 6
    return V, avail, chosen


def _cnl_data(n=30, seed=1):
    V, avail, chosen = _data(n, 6, seed)
    avail[0, [1, 3, 4]] = False  # nest1 keeps only alternative 2
    avail[1, :5] = False  # only alternative 5 (nest2)
    chosen[:2] = 5
    return V, avail, chosen


def _d5(f, x, direction, h):
    """Five-point central difference (truncation O(h^4))."""
    return (
        -f(x + 2 * h * direction)
        + 8 * f(x + h * direction)
        - 8 * f(x - h * direction)
        + f(x - 2 * h * direction)
    ) / (12 * h)


def _close(analytic, fd, rtol=1e-6):
    """Relative error below rtol, with a floor of 1 on the scale (entries are O(1) to O(1e2))."""
    err = np.abs(np.asarray(analytic) - fd) / np.maximum(np.abs(fd), 1.0)
    assert np.all(err < rtol), err.max()


def _softmax_logp(V, avail):
    Vm = np.where(avail, V, -np.inf)
    return Vm - logsumexp(Vm, axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Probabilities
# --------------------------------------------------------------------------------------------
def test_nl_probabilities_sum_to_one_and_availability():
    V, avail, _ = _nl_data()
    lp = nl_log_proba(V, avail, TREE_LAM, TREE)
    P = np.exp(lp)
    assert not np.any(np.isnan(lp))
    assert np.all(np.isneginf(lp[~avail])) and np.all(P[~avail] == 0)
    assert np.all(np.isfinite(lp[avail]))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-13)
    assert P[2, 6] == pytest.approx(1.0)
    ls = nl_logsum(V, avail, TREE_LAM, TREE)
    assert np.all(np.isfinite(ls))


def test_cnl_probabilities_sum_to_one_and_availability():
    V, avail, _ = _cnl_data()
    lp = cnl_log_proba(V, avail, CNL_LAM, ALPHA, CNL)
    P = np.exp(lp)
    assert not np.any(np.isnan(lp))
    assert np.all(np.isneginf(lp[~avail])) and np.all(P[~avail] == 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-13)
    assert P[1, 5] == pytest.approx(1.0)
    # direct evaluation of the generating-function formula
    y = np.where(avail, np.exp(V), 0.0)
    inner = (ALPHA[None] * y[:, :, None]) ** (1 / CNL_LAM)  # (n, J, M)
    S = inner.sum(axis=1)
    Pm = S**CNL_LAM / (S**CNL_LAM).sum(axis=1, keepdims=True)
    Pd = Pm[:, None, :] * np.where(S[:, None, :] > 0, inner / np.maximum(S, 1e-300)[:, None], 0)
    np.testing.assert_allclose(P, Pd.sum(axis=2), atol=1e-13)
    ls = cnl_logsum(V, avail, CNL_LAM, ALPHA, CNL)
    np.testing.assert_allclose(ls, np.log((S**CNL_LAM).sum(axis=1)), atol=1e-12)


def test_nl_all_lambda_one_is_mnl():
    V, avail, _ = _nl_data()
    lp = nl_log_proba(V, avail, np.ones(3), TREE)
    ref = _softmax_logp(V, avail)
    np.testing.assert_allclose(np.exp(lp), np.exp(ref), atol=1e-12, rtol=0)
    np.testing.assert_allclose(
        nl_logsum(V, avail, np.ones(3), TREE),
        logsumexp(np.where(avail, V, -np.inf), axis=1),
        atol=1e-12,
    )


def test_cnl_identity_alpha_is_mnl():
    V, avail, _ = _data(25, 6, 3)
    lp = cnl_log_proba(
        V, avail, CNL_LAM[[0, 1, 2, 0, 1, 2]], np.eye(6), GevStructure.cross_nested(6, 6)
    )
    np.testing.assert_allclose(np.exp(lp), np.exp(_softmax_logp(V, avail)), atol=1e-12, rtol=0)


def test_cnl_one_hot_alpha_is_two_level_nl():
    V, avail, chosen = _data(25, 6, 4)
    nests = np.array([0, 1, 2, 1, 2, 0])
    nl = GevStructure.nested(6, [-1, -1, -1], nests)
    alpha = np.zeros((6, 3))
    alpha[np.arange(6), nests] = 1.0
    lp_c = cnl_log_proba(V, avail, CNL_LAM, alpha, CNL)
    lp_n = nl_log_proba(V, avail, CNL_LAM, nl)
    np.testing.assert_allclose(np.exp(lp_c), np.exp(lp_n), atol=1e-12, rtol=0)
    dc = cnl_derivatives(V, avail, chosen, CNL_LAM, alpha, CNL, order=2)
    dn = nl_derivatives(V, avail, chosen, CNL_LAM, nl, order=2)
    for name in ("loglike", "d_v", "d_nest", "h_vv", "h_vn", "h_nn"):
        np.testing.assert_allclose(getattr(dc, name), getattr(dn, name), atol=1e-10, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Derivatives against finite differences
# --------------------------------------------------------------------------------------------
def _fd_checks(deriv, V, lam, extra=None, h=1e-4):
    """deriv(V, lam, extra) -> CaseDerivatives (order 2 for the reference point)."""
    d = deriv(V, lam, extra, 2)
    J, M = V.shape[1], lam.size
    for k in range(J):
        e = np.zeros(J)
        e[k] = 1.0
        _close(d.d_v[:, k], _d5(lambda x: deriv(x, lam, extra, 1).loglike, V, e, h))
        _close(d.h_vv[:, :, k], _d5(lambda x: deriv(x, lam, extra, 1).d_v, V, e, h))
        _close(d.h_vn[:, k, :], _d5(lambda x: deriv(x, lam, extra, 1).d_nest, V, e, h))
    for m in range(M):
        e = np.zeros(M)
        e[m] = 1.0
        _close(d.d_nest[:, m], _d5(lambda x: deriv(V, x, extra, 1).loglike, lam, e, h))
        _close(d.h_nn[:, :, m], _d5(lambda x: deriv(V, x, extra, 1).d_nest, lam, e, h))
        _close(d.h_vn[:, :, m], _d5(lambda x: deriv(V, x, extra, 1).d_v, lam, e, h))
    return d


def test_nl_derivatives_match_finite_differences():
    V, avail, chosen = _nl_data()

    def deriv(V_, lam_, _, order):
        return nl_derivatives(V_, avail, chosen, lam_, TREE, order=order)

    d = _fd_checks(deriv, V, TREE_LAM)
    lp = nl_log_proba(V, avail, TREE_LAM, TREE)
    np.testing.assert_allclose(d.loglike, lp[np.arange(len(V)), chosen], rtol=1e-14)
    assert np.all(d.d_v[~avail] == 0)
    assert np.all(d.h_vv[~avail] == 0) and np.all(np.swapaxes(d.h_vv, 1, 2)[~avail] == 0)
    assert np.all(d.h_vn[~avail] == 0)
    assert np.all(d.d_nest[0, 2] == 0) and np.all(d.d_nest[1, 1] == 0)  # dead nests
    np.testing.assert_allclose(d.h_vv, np.swapaxes(d.h_vv, 1, 2), atol=1e-12)


def test_nl_derivatives_lambda_above_one():
    V, avail, chosen = _nl_data(10, 5)

    def deriv(V_, lam_, _, order):
        return nl_derivatives(V_, avail, chosen, lam_, TREE, order=order)

    _fd_checks(deriv, V, np.array([1.3, 1.6, 0.9]))


def test_cnl_derivatives_match_finite_differences():
    V, avail, chosen = _cnl_data()

    def deriv(V_, lam_, alpha_, order):
        return cnl_derivatives(V_, avail, chosen, lam_, alpha_, CNL, order=order)

    d = _fd_checks(deriv, V, CNL_LAM, ALPHA)
    for j, m in zip(*np.nonzero(ALPHA)):
        e = np.zeros_like(ALPHA)
        e[j, m] = 1.0
        fd = _d5(lambda a: deriv(V, CNL_LAM, a, 1).loglike, ALPHA, e, 1e-5)
        _close(d.d_alpha[:, j, m], fd)
    assert np.all(d.d_alpha[:, ALPHA == 0] == 0)
    assert np.all(d.d_alpha[~avail] == 0) and np.all(d.d_v[~avail] == 0)
    lp = cnl_log_proba(V, avail, CNL_LAM, ALPHA, CNL)
    np.testing.assert_allclose(d.loglike, lp[np.arange(len(V)), chosen], rtol=1e-14)


def test_dproba_dv_and_logsum_gradients():
    V, avail, _ = _nl_data(12, 7)
    Vc, availc, _ = _cnl_data(12, 8)
    J = V.shape[1]
    jac = nl_dproba_dv(V, avail, TREE_LAM, TREE)
    jacc = cnl_dproba_dv(Vc, availc, CNL_LAM, ALPHA, CNL)
    for k in range(J):
        e = np.zeros(J)
        e[k] = 1.0
        fd = _d5(lambda x: np.exp(nl_log_proba(x, avail, TREE_LAM, TREE)), V, e, 1e-4)
        _close(jac[:, :, k], fd)
        fd = _d5(lambda x: nl_logsum(x, avail, TREE_LAM, TREE), V, e, 1e-4)
        _close(np.exp(nl_log_proba(V, avail, TREE_LAM, TREE))[:, k], fd)  # dlogG/dV = P
    for k in range(Vc.shape[1]):
        e = np.zeros(Vc.shape[1])
        e[k] = 1.0
        fd = _d5(lambda x: np.exp(cnl_log_proba(x, availc, CNL_LAM, ALPHA, CNL)), Vc, e, 1e-4)
        _close(jacc[:, :, k], fd)
        fd = _d5(lambda x: cnl_logsum(x, availc, CNL_LAM, ALPHA, CNL), Vc, e, 1e-4)
        _close(np.exp(cnl_log_proba(Vc, availc, CNL_LAM, ALPHA, CNL))[:, k], fd)
    np.testing.assert_allclose(jac.sum(axis=1), 0.0, atol=1e-13)  # sum_i P_i = 1


def test_chunked_evaluation_matches(monkeypatch):
    V, avail, chosen = _data(3000, 7, 11)
    ref = nl_derivatives(V, avail, chosen, TREE_LAM, TREE, order=2)
    Vc, availc, chc = _data(3000, 6, 12)
    refc = cnl_derivatives(Vc, availc, chc, CNL_LAM, ALPHA, CNL, order=2)
    monkeypatch.setattr(gk, "CHUNK_ELEMS", 1)  # chunks of 512 cases
    d = nl_derivatives(V, avail, chosen, TREE_LAM, TREE, order=2)
    dc = cnl_derivatives(Vc, availc, chc, CNL_LAM, ALPHA, CNL, order=2)
    for name in ("loglike", "d_v", "d_nest", "h_vv", "h_vn", "h_nn"):
        np.testing.assert_array_equal(getattr(d, name), getattr(ref, name))
        np.testing.assert_array_equal(getattr(dc, name), getattr(refc, name))
    np.testing.assert_array_equal(dc.d_alpha, refc.d_alpha)


# --------------------------------------------------------------------------------------------
# Stability and argument checks
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam_small", [1e-2, 1e-3])
def test_stability_small_lambda_large_utilities(lam_small):
    V, avail, chosen = _nl_data(40, 9)
    V = 1000.0 * V
    lam = np.array([0.5, lam_small, lam_small])
    lp = nl_log_proba(V, avail, lam, TREE)
    assert np.all(np.isfinite(lp[avail])) and np.all(np.isneginf(lp[~avail]))
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-12)
    d = nl_derivatives(V, avail, chosen, lam, TREE, order=2)
    for arr in (d.loglike, d.d_v, d.d_nest, d.h_vv, d.h_vn, d.h_nn):
        assert np.all(np.isfinite(arr))
    assert np.all(np.isfinite(nl_dproba_dv(V, avail, lam, TREE)))
    Vc, availc, chc = V[:, :6], avail[:, :6].copy(), chosen.copy()
    availc[:, 5] = True
    chc = np.where(availc[np.arange(len(chc)), chc % 6], chc % 6, 5)
    lamc = np.array([0.5, lam_small, lam_small])
    lpc = cnl_log_proba(Vc, availc, lamc, ALPHA, CNL)
    assert np.all(np.isfinite(lpc[availc]))
    np.testing.assert_allclose(np.exp(lpc).sum(axis=1), 1.0, atol=1e-12)
    dc = cnl_derivatives(Vc, availc, chc, lamc, ALPHA, CNL, order=2)
    for arr in (dc.loglike, dc.d_v, dc.d_nest, dc.d_alpha, dc.h_vv, dc.h_vn, dc.h_nn):
        assert np.all(np.isfinite(arr))


def test_invalid_lambda_raises():
    V, avail, chosen = _nl_data(5)
    with pytest.raises(ValueError):
        nl_log_proba(V, avail, np.array([0.5, 0.0, 0.3]), TREE)
    with pytest.raises(ValueError):
        nl_derivatives(V, avail, chosen, np.array([0.5, -1.0, 0.3]), TREE)
    with pytest.raises(ValueError):
        cnl_log_proba(V[:, :6], avail[:, :6] | True, np.array([0.5, 0.2, -0.1]), ALPHA, CNL)


# --------------------------------------------------------------------------------------------
# Simulation of the MEV errors
# --------------------------------------------------------------------------------------------
N_SIM = 200_000
# Tolerance: 4 binomial standard errors sqrt(p(1-p)/n) per alternative.  With fixed seeds the
# test is deterministic; under the model a 4-SE excursion has probability ~6e-5 per
# alternative, so a correct sampler essentially never fails while a bias of ~0.5% is caught.


def _freq(V, eps):
    U = V[None, :] + eps
    return np.bincount(U.argmax(axis=1), minlength=V.size) / eps.shape[0]


def _assert_freq(freq, P, n=N_SIM, k=4.0):
    se = np.sqrt(P * (1 - P) / n)
    assert np.all(np.abs(freq - P) <= k * se + 1e-12), (freq, P, (freq - P) / se)


def test_simulation_two_level_nl():
    st = GevStructure.nested(5, [-1, -1], [0, 0, 0, -1, 1])
    lam = np.array([0.4, 0.4])
    V = np.array([0.3, 0.0, -0.4, 0.2, 0.1])
    eps = draw_nl_errors(N_SIM, st, lam, np.random.default_rng(123))
    P = np.exp(nl_log_proba(V[None], np.ones((1, 5), bool), lam, st))[0]
    _assert_freq(_freq(V, eps), P)


def test_simulation_three_level_nl():
    lam = np.array([0.8, 0.4, 0.5])
    V = np.array([0.2, 0.0, -0.3, 0.4, 0.1, -0.2, 0.3])
    eps = draw_nl_errors(N_SIM, TREE, lam, np.random.default_rng(7))
    P = np.exp(nl_log_proba(V[None], np.ones((1, 7), bool), lam, TREE))[0]
    _assert_freq(_freq(V, eps), P)


def test_simulation_cnl():
    V = np.array([0.2, 0.0, -0.3, 0.4, 0.1, -0.2])
    eps = draw_cnl_errors(N_SIM, CNL, CNL_LAM, ALPHA, np.random.default_rng(99))
    P = np.exp(cnl_log_proba(V[None], np.ones((1, 6), bool), CNL_LAM, ALPHA, CNL))[0]
    _assert_freq(_freq(V, eps), P)


def test_simulation_negative_control_iid_gumbel():
    # Two identical alternatives in a nest with lam = 0.4 plus one alone: NL gives
    # (0.284, 0.284, 0.431), MNL 1/3 each -- ~100 SE apart.  iid Gumbel must be rejected.
    st = GevStructure.nested(3, [-1], [0, 0, -1])
    V = np.zeros(3)
    P = np.exp(nl_log_proba(V[None], np.ones((1, 3), bool), np.array([0.4]), st))[0]
    eps = np.random.default_rng(5).gumbel(size=(N_SIM, 3))
    freq = _freq(V, eps)
    se = np.sqrt(P * (1 - P) / N_SIM)
    assert np.any(np.abs(freq - P) > 4 * se)
    # ... while the correct errors pass
    _assert_freq(_freq(V, draw_nl_errors(N_SIM, st, np.array([0.4]), np.random.default_rng(5))), P)


def _assert_std_gumbel(eps):
    # mean: SE = sqrt(pi^2/6 / n); variance: SE = sigma^2 sqrt((kurt - 1)/n), kurt = 5.4.
    n = eps.shape[0]
    var0 = np.pi**2 / 6
    se_mean = np.sqrt(var0 / n)
    se_var = var0 * np.sqrt(4.4 / n)
    assert np.all(np.abs(eps.mean(axis=0) - np.euler_gamma) < 5 * se_mean), eps.mean(axis=0)
    assert np.all(np.abs(eps.var(axis=0) - var0) < 5 * se_var), eps.var(axis=0)


def test_simulated_marginals_are_standard_gumbel():
    eps = draw_nl_errors(N_SIM, TREE, np.array([0.8, 0.3, 0.5]), np.random.default_rng(21))
    _assert_std_gumbel(eps)
    alpha = ALPHA / ALPHA.sum(axis=1, keepdims=True)  # rows sum to 1 -> standard marginals
    eps = draw_cnl_errors(N_SIM, CNL, CNL_LAM, alpha, np.random.default_rng(22))
    _assert_std_gumbel(eps)


def test_simulation_correlation_limits():
    st = GevStructure.nested(3, [-1], [0, 0, -1])
    eps1 = draw_nl_errors(50_000, st, np.array([1.0]), np.random.default_rng(1))
    c1 = np.corrcoef(eps1.T)
    assert np.all(np.abs(c1[np.triu_indices(3, 1)]) < 0.03)  # iid: |r| < ~7 SE (SE ~ 0.0045)
    eps2 = draw_nl_errors(50_000, st, np.array([0.01]), np.random.default_rng(2))
    c2 = np.corrcoef(eps2.T)
    assert c2[0, 1] > 0.99 and abs(c2[0, 2]) < 0.03  # corr = 1 - lam^2 within the nest
    with pytest.raises(ValueError):
        draw_nl_errors(10, TREE, np.array([0.5, 0.8, 0.5]), np.random.default_rng(0))
