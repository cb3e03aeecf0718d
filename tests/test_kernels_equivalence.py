"""The optimised estimation path agrees with the unoptimised one.

Optimised: the fused parameter-major kernel (``chunk_derivatives``) summed over chunks,
cached or transposed on the fly, on one or two threads, maximized by the lean Newton-Raphson;
and the chunked out-of-core estimator. Unoptimised: ``loglike_derivatives_reference`` (each term
of the textbook formulas computed on its own) over the whole design, maximized by SciPy's
``trust-exact``. Both compute the same sums in another order, so they agree up to rounding:
~1e-13 relative for the derivatives, and the estimates to 1e-8 relative (the tolerance the
speed issue promises; the Newton iteration stops at steps below 1e-10 relative).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import choicekit as ck
import choicekit.estimation.objective as est
from choicekit.estimation.chunked import ChunkedDesign, DesignChunk, fit_chunked, npy_chunks
from choicekit.families.mnl.kernels import (
    SHIFT_SPAN,
    KernelWorkspace,
    blas_threads,
    chunk_derivatives,
    loglike_derivatives,
    loglike_derivatives_reference,
    to_parameter_major,
)

#: rounding of sums of a few thousand terms, relative to their size
RTOL_SUMS = 1e-11
#: estimates: both optimizers converge to within ~1e-10 relative of the maximum
RTOL_PARAMS = 1e-8


def random_design(seed: int, n: int = 400, J: int = 4, K: int = 5, holes: bool = True):
    """A design with availability holes (unless ``holes=False``), weights and an offset."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, J, K))
    avail = rng.random((n, J)) < (0.7 if holes else 2.0)
    avail[np.arange(n), rng.integers(0, J, n)] = True
    X[~avail] = 0.0
    offset = rng.normal(size=(n, J))
    offset[~avail] = 0.0
    chosen = np.array([rng.choice(np.flatnonzero(a)) for a in avail])
    weight = rng.uniform(0.2, 3.0, n)
    beta = rng.normal(scale=0.5, size=K)
    return X, avail, chosen, offset, weight, beta


def assert_same(a, b, rtol=RTOL_SUMS):
    assert a.loglike == pytest.approx(b.loglike, rel=rtol)
    if a.score is not None:
        scale = np.abs(b.score).max()
        np.testing.assert_allclose(a.score, b.score, rtol=rtol, atol=rtol * scale)
    if a.hessian is not None:
        np.testing.assert_allclose(a.hessian, b.hessian, rtol=rtol,
                                   atol=rtol * np.abs(b.hessian).max())


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("order", [0, 1, 2])
def test_fused_kernel_equals_reference(seed, weighted, holes, order):
    X, avail, chosen, offset, weight, beta = random_design(seed, holes=holes)
    w = weight if weighted else None
    fast = loglike_derivatives(X, beta, avail, chosen, offset, w, order=order)
    ref = loglike_derivatives_reference(X, beta, avail, chosen, offset, w, order=order)
    assert_same(fast, ref)
    assert (fast.score is None) == (order < 1) and (fast.hessian is None) == (order < 2)


def test_kernel_stable_at_huge_utilities():
    # utilities ~1e4: exp would overflow without the max shift; reference does the same shift
    X, avail, chosen, offset, weight, beta = random_design(3)
    fast = loglike_derivatives(X, beta * 3e3, avail, chosen, offset * 3e3, weight)
    ref = loglike_derivatives_reference(X, beta * 3e3, avail, chosen, offset * 3e3, weight)
    assert np.isfinite(fast.loglike) and np.isfinite(fast.hessian).all()
    assert fast.loglike == pytest.approx(ref.loglike, rel=1e-12)
    np.testing.assert_allclose(fast.score, ref.score, rtol=1e-9, atol=1e-9)
    # nearly degenerate probabilities: the Hessian (~1e-7) is the difference of two sums of
    # size ~N = 400 that cancel, so both paths carry absolute rounding ~N * 1e-16 * 10
    np.testing.assert_allclose(fast.hessian, ref.hessian, rtol=0, atol=1e-10)


