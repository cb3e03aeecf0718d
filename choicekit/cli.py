"""Command-line interface: ``choicekit demo`` and ``choicekit fit DATA --spec SPEC.toml``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import choicekit as ck
from choicekit.exceptions import ChoiceKitError, ChoiceKitWarning
from choicekit.spec.specfile import fit_spec, load_spec, read_data

__all__ = ["main", "demo", "fit_command", "check_outputs", "write_atomic", "results_to_dict",
           "results_table"]

_FIT_EPILOG = """\
SPEC is a small TOML file: the data layout, the alternatives and their availability, optional
row filter and derived variables, and the utilities (expressions) or a formula. Example
(examples/specs/swissmetro_b01logit.toml):

  [data]
  layout = "wide"
  choice = "CHOICE"
  filter = "PURPOSE in (1, 3) and CHOICE != 0"
  [data.alternatives]
  1 = "train"
  2 = "sm"
  3 = "car"
  [availability]
  train = "TRAIN_AV * (SP != 0)"
  sm = "SM_AV"
  car = "CAR_AV * (SP != 0)"
  [variables]
  TRAIN_COST = "TRAIN_CO * (GA == 0)"
  SM_COST = "SM_CO * (GA == 0)"
  [parameters]
  ASC_TRAIN = 0.0
  ASC_SM = { value = 0.0, fixed = true }
  ASC_CAR = 0.0
  B_TIME = 0.0
  B_COST = 0.0
  [utilities]
  train = "ASC_TRAIN + B_TIME * TRAIN_TT / 100 + B_COST * TRAIN_COST / 100"
  sm = "ASC_SM + B_TIME * SM_TT / 100 + B_COST * SM_COST / 100"
  car = "ASC_CAR + B_TIME * CAR_TT / 100 + B_COST * CAR_CO / 100"
  [estimation]
  cov_type = "classical"      # or "robust", "opg", "cluster" (with [data] group)

Instead of [parameters] + [utilities], a formula:  formula = "choice ~ cost + time | income"
(with `reference = "car"` in a [formula] table to pick the base alternative).
More [data] keys: drop_cases = "condition" (whole cases), invalid = "drop", missing = "drop",
weight = "column" with weight_type = "sampling" or "frequency".
Expressions allow column names, numbers, + - * / **, comparisons, and/or/not, `x in (1, 3)`
and log/exp/abs; they are interpreted, never evaluated as Python code.
See docs/cli.md for the full format.

Exit status: 0 on success, 1 if the estimation did not converge, 2 for bad input (including
an output path that is an input file or cannot be written). Outputs are checked before the fit
and written atomically; they never overwrite the data or the spec.
"""


def demo() -> str:
    """Fit the bundled simulated mode-choice data and return the summary text.

    The data were simulated by ``data/make_simulated_modechoice.py`` from a known logit model;
    the summary is followed by the true parameters, so the recovery can be judged by eye.
    """
    data = ck.datasets.simulated_modechoice_choicedata()  # wide, availability, group=person
    meta = ck.datasets.load_simulated_modechoice_metadata()
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
        f"({data.n_cases} choices by {data.group.nunique()} persons; standard errors "
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


def results_to_dict(res: Any) -> dict[str, Any]:
    """A JSON-ready dict of fitted results (NaN becomes ``None``)."""

    def num(x: Any) -> float | None:
        x = float(x)
        return x if math.isfinite(x) else None

    def series(s: Any) -> dict[str, float | None]:
        return {str(k): num(v) for k, v in s.items()}

    cov = res.cov_params()
    return {
        "model": "multinomial logit",
        "n_cases": int(res.nobs),
        "n_parameters_estimated": int(res.df_model),
        "converged": bool(res.converged),
        "cov_type": str(res.cov_type),
        "loglik": num(res.llf),
        "null_loglik": num(res.llnull),
        "rho_squared": num(res.rho_squared),
        "rho_squared_adj": num(res.rho_squared_adj),
        "aic": num(res.aic),
        "bic": num(res.bic),
        "params": series(res.params),
        "std_errors": series(res.bse),
        "t_values": series(res.tvalues),
        "p_values": series(res.pvalues),
        "fixed": {str(k): bool(v) for k, v in res.fixed.items()},
        "cov_params": {str(r): series(cov.loc[r]) for r in cov.index},
    }


def results_table(res: Any) -> Any:
    """One row per parameter: estimate, std err, t, p, confidence bounds, fixed."""
    import pandas as pd

    ci = res.conf_int()
    return pd.DataFrame({
        "estimate": res.params, "std_err": res.bse, "t": res.tvalues, "p": res.pvalues,
        "ci_lower": ci["lower"], "ci_upper": ci["upper"], "fixed": res.fixed,
    }).rename_axis("parameter")


class _OutputPathError(ValueError):
    """An output path that cannot or must not be written (``choicekit fit`` exits with 2)."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # also hard links and different spellings of one path
    except OSError:
        return a.resolve() == b.resolve()


