"""Numerical edge cases: huge utilities, rescaled attributes, far starting values, and what a
fit that stops early says.

References are analytic facts rather than our own numbers: multiplying an attribute by c
divides its coefficient (and standard error) by c and changes nothing else; adding the same
constant to every utility changes no probability; the binary logit log-likelihood is
``-logaddexp(0, -d)`` for a utility difference d (computed here by numpy's ``logaddexp``);
the log-likelihood of an identified logit is strictly concave, so every start must reach the
same maximum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import choicekit as ck

B, V = ck.Beta, ck.Var

WIDE = dict(choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
            availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})
NAMES = ["ASC_TRAIN", "B_TIME", "B_COST", "ASC_BUS"]


def utilities(time_scale: float = 100.0, offset: float = 0.0) -> dict:
    u = {a: B("B_TIME") * V(f"{a.upper()}_TT") / time_scale
         + B("B_COST") * V(f"{a.upper()}_COST") / 100 for a in ("train", "bus", "car")}
    u["train"] = u["train"] + B("ASC_TRAIN")
    u["bus"] = u["bus"] + B("ASC_BUS")
    if offset:
        u = {a: x + offset * (V("CAR_TT") * 0 + 1) for a, x in u.items()}
    return u


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ck.datasets.load_simulated_modechoice()


@pytest.fixture(scope="module")
def reference(frame):
    model = ck.MNL(ck.ChoiceData.from_wide(frame, **WIDE), utilities())
    return model, model.fit()


@pytest.mark.parametrize("scale", [1e4, 1e6])
def test_attributes_scaled_up_give_the_same_fit(frame, reference, scale):
    _, ref = reference
    scaled = frame.assign(**{c: frame[c] * scale for c in ("TRAIN_TT", "BUS_TT", "CAR_TT")})
    with warnings.catch_warnings():  # a clean fit is silent: every warning is an error
        warnings.simplefilter("error", ck.ChoiceKitWarning)
        warnings.simplefilter("error", RuntimeWarning)
        res = ck.MNL(ck.ChoiceData.from_wide(scaled, **WIDE), utilities()).fit()
    assert res.converged and np.isfinite(res.llf)
    # 1e-6 relative: both fits stop at a gradient of 1e-8 on a well-conditioned problem; the
    # log-likelihood is flat at the maximum (error quadratic in the parameters), hence 1e-10
    assert res.llf == pytest.approx(ref.llf, rel=1e-10)
    assert res.params["B_TIME"] * scale == pytest.approx(ref.params["B_TIME"], rel=1e-6)
    assert res.bse["B_TIME"] * scale == pytest.approx(ref.bse["B_TIME"], rel=1e-6)
    for name in ("ASC_TRAIN", "ASC_BUS", "B_COST"):
        assert res.params[name] == pytest.approx(ref.params[name], rel=1e-6)
        assert res.bse[name] == pytest.approx(ref.bse[name], rel=1e-6)


def test_huge_utilities_at_the_start_still_converge(frame, reference):
    # attributes x 1e4 but the start kept on the old scale: utilities of order -1e4 at start
    _, ref = reference
    scaled = frame.assign(**{c: frame[c] * 1e4 for c in ("TRAIN_TT", "BUS_TT", "CAR_TT")})
    model = ck.MNL(ck.ChoiceData.from_wide(scaled, **WIDE), utilities())
    start = ref.params.copy()
    v0 = model.utilities(start)
    assert np.nanmax(np.abs(v0.to_numpy())) > 1e4
    assert np.isfinite(model.loglike(start))
    res = model.fit(start=start)
    assert res.converged
    assert res.params["B_TIME"] * 1e4 == pytest.approx(ref.params["B_TIME"], rel=1e-6)


def test_common_constant_of_1e4_in_every_utility_changes_nothing(frame, reference):
    _, ref = reference
    res = ck.MNL(ck.ChoiceData.from_wide(frame, **WIDE), utilities(offset=1e4)).fit()
    assert res.llf == pytest.approx(ref.llf, rel=1e-12)
    np.testing.assert_allclose(res.params[NAMES], ref.params[NAMES], rtol=1e-7)


@pytest.mark.parametrize("d", [1e-3, 5.0, 40.0, 1e4, -1e4, 1e6])
def test_binary_loglikelihood_matches_logaddexp(d):
    # one case, two alternatives, utility difference d in favour of the chosen one
    df = pd.DataFrame({"case": [1, 1], "alt": [0, 1], "ch": [1, 0], "x": [d, 0.0]})
    model = ck.MNL(ck.ChoiceData.from_long(df, "case", "alt", "ch"),
                   {0: B("b") * V("x"), 1: B("b") * V("x")})
    ll = model.loglike({"b": 1.0})
    assert np.isfinite(ll)
    # v - logsum(v) is exact up to the rounding of the utilities: eps * |d| absolute
    assert ll == pytest.approx(-np.logaddexp(0.0, -d), rel=1e-12,
                               abs=4 * np.finfo(float).eps * max(1.0, abs(d)))
    p = model.predict_proba({"b": 1.0}).to_numpy()
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("method", ["newton", "bfgs", "lbfgsb"])
@pytest.mark.parametrize("start", [30.0, -30.0, 300.0])
def test_far_starting_values_reach_the_same_maximum(reference, method, start):
    model, ref = reference
    res = model.fit(start=np.full(4, start), method=method)
    assert res.converged
    # the maximum is unique: 1e-5 covers the gradient tolerances of the three methods
    np.testing.assert_allclose(res.params[NAMES], ref.params[NAMES], rtol=1e-5, atol=1e-6)
    assert res.llf == pytest.approx(ref.llf, rel=1e-10)


@pytest.mark.parametrize("method", ["newton", "bfgs", "lbfgsb"])
def test_non_convergence_warns_with_gradient_norm_and_iterations(reference, method):
    model, _ = reference
    with pytest.warns(ck.ConvergenceWarning,
                      match=rf"did not converge \({method}, 1 iterations\).*gradient max-norm "
                            r"[0-9.e-]+, largest for \[.*\]. Try other starting values"):
        res = model.fit(maxiter=1, method=method)
    assert not res.converged and res.iterations == 1
    assert res.gradient_norm > 1e-6


def test_start_where_utilities_overflow_is_refused_with_a_reason(reference):
    model, _ = reference
    with pytest.raises(ck.SpecificationError, match="utilities overflow"):
        model.fit(start=np.full(4, 1e306))


def test_weights_scaled_by_a_million_give_the_same_estimates(frame, reference):
    _, ref = reference
    data = ck.ChoiceData.from_wide(frame.assign(w=1e6), **WIDE, weight="w")
    res = ck.MNL(data, utilities()).fit()
    np.testing.assert_allclose(res.params[NAMES], ref.params[NAMES], rtol=1e-7)
    assert res.llf == pytest.approx(1e6 * ref.llf, rel=1e-10)
