"""Replications of published tables: each script in ``examples/replications`` vs the values
recorded in ``tests/reference/*.json``.

The tolerances are those of ``tests/reference/README.md``, implemented once in
``examples/replications/_published.py``: a reproduced value must round to the printed one
(half a unit in the last printed digit, x1.01 for ties); mlogit's estimates may sit
``sqrt(crit) * SE`` from the exact maximum (``crit`` = its printed stopping criterion
``g'(-H)^{-1}g``); standard errors get 1e-3 relative slack on top of the rounding bound;
full-precision sources (larch) get rtol 1e-5. Nothing here was computed by us.

The real data sets are not shipped: tests that need them take the ``shared_data`` fixture and
skip when ``../shared/data`` (or ``$CHOICEKIT_DATA``) is absent. TravelMode comes with
statsmodels and always runs.
"""

from __future__ import annotations

import json
import runpy
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "examples" / "replications"
REFERENCE = REPO / "tests" / "reference"

#: script -> (needs the shared data directory, reference files it reproduces)
REPLICATIONS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "travelmode_greene.py": (False, ("greene_travelmode_table21_11",
                                     "mlogit_travelmode_unbalanced",
                                     "mlogit_travelmode_wait_travel_vcost",
                                     "mlogit_travelmode_hmftest")),
    "swissmetro_b01logit.py": (True, ("biogeme_b01logit_swissmetro",
                                      "larch_swissmetro01logit")),
    "swissmetro_nested.py": (True, ("biogeme_b09nested_swissmetro",
                                    "biogeme_b11cnl_swissmetro")),
    "modecanada_mlogit.py": (True, ("mlogit_modecanada_car_train_air",)),
    "heating_mlogit.py": (True, ("mlogit_heating_ic_oc_noasc", "mlogit_heating_lcc",
                                 "mlogit_heating_asc_hp", "mlogit_heating_asc_gr",
                                 "mlogit_heating_ic_over_income",
                                 "mlogit_heating_income_asv")),
    "fishing_mlogit.py": (True, ("mlogit_fishing_conditional", "mlogit_fishing_income_only",
                                 "mlogit_fishing_price_catch_income",
                                 "mlogit_fishing_price_income_catch",
                                 "mlogit_fishing_unbalanced")),
}
CASES = [(script, ref) for script, (_, refs) in REPLICATIONS.items() for ref in refs]


@cache
def _script(script: str) -> dict[str, Any]:
    return runpy.run_path(str(SCRIPTS / script))


@cache
def _fits(script: str, data_dir: str | None) -> dict[str, Any]:
    return _script(script)["fit_models"](data_dir)


def fits_of(script: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The script's fits; skips (through ``shared_data``) when its data are absent."""
    needs_data, _ = REPLICATIONS[script]
    data_dir = str(request.getfixturevalue("shared_data")) if needs_data else None
    return _fits(script, data_dir)


def _load(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))


def test_every_reference_file_is_replicated() -> None:
    """Each published model with estimates or a log-likelihood has a replication here."""
    covered = {ref for _, ref in CASES}
    for path in REFERENCE.glob("*.json"):
        ref = _load(path.stem)
        if ref.get("params") or ref.get("loglik") is not None:
            if path.stem == "mlogit_train_netherlands":
                continue  # replicated in test_dataset_choicedata.py (train_choicedata)
            if path.stem == "mlogit_electricity_mxl":
                continue  # replicated in test_replications_mixed.py
            assert path.stem in covered, f"{path.stem} has no replication"


@pytest.mark.parametrize(("script", "reference"), CASES)
def test_replication_matches_published(script: str, reference: str,
                                       request: pytest.FixtureRequest) -> None:
    """Estimates, SEs, log-likelihood and derived quantities within the README tolerances."""
    rep = fits_of(script, request)[reference]
    table = rep.table()
    ref = _load(reference)
    # every published estimate and SE was compared (no silent omissions)
    n_expected = len(ref.get("params") or {}) + len(ref.get("std_errors") or {}) + (
        ref.get("loglik") is not None)
    assert len(table) >= n_expected
    bad = table[~table["ok"]]
    assert bad.empty, f"{reference}: outside tolerance\n{bad.to_string(index=False)}"


@pytest.mark.parametrize(("script", "reference"), CASES)
def test_replication_converged(script: str, reference: str,
                               request: pytest.FixtureRequest) -> None:
    rep = fits_of(script, request)[reference]
    if reference == "mlogit_fishing_income_only" and not rep.result.converged:
        pytest.xfail("trust-exact stops with 'bad approximation' at a scaled gradient of ~4e-6 "
                     "(income in dollars, coefficients ~1e-4): the estimates match mlogit, but "
                     "the optimizer's stopping rule is not scale-invariant (reported to the "
                     "core owner)")
    assert rep.result.converged


