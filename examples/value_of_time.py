"""Value of travel time and the effect of a 10% train-fare rise, with standard errors.

A transport-planning workflow on choicekit's simulated Swissmetro-like mode-choice data
(``ck.datasets.load_simulated_modechoice()``: train, bus and car; 500 persons with 6 choices
each; simulated with a value of time of 80 currency units per hour):

1. estimate a multinomial logit with generic time and cost coefficients;
2. value of travel time per hour, ``60 * B_TIME / B_COST`` (utilities use minutes / 100 and
   currency / 100, so the scalings cancel), with delta-method and Fieller intervals, under the
   classical and the person-clustered covariance;
3. aggregate elasticities of the mode shares with respect to each mode's cost;
4. a scenario: train fares +10% — shares before and after, and the change in consumer surplus
   (Small-Rosen logsum rule) per trip and in total, with delta-method standard errors;
5. a Wald test of equal time and cost coefficients, and (optionally) a cluster bootstrap of
   the value of time.

Run::

    python examples/value_of_time.py [--n-cases N] [--bootstrap B] [--output-dir DIR]

Nothing is written unless ``--output-dir`` is given; then the tables go to CSV files in it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import choicekit as ck

B, V = ck.Beta, ck.Var


def build_results(n_cases: int | None = None) -> ck.MNLResults:
    """Fit the mode-choice MNL (optionally on the first ``n_cases`` choices)."""
    df = ck.datasets.load_simulated_modechoice()
    if n_cases is not None:
        df = df.iloc[:n_cases]
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"}, group="person")
    time, cost = B("B_TIME"), B("B_COST")
    model = ck.MNL(data, {
        "train": B("ASC_TRAIN") + time * V("TRAIN_TT") / 100 + cost * V("TRAIN_COST") / 100,
        "bus": B("ASC_BUS") + time * V("BUS_TT") / 100 + cost * V("BUS_COST") / 100,
        "car": time * V("CAR_TT") / 100 + cost * V("CAR_COST") / 100,
    })
    return model.fit()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the analysis; return the tables (and print them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cases", type=int, default=None,
                        help="use only the first N choices (default: all 3000)")
    parser.add_argument("--bootstrap", type=int, default=0,
                        help="cluster-bootstrap replicates of the value of time (default 0)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="write the tables as CSV files into this directory")
    args = parser.parse_args(argv)

    res = build_results(args.n_cases)
    print(res.summary())

    # value of time per hour: delta and Fieller intervals, classical and clustered by person
    vot = {}
    for cov in ("classical", "cluster"):
        r = res.with_cov(cov)
        for method in ("delta", "fieller"):
            vot[(cov, method)] = r.wtp("B_TIME", "B_COST", scale=60, method=method)
            row = vot[(cov, method)].loc["B_TIME"]
            print(f"value of time ({cov:9s}, {method:7s}): {row['wtp']:7.2f} per hour "
                  f"(se {row['se']:.2f}), 95% CI [{row['lower']:.2f}, {row['upper']:.2f}]")

    # aggregate elasticities of the shares with respect to each mode's cost
    elast = res.elasticities({"train": "TRAIN_COST", "bus": "BUS_COST", "car": "CAR_COST"})
    print("\nAggregate cost elasticities (row: cost of; column: share of)")
    print(elast.estimate.round(3))
    print("standard errors")
    print(elast.se.round(3))

    # the scenario: train fares +10%
    sc = res.scenario({"TRAIN_COST": 1.10}, cost="B_COST", cost_scale=0.01)
    print("\nTrain fare +10%: shares")
    print(sc.shares.round(4))
    print("consumer surplus change (currency units; mean per trip and total over the sample)")
    print(sc.surplus.round(3))

    wald = res.wald_test("B_TIME = B_COST")
    print(f"\n{wald}")

    out: dict[str, Any] = {"results": res, "vot": vot, "elasticities": elast, "scenario": sc,
                           "wald": wald}
    if args.bootstrap:
        boot = res.bootstrap(args.bootstrap, cluster=True, rng=2026,
                             func=lambda r: r.wtp("B_TIME", "B_COST", scale=60)["wtp"])
        ci = boot.conf_int(of="statistics").loc["B_TIME"]
        print(f"cluster bootstrap ({boot.n_boot} replicates): value of time se "
              f"{boot.se('statistics')['B_TIME']:.2f}, 95% percentile CI "
              f"[{ci['lower']:.2f}, {ci['upper']:.2f}]")
        out["bootstrap"] = boot

    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        vot[("classical", "delta")].to_csv(args.output_dir / "value_of_time.csv")
        elast.frame().to_csv(args.output_dir / "cost_elasticities.csv")
        sc.shares.to_csv(args.output_dir / "fare_scenario_shares.csv")
        sc.surplus.to_csv(args.output_dir / "fare_scenario_surplus.csv")
    return out


if __name__ == "__main__":
    main()
