"""The compiled likelihood pass agrees with the NumPy kernel and the textbook reference.

The compiled pass (``choicekit/_mnl_pass.c`` through :mod:`choicekit.families.mnl.native`) computes
the same
sums as :func:`choicekit.families.mnl.kernels.chunk_derivatives` in another order and with its own
``exp``,
so the two agree to rounding (``RTOL_SUMS``, sums of a few hundred terms). Where the library
is not built these tests skip, unless ``CHOICEKIT_REQUIRE_NATIVE=1`` (set by CI, which builds
it) turns a missing build into a failure.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from test_kernels_equivalence import RTOL_PARAMS, RTOL_SUMS, _data, _reference_fit

import choicekit as ck
import choicekit.estimation.objective as est
from choicekit.families.mnl import native
from choicekit.families.mnl.kernels import loglike_derivatives_reference


@pytest.fixture(autouse=True)
def _native_built() -> None:
    if not native.available():
        if os.environ.get("CHOICEKIT_REQUIRE_NATIVE") == "1":
            pytest.fail("choicekit's compiled pass is not built (CHOICEKIT_REQUIRE_NATIVE=1)")
        pytest.skip("choicekit's compiled pass is not built")


def test_exp_agrees_with_libm_to_a_few_ulp():
    x = np.concatenate([-np.linspace(0.0, 708.0, 400_001), [-0.0, -1e-300, -5e-324],
                        -np.geomspace(1e-12, 1.0, 1000)])
    got, want = native.native_exp(x), np.exp(x)
    # 4 ulp: the Taylor truncation (< 4e-18) and a dozen roundings in Horner's scheme
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(float).eps, atol=0)
    # below -708 (and at -inf, an unavailable alternative) the pass uses exactly 0
    low = np.array([-708.5, -745.2, -1e4, -np.inf])
    assert np.array_equal(native.native_exp(low), np.zeros(4))


def test_log_agrees_with_libm_to_two_ulp():
    x = np.concatenate([np.linspace(1.0, 50.0, 200_001), np.geomspace(1e-300, 1e300, 20_001),
                        [1.0, 2.0, 0.5, 1.0 + 1e-15, np.sqrt(2.0), np.nextafter(np.sqrt(2), 3)]])
    got, want = native.native_log(x), np.log(x)
    # 2 ulp: the atanh series' truncation (< 1e-18), the division and Horner's roundings
    assert np.all(np.abs(got - want) <= 2 * np.spacing(np.abs(want)))
    assert native.native_log(np.array([1.0]))[0] == 0.0


def _objectives(design, theta, **kw):
    return (est.Objective(design, theta, use_native=True, **kw),
            est.Objective(design, theta, use_native=False, **kw))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("chunk_size", [None, 37])
@pytest.mark.parametrize("fixed", [False, True])
def test_objective_native_equals_numpy_and_reference(weighted, holes, chunk_size, fixed):
    """Stored columns, constants, alternative-specific columns (``z`` and the ``| inc`` kind)
    and an offset; availability holes, weights, fixed parameters, many chunks."""
    data, utilities = _data(4, weighted=weighted, holes=holes)
    d = ck.MNL(data, utilities).design
    assert len(d.specific) and len(d.constants) and d.offset is not None
    free = np.ones(d.n_params, dtype=bool)
    theta = np.linspace(-0.4, 0.6, d.n_params)
    if fixed:  # a stored, a constant and an alternative-specific parameter held
        free[[d.param_names.index(k) for k in ("b2", "asc_c", "bz")]] = False
        d = dataclasses.replace(d, fixed=~free)
    fast, slow = _objectives(d, theta, chunk_size=chunk_size)
    assert fast.use_native and not slow.use_native
    ref = loglike_derivatives_reference(d.X, theta, d.avail, d.chosen, d.offset, d.weight)
    for order in (0, 1, 2):
        a = fast.evaluate(theta[free], order=order)
        b = slow.evaluate(theta[free], order=order)
        assert a[0] == pytest.approx(b[0], rel=RTOL_SUMS)
        assert a[0] == pytest.approx(ref.loglike, rel=RTOL_SUMS)
        if order >= 1:
            scale = np.abs(ref.score).max()
            np.testing.assert_allclose(a[1], ref.score[free], rtol=RTOL_SUMS,
                                       atol=RTOL_SUMS * scale)
            np.testing.assert_allclose(a[1], b[1], rtol=RTOL_SUMS, atol=RTOL_SUMS * scale)
        if order == 2:
            scale = np.abs(ref.hessian).max()
            np.testing.assert_allclose(a[2], ref.hessian[np.ix_(free, free)],
                                       rtol=RTOL_SUMS, atol=RTOL_SUMS * scale)
            np.testing.assert_array_equal(a[2], a[2].T)  # exactly symmetric


def test_two_constants_of_one_alternative_and_no_stored_columns():
    """Constants only (no design columns at all), two of them on one alternative: the pass
    sums per alternative and the objective hands each constant its alternative's sums."""
    data, _ = _data(5)
    B = ck.Beta
    d = ck.MNL(data, {"a": 0, "b": B("asc_b") + B("asc_b2"), "c": B("asc_c"),
                      "d": B("asc_d")}).design
    assert len(d.stored) == 0 and len(d.constants) == 4
    theta = np.array([0.3, -0.2, 0.5, 0.1])
    fast, slow = _objectives(d, theta)
    a, b = fast.evaluate(theta, 2), slow.evaluate(theta, 2)
    assert a[0] == pytest.approx(b[0], rel=RTOL_SUMS)
    np.testing.assert_allclose(a[1], b[1], rtol=RTOL_SUMS, atol=1e-12)
    np.testing.assert_allclose(a[2], b[2], rtol=RTOL_SUMS, atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 300.0, 1e4])
