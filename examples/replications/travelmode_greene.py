"""Replication: Greene's conditional logit for the TravelMode data (Table 21.11), and two more
TravelMode models from mlogit's test outputs.

Published values: ``tests/reference/greene_travelmode_table21_11.json`` (mlogit's
``tests/AER.Rout.save``, block "Greene (2003), Table 21.11"; statsmodels' full-precision
replication), ``mlogit_travelmode_unbalanced.json`` and
``mlogit_travelmode_wait_travel_vcost.json`` and ``mlogit_travelmode_hmftest.json`` (mlogit
``tests/Examples/mlogit-Ex.Rout.save``).

R (AER names; the CSV has ttme = wait, gc = gcost, hinc = income, psize = size,
invt = travel, invc = vcost)::

    TravelMode$incair <- with(TravelMode, income * (mode == "air"))
    mlogit(choice ~ gcost + wait + incair, TravelMode, shape = "long",
           alt.var = "mode", reflevel = "car")                       # Table 21.11
    mlogit(choice ~ wait + gcost | income + size, TravelMode[-c(2, 7, 9), ], ...)  # unbalanced
    mlogit(choice ~ wait + travel + vcost, TravelMode, ...)          # reference air

The TravelMode data ship with statsmodels, so this script always runs. Usage::

    python examples/replications/travelmode_greene.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd

import choicekit as ck

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _published as pub  # noqa: E402

MODES = {1: "air", 2: "train", 3: "bus", 4: "car"}


def load_frame(path: str | Path | None = None) -> pd.DataFrame:
    """The long TravelMode frame with mode labels and Greene's ``hinc_air``."""
    df = ck.datasets.load_travelmode(path)
    df = df.assign(alt=df["mode"].map(MODES)).drop(columns="mode")
    return df.assign(hinc_air=df["hinc"] * (df["alt"] == "air"))


def fit_models(path: str | Path | None = None) -> dict[str, pub.Replication]:
    """Fit the three models; ``{reference file stem: Replication}``."""
    df = load_frame(path)
    data = ck.ChoiceData.from_long(df, case="individual", alt="alt", choice="choice")
    out: dict[str, pub.Replication] = {}

    # Greene Table 21.11: ASCs (car = 0), generic gc and ttme, income in the air utility only
    name = "greene_travelmode_table21_11"
    res = ck.MNL.from_formula("choice ~ gc + ttme + hinc_air", data, reference="car").fit()
    ref = pub.load_reference(name)
    names = pub.default_names(ref, data.alternatives,
                              {"gcost": "gc", "wait": "ttme", "incair": "hinc_air"})
    shares = ck.MNL.from_formula("choice ~ 0", data, reference="car").fit()
    lr = 2 * (res.llf - shares.llf)
    out[name] = pub.Replication(name, res, names, {
        "LR vs market shares": (169.26, lr, pub.derived_tol(169.26)),
        "constants-only LL (statsmodels llnull)": (
            ref["null_loglik"], shares.llf, pub.derived_tol(ref["null_loglik"])),
    })

    # unbalanced choice sets: rows 2, 7 and 9 (1-based) of the long table removed
    name = "mlogit_travelmode_unbalanced"
    data_unb = ck.ChoiceData.from_long(df.drop(index=[1, 6, 8]), case="individual", alt="alt",
                                       choice="choice")
    res = ck.MNL.from_formula("choice ~ ttme + gc | hinc + psize", data_unb,
                              reference="air").fit()
    ref = pub.load_reference(name)
    names = {k: v.replace("wait", "ttme").replace("gcost", "gc").replace("income", "hinc")
             .replace("size", "psize") for k, v in
             pub.default_names(ref, data.alternatives).items()}
    out[name] = pub.Replication(name, res, names)

    # log-likelihood only: wait + travel + vcost, reference air
    name = "mlogit_travelmode_wait_travel_vcost"
    res = ck.MNL.from_formula("choice ~ ttme + invt + invc", data, reference="air").fit()
    out[name] = pub.Replication(name, res, {})
    # Hausman-McFadden test as in mlogit's example: x has the default reference (air) and
    # income in the air utility; g drops air (and the travellers who chose it), reference car.
    # mlogit compares the coefficients common to both fits, whose constants are normalised
    # differently, and prints chisq = -10.77 (df 4, p = 1): not a valid statistic, which
    # choicekit reproduces and flags with a warning.
    name = "mlogit_travelmode_hmftest"
    x = ck.MNL.from_formula("choice ~ ttme + gc + hinc_air", data, reference="air").fit()
    chose_air = df.loc[(df["alt"] == "air") & (df["choice"] == 1), "individual"]
    sub = df[(df["alt"] != "air") & ~df["individual"].isin(chose_air)]
    g = ck.MNL.from_formula("choice ~ ttme + gc", ck.ChoiceData.from_long(
        sub, case="individual", alt="alt", choice="choice"), reference="car").fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.ChoiceKitWarning)  # the expected "not PD" warning
        hm = x.hausman_mcfadden(g)
    published = pub.load_reference(name)["tests"][0]
    out[name] = pub.Replication(name, x, {}, {
        "hmftest statistic": (published["statistic"], hm.statistic,
                              pub.derived_tol(published["statistic"], 4, 1e-3 * 10.77)),
        "hmftest df": (published["df"], hm.df, 0.0),
    })
    return out


def main(argv: list[str] | None = None) -> int:
    fits = fit_models()
    return pub.report(fits, fits["greene_travelmode_table21_11"].result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
