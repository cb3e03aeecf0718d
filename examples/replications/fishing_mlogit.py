"""Replication: mlogit's multinomial logit models of the Fishing data.

Published values: ``tests/reference/mlogit_fishing_*.json`` (mlogit
``tests/Examples/mlogit-Ex.Rout.save``; pylogit's notebook quoting mlogit for
``price | income | catch``). Alternatives beach, boat, charter, pier (mlogit's alphabetical
order, reference beach); ``price.<alt>`` (US dollars) and ``catch.<alt>`` (catch rate) vary
by alternative, ``income`` (monthly, US dollars) by individual. R::

    Fish <- mlogit.data(Fishing, varying = c(2:9), shape = "wide", choice = "mode")
    mlogit(mode ~ price + catch, Fish)                        # conditional
    mlogit(mode ~ 0 | income, Fish)                           # income_only
    mlogit(mode ~ price + catch | income, Fish)               # price_catch_income
    mlogit(mode ~ price | income | catch, Fish)               # price_income_catch
    Fishing2[1, "price.pier"] <- Fishing2[3, "price.beach"] <- NA
    mlogit(mode ~ price + catch | income, Fishing2, ...)      # unbalanced

In the unbalanced model an alternative whose price is missing is unavailable to that
individual; here that is an availability column built from ``notna()``. Usage::

    python examples/replications/fishing_mlogit.py --data-dir ../shared/data
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import choicekit as ck

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _published as pub  # noqa: E402

ALTS = ("beach", "boat", "charter", "pier")


def to_choicedata(df: pd.DataFrame) -> ck.ChoiceData:
    """Wide Fishing frame -> ChoiceData; an alternative with a missing price is unavailable."""
    avail = {f"av.{a}": df[f"price.{a}"].notna().astype(int) for a in ALTS}
    df = df.assign(**avail)
    return ck.ChoiceData.from_wide(
        df, choice="mode", alternatives={a: a for a in ALTS},
        availability={a: f"av.{a}" for a in ALTS},
        variables={v: {a: f"{v}.{a}" for a in ALTS} for v in ("price", "catch")},
    )


#: reference file stem -> formula (reference alternative: beach)
MODELS = {
    "mlogit_fishing_conditional": "mode ~ price + catch",
    "mlogit_fishing_income_only": "mode ~ 0 | income",
    "mlogit_fishing_price_catch_income": "mode ~ price + catch | income",
    "mlogit_fishing_price_income_catch": "mode ~ price | income | catch",
}


def fit_models(path: str | Path | None = None) -> dict[str, pub.Replication]:
    """Fit every Fishing model; ``{reference stem: Replication}``."""
    df = ck.datasets.load_fishing(path)
    data = to_choicedata(df)
    out: dict[str, pub.Replication] = {}
    for name, formula in MODELS.items():
        res = ck.MNL.from_formula(formula, data, reference="beach").fit()
        ref = pub.load_reference(name)
        out[name] = pub.Replication(name, res, pub.default_names(ref, ALTS))

    # mlogit's summary LR test against the constants-only (market-share) model
    for name, rep in out.items():
        t = next(t for t in pub.load_reference(name)["tests"] if "market-share" in t["name"])
        rep.derived["LR vs market shares"] = (
            t["statistic"], rep.result.lr_test_market_share().statistic,
            pub.derived_tol(t["statistic"], 5, 1e-3 * t["statistic"]))

    # effects at the sample means (mlogit's convention: each alternative's price and catch
    # at their means, income at its mean), model price | income | catch. The tolerance is the
    # half-digit rule plus the estimates' convergence slack carried to the effect by the delta
    # method, sqrt(crit) * SE(effect), the parameters' rule of tests/reference/README.md.
    name = "mlogit_fishing_price_income_catch"
    rep, derived = out[name], pub.load_reference(name)["derived"]
    slack = math.sqrt(pub.crit(pub.load_reference(name)))
    at = to_choicedata(df.drop(columns="mode").mean().to_frame().T.assign(mode="beach"))
    res = rep.result
    catch_mean = dict(zip(ALTS, at.variable("catch")[0]))

    def add(label: str, published: float, table: object, of: str, p: str,
            factor: float = 1.0) -> None:
        est = float(table.estimate.loc[of, p]) * factor  # type: ignore[attr-defined]
        se = float(table.se.loc[of, p]) * abs(factor)  # type: ignore[attr-defined]
        rep.derived[label] = (published, est, pub.derived_tol(published, 7) + slack * se)

    me_income = res.marginal_effects("income", data=at)
    for a, v in derived["effects_income_at_means"].items():
        add(f"dP({a})/d income", v, me_income, "income", a)
    me_catch = res.marginal_effects("catch", data=at)   # type "ar": catch * dP / dcatch
    eff = derived["effects_catch_ar_at_means"]
    for i, of in enumerate(eff["rows_catch_of"]):
        for j, p in enumerate(eff["cols_probability_of"]):
            add(f"dP({p})/dlog catch({of})", eff["values"][i][j], me_catch, of, p,
                catch_mean[of])
    el = res.elasticities("price", data=at)
    eff = derived["elasticities_price_rr_at_means_R_3.6.0_only"]
    for i, of in enumerate(eff["rows_price_of"]):
        for j, p in enumerate(eff["cols_probability_of"]):
            add(f"elasticity P({p}) price({of})", eff["values"][i][j], el, of, p)

    # the same multinomial logit by nnet::multinom (-LL printed to 6 decimals; nnet's
    # default reltol 1e-8 on ~1477 leaves ~1e-4 absolute)
    ref = pub.load_reference("mlogit_fishing_income_only")
    nll = 1477.150569
    out["mlogit_fishing_income_only"].derived["nnet::multinom -LL"] = (
        nll, -out["mlogit_fishing_income_only"].result.llf, 1e-4)

    # unbalanced: two prices set to NA (rows 1 and 3, 1-based)
    name = "mlogit_fishing_unbalanced"
    df2 = df.copy()
    df2.loc[0, "price.pier"] = np.nan
    df2.loc[2, "price.beach"] = np.nan
    res = ck.MNL.from_formula("mode ~ price + catch | income", to_choicedata(df2),
                              reference="beach").fit()
    ref = pub.load_reference(name)
    out[name] = pub.Replication(name, res, pub.default_names(ref, ALTS))
    return out


def main(argv: list[str] | None = None) -> int:
    fits = fit_models(pub.data_dir_from_args(__doc__, "fishing.csv", argv))
    return pub.report(fits, fits["mlogit_fishing_price_catch_income"].result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
