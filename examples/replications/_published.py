"""Shared by the replication scripts: published reference values and their tolerances.

The published numbers live in ``tests/reference/*.json`` (each file names its source, the
recipe and the printed precision; see ``tests/reference/README.md``). This module reads them
and turns the README's tolerance rules into numbers:

* a reproduced value must round to the published one: ``|ours - published| <= 0.5 * 10**-d``
  (``d``: decimals printed), times 1.01 for floating-point ties;
* mlogit stops Newton-Raphson with ``g'(-H)^{-1} g`` ("crit") still positive, so its printed
  estimates can be ``sqrt(crit) * SE`` away from the exact maximum: parameters get
  ``max(half last digit, sqrt(crit) * SE)``; standard errors get 1e-3 relative slack on top
  of the rounding bound, as they are evaluated at that slightly different point.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "tests" / "reference"

#: floor on the significant digits printed by each source (a JSON number loses the trailing
#: zeros of the printout, e.g. "0.30000" -> 0.3); from each file's ``digits_published``.
MIN_SIGNIFICANT = {
    "biogeme_b01logit_swissmetro": 3,
    "biogeme_b09nested_swissmetro": 3,
    "biogeme_b11cnl_swissmetro": 3,
    "greene_travelmode_table21_11": 4,
    "mlogit_fishing_conditional": 4,
    "mlogit_fishing_income_only": 5,
    "mlogit_fishing_price_catch_income": 5,
    "mlogit_fishing_price_income_catch": 5,
    "mlogit_fishing_unbalanced": 5,
    "mlogit_heating_ic_oc_noasc": 6,
    "mlogit_heating_lcc": 5,
    "mlogit_heating_asc_hp": 6,
    "mlogit_heating_asc_gr": 10,
    "mlogit_heating_ic_over_income": 5,
    "mlogit_heating_income_asv": 5,
    "mlogit_modecanada_car_train_air": 5,
    "mlogit_train_netherlands": 7,
    "mlogit_travelmode_unbalanced": 5,
    "mlogit_travelmode_wait_travel_vcost": 5,
}


#: sources printed at full precision: relative tolerance of estimates and SEs, absolute of the
#: log-likelihood (tests/reference/README.md). Their own optimizer may stop short of the
#: maximum; its slack is measured by its log-likelihood shortfall ``delta`` against ours, which
#: allows ``|d beta_k| <= sqrt(2 delta) * SE_k`` (quadratic approximation of the likelihood),
#: the same rule as mlogit's ``sqrt(crit) * SE`` with ``crit = 2 delta``.
FULL_PRECISION = {"larch_swissmetro01logit": {"rtol": 1e-5, "ll_atol": 1e-6}}


#: files that print no stopping criterion for a model that is a re-parameterisation of a fit
#: recorded in another file (``update(mc, reflevel = "gr")`` re-uses mc's convergence).
CRIT_FROM = {"mlogit_heating_asc_gr": "mlogit_heating_asc_hp"}


def load_reference(name: str) -> dict[str, Any]:
    """The published values of ``tests/reference/<name>.json``."""
    with open(REFERENCE_DIR / f"{name}.json", encoding="utf-8") as f:
        return json.load(f)


def half_last_digit(value: float, min_significant: int = 1) -> float:
    """Half a unit in the last printed digit of ``value`` (at least ``min_significant`` digits).

    >>> half_last_digit(-0.155, 3), half_last_digit(-5331.252), half_last_digit(0.3, 5)
    (0.0005, 0.0005, 5e-06)
    """
    if value == 0:
        return 0.0
    exp_last = Decimal(repr(float(value))).normalize().as_tuple().exponent
    assert isinstance(exp_last, int)
    exp_floor = math.floor(math.log10(abs(value))) - min_significant + 1
    return 0.5 * 10.0 ** min(exp_last, exp_floor)


def crit(ref: Mapping[str, Any]) -> float:
    """mlogit's printed stopping criterion ``g'(-H)^{-1} g`` (0 when not recorded), or twice a
    recorded log-likelihood shortfall of the source's optimizer (the same quadratic bound)."""
    short = ref.get("stopping_loglik_shortfall")
    if isinstance(short, Mapping):
        return 2.0 * float(short["value"])
    c = ref.get("convergence_criterion_printed")
    if isinstance(c, Mapping):
        return float(c.get("value") or 0.0)
    return float(c or 0.0)


def mlogit_name(name: str, alternatives: Iterable[Hashable]) -> str:
    """choicekit's label for an mlogit coefficient name.

    mlogit 1.0 prints ``"air:(intercept)"`` and ``"boat:income"`` (alternative first); mlogit
    1.1+ prints ``"(Intercept):train"`` and ``"income:train"``. choicekit's formula labels are
    ``"ASC:train"`` and ``"income:train"``.
    """
    alts = {str(a) for a in alternatives}
    parts = name.split(":")
    if len(parts) != 2:
        return name
    a, b = parts
    alt, var = (a, b) if a in alts and b not in alts else (b, a)
    if alt not in alts:
        return name
    if var.lower() == "(intercept)":
        var = "ASC"
    return f"{var}:{alt}"


