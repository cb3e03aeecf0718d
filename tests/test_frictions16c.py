"""Issue 16, item 5: the remaining frictions of the applied trial, each a user's stumble."""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.cli import fit_command, main
from choicekit.exceptions import ChoiceDataError, DataWarning, SpecificationError
from choicekit.spec.specfile import read_data

WIDE_SPEC = """
[data]
choice = "CHOICE"
{extra}
[data.alternatives]
1 = "train"
2 = "bus"
3 = "car"

[availability]
train = "TRAIN_AV"
bus = "BUS_AV"
car = "CAR_AV"

[parameters]
ASC_TRAIN = 0.0
ASC_BUS = 0.0
B_TIME = 0.0
B_COST = 0.0

[utilities]
train = "ASC_TRAIN + B_TIME * TRAIN_TT / 100 + B_COST * TRAIN_COST / 100"
bus = "ASC_BUS + B_TIME * BUS_TT / 100 + B_COST * BUS_COST / 100"
car = "B_TIME * CAR_TT / 100 + B_COST * CAR_COST / 100"
"""


def wide_files(tmp_path: Path, extra: str = "", frame: pd.DataFrame | None = None,
               name: str = "data.csv") -> tuple[Path, Path]:
    df = ck.datasets.load_simulated_modechoice() if frame is None else frame
    data = tmp_path / name
    df.to_csv(data, index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(WIDE_SPEC.format(extra=extra))
    return data, spec


# ------------------------------------------------------------------ spec: invalid / missing
def test_spec_invalid_drop(tmp_path):
    df = ck.datasets.load_simulated_modechoice()
    df.loc[[3, 7], "CHOICE"] = 9  # not an alternative's code
    data, spec = wide_files(tmp_path, frame=df)
    with pytest.raises(ChoiceDataError, match=r'invalid = "drop" in \[data\]'):
        fit_command(str(data), str(spec))
    data, spec = wide_files(tmp_path, 'invalid = "drop"', frame=df)
    with pytest.warns(DataWarning, match="dropped these 2 cases"):
        res, _ = fit_command(str(data), str(spec))
    assert res.nobs == len(df) - 2


def test_spec_missing_drop(tmp_path):
    df = ck.datasets.load_simulated_modechoice()
    df.loc[5, "TRAIN_TT"] = np.nan
    data, spec = wide_files(tmp_path, frame=df)
    with pytest.raises(ChoiceDataError, match=r'missing = "drop" in \[data\]'):
        fit_command(str(data), str(spec))
    data, spec = wide_files(tmp_path, 'missing = "drop"', frame=df)
    with pytest.warns(DataWarning, match="dropped 1 of"):
        res, _ = fit_command(str(data), str(spec))
    assert res.nobs == len(df) - 1 and len(res.model.dropped_cases) == 1


@pytest.mark.parametrize("extra, match", [
    ('invalid = "skip"', "invalid"), ('missing = true', "missing"),
    ('weight_type = "sample"', "Did you mean 'sampling'"),
    ('weight_type = "sampling"', "names no weight column"),
    ('drop_cases = ""', "drop_cases")])
def test_spec_bad_options_are_named(tmp_path, extra, match):
    data, spec = wide_files(tmp_path, extra)
    with pytest.raises(SpecificationError, match=match):
        fit_command(str(data), str(spec))


def test_spec_weight_type(tmp_path):
    df = ck.datasets.load_simulated_modechoice().assign(W=lambda d: 1 + (d["CHOICE"] == 2))
    data, spec = wide_files(tmp_path, 'weight = "W"', frame=df)
    res, text = fit_command(str(data), str(spec))
    assert res.weight_type == "frequency" and res.cov_type == "classical"  # integers: counts
    data, spec = wide_files(tmp_path, 'weight = "W"\nweight_type = "sampling"', frame=df)
    res, text = fit_command(str(data), str(spec))
    assert res.weight_type == "sampling" and res.cov_type == "robust"
    assert "sampling (WESML)" in text


# ------------------------------------------------------------------ spec: case-level filter
def long_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    alts = ["air", "bus", "car"]
    rows = []
    for i in range(n):
        x = rng.normal(size=3)
        u = x + rng.gumbel(size=3)
        for j, a in enumerate(alts):
            rows.append({"case": i, "mode": a, "x": x[j], "choice": int(j == u.argmax())})
    return pd.DataFrame(rows)


def test_spec_drop_cases_by_a_case_level_condition(tmp_path):
    df = long_frame()
    data = tmp_path / "long.csv"
    df.to_csv(data, index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text('formula = "choice ~ x | 0"\n[data]\nlayout = "long"\ncase = "case"\n'
                    'alt = "mode"\nchoice = "choice"\n'
                    "drop_cases = \"mode == 'bus' and choice == 1\"\n")
    res, _ = fit_command(str(data), str(spec))
    chose_bus = df.loc[(df["mode"] == "bus") & (df["choice"] == 1), "case"]
    assert res.nobs == df["case"].nunique() - chose_bus.nunique()
    assert not res.model.data.cases.isin(chose_bus).any()
    # the row filter alone would have left those cases without a choice
    spec.write_text(spec.read_text().replace("drop_cases", "filter").replace(
        "mode == 'bus' and choice == 1", "not (mode == 'bus' and choice == 1)"))
    with pytest.raises(ChoiceDataError, match='invalid = "drop"'):
        fit_command(str(data), str(spec))


def test_spec_drop_cases_wide(tmp_path):
    data, spec = wide_files(tmp_path, 'drop_cases = "GA == 1"')
    res, _ = fit_command(str(data), str(spec))
    df = ck.datasets.load_simulated_modechoice()
    assert res.nobs == int((df["GA"] != 1).sum())


# ------------------------------------------------------------------ parquet
@pytest.fixture()
def no_parquet_engine(monkeypatch):
    for name in ("pyarrow", "fastparquet"):
        monkeypatch.setitem(sys.modules, name, None)  # `import name` raises ImportError


@pytest.mark.parametrize("name", ["data.parquet", "data.csv"])
def test_parquet_without_pyarrow_says_pip_install(tmp_path, no_parquet_engine, name, capsys):
    path = tmp_path / name
    path.write_bytes(b"PAR1" + bytes(range(256)) * 4 + b"PAR1")  # parquet's magic, not UTF-8
    with pytest.raises(ChoiceDataError, match="pip install pyarrow") as err:
        read_data(path)
    assert "utf-8" not in str(err.value).lower()
    spec = tmp_path / "spec.toml"
    spec.write_text(WIDE_SPEC.format(extra=""))
    assert main(["fit", str(path), "--spec", str(spec)]) == 2
    assert "pip install pyarrow" in capsys.readouterr().err


def test_parquet_with_an_engine_is_read(tmp_path, monkeypatch):
    df = ck.datasets.load_simulated_modechoice()
    fake = types.ModuleType("pyarrow")
    monkeypatch.setitem(sys.modules, "pyarrow", fake)
    seen = {}

    def read_parquet(path, engine=None):
        seen["engine"] = engine
        return df.copy()

    monkeypatch.setattr(pd, "read_parquet", read_parquet)
    data = tmp_path / "data.parquet"
    data.write_bytes(b"PAR1....PAR1")
    spec = tmp_path / "spec.toml"
    spec.write_text(WIDE_SPEC.format(extra=""))
    res, _ = fit_command(str(data), str(spec))
    assert seen["engine"] == "pyarrow" and res.nobs == len(df)


def test_binary_data_file_is_not_a_decoding_message(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(range(128, 256)) * 8)
    with pytest.raises(ChoiceDataError, match="not text") as err:
        read_data(path)
    assert "codec" not in str(err.value)




# ------------------------------------------------------------------ restrict_alternatives
def wide_data() -> ck.ChoiceData:
    df = ck.datasets.load_simulated_modechoice()
    return ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
        variables={"tt": {"train": "TRAIN_TT", "bus": "BUS_TT", "car": "CAR_TT"},
                   "cost": {"train": "TRAIN_COST", "bus": "BUS_COST", "car": "CAR_COST"}})


def test_restrict_alternatives_removes_them():
    data = wide_data()
    sub = data.restrict_alternatives(["car", "train"])
    assert sub.alternatives == ["train", "car"]  # the data's order
    df = ck.datasets.load_simulated_modechoice()
    assert sub.n_cases == int((df["CHOICE"] != 2).sum())
    assert sub.variable("tt").shape == (sub.n_cases, 2)
    kept = df.index[df["CHOICE"] != 2]
    np.testing.assert_array_equal(sub.variable("tt")[:, 1], df.loc[kept, "CAR_TT"])
    # a formula on the subset has no parameter of the removed alternative (they were 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ck.IdentificationWarning)
        warnings.simplefilter("ignore", DataWarning)  # cases left with one alternative
        res = ck.MNL.from_formula("CHOICE ~ tt + cost | INCOME", sub).fit()
    assert res.param_names == ["ASC:car", "tt", "cost", "INCOME:car"]
    assert res.bse.notna().all()
    # the same numbers as building the subset from the frame
    df = df[df["CHOICE"] != 2]
    direct = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 3: "car"},
        availability={"train": "TRAIN_AV", "car": "CAR_AV"},
        variables={"tt": {"train": "TRAIN_TT", "car": "CAR_TT"},
                   "cost": {"train": "TRAIN_COST", "car": "CAR_COST"}})
    with pytest.warns(DataWarning, match="single available"):
        ref = ck.MNL.from_formula("CHOICE ~ tt + cost | INCOME", direct).fit()
    pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-10)
    pd.testing.assert_series_equal(res.bse, ref.bse, rtol=1e-8)


