"""Sampling of alternatives (issue 16, item 4): the sampler, McFadden's correction, recovery on
2,000 zones, and choice sets stored per case (slots) instead of over every alternative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.data.sampling import ChoiceSets

B, V = ck.Beta, ck.Var
TRUE = {"dist": -0.15, "lnsize": 1.0}


def _zones(n_cases: int, n_zones: int, seed: int = 16):
    """Destination choice over ``n_zones`` zones: distance and log size, choices simulated from
    the full-set logit (Gumbel argmax over every zone)."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 1.0, n_zones)
    zx, zy = rng.uniform(0, 50, (2, n_zones))
    hx, hy = rng.uniform(0, 50, (2, n_cases))
    dist = np.hypot(hx[:, None] - zx, hy[:, None] - zy)
    U = TRUE["dist"] * dist + TRUE["lnsize"] * np.log(size) + rng.gumbel(size=dist.shape)
    df = pd.DataFrame(dist, columns=[f"d{z}" for z in range(n_zones)])
    lns = pd.DataFrame(np.broadcast_to(np.log(size), dist.shape).copy(),
                       columns=[f"s{z}" for z in range(n_zones)])
    df = pd.concat([df, lns], axis=1)
    df["choice"] = U.argmax(axis=1)
    data = ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={z: z for z in range(n_zones)},
        variables={"dist": {z: f"d{z}" for z in range(n_zones)},
                   "lnsize": {z: f"s{z}" for z in range(n_zones)}})
    return data, dist, size


@pytest.fixture(scope="module")
def zones2000():
    return _zones(3000, 2000)


FORMULA = "choice ~ dist + lnsize | 0"


@pytest.mark.parametrize("how", ["uniform", "importance"])
def test_recovery_on_2000_zones(zones2000, how):
    """The sampled-set estimator is consistent: 20 of 2,000 zones per case, 3,000 cases.

    Tolerance: every estimate within 3.5 standard errors of the true value, the SE being the
    classical one of the corrected conditional likelihood, which is the asymptotic SE of this
    estimator (sampling of alternatives included; McFadden 1978). Fixed seeds; the estimates
    are within 1.1 SE."""
    data, dist, size = zones2000
    weights = None if how == "uniform" else np.exp(-0.1 * dist) * size
    sampled = data.sample_alternatives(20, rng=1, weights=weights)
    assert sampled.is_sampled
    res = ck.MNL.from_formula(FORMULA, sampled).fit()
    assert res.converged
    assert res.model.design.avail.shape == (3000, 20)  # slots, not 2,000 alternatives
    z = (res.params - pd.Series(TRUE)) / res.bse
    assert (z.abs() < 3.5).all(), z


def test_importance_sampling_needs_the_correction(zones2000):
    """Negative control: the same importance sample without ln(k/q) is badly biased (the size
    coefficient collapses, because sampling already favours big zones)."""
    data, dist, size = zones2000
    sampled = data.sample_alternatives(20, rng=1, weights=np.exp(-0.1 * dist) * size)
    raw = sampled._replace(sets=ChoiceSets(sampled._sets.alt, None, "importance"))
    res = ck.MNL.from_formula(FORMULA, raw).fit()
    z = (res.params - pd.Series(TRUE)) / res.bse
    assert (z.abs() > 10).all(), z


def _small(n_cases=400, n_zones=80, seed=3):
    data, dist, size = _zones(n_cases, n_zones, seed)
    return data, dist, size


