"""Data and fits shared by the post-estimation tests (simulated mode choice, Heating,
ModeCanada car/train/air)."""

from __future__ import annotations

from typing import Any

import pandas as pd

import choicekit as ck

B, V = ck.Beta, ck.Var
HEAT_ALTS = ["ec", "er", "gc", "gr", "hp"]
#: the simulated mode choice model: generic time and cost, both in hundreds
SIM_UTILS = {
    "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
    + B("B_COST") * V("TRAIN_COST") / 100,
    "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
    "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100,
}


def sim_data(df: pd.DataFrame, **kwargs: Any) -> ck.ChoiceData:
    """The simulated mode choice frame as wide choice data (``kwargs``: weight, group...)."""
    return ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"}, **kwargs)


def heating_data(df: pd.DataFrame) -> ck.ChoiceData:
    """mlogit's Heating frame with the long variables ``ic`` and ``oc``."""
    return ck.ChoiceData.from_wide(
        df, choice="depvar", alternatives={a: a for a in HEAT_ALTS}, case="idcase",
        variables={v: {a: f"{v}.{a}" for a in HEAT_ALTS} for v in ("ic", "oc")})


def modecanada_car_train_air(df: pd.DataFrame) -> tuple[pd.DataFrame, ck.MNLResults]:
    """The mlogit c3 vignette's ModeCanada model (ml.MC1): cases with four alternatives, bus
    and the cases choosing it dropped; returns the filtered long frame and the fit."""
    df = df[df["noalt"] == 4].assign(time=lambda d: d["ivt"] + d["ovt"])
    bus = df.loc[(df["alt"] == "bus") & (df["choice"] == 1), "case"]
    df = df[~df["case"].isin(bus) & (df["alt"] != "bus")]
    data = ck.ChoiceData.from_long(df, case="case", alt="alt", choice="choice")
    res = ck.MNL.from_formula("choice ~ cost + freq | income | time", data,
                              reference="car").fit()
    return df, res