@pytest.mark.parametrize("span", [0.98 * SHIFT_SPAN, 1.02 * SHIFT_SPAN])
def test_kernel_one_shift_per_chunk_up_to_its_span(span):
    # utilities spread over just under (one shift for the chunk: the smallest case sums are
    # ~exp(-590), which must not underflow) and just over SHIFT_SPAN (a shift per case)
    X, avail, chosen, offset, weight, beta = random_design(4)
    V = X @ beta + offset
    c = span / (V.max() - V.min())
    fast = loglike_derivatives(X, beta * c, avail, chosen, offset * c, weight)
    ref = loglike_derivatives_reference(X, beta * c, avail, chosen, offset * c, weight)
    assert np.isfinite(fast.loglike) and np.isfinite(fast.hessian).all()
    assert fast.loglike == pytest.approx(ref.loglike, rel=1e-12)
    np.testing.assert_allclose(fast.score, ref.score, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.hessian, ref.hessian, rtol=0, atol=1e-10)


def test_chunk_kernel_with_precomputed_chosen_sum_and_reused_workspace():
    X, avail, chosen, offset, weight, beta = random_design(4, n=50)
    n, J, K = X.shape
    ws = KernelWorkspace(200, J, K)  # larger than needed: views of the buffers are used
    Xt = to_parameter_major(X)
    flat = chosen * n + np.arange(n)
    xcs = weight @ X[np.arange(n), chosen]
    args = (Xt, J, beta, flat, np.ascontiguousarray(~avail.T), np.ascontiguousarray(offset.T),
            weight, 2, ws)
    a = chunk_derivatives(*args, x_chosen_sum=xcs)
    b = chunk_derivatives(*args)  # workspace reused, chosen sum recomputed
    ref = loglike_derivatives_reference(X, beta, avail, chosen, offset, weight)
    for got in (a, b):
        assert got[0] == pytest.approx(ref.loglike, rel=RTOL_SUMS)
        np.testing.assert_allclose(got[1], ref.score, rtol=RTOL_SUMS, atol=1e-10)
        np.testing.assert_allclose(got[2], ref.hessian, rtol=RTOL_SUMS, atol=1e-10)
    np.testing.assert_array_equal(a[2], a[2].T)  # exactly symmetric


# ------------------------------------------------------------------------- objectives
def _data(seed: int, n: int = 300, weighted: bool = True, holes: bool = True):
    """ChoiceData (long) with availability holes and weights, and a utility spec."""
    rng = np.random.default_rng(seed)
    alts = ["a", "b", "c", "d"]
    rows = []
    for i in range(n):
        av = rng.random(4) < (0.75 if holes else 2.0)
        av[rng.choice(4, 2, replace=False)] = True  # at least two alternatives
        for j, a in enumerate(alts):
            if av[j]:
                rows.append((i, a, rng.normal(), rng.normal(), rng.normal()))
    df = pd.DataFrame(rows, columns=["case", "alt", "x1", "x2", "z"])
    df["inc"] = df["case"].map(dict(enumerate(rng.uniform(1, 3, n))))
    beta = np.array([0.8, -0.5, 0.3])
    v = beta[0] * df.x1 + beta[1] * df.x2 + beta[2] * df.z * (df.alt == "b")
    u = v + rng.gumbel(size=len(df))
    df["chosen"] = (u == u.groupby(df["case"]).transform("max")).astype(int)
    df["w"] = df["case"].map(dict(enumerate(rng.uniform(0.5, 2, n))))
    data = ck.ChoiceData.from_long(df, case="case", alt="alt", choice="chosen",
                                   weight="w" if weighted else None)
    B, V = ck.Beta, ck.Var
    utilities = {
        "a": B("b1") * V("x1") + B("b2") * V("x2"),
        "b": B("asc_b") + B("b1") * V("x1") + B("b2") * V("x2") + B("bz") * V("z")
        + B("binc") * V("inc"),
        "c": B("asc_c") + B("b1") * V("x1") + B("b2") * V("x2"),
        "d": B("asc_d") + B("b1") * V("x1") + B("b2") * V("x2") + 0.5 * V("z"),
    }
    return data, utilities


