"""Agreement with statsmodels' MNLogit on a model with case-specific variables only.

statsmodels' MNLogit is the multinomial logit with alternative-specific coefficients on
case-level variables; our formula ``y ~ 0 | x1 + x2`` (constants included) is the same model,
with the first alternative as the base. Covariances: classical (inverse Hessian), robust (HC0
sandwich) and cluster (statsmodels multiplies the G/(G-1) meat by (N-1)/(N-K) as well, K =
number of estimated parameters; we apply only G/(G-1), so that factor is divided out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import choicekit as ck


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    rng = np.random.default_rng(20261122)
    n = 600
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 3, n)
    V = np.column_stack([np.zeros(n), 0.3 + 0.8 * x1 - 0.2 * x2, -0.5 + 0.1 * x1 + 0.6 * x2])
    y = (V + rng.gumbel(size=V.shape)).argmax(axis=1)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "person": rng.integers(0, 150, n)})


@pytest.fixture(scope="module")
def fits(wide):
    data = ck.ChoiceData.from_wide(wide, choice="y", alternatives={0: "a", 1: "b", 2: "c"},
                                   group="person")
    ours = ck.MNL.from_formula("y ~ 0 | x1 + x2", data, reference="a").fit()
    exog = sm.add_constant(wide[["x1", "x2"]])
    smod = sm.MNLogit(wide["y"], exog)
    return ours, smod


def _sm_order(names=("const", "x1", "x2"), alts=("b", "c")):
    """Our labels in statsmodels' params order (columns = non-base alternatives)."""
    lab = {"const": "ASC:{a}", "x1": "x1:{a}", "x2": "x2:{a}"}
    return [lab[v].format(a=a) for a in alts for v in names]


#: both fit the same maximum (statsmodels to tol 1e-12, ours to Newton steps below 1e-10
#: relative); 1e-6 leaves room for statsmodels' own stopping rule and covariance arithmetic
RTOL = 1e-6


def _flat(frame: pd.DataFrame) -> np.ndarray:
    return frame.to_numpy().T.ravel()  # column (alternative) by column


def test_params_and_classical_se(fits):
    ours, smod = fits
    r = smod.fit(method="newton", maxiter=100, disp=False, tol=1e-12)
    order = _sm_order()
    np.testing.assert_allclose(ours.params[order], _flat(r.params), rtol=RTOL)
    np.testing.assert_allclose(ours.bse[order], _flat(r.bse), rtol=RTOL)
    assert ours.llf == pytest.approx(r.llf, rel=1e-10)


def test_robust_matches_hc0(fits):
    ours, smod = fits
    r = smod.fit(method="newton", maxiter=100, disp=False, tol=1e-12, cov_type="HC0")
    rob = ours.with_cov("robust")
    np.testing.assert_allclose(rob.bse[_sm_order()], _flat(r.bse), rtol=RTOL)
    assert not np.allclose(rob.bse, ours.bse)  # a different estimator, not a relabel


def test_cluster_matches_statsmodels(fits, wide):
    ours, smod = fits
    groups = wide["person"].to_numpy()
    fit = dict(method="newton", maxiter=100, disp=False, tol=1e-12, cov_type="cluster")
    r = smod.fit(**fit, cov_kwds={"groups": groups})
    r_plain = smod.fit(**fit, cov_kwds={"groups": groups, "use_correction": False})
    N, K, G = len(wide), 6, len(np.unique(groups))
    cl = ours.with_cov("cluster")  # the data's group column
    # statsmodels default: G/(G-1) * (N-1)/(N-K); use_correction=False: no factor at all
    np.testing.assert_allclose(cl.bse[_sm_order()] ** 2,
                               _flat(r.bse) ** 2 / ((N - 1) / (N - K)), rtol=RTOL)
    np.testing.assert_allclose(cl.bse[_sm_order()] ** 2, _flat(r_plain.bse) ** 2 * G / (G - 1),
                               rtol=RTOL)
    unscaled = ours.with_cov("cluster", small_sample=False)
    np.testing.assert_allclose(unscaled.bse[_sm_order()], _flat(r_plain.bse), rtol=RTOL)
    # explicit groups give the same thing, as a column name or as values
    np.testing.assert_allclose(ours.with_cov("cluster", groups=groups).bse, cl.bse)
    np.testing.assert_allclose(ours.with_cov("cluster", groups="person").bse, cl.bse)


def test_opg_is_bhhh(fits):
    ours, _ = fits
    s = ours.model.score_obs(ours.params).to_numpy()
    np.testing.assert_allclose(ours.with_cov("opg").cov_params().to_numpy(),
                               np.linalg.inv(s.T @ s), rtol=1e-8)
