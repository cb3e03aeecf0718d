"""Command-line interface: ``choicekit demo`` (and more subcommands as they come)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "demo"]


def demo() -> str:
    """Fit the bundled simulated mode-choice data and return the summary text.

    The data were simulated by ``data/make_simulated_modechoice.py`` from a known logit model;
    the summary is followed by the true parameters, so the recovery can be judged by eye.
    """
    import choicekit as ck

    df = ck.datasets.load_simulated_modechoice()
    meta = ck.datasets.load_simulated_modechoice_metadata()
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
        group="person", case="case",
    )
    B, V = ck.Beta, ck.Var
    utilities = {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
        + B("B_COST") * V("TRAIN_COST") / 100,
        "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
        "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100,
    }
    res = ck.MNL(data, utilities).fit(cov_type="cluster")
    truth = meta["true_params"]
    lines = [
        "choicekit demo: multinomial logit on the bundled simulated mode-choice data",
        f"({data.n_cases} choices by {df['person'].nunique()} persons; standard errors "
        "clustered by person)",
        "",
        str(res.summary()),
        "",
        "True parameters of the simulation: "
        + ", ".join(f"{k} = {v:g}" for k, v in truth.items()),
        f"Value of time (B_TIME / B_COST, per hour): estimated "
        f"{60 * res.params['B_TIME'] / res.params['B_COST']:.1f}, true "
        f"{60 * truth['B_TIME'] / truth['B_COST']:.1f}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``choicekit`` console script."""
    parser = argparse.ArgumentParser(
        prog="choicekit",
        description="Discrete-choice (multinomial logit) modeling from pandas.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="fit a model on bundled simulated data and print its summary")
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(demo())
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
