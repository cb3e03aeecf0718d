"""Ready ChoiceData helpers of choicekit.datasets (``<name>_choicedata()``).

Each helper is checked against a published fit (tests/reference/*.json; tolerances from
tests/reference/README.md, via examples/replications/_published.py) or against the sizes
stated in the data's documentation (../shared/data/SOURCES.md, mlogit's help pages).
"""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import choicekit as ck

REPO = Path(__file__).resolve().parents[1]
PUB = runpy.run_path(str(REPO / "examples" / "replications" / "_published.py"))
B, V = ck.Beta, ck.Var


def ref(name: str) -> dict[str, Any]:
    return json.loads((REPO / "tests" / "reference" / f"{name}.json").read_text())


def assert_params(res: ck.MNLResults, reference: str, names: dict[str, str],
                  scale: float = 1.0) -> None:
    """Published estimates within max(half last digit, sqrt(crit) * SE) (README rule)."""
    r = ref(reference)
    sig = PUB["MIN_SIGNIFICANT"].get(reference, 1)
    crit = PUB["crit"](r)
    for k, v in r["params"].items():
        se = (r.get("std_errors") or {}).get(k, 0.0)
        tol = max(1.01 * PUB["half_last_digit"](v, sig), math.sqrt(crit) * se)
        assert abs(res.params[names[k]] * scale - v) <= tol, (k, res.params[names[k]], v)


def test_swissmetro_choicedata_is_biogeme_sample(shared_data: Path) -> None:
    data = ck.datasets.swissmetro_choicedata()
    r = ref("biogeme_b01logit_swissmetro")
    assert data.n_cases == r["n_obs"]
    assert data.alternatives == ["train", "sm", "car"]
    # the alternative-varying variables make Biogeme's model a one-line formula (time and
    # cost unscaled, so the published /100 coefficients are ours x 100)
    res = ck.MNL.from_formula("CHOICE ~ time + cost", data, reference="sm").fit()
    assert abs(res.llf - r["loglik"]) <= 1.01 * PUB["half_last_digit"](r["loglik"])
    assert abs(res.llnull - r["null_loglik"]) <= 1.01 * PUB["half_last_digit"](r["null_loglik"])
    for k, ours, scale in [("ASC_CAR", "ASC:car", 1), ("ASC_TRAIN", "ASC:train", 1),
                           ("B_TIME", "time", 100), ("B_COST", "cost", 100)]:
        v = r["params"][k]
        assert abs(res.params[ours] * scale - v) <= 1.01 * PUB["half_last_digit"](v, 3), k
    whole = ck.datasets.swissmetro_choicedata(biogeme_sample=False)
    assert whole.n_cases == 10_728 - 9  # CHOICE == 0 in 9 rows (Biogeme's data description)


def test_travelmode_choicedata_greene() -> None:
    data = ck.datasets.travelmode_choicedata()
    assert data.n_cases == 210 and set(data.alternatives) == {"air", "train", "bus", "car"}
    r = ref("greene_travelmode_table21_11")
    # Greene's income-in-air term through an expression utility
    u = {a: (B(f"ASC_{a}") if a != "car" else 0) + B("gc") * V("gc") + B("ttme") * V("ttme")
         + (B("hinc_air") * V("hinc") if a == "air" else 0) for a in data.alternatives}
    res = ck.MNL(data, u).fit()
    hp = r["params_high_precision_statsmodels"]
    # statsmodels' 15-digit mlogit values; rtol 1e-4 covers mlogit's stopping slack (README)
    for k, ours in [("gc", "gc"), ("ttme", "ttme"), ("hinc_air", "hinc_air"),
                    ("air_const", "ASC_air"), ("train_const", "ASC_train"),
                    ("bus_const", "ASC_bus")]:
        np.testing.assert_allclose(res.params[ours], hp[k], rtol=1e-4, err_msg=k)


def test_heating_choicedata(shared_data: Path) -> None:
    data = ck.datasets.heating_choicedata()
    assert data.n_cases == 900
    res = ck.MNL.from_formula("depvar ~ ic + oc | 0", data).fit()
    assert_params(res, "mlogit_heating_ic_oc_noasc", {"ic": "ic", "oc": "oc"})
    assert data.variable("pb").shape == (900, 5)


def test_fishing_choicedata(shared_data: Path) -> None:
    data = ck.datasets.fishing_choicedata()
    assert data.n_cases == 1182
    res = ck.MNL.from_formula("mode ~ price + catch", data, reference="beach").fit()
    r = ref("mlogit_fishing_conditional")
    assert_params(res, "mlogit_fishing_conditional",
                  PUB["default_names"](r, data.alternatives))


def test_modecanada_choicedata(shared_data: Path) -> None:
    data = ck.datasets.modecanada_choicedata()
    # 15,520 rows for 4,324 cases (SOURCES.md); noalt counts each case's rows
    assert data.n_cases == 4324
    assert int(data.availability.to_numpy().sum()) == 15_520


def test_train_choicedata_mlogit_c5(shared_data: Path) -> None:
    """mlogit's Train model (vignette c5): opposite signs, price in euros, time in hours."""
    data = ck.datasets.train_choicedata()
    assert data.n_cases == 2929 and data.group.nunique() == 235
    u = {a: B("price") * (-V("price") / 100 * 2.20371) + B("time") * (-V("time") / 60)
         + B("change") * -V("change") + B("comfort") * -V("comfort") for a in ("A", "B")}
    res = ck.MNL(data, u).fit()
    assert_params(res, "mlogit_train_netherlands", {k: k for k in ("price", "time", "change",
                                                                   "comfort")})
    r = ref("mlogit_train_netherlands")
    assert abs(res.llf - r["loglik_secondary"]) <= 0.0505 + PUB["crit"](r) / 2


def test_electricity_and_simulated_choicedata(shared_data: Path) -> None:
    data = ck.datasets.electricity_choicedata()
    assert data.n_cases == 4308 and data.group.nunique() == 361
    assert data.variable("pf").shape == (4308, 4)
    sim = ck.datasets.simulated_modechoice_choicedata()
    meta = ck.datasets.load_simulated_modechoice_metadata()
    assert sim.n_cases == meta["n_cases"]
    counts = sim.chosen.value_counts()
    codes = {"train": "1", "bus": "2", "car": "3"}  # the CHOICE codes of the metadata
    assert {codes[k]: int(counts[k]) for k in counts.index} == meta["choice_counts"]


@pytest.mark.parametrize("name", ["swissmetro", "heating", "fishing", "modecanada", "train",
                                  "electricity"])
def test_choicedata_helpers_say_where_to_find_missing_data(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOICEKIT_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ck.ChoiceDataError, match="CHOICEKIT_DATA"):
        getattr(ck.datasets, f"{name}_choicedata")()


def test_docstring_examples_run() -> None:
    """The examples in the helpers' docstrings (those not marked +SKIP) give what they show."""
    import doctest

    import choicekit.datasets.choicedata as mod

    failures, attempted = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted >= 2 and failures == 0
