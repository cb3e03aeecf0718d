"""The chunked fit is a backend of the one estimation path: the same Objective, optimizer and
Results as ``MNL.fit`` on the same data (estimates and classical, robust, OPG and cluster
standard errors to 1e-8 relative), its summary and comparison tables, post-estimation that is
a sum over cases as passes over the stream, the rest refused by name, and bounded memory
(the meats are summed per piece: no ``(n, K)`` array, checked structurally)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.estimation.chunked import ChunkedDesign, ChunkedResults, fit_chunked
from choicekit.families.mnl.streamed import StreamedMNLFamily
from choicekit.results.results import Results

RTOL = 1e-8
NAMES = ["b0", "b1", "b2"]
CONSTS = {"asc1": 1, "asc2": 2, "asc3": 3}


def _data(seed: int = 5, n: int = 3000, J: int = 4, K: int = 3, holes: bool = True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, J, K))
    asc = np.array([0.0, 0.4, -0.3, 0.2])
    avail = np.ones((n, J), dtype=bool)
    if holes:
        avail[rng.random((n, J)) < 0.15] = False
        avail[:, :2] = True  # two alternatives at least: every case informs
    X[~avail] = 0.0
    U = X @ np.array([0.7, -0.4, 0.2]) + asc + rng.gumbel(size=(n, J))
    U[~avail] = -np.inf
    y = U.argmax(axis=1)
    group = rng.integers(0, 60, size=n)
    return X, y, avail, group


def _model(X, y, avail, group, weight=None, weight_type=None):
    n, J, K = X.shape
    alts = [f"A{j}" for j in range(J)]
    cols = {f"x{k}_{j}": X[:, j, k] for j in range(J) for k in range(K)}
    cols.update({f"av_{j}": avail[:, j].astype(int) for j in range(J)})
    cols["CH"] = y
    cols["G"] = group
    if weight is not None:
        cols["W"] = weight
    data = ck.ChoiceData.from_wide(
        pd.DataFrame(cols), choice="CH", alternatives=dict(enumerate(alts)),
        availability={a: f"av_{j}" for j, a in enumerate(alts)},
        variables={f"x{k}": {a: f"x{k}_{j}" for j, a in enumerate(alts)} for k in range(K)},
        weight=None if weight is None else "W", group="G", weight_type=weight_type)
    B, V = ck.Beta, ck.Var
    utilities = {}
    for j, a in enumerate(alts):
        u = sum((B(f"b{k}") * V(f"x{k}") for k in range(K)), start=0)
        utilities[a] = u + B(f"asc{j}") if j else u
    return ck.MNL(data, utilities)


def _pair(weight=None, weight_type=None, chunk_size=700):
    X, y, avail, group = _data()
    mem = _model(X, y, avail, group, weight, weight_type).fit()
    design = ChunkedDesign.from_arrays(X, y, NAMES, avail=avail, constants=CONSTS,
                                       weight=weight, group=group, chunk_size=chunk_size,
                                       alternatives=[f"A{j}" for j in range(4)],
                                       weight_type=weight_type)
    return mem, fit_chunked(design)


def _close(a: pd.Series, b: pd.Series, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(a[b.index].to_numpy(), b.to_numpy(), rtol=rtol)


@pytest.mark.parametrize("weights", [None, "sampling", "frequency"])
def test_chunked_equals_in_memory_estimates_and_every_covariance(weights):
    rng = np.random.default_rng(1)
    w = None
    if weights == "sampling":
        w = rng.uniform(0.5, 2.0, size=3000)
    elif weights == "frequency":
        w = rng.integers(1, 4, size=3000).astype(float)
    mem, res = _pair(w, weights)
    assert isinstance(res, Results) and isinstance(res, ChunkedResults)
    assert res.converged and res.nobs == mem.nobs == 3000
    assert res.weight_type == mem.weight_type
    _close(res.params, mem.params)
    assert res.llf == pytest.approx(mem.llf, rel=1e-12)
    assert res.llnull == pytest.approx(mem.llnull, rel=1e-12)
    assert res.bic == pytest.approx(mem.bic, rel=1e-12)
    for cov_type in ("classical", "robust", "opg", "cluster"):
        _close(res.with_cov(cov_type).bse, mem.with_cov(cov_type).bse)
    assert res.with_cov("cluster").n_clusters == mem.with_cov("cluster").n_clusters == 60
    robust = fit_chunked(res.model.design, cov_type="robust")
    assert robust.cov_type == "robust"
    _close(robust.bse, mem.with_cov("robust").bse)


def test_chunked_keeps_its_old_attributes():
    mem, res = _pair()
    assert isinstance(res.cov, pd.DataFrame) and res.cov.shape == (6, 6)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), res.bse.to_numpy())
    assert res.hessian.shape == (6, 6) and res.score.shape == (6,)
    assert res.iterations >= 1 and res.evaluations >= res.iterations
    assert isinstance(res.message, str) and res.nobs == 3000


def test_chunked_summary_and_compare_render():
    mem, res = _pair(np.random.default_rng(2).integers(1, 3, 3000).astype(float), None)
    text = str(res.summary())
    assert "Multinomial logit" in text and "robust std err" in text and "A3" not in text
    assert "Alternatives:" in text and "frequency weights" in text
    assert "Null log-likelihood" in text
    # the header statistics are the in-memory fit's
    a, b = dict(res.summary().header), dict(mem.summary().header)
    for key in ("Cases", "Alternatives", "Null log-likelihood", "Rho-squared", "Weights"):
        assert a[key] == b[key]
    table = ck.compare([mem, res], ["memory", "chunked"])
    assert "chunked" in str(table)
    assert "ChunkedMNLResults" in repr(res)


def test_chunked_postestimation_passes_equal_in_memory():
    mem, res = _pair()
    sh_m, sh_c = mem.predicted_shares(), res.predicted_shares()
    np.testing.assert_allclose(sh_c.to_numpy(), sh_m.to_numpy(), rtol=1e-6)
    assert list(sh_c.index) == list(sh_m.index)
    np.testing.assert_allclose(res.share_table().to_numpy(), mem.share_table().to_numpy(),
                               rtol=1e-8, atol=1e-12)
    _close(res.hit_rate(), mem.hit_rate())
    for kind in ("probability", "argmax"):
        np.testing.assert_allclose(res.confusion_table(kind=kind).to_numpy(),
                                   mem.confusion_table(kind=kind).to_numpy(), rtol=1e-8)
    # the estimates alone need no data
    assert res.wald_test("b0 = 0").statistic == pytest.approx(
        mem.wald_test("b0 = 0").statistic, rel=1e-7)


@pytest.mark.parametrize("call", [
    lambda r: r.elasticities("x0"), lambda r: r.logsum(), lambda r: r.scenario({}),
    lambda r: r.bootstrap(), lambda r: r.predict_proba(), lambda r: r.holdout(None),
    lambda r: r.predicted_shares(by="G"), lambda r: r.llnull_market_share(),
    lambda r: r.with_cov("cluster", groups="G"), lambda r: r.marginal_effects("x0"),
])
def test_chunked_refuses_what_needs_per_case_data_by_name(call):
    _, res = _pair()
    with pytest.raises(ck.SpecificationError, match="not available on a chunked fit"):
        call(res)


def test_cluster_needs_group_ids_in_the_chunks():
    X, y, avail, _ = _data(n=500)
    res = fit_chunked(ChunkedDesign.from_arrays(X, y, NAMES, avail=avail, constants=CONSTS))
    with pytest.raises(ck.SpecificationError, match="DesignChunk.group"):
        res.with_cov("cluster")


def test_meats_are_summed_per_piece_without_an_n_by_k_array(monkeypatch):
    """Structural: the covariances read the scores piece by piece (never the family's
    per-case ``score_obs``, never Results' ``(n, K)`` cache) and no piece exceeds
    ``max_cases`` rows."""
    X, y, avail, group = _data()
    design = ChunkedDesign.from_arrays(X, y, NAMES, avail=avail, constants=CONSTS,
                                       group=group, chunk_size=1000, max_cases=256)

    def forbidden(*args, **kwargs):
        raise AssertionError("score_obs (an (n, K) array) was called")

    monkeypatch.setattr(StreamedMNLFamily, "score_obs", forbidden)
    rows = []
    blocks = StreamedMNLFamily.score_blocks

    def spy(self, theta):
        for s, w, g in blocks(self, theta):
            rows.append(s.shape[0])
            yield s, w, g

    monkeypatch.setattr(StreamedMNLFamily, "score_blocks", spy)
    res = fit_chunked(design)
    for cov_type in ("robust", "opg", "cluster"):
        r = res.with_cov(cov_type)
        assert np.isfinite(r.bse.to_numpy()).all()
        assert "_score_obs" not in r.__dict__
    str(res.summary())  # the summary's second (robust) columns too
    assert rows and max(rows) <= 256
    assert sum(rows) % 3000 == 0  # whole passes over the stream