def test_sampler_sets():
    data, dist, size = _small()
    s = data.sample_alternatives(10, rng=7)
    sets = s.sampled_sets
    assert sets.shape == (data.n_cases, 10)
    # the chosen alternative is in every set, the sets have 10 distinct available zones
    assert all(c in set(row) for c, row in zip(data.chosen, sets.to_numpy()))
    assert (s.availability.sum(axis=1) == 10).all()
    assert s.n_alts == data.n_alts and s.alternatives == data.alternatives
    # reproducible from the seed, different from another seed
    assert s.sampled_sets.equals(data.sample_alternatives(10, rng=7).sampled_sets)
    assert not s.sampled_sets.equals(data.sample_alternatives(10, rng=8).sampled_sets)
    # importance sampling: distinct alternatives (maybe fewer than n), correction ln(k/q)
    w = data.sample_alternatives(10, rng=7, weights=size)
    frame = w.sampled_sets
    alts = frame["alternative"].to_numpy()
    corr = frame["correction"].to_numpy()
    q = size / size.sum()
    for row, c, ch in zip(alts[:50], corr[:50], data.chosen[:50]):
        present = [a for a in row if a is not None]
        assert len(set(present)) == len(present) and ch in present
        k = np.exp(c[: len(present)]) * q[np.array(present, dtype=int)]
        # k is a count: 1 + number of draws for the chosen, number of draws otherwise
        assert np.allclose(k, np.round(k)) and round(k.sum()) == 10


def test_sampler_errors():
    data, dist, size = _small()
    with pytest.raises(ck.SpecificationError, match="`n` must be an integer >= 2"):
        data.sample_alternatives(1, rng=0)
    bad = size.copy()
    bad[5] = 0.0
    with pytest.raises(ck.ChoiceDataError, match="finite and positive"):
        data.sample_alternatives(5, rng=0, weights=bad)
    with pytest.raises(ck.ChoiceDataError, match="no value for 1 alternatives"):
        data.sample_alternatives(5, rng=0, weights={z: 1.0 for z in range(79)})
    with pytest.raises(ck.ChoiceDataError, match="already a sample"):
        data.sample_alternatives(5, rng=0).sample_alternatives(3, rng=0)
    everything = data.sample_alternatives(500, rng=0)  # more than there are: all are kept
    assert everything.availability.all(axis=None)


def test_zone_labelled_long_frame_is_laid_out_in_slots():
    """Rows labelled by zone id over 2,000 zones, 20 per case: before, the design was dense
    over 2,000 alternatives (K x 2,000 x n doubles, a 32 s fit on 5,000 cases); now it is per
    case over 20 slots and gives the fit of the same rows labelled by slot."""
    rng = np.random.default_rng(5)
    n, Z, S = 1500, 2000, 20
    zone = np.concatenate([rng.choice(Z, S, replace=False) for _ in range(n)])
    dist = rng.gamma(2.0, 5.0, n * S)
    lnsize = rng.normal(size=Z)[zone]
    U = (-0.1 * dist + lnsize).reshape(n, S) + rng.gumbel(size=(n, S))
    chosen = np.zeros((n, S), dtype=int)
    chosen[np.arange(n), U.argmax(axis=1)] = 1
    df = pd.DataFrame({"case": np.repeat(np.arange(n), S), "zone": zone,
                       "slot": np.tile(np.arange(S), n), "dist": dist, "lnsize": lnsize,
                       "chosen": chosen.ravel()})
    by_zone = ck.ChoiceData.from_long(df, case="case", alt="zone", choice="chosen")
    by_slot = ck.ChoiceData.from_long(df, case="case", alt="slot", choice="chosen")
    m_zone = ck.MNL.from_formula("chosen ~ dist + lnsize | 0", by_zone)
    m_slot = ck.MNL.from_formula("chosen ~ dist + lnsize | 0", by_slot)
    assert m_zone.design.columns.shape == (2, S, n)
    assert m_zone.design.columns.nbytes == m_slot.design.columns.nbytes
    r_zone, r_slot = m_zone.fit(), m_slot.fit()
    assert np.allclose(r_zone.params, r_slot.params, rtol=0, atol=1e-10)
    assert np.allclose(r_zone.bse, r_slot.bse, rtol=1e-10)
    assert r_zone.llf == pytest.approx(r_slot.llf, abs=1e-9)
    # predictions come back over the zones, zero outside each case's set
    P = r_zone.predict_proba()
    assert P.shape == (n, len(by_zone.alternatives))
    assert np.allclose(P.sum(axis=1), 1.0)
    first = df[df.case == 0].set_index("zone")
    p_slot = r_slot.predict_proba().iloc[0].to_numpy()
    assert np.allclose(P.iloc[0][first.index].to_numpy(), p_slot[first["slot"].to_numpy()])
    assert (P.iloc[0].drop(first.index) == 0).all()


