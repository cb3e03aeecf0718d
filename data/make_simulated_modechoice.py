"""Generate choicekit's bundled simulated mode-choice data set.

Writes ``choicekit/datasets/bundled/simulated_modechoice.csv`` (wide layout, one row per choice
situation) and its companion ``simulated_modechoice.json`` (seed, true parameters, design,
counts). Run from the repository root::

    python data/make_simulated_modechoice.py               # writes into choicekit/datasets/bundled/
    python data/make_simulated_modechoice.py --output-dir /tmp/sim

The output is a pure function of the constants below: all randomness comes from one
``numpy.random.default_rng(SEED)`` generator, consumed in a fixed order, and the choices are
simulated from the *rounded* attributes that are written to the CSV, so the stored data follow
the documented data-generating process exactly. See ``data/README.md`` for the design.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 20240917
N_PERSONS = 500
CHOICES_PER_PERSON = 6
P_CAR_AVAILABLE = 0.80
P_GA_WITH_CAR = 0.10
P_GA_WITHOUT_CAR = 0.35
TRUE_PARAMS: dict[str, float] = {
    "ASC_TRAIN": -0.4,
    "ASC_BUS": -0.9,
    "B_TIME": -1.2,
    "B_COST": -0.9,
}
ALTERNATIVES: dict[int, str] = {1: "train", 2: "bus", 3: "car"}
CSV_NAME = "simulated_modechoice.csv"
JSON_NAME = "simulated_modechoice.json"
COLUMNS: tuple[str, ...] = (
    "case",
    "person",
    "CHOICE",
    "TRAIN_TT",
    "TRAIN_COST",
    "BUS_TT",
    "BUS_COST",
    "CAR_TT",
    "CAR_COST",
    "TRAIN_AV",
    "BUS_AV",
    "CAR_AV",
    "INCOME",
    "GA",
)
UTILITIES: dict[str, str] = {
    "train": "ASC_TRAIN + B_TIME * TRAIN_TT / 100 + B_COST * TRAIN_COST / 100",
    "bus": "ASC_BUS + B_TIME * BUS_TT / 100 + B_COST * BUS_COST / 100",
    "car": "B_TIME * CAR_TT / 100 + B_COST * CAR_COST / 100",
}


def simulate(
    seed: int = SEED,
    n_persons: int = N_PERSONS,
    choices_per_person: int = CHOICES_PER_PERSON,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Simulate the wide mode-choice table and its metadata.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the only source of randomness.
    n_persons : int
        Number of simulated persons.
    choices_per_person : int
        Stated-preference choice situations per person.

    Returns
    -------
    data : pandas.DataFrame
        One row per choice situation, columns :data:`COLUMNS`.
    metadata : dict
        JSON-serialisable description: seed, true parameters, design and counts.
    """
    rng = np.random.default_rng(seed)
    n_cases = n_persons * choices_per_person

    # Person level, drawn in this order: distance, income, car availability, GA season ticket.
    dist_km = np.clip(rng.lognormal(np.log(110.0), 0.55, n_persons), 15.0, 450.0)
    income = np.clip(np.round(rng.lognormal(np.log(65.0), 0.45, n_persons)), 12, 250)
    car_av = (rng.random(n_persons) < P_CAR_AVAILABLE).astype(np.int64)
    p_ga = np.where(car_av == 1, P_GA_WITH_CAR, P_GA_WITHOUT_CAR)
    ga = (rng.random(n_persons) < p_ga).astype(np.int64)

    person = np.repeat(np.arange(1, n_persons + 1), choices_per_person)
    d = np.repeat(dist_km, choices_per_person)

    # Situation level: each attribute varies around its distance-based level of service by a
    # uniform factor (a simple stated-preference design), drawn in the order of the columns.
    def factor(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, n_cases)

    train_tt = np.round((60.0 * d / 95.0 + 20.0) * factor(0.75, 1.25))
    train_cost = np.round((0.22 * d + 3.0) * factor(0.70, 1.30), 1)
    bus_tt = np.round((60.0 * d / 70.0 + 15.0) * factor(0.75, 1.25))
    bus_cost = np.round((0.12 * d + 2.0) * factor(0.70, 1.30), 1)
    car_tt = np.round((60.0 * d / 85.0 + 8.0) * factor(0.80, 1.30))
    car_cost = np.round(0.35 * d * factor(0.70, 1.30), 1)

    ga_case = np.repeat(ga, choices_per_person)
    car_av_case = np.repeat(car_av, choices_per_person)
    train_cost = np.where(ga_case == 1, 0.0, train_cost)
    # As in Swissmetro, an unavailable car has its attributes recorded as 0.
    car_tt = np.where(car_av_case == 1, car_tt, 0.0)
    car_cost = np.where(car_av_case == 1, car_cost, 0.0)

    p = TRUE_PARAMS
    v = np.column_stack(
        [
            p["ASC_TRAIN"] + p["B_TIME"] * train_tt / 100 + p["B_COST"] * train_cost / 100,
            p["ASC_BUS"] + p["B_TIME"] * bus_tt / 100 + p["B_COST"] * bus_cost / 100,
            p["B_TIME"] * car_tt / 100 + p["B_COST"] * car_cost / 100,
        ]
    )
    available = np.column_stack(
        [np.ones(n_cases, dtype=bool), np.ones(n_cases, dtype=bool), car_av_case == 1]
    )
    u = np.where(available, v + rng.gumbel(0.0, 1.0, size=v.shape), -np.inf)
    choice = np.argmax(u, axis=1) + 1

    data = pd.DataFrame(
        {
            "case": np.arange(1, n_cases + 1),
            "person": person,
            "CHOICE": choice.astype(np.int64),
            "TRAIN_TT": train_tt.astype(np.int64),
            "TRAIN_COST": train_cost,
            "BUS_TT": bus_tt.astype(np.int64),
            "BUS_COST": bus_cost,
            "CAR_TT": car_tt.astype(np.int64),
            "CAR_COST": car_cost,
            "TRAIN_AV": np.ones(n_cases, dtype=np.int64),
            "BUS_AV": np.ones(n_cases, dtype=np.int64),
            "CAR_AV": car_av_case,
            "INCOME": np.repeat(income, choices_per_person).astype(np.int64),
            "GA": ga_case,
        },
        columns=list(COLUMNS),
    )

    counts = data["CHOICE"].value_counts()
    metadata: dict[str, Any] = {
        "name": "simulated_modechoice",
        "file": CSV_NAME,
        "description": (
            "Simulated Swissmetro-like stated-preference mode choice (train / bus / car), wide "
            "layout, one row per choice situation. Generated by choicekit's "
            "data/make_simulated_modechoice.py; not real survey data."
        ),
        "generator": "data/make_simulated_modechoice.py",
        "seed": seed,
        "rng": "numpy.random.default_rng (PCG64)",
        "n_persons": n_persons,
        "choices_per_person": choices_per_person,
        "n_cases": n_cases,
        "n_rows": n_cases,
        "columns": list(COLUMNS),
        "layout": "wide",
        "choice_column": "CHOICE",
        "alternatives": {str(code): name for code, name in ALTERNATIVES.items()},
        "availability": {"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
        "group_column": "person",
        "reference_alternative": "car",
        "utilities": UTILITIES,
        "true_params": dict(TRUE_PARAMS),
        "value_of_time_per_hour": round(60.0 * TRUE_PARAMS["B_TIME"] / TRUE_PARAMS["B_COST"], 6),
        "error_term": "i.i.d. Gumbel(0, 1) per case and alternative (multinomial logit)",
        "units": {
            "TT": "minutes",
            "COST": "currency units",
            "INCOME": "thousands of currency units per year (does not enter the true utility)",
        },
        "design": {
            "p_car_available": P_CAR_AVAILABLE,
            "p_ga_with_car": P_GA_WITH_CAR,
            "p_ga_without_car": P_GA_WITHOUT_CAR,
            "distance_km": "lognormal(log 110, 0.55) clipped to [15, 450], person level",
            "income": "round(lognormal(log 65, 0.45)) clipped to [12, 250], person level",
            "TRAIN_TT": "round((60 d / 95 + 20) * U(0.75, 1.25))",
            "TRAIN_COST": "round((0.22 d + 3) * U(0.70, 1.30), 1); 0 if GA == 1",
            "BUS_TT": "round((60 d / 70 + 15) * U(0.75, 1.25))",
            "BUS_COST": "round((0.12 d + 2) * U(0.70, 1.30), 1)",
            "CAR_TT": "round((60 d / 85 + 8) * U(0.80, 1.30)); 0 if CAR_AV == 0",
            "CAR_COST": "round(0.35 d * U(0.70, 1.30), 1); 0 if CAR_AV == 0",
        },
        "n_car_unavailable_persons": int((car_av == 0).sum()),
        "n_ga_persons": int(ga.sum()),
        "choice_counts": {str(code): int(counts.get(code, 0)) for code in ALTERNATIVES},
    }
    return data, metadata


def write(data: pd.DataFrame, metadata: dict[str, Any], output_dir: Path) -> None:
    """Write the CSV and the JSON metadata into ``output_dir`` (created if needed)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    data.to_csv(output_dir / CSV_NAME, index=False, lineterminator="\n")
    text = json.dumps(metadata, indent=2) + "\n"
    (output_dir / JSON_NAME).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: simulate and write the files."""
    default_dir = Path(__file__).resolve().parents[1] / "choicekit" / "datasets" / "bundled"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=default_dir,
        help=f"directory to write {CSV_NAME} and {JSON_NAME} into (default: {default_dir})",
    )
    args = parser.parse_args(argv)
    data, metadata = simulate()
    write(data, metadata, args.output_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
