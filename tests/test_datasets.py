"""Tests of choicekit.datasets: file lookup, errors, downloads and the bundled simulated data.

The real data sets live outside the project: in ``$CHOICEKIT_DATA`` when it is set, else in
``../shared/data`` beside the checkout (see its SOURCES.md); tests that need them skip when that
directory is absent. The expected
shapes below are copied from SOURCES.md, not from ``DATASETS``, so that a wrong registry
entry is caught.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp

import choicekit.datasets as ds
from choicekit.exceptions import ChoiceDataError, ChoiceKitError

REPO = Path(__file__).resolve().parents[1]
# The README's contract: $CHOICEKIT_DATA names the data directory; read here, at import, because
# the autouse fixture below removes the variable so that each lookup test sets its own.
SHARED_DATA = (Path(os.environ["CHOICEKIT_DATA"]) if os.environ.get("CHOICEKIT_DATA")
               else Path(__file__).resolve().parents[2] / "shared" / "data")
SCRIPT = REPO / "data" / "make_simulated_modechoice.py"
BUNDLED_CSV = REPO / "choicekit" / "datasets" / "bundled" / "simulated_modechoice.csv"
BUNDLED_JSON = REPO / "choicekit" / "datasets" / "bundled" / "simulated_modechoice.json"

# name -> (file name, rows, columns, case-id column or None, number of cases,
#          decision-maker column or None, number of decision makers), from SOURCES.md
EXPECTED: dict[str, tuple[str, int, int, str | None, int, str | None, int]] = {
    "swissmetro": ("swissmetro.dat", 10_728, 28, None, 10_728, "ID", 1_192),
    "travelmode": ("travelmode_greene.csv", 840, 9, "individual", 210, None, 0),
    "modecanada": ("modecanada.csv", 15_520, 11, "case", 4_324, None, 0),
    "heating": ("heating.csv", 900, 21, None, 900, None, 0),
    "train": ("train_netherlands.csv", 2_929, 11, None, 2_929, "id", 235),
    "fishing": ("fishing.csv", 1_182, 10, None, 1_182, None, 0),
    "electricity": ("electricity.csv", 4_308, 26, None, 4_308, "id", 361),
}
REAL = sorted(EXPECTED)
DOWNLOADLESS = ["modecanada", "heating", "train", "fishing", "electricity"]


def loader(name: str):
    return getattr(ds, f"load_{name}")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CHOICEKIT_DATA, and HOME / XDG_CACHE_HOME inside tmp: the user's files never leak in."""
    monkeypatch.delenv(ds.ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "choicekit"


@pytest.fixture
def shared() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every name lookup and connection fail at once, as on a machine without network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def check_shape(name: str, frame: pd.DataFrame) -> None:
    _, n_rows, n_cols, case, n_cases, group, n_groups = EXPECTED[name]
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (n_rows, n_cols)
    assert tuple(frame.columns) == ds.DATASETS[name].columns
    if case is not None:
        assert frame[case].nunique() == n_cases
    if group is not None:
        assert frame[group].nunique() == n_groups


# --------------------------------------------------------------------------------------------
# Lookup: path=, CHOICEKIT_DATA, cache
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL)
def test_load_from_directory_path(name: str, shared: Path) -> None:
    check_shape(name, loader(name)(shared))


@pytest.mark.parametrize("name", REAL)
def test_load_from_file_path(name: str, shared: Path) -> None:
    check_shape(name, loader(name)(str(shared / EXPECTED[name][0])))


@pytest.mark.parametrize("name", REAL)
def test_load_from_env_var(name: str, shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ds.ENV_VAR, str(shared))
    check_shape(name, loader(name)())


def _truncated_copy(shared: Path, name: str, directory: Path, n: int = 7) -> Path:
    """Write the first ``n`` data rows of the reference file into ``directory``."""
    filename = EXPECTED[name][0]
    directory.mkdir(parents=True, exist_ok=True)
    lines = (shared / filename).read_text().splitlines(keepends=True)
    (directory / filename).write_text("".join(lines[: n + 1]))
    return directory / filename


