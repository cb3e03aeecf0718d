"""Shared fixtures: where the real datasets are, and the Monte Carlo size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "reference"
#: real public datasets live in ../shared/data beside the checkout (CI has it); CHOICEKIT_DATA
#: overrides. Tests using them skip when absent.
SHARED_DATA = Path(os.environ.get("CHOICEKIT_DATA", REPO.parent / "shared" / "data"))
#: the files of ../shared/data/SOURCES.md that tests read
SHARED_FILES = ("swissmetro.dat", "modecanada.csv", "heating.csv", "train_netherlands.csv",
                "fishing.csv", "electricity.csv")


def mc_scale() -> float:
    """Size factor of Monte Carlo tests (CHOICEKIT_MC_SCALE, default 1; CI uses 0.5)."""
    return float(os.environ.get("CHOICEKIT_MC_SCALE", "1"))


@pytest.fixture
def shared_data() -> Path:
    """The shared data directory (with every file of SHARED_FILES), or skip."""
    missing = [f for f in SHARED_FILES if not (SHARED_DATA / f).is_file()]
    if missing:
        pytest.skip(f"shared datasets not found at {SHARED_DATA} (missing {missing})")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _choicekit_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaders find the shared datasets through CHOICEKIT_DATA when it is not set."""
    if "CHOICEKIT_DATA" not in os.environ and SHARED_DATA.is_dir():
        monkeypatch.setenv("CHOICEKIT_DATA", str(SHARED_DATA))


# ---------------------------------------------------------------------------------------------
# hypothesis: one deterministic, bounded profile for local runs and CI (property tests must not
# vary from run to run nor grow with the machine's speed)
try:
    import tempfile

    from hypothesis import HealthCheck, settings
    from hypothesis.configuration import set_hypothesis_home_dir

    # hypothesis keeps caches (e.g. unicode tables) on disk: outside the checkout
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "choicekit-hypothesis"))

    settings.register_profile(
        "choicekit",
        derandomize=True,
        database=None,  # no .hypothesis/ directory written into the checkout
        max_examples=int(os.environ.get("CHOICEKIT_HYPOTHESIS_EXAMPLES", "60")),
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile("choicekit")
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
