"""Results that persist and travel (issue 16, item 1): pickling and deep copies of models and
results of every family, a fit in a worker process, save/load to JSON."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.exceptions import ChoiceDataError, SpecificationError

B, V = ck.Beta, ck.Var
FAMILIES = ["MNL", "NL", "CNL"]


def make_data(weights: bool = False) -> ck.ChoiceData:
    df = ck.datasets.load_simulated_modechoice()
    if weights:
        df = df.assign(W=np.where(df["CHOICE"] == 2, 0.7, 1.3))
    return ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
        group="person", weight="W" if weights else None)


def utilities() -> dict:
    return {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
        + B("B_COST") * V("TRAIN_COST") / 100,
        "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100
        + B("B_COST") * V("BUS_COST") / 100 * (V("GA") == 0),
        "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * ck.log(V("CAR_COST")) / 4
        + B("B_FIXED", 0.0, fixed=True) * V("INCOME")}


def make_model(family: str, data: ck.ChoiceData | None = None) -> ck.MNL:
    data = make_data() if data is None else data
    if family == "MNL":
        return ck.MNL(data, utilities())
    if family == "NL":
        return ck.NestedLogit(data, utilities(), [
            ck.Nest("public", ["train", "bus"], B("LAMBDA_PT", 1.0, lower=0.05, upper=1.0))])
    alpha = B("ALPHA_TRAIN", 0.5, lower=0.0, upper=1.0)
    return ck.CrossNestedLogit(data, utilities(), [
        ck.Nest("public", {"train": alpha, "bus": 1.0}, mu=B("MU_PT", 1.5, lower=1.0)),
        ck.Nest("fast", {"train": 1 - alpha, "car": 1.0}, mu=2.0)])


def fit_in_worker(family: str) -> ck.Results:
    """Runs in a worker process: the fit travels back pickled."""
    return make_model(family).fit(threads=1)


def shares_in_worker(res: ck.Results) -> pd.DataFrame:
    """Runs in a worker process: a fit travels there and is used."""
    return res.predicted_shares()


@pytest.fixture(scope="module")
def fits() -> dict[str, ck.Results]:
    return {f: make_model(f).fit(threads=1) for f in FAMILIES}


def assert_same_fit(a, b) -> None:
    pd.testing.assert_series_equal(a.params, b.params, check_exact=True)
    pd.testing.assert_frame_equal(a.cov_params(), b.cov_params(), check_exact=True)
    assert a.llf == b.llf and a.llnull == b.llnull and a.nobs == b.nobs
    assert a.cov_type == b.cov_type and a.converged == b.converged
    assert str(a.summary()) == str(b.summary())


@pytest.mark.parametrize("family", FAMILIES)
def test_models_and_results_pickle_and_deepcopy(fits, family):
    res = fits[family]
    res.summary()  # fill the caches (inverse Hessian, per-case scores, the null LL)
    res.elasticities("TRAIN_COST")
    for back in (pickle.loads(pickle.dumps(res)), copy.deepcopy(res)):
        # caches are dropped, not shipped, and rebuilt on use
        assert "_bread" not in back.__dict__ and "_score_obs" not in back.__dict__
        assert "_family" not in back.model.__dict__ and "_all_free" not in back.model.__dict__
        assert back._core.objective._val[1] is None
        assert_same_fit(res, back)
        pd.testing.assert_frame_equal(back.predicted_shares(), res.predicted_shares())
        pd.testing.assert_series_equal(back.with_cov("robust").bse, res.with_cov("robust").bse)
    model = res.model
    for m in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert m.param_names == model.param_names
        assert m.loglike(res.params) == model.loglike(res.params)
        pd.testing.assert_series_equal(m.fit(threads=1).params, res.params)


def test_fit_in_a_worker_process_comes_back_equal(fits):
    # spawn: a fresh interpreter, as joblib's loky and Dask workers are
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        back = dict(zip(FAMILIES, pool.map(fit_in_worker, FAMILIES)))
        shares = pool.submit(shares_in_worker, fits["CNL"]).result()
    for family in FAMILIES:
        assert_same_fit(back[family], fits[family])
        pd.testing.assert_frame_equal(back[family].elasticities("TRAIN_COST").frame(),
                                      fits[family].elasticities("TRAIN_COST").frame())
    pd.testing.assert_frame_equal(shares, fits["CNL"].predicted_shares())


@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_round_trips_exactly(fits, family, tmp_path):
    res = fits[family].with_cov("cluster")
    path = tmp_path / "fit.json"
    res.save(path)
    stored = ck.load_results(path)
    assert isinstance(stored, ck.StoredResults)
    assert_same_fit(stored, res)
    assert stored.n_clusters == res.n_clusters == 500
    for kind in ("classical", "robust", "opg"):
        assert_same_fit(stored.with_cov(kind), res.with_cov(kind))
    pd.testing.assert_frame_equal(stored.conf_int(), res.conf_int(), check_exact=True)
    assert (stored.aic, stored.bic, stored.rho_squared) == (res.aic, res.bic, res.rho_squared)
    assert stored.software["choicekit"] == ck.__version__
    spec = stored.specification
    assert [u["alternative"] for u in spec["utilities"]] == ["train", "bus", "car"]
    assert "B_TIME" in spec["utilities"][0]["text"]
    # saving the loaded fit writes the same file
    again = tmp_path / "again.json"
    stored.save(again)
    assert again.read_bytes() == path.read_bytes()
    # strict JSON: no NaN/Infinity literals (infinite bounds are strings)
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))

    full = ck.load_results(path, data=make_data())
    assert isinstance(full, ck.Results)
    assert_same_fit(full, res)
    assert full.to_dict() == res.to_dict()
    pd.testing.assert_frame_equal(full.predicted_shares(), res.predicted_shares())
    pd.testing.assert_frame_equal(full.elasticities("TRAIN_COST").frame(),
                                  res.elasticities("TRAIN_COST").frame())
    assert_same_fit(full.with_cov("robust"), res.with_cov("robust"))
    if family == "NL":
        assert full.model.nests[0].members == ("train", "bus")


def test_load_needs_the_estimation_data_for_post_estimation(fits, tmp_path):
    path = tmp_path / "fit.json"
    fits["MNL"].save(path)
    stored = ck.load_results(path)
    with pytest.raises(SpecificationError, match="needs the estimation data"):
        stored.elasticities("TRAIN_COST")
    with pytest.raises(SpecificationError, match="needs the estimation data"):
        stored.with_cov("cluster")
    assert "stored, without data" in repr(stored)
    # other data: refused, not silently re-used
    df = ck.datasets.load_simulated_modechoice()
    df["TRAIN_TT"] = df["TRAIN_TT"] * 1.1
    other = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})
    with pytest.raises(ChoiceDataError, match="log-likelihood"):
        ck.load_results(path, data=other)
    with pytest.raises(ChoiceDataError, match="alternatives"):
        ck.load_results(path, data=ck.ChoiceData.from_wide(
            df, choice="CHOICE", alternatives={1: "rail", 2: "bus", 3: "car"}))


def test_future_format_and_foreign_files_are_refused(fits, tmp_path):
    doc = fits["MNL"].to_dict()
    doc["format_version"] = 99
    with pytest.raises(SpecificationError, match="Upgrade choicekit"):
        ck.load_results(doc)
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(SpecificationError, match="not a saved choicekit fit"):
        ck.load_results(bad)


def test_weighted_fit_round_trips_with_its_weight_note(tmp_path):
    data = make_data(weights=True)
    res = ck.MNL(data, utilities()).fit()
    assert res.weight_type == "sampling" and res.cov_type == "robust"
    path = tmp_path / "w.json"
    res.save(path)
    stored = ck.load_results(path)
    assert str(stored.summary()) == str(res.summary())
    assert_same_fit(ck.load_results(path, data=data), res)


def test_fit_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = make_model("NL").fit()
    res.summary()
    assert os.listdir(tmp_path) == []