def test_correction_is_the_offset_of_a_hand_built_slot_frame():
    """The sampled data's likelihood is the logit over the slots with ln(k/q) added: the same
    fit as a long frame labelled by slot carrying the correction as a variable."""
    data, dist, size = _small()
    s = data.sample_alternatives(8, rng=2, weights=size)
    sets = s.sampled_sets
    alts, corr = sets["alternative"].to_numpy(), sets["correction"].to_numpy()
    rows = [(i, k, a, dist[i, a], np.log(size[a]), c, int(a == ch))
            for i, ch in enumerate(data.chosen)
            for k, (a, c) in enumerate(zip(alts[i], corr[i])) if a is not None]
    df = pd.DataFrame(rows, columns=["case", "slot", "zone", "dist", "lnsize", "corr", "chosen"])
    hand = ck.ChoiceData.from_long(df.drop(columns="zone"), case="case", alt="slot",
                                   choice="chosen")
    u = B("b_dist") * V("dist") + B("b_size") * V("lnsize") + V("corr")
    r_hand = ck.MNL(hand, {k: u for k in hand.alternatives}).fit()
    u2 = B("b_dist") * V("dist") + B("b_size") * V("lnsize")
    r = ck.MNL(s, {z: u2 for z in s.alternatives}).fit()
    assert np.allclose(r.params, r_hand.params, atol=1e-9)
    assert r.llf == pytest.approx(r_hand.llf, abs=1e-8)


def test_post_estimation_on_sampled_data():
    data, dist, size = _small()
    s = data.sample_alternatives(10, rng=4, weights=size)
    res = ck.MNL.from_formula(FORMULA, s).fit()
    P = res.predict_proba()  # within each sampled set, corrections included
    assert P.shape == (data.n_cases, data.n_alts)
    assert np.allclose(P.sum(axis=1), 1.0)
    assert ((P > 0) == s.availability).all(axis=None)
    full = res.predict_proba(data)  # full-set predictions at the sampled-set estimates
    assert (full > 0).all(axis=None) and np.allclose(full.sum(axis=1), 1.0)
    shares = res.predicted_shares(data, se="none")
    assert shares["share"].sum() == pytest.approx(1.0)
    sim = res.model.simulate(res.params, rng=0)
    assert s.availability.to_numpy()[np.arange(data.n_cases),
                                      [data.alternatives.index(c) for c in sim.chosen]].all()
    boot = s.take(np.arange(100))
    assert boot.is_sampled and boot.sampled_sets.shape[0] == 100
    assert ck.MNL.from_formula(FORMULA, boot).fit().converged


def test_constants_on_sampled_sets(monkeypatch):
    """A few alternative-specific constants work on slot designs (same fit as the dense
    layout); a constant for each of 2,000 zones is refused with advice."""
    from choicekit.design.build import build_design
    from choicekit.estimation.objective import Objective

    data, dist, size = _small(n_cases=600)
    s = data.sample_alternatives(12, rng=9)
    top = data.chosen.value_counts().index[:3]  # constants of the three most chosen zones
    u = {z: B("b_dist") * V("dist") + B("b_size") * V("lnsize")
         + (B(f"ASC_{z}") if z in top else 0) for z in s.alternatives}
    model = ck.MNL(s, u)
    assert model.design.slot_alts is not None
    res = model.fit()
    dense = build_design(s, model.specification, layout="dense")
    assert dense.slot_alts is None and dense.avail.shape == (600, 80)
    ll_dense = Objective(dense, dense.start).evaluate(res.params.to_numpy(), order=0)[0]
    assert ll_dense == pytest.approx(res.llf, abs=1e-9)
    # 79 constants x 12 slots x 600 cases: over a (lowered) limit, refused with advice
    monkeypatch.setattr("choicekit.design.slots.MAX_SLOT_VALUES", 500_000)
    with pytest.raises(ck.SpecificationError, match=r"`\| 0` drops"):
        ck.MNL.from_formula("choice ~ dist + lnsize", s)