def check_outputs(outputs: dict[str, str | None], inputs: dict[str, str]) -> dict[str, Path]:
    """Check the output paths before anything is computed.

    Refuses an output that is the same file as an input (or as another output), that is a
    directory, or whose folder does not exist or is not writable.

    Parameters
    ----------
    outputs : dict
        ``{option name: path or None}``, e.g. ``{"--json": "res.json"}``.
    inputs : dict
        ``{what: path}``, e.g. ``{"the data file": "swissmetro.dat"}``.

    Returns
    -------
    dict
        ``{option name: Path}`` of the outputs given.
    """
    checked: dict[str, Path] = {}
    for option, raw in outputs.items():
        if raw is None:
            continue
        path = Path(raw)
        for what, other in inputs.items():
            if _same_file(path, Path(other)):
                raise _OutputPathError(f"{option} {raw}: that is {what}; choicekit never writes "
                                       "over its inputs. Choose another output file.")
        for other_option, other in checked.items():
            if _same_file(path, other):
                raise _OutputPathError(f"{option} and {other_option} name the same file "
                                       f"{raw!r}; give each its own file.")
        if path.is_dir():
            example = path / ("results.json" if "json" in option else "results.csv")
            raise _OutputPathError(f"{option} {raw}: is a directory; give a file name, e.g. "
                                   f"{example}.")
        folder = path.parent
        if not folder.is_dir():
            raise _OutputPathError(f"{option} {raw}: the folder {str(folder)!r} does not exist; "
                                   "create it first.")
        if not os.access(folder, os.W_OK | os.X_OK) or (path.exists()
                                                        and not os.access(path, os.W_OK)):
            raise _OutputPathError(f"{option} {raw}: cannot write there (permission denied); "
                                   "choose a writable location.")
        checked[option] = path
    return checked


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    that an interrupted run leaves the previous file whole (or no file), never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:  # keep the mode of the file replaced; a new file gets the usual 0666 & ~umask
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fit_command(data: str, spec: str, json_out: str | None = None,
                csv_out: str | None = None) -> tuple[Any, str]:
    """Fit the model of a spec file on a data file; write JSON/CSV if asked.

    The output paths are checked before the fit (never an input file, an existing writable
    folder) and written atomically (a temporary file, then a rename).

    Returns
    -------
    (MNLResults, str)
        The results and the summary text.
    """
    outputs = check_outputs({"--json": json_out, "--csv": csv_out},
                            {"the data file": data, "the spec file": spec})
    model_spec = load_spec(spec)
    frame = read_data(data, model_spec.data.get("sep"))
    res = fit_spec(model_spec, frame)
    if "--json" in outputs:
        write_atomic(outputs["--json"], json.dumps(results_to_dict(res), indent=2) + "\n")
    if "--csv" in outputs:
        write_atomic(outputs["--csv"], results_table(res).to_csv())
    return res, str(res.summary())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``choicekit`` console script."""
    parser = argparse.ArgumentParser(
        prog="choicekit",
        description="Discrete-choice (multinomial logit) modeling from pandas.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="fit a model on bundled simulated data and print its summary")
    fit = sub.add_parser(
        "fit", help="fit a multinomial logit described by a TOML spec file to a data file",
        description="Fit a multinomial logit described by a TOML spec file to a data file and "
        "print its summary.",
        epilog=_FIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("data", metavar="DATA",
                     help="data file: CSV (comma-separated), or tab-separated if it ends in "
                     ".dat, .tsv or .txt (override with `sep` in [data]), or parquet (.parquet, "
                     ".pq; needs pyarrow)")
    fit.add_argument("--spec", required=True, metavar="SPEC.toml",
                     help="TOML file describing the data layout and the model (see below)")
    fit.add_argument("--json", metavar="OUT", dest="json_out",
                     help="also write the results (estimates, SEs, covariance, fit "
                     "statistics) as JSON to OUT")
    fit.add_argument("--csv", metavar="OUT", dest="csv_out",
                     help="also write the table of estimates as CSV to OUT")
    fit.add_argument("--quiet", action="store_true", help="do not print the summary")
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(demo())
        return 0
    if args.command == "fit":
        return _run_fit(args)
    parser.print_help()
    return 2


def _run_fit(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ChoiceKitWarning)
        try:
            res, text = fit_command(args.data, args.spec, args.json_out, args.csv_out)
        except (ChoiceKitError, _OutputPathError, OSError) as err:
            print(f"choicekit fit: error: {err}", file=sys.stderr)
            return 2
    for w in caught:
        print(f"choicekit fit: warning: {w.message}", file=sys.stderr)
    if not args.quiet:
        print(text)
    return 0 if res.converged else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
