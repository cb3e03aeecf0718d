"""The compiled per-unit pass of the mixed logit (choicekit/families/mixed/_mxl_pass.c) against
its NumPy reference: the same log-likelihoods and scores (per unit and summed) on a panel with
availability holes, weights, a normal and a lognormal coefficient, in blocks of any size."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from family_models import mixed_model, mixed_utilities, panel_data  # noqa: E402

import choicekit as ck  # noqa: E402
from choicekit.families.mixed import native  # noqa: E402
from choicekit.families.mixed.family import MixedFamily  # noqa: E402

pytestmark = pytest.mark.skipif(not native.available(),
                                reason="the compiled mixed logit pass is not built")


def _pair(model, **options):  # compiled, NumPy
    base = model.family()
    args = model._family_arguments()
    return (MixedFamily(base.design, **args, use_native=True, **options),
            MixedFamily(base.design, **args, use_native=False, **options))


@pytest.mark.parametrize("panel", [True, False])
@pytest.mark.parametrize("chunk", [None, 7])
def test_compiled_pass_equals_numpy(panel, chunk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit(panel_data(), mixed_utilities(), n_draws=40, panel=panel, rng=3)
    fc, fn = _pair(m, chunk_size=chunk)
    theta = m.params_vector(m.mnl_start()) + np.random.default_rng(1).normal(
        scale=0.2, size=len(m.param_names))
    sc, sn = fc.sums(theta, slice(None), 1), fn.sums(theta, slice(None), 1)
    assert sc.loglike == pytest.approx(sn.loglike, rel=1e-12)
    np.testing.assert_allclose(sc.score, sn.score, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fc.score_obs(theta), fn.score_obs(theta), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(fc.unit_loglike(theta), fn.unit_loglike(theta), rtol=1e-12)


def test_compiled_pass_survives_extreme_utilities():
    m = mixed_model(n_draws=20)
    fc, fn = _pair(m)
    theta = m.params_vector(m.mnl_start()) * 40.0  # utilities in the hundreds
    a, b = fc.unit_loglike(theta), fn.unit_loglike(theta)
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_numpy_fallback_when_switched_off(monkeypatch):
    monkeypatch.setenv("CHOICEKIT_NATIVE", "0")
    assert not native.available()
    m = mixed_model(n_draws=20)
    assert m.family().use_native is False


@pytest.mark.parametrize("panel", [True, False])
def test_analytic_hessian_is_the_derivative_of_the_score(panel):
    """The compiled pass's per-draw information gives the Hessian (normal and lognormal
    coefficients, unit weights): central differences of the analytic score agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit(panel_data(), mixed_utilities(), n_draws=30, panel=panel, rng=2)
    fam, _ = _pair(m, chunk_size=9)  # several blocks, two threads
    assert fam.analytic_hessian
    theta = m.params_vector(m.mnl_start()) + np.random.default_rng(4).normal(
        scale=0.2, size=len(m.param_names))
    H = fam.sums(theta, slice(None), 2).hessian
    K = len(theta)
    fd = np.empty((K, K))
    for k in range(K):
        e = np.zeros(K)
        e[k] = 1e-5
        fd[:, k] = (fam.sums(theta + e, slice(None), 1).score
                    - fam.sums(theta - e, slice(None), 1).score) / 2e-5
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def _cholesky_utilities() -> dict:
    """Two correlated normal coefficients (a Cholesky term shares draw d1) and a constant."""
    B, V, D = ck.Beta, ck.Var, ck.Draw
    b1 = B("B1") + B("L11") * D("d1")
    b2 = B("B2") + B("L21") * D("d1") + B("L22") * D("d2")
    u = mixed_utilities()
    return {alt: (B(f"ASC_{alt}") if alt != "e" else 0.0) + b1 * V("x1") + b2 * V("x2")
            for alt in u}


@pytest.mark.parametrize("utilities", [mixed_utilities, _cholesky_utilities])
def test_fused_hessian_pass_equals_dense_chain_rule(utilities):
    """The Hessian pass that applies the chain rule inside the compiled loop (sparse Jacobian)
    gives the per-unit log-likelihoods, scores and Hessians of the dense-Jacobian reference
    (fixed, normal, correlated and lognormal coefficients; several blocks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit(panel_data(), utilities(), n_draws=30, panel=True, rng=2)
    fam, _ = _pair(m, chunk_size=9)
    theta = m.params_vector(m.mnl_start()) + np.random.default_rng(5).normal(
        scale=0.2, size=len(m.param_names))
    blocks = fam._sub_blocks(slice(None), 2)
    assert len(blocks) > 1
    for b in blocks:
        fused = fam._unit_hessian_native(theta, b)
        ref = fam._unit_hessian_reference(theta, b)
        for a, r in zip(fused, ref):
            np.testing.assert_allclose(a, r, rtol=1e-11, atol=1e-11 * max(1.0, np.abs(r).max()))
