"""Mixed-logit truths in make_choice_data and recovery_study: random coefficients drawn once
per person, then a Monte Carlo study (sized by mc_scale) showing unbiased means and spreads and
standard errors that match the spread of the estimates."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from conftest import mc_scale

import choicekit as ck


def _sim(persons: int, rng: int = 0):
    return ck.make_choice_data(
        persons * 6, 3, choices_per_person=6, random={"time": "n", "cost": "ln"},
        params={"time": -1.0, "sd:time": 0.8, "cost": 0.0, "sd:cost": 0.5},
        attributes={"time": ("normal", 0, 1), "cost": ("uniform", -2, 0)}, rng=rng)


def test_make_choice_data_with_random_coefficients():
    sim = _sim(200)
    assert set(sim.params.index) == {"time", "sd:time", "cost", "sd:cost", "ASC_2", "ASC_3"}
    m = sim.model(n_draws=50)
    assert isinstance(m, ck.MixedLogit) and m.panel and m.n_draws == 50
    assert sim.data.group is not None and sim.random == {"time": "n", "cost": "ln"}
    # a normal spread defaults to half the mean's magnitude
    d = ck.make_choice_data(60, 3, choices_per_person=3, random={"time": "u"}, rng=1)
    assert d.params["sd:time"] == pytest.approx(0.5 * abs(d.params["time"]))
    assert isinstance(d.model(), ck.MixedLogit)
    cross = ck.make_choice_data(60, 3, random={"time": "n"}, rng=1)
    assert not cross.model().panel  # no persons: a draw per case
    with pytest.raises(ck.SpecificationError, match="not an attribute"):
        ck.make_choice_data(60, 3, random={"nope": "n"})
    with pytest.raises(ck.SpecificationError, match="must be one of"):
        ck.make_choice_data(60, 3, random={"time": "x"})
    with pytest.raises(ck.SpecificationError, match="missing"):
        ck.make_choice_data(60, 3, random={"time": "ln"})  # a log-location needs a value


def test_choices_follow_the_persons_coefficients():
    """The heterogeneity is in the data: the mixed logit of the truth finds the spread."""
    sim = _sim(400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        res = sim.model(n_draws=100).fit()
    assert res.converged
    assert abs(res.params["sd:time"]) == pytest.approx(0.8, abs=0.25)


@pytest.mark.montecarlo
def test_recovery_of_a_mixed_logit():
    n_reps = max(20, int(40 * mc_scale()))
    sim = _sim(1500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.MixedLogitWarning)
        study = ck.recovery_study(sim.model(n_draws=100), sim.params, n_reps=n_reps, rng=1,
                                  cov_type=("classical", "robust"))
    assert study.n_used == n_reps
    # a spread's sign is not identified (z and -z have one law): its estimand is |sd|
    est = study.estimates.copy()
    spreads = [c for c in est.columns if c.startswith("sd:")]
    est[spreads] = est[spreads].abs()
    study = dataclasses.replace(study, estimates=est)
    e = study.estimates_summary()
    assert (np.abs(e["bias"]) < 3.5 * e["bias_mcse"]).all(), e
    inf = study.inference_summary(band_level=0.999)
    assert inf["in_band"].all(), inf
    R = study.n_used
    tol = 4.5 / np.sqrt(2 * (R - 1))
    assert (np.abs(inf["se_ratio"] - 1) < tol).all(), inf