def test_stable_at_huge_utilities(scale):
    """Utilities in the thousands: the per-case maximum keeps every exponential finite."""
    data, utilities = _data(6)
    d = ck.MNL(data, utilities).design
    theta = scale * np.linspace(-0.4, 0.6, d.n_params)
    fast, slow = _objectives(d, theta)
    a, b = fast.evaluate(theta, 2), slow.evaluate(theta, 2)
    assert np.isfinite(a[0]) and np.isfinite(a[1]).all() and np.isfinite(a[2]).all()
    assert a[0] == pytest.approx(b[0], rel=RTOL_SUMS)
    # the score is the difference of two sums up to ~1e4 times its own size at these
    # utilities, so its rounding is ~1e4 times that of the log-likelihood: 1e-9, not 1e-11
    np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-9 * np.abs(b[1]).max())


def test_ranges_add_up_and_threads_give_the_same_sums():
    """Sums over two ranges (split off a chunk boundary) equal the sums over both; the
    objective on two threads gives what it gives on one."""
    data, utilities = _data(7, n=500)
    d = ck.MNL(data, utilities).design
    nat = native.NativePass(d.columns, d.chosen, d.avail, d.offset, d.weight, d.constant_alts,
                            d.specific_alts, d.specific_values, chunk_cases=64)
    beta = np.random.default_rng(0).normal(size=d.n_params)  # the kernel's parameter order
    whole = nat.run(beta, 2)
    left = nat.run(beta, 2, 0, 201)
    right = nat.run(beta, 2, 201, d.n_cases, worker=1)
    assert left[0] + right[0] == pytest.approx(whole[0], rel=RTOL_SUMS)
    np.testing.assert_allclose(left[1] + right[1], whole[1], rtol=RTOL_SUMS, atol=1e-10)
    np.testing.assert_allclose(left[2] + right[2], whole[2], rtol=RTOL_SUMS, atol=1e-10)
    theta = np.linspace(-0.4, 0.6, d.n_params)
    one = est.Objective(d, theta, use_native=True, threads=1, chunk_size=50)
    two = est.Objective(d, theta, use_native=True, threads=2, chunk_size=50)
    a, b = one.evaluate(theta, 2), two.evaluate(theta, 2)
    assert a[0] == pytest.approx(b[0], rel=RTOL_SUMS)
    np.testing.assert_allclose(a[2], b[2], rtol=RTOL_SUMS, atol=1e-10)


def test_fit_equals_reference_fit_and_numpy_fit(monkeypatch):
    """Estimates with the compiled pass, with the NumPy kernel (``CHOICEKIT_NATIVE=0``) and
    with the unoptimised reference path agree to the estimates' tolerance."""
    data, utilities = _data(8)
    model = ck.MNL(data, utilities)
    res = model.fit()
    ref = _reference_fit(model.design)
    np.testing.assert_allclose(res.params.to_numpy(), ref, rtol=RTOL_PARAMS, atol=1e-12)
    monkeypatch.setenv("CHOICEKIT_NATIVE", "0")
    assert not native.available()
    assert not est.Objective(model.design, model.design.start).use_native
    res0 = model.fit()
    np.testing.assert_allclose(res0.params.to_numpy(), res.params.to_numpy(),
                               rtol=RTOL_PARAMS, atol=1e-12)
    np.testing.assert_allclose(res0.bse.to_numpy(), res.bse.to_numpy(), rtol=1e-8)


