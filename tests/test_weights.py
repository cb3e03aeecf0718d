"""Weighted estimation: what the weights mean (sampling vs frequency) decides the covariance.

* sampling weights (WESML, Manski and Lerman 1977): rescaling them changes no reported standard
  error (before: classical SEs shrank by sqrt(c) when the weights were multiplied by c), and fits
  default to the robust sandwich;
* frequency weights: the fit equals the fit on the replicated rows, every covariance included.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import choicekit as ck

B, V = ck.Beta, ck.Var
ALTS = {1: "train", 2: "bus", 3: "car"}
AV = {"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"}
UTILS = {
    "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
             + B("B_COST") * V("TRAIN_COST") / 100,
    "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
    "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100,
}
COV_TYPES = ("classical", "robust", "opg", "cluster")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = ck.datasets.load_simulated_modechoice().iloc[:1200].copy()
    rng = np.random.default_rng(16)
    df["w"] = rng.uniform(0.2, 3.0, len(df))          # sampling weights: not integers
    df["n"] = rng.integers(1, 4, len(df))             # frequency weights: counts 1..3
    return df


def fit(df: pd.DataFrame, weight: str | None, **kw) -> ck.MNLResults:
    wtype = kw.pop("weight_type", None)
    data = ck.ChoiceData.from_wide(df, choice="CHOICE", alternatives=ALTS, availability=AV,
                                   weight=weight, group="person", case="case",
                                   weight_type=wtype)
    return ck.MNL(data, UTILS).fit(**kw)


def reported_ses(res: ck.MNLResults) -> dict[str, pd.Series]:
    """Every standard error a user can read off a fit: each covariance type, and the
    summary's columns with every second covariance."""
    out = {c: res.with_cov(c).bse for c in COV_TYPES}
    out["default"] = res.bse
    for second in COV_TYPES:
        frame = res.summary(second_cov=second).as_frame()
        for col in frame.columns:
            if col.endswith("std err"):
                out[f"summary {second}: {col}"] = frame[col]
    return out


def test_weight_type_is_inferred_and_can_be_given(frame):
    kw = dict(choice="CHOICE", alternatives=ALTS, availability=AV, case="case")
    sampling = ck.ChoiceData.from_wide(frame, weight="w", **kw)
    freq = ck.ChoiceData.from_wide(frame, weight="n", **kw)
    assert sampling.weight_type == "sampling" and sampling.weight_type_inferred
    assert freq.weight_type == "frequency" and freq.weight_type_inferred
    given = ck.ChoiceData.from_wide(frame, weight="n", weight_type="sampling", **kw)
    assert given.weight_type == "sampling" and not given.weight_type_inferred
    assert freq.with_weight_type("sampling").weight_type == "sampling"
    assert freq.weight_type == "frequency"  # immutable: with_ returns new data
    assert ck.ChoiceData.from_wide(frame, **kw).weight_type is None
    assert "sampling weights" in repr(sampling)
    # the meaning survives subsetting (bootstrap, holdouts)
    assert given.take(np.arange(10)).weight_type == "sampling"


def test_weight_type_errors(frame):
    kw = dict(choice="CHOICE", alternatives=ALTS, availability=AV, case="case")
    with pytest.raises(ck.ChoiceDataError, match=r"`weight_type` must be one of"):
        ck.ChoiceData.from_wide(frame, weight="w", weight_type="pweight", **kw)
    with pytest.raises(ck.ChoiceDataError, match="without weights"):
        ck.ChoiceData.from_wide(frame, weight_type="sampling", **kw)
    with pytest.raises(ck.ChoiceDataError, match="no weights"):
        ck.ChoiceData.from_wide(frame, **kw).with_weight_type("frequency")
    long = pd.DataFrame({"case": [1, 1, 2, 2], "alt": ["a", "b"] * 2, "chosen": [1, 0, 0, 1],
                         "w": [0.5, 0.5, 2.5, 2.5]})
    d = ck.ChoiceData.from_long(long, "case", "alt", "chosen", weight="w",
                                weight_type="frequency")
    assert d.weight_type == "frequency"


def test_sampling_weights_default_to_the_robust_covariance(frame):
    assert fit(frame, "w").cov_type == "robust"
    assert fit(frame, "n").cov_type == "classical"
    assert fit(frame, None).cov_type == "classical"
    assert fit(frame, "w", cov_type="classical").cov_type == "classical"
    assert fit(frame, "n", weight_type="sampling").cov_type == "robust"


