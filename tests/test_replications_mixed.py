"""Published mixed logits reproduced: mlogit's Electricity model (tests/reference/
mlogit_electricity_mxl.json), with mlogit's own Halton draws (exactly) and with ours (within
simulation noise); mlogit's Train (Netherlands) models with correlated normal coefficients
(tests/reference/mlogit_train_mxl.json), with mlogit's draws."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from scipy.special import ndtri

import choicekit as ck

VARS = ["pf", "cl", "loc", "wk", "tod", "seas"]
REF = json.loads((REFERENCE / "mlogit_electricity_mxl.json").read_text())
TRAIN = json.loads((REFERENCE / "mlogit_train_mxl.json").read_text())
TRAIN_RANDOM = ["time", "change", "comfort"]


def mlogit_halton(prime: int, length: int, drop: int = 100) -> np.ndarray:
    """mlogit's Halton sequence: starts at 0, first ``drop`` values dropped."""
    halt = np.array([0.0])
    t = 0
    while len(halt) < length + drop:
        t += 1
        halt = np.concatenate([halt] + [halt + k / prime**t for k in range(1, prime)])
    return halt[drop:drop + length]


@pytest.fixture(scope="module")
def electricity():
    from conftest import SHARED_DATA

    path = SHARED_DATA / "electricity.csv"
    if not path.is_file():
        pytest.skip("electricity.csv not found")
    df = pd.read_csv(path)
    df["case"] = np.arange(len(df))
    return ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={j: str(j) for j in range(1, 5)},
        variables={v: {str(j): f"{v}{j}" for j in range(1, 5)} for v in VARS}, group="id")


def _model(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        return ck.MixedLogit.from_formula("choice ~ pf + cl + loc + wk + tod + seas | 0", data,
                                          random={v: "n" for v in VARS}, **kw)


def _mlogit_draws(n: int = 361, R: int = 100) -> dict:
    return {v: ndtri(mlogit_halton(p, n * R)).reshape(n, R)
            for v, p in zip(VARS, [2, 3, 5, 7, 11, 13])}


def test_loglike_at_published_estimates_with_mlogits_draws(electricity):
    m = _model(electricity, draws=_mlogit_draws())
    assert m.loglike(REF["params"]) == pytest.approx(REF["loglik"], abs=1e-3)


def test_fit_with_mlogits_draws_reproduces_the_estimates(electricity):
    res = _model(electricity, draws=_mlogit_draws()).fit()
    assert res.converged and res.nobs == 361
    np.testing.assert_allclose(res.params[list(REF["params"])], list(REF["params"].values()),
                               rtol=1e-4)
    assert res.llf == pytest.approx(REF["loglik"], abs=1e-3)


@pytest.mark.montecarlo
def test_fit_with_our_draws_is_within_simulation_noise(electricity):
    res = _model(electricity, n_draws=100, draws="halton", rng=0).fit()
    ref = pd.Series(REF["params"])
    rel = (res.params[ref.index].abs() - ref.abs()).abs() / ref.abs()
    means = [v for v in ref.index if not v.startswith("sd:")]
    assert rel[means].max() < 0.10
    assert rel.drop(means).max() < 0.25  # spreads: 100 draws in 6 dimensions are noisy
    assert abs(res.llf - REF["loglik"]) < 40


# ---------------------------------------------------------------- Train (Netherlands), c5


@pytest.fixture(scope="module")
def train():
    """mlogit's Tr: every attribute sign-reversed (opposite=), price in euros, time in hours."""
    from conftest import SHARED_DATA

    path = SHARED_DATA / "train_netherlands.csv"
    if not path.is_file():
        pytest.skip("train_netherlands.csv not found")
    df = pd.read_csv(path)
    for a in "AB":
        df[f"price_{a}"] = -df[f"price_{a}"] / 100 * 2.20371
        df[f"time_{a}"] = -df[f"time_{a}"] / 60
        df[f"change_{a}"] = -df[f"change_{a}"]
        df[f"comfort_{a}"] = -df[f"comfort_{a}"]
    return ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={"A": "A", "B": "B"},
        variables={v: {a: f"{v}_{a}" for a in "AB"} for v in ["price", *TRAIN_RANDOM]},
        group="id", case="choiceid")