def test_restrict_alternatives_long_and_refusals():
    tm = ck.datasets.load_travelmode()
    data = ck.ChoiceData.from_long(tm, case="individual", alt="mode", choice="choice")
    sub = data.restrict_alternatives([1, 3])
    assert sub.alternatives == [1, 3]
    assert sub.variable("gc").shape == (sub.n_cases, 2)
    with pytest.raises(SpecificationError, match="Unknown alternatives"):
        data.restrict_alternatives([9])
    sampled = data.sample_alternatives(2, rng=0)
    with pytest.raises(SpecificationError, match="sampled choice sets"):
        sampled.restrict_alternatives([1, 2])


# ------------------------------------------------------------------ warnings that say what happened
def test_hausman_mcfadden_warns_once_at_the_users_line():
    res = ck.MNL(wide_data(), {
        "train": ck.Beta("ASC_TRAIN") + ck.Beta("B_TIME") * ck.Var("tt") / 100,
        "bus": ck.Beta("ASC_BUS") + ck.Beta("B_TIME") * ck.Var("tt") / 100,
        "car": ck.Beta("B_TIME") * ck.Var("tt") / 100}).fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res.hausman_mcfadden(["train", "car"])
    data_warnings = [w for w in caught if issubclass(w.category, DataWarning)]
    assert len(data_warnings) == 1, [str(w.message)[:80] for w in data_warnings]
    assert "single available alternative" in str(data_warnings[0].message)
    assert all(w.filename == __file__ for w in caught), [w.filename for w in caught]