def _reference_fit(design, start=None):
    """Unoptimised path: reference kernel over the whole design + SciPy trust-exact."""
    free = ~design.fixed
    values = design.start.copy()
    X = design.X[:, :, free]
    offset = design.offset
    if design.fixed.any():
        fixed_part = design.X[:, :, design.fixed] @ values[design.fixed]
        offset = fixed_part if offset is None else offset + fixed_part
    N = design.n_cases

    def ev(theta, order):
        return loglike_derivatives_reference(X, theta, design.avail, design.chosen, offset,
                                             design.weight, order=order)

    r = optimize.minimize(lambda t: -ev(t, 0).loglike / N, values[free] if start is None
                          else start, jac=lambda t: -ev(t, 1).score / N,
                          hess=lambda t: -ev(t, 2).hessian / N, method="trust-exact",
                          options={"gtol": 1e-12, "maxiter": 500})
    theta = r.x
    # trust-exact stops once its radius collapses (often with max|g/N| ~1e-9); polish with
    # textbook Newton steps (np.linalg.solve), quadratically convergent from there
    for _ in range(5):
        full = ev(theta, 2)
        theta = theta + np.linalg.solve(-full.hessian, full.score)
    g = ev(theta, 1).score / N
    assert np.abs(g).max() < 1e-12, "reference optimizer did not converge"
    return theta


@pytest.mark.parametrize("chunk_size", [None, 37])
@pytest.mark.parametrize("fixed", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_objective_sums_equal_reference(chunk_size, fixed, threads):
    data, utilities = _data(0)
    d = ck.MNL(data, utilities).design
    free = np.ones(d.n_params, dtype=bool)
    theta = np.linspace(-0.4, 0.6, d.n_params)
    if fixed:  # a stored, a constant and an alternative-specific parameter held
        free[[d.param_names.index(k) for k in ("b2", "asc_c", "bz")]] = False
        d = dataclasses.replace(d, fixed=~free)
    obj = est.Objective(d, theta, chunk_size=chunk_size, threads=threads)
    ll, g, H = obj.evaluate(theta[free], order=2)
    ref = loglike_derivatives_reference(d.X, theta, d.avail, d.chosen, d.offset, d.weight)
    assert ll == pytest.approx(ref.loglike, rel=RTOL_SUMS)
    # with some parameters held, the free parameters' derivatives are the full ones' sub-blocks
    np.testing.assert_allclose(g, ref.score[free], rtol=RTOL_SUMS, atol=1e-9)
    np.testing.assert_allclose(H, ref.hessian[np.ix_(free, free)], rtol=RTOL_SUMS, atol=1e-9)
    # orders 0 and 1 at a new point agree with order 2 there
    theta2 = np.where(free, theta + 0.01, theta)
    ll0 = obj.evaluate(theta2[free], order=0)[0]
    g1 = obj.evaluate(theta2[free] + 0, order=1)[1]
    full = loglike_derivatives_reference(d.X, theta2, d.avail, d.chosen, d.offset, d.weight)
    assert ll0 == pytest.approx(full.loglike, rel=RTOL_SUMS)
    np.testing.assert_allclose(g1, full.score[free], rtol=RTOL_SUMS, atol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_newton_fit_equals_reference_fit(weighted):
    data, utilities = _data(1, weighted=weighted)
    model = ck.MNL(data, utilities)
    ref = _reference_fit(model.design)
    res = model.fit(method="newton")
    assert res.converged and res.method == "newton"
    np.testing.assert_allclose(res.params.to_numpy(), ref, rtol=RTOL_PARAMS, atol=1e-12)
    # SciPy's trust-exact on the fast kernel stops at |g/N|_2 < gtol = 1e-8, so its estimates
    # are off by up to ~gtol / (smallest curvature) ~1e-7 relative: a looser check
    res = model.fit(method="trust-exact")
    assert res.converged
    np.testing.assert_allclose(res.params.to_numpy(), ref, rtol=1e-6, atol=1e-9)
    res = model.fit(chunk_size=29)  # many chunks
    np.testing.assert_allclose(res.params.to_numpy(), ref, rtol=RTOL_PARAMS, atol=1e-12)


def test_newton_fit_with_fixed_parameter_equals_reference():
    data, utilities = _data(2)
    utilities = dict(utilities)
    utilities["c"] = ck.Beta("asc_c", 0.25, fixed=True) + ck.Beta("b1") * ck.Var("x1") \
        + ck.Beta("b2") * ck.Var("x2")
    model = ck.MNL(data, utilities)
    res = model.fit()
    ref = _reference_fit(model.design)
    free = ~model.design.fixed
    np.testing.assert_allclose(res.params.to_numpy()[free], ref, rtol=RTOL_PARAMS, atol=1e-12)
    assert res.params["asc_c"] == 0.25


def test_swissmetro_newton_equals_reference(shared_data):
    df = ck.datasets.load_swissmetro()
    df = df[df["PURPOSE"].isin([1, 3]) & (df["CHOICE"] != 0)].reset_index(drop=True)
    ga0 = (df["GA"] == 0).astype(float)
    sp = (df["SP"] != 0).astype(float)
    df = df.assign(TRAIN_COST=df["TRAIN_CO"] * ga0, SM_COST=df["SM_CO"] * ga0,
                   TRAIN_AV_SP=df["TRAIN_AV"] * sp, CAR_AV_SP=df["CAR_AV"] * sp)
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "TRAIN", 2: "SM", 3: "CAR"},
        availability={"TRAIN": "TRAIN_AV_SP", "SM": "SM_AV", "CAR": "CAR_AV_SP"})
    B, V = ck.Beta, ck.Var
    model = ck.MNL(data, {
        "TRAIN": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
        + B("B_COST") * V("TRAIN_COST") / 100,
        "SM": B("B_TIME") * V("SM_TT") / 100 + B("B_COST") * V("SM_COST") / 100,
        "CAR": B("ASC_CAR") + B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_CO") / 100,
    })
    res = model.fit()
    np.testing.assert_allclose(res.params.to_numpy(), _reference_fit(model.design),
                               rtol=RTOL_PARAMS)
    # Biogeme's published b01logit log-likelihood (peers' bench README)
    assert res.llf == pytest.approx(-5331.252007, abs=1e-6)