def _train_fit(data, correlated, primes_order):
    n, R = data.group.nunique(), 100
    draws = {v: ndtri(mlogit_halton(p, n * R)).reshape(n, R)
             for v, p in zip(primes_order, [2, 3, 5])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        m = ck.MixedLogit.from_formula("choice ~ price + time + change + comfort | 0", data,
                                       random={v: "n" for v in TRAIN_RANDOM},
                                       correlated=correlated, draws=draws)
    res = m.fit()
    assert res.converged and res.nobs == 235
    return res


def _covariance(params, names):
    """C C' from the Cholesky entries chol:row:column."""
    L = np.zeros((len(names), len(names)))
    for i, x in enumerate(names):
        for j in range(i + 1):
            L[i, j] = params[f"chol:{x}:{names[j]}"]
    return L @ L.T


def test_train_correlated_mixed_logit_with_mlogits_draws(train):
    """Train.mxlc: the mean of time, the WTP of time (its mean and SD over the draws, as
    rpar(..., norm = 'price')), the covariance matrix of the random parameters, their SDs and
    correlations, and the LR tests against the MNL and the uncorrelated model."""
    ref, tol = TRAIN["mxlc"], 5e-4
    res = _train_fit(train, True, TRAIN_RANDOM)
    p = res.params
    assert p["time"] == pytest.approx(ref["rpar_time"]["mean"], rel=tol)
    S = _covariance(p, TRAIN_RANDOM)
    np.testing.assert_allclose(S, ref["cov_rpar"]["matrix"], rtol=tol, atol=tol)
    sd = np.sqrt(np.diag(S))
    np.testing.assert_allclose(sd, [ref["stdev"][v] for v in TRAIN_RANDOM], rtol=tol)
    cor = S / np.outer(sd, sd)
    for key, value in ref["cor"].items():
        a, b = (TRAIN_RANDOM.index(v) for v in key.split(":"))
        assert cor[a, b] == pytest.approx(value, abs=tol)
    # the price coefficient is fixed: the WTP of time is normal with mean time / price and SD
    # sd(time) / price (rpar(..., norm = "price") computes these, not averages over draws)
    pub = ref["wtp_time_norm_price"]
    assert p["time"] / p["price"] == pytest.approx(pub["mean"], rel=tol)
    assert sd[0] / p["price"] == pytest.approx(pub["sd"], rel=tol)
    # res.wtp averages over the 235 x 100 draws: within their sampling error of that
    wtp = res.wtp("time", "price")
    n_draws = 235 * 100
    assert abs(wtp.loc["time", "wtp"] - pub["mean"]) < 3 * pub["sd"] / np.sqrt(n_draws)
    assert abs(wtp.loc["time", "sd"] - pub["sd"]) < 3 * pub["sd"] / np.sqrt(2 * n_draws)
    # LR statistics: the printed 3 decimals (half the last digit, 1e-3 relative slack)
    mnl = ck.MNL.from_formula("choice ~ price + time + change + comfort | 0", train).fit()
    unc = _train_fit(train, False, TRAIN_RANDOM)
    for stat, value in [(2 * (res.llf - mnl.llf), TRAIN["tests"]["lr_mxlc_vs_ml"]),
                        (2 * (res.llf - unc.llf), TRAIN["tests"]["lr_mxlc_vs_mxlu"])]:
        assert abs(stat - value) <= 5e-4 + 1e-3 * abs(value)


def test_train_partly_correlated_mixed_logit_with_mlogits_draws(train):
    """Train.mxlc2 (time and comfort correlated, change not): mlogit draws the uncorrelated
    random parameters' Halton primes first (change 2, time 3, comfort 5)."""
    ref, tol = TRAIN["mxlc2"], 5e-4
    res = _train_fit(train, ["time", "comfort"], ["change", "time", "comfort"])
    S = _covariance(res.params, ["time", "comfort"])
    sd = np.sqrt(np.diag(S))
    np.testing.assert_allclose(sd, [ref["sd"]["time"], ref["sd"]["comfort"]], rtol=tol)
    assert S[0, 1] / (sd[0] * sd[1]) == pytest.approx(ref["cor"]["time:comfort"], abs=tol)
