"""Recovery studies: the MLE recovers known parameters with honest standard errors.

Acceptance rules come from the sampling error of the study itself (Morris, White & Crowther
2019): the mean estimate within 3 Monte Carlo standard errors of the truth, and the empirical
coverage of 95% intervals inside the central 99.9% of Binomial(R, 0.95) -- a 0.1% level per
cell, so the 8 (correlated) cells of the main test fail together under the null with
probability below 1%. The negative controls show both rules reject a wrong truth.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import mc_scale
from scipy import stats

import choicekit as ck


@pytest.fixture(scope="module")
def synth():
    return ck.make_choice_data(2000, 3, rng=0)


@pytest.fixture(scope="module")
def study(synth):
    reps = max(50, int(200 * mc_scale()))
    return ck.recovery_study(synth, n_reps=reps, cov_type=["classical", "robust"], rng=12)


@pytest.mark.montecarlo
def test_bias_and_coverage(study, synth):
    """200 replications of 2,000 cases: unbiased, 95% coverage, classical and robust."""
    assert study.n_used == study.n_reps
    e = study.estimates_summary()
    pd.testing.assert_series_equal(e["true"], synth.params.rename("true"),
                                   check_names=False)
    assert (np.abs(e["bias"]) < 3 * e["bias_mcse"]).all(), e
    inf = study.inference_summary(band_level=0.999)
    assert set(inf.index.get_level_values("cov_type")) == {"classical", "robust"}
    assert inf["in_band"].all(), inf
    # the band is the binomial one, recomputed here from scipy
    R = study.n_used
    lo, hi = stats.binom.interval(0.999, R, 0.95)
    assert inf["band_lower"].iloc[0] == pytest.approx(lo / R)
    assert inf["band_upper"].iloc[0] == pytest.approx(hi / R)
    # standard errors track the sampling spread: ratio 1 within the MC error of the SD
    # (relative s.e. of a sample SD ~ 1/sqrt(2(R-1)); 4 of them)
    tol = 4 / np.sqrt(2 * (R - 1))
    assert (np.abs(inf["se_ratio"] - 1) < tol).all(), inf


@pytest.mark.montecarlo
def test_checks_have_power(study):
    """A wrong truth (true values x 1.15) fails both the bias and the coverage rule."""
    wrong = dataclasses.replace(study, true_params=study.true_params * 1.15)
    e = wrong.estimates_summary()
    assert (np.abs(e["bias"]) > 3 * e["bias_mcse"]).any()
    assert not wrong.inference_summary(band_level=0.999)["in_band"].all()


def test_summary_numbers_by_hand(study):
    est = study.estimates.to_numpy()
    truth = study.true_params.to_numpy()
    e = study.estimates_summary()
    np.testing.assert_allclose(e["mean"], est.mean(axis=0))
    np.testing.assert_allclose(e["rmse"], np.sqrt(((est - truth) ** 2).mean(axis=0)))
    np.testing.assert_allclose(e["bias_mcse"], est.std(axis=0, ddof=1) / np.sqrt(len(est)))
    se = study.std_errors["robust"].to_numpy()
    cover = (np.abs(est - truth) <= stats.norm.ppf(0.975) * se).mean(axis=0)
    np.testing.assert_allclose(study.inference_summary().loc["robust", "coverage"], cover)
    full = study.summary()
    assert list(full.index.names) == ["cov_type", "parameter"]
    assert {"bias", "rmse", "coverage", "se_ratio", "coverage_mcse"} <= set(full.columns)
    text = str(study)
    assert "Recovery study" in text and "coverage" in text and "ASC_2" in text
    assert repr(study).startswith("<RecoveryStudy")


def test_reproducible_from_one_seed(synth):
    before = np.random.get_state()  # noqa: NPY002 - the legacy global state is the subject
    a = ck.recovery_study(synth, n_reps=6, rng=5)
    b = ck.recovery_study(synth, n_reps=6, rng=5)
    c = ck.recovery_study(synth, n_reps=6, rng=6)
    after = np.random.get_state()  # noqa: NPY002
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    assert not np.allclose(a.estimates, c.estimates)
    assert a.seed_entropy == 5
    again = ck.recovery_study(synth, n_reps=6, rng=np.random.SeedSequence(a.seed_entropy))
    pd.testing.assert_frame_equal(a.estimates, again.estimates)
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]
    # replications are distinct draws
    assert len(np.unique(a.estimates["cost"])) == 6


def test_parallel_workers_give_the_same_numbers(synth):
    serial = ck.recovery_study(synth, n_reps=8, rng=9, cov_type="robust")
    parallel = ck.recovery_study(synth, n_reps=8, rng=9, cov_type="robust", n_jobs=2)
    pd.testing.assert_frame_equal(serial.estimates, parallel.estimates)
    pd.testing.assert_frame_equal(serial.std_errors["robust"], parallel.std_errors["robust"])


def test_progress_callback(synth):
    calls: list[tuple[int, int]] = []
    ck.recovery_study(synth, n_reps=7, rng=1, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (7, 7)
    done = [d for d, _ in calls]
    assert done == sorted(done)


def test_progress_bar_goes_to_stderr(synth, capsys):
    ck.recovery_study(synth, n_reps=3, rng=1, progress=True)
    out = capsys.readouterr()
    assert out.out == "" and "3/3" in out.err
    ck.recovery_study(synth, n_reps=3, rng=1)
    assert capsys.readouterr().err == ""


@pytest.mark.montecarlo
def test_cluster_and_opg_on_panel_and_scale():
    panel = ck.make_choice_data(1500, 3, choices_per_person=5, rng=4)
    reps = max(40, int(100 * mc_scale()))
    st = ck.recovery_study(panel, n_reps=reps, cov_type=["cluster", "opg"], rng=2, scale=1.5)
    # with scale mu the identified parameters are params / mu
    pd.testing.assert_series_equal(st.true_params, (panel.params / 1.5).rename("true"))
    e = st.estimates_summary()
    assert (np.abs(e["bias"]) < 3 * e["bias_mcse"]).all(), e
    assert st.inference_summary(band_level=0.999)["in_band"].all()


def test_model_and_params_input(synth):
    model = synth.model()
    st = ck.recovery_study(model, synth.params.to_dict(), n_reps=3, rng=0,
                           cov_type="classical", fit_options={"method": "bfgs"})
    assert st.cov_types == ["classical"] and st.estimates.shape == (3, 4)
    # a model on data without choices works too
    data = ck.ChoiceData.from_long(synth.frame.drop(columns="chosen"), case="case",
                                   alt="alt", availability="avail")
    st2 = ck.recovery_study(ck.MNL(data, synth.utilities), synth.params, n_reps=3, rng=0)
    pd.testing.assert_frame_equal(st2.estimates,
                                  ck.recovery_study(synth, n_reps=3, rng=0).estimates)


def test_failed_replications_are_left_out():
    # a rare third alternative: in many samples of 30 it is never chosen (separation)
    small = ck.make_choice_data(30, 3, params={"ASC_3": -4.0}, rng=0)
    with pytest.warns(ck.ChoiceKitWarning, match="replications were left out"):
        st = ck.recovery_study(small, n_reps=20, rng=1)
    assert 0 < st.n_used < st.n_reps
    assert st.messages and "left out" in st.messages[0]
    assert np.isfinite(st.estimates_summary()["mean"]).all()


def test_input_errors(synth):
    with pytest.raises(ck.SpecificationError, match="cov_type"):
        ck.recovery_study(synth, n_reps=3, cov_type="robst")
    with pytest.raises(ck.SpecificationError, match="n_reps"):
        ck.recovery_study(synth, n_reps=1)
    with pytest.raises(ck.SpecificationError, match="n_jobs"):
        ck.recovery_study(synth, n_reps=3, n_jobs=0)
    with pytest.raises(ck.SpecificationError, match="groups"):
        ck.recovery_study(synth, n_reps=3, cov_type="cluster")  # no panel: no clusters
    with pytest.raises(ck.SpecificationError, match="true parameter"):
        ck.recovery_study(synth.model(), n_reps=3)
    with pytest.raises(ck.SpecificationError, match="MNL"):
        ck.recovery_study("model", {"a": 1.0})
    with pytest.raises(ck.SpecificationError, match="rng"):
        ck.recovery_study(synth, n_reps=3, rng=-1)
