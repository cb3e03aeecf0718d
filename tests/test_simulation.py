"""Simulation of choices (MNL.simulate, simulate_choices/counts) and synthetic data.

Reference numbers do not come from choicekit's softmax: binary probabilities from
``scipy.special.expit``, the textbook softmax values of DESIGN.md, and exact facts (rows sum to
the number of draws, unavailable alternatives are never chosen). Monte Carlo tolerances are
4 binomial standard errors per cell (two-sided tail 6e-5 per cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import mc_scale
from scipy import special, stats

import choicekit as ck
from choicekit.simulation.choices import (
    BLOCK_ELEMENTS,
    as_generator,
    simulate_choices,
    simulate_counts,
    spawn_seeds,
)

B, V = ck.Beta, ck.Var


@pytest.fixture
def travel():
    """TravelMode (statsmodels copy, always present): 210 cases x 4 modes, weights added."""
    df = ck.datasets.load_travelmode()
    df = df.assign(w=(df["individual"] % 3 + 1).astype(float))
    data = ck.ChoiceData.from_long(df, case="individual", alt="mode", choice="choice",
                                   weight="w", group="psize")
    utils = {1: B("gc") * V("gc") / 100,
             2: B("ASC_2") + B("gc") * V("gc") / 100,
             3: B("ASC_3") + B("gc") * V("gc") / 100,
             4: B("ASC_4") + B("gc") * V("gc") / 100}
    return ck.MNL(data, utils)


PARAMS = {"gc": -1.5, "ASC_2": -0.5, "ASC_3": -0.3, "ASC_4": 0.4}


def test_simulate_keeps_everything_but_choices(travel):
    sim = travel.simulate(PARAMS, rng=1)
    data = travel.data
    assert isinstance(sim, ck.ChoiceData)
    assert sim.cases.equals(data.cases)
    assert sim.alternatives == data.alternatives
    pd.testing.assert_frame_equal(sim.availability, data.availability)
    pd.testing.assert_series_equal(sim.weight, data.weight)
    pd.testing.assert_series_equal(sim.group, data.group)
    np.testing.assert_array_equal(sim.variable("gc"), data.variable("gc"))
    assert sim.chosen.index.equals(data.cases)
    assert set(sim.chosen.unique()) <= set(data.alternatives)
    # the original data are untouched
    assert (data.chosen == ck.ChoiceData.from_long(
        ck.datasets.load_travelmode(), case="individual", alt="mode",
        choice="choice").chosen).all()


def test_seeds_reproduce_and_global_state_untouched(travel):
    before = np.random.get_state()  # noqa: NPY002 - the legacy global state is the subject
    a = travel.simulate(PARAMS, rng=7).chosen_array
    b = travel.simulate(PARAMS, rng=7).chosen_array
    c = travel.simulate(PARAMS, rng=8).chosen_array
    f = travel.simulate(PARAMS, rng=7, n_draws=50)
    g = travel.simulate(PARAMS, rng=7, n_draws=50)
    travel.simulate(PARAMS)  # rng=None: fresh entropy, still not the global state
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    pd.testing.assert_frame_equal(f, g)
    assert before[0] == after[0] and before[2:] == after[2:]
    np.testing.assert_array_equal(before[1], after[1])
    # a Generator is used as given (and advanced)
    gen = np.random.default_rng(7)
    np.testing.assert_array_equal(travel.simulate(PARAMS, rng=gen).chosen_array, a)
    assert (travel.simulate(PARAMS, rng=gen).chosen_array != a).any()


def test_bad_rng_and_options(travel):
    with pytest.raises(ck.SpecificationError, match="rng"):
        travel.simulate(PARAMS, rng="seed")
    with pytest.raises(ck.SpecificationError, match="non-negative"):
        as_generator(-1)
    with pytest.raises(ck.SpecificationError, match="scale"):
        travel.simulate(PARAMS, rng=0, scale=0.0)
    with pytest.raises(ck.SpecificationError, match="'gumbel', 'normal'"):
        travel.simulate(PARAMS, rng=0, error="probit")
    with pytest.raises(ck.SpecificationError, match="n_draws"):
        travel.simulate(PARAMS, rng=0, n_draws=0)
    with pytest.raises(ck.SpecificationError, match="missing"):
        travel.simulate({"gc": -1.0}, rng=0)


def test_unavailable_never_chosen():
    V_ = np.array([[5.0, 0.0, 9.0], [0.0, 1.0, 2.0]])
    avail = np.array([[True, True, False], [False, True, True]])
    counts = simulate_counts(V_, avail, n_draws=20_000, rng=0)
    assert counts[0, 2] == 0 and counts[1, 0] == 0
    np.testing.assert_array_equal(counts.sum(axis=1), [20_000, 20_000])
    big = np.tile(avail, (5000, 1))
    ch = simulate_choices(np.tile(V_, (5000, 1)), big, rng=1)
    assert big[np.arange(10_000), ch].all()
    with pytest.raises(ck.ChoiceDataError, match="No alternative is available"):
        simulate_choices(V_, np.zeros_like(avail), rng=0)


def test_counts_across_blocks_sum_exactly():
    # more case-draws than one block: every row still sums to n_draws
    n_draws = BLOCK_ELEMENTS // 3 + 12345
    counts = simulate_counts(np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]), n_draws=n_draws,
                             rng=3)
    np.testing.assert_array_equal(counts.sum(axis=1), [n_draws, n_draws])


@pytest.mark.montecarlo
@pytest.mark.parametrize("z", [-2.0, 0.3, 1.7])
def test_binary_choice_is_sigmoid(z):
    """P(1) = expit(V1 - V2) (scipy's logistic sigmoid), within 4 binomial s.e."""
    R = int(400_000 * mc_scale())
    counts = simulate_counts(np.array([[z, 0.0]]), n_draws=R, rng=11)
    p = special.expit(z)
    assert abs(counts[0, 0] / R - p) < 4 * np.sqrt(p * (1 - p) / R)


@pytest.mark.montecarlo
def test_textbook_softmax_and_huge_utilities():
    """DESIGN.md: softmax([0.25, 1.23, -0.8]) = [0.249, 0.664, 0.087]; [1000, 1001] is fine."""
    R = int(1_000_000 * mc_scale())
    f = simulate_counts(np.array([[0.25, 1.23, -0.8]]), n_draws=R, rng=5)[0] / R
    # published values are rounded to 3 decimals: allow 5e-4 rounding + 4 s.e.
    expected = np.array([0.249, 0.664, 0.087])
    assert np.all(np.abs(f - expected) < 5e-4 + 4 * np.sqrt(expected * (1 - expected) / R))
    f = simulate_counts(np.array([[1000.0, 1001.0]]), n_draws=R, rng=6)[0] / R
    p = special.expit(1.0)
    assert abs(f[1] - p) < 4 * np.sqrt(p * (1 - p) / R)


@pytest.mark.montecarlo
def test_frequencies_match_predict_proba_and_scale(travel):
    n_draws = int(4000 * mc_scale())
    freq = travel.simulate(PARAMS, rng=21, n_draws=n_draws)
    P = travel.predict_proba(PARAMS)
    assert freq.attrs["n_draws"] == n_draws
    assert freq.index.equals(P.index) and list(freq.columns) == list(P.columns)
    np.testing.assert_allclose(freq.sum(axis=1), 1.0)
    # 840 cells: per-cell bound at a Bonferroni family-wise level of 0.1%, and the aggregate
    # Pearson chi-square (df = sum over cases of available alternatives - 1) not tiny
    z_max = stats.norm.isf(0.001 / (2 * P.size))
    se = np.sqrt(P * (1 - P) / n_draws)
    assert (np.abs(freq - P) <= z_max * se + 1e-12).to_numpy().all()
    expected = P.to_numpy() * n_draws
    chi2 = ((freq.to_numpy() * n_draws - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, P.size - len(P)) > 1e-3
    # scale mu: probabilities are softmax(V / mu) -- the model at params / mu
    mu = 2.5
    scaled = {k: v / mu for k, v in PARAMS.items()}
    freq2 = travel.simulate(PARAMS, rng=22, n_draws=n_draws, scale=mu)
    P2 = travel.predict_proba(scaled)
    se2 = np.sqrt(P2 * (1 - P2) / n_draws)
    assert (np.abs(freq2 - P2) <= z_max * se2 + 1e-12).to_numpy().all()
    # and they differ from the unscaled probabilities: aggregate chi-square rejects
    counts = (freq2 * n_draws).to_numpy()
    expected = P.to_numpy() * n_draws
    mask = expected > 0
    chi2 = ((counts - expected)[mask] ** 2 / expected[mask]).sum()
    assert stats.chi2.sf(chi2, mask.sum() - len(P)) < 1e-6


def test_simulate_refuses_dropped_cases():
    df = ck.datasets.load_travelmode().astype({"gc": float})
    df.loc[0, "gc"] = np.nan
    data = ck.ChoiceData.from_long(df, case="individual", alt="mode", choice="choice")
    with pytest.warns(ck.DataWarning, match="dropped 1"):
        m = ck.MNL(data, {a: B("gc") * V("gc") for a in data.alternatives}, missing="drop")
    with pytest.raises(ck.ChoiceDataError, match="dropped 1 cases"):
        m.simulate({"gc": -0.01}, rng=0)
    # the recovery study refuses the same way (it simulates on the model's design)
    with pytest.raises(ck.ChoiceDataError, match="dropped 1 cases.*run the study"):
        ck.recovery_study(m, {"gc": -0.01}, n_reps=2, rng=0)


def test_spawn_seeds():
    root, kids = spawn_seeds(3, 4)
    assert root.entropy == 3 and len(kids) == 4
    a = [np.random.default_rng(k).random() for k in kids]
    b = [np.random.default_rng(k).random() for k in spawn_seeds(3, 4)[1]]
    assert a == b and len(set(a)) == 4
    with pytest.raises(ck.SpecificationError):
        spawn_seeds(-2, 3)


# ------------------------------------------------------------------ synthetic data
def test_make_choice_data_defaults_round_trip():
    sim = ck.make_choice_data(300, 3, rng=0)
    assert list(sim.params.index) == ["cost", "time", "ASC_2", "ASC_3"]
    np.testing.assert_allclose(sim.params.to_numpy(), [-1.0, -0.5, 0.5, -0.5])
    assert sim.data.n_cases == 300 and sim.data.alternatives == [1, 2, 3]
    assert len(sim.frame) == 900
    assert (sim.frame.groupby("case")["chosen"].sum() == 1).all()
    again = ck.ChoiceData.from_long(sim.frame, case="case", alt="alt", choice="chosen",
                                    availability="avail")
    np.testing.assert_array_equal(again.chosen_array, sim.data.chosen_array)
    # attributes: uniform(0, 3) cost, normal(1, 0.5) time
    assert sim.frame["cost"].between(0, 3).all()
    assert abs(sim.frame["time"].mean() - 1.0) < 4 * 0.5 / np.sqrt(900)
    res = sim.model().fit()
    assert res.converged
    assert list(res.params.index) == list(sim.params.index)


def test_make_choice_data_reproducible():
    a = ck.make_choice_data(200, 4, rng=5)
    b = ck.make_choice_data(200, 4, rng=5)
    c = ck.make_choice_data(200, 4, rng=6)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not a.frame.equals(c.frame)


def test_make_choice_data_panel_availability_and_case_attributes():
    sim = ck.make_choice_data(
        3000, ["car", "bus", "train"],
        attributes={"cost": {"car": ("uniform", 2, 4), "bus": 1.0,
                             "train": stats.gamma(2.0, scale=1.0)},
                    "time": lambda rng, size: rng.normal(2.0, 1.0, size)},
        params={"cost": -0.8, "time": -0.4, "income:bus": -0.5, "income:train": 0.2},
        case_attributes={"income": ("lognormal", 0.0, 0.3)},
        availability=0.7, choices_per_person=6, rng=3)
    f = sim.frame
    assert set(sim.params.index) == {"cost", "time", "ASC_bus", "ASC_train", "income:bus",
                                     "income:train"}
    assert sim.data.group is not None
    assert f.groupby("person")["case"].nunique().max() == 6
    assert f.groupby("person")["income"].nunique().max() == 1  # drawn per person
    assert (f.loc[f["alt"] == "bus", "cost"] == 1.0).all()
    assert f.loc[f["alt"] == "car", "cost"].between(2, 4).all()
    # availability: each alternative w.p. 0.7, a case with none gets one back
    rate = f["avail"].mean()
    p = 0.7 + 0.3 ** 3 / 3  # expected share after the repair
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / len(f))
    assert (f.groupby("case")["avail"].sum() >= 1).all()
    chosen_rows = f[f["chosen"] == 1]
    assert (chosen_rows["avail"] == 1).all()
    with pytest.warns(ck.DataWarning, match="single available alternative"):
        model = sim.model()
    res = model.fit(cov_type="cluster")
    assert res.converged


def test_make_choice_data_errors():
    with pytest.raises(ck.SpecificationError, match="True values are missing"):
        ck.make_choice_data(10, 3, attributes={"x": ("normal", 0, 1)}, rng=0)
    with pytest.raises(ck.SpecificationError, match="unknown parameters"):
        ck.make_choice_data(10, 3, params={"cots": -1.0}, rng=0)
    with pytest.raises(ck.SpecificationError, match="Unknown distribution"):
        ck.make_choice_data(10, 3, attributes={"x": ("cauchy", 0, 1)}, params={"x": 1.0})
    with pytest.raises(ck.SpecificationError, match="availability"):
        ck.make_choice_data(10, 3, availability=0.0)
    with pytest.raises(ck.SpecificationError, match="at least 2"):
        ck.make_choice_data(10, 1)
    with pytest.raises(ck.SpecificationError, match="needs exactly the alternatives"):
        ck.make_choice_data(10, 2, attributes={"x": {1: 0.0}}, params={"x": 1.0})
