"""Bootstrap: reproducible from a seed whatever the workers; bootstrap standard errors agree
with the asymptotic ones; cluster resampling keeps clusters whole; derived quantities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _postest_helpers import SIM_UTILS, sim_data
from conftest import mc_scale

import choicekit as ck

B, V = ck.Beta, ck.Var


@pytest.fixture(scope="module")
def res() -> ck.MNLResults:
    data = sim_data(ck.datasets.load_simulated_modechoice(), group="person")
    return ck.MNL(data, SIM_UTILS).fit()


def vot(r: ck.MNLResults) -> pd.Series:
    return r.wtp("B_TIME", "B_COST", scale=60)["wtp"]


def test_reproducible_and_worker_independent(res):
    a = res.bootstrap(6, rng=5, func=vot)
    b = res.bootstrap(6, rng=5, func=vot, workers=3)
    c = res.bootstrap(6, rng=6)
    pd.testing.assert_frame_equal(a.params, b.params)
    pd.testing.assert_frame_equal(a.statistics, b.statistics)
    assert not np.allclose(a.params.to_numpy(), c.params.to_numpy())
    assert a.n_boot == 6 and a.n_failed == 0 and a.scheme == "case"
    # the statistic is the function of each replicate's estimates
    np.testing.assert_allclose(a.statistics["B_TIME"],
                               60 * a.params["B_TIME"] / a.params["B_COST"], rtol=1e-13)
    assert a.estimate["B_TIME"] == res.params["B_TIME"]
    assert a.statistics_estimate["B_TIME"] == pytest.approx(vot(res)["B_TIME"], rel=1e-14)


def test_cluster_resampling_keeps_clusters(res):
    """Each cluster replicate has a multiple of 6 cases (6 choices per person), a case
    replicate almost surely does not... both have N cases on average."""
    out = res.bootstrap(3, cluster=True, rng=1, func=lambda r: r.nobs)
    assert out.scheme == "cluster"
    assert (out.statistics.iloc[:, 0] % 6 == 0).all()
    assert out.cov().shape == (4, 4)
    with pytest.raises(ck.SpecificationError, match="n_boot"):
        res.bootstrap(1)
    with pytest.raises(ck.SpecificationError, match="workers"):
        res.bootstrap(3, workers=0)


@pytest.mark.montecarlo
def test_bootstrap_se_agree_with_asymptotic(res):
    """Case bootstrap SEs vs the robust (sandwich) SEs, which the case bootstrap estimates:
    a bootstrap SD from B replicates has relative error about 1/sqrt(2B); tolerance 4 of
    those plus 5% for the finite-sample difference between the two estimators."""
    n_boot = int(400 * mc_scale())
    out = res.bootstrap(n_boot, rng=2026, workers=2)
    robust = res.with_cov("robust").bse
    np.testing.assert_allclose(out.se(), robust[out.se().index],
                               rtol=4 / np.sqrt(2 * n_boot) + 0.05)
    ci = out.conf_int(0.1)
    assert (ci["lower"] < res.params).all() and (res.params < ci["upper"]).all()


def test_bootstrap_covariance_flows_into_results(res):
    out = res.bootstrap(5, rng=3)
    r = out.results
    assert r.cov_type == "bootstrap"
    np.testing.assert_allclose(r.cov_params().to_numpy(), out.cov().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(r.bse, out.se(), rtol=1e-12)
    assert r.params.equals(res.params)
    assert "bootstrap" in str(r.summary())
    # the delta method for a WTP then uses the bootstrap covariance
    w = r.wtp("B_TIME", "B_COST")
    a, c = res.params["B_TIME"], res.params["B_COST"]
    C = out.cov()
    g = np.array([1 / c, -a / c**2])
    V = C.loc[["B_TIME", "B_COST"], ["B_TIME", "B_COST"]].to_numpy()
    assert w.loc["B_TIME", "se"] == pytest.approx(np.sqrt(g @ V @ g), rel=1e-12)