def test_greene_full_precision_statsmodels() -> None:
    """The tighter check the README suggests: statsmodels' 15-digit mlogit values, rtol 1e-4
    (mlogit's own stopping criterion 2.34e-4 moves the estimates by < 0.015 SE)."""
    rep = _fits("travelmode_greene.py", None)["greene_travelmode_table21_11"]
    ref = _load("greene_travelmode_table21_11")
    ours = {"gc": "gc", "ttme": "ttme", "hinc_air": "hinc_air", "air_const": "ASC:air",
            "train_const": "ASC:train", "bus_const": "ASC:bus"}
    for k, v in ref["params_high_precision_statsmodels"].items():
        np.testing.assert_allclose(rep.result.params[ours[k]], v, rtol=1e-4, err_msg=k)
    for k, v in ref["std_errors_high_precision_statsmodels"].items():
        np.testing.assert_allclose(rep.result.bse[ours[k]], v, rtol=1e-4, err_msg=k)
    # LL printed to 4 decimals
    assert abs(rep.result.llf - ref["loglik_high_precision_statsmodels"]) <= 5.05e-5


def test_larch_stops_below_our_maximum(shared_data: Path) -> None:
    """larch's LL is at most ours (we are at the maximum), and the gap is tiny: its tolerance
    widening in ``_published.FULL_PRECISION`` is justified by that gap, not assumed."""
    rep = _fits("swissmetro_b01logit.py", str(shared_data))["larch_swissmetro01logit"]
    gap = rep.result.llf - _load("larch_swissmetro01logit")["loglik"]
    assert -1e-9 <= gap <= 1e-6
    assert rep.result.gradient_norm < 1e-8


def test_biogeme_sample_size_and_robust_covariance(shared_data: Path) -> None:
    """6,768 rows after Biogeme's filters; robust covariances match the report's 3 digits."""
    rep = _fits("swissmetro_b01logit.py", str(shared_data))["biogeme_b01logit_swissmetro"]
    ref = _load("biogeme_b01logit_swissmetro")
    assert rep.result.nobs == ref["n_obs"] == 6768
    rob = rep.result.with_cov("robust").cov_params()
    cov = rep.result.cov_params()
    half = runpy.run_path(str(SCRIPTS / "_published.py"))["half_last_digit"]
    for pair, vals in ref["covariances_published"].items():
        a, b = pair.split(",")
        assert abs(cov.loc[a, b] - vals["cov"]) <= 1.01 * half(vals["cov"], 3), pair
        assert abs(rob.loc[a, b] - vals["rob_cov"]) <= 1.01 * half(vals["rob_cov"], 3), pair


@pytest.mark.parametrize("script", list(REPLICATIONS))
def test_script_main_runs(script: str, request: pytest.FixtureRequest,
                          capsys: pytest.CaptureFixture[str]) -> None:
    """Each example runs as a script and reports every comparison within tolerance."""
    needs_data, refs = REPLICATIONS[script]
    argv = ["--data-dir", str(request.getfixturevalue("shared_data"))] if needs_data else []
    code = _script(script)["main"](argv)
    out = capsys.readouterr().out
    assert code == 0, out
    for ref in refs:
        assert f"=== {ref}:" in out


@pytest.mark.parametrize(("reference", "key"), [
    ("biogeme_b09nested_swissmetro", "loglik_high_precision_biogeme_test"),
    ("biogeme_b11cnl_swissmetro", "loglik_high_precision_larch_test")])
def test_nested_logits_reach_the_full_precision_loglikelihood(reference: str, key: str,
                                                               request: pytest.FixtureRequest
                                                               ) -> None:
    """Biogeme's and larch's own tests assert these log-likelihoods to ~1e-10: ours agree
    to 1e-6 (the reports' 3 decimals are checked in test_replication_matches_published)."""
    rep = fits_of("swissmetro_nested.py", request)[reference]
    assert abs(rep.result.llf - _load(reference)[key]) <= 1e-6


def test_tolerance_helpers_doctest() -> None:
    """``half_last_digit`` follows the README rule on its documented examples."""
    half = runpy.run_path(str(SCRIPTS / "_published.py"))["half_last_digit"]
    assert half(-0.155, 3) == pytest.approx(5e-4)
    assert half(-5331.252) == pytest.approx(5e-4)
    assert half(0.3, 5) == pytest.approx(5e-6)           # trailing zeros of "0.30000"
    assert half(0.06735804, 7) == pytest.approx(5e-9)
    assert half(1.2e-05, 2) == pytest.approx(5e-7)            # last digit at 1e-6