def comparison(res: Any, ref: Mapping[str, Any], names: Mapping[str, str],
               reference_name: str) -> pd.DataFrame:
    """Ours vs published estimates and SEs, with the tolerance of each comparison.

    Parameters
    ----------
    res : MNLResults
        Our fit (its covariance type must match the published SEs).
    ref : mapping
        The reference file's content.
    names : mapping
        ``{published name: our parameter name}``.
    reference_name : str
        The file stem (for :data:`MIN_SIGNIFICANT`).

    Returns
    -------
    pandas.DataFrame
        One row per (parameter, quantity): published, ours, |difference|, tolerance, ok.
    """
    full = FULL_PRECISION.get(reference_name)
    sig = MIN_SIGNIFICANT.get(reference_name, 1)
    c = crit(load_reference(CRIT_FROM[reference_name])) if reference_name in CRIT_FROM \
        else crit(ref)
    if full is not None and ref.get("loglik") is not None:
        c = 2.0 * max(float(res.llf) - float(ref["loglik"]), 0.0)
    rows = []
    ses = ref.get("std_errors") or {}
    for pub_name, value in ref["params"].items():
        ours = float(res.params[names[pub_name]])
        # without published SEs, ours measure the same curvature
        se = ses.get(pub_name, float(res.bse[names[pub_name]]))
        tol = (full["rtol"] * abs(value) if full is not None
               else 1.01 * half_last_digit(value, sig))
        if se is not None:
            tol = max(tol, math.sqrt(c) * se)
        rows.append((pub_name, "estimate", value, ours, tol))
    for pub_name, value in ses.items():
        ours = float(res.bse[names[pub_name]])
        tol = (full["rtol"] * abs(value) if full is not None
               else 1.01 * half_last_digit(value, sig) + 1e-3 * abs(value))
        rows.append((pub_name, "std err", value, ours, tol))
    if ref.get("loglik") is not None:
        ll = float(ref["loglik"])
        tol = full["ll_atol"] if full is not None else 1.01 * half_last_digit(ll) + c / 2
        rows.append(("log-likelihood", "", ll, float(res.llf), tol))
    out = pd.DataFrame(rows, columns=["name", "quantity", "published", "ours", "tolerance"])
    out["abs diff"] = (out["ours"] - out["published"]).abs()
    out["ok"] = out["abs diff"] <= out["tolerance"]
    return out[["name", "quantity", "published", "ours", "abs diff", "tolerance", "ok"]]


def default_names(ref: Mapping[str, Any], alternatives: Iterable[Hashable],
                  overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{published name: our name}`` via :func:`mlogit_name`, with explicit overrides."""
    alts = list(alternatives)
    names = {k: mlogit_name(k, alts) for k in ref["params"]}
    names.update(overrides or {})
    return names


@dataclass(frozen=True)
class Replication:
    """One fitted model next to its published reference.

    Attributes
    ----------
    reference : str
        Stem of the ``tests/reference`` file.
    result : MNLResults
        Our fit.
    names : dict
        ``{published parameter name: our parameter name}``.
    derived : dict
        Other published quantities: ``{label: (published, ours, tolerance)}``.
    """

    reference: str
    result: Any
    names: dict[str, str]
    derived: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Every comparison of this replication (see :func:`comparison`)."""
        ref = load_reference(self.reference)
        out = comparison(self.result, ref, self.names, self.reference)
        extra = pd.DataFrame(
            [(k, "derived", p, o, abs(o - p), t, abs(o - p) <= t)
             for k, (p, o, t) in self.derived.items()], columns=out.columns)
        return pd.concat([out, extra], ignore_index=True) if len(extra) else out


def derived_tol(value: float, min_significant: int = 1, slack: float = 0.0) -> float:
    """Tolerance of a derived published quantity: half last digit (x1.01) plus ``slack``."""
    return 1.01 * half_last_digit(value, min_significant) + slack


def print_comparison(title: str, table: pd.DataFrame) -> None:
    """Print one comparison table (used by the scripts' ``main``)."""
    with pd.option_context("display.width", 120, "display.max_rows", 200,
                           "display.float_format", "{:.8g}".format):
        print(f"\n=== {title}: {int(table['ok'].sum())}/{len(table)} within tolerance ===")
        print(table.to_string(index=False))




def data_dir_from_args(doc: str | None, filename: str, argv: list[str] | None) -> str | None:
    """The scripts' command line: an optional ``--data-dir`` holding ``filename``."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help=f"directory holding {filename} (default: $CHOICEKIT_DATA)")
    return parser.parse_args(argv).data_dir


def report(fits: Mapping[str, Replication], headline: Any) -> int:
    """Print the headline summary and every comparison; 1 if any value is off, else 0."""
    print(headline.summary())
    bad = 0
    for name, rep in fits.items():
        table = rep.table()
        print_comparison(name, table)
        bad += int((~table["ok"]).sum())
    return 1 if bad else 0