@pytest.mark.parametrize("name", REAL)
def test_env_var_file_is_the_one_read(
    name: str, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A truncated copy proves the file came from $CHOICEKIT_DATA (for travelmode: not from
    # the statsmodels fallback); the first directory without the file is skipped. (A copy
    # that is not the reference one loads only with verify=False: tests/test_hostile_input.py)
    _truncated_copy(shared, name, tmp_path / "second")
    (tmp_path / "first").mkdir()
    monkeypatch.setenv(ds.ENV_VAR, f"{tmp_path / 'first'}{os.pathsep}{tmp_path / 'second'}")
    assert len(loader(name)(verify=False)) == 7


@pytest.mark.parametrize("name", REAL)
def test_cache_dir_is_searched(name: str, shared: Path, isolated_env: Path) -> None:
    _truncated_copy(shared, name, isolated_env, n=5)
    assert len(loader(name)(verify=False)) == 5


def test_path_takes_precedence_over_env(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ds.ENV_VAR, str(shared))
    copy = _truncated_copy(shared, "heating", tmp_path / "mine", n=3)
    assert len(ds.load_heating(copy.parent, verify=False)) == 3
    assert len(ds.load_heating()) == 900


def test_env_takes_precedence_over_cache(
    shared: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _truncated_copy(shared, "fishing", isolated_env, n=4)
    monkeypatch.setenv(ds.ENV_VAR, str(shared))
    assert len(ds.load_fishing()) == 1_182


def test_cache_dir_follows_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert ds.get_cache_dir() == tmp_path / "xdg-cache" / "choicekit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ds.get_cache_dir() == tmp_path / "home" / ".cache" / "choicekit"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # not absolute: ignored, per the spec
    assert ds.get_cache_dir() == tmp_path / "home" / ".cache" / "choicekit"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in REAL if n != "travelmode"])
def test_missing_file_raises_helpful_error(
    name: str, tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(ds.ENV_VAR, str(empty))
    with pytest.raises(ChoiceDataError) as info:
        loader(name)()
    message = str(info.value)
    filename = EXPECTED[name][0]
    assert isinstance(info.value, ValueError) and isinstance(info.value, ChoiceKitError)
    assert filename in message
    assert str(empty / filename) in message  # where it looked ...
    assert str(isolated_env / filename) in message
    assert "CHOICEKIT_DATA" in message and "path=" in message  # ... and how to fix it
    assert not isolated_env.exists()  # nothing was created or downloaded


def test_missing_file_message_mentions_download_only_when_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ChoiceDataError, match="download=True"):
        ds.load_swissmetro()
    with pytest.raises(ChoiceDataError) as info:
        ds.load_heating()
    assert "download=True" not in str(info.value)


def test_explicit_missing_path_is_an_error_even_if_env_has_the_file(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ds.ENV_VAR, str(shared))
    with pytest.raises(ChoiceDataError, match="no such file or directory"):
        ds.load_electricity(tmp_path / "nope.csv")
    with pytest.raises(ChoiceDataError, match="does not contain 'electricity.csv'"):
        ds.load_electricity(tmp_path)
    with pytest.raises(ChoiceDataError, match="no such file or directory"):
        ds.load_travelmode(tmp_path / "nope.csv")


def test_wrong_file_names_missing_columns(shared: Path) -> None:
    # A comma-separated file read as Swissmetro (tab-separated) lacks every column.
    with pytest.raises(ChoiceDataError, match=r"lacks 28 expected column.*tab-separated"):
        ds.load_swissmetro(shared / "heating.csv", verify=False)
    with pytest.raises(ChoiceDataError, match=r"idcase"):
        ds.load_heating(shared / "fishing.csv", verify=False)


# --------------------------------------------------------------------------------------------
# Downloads (never over the network in these tests)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL)
def test_download_defaults_to_false(name: str) -> None:
    parameter = inspect.signature(loader(name)).parameters.get("download")
    assert parameter is None or parameter.default is False


def _swissmetro_url(monkeypatch: pytest.MonkeyPatch, url: str, sha256: str | None = None) -> None:
    info = ds.DATASETS["swissmetro"]
    changes: dict[str, str] = {"url": url}
    if sha256 is not None:
        changes["sha256"] = sha256
    patched = {**ds.DATASETS, "swissmetro": dataclasses.replace(info, **changes)}
    monkeypatch.setattr(ds.loaders, "DATASETS", MappingProxyType(patched))


def test_download_without_network_fails_quickly(no_network: None, isolated_env: Path) -> None:
    start = time.monotonic()
    with pytest.raises(ChoiceDataError, match="download") as info:
        ds.load_swissmetro(download=True)
    assert time.monotonic() - start < 5
    assert ds.DATASETS["swissmetro"].url in str(info.value)
    assert list(isolated_env.glob("*")) == []  # no partial file left behind


def test_download_from_unresolvable_host_fails_quickly(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    # .invalid is reserved (RFC 2606): name resolution fails with or without network.
    _swissmetro_url(monkeypatch, "https://choicekit-test.invalid/swissmetro.dat")
    start = time.monotonic()
    with pytest.raises(ChoiceDataError, match="choicekit-test.invalid"):
        ds.load_swissmetro(download=True)
    assert time.monotonic() - start < 30
    assert list(isolated_env.glob("*")) == []


@pytest.mark.parametrize("name", DOWNLOADLESS)
def test_download_without_public_url_raises(name: str) -> None:
    assert ds.DATASETS[name].url is None
    with pytest.raises(ChoiceDataError, match="no public download"):
        loader(name)(download=True)


def test_download_checks_sha256_and_fills_cache(
    shared: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path, no_network: None
) -> None:
    # Serve the reference copy from a file:// URL; the registry's digest must match it.
    _swissmetro_url(monkeypatch, (shared / "swissmetro.dat").as_uri())
    check_shape("swissmetro", ds.load_swissmetro(download=True))
    cached = isolated_env / "swissmetro.dat"
    assert cached.read_bytes() == (shared / "swissmetro.dat").read_bytes()
    assert sorted(p.name for p in isolated_env.iterdir()) == ["swissmetro.dat"]
    # Now found in the cache without downloading again.
    _swissmetro_url(monkeypatch, "https://choicekit-test.invalid/swissmetro.dat")
    check_shape("swissmetro", ds.load_swissmetro())


def test_download_with_wrong_digest_is_discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    fake = tmp_path / "fake.dat"
    fake.write_text("GROUP\tCHOICE\n1\t2\n")
    _swissmetro_url(monkeypatch, fake.as_uri(), sha256="0" * 64)
    with pytest.raises(ChoiceDataError, match="SHA-256"):
        ds.load_swissmetro(download=True)
    assert list(isolated_env.glob("*")) == []


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def test_registry_describes_every_loader() -> None:
    assert set(ds.DATASETS) == set(EXPECTED) | {"simulated_modechoice"}
    with pytest.raises(TypeError):
        ds.DATASETS["new"] = ds.DATASETS["heating"]  # type: ignore[index]
    for name, info in ds.DATASETS.items():
        assert info.name == name
        assert callable(loader(name))
        assert info.layout in {"long", "wide"}
        assert info.choice in info.columns
        if name in EXPECTED:
            filename, n_rows, n_cols, _, n_cases, _, _ = EXPECTED[name]
            assert (info.filename, info.n_rows, len(info.columns)) == (filename, n_rows, n_cols)
            assert info.n_cases == n_cases
            assert info.layout == ("long" if name in {"travelmode", "modecanada"} else "wide")


@pytest.mark.parametrize("name", REAL)
def test_registry_sha256_matches_reference_files(name: str, shared: Path) -> None:
    info = ds.DATASETS[name]
    digest = hashlib.sha256((shared / info.filename).read_bytes()).hexdigest()
    assert digest == info.sha256


# --------------------------------------------------------------------------------------------
# Fresh frames on every call
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: ds.load_simulated_modechoice(), id="simulated"),
        pytest.param(lambda: ds.load_travelmode(), id="travelmode-statsmodels"),
        pytest.param(lambda: ds.load_swissmetro(SHARED_DATA), id="swissmetro"),
        pytest.param(lambda: ds.load_modecanada(SHARED_DATA), id="modecanada"),
    ],
)
def test_calls_return_independent_frames(call) -> None:
    try:
        first = call()
    except ChoiceDataError:
        pytest.skip("real data sets not available")
    reference = first.copy(deep=True)
    second = call()
    assert first is not second
    first.iloc[:, 0] = -999
    del first[first.columns[-1]]
    pd.testing.assert_frame_equal(second, reference)
    pd.testing.assert_frame_equal(call(), reference)