def test_with_choices_refits_equal_fresh_models():
    """The Monte Carlo fast path (shared design) gives what rebuilding the model gives."""
    data, utilities = _data(3, weighted=False)
    model = ck.MNL(data, utilities)
    rng = np.random.default_rng(11)
    d = model.design
    for _ in range(3):
        # a new choice among the available alternatives of each case
        u = np.where(d.avail, rng.gumbel(size=d.avail.shape), -np.inf)
        y = u.argmax(axis=1)
        fast = model.with_choices(y).fit()
        ref = _reference_fit(model.with_choices(y).design)
        np.testing.assert_allclose(fast.params.to_numpy(), ref, rtol=RTOL_PARAMS, atol=1e-12)


# ------------------------------------------------------------------------- chunked
def _arrays(seed: int = 5, n: int = 3000, J: int = 4, K: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, J, K))
    asc = np.array([0.0, 0.4, -0.3, 0.2])
    y = (X @ np.array([0.7, -0.4, 0.2]) + asc + rng.gumbel(size=(n, J))).argmax(axis=1)
    return X, y


def _wide_model(X, y):
    n, J, K = X.shape
    alts = [f"A{j}" for j in range(J)]
    cols = {f"x{k}_{j}": X[:, j, k] for j in range(J) for k in range(K)}
    cols["CH"] = y
    data = ck.ChoiceData.from_wide(pd.DataFrame(cols), choice="CH",
                                   alternatives=dict(enumerate(alts)),
                                   variables={f"x{k}": {a: f"x{k}_{j}" for j, a in
                                                        enumerate(alts)} for k in range(K)})
    B, V = ck.Beta, ck.Var
    utilities = {}
    for j, a in enumerate(alts):
        u = sum((B(f"b{k}") * V(f"x{k}") for k in range(K)), start=0)
        utilities[a] = u + B(f"asc{j}") if j else u
    return ck.MNL(data, utilities)


def test_chunked_fit_equals_in_memory_fit():
    X, y = _arrays()
    res_mem = _wide_model(X, y).fit()
    design = ChunkedDesign.from_arrays(X, y, ["b0", "b1", "b2"],
                                       constants={"asc1": 1, "asc2": 2, "asc3": 3},
                                       chunk_size=700)
    res = fit_chunked(design)
    assert res.converged and res.nobs == len(y)
    np.testing.assert_allclose(res.params[res_mem.params.index].to_numpy(),
                               res_mem.params.to_numpy(), rtol=RTOL_PARAMS)
    # standard errors: Hessians at estimates 1e-8 apart, one inversion -> a looser 1e-7
    np.testing.assert_allclose(res.bse[res_mem.params.index].to_numpy(),
                               res_mem.bse.to_numpy(), rtol=1e-7)
    assert res.llf == pytest.approx(res_mem.llf, rel=1e-12)


