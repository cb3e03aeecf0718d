"""Replication: the Heating exercise models of mlogit's vignette (Train's exercise 1).

Published values: ``tests/reference/mlogit_heating_*.json`` (mlogit vignette
``e1mlogit`` / ``e1.mlogit``; see each file's ``source``). Alternatives gc, gr, ec, er, hp;
``ic.<alt>`` installation cost, ``oc.<alt>`` annual operating cost (US dollars), ``income``
as stored. R::

    H <- dfidx(Heating, choice = "depvar", varying = c(3:12))
    m    <- mlogit(depvar ~ ic + oc | 0, H)                   # ic_oc_noasc
    H$lcc <- H$ic + H$oc / 0.12
    mlcc <- mlogit(depvar ~ lcc | 0, H)                       # lcc
    mc   <- mlogit(depvar ~ ic + oc, H, reflevel = "hp")      # asc_hp
    update(mc, reflevel = "gr")                               # asc_gr
    mi   <- mlogit(depvar ~ oc + I(ic / income), H)           # ic_over_income (reference ec)
    mi2  <- mlogit(depvar ~ oc + ic | income, H, reflevel = "hp")   # income_asv

The wide file is used as it is: ``variables=`` gathers ``ic.<alt>`` into one
alternative-varying variable ``ic`` (likewise ``oc``, ``lcc``, ``ic_income``). Usage::

    python examples/replications/heating_mlogit.py --data-dir ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import choicekit as ck

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _published as pub  # noqa: E402

ALTS = ("gc", "gr", "ec", "er", "hp")


def load_data(path: str | Path | None = None) -> ck.ChoiceData:
    """Heating as ChoiceData with alternative-varying ic, oc, lcc = ic + oc/0.12, ic/income."""
    df = ck.datasets.load_heating(path)
    extra = {}
    for a in ALTS:
        extra[f"lcc.{a}"] = df[f"ic.{a}"] + df[f"oc.{a}"] / 0.12
        extra[f"ic_income.{a}"] = df[f"ic.{a}"] / df["income"]
    df = df.assign(**extra)
    return ck.ChoiceData.from_wide(
        df, choice="depvar", alternatives={a: a for a in ALTS},
        variables={v: {a: f"{v}.{a}" for a in ALTS} for v in ("ic", "oc", "lcc", "ic_income")},
    )


#: reference file stem -> (formula, reference alternative)
MODELS = {
    "mlogit_heating_ic_oc_noasc": ("depvar ~ ic + oc | 0", None),
    "mlogit_heating_lcc": ("depvar ~ lcc | 0", None),
    "mlogit_heating_asc_hp": ("depvar ~ ic + oc", "hp"),
    "mlogit_heating_asc_gr": ("depvar ~ ic + oc", "gr"),
    "mlogit_heating_ic_over_income": ("depvar ~ oc + ic_income", "ec"),
    "mlogit_heating_income_asv": ("depvar ~ oc + ic | income", "hp"),
}


def fit_models(path: str | Path | None = None) -> dict[str, pub.Replication]:
    """Fit every model of :data:`MODELS`; ``{reference stem: Replication}``."""
    data = load_data(path)
    fits = {name: ck.MNL.from_formula(f, data, reference=r).fit()
            for name, (f, r) in MODELS.items()}
    out: dict[str, pub.Replication] = {}
    for name, res in fits.items():
        ref = pub.load_reference(name)
        names = pub.default_names(ref, ALTS, {"I(ic/income)": "ic_income"})
        out[name] = pub.Replication(name, res, names, {})

    # derived quantities printed in the vignette
    m, mc, mlcc = (fits[k] for k in ("mlogit_heating_ic_oc_noasc", "mlogit_heating_asc_hp",
                                     "mlogit_heating_lcc"))
    mi2 = fits["mlogit_heating_income_asv"]
    ref_m = pub.load_reference("mlogit_heating_ic_oc_noasc")
    ref_mc = pub.load_reference("mlogit_heating_asc_hp")
    wtp = ref_m["derived"]["wtp_oc_over_ic"]
    # the ratio inherits the estimates' convergence slack: rtol 1e-5 (README, derived ratios)
    out["mlogit_heating_ic_oc_noasc"].derived["wtp oc/ic"] = (
        wtp, m.params["oc"] / m.params["ic"], pub.derived_tol(wtp, 7, 1e-5 * abs(wtp)))
    probs = m.predict_proba().mean()
    for a, p in ref_m["derived"]["mean_fitted_probabilities"].items():
        out["mlogit_heating_ic_oc_noasc"].derived[f"mean P({a})"] = (
            p, float(probs[a]), pub.derived_tol(p, 7, 1e-5))
    lr = 2 * (m.llf - mlcc.llf)
    out["mlogit_heating_lcc"].derived["LR lcc vs ic + oc"] = (
        306.93, lr, pub.derived_tol(306.93, 5, 1e-3 * 306.93))
    wtp = ref_mc["derived"]["wtp_oc_over_ic"]
    out["mlogit_heating_asc_hp"].derived["wtp oc/ic"] = (
        wtp, mc.params["oc"] / mc.params["ic"], pub.derived_tol(wtp, 7, 1e-5 * abs(wtp)))
    lr_income = next(t["statistic"] for t in ref_mc["tests"] if t["name"].startswith("LR"))
    out["mlogit_heating_asc_hp"].derived["LR income interactions"] = (
        lr_income, 2 * (mi2.llf - mc.llf), pub.derived_tol(lr_income, 5, 1e-3 * lr_income))
    # tests of the income interactions (vignette): LR, Wald and score, 5 significant digits
    ref_mi2 = pub.load_reference("mlogit_heating_income_asv")
    income = [f"income:{a}" for a in ("ec", "er", "gc", "gr")]
    ours = {"LR": mi2.lr_test(mc).statistic,
            "Wald": mi2.wald_test([f"{p} = 0" for p in income]).statistic,
            "Score": mc.score_test(mi2.model).statistic}
    for t in ref_mi2["tests"]:
        kind = t["name"].split()[0]
        if kind in ours:
            out["mlogit_heating_income_asv"].derived[t["name"]] = (
                t["statistic"], ours[kind], pub.derived_tol(t["statistic"], 5,
                                                            1e-3 * t["statistic"]))
    # mlogit's summary LR test against the constants-only (market-share) model
    for name in ("mlogit_heating_asc_hp", "mlogit_heating_ic_over_income",
                 "mlogit_heating_income_asv"):
        t = next(t for t in pub.load_reference(name)["tests"] if "market-share" in t["name"])
        out[name].derived["LR vs market shares"] = (
            t["statistic"], fits[name].lr_test_market_share().statistic,
            pub.derived_tol(t["statistic"], 4, 1e-3 * t["statistic"]))
    first = ref_mc["derived"]["first_row_probabilities"]
    P = mc.predict_proba()[first["order"]].to_numpy()[: len(first["rows"])]
    out["mlogit_heating_asc_hp"].derived["max |P - published|, first 6 houses"] = (
        0.0, float(np.max(np.abs(P - np.array(first["rows"])))), 5e-7 + 1e-5)
    return out


def main(argv: list[str] | None = None) -> int:
    fits = fit_models(pub.data_dir_from_args(__doc__, "heating.csv", argv))
    return pub.report(fits, fits["mlogit_heating_asc_hp"].result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
