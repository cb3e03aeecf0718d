"""Replication: Biogeme's Swissmetro example ``b01logit`` (and larch's full-precision run).

Published values: ``tests/reference/biogeme_b01logit_swissmetro.json`` (Biogeme estimation
report of ``examples/swissmetro/01logit``, 3 significant digits, classical and robust SEs) and
``tests/reference/larch_swissmetro01logit.json`` (larch's unit test of the same model with
time and cost *not* divided by 100, full precision).

Biogeme's recipe (``swissmetro_data.py`` + ``b01logit.py``), restated with pandas:

* sample: keep ``PURPOSE`` in {1, 3} (commuters, business) and ``CHOICE != 0``: 6,768 rows;
* ``SM_COST = SM_CO * (GA == 0)``, ``TRAIN_COST = TRAIN_CO * (GA == 0)`` (GA holders pay
  nothing at the margin);
* availability: train ``TRAIN_AV * (SP != 0)``, Swissmetro ``SM_AV``, car ``CAR_AV * (SP != 0)``;
* utilities, times and costs divided by 100, Swissmetro constant fixed at 0::

      V_train = ASC_TRAIN + B_TIME * TRAIN_TT / 100 + B_COST * TRAIN_COST / 100
      V_sm    = ASC_SM    + B_TIME * SM_TT / 100    + B_COST * SM_COST / 100
      V_car   = ASC_CAR   + B_TIME * CAR_TT / 100   + B_COST * CAR_CO / 100

Each row is an independent observation; Biogeme's "robust" SEs are the sandwich estimator
(``cov_type="robust"``). The data are not shipped with choicekit: pass the directory holding
``swissmetro.dat`` (or set ``CHOICEKIT_DATA``)::

    python examples/replications/swissmetro_b01logit.py --data-dir ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import choicekit as ck

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _published as pub  # noqa: E402

B, V = ck.Beta, ck.Var


def biogeme_sample(df: pd.DataFrame) -> pd.DataFrame:
    """Biogeme's filters and new variables (a new frame; ``df`` is not changed)."""
    keep = df["PURPOSE"].isin([1, 3]) & (df["CHOICE"] != 0)
    out = df.loc[keep]
    return out.assign(
        SM_COST=out["SM_CO"] * (out["GA"] == 0),
        TRAIN_COST=out["TRAIN_CO"] * (out["GA"] == 0),
        TRAIN_AV_SP=out["TRAIN_AV"] * (out["SP"] != 0),
        CAR_AV_SP=out["CAR_AV"] * (out["SP"] != 0),
    )


def load_data(path: str | Path | None = None) -> ck.ChoiceData:
    """Swissmetro, Biogeme sample, as ChoiceData (wide layout)."""
    df = biogeme_sample(ck.datasets.load_swissmetro(path))
    return ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "sm", 3: "car"},
        availability={"train": "TRAIN_AV_SP", "sm": "SM_AV", "car": "CAR_AV_SP"},
    )


def utilities(scale: float = 100.0) -> dict[str, object]:
    """The b01logit utilities with times and costs divided by ``scale``."""
    return {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / scale
        + B("B_COST") * V("TRAIN_COST") / scale,
        "sm": B("ASC_SM", 0.0, fixed=True) + B("B_TIME") * V("SM_TT") / scale
        + B("B_COST") * V("SM_COST") / scale,
        "car": B("ASC_CAR") + B("B_TIME") * V("CAR_TT") / scale
        + B("B_COST") * V("CAR_CO") / scale,
    }


def fit_models(path: str | Path | None = None) -> dict[str, pub.Replication]:
    """Fit b01logit (scaled) and larch's unscaled variant; ``{reference stem: Replication}``."""
    data = load_data(path)
    out: dict[str, pub.Replication] = {}
    names = {k: k for k in ("ASC_CAR", "ASC_TRAIN", "B_COST", "B_TIME")}
    for name, scale in [("biogeme_b01logit_swissmetro", 100.0),
                        ("larch_swissmetro01logit", 1.0)]:
        res = ck.MNL(data, utilities(scale)).fit()
        ref = pub.load_reference(name)
        robust = res.with_cov("robust")
        if name in pub.FULL_PRECISION:
            rtol = pub.FULL_PRECISION[name]["rtol"]
            derived = {f"robust std err {k}": (v, float(robust.bse[k]), rtol * v)
                       for k, v in ref["robust_std_errors"].items()}
        else:
            sig = pub.MIN_SIGNIFICANT[name]
            derived = {f"robust std err {k}": (v, float(robust.bse[k]),
                                               pub.derived_tol(v, sig, 1e-3 * v))
                       for k, v in ref["robust_std_errors"].items()}
        if ref.get("null_loglik") is not None:
            derived["null log-likelihood"] = (ref["null_loglik"], res.llnull,
                                              pub.derived_tol(ref["null_loglik"]))
        if ref.get("n_obs") is not None:
            derived["n_obs"] = (ref["n_obs"], res.nobs, 0.0)
        out[name] = pub.Replication(name, res, names, derived)
    return out


def main(argv: list[str] | None = None) -> int:
    fits = fit_models(pub.data_dir_from_args(__doc__, "swissmetro.dat", argv))
    return pub.report(fits, fits["biogeme_b01logit_swissmetro"].result.with_cov("robust"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