def test_chunked_from_npy_streams_bounded_chunks(tmp_path):
    X, y = _arrays(n=2500)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    blocks = list(b.copy() for b in npy_chunks(tmp_path / "X.npy", 1000))
    assert [len(b) for b in blocks] == [1000, 1000, 500]
    np.testing.assert_array_equal(np.concatenate(blocks), X)
    consts = {"asc1": 1, "asc2": 2, "asc3": 3}
    disk = fit_chunked(ChunkedDesign.from_npy(tmp_path / "X.npy", tmp_path / "y.npy",
                                              ["b0", "b1", "b2"], constants=consts,
                                              chunk_size=1000))
    mem = fit_chunked(ChunkedDesign.from_arrays(X, y, ["b0", "b1", "b2"], constants=consts))
    np.testing.assert_allclose(disk.params.to_numpy(), mem.params.to_numpy(), rtol=RTOL_PARAMS)


def test_chunked_availability_and_oversized_chunks():
    X, avail, chosen, offset, weight, beta = random_design(6, n=500, K=3)

    def chunks():  # one oversized chunk with offset and weights: processed in pieces
        yield DesignChunk(X, chosen, avail, offset, weight)

    design = ChunkedDesign(chunks, ["p0", "p1", "p2"], n_alts=4, max_cases=128)
    theta = np.array([0.2, -0.1, 0.3])
    from choicekit.estimation.chunked import _ChunkedObjective

    ll, g, H = _ChunkedObjective(design).evaluate(theta, 2)
    ref = loglike_derivatives_reference(X, theta, avail, chosen, offset, weight)
    assert ll == pytest.approx(ref.loglike, rel=RTOL_SUMS)
    np.testing.assert_allclose(H, ref.hessian, rtol=RTOL_SUMS, atol=1e-9)
    res = fit_chunked(design)
    assert res.converged and np.abs(res.score).max() / res.nobs < 1e-8


def test_chunked_rejects_inconsistent_streams():
    X, y = _arrays(n=200)
    calls = {"n": 0}

    def shrinking():
        calls["n"] += 1
        m = 200 if calls["n"] == 1 else 150
        yield DesignChunk(X[:m], y[:m])

    with pytest.raises(ck.ChoiceDataError, match="same data"):
        fit_chunked(ChunkedDesign(shrinking, ["b0", "b1", "b2"], n_alts=4))
    with pytest.raises(ck.ChoiceDataError, match=r"expected \(n, 4, 2\)"):
        fit_chunked(ChunkedDesign.from_arrays(X, y, ["b0", "b1"]))


def test_blas_threads_restores_setting():
    from choicekit.families.mnl.kernels import _openblas_controls

    controls = _openblas_controls()
    if not controls:  # another BLAS (or no /proc): nothing to set, nothing to test
        pytest.skip("no OpenBLAS thread controls in this process")
    before = [get() for get, _ in controls]
    with blas_threads(1):
        assert all(get() == 1 for get, _ in controls)
    assert [get() for get, _ in controls] == before


def test_constants_without_columns_equal_indicator_columns():
    """The kernel's analytic constants equal explicit 0/1 design columns."""
    X, avail, chosen, offset, weight, beta = random_design(8, n=300, J=4, K=3)
    n, J, _ = X.shape
    alts = np.array([1, 3, 3])  # two constants on one alternative: handled, if unidentified
    D = np.zeros((n, J, len(alts)))
    for a, j in enumerate(alts):
        D[:, j, a] = avail[:, j]
    full = np.concatenate([X, D], axis=2)
    theta = np.concatenate([beta, [0.3, -0.2, 0.1]])
    ref = loglike_derivatives_reference(full, theta, avail, chosen, offset, weight)
    ws = KernelWorkspace(n, J, 3)
    got = chunk_derivatives(to_parameter_major(X), J, theta, chosen * n + np.arange(n),
                            np.ascontiguousarray(~avail.T), np.ascontiguousarray(offset.T),
                            weight, 2, ws, constants=alts)
    assert got[0] == pytest.approx(ref.loglike, rel=RTOL_SUMS)
    np.testing.assert_allclose(got[1], ref.score, rtol=RTOL_SUMS, atol=1e-10)
    np.testing.assert_allclose(got[2], ref.hessian, rtol=RTOL_SUMS, atol=1e-10)
    order1 = chunk_derivatives(to_parameter_major(X), J, theta, chosen * n + np.arange(n),
                               np.ascontiguousarray(~avail.T), np.ascontiguousarray(offset.T),
                               weight, 1, ws, constants=alts)
    np.testing.assert_allclose(order1[1], ref.score, rtol=RTOL_SUMS, atol=1e-10)


