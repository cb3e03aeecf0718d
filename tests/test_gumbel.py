"""The logit derivation checks: they pass under Gumbel errors and fail for wrong hypotheses.

Where the numbers come from: softmax probabilities are cross-checked against the textbook
values of DESIGN.md and ``scipy.special.softmax``; the KS reference distributions are
``scipy.stats.logistic`` / ``gumbel_r``; Euler's gamma is ``numpy.euler_gamma``; the
logsum is recomputed with ``scipy.special.logsumexp``. Thresholds: "passes" means p > 1e-3
(a fixed seed; under the null that fails 0.1% of the time), "rejects" means p < 1e-6 as the
issue asks; per-cell deviations within 4 binomial standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import mc_scale
from scipy import special, stats

import choicekit as ck
from choicekit.simulation.gumbel import (
    DEFAULT_UTILITIES,
    EULER_GAMMA,
    frequency_check,
    iia_check,
    logistic_difference_check,
    max_utility_check,
    shift_invariance_check,
)

PASS, REJECT = 1e-3, 1e-6


def n_big() -> int:
    return int(1_000_000 * mc_scale())


def n_ks() -> int:
    return int(100_000 * mc_scale())


@pytest.mark.montecarlo
def test_frequencies_match_softmax_on_fixed_design():
    """10^6 draws per pattern: every cell within 4 binomial s.e., chi-square p not tiny."""
    f = frequency_check(DEFAULT_UTILITIES, n_draws=n_big(), rng=2024)
    t = f.table
    assert len(t) == 3 + 5 + 5 + 5 and f.df == 2 + 4 + 4 + 4
    # the probabilities are the softmax (scipy's, computed independently) ...
    for pattern in range(4):
        v = DEFAULT_UTILITIES[pattern]
        v = v[~np.isnan(v)]
        np.testing.assert_allclose(t.loc[pattern, "probability"], special.softmax(v),
                                   rtol=1e-12)
    # DESIGN.md's textbook values, published to 3 decimals
    np.testing.assert_allclose(t.loc[0, "probability"], [0.249, 0.664, 0.087], atol=5e-4)
    # ... and the frequencies match them
    assert (np.abs(t["z"]) < 4).all(), t
    se = np.sqrt(t["probability"] * (1 - t["probability"]) / f.n_draws)
    np.testing.assert_allclose(t["se"], se)
    assert f.chi2_pvalue > PASS and f.g_pvalue > PASS
    assert (t.groupby(level="pattern")["count"].sum() == f.n_draws).all()


@pytest.mark.montecarlo
def test_normal_errors_reject_the_softmax():
    """Negative control: normal errors with the Gumbel's variance are not logit."""
    f = frequency_check(DEFAULT_UTILITIES, n_draws=n_big(), rng=2024, error="normal")
    assert f.chi2_pvalue < REJECT and f.g_pvalue < REJECT
    assert f.max_abs_z > 4