@pytest.mark.parametrize("factor", [10.0, 0.01, 1234.5])
def test_rescaling_sampling_weights_leaves_every_reported_se_unchanged(frame, factor):
    base = fit(frame, "w")
    scaled = fit(frame.assign(w=frame["w"] * factor), "w")
    assert scaled.weight_type == "sampling"
    np.testing.assert_allclose(scaled.params, base.params, rtol=1e-9)
    a, b = reported_ses(base), reported_ses(scaled)
    assert a.keys() == b.keys() and len(a) > len(COV_TYPES) + 1
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-10, err_msg=key)
    # the weighted log-likelihood scales with the weights (reported as weighted, with a note)
    assert scaled.llf == pytest.approx(factor * base.llf, rel=1e-10)
    assert scaled.rho_squared == pytest.approx(base.rho_squared, rel=1e-10)


def test_sampling_classical_se_no_longer_shrinks_with_the_weights(frame):
    """The bug of issue 16: with weights x10 the classical SEs were sqrt(10) times smaller."""
    base = fit(frame, "w", cov_type="classical")
    scaled = fit(frame.assign(w=frame["w"] * 10), "w", cov_type="classical")
    np.testing.assert_allclose(scaled.bse, base.bse, rtol=1e-10)
    # with sampling weights normalised to mean 1, the classical covariance is the inverse of
    # minus the Hessian of the normalised weighted log-likelihood
    model = base.model
    w = model.data.weight_array
    norm = fit(frame.assign(w=frame["w"] * len(w) / w.sum()), "w", cov_type="classical")
    H = model.hessian(base.params).to_numpy() * len(w) / w.sum()
    np.testing.assert_allclose(norm.bse, np.sqrt(np.diag(np.linalg.inv(-H))), rtol=1e-8)


def test_frequency_weights_equal_the_replicated_rows(frame):
    rep = frame.loc[frame.index.repeat(frame["n"])].copy()
    rep["case"] = np.arange(len(rep))               # replicates are distinct cases
    wres = fit(frame, "n")
    rres = fit(rep, None)
    assert wres.weight_type == "frequency"
    np.testing.assert_allclose(wres.params, rres.params, rtol=1e-8)
    for cov in COV_TYPES:  # cluster: replicates stay in their person's cluster
        np.testing.assert_allclose(wres.with_cov(cov).bse, rres.with_cov(cov).bse, rtol=1e-8,
                                   err_msg=cov)
    for stat in ("llf", "llnull", "rho_squared", "aic", "bic"):
        assert getattr(wres, stat) == pytest.approx(getattr(rres, stat), rel=1e-10), stat
    assert wres.nobs == len(frame) and rres.nobs == len(rep)  # nobs counts cases


def test_summary_says_that_and_how_the_fit_is_weighted(frame):
    s = str(fit(frame, "w").summary())
    assert "Weights:" in s and "sampling (WESML)" in s
    assert "Manski and Lerman 1977" in s and "weighted sums" in s
    assert "read as sampling weights; pass weight_type='frequency'" in s
    # sampling weights: the robust SEs first, no classical column by default
    cols = fit(frame, "w").summary().as_frame().columns
    assert [c for c in cols if c.endswith("std err")] == ["robust std err"]
    s = str(fit(frame, "w", weight_type="sampling", cov_type="classical").summary())
    assert "ignore the sampling design" in s and "pass weight_type" not in s
    s = str(fit(frame, "n").summary())
    assert "frequency (counts of identical cases)" in s
    assert f"{frame['n'].sum():,} in all over {len(frame)} cases" in s
    assert "Weights:" not in str(fit(frame, None).summary())


def test_bootstrap_keeps_the_meaning_of_the_weights(frame):
    res = fit(frame.iloc[:400], "w")
    out = res.bootstrap(3, rng=1)
    assert out.results.model.data.weight_type == "sampling"


def test_lr_test_warns_with_sampling_weights(frame):
    no_asc_bus = {**UTILS, "bus": B("B_TIME") * V("BUS_TT") / 100
                  + B("B_COST") * V("BUS_COST") / 100}
    kw = dict(choice="CHOICE", alternatives=ALTS, availability=AV, case="case")
    sampling = ck.ChoiceData.from_wide(frame, weight="w", **kw)
    with pytest.warns(ck.ChoiceKitWarning, match="sampling weights.*not chi-squared") as rec:
        ck.MNL(sampling, UTILS).fit().lr_test(ck.MNL(sampling, no_asc_bus).fit())
    assert rec[0].filename == __file__  # points at the user's line
    counts = ck.ChoiceData.from_wide(frame, weight="n", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # frequency weights: a valid LR test, no warning
        ck.MNL(counts, UTILS).fit().lr_test(ck.MNL(counts, no_asc_bus).fit())