@pytest.mark.parametrize("with_constants", [False, True])
def test_specific_columns_without_zeros_equal_full_columns(with_constants):
    """Alternative-specific columns given as (S, n) values equal full zero-padded columns,
    alone and next to constants (sharing alternatives with them and with each other)."""
    X, avail, chosen, offset, weight, beta = random_design(9, n=300, J=4, K=3)
    n, J, _ = X.shape
    rng = np.random.default_rng(9)
    alts = np.array([1, 3]) if with_constants else np.zeros(0, np.intp)
    specific = np.array([3, 0, 3])
    Z = rng.normal(size=(len(specific), n)) * avail[:, specific].T  # zero where unavailable
    D = np.zeros((n, J, len(alts) + len(specific)))
    for a, j in enumerate(alts):
        D[:, j, a] = avail[:, j]
    for i, j in enumerate(specific):
        D[:, j, len(alts) + i] = Z[i]
    full = np.concatenate([X, D], axis=2)
    theta = np.concatenate([beta, rng.normal(size=D.shape[2])])
    ref = loglike_derivatives_reference(full, theta, avail, chosen, offset, weight)
    ws = KernelWorkspace(n, J, 3)
    args = (J, theta, chosen * n + np.arange(n), np.ascontiguousarray(~avail.T),
            np.ascontiguousarray(offset.T), weight)
    got = chunk_derivatives(to_parameter_major(X), *args, 2, ws, constants=alts,
                            specific=specific, specific_values=Z)
    assert got[0] == pytest.approx(ref.loglike, rel=RTOL_SUMS)
    np.testing.assert_allclose(got[1], ref.score, rtol=RTOL_SUMS, atol=1e-10)
    np.testing.assert_allclose(got[2], ref.hessian, rtol=RTOL_SUMS, atol=1e-10)
    order1 = chunk_derivatives(to_parameter_major(X), *args, 1, ws, constants=alts,
                               specific=specific, specific_values=Z)
    np.testing.assert_allclose(order1[1], ref.score, rtol=RTOL_SUMS, atol=1e-10)


def test_design_stores_constants_by_name_specific_columns_once_and_the_rest_in_full():
    data, utilities = _data(0)
    utilities = dict(utilities)
    utilities["a"] = utilities["a"] + 2 * ck.Beta("twice")  # multiplier 2: stored, not a constant
    d = ck.MNL(data, utilities).design
    names = {d.param_names[k]: d.alternatives[j] for k, j in zip(d.constants,
                                                                  d.constant_alts)}
    assert names == {"asc_b": "b", "asc_c": "c", "asc_d": "d"}
    assert sorted(d.param_names[k] for k in d.stored) == ["b1", "b2"]
    specific = {d.param_names[k]: d.alternatives[j] for k, j in zip(d.specific,
                                                                     d.specific_alts)}
    assert specific == {"binc": "b", "bz": "b", "twice": "a"}
    assert d.specific_values.shape == (3, d.n_cases)
    # the textbook array, built here independently from the data's variables
    X = np.zeros((d.n_cases, d.n_alts, d.n_params))
    col = {name: d.param_names.index(name) for name in d.param_names}
    av = data.avail_array
    for j, a in enumerate(d.alternatives):
        for v in ("x1", "x2"):
            X[:, j, col["b" + v[1]]] = data.variable(v)[:, j]
        if a != "a":
            X[:, j, col[f"asc_{a}"]] = 1.0
    X[:, 0, col["twice"]] = 2.0
    X[:, 1, col["bz"]] = data.variable("z")[:, 1]
    X[:, 1, col["binc"]] = data.variable("inc")[:, 1]
    X[~av] = 0.0
    np.testing.assert_array_equal(d.X, X)
    np.testing.assert_array_equal(d.block(slice(5, 9), [4, 0]), X[5:9][:, :, [4, 0]])
    for k in range(d.n_params):
        np.testing.assert_array_equal(d.column(k), X[:, :, k])
    beta = np.linspace(-1, 1, d.n_params)
    np.testing.assert_allclose(d.utilities(beta), X @ beta + d.offset, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(d.column_max, np.abs(X).max(axis=(0, 1)))