@pytest.mark.montecarlo
def test_wrong_scale_rejects():
    """Frequencies simulated at scale 2 are softmax(V/2), not softmax(V)."""
    f = frequency_check(DEFAULT_UTILITIES, n_draws=n_big() // 4, rng=3, scale=2.0)
    assert f.chi2_pvalue > PASS
    counts = f.table["count"].to_numpy()
    v = [row[~np.isnan(row)] for row in DEFAULT_UTILITIES]
    p_wrong = np.concatenate([special.softmax(r) for r in v])
    E = p_wrong * f.n_draws
    chi2 = ((counts - E) ** 2 / E).sum()
    assert stats.chi2.sf(chi2, f.df) < REJECT


@pytest.mark.montecarlo
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_logistic_difference(scale):
    ok = logistic_difference_check(n_draws=n_ks(), rng=10, scale=scale)
    assert ok.pvalue > PASS and ok.n == n_ks()
    assert ok.sample.shape == (n_ks(),)
    # the same draws fail against a deliberately wrong location
    wrong = logistic_difference_check(n_draws=n_ks(), rng=10, scale=scale, loc=0.1 * scale)
    assert wrong.pvalue < REJECT
    np.testing.assert_array_equal(ok.sample, wrong.sample)
    # and normal errors (same variance) are not logistic
    normal = logistic_difference_check(n_draws=n_ks(), rng=10, scale=scale, error="normal")
    assert normal.pvalue < REJECT


@pytest.mark.montecarlo
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_max_is_gumbel_at_logsum(scale):
    v = np.array([0.25, 1.23, -0.8, 2.0])
    ok = max_utility_check(v, n_draws=n_ks(), rng=11, scale=scale)
    expected_loc = scale * special.logsumexp(v / scale)
    assert ok.logsum == pytest.approx(expected_loc, rel=1e-12)
    assert ok.expected_max == pytest.approx(expected_loc + np.euler_gamma * scale, rel=1e-12)
    assert ok.ks.pvalue > PASS
    assert abs(ok.mean_max - ok.expected_max) < 4 * ok.mean_max_se
    assert ok.pvalue > PASS
    # the mean's Monte Carlo s.e. is sd(Gumbel)/sqrt(n) = pi*mu/sqrt(6n); a sample SD has
    # relative s.e. sqrt((kurtosis - 1)/(4n)) with Gumbel kurtosis 5.4, 0.005 at n = 5e4,
    # so 3% is 6 of them
    assert ok.mean_max_se == pytest.approx(np.pi * scale / np.sqrt(6 * n_ks()), rel=0.03)
    wrong = max_utility_check(v, n_draws=n_ks(), rng=11, scale=scale,
                              loc=expected_loc + 0.1 * scale)
    assert wrong.ks.pvalue < REJECT and wrong.pvalue < REJECT
    normal = max_utility_check(v, n_draws=n_ks(), rng=11, scale=scale, error="normal")
    assert normal.ks.pvalue < REJECT


def test_max_check_respects_availability():
    v = np.array([0.0, np.nan, 1.0])
    r = max_utility_check(v, n_draws=1000, rng=0)
    assert r.logsum == pytest.approx(special.logsumexp([0.0, 1.0]))
    r2 = max_utility_check([0.0, 50.0, 1.0], [True, False, True], n_draws=1000, rng=0)
    assert r2.logsum == pytest.approx(r.logsum)


@pytest.mark.montecarlo
def test_shift_invariance():
    v = np.array([0.25, 1.23, -0.8])
    for error in ("gumbel", "normal"):  # holds for any additive error
        s = shift_invariance_check(v, shift=25.0, n_draws=n_big() // 4, rng=12, error=error)
        assert s.pvalue > PASS and s.df == 2
    s = shift_invariance_check(v, shift=25.0, n_draws=n_big() // 4, rng=12)
    np.testing.assert_allclose(s.frequencies["probability"], special.softmax(v))


@pytest.mark.montecarlo
def test_iia():
    v = np.array([0.25, 1.23, -0.8, 0.5])
    r = iia_check(v, a=0, b=1, removed=3, n_draws=n_big(), rng=13)
    assert r.ratio_theory == pytest.approx(np.exp(0.25 - 1.23))
    assert r.pvalue > PASS
    # the simulated odds estimate exp(Va - Vb); the log-odds s.e. sqrt(1/n_a + 1/n_b) is
    # about 0.004 at 5e5 draws (CI scale), so 0.02 is 5 s.e.
    assert abs(np.log(r.ratio_full) - np.log(r.ratio_theory)) < 0.02
    assert abs(np.log(r.ratio_reduced) - np.log(r.ratio_theory)) < 0.02
    # independent probit violates IIA: removing an alternative changes the odds
    probit = iia_check([0.25, 1.23, -0.8, 1.5], a=0, b=2, removed=3, n_draws=n_big(),
                       rng=13, error="normal")
    assert probit.pvalue < REJECT


@pytest.mark.montecarlo
def test_gumbel_check_report():
    rep = ck.gumbel_check(n_draws=n_big() // 5, n_draws_ks=n_ks(), rng=7)
    assert isinstance(rep, ck.GumbelCheck)
    tests = rep.tests
    assert len(tests) == 7 and (tests["pvalue"] > PASS).all(), tests
    assert rep.passed(alpha=PASS)
    text = str(rep)
    assert "Choice frequencies against softmax" in text
    assert "logsum + gamma" in text and "REJECT" not in text
    assert f"{rep.frequencies.n_draws:,} draws" in text
    assert repr(rep).startswith("<GumbelCheck error='gumbel'")
    neg = ck.gumbel_check(n_draws=n_big() // 5, n_draws_ks=n_ks(), rng=7, error="normal")
    assert not neg.passed(alpha=PASS)
    assert neg.frequencies.chi2_pvalue < REJECT
    assert "REJECT" in str(neg)
    # the shift check holds under any additive errors, the others do not
    assert neg.tests.loc["P(V + 10) = P(V) (chi2)", "pvalue"] > PASS
    assert EULER_GAMMA == pytest.approx(0.5772156649015329)


def test_gumbel_check_takes_model_utilities():
    sim = ck.make_choice_data(50, 4, rng=1)
    Vf = sim.model().utilities(sim.params).head(3)
    rep = ck.gumbel_check(Vf, n_draws=2000, n_draws_ks=500, rng=0)
    assert list(rep.frequencies.patterns.index) == list(Vf.index)
    tbl = rep.frequencies.table
    assert set(tbl.index.get_level_values("alternative")) == {1, 2, 3, 4}
    P = sim.model().predict_proba(sim.params).head(3)
    for case in Vf.index:
        np.testing.assert_allclose(tbl.loc[case, "probability"], P.loc[case], rtol=1e-10)


def test_gumbel_check_nan_marks_unavailable():
    V = pd.DataFrame([[0.0, np.nan, 1.0, 2.0]])
    f = frequency_check(V, n_draws=5000, rng=0)
    assert len(f.table) == 3 and f.df == 2
    assert 1 not in f.table.index.get_level_values("alternative")


def test_input_errors():
    with pytest.raises(ck.SpecificationError, match="error"):
        ck.gumbel_check(error="probit")
    with pytest.raises(ck.SpecificationError, match="at least 3"):
        ck.gumbel_check([[0.0, 1.0]])
    with pytest.raises(ck.SpecificationError, match="at least 2 alternatives"):
        frequency_check([[1.0]])
    with pytest.raises(ck.SpecificationError, match="three different"):
        iia_check([0.0, 1.0, 2.0], a=0, b=0, removed=2)
    with pytest.raises(ck.SpecificationError, match="n_draws"):
        logistic_difference_check(n_draws=1)
    with pytest.raises(ck.SpecificationError, match="alpha"):
        ck.gumbel_check(alpha=2.0)


def test_reproducible_and_global_state():
    before = np.random.get_state()  # noqa: NPY002 - the legacy global state is the subject
    a = ck.gumbel_check(n_draws=3000, n_draws_ks=1000, rng=4)
    b = ck.gumbel_check(n_draws=3000, n_draws_ks=1000, rng=4)
    c = ck.gumbel_check(n_draws=3000, n_draws_ks=1000, rng=5)
    after = np.random.get_state()  # noqa: NPY002
    pd.testing.assert_frame_equal(a.frequencies.table, b.frequencies.table)
    pd.testing.assert_frame_equal(a.tests, b.tests)
    assert not a.frequencies.table.equals(c.frequencies.table)
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]