def test_design_arrays_are_checked():
    data, utilities = _data(9)
    d = ck.MNL(data, utilities).design
    with pytest.raises(ValueError, match="C-contiguous float64"):
        native.NativePass(d.columns[:, :, ::2], d.chosen, d.avail, d.offset, d.weight,
                          d.constant_alts, d.specific_alts, d.specific_values)
    with pytest.raises(ValueError, match=r"\(S, n_cases\)"):
        native.NativePass(d.columns, d.chosen, d.avail, d.offset, d.weight, d.constant_alts,
                          d.specific_alts, d.specific_values[:, :5])


def test_chunked_objective_native_equals_numpy():
    """``fit_chunked``'s objective gives the same sums with the compiled pass as with the NumPy
    kernel: availability, offset, weights, constants, a chunk processed in pieces."""
    from test_kernels_equivalence import random_design

    from choicekit.estimation.chunked import ChunkedDesign, DesignChunk, _ChunkedObjective

    X, avail, chosen, offset, weight, _ = random_design(11, n=700, K=3)

    def chunks():
        yield DesignChunk(X[:300], chosen[:300], avail[:300], offset[:300], weight[:300])
        yield DesignChunk(X[300:], chosen[300:], avail[300:], offset[300:], weight[300:])

    design = ChunkedDesign(chunks, ["p0", "p1", "p2"], n_alts=4,
                           constants={"asc1": 1, "asc3": 3, "asc1b": 1}, max_cases=128)
    theta = np.array([0.2, -0.1, 0.3, 0.4, -0.2, 0.1])
    fast = _ChunkedObjective(design, use_native=True)
    slow = _ChunkedObjective(design, use_native=False)
    for order in (0, 1, 2):
        a, b = fast.evaluate(theta, order), slow.evaluate(theta, order)
        assert a[0] == pytest.approx(b[0], rel=RTOL_SUMS)
        if order >= 1:
            np.testing.assert_allclose(a[1], b[1], rtol=RTOL_SUMS, atol=1e-10)
        if order == 2:
            np.testing.assert_allclose(a[2], b[2], rtol=RTOL_SUMS, atol=1e-10)


def test_fit_threads_option():
    """``fit(threads=...)`` reaches the pass: two threads over ranges of cases give the one
    thread estimates (to rounding); a bad value is refused with the option's name."""
    data, utilities = _data(12, n=400)
    model = ck.MNL(data, utilities)
    one = model.fit(threads=1, chunk_size=50)
    two = model.fit(threads=2, chunk_size=50)
    # the two threads' sums are added in another grouping (rounding ~1e-15); Newton stops at
    # steps below 1e-10 relative, so the estimates agree to that
    np.testing.assert_allclose(two.params.to_numpy(), one.params.to_numpy(), rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(ck.SpecificationError, match="`threads`"):
        model.fit(threads=0)


def test_pass_refuses_arrays_it_would_read_out_of_bounds():
    """The C code indexes without checks, so the wrapper checks shapes and chosen values, and
    the chunked estimator names the chunk with a bad choice."""
    from test_kernels_equivalence import _arrays

    from choicekit.estimation.chunked import ChunkedDesign, DesignChunk, fit_chunked

    data, utilities = _data(13)
    d = ck.MNL(data, utilities).design
    args = dict(offset=d.offset, weight=d.weight, constant_alts=d.constant_alts,
                specific_alts=d.specific_alts, specific_values=d.specific_values)
    bad = d.chosen.copy()
    bad[5] = d.n_alts
    with pytest.raises(ValueError, match="chosen must hold one alternative"):
        native.NativePass(d.columns, bad, d.avail, **args)
    with pytest.raises(ValueError, match="avail must have shape"):
        native.NativePass(d.columns, d.chosen, d.avail[:-1], **args)
    X, y = _arrays(n=300)
    y = y.copy()
    y[250] = 9
    with pytest.raises(ck.ChoiceDataError, match="chunk starting at case 200"):
        fit_chunked(ChunkedDesign(lambda: iter([DesignChunk(X[:200], y[:200]),
                                                DesignChunk(X[200:], y[200:])]),
                                  ["b0", "b1", "b2"], n_alts=4))
