"""Greene's TravelMode conditional logit (Econometric Analysis, Table 21.11).

Published values: Greene (2003), Table 21.11 as given in issue #2 and as replicated by mlogit /
statsmodels (tests/reference/greene_travelmode_table21_11.json). The data come with statsmodels
(`modechoice`), so these tests always run.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

import choicekit as ck

MODES = {1: "air", 2: "train", 3: "bus", 4: "car"}
# Greene (2003), Table 21.11: estimates and standard errors as printed (4-5 significant digits)
GREENE = {
    "ASC_AIR": (5.2074, 0.7791), "ASC_TRAIN": (3.8690, 0.4431), "ASC_BUS": (3.1632, 0.4503),
    "GC": (-0.01550, 0.00441), "TTME": (-0.09612, 0.01044), "HINC_AIR": (0.01329, 0.01026),
}
GREENE_LL = -199.128


def travelmode_long() -> pd.DataFrame:
    tm = ck.datasets.load_travelmode()
    return tm.assign(mode=tm["mode"].map(MODES), hinc_air=tm["hinc"] * (tm["mode"] == 1))


def greene_model_expr(data: ck.ChoiceData) -> ck.MNL:
    B, V = ck.Beta, ck.Var
    common = B("GC") * V("gc") + B("TTME") * V("ttme")
    return ck.MNL(data, {
        "air": B("ASC_AIR") + common + B("HINC_AIR") * V("hinc"),
        "train": B("ASC_TRAIN") + common,
        "bus": B("ASC_BUS") + common,
        "car": common,
    })


@pytest.fixture(scope="module")
def data() -> ck.ChoiceData:
    return ck.ChoiceData.from_long(travelmode_long(), case="individual", alt="mode",
                                   choice="choice")


def _half_unit_last_digit(x: float) -> float:
    """Half a unit in the last printed digit of a published number (its rounding error)."""
    s = f"{x:.10g}".rstrip("0")
    decimals = len(s.split(".")[1]) if "." in s else 0
    return 0.5 * 10.0 ** (-decimals) * 1.01


def test_greene_table_21_11_beta_var(data):
    res = greene_model_expr(data).fit()
    assert res.converged
    assert res.llf == pytest.approx(GREENE_LL, abs=0.0005 * 1.01)
    for name, (est, se) in GREENE.items():
        assert res.params[name] == pytest.approx(est, abs=_half_unit_last_digit(est)), name
        assert res.bse[name] == pytest.approx(se, abs=_half_unit_last_digit(se)), name
    assert res.nobs == 210


def test_greene_table_21_11_formula(data):
    res = ck.MNL.from_formula("choice ~ gc + ttme + hinc_air | 1", data,
                              reference="car").fit()
    mapping = {"ASC:air": "ASC_AIR", "ASC:train": "ASC_TRAIN", "ASC:bus": "ASC_BUS",
               "gc": "GC", "ttme": "TTME", "hinc_air": "HINC_AIR"}
    assert set(res.params.index) == set(mapping)
    assert res.llf == pytest.approx(GREENE_LL, abs=0.0005 * 1.01)
    for ours, greene in mapping.items():
        est, se = GREENE[greene]
        assert res.params[ours] == pytest.approx(est, abs=_half_unit_last_digit(est))
        assert res.bse[ours] == pytest.approx(se, abs=_half_unit_last_digit(se))
    # both front ends give the same fit
    expr = greene_model_expr(data).fit()
    np.testing.assert_allclose(res.params[list(mapping)].to_numpy(),
                               expr.params[list(mapping.values())].to_numpy(), rtol=1e-9)


def test_greene_reference_file_full_precision(data):
    """statsmodels' stored full-precision replication (from R mlogit).

    mlogit stops with g'(-H)^-1 g = 0.000234 (recorded in the file), so its printed estimates
    can differ from the exact maximum by up to sqrt(0.000234) * SE; the log-likelihood by
    about 0.000234 / 2.
    """
    ref = json.loads((REFERENCE / "greene_travelmode_table21_11.json").read_text())
    crit = ref["convergence_criterion_printed"]["value"]
    res = greene_model_expr(data).fit()
    names = {"gc": "GC", "ttme": "TTME", "air_const": "ASC_AIR", "hinc_air": "HINC_AIR",
             "train_const": "ASC_TRAIN", "bus_const": "ASC_BUS"}
    for key, ours in names.items():
        se = ref["std_errors_high_precision_statsmodels"][key]
        assert res.params[ours] == pytest.approx(ref["params_high_precision_statsmodels"][key],
                                                 abs=np.sqrt(crit) * se)
        assert res.bse[ours] == pytest.approx(se, rel=1e-3)
    assert res.llf == pytest.approx(ref["loglik_high_precision_statsmodels"], abs=crit)


def test_agrees_with_statsmodels_conditional_logit(data):
    """statsmodels' ConditionalLogit (grouped binary logit = McFadden's conditional logit)."""
    from statsmodels.discrete.conditional_models import ConditionalLogit

    df = travelmode_long()
    exog = pd.DataFrame({
        "ASC_AIR": (df["mode"] == "air").astype(float),
        "ASC_TRAIN": (df["mode"] == "train").astype(float),
        "ASC_BUS": (df["mode"] == "bus").astype(float),
        "GC": df["gc"].astype(float), "TTME": df["ttme"].astype(float),
        "HINC_AIR": df["hinc_air"].astype(float),
    })
    sm = ConditionalLogit(df["choice"].astype(float), exog, groups=df["individual"]).fit(
        method="newton", maxiter=100, gtol=1e-12, disp=False)
    ours = greene_model_expr(data).fit()
    np.testing.assert_allclose(ours.params[exog.columns], sm.params[exog.columns], rtol=1e-6)
    np.testing.assert_allclose(ours.bse[exog.columns], sm.bse[exog.columns], rtol=1e-6)
    assert ours.llf == pytest.approx(sm.llf, rel=1e-9)


def test_fit_statistics(data):
    res = greene_model_expr(data).fit()
    K, N = 6, 210
    assert res.llnull == pytest.approx(N * np.log(1 / 4))  # all four modes available
    assert res.rho_squared == pytest.approx(1 - res.llf / res.llnull)
    assert res.rho_squared_adj == pytest.approx(1 - (res.llf - K) / res.llnull)
    assert res.aic == pytest.approx(2 * K - 2 * res.llf)
    assert res.bic == pytest.approx(K * np.log(N) - 2 * res.llf)
    # statsmodels' stored AIC for the same model (reference file)
    ref = json.loads((REFERENCE / "greene_travelmode_table21_11.json").read_text())
    assert res.aic == pytest.approx(ref["goodness_of_fit"]["aic_statsmodels"], abs=1e-3)
