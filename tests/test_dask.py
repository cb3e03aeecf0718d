"""Distributed estimation on a LocalCluster of 2 worker processes: the same fit, the same
numbers as in memory (estimates and every covariance to 1e-10 relative), for 1, 3 and 17
partitions, wide and long (from parquet), a worker killed mid-fit, and bad data in one
partition. No timing assertions. Skipped without the ``distributed`` extra."""

from __future__ import annotations

import os
import signal
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.distributed")

import dask.dataframe as dd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

import choicekit as ck  # noqa: E402
from choicekit import Beta as B  # noqa: E402
from choicekit import Var as V  # noqa: E402
from choicekit.estimation.dask import STORED  # noqa: E402

RTOL = 1e-10

KW = dict(choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
          availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
          group="person", case="case")
UTIL = {
    "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
    + B("B_COST") * V("TRAIN_COST") / 100,
    "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
    "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100,
}


@pytest.fixture(scope="module", autouse=True)
def _restore_environment():
    """Dask's nanny writes OMP/MKL/OPENBLAS_NUM_THREADS=1 (and more) into this process's
    ``os.environ`` when it starts workers: a process spawned later by another test module
    (test_persist's fit in a worker) would then run single-threaded BLAS while this process
    does not, and its sums differ in the last bits. Put the environment back."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def _cluster() -> tuple[LocalCluster, Client]:
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                           dashboard_address=None, silence_logs=50)
    return cluster, Client(cluster, set_as_default=False)


@pytest.fixture(scope="module")
def client():
    cluster, client = _cluster()
    with client.as_current():
        yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ck.datasets.load_simulated_modechoice()


@pytest.fixture(scope="module")
def reference(frame):
    return ck.MNL(ck.ChoiceData.from_wide(frame, **KW), UTIL).fit()


def close(a, b, rtol=RTOL) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.nanmax(np.abs(a))
    np.testing.assert_allclose(b, a, rtol=0, atol=rtol * scale)


def same_fit(ref, res) -> None:
    assert type(res) is type(ref)
    assert res.converged and res.nobs == ref.nobs
    close(ref.params, res.params)
    close([ref.llf, ref.llnull, ref.aic, ref.bic], [res.llf, res.llnull, res.aic, res.bic])
    for cov in ("classical", "robust", "opg", "cluster"):
        a, b = ref.with_cov(cov), res.with_cov(cov)
        close(a.cov_params(), b.cov_params())
        assert a.n_clusters == b.n_clusters


@pytest.mark.parametrize("npartitions", [1, 3, 17])
def test_wide_fit_equals_in_memory(client, frame, reference, npartitions):
    ddf = dd.from_pandas(frame, npartitions=npartitions, sort=False)
    data = ck.ChoiceData.from_dask(ddf, layout="wide", **KW)
    assert data.n_partitions == npartitions and data.n_cases == len(frame)
    res = ck.MNL(data, UTIL).fit()
    same_fit(reference, res)
    diag = res.diagnostics
    assert diag["n_partitions"] == npartitions
    assert diag["partitions"]["cases"].sum() == len(frame)
    assert diag["workers"]["data_bytes"].sum() > 0
    t = diag["timing"]
    assert t["seconds_per_iteration"] > 0 and 0 < t["slowest_partition_share"] <= 1
    assert str(res.summary())  # the same summary


def test_nested_logit_on_dask_equals_in_memory(client, frame):
    """Another family through the same map-reduce: the nested logit (its compiled pass runs
    per partition) gives the in-memory estimates and covariances."""
    nests = [ck.Nest("public", ["train", "bus"], ck.Beta("LAM", 0.8, lower=0.05, upper=1.0))]
    ref = ck.NestedLogit(ck.ChoiceData.from_wide(frame, **KW), UTIL, nests).fit()
    data = ck.ChoiceData.from_dask(dd.from_pandas(frame, npartitions=3, sort=False),
                                   layout="wide", **KW)
    same_fit(ref, ck.NestedLogit(data, UTIL, nests).fit())


def test_groups_spanning_partitions_cluster_exactly(client, frame, reference):
    # rows shuffled: every person's cases spread over the 17 partitions
    shuffled = frame.sample(frac=1.0, random_state=0)
    data = ck.ChoiceData.from_dask(dd.from_pandas(shuffled, npartitions=17, sort=False),
                                   **KW)
    assert len(data.split_groups()) > 0
    res = ck.MNL(data, UTIL).fit(cov_type="cluster")
    ref = reference.with_cov("cluster")
    assert res.n_clusters == ref.n_clusters == frame["person"].nunique()
    close(ref.cov_params(), res.cov_params())
    close(reference.params, res.params)


def _held(pm) -> dict:
    """What a worker holds of a partition model (run on the worker)."""
    cache = pm.model.__dict__.get("_dask_post_cache", {})
    return {"data_released": pm.model._data is STORED, "post_cache": len(cache)}


def test_workers_hold_designs_only_and_balanced(client, frame, reference):
    """The validated data are released once each partition's design is built; partitions are
    spread evenly over the workers; post-estimation rebuilds the data it needs from storage and
    leaves nothing behind."""
    data = ck.ChoiceData.from_dask(dd.from_pandas(frame, npartitions=8, sort=False), **KW)
    res = ck.MNL(data, UTIL).fit()
    held = client.gather(client.map(_held, res.model.design.futures, pure=False))
    assert all(h["data_released"] for h in held)
    assert sorted(res.diagnostics["workers"]["partitions"]) == [4, 4]
    # a cluster column (not the data's group) is read from the rebuilt data
    a, b = reference.with_cov("cluster", groups="person"), res.with_cov("cluster",
                                                                         groups="person")
    close(a.cov_params(), b.cov_params())
    assert a.n_clusters == b.n_clusters
    s1, s2 = reference.predicted_shares(by="person"), res.predicted_shares(by="person")
    close(s1["share"], s2["share"])
    c1 = reference.scenario({"TRAIN_COST": 1.1}, by="person")
    c2 = res.scenario({"TRAIN_COST": 1.1}, by="person")
    close(c1.shares["after"], c2.shares["after"])
    held = client.gather(client.map(_held, res.model.design.futures, pure=False))
    assert all(h["data_released"] and h["post_cache"] == 0 for h in held)
    # a task that reaches for the released data is told so
    with pytest.raises(ck.ChoiceKitError, match="released once its design was built"):
        client.submit(_data_cases, res.model.design.futures[0], pure=False).result()


def _data_cases(pm) -> int:
    return pm.model.data.n_cases


def test_long_from_parquet_equals_in_memory(client, tmp_path):
    tm = ck.datasets.load_travelmode()
    tm = tm.assign(mode=tm["mode"].map({1: "air", 2: "train", 3: "bus", 4: "car"}))
    formula = "choice ~ gc + ttme | hinc"
    ref = ck.MNL.from_formula(formula, ck.ChoiceData.from_long(
        tm, case="individual", alt="mode", choice="choice"), reference="car").fit()
    path = tmp_path / "tm.parquet"
    dd.from_pandas(tm.set_index("individual"), npartitions=3, sort=True).to_parquet(path)
    ddf = dd.read_parquet(path, calculate_divisions=True)
    assert ddf.known_divisions  # indexed by case: whole cases, no check needed
    data = ck.ChoiceData.from_dask(ddf, layout="long", case="individual", alt="mode",
                                   choice="choice")
    assert data.alternatives == ["air", "bus", "car", "train"]
    res = ck.MNL.from_formula(formula, data, reference="car").fit()
    close(ref.params, res.params)
    for cov in ("classical", "robust", "opg"):
        close(ref.with_cov(cov).cov_params(), res.with_cov(cov).cov_params())


def test_long_cases_split_over_partitions(client):
    tm = ck.datasets.load_travelmode()
    ddf = dd.from_pandas(tm, npartitions=9, sort=False)  # 840 rows: cut inside cases
    with pytest.raises(ck.ChoiceDataError, match=r"cases have rows of the same case in "
                       r"several partitions, e.g. .*partitions \d+\.\.\d+.*shuffle=True"):
        ck.ChoiceData.from_dask(ddf, layout="long", case="individual", alt="mode",
                                choice="choice")
    data = ck.ChoiceData.from_dask(ddf, layout="long", case="individual", alt="mode",
                                   choice="choice", shuffle=True)
    ref = ck.MNL.from_formula("choice ~ gc + ttme | 1", ck.ChoiceData.from_long(
        tm, case="individual", alt="mode", choice="choice")).fit()
    res = ck.MNL.from_formula("choice ~ gc + ttme | 1", data).fit()
    close(ref.params, res.params)
    close(ref.bse, res.bse)


def test_weighted_fits(client, frame):
    rng = np.random.default_rng(1)
    for weights, wtype in ((rng.uniform(0.5, 2.0, len(frame)), "sampling"),
                           (rng.integers(1, 4, len(frame)), "frequency")):
        f = frame.assign(w=weights)
        ref = ck.MNL(ck.ChoiceData.from_wide(f, **KW, weight="w"), UTIL).fit()
        data = ck.ChoiceData.from_dask(dd.from_pandas(f, npartitions=3), **KW, weight="w")
        assert data.weight_type == wtype
        res = ck.MNL(data, UTIL).fit()
        assert res.cov_type == ref.cov_type
        same_fit(ref, res)


def test_postestimation_map_reduce(client, frame, reference):
    data = ck.ChoiceData.from_dask(dd.from_pandas(frame, npartitions=3), **KW)
    res = ck.MNL(data, UTIL).fit()
    for by in (None, "person"):
        a, b = reference.predicted_shares(by=by), res.predicted_shares(by=by)
        assert a.index.equals(b.index)
        close(a["share"], b["share"])
        close(a["se"], b["se"], 1e-7)  # finite differences of sums added in another order
    e1, e2 = reference.elasticities("TRAIN_TT"), res.elasticities("TRAIN_TT")
    close(e1.estimate, e2.estimate)
    close(e1.se, e2.se, 1e-7)
    m1, m2 = reference.marginal_effects("CAR_COST"), res.marginal_effects("CAR_COST")
    close(m1.estimate, m2.estimate)
    s1 = reference.scenario({"TRAIN_COST": 1.1}, cost="B_COST", cost_scale=0.01)
    s2 = res.scenario({"TRAIN_COST": 1.1}, cost="B_COST", cost_scale=0.01)
    close(s1.shares[["before", "after", "change"]], s2.shares[["before", "after", "change"]])
    close(s1.surplus["estimate"], s2.surplus["estimate"])
    close(s1.surplus["se"], s2.surplus["se"], 1e-7)
    close(reference.hit_rate(), res.hit_rate())
    P = res.predict_proba().compute()
    close(reference.predict_proba().loc[P.index], P)
    with pytest.raises(ck.ChoiceDataError, match="distributed"):
        res.confusion_table()


def test_nested_logit_unchanged(client, frame):
    nests = [ck.Nest("public", ["train", "bus"], B("LAMBDA", 0.8, lower=0.05, upper=1.0))]
    ref = ck.NestedLogit(ck.ChoiceData.from_wide(frame, **KW), UTIL, nests).fit()
    data = ck.ChoiceData.from_dask(dd.from_pandas(frame, npartitions=3), **KW)
    res = ck.NestedLogit(data, UTIL, nests).fit()
    close(ref.params, res.params, 1e-8)
    close(ref.bse, res.bse, 1e-6)


def test_bad_partition_named(client, frame):
    bad = frame.copy()
    n = len(bad) // 3
    bad.loc[bad.index[2 * n + 5], "CHOICE"] = 9  # a case of the last of 3 partitions
    bad_case = bad["case"].iloc[2 * n + 5]
    ddf = dd.from_pandas(bad, npartitions=3, sort=False)
    with pytest.raises(ck.ChoiceDataError) as err:
        ck.ChoiceData.from_dask(ddf, **KW)
    msg = str(err.value)
    assert "1 of 3 partitions hold invalid data" in msg
    assert "partition 2" in msg and str(bad_case) in msg and "partition 0" not in msg


def test_no_client_and_bad_arguments(frame, monkeypatch):
    import distributed

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    ddf = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(ck.ChoiceDataError, match="No dask.distributed Client"):
        ck.ChoiceData.from_dask(ddf, **KW)
    with pytest.raises(ck.ChoiceDataError, match="must be a dask DataFrame"):
        ck.ChoiceData.from_dask(frame, client=object(), **KW)


def test_worker_killed_mid_fit(frame, tmp_path, monkeypatch):
    """A worker dies during the fit: its partitions are rebuilt from the parquet files and
    the fit ends with the same estimates as an undisturbed one."""
    from choicekit.estimation.dask import DaskFamily

    path = tmp_path / "sm.parquet"
    dd.from_pandas(frame, npartitions=4).to_parquet(path)
    cluster, client = _cluster()
    try:
        with client.as_current():
            data = ck.ChoiceData.from_dask(dd.read_parquet(path), **KW)
            calm = ck.MNL(data, UTIL).fit()
            original = DaskFamily.fast_sums
            state = {"calls": 0, "killed": None}

            def fast_sums(self, theta, order, free):
                state["calls"] += 1
                if state["calls"] == 3:  # mid-fit: after two evaluations
                    who = client.who_has(self.design.futures[0])
                    addr = next(iter(who.values()))[0]
                    state["killed"] = addr
                    nanny = next(n for n in cluster.workers.values()
                                 if n.worker_address == addr)
                    os.kill(nanny.process.process.pid, signal.SIGKILL)
                return original(self, theta, order, free)

            monkeypatch.setattr(DaskFamily, "fast_sums", fast_sums)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = ck.MNL(data, UTIL).fit()
            assert state["killed"] is not None
            assert res.converged
            np.testing.assert_array_equal(res.params.to_numpy(), calm.params.to_numpy())
            close(calm.bse, res.bse)
            alive = set(client.scheduler_info()["workers"])
            assert state["killed"] not in alive
    finally:
        client.close()
        cluster.close()
