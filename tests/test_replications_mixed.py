"""Published mixed logits reproduced: mlogit's Electricity model (tests/reference/
mlogit_electricity_mxl.json), with mlogit's own Halton draws (exactly) and with ours (within
simulation noise)."""

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
