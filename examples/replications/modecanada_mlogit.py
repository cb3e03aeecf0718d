"""Replication: mlogit's ModeCanada multinomial logit (vignette "Random utility models").

Published values: ``tests/reference/mlogit_modecanada_car_train_air.json`` (mlogit vignette
``c3.rum``, mlogit 1.1-1). R::

    MC <- dfidx(ModeCanada, subset = noalt == 4)
    MC$time <- with(MC, ivt + ovt)
    ml.MC1 <- mlogit(choice ~ cost + freq | income | time, MC,
                     alt.subset = c("car", "train", "air"), reflevel = "car")

``alt.subset`` drops the bus rows *and* every case whose chosen mode is bus; that recipe is
spelled out below with pandas. Generic cost and freq, alternative-specific constants and
income effects (car = 0), and a time coefficient for each of car, train and air. Usage::

    python examples/replications/modecanada_mlogit.py --data-dir ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import choicekit as ck

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _published as pub  # noqa: E402

NAME = "mlogit_modecanada_car_train_air"


def mlogit_sample(df: pd.DataFrame) -> pd.DataFrame:
    """Cases with all four modes, minus bus (and minus the cases that chose bus)."""
    df = df[df["noalt"] == 4]
    chose_bus = df.loc[(df["alt"] == "bus") & (df["choice"] == 1), "case"]
    df = df[~df["case"].isin(chose_bus) & (df["alt"] != "bus")]
    return df.assign(time=df["ivt"] + df["ovt"])


def fit_models(path: str | Path | None = None) -> dict[str, pub.Replication]:
    """Fit ml.MC1; ``{reference stem: Replication}``."""
    df = mlogit_sample(ck.datasets.load_modecanada(path))
    data = ck.ChoiceData.from_long(df, case="case", alt="alt", choice="choice")
    res = ck.MNL.from_formula("choice ~ cost + freq | income | time", data,
                              reference="car").fit()
    ref = pub.load_reference(NAME)
    derived = ref["derived"]
    out = {}
    # value of time (CAD per hour): 7 significant digits, plus the estimates' slack (rtol 1e-5)
    for k, v in derived["value_of_time_per_hour_CAD"].items():
        out[f"value of time {k}"] = (v, 60 * res.params[k] / res.params["cost"],
                                     pub.derived_tol(v, 7, 1e-5 * abs(v)))
    probs = res.predict_proba().mean()
    for a, p in derived["mean_fitted_probabilities"].items():
        out[f"mean P({a})"] = (p, float(probs[a]), pub.derived_tol(p, 7, 1e-5))
    first = derived["first_cases_fitted_probabilities"]
    P = res.predict_proba().loc[[int(c) for c in first["case_ids"]]]
    for a in ("car", "train", "air"):
        for case, p in zip(first["case_ids"], first[a]):
            out[f"P({a}) case {case}"] = (p, float(P.loc[int(case), a]),
                                          pub.derived_tol(p, 7, 1e-5))
    # scenario: train time -20%; mean probabilities and the consumer-surplus gain per case
    # (Small-Rosen log-sum rule), summarised as R's summary() does (type-7 quantiles)
    sc = res.scenario({"time": 0.8}, alternatives=["train"], cost="cost", se="none")
    for a, p in derived["train_time_minus_20pct_mean_probabilities"].items():
        out[f"train time -20%: mean P({a})"] = (p, float(sc.shares.loc[a, "after"]),
                                               pub.derived_tol(p, 7, 1e-5))
    cs = sc.surplus_per_case.to_numpy()
    summary = {"min": cs.min(), "q1": np.quantile(cs, 0.25), "median": np.median(cs),
               "mean": cs.mean(), "q3": np.quantile(cs, 0.75), "max": cs.max()}
    for k, v in derived["surplus_summary_CAD"].items():
        out[f"surplus {k}"] = (v, float(summary[k]), pub.derived_tol(v, 1, 1e-5 * abs(v)))
    # at the sample means (mlogit's convention: each alternative's covariates at their means)
    means = df.groupby("alt")[["cost", "freq", "time"]].mean().reset_index()
    at = ck.ChoiceData.from_long(
        means.assign(case=1, income=df["income"].mean(), choice=(means["alt"] == "car") * 1),
        case="case", alt="alt", choice="choice")
    P = res.predict_proba(at).iloc[0]
    for a, p in derived["predict_at_sample_means"].items():
        out[f"P({a}) at means"] = (p, float(P[a]), pub.derived_tol(p, 7, 1e-5))
    el = res.elasticities("cost", kind="point", data=at).iloc[0]
    eff = derived["elasticities_cost_rr_at_means"]
    for i, of in enumerate(eff["rows_cost_of"]):
        for j, p in enumerate(eff["cols_probability_of"]):
            v = eff["values"][i][j]
            out[f"elasticity P({p}) cost({of})"] = (v, float(el[(of, p)]),
                                                    pub.derived_tol(v, 7, 1e-5 * abs(v)))
    # type "ar": dP / d log(income) = income * dP / d income
    me = res.marginal_effects("income", kind="point", data=at).iloc[0]["income"]
    for a, v in derived["effects_income_ar_at_means"].items():
        out[f"dP({a})/dlog income"] = (v, float(me[a]) * df["income"].mean(),
                                       pub.derived_tol(v, 7, 1e-5 * abs(v)))
    shares = ck.MNL.from_formula("choice ~ 0", data, reference="car").fit()
    lr = ref["tests"][0]["statistic"]
    out["LR vs market shares"] = (lr, 2 * (res.llf - shares.llf), pub.derived_tol(lr))
    return {NAME: pub.Replication(NAME, res, pub.default_names(ref, data.alternatives), out)}


def main(argv: list[str] | None = None) -> int:
    fits = fit_models(pub.data_dir_from_args(__doc__, "modecanada.csv", argv))
    return pub.report(fits, fits[NAME].result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
