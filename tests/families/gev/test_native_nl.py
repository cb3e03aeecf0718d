"""The compiled nested logit pass (``families/gev/_nl_pass.c``) against its reference, the
NumPy kernel with the chain rule of ``NestedFamily.sums``, on trees of several shapes.

The two compute the same sums by different routes (the C pass: utilities from the
parameter-major design and the chain rule per chunk; NumPy: the textbook ``(n, J, K)`` block),
so agreement to rounding (1e-10 relative) checks the pass's tree recursion, its Hessian and
its parameter maps. ``CHOICEKIT_REQUIRE_NATIVE=1`` (CI) makes a missing pass an error here
rather than a skip.
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import choicekit as ck
from choicekit.families.gev import native
from choicekit.families.native_library import native_required
from choicekit.families.protocol import ALL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from family_models import ALTS as ALTS_ALL  # noqa: E402
from family_models import family_data, nl_nests, utilities  # noqa: E402

B, V = ck.Beta, ck.Var

pytestmark = pytest.mark.skipif(not (native.available() or native_required()),
                                reason="the compiled nested logit pass is not built")


def _two_level():
    return [ck.Nest("ab", ["a", "b"], B("L_AB", 0.6, lower=0.01, upper=1.0)),
            ck.Nest("cde", ["c", "d", "e"], B("L_CDE", 0.8, lower=0.01, upper=1.0))]


def _one_nest_rest_alone():
    return [ck.Nest("bcd", ["b", "c", "d"], mu=B("MU", 1.7, lower=1.0))]


def _fixed_and_deep():
    inner = ck.Nest("ab", ["a", "b"], 0.4)  # fixed
    mid = ck.Nest("abc", [inner, "c"], B("L_MID", 0.7))
    return [ck.Nest("top", [mid, "d"], B("L_TOP", 0.9)), ck.Nest("e", ["e"], 1.0)]


TREES = {"three-level, mu-form": nl_nests, "two nests": _two_level,
         "one nest, the rest alone": _one_nest_rest_alone, "fixed and deep": _fixed_and_deep}


def _models(data):
    return {name: ck.NestedLogit(data, utilities(), make()) for name, make in TREES.items()}


@pytest.fixture(scope="module")
def data():
    return family_data()  # weights, availability holes, a case-level column in one utility


def _theta(fam, seed):
    rng = np.random.default_rng(seed)
    th = fam.params.start.astype(float).copy()
    k = fam.n_design
    th[:k] = rng.normal(scale=0.5, size=k)
    return th


@pytest.mark.parametrize("name", sorted(TREES))
@pytest.mark.parametrize("order", [0, 1, 2])
def test_pass_equals_the_reference_sums(data, name, order):
    m = _models(data)[name]
    fam = m.family()
    assert fam.use_native
    th = _theta(fam, 3)
    free = np.ones(len(th), dtype=bool)
    ll, g, H = fam.fast_sums(th, order, free)
    ref = fam.sums(th, ALL, order)
    assert ll == pytest.approx(ref.loglike, rel=1e-12)
    if order >= 1:
        np.testing.assert_allclose(g, ref.score, rtol=1e-10, atol=1e-9)
    if order >= 2:
        np.testing.assert_allclose(H, ref.hessian, rtol=1e-10, atol=1e-9)


def test_pass_with_offsets_fixed_parameters_and_a_dead_nest(data):
    """An offset, some fixed parameters (the free block), and cases in which no member of a
    nest is available (that nest drops out of those cases)."""
    fam = ck.NestedLogit(data, utilities(), _two_level()).family()
    d = fam.design
    avail = d.avail.copy()
    dead = np.flatnonzero(d.chosen >= 2)[:40]  # c, d or e chosen: drop a and b there
    avail[dead, :2] = False
    rng = np.random.default_rng(5)
    d2 = replace(d, avail=avail, columns=np.ascontiguousarray(
        np.where(avail.T[None], d.columns, 0.0)), offset=rng.normal(size=avail.shape))
    fam2 = type(fam)(d2, spec=fam.spec)
    assert fam2.use_native
    th = _theta(fam2, 8)
    free = np.ones(len(th), dtype=bool)
    free[[0, 3]] = False
    ll, g, H = fam2.fast_sums(th, 2, free)
    ref = fam2.sums(th, ALL, 2)
    assert ll == pytest.approx(ref.loglike, rel=1e-12)
    np.testing.assert_allclose(g, ref.score[free], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(H, ref.hessian[np.ix_(free, free)], rtol=1e-10, atol=1e-9)


def test_threads_and_ranges_give_the_same_sums(data):
    m = ck.NestedLogit(data, utilities(), nl_nests())
    one = m.family()
    two = type(one)(one.design, spec=one.spec, chunk_size=16, threads=2)
    one.threads = 1
    th = _theta(one, 1)
    free = np.ones(len(th), dtype=bool)
    a, b = one.fast_sums(th, 2, free), two.fast_sums(th, 2, free)
    assert a[0] == pytest.approx(b[0], rel=1e-13)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(a[2], b[2], rtol=1e-12, atol=1e-11)


def test_outside_the_domain_the_pass_returns_minus_infinity(data):
    fam = ck.NestedLogit(data, utilities(), _two_level()).family()
    th = _theta(fam, 2)
    th[-1] = -0.5  # a negative lambda
    ll, g, H = fam.fast_sums(th, 2, np.ones(len(th), dtype=bool))
    assert ll == -np.inf and not g.any() and not H.any()


def test_fit_with_the_pass_equals_the_fit_with_numpy(data, monkeypatch):
    fast = ck.NestedLogit(data, utilities(), _two_level()).fit()
    monkeypatch.setenv("CHOICEKIT_NATIVE", "0")
    slow_model = ck.NestedLogit(data, utilities(), _two_level())
    assert not slow_model.family().use_native
    slow = slow_model.fit()
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-6)
    assert fast.llf == pytest.approx(slow.llf, rel=1e-12)


def test_family_pickles_without_its_pass(data):
    fam = ck.NestedLogit(data, utilities(), _two_level()).family()
    th = _theta(fam, 4)
    free = np.ones(len(th), dtype=bool)
    before = fam.fast_sums(th, 1, free)
    again = pickle.loads(pickle.dumps(fam))
    assert again._native is None
    after = again.fast_sums(th, 1, free)
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])


def _random_tree(rng: np.random.Generator, members: list, depth: int, count: list) -> list:
    """Nests over some of ``members`` (each of at least two children), nested up to ``depth``
    levels; the other members stay at this level."""
    items = list(members)
    rng.shuffle(items)
    out: list = []
    while len(items) >= 2 and rng.uniform() < 0.7:
        k = int(rng.integers(2, len(items) + 1))
        group, items = items[:k], items[k:]
        if depth > 1 and len(group) >= 3 and rng.uniform() < 0.6:
            group = _random_tree(rng, group, depth - 1, count)
        count[0] += 1
        name = f"n{count[0]}"
        lam = B(f"L_{name}", float(rng.uniform(0.3, 1.0)), lower=0.01, upper=1.0)
        out.append(ck.Nest(name, group, lam) if len(group) >= 2 else group[0])
    return out + items


@pytest.mark.parametrize("seed", range(12))
def test_pass_equals_the_reference_on_random_trees(data, seed):
    """Random trees over the five alternatives (up to three levels, alternatives left alone
    at any level), at random parameters: the pass against the NumPy reference."""
    rng = np.random.default_rng(1000 + seed)
    tree: list = []
    while not tree:  # a draw with at least one nest
        tree = [n for n in _random_tree(rng, ALTS_ALL, 3, [0]) if isinstance(n, ck.Nest)]
    fam = ck.NestedLogit(data, utilities(), tree).family()
    assert fam.use_native
    th = _theta(fam, seed)
    th[fam.n_design:] = rng.uniform(0.2, 1.0, size=len(th) - fam.n_design)
    free = np.ones(len(th), dtype=bool)
    ll, g, H = fam.fast_sums(th, 2, free)
    ref = fam.sums(th, ALL, 2)
    assert ll == pytest.approx(ref.loglike, rel=1e-12)
    np.testing.assert_allclose(g, ref.score, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(H, ref.hessian, rtol=1e-10, atol=1e-9)