def test_singular_hessian_after_a_failed_search_is_not_blamed_on_identification():
    model = ck.NestedLogit(wide_data(), {
        "train": ck.Beta("ASC_TRAIN") + ck.Beta("B_TIME") * ck.Var("tt") / 100
        + ck.Beta("B_COST") * ck.Var("cost") / 100,
        "bus": ck.Beta("ASC_BUS") + ck.Beta("B_TIME") * ck.Var("tt") / 100
        + ck.Beta("B_COST") * ck.Var("cost") / 100,
        "car": ck.Beta("B_TIME") * ck.Var("tt") / 100 + ck.Beta("B_COST") * ck.Var("cost") / 100},
        [ck.Nest("public", ["train", "bus"], mu=ck.Beta("MU", 1.0, lower=1.0))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(start={"B_TIME": 500.0, "B_COST": 500.0}, method="newton", maxiter=1)
        se = res.bse
    assert not res.converged and se.isna().any()
    assert not [w for w in caught if issubclass(w.category, ck.IdentificationWarning)]
    msg = [str(w.message) for w in caught if "last iterate" in str(w.message)]
    assert len(msg) == 1 and "saturated" in msg[0] and "not evidence" in msg[0]
    assert all(w.filename == __file__ for w in caught)


def test_identification_warning_of_a_lazy_covariance_points_at_the_user():
    model = ck.MNL(wide_data(), {
        "train": ck.Beta("ASC_TRAIN") + ck.Beta("B_TIME") * ck.Var("tt") / 100
        + ck.Beta("B_INC") * ck.Var("INCOME"),
        "bus": ck.Beta("ASC_BUS") + ck.Beta("B_TIME") * ck.Var("tt") / 100
        + ck.Beta("B_INC") * ck.Var("INCOME"),
        "car": ck.Beta("B_TIME") * ck.Var("tt") / 100 + ck.Beta("B_INC") * ck.Var("INCOME")})
    # the inverse Hessian is computed through a cached_property (it pointed into functools)
    with pytest.warns(ck.IdentificationWarning, match="B_INC") as caught:
        model.fit()
    assert [w.filename for w in caught] == [__file__]


# ------------------------------------------------------------------ speed of the first calls
def test_post_estimation_does_not_import_scipy_stats():
    """scipy.stats took 1.2-3.7 s to import on the first wtp / interval / test; the normal
    quantiles come from the standard library and the chi-square tail from scipy.special."""
    import subprocess

    code = """
import sys
import choicekit as ck
B, V = ck.Beta, ck.Var
df = ck.datasets.load_simulated_modechoice()
data = ck.ChoiceData.from_wide(df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
    availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})
u = {"train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") + B("B_COST") * V("TRAIN_COST"),
     "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") + B("B_COST") * V("BUS_COST"),
     "car": B("B_TIME") * V("CAR_TT") + B("B_COST") * V("CAR_COST")}
res = ck.MNL(data, u).fit()
res.summary(); res.conf_int(); res.wtp("B_TIME", "B_COST")
res.wtp("B_TIME", "B_COST", method="fieller")
res.elasticities("TRAIN_COST"); res.predicted_shares()
res.scenario({"TRAIN_COST": 1.1}, se="simulation", n_draws=20, rng=0)
res.lr_test_market_share(); res.wald_test("B_TIME = 0")
assert "scipy.stats" not in sys.modules, "scipy.stats was imported"
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_mnl_probabilities_and_logsums_unchanged_by_the_fast_path():
    res = ck.MNL(wide_data(), {
        "train": ck.Beta("ASC_TRAIN") + ck.Beta("B_TIME") * ck.Var("tt") / 100,
        "bus": ck.Beta("ASC_BUS") + ck.Beta("B_TIME") * ck.Var("tt") / 100,
        "car": ck.Beta("B_TIME") * ck.Var("tt") / 100}).fit()
    fam = res.model.family()
    d = res.model.design
    theta = res.params.to_numpy()
    V = d.utilities(theta)
    np.testing.assert_allclose(fam.proba(theta), ck.softmax(V, available=d.avail), rtol=1e-13,
                               atol=1e-300)
    np.testing.assert_allclose(fam.logsum(theta), ck.logsum(V, available=d.avail), rtol=1e-13)


# ------------------------------------------------------------------ which likelihood pass
class _Dist:
    version = "0"  # what show_versions reads of other distributions

    def __init__(self, direct_url: str | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return self.direct_url if name == "direct_url.json" else None

    def locate_file(self, path: str) -> str:
        return "/site-packages"


@pytest.mark.parametrize("direct_url, warns", [
    ('{"url": "file:///src", "dir_info": {}}', True),  # pip install . : silent before
    ('{"url": "file:///src", "dir_info": {"editable": true}}', False)])  # no compiler
def test_source_checkout_without_its_build_says_numpy_once(monkeypatch, direct_url, warns):
    import importlib.metadata

    from choicekit.families.mnl import native

    monkeypatch.setattr(native, "_library_path", lambda: None)
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _Dist(direct_url))
    monkeypatch.delenv("CHOICEKIT_REQUIRE_NATIVE", raising=False)
    native._load.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert not native.available()
            assert not native.available()  # said once
        found = [w for w in caught if issubclass(w.category, native.NativeLibraryWarning)]
        assert len(found) == (1 if warns else 0)
        if warns:
            assert "source checkout" in str(found[0].message)
            assert "NumPy kernel" in str(found[0].message)
            assert "pip install -e ." in str(found[0].message)
        report = ck.show_versions(as_dict=True)
        assert report["likelihood pass"].startswith("NumPy kernel")
    finally:
        native._load.cache_clear()


def test_show_versions_names_the_pass(capsys):
    ck.show_versions()
    out = capsys.readouterr().out
    assert "likelihood pass" in out and ck.__version__ in out