def test_metadata_is_fresh_on_every_call() -> None:
    first = ds.load_simulated_modechoice_metadata()
    first["true_params"]["B_TIME"] = 99.0
    assert ds.load_simulated_modechoice_metadata()["true_params"]["B_TIME"] == -1.2


# --------------------------------------------------------------------------------------------
# TravelMode (statsmodels copy, always available)
# --------------------------------------------------------------------------------------------


def test_travelmode_from_statsmodels() -> None:
    frame = ds.load_travelmode()
    check_shape("travelmode", frame)
    assert (frame.dtypes == np.int64).all()
    assert sorted(frame["mode"].unique()) == [1, 2, 3, 4]
    assert (frame.groupby("individual")["choice"].sum() == 1).all()
    assert frame.groupby("mode")["choice"].sum().to_dict() == {1: 58, 2: 63, 3: 30, 4: 59}


def test_travelmode_csv_equals_statsmodels_copy(shared: Path) -> None:
    pd.testing.assert_frame_equal(ds.load_travelmode(shared), ds.load_travelmode())


def test_import_is_cheap() -> None:
    code = (
        "import sys, choicekit.datasets; "
        "bad = [m for m in ('statsmodels', 'matplotlib') if m in sys.modules]; "
        "sys.exit(repr(bad) if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# Bundled simulated data
# --------------------------------------------------------------------------------------------


def test_simulated_matches_its_metadata() -> None:
    frame = ds.load_simulated_modechoice()
    meta = ds.load_simulated_modechoice_metadata()
    assert json.loads(BUNDLED_JSON.read_text()) == meta
    assert len(frame) == meta["n_rows"] == meta["n_cases"] == 3_000
    assert (
        list(frame.columns) == meta["columns"] == list(ds.DATASETS["simulated_modechoice"].columns)
    )
    assert frame["person"].nunique() == meta["n_persons"] == 500
    assert (frame.groupby("person").size() == meta["choices_per_person"]).all()
    counts = frame["CHOICE"].value_counts()
    assert {str(k): int(v) for k, v in counts.items()} == meta["choice_counts"]
    assert meta["true_params"] == {
        "ASC_TRAIN": -0.4,
        "ASC_BUS": -0.9,
        "B_TIME": -1.2,
        "B_COST": -0.9,
    }
    assert meta["alternatives"] == {"1": "train", "2": "bus", "3": "car"}
    assert isinstance(meta["seed"], int)


def test_simulated_design_is_as_documented() -> None:
    frame = ds.load_simulated_modechoice()
    per_person = frame.groupby("person")
    for column in ("CAR_AV", "GA", "INCOME"):
        assert (per_person[column].nunique() == 1).all(), column
    assert (frame["TRAIN_AV"] == 1).all() and (frame["BUS_AV"] == 1).all()
    car_unavailable = 1 - per_person["CAR_AV"].first().mean()
    assert 0.15 <= car_unavailable <= 0.25
    assert (frame.loc[frame["GA"] == 1, "TRAIN_COST"] == 0).all()
    assert (frame.loc[frame["GA"] == 0, "TRAIN_COST"] > 0).all()
    no_car = frame["CAR_AV"] == 0
    assert (frame.loc[no_car, "CHOICE"] != 3).all()
    assert (frame.loc[no_car, ["CAR_TT", "CAR_COST"]] == 0).all().all()
    for alt in ("TRAIN", "BUS"):
        assert frame[f"{alt}_TT"].between(10, 600).all()
    assert frame.loc[~no_car, "CAR_TT"].between(10, 600).all()
    assert frame["BUS_COST"].between(1, 200).all()
    assert frame["INCOME"].between(10, 300).all()
    shares = frame["CHOICE"].value_counts(normalize=True)
    assert shares.min() > 0.1  # every alternative is chosen often enough to be estimable
    assert BUNDLED_CSV.stat().st_size < 400_000


def test_simulated_load_from_path(tmp_path: Path) -> None:
    frame = ds.load_simulated_modechoice(BUNDLED_CSV)
    pd.testing.assert_frame_equal(frame, ds.load_simulated_modechoice())
    with pytest.raises(ChoiceDataError):
        ds.load_simulated_modechoice(tmp_path)


def test_script_regenerates_the_bundled_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "simulated_modechoice.csv"), ds.load_simulated_modechoice()
    )
    regenerated = json.loads((tmp_path / "simulated_modechoice.json").read_text())
    assert regenerated == ds.load_simulated_modechoice_metadata()


