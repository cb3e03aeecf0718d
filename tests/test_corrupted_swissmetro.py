"""A Swissmetro-style frame with 1,000 rows corrupted in ten different ways.

The errors must name *every* kind of corruption (not only the first one found), and dropping
(``invalid="drop"``, then ``missing="drop"``) must remove exactly the corrupted cases, say how
many, and leave a fit identical to the fit on the frame with those rows removed by hand.

Two frames: choicekit's bundled simulated mode-choice data (always available) and the real
Swissmetro data (Bierlaire et al. 2001) when the shared data directory is present. The real
data also carry 9 rows with CHOICE = 0 ("unknown"), which must be reported with the rest.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import choicekit as ck

B, V = ck.Beta, ck.Var


@dataclass
class Layout:
    alts: dict[int, str]          # code -> name
    av: dict[str, str]            # name -> availability column
    tt: dict[str, str]            # name -> time column
    co: dict[str, str]            # name -> cost column
    group: str

    def spec(self) -> dict:
        return dict(choice="CHOICE", alternatives=self.alts, availability=self.av,
                    weight="w", group=self.group, case="case")

    def utilities(self) -> dict:
        names = list(self.alts.values())
        u = {a: B("B_TIME") * V(self.tt[a]) / 100 + B("B_COST") * V(self.co[a]) / 100
             for a in names}
        for a in names[:-1]:
            u[a] = u[a] + B(f"ASC_{a}")
        return u


SIMULATED = Layout({1: "train", 2: "bus", 3: "car"},
                   {"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
                   {"train": "TRAIN_TT", "bus": "BUS_TT", "car": "CAR_TT"},
                   {"train": "TRAIN_COST", "bus": "BUS_COST", "car": "CAR_COST"}, "person")
SWISSMETRO = Layout({1: "train", 2: "sm", 3: "car"},
                    {"train": "TRAIN_AV", "sm": "SM_AV", "car": "CAR_AV"},
                    {"train": "TRAIN_TT", "sm": "SM_TT", "car": "CAR_TT"},
                    {"train": "TRAIN_CO", "sm": "SM_CO", "car": "CAR_CO"}, "ID")

#: structural corruptions (found when the ChoiceData is built) and the words that name them
STRUCTURAL = {
    "undeclared code": "holds codes that are not declared alternatives",
    "missing choice": "choice column 'CHOICE' is missing (NaN)",
    "availability 2": "holds values other than 0/1 (2.0)",
    "chosen unavailable": "the chosen alternative is unavailable",
    "repeated case id": "case ids must be unique",
    "negative weight": "weight column 'w' is negative",
    "missing group": "is missing in 100 cases",
}
#: value corruptions (found when a utility uses the column)
VALUES = {
    "non-numeric time": "100 non-numeric ('n/a')",
    "missing cost": "100 missing (NaN)",
    "infinite time": "100 infinite",
}


def corrupt(df: pd.DataFrame, lay: Layout, seed: int = 2026) -> tuple[pd.DataFrame, np.ndarray]:
    """1,000 rows in ten groups of 100, one kind of corruption each; returns the rows hit."""
    names = list(lay.alts.values())
    first, second, last = names
    df = df.reset_index(drop=True).copy()
    df = df.astype({"CHOICE": float, lay.av[first]: float, lay.group: float,
                    lay.co[second]: float, lay.tt[last]: float}).astype({lay.tt[first]: object})
    df["case"] = np.arange(len(df)) + 1
    df["w"] = 1.0
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(df), 1000, replace=False)
    g = dict(zip(list(STRUCTURAL) + list(VALUES), np.split(rows, 10)))
    df.loc[g["undeclared code"], "CHOICE"] = 7
    df.loc[g["missing choice"], "CHOICE"] = np.nan
    df.loc[g["availability 2"], lay.av[first]] = 2
    r = g["chosen unavailable"]
    df.loc[r, "CHOICE"] = 3
    df.loc[r, lay.av[last]] = 0
    r = g["repeated case id"]
    df.loc[r[1::2], "case"] = df.loc[r[0::2], "case"].to_numpy()
    df.loc[g["negative weight"], "w"] = -1.0
    df.loc[g["missing group"], lay.group] = np.nan
    # value corruptions: the alternative is made available so that the value matters
    r = g["non-numeric time"]
    df.loc[r, lay.tt[first]] = "n/a"
    df.loc[r, lay.av[first]] = 1
    r = g["missing cost"]
    df.loc[r, lay.co[second]] = np.nan
    df.loc[r, lay.av[second]] = 1
    r = g["infinite time"]
    df.loc[r, lay.tt[last]] = np.inf
    df.loc[r, lay.av[last]] = 1
    # the value-corrupted rows must not be invalid for another reason (their choice must stay
    # available): choose the first alternative there, which is always available in them
    df.loc[g["non-numeric time"], "CHOICE"] = 1
    df.loc[np.concatenate([g["missing cost"], g["infinite time"]]), "CHOICE"] = 2
    return df, rows


def check(frame: pd.DataFrame, lay: Layout, natural_bad: np.ndarray) -> None:
    bad, rows = corrupt(frame, lay)
    before = bad.copy(deep=True)
    structural_rows = np.union1d(rows[:700], natural_bad)

    # 1. one error naming every structural kind, with counts
    with pytest.raises(ck.ChoiceDataError) as err:
        ck.ChoiceData.from_wide(bad, **lay.spec())
    msg = str(err.value)
    kinds = 7
    assert f"{kinds} kinds of invalid data, affecting {len(structural_rows)} of {len(bad)}" in msg
    for words in STRUCTURAL.values():
        assert words in msg, words
    for words in VALUES.values():  # not found at this stage: the utilities are not known yet
        assert words not in msg

    # 2. dropped, with the count reported
    with pytest.warns(ck.DataWarning,
                      match=rf"dropped these {len(structural_rows)} cases; "
                            rf"{len(bad) - len(structural_rows)} remain"):
        data = ck.ChoiceData.from_wide(bad, **lay.spec(), invalid="drop")
    assert sorted(data.dropped_cases) == sorted(bad.loc[structural_rows, "case"])

    # 3. one error naming every value kind, by variable and alternative
    with pytest.raises(ck.ChoiceDataError) as err:
        ck.MNL(data, lay.utilities())
    msg = str(err.value)
    names = list(lay.alts.values())
    assert "Missing, non-numeric or infinite values in 300 cases" in msg
    assert f"variable {lay.tt[names[0]]!r} for alternative {names[0]!r}: " \
           f"{VALUES['non-numeric time']}" in msg
    assert f"variable {lay.co[names[1]]!r} for alternative {names[1]!r}: " \
           f"{VALUES['missing cost']}" in msg
    assert f"variable {lay.tt[names[2]]!r} for alternative {names[2]!r}: " \
           f"{VALUES['infinite time']}" in msg

    # 4. a clean fit after missing="drop", the count reported
    n_left = len(bad) - len(structural_rows) - 300
    with pytest.warns(ck.DataWarning, match=rf"missing='drop' dropped 300 of .* {n_left} remain"):
        model = ck.MNL(data, lay.utilities(), missing="drop")
    assert sorted(model.dropped_cases) == sorted(bad.loc[rows[700:], "case"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ck.ChoiceKitWarning)
        res = model.fit()
    assert res.converged and res.nobs == n_left

    # 5. identical to the fit on the frame with the corrupted rows removed by hand
    clean = bad.drop(index=np.union1d(structural_rows, rows[700:]))
    clean = clean.astype({lay.tt[names[0]]: float})
    ref = ck.MNL(ck.ChoiceData.from_wide(clean, **lay.spec()), lay.utilities()).fit()
    pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-12)
    pd.testing.assert_series_equal(res.bse, ref.bse, rtol=1e-10)

    # the user's frame is untouched by all of the above
    pd.testing.assert_frame_equal(bad, before)


def test_corrupted_simulated_modechoice():
    check(ck.datasets.load_simulated_modechoice(), SIMULATED, np.array([], dtype=int))


def test_corrupted_swissmetro(shared_data):
    df = ck.datasets.load_swissmetro()
    natural = np.flatnonzero(df["CHOICE"].to_numpy() == 0)
    assert len(natural) == 9  # documented in the data's codebook
    check(df, SWISSMETRO, natural)


def test_real_swissmetro_choice_zero_is_named(shared_data):
    df = ck.datasets.load_swissmetro()
    with pytest.raises(ck.ChoiceDataError,
                       match=r"1 kind of invalid data, affecting 9 of 10728 cases:\n  - choice "
                             r"column 'CHOICE' holds codes that are not declared alternatives "
                             r"\(0\) in 9 cases"):
        ck.ChoiceData.from_wide(df, **SWISSMETRO.spec() | {"weight": None, "case": None})