def test_simulated_true_parameters_are_recovered() -> None:
    """An independent numpy/scipy MNL fit lands within 4 standard errors of the truth."""
    frame = ds.load_simulated_modechoice()
    meta = ds.load_simulated_modechoice_metadata()
    names = ["ASC_TRAIN", "ASC_BUS", "B_TIME", "B_COST"]
    n = len(frame)
    x = np.zeros((n, 3, 4))
    x[:, 0, 0] = 1.0
    x[:, 1, 1] = 1.0
    for j, alt in enumerate(("TRAIN", "BUS", "CAR")):
        x[:, j, 2] = frame[f"{alt}_TT"] / 100
        x[:, j, 3] = frame[f"{alt}_COST"] / 100
    available = frame[["TRAIN_AV", "BUS_AV", "CAR_AV"]].to_numpy() == 1
    chosen = frame["CHOICE"].to_numpy() - 1
    rows = np.arange(n)

    def probabilities(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        v = np.where(available, x @ beta, -np.inf)
        lse = logsumexp(v, axis=1)
        return v, lse, np.exp(v - lse[:, None])

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        v, lse, p = probabilities(beta)
        score = x[rows, chosen] - np.einsum("ij,ijk->ik", p, x)
        return -float(np.sum(v[rows, chosen] - lse)), -score.sum(axis=0)

    fit = minimize(objective, np.zeros(4), jac=True, method="BFGS")
    assert fit.success
    _, _, p = probabilities(fit.x)
    centred = x - np.einsum("ij,ijk->ik", p, x)[:, None, :]
    information = np.einsum("ij,ijk,ijl->kl", p, centred, centred)
    se = np.sqrt(np.diag(np.linalg.inv(information)))
    truth = np.array([meta["true_params"][name] for name in names])
    z = (fit.x - truth) / se
    assert np.all(np.abs(z) < 4), dict(zip(names, z, strict=True))


def test_real_data_directory_follows_choicekit_data(tmp_path):
    """The suite looks for the real data where $CHOICEKIT_DATA says (the README), not only at
    the hard-coded sibling path."""
    code = ("import sys; sys.path.insert(0, 'tests'); import test_datasets as t; "
            "print(t.SHARED_DATA)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "CHOICEKIT_DATA": str(tmp_path)}, check=True)
    assert out.stdout.strip() == str(tmp_path)
