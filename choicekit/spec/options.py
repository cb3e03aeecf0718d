"""Type and value checks of the ``[data]`` and ``[estimation]`` keys of a spec file.

:func:`choicekit.spec.specfile.parse_spec` calls these, so that a bad option is refused with
a message naming its key before any data are read (``sep = ""`` used to reach pandas and come
back as its own error, ``maxiter = "many"`` reached the optimizer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from choicekit._validation import suggest
from choicekit.exceptions import SpecificationError
from choicekit.inference.covariance import COV_TYPES

__all__ = ["ESTIMATION_METHODS", "check_data_options", "check_estimation_options"]

#: the ``method`` values of ``MNL.fit`` (tests/test_hostile_input.py checks they agree)
ESTIMATION_METHODS = ("auto", "newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr", "bhhh")
_COLUMN_KEYS = ("choice", "case", "alt", "availability", "weight", "group")


def _got(value: Any) -> str:
    return f"got {type(value).__name__} {value!r}"


def _column(value: Any, where: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SpecificationError(f"{where} must be a column name in quotes ({what}), "
                                 f"{_got(value)}.")


def _expression(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (
            isinstance(value, str) and not value.strip()):
        raise SpecificationError(f"{where} must be an expression in quotes, e.g. "
                                 f"\"TRAIN_AV * (SP != 0)\", {_got(value)}.")


def check_data_options(data: Mapping[str, Any], source: str) -> None:
    """Refuse a ``[data]`` key of the wrong type or value, naming it."""
    what = {"choice": "the chosen alternative", "case": "the case id",
            "alt": "the alternative of each row", "availability": "0/1 availability",
            "weight": "case weights", "group": "the decision maker (panel)"}
    for key in _COLUMN_KEYS:
        if key in data:
            _column(data[key], f"{source}: [data] {key}", what[key])
    for key in ("filter", "drop_cases"):
        if key in data:
            _expression(data[key], f"{source}: [data] {key}")
    for key, allowed, what in (
            ("invalid", ("raise", "drop"), "cases with invalid data (no or several choices, "
             "bad availability, weights or groups)"),
            ("missing", ("raise", "drop"), "cases with missing or non-numeric values in the "
             "variables the utilities use"),
            ("weight_type", ("sampling", "frequency"), "what the weights mean")):
        if key in data and data[key] not in allowed:
            value = data[key]
            hint = suggest(value, list(allowed)) if isinstance(value, str) else ""
            raise SpecificationError(f"{source}: [data] {key} ({what}) must be one of "
                                     f"{', '.join(repr(a) for a in allowed)}, {_got(value)}."
                                     f"{hint}")
    if "weight_type" in data and "weight" not in data:
        raise SpecificationError(f"{source}: [data] weight_type says what the weights mean, "
                                 "but [data] names no weight column (weight = \"column\").")
    if "sep" in data:
        sep = data["sep"]
        if not isinstance(sep, str) or sep == "":
            raise SpecificationError(
                f"{source}: [data] sep must be the field separator as a non-empty string, e.g. "
                f"sep = \",\" or sep = \"\\t\" (tab), {_got(sep)}.")
        if sep in ('"', "\n", "\r"):
            raise SpecificationError(f"{source}: [data] sep cannot be {sep!r} (a quote or a "
                                     "line break); use e.g. \",\", \";\" or \"\\t\".")
    alts = data.get("alternatives")
    if alts is not None:
        if not isinstance(alts, Mapping) or not alts:
            raise SpecificationError(f"{source}: [data.alternatives] must be a table of "
                                     f"code = \"name\" lines, {_got(alts)}.")
        names = list(alts.values())
        for code, name in alts.items():
            if not isinstance(name, str) or not name.strip():
                raise SpecificationError(
                    f"{source}: [data.alternatives] {code} must be an alternative name in "
                    f"quotes, e.g. {code} = \"train\", {_got(name)}.")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecificationError(f"{source}: [data.alternatives] gives the name {dup[0]!r} "
                                     "to several codes; each alternative needs its own name.")
    gathered = data.get("variables")
    if gathered is not None:
        ok = isinstance(gathered, Mapping) and all(
            isinstance(m, Mapping) and all(isinstance(c, str) for c in m.values())
            for m in gathered.values())
        if not ok:
            raise SpecificationError(
                f"{source}: [data.variables] must map each variable to a table "
                "{ alternative = \"column\" }, e.g. time = { train = \"TRAIN_TT\", car = "
                f"\"CAR_TT\" }}, {_got(gathered)}.")


def check_estimation_options(est: Mapping[str, Any], source: str) -> None:
    """Refuse an ``[estimation]`` key of the wrong type or value, naming it."""
    where = f"{source}: [estimation]"
    for key, allowed in (("cov_type", COV_TYPES), ("method", ESTIMATION_METHODS)):
        if key in est and est[key] not in allowed:
            value = est[key]
            hint = suggest(value, list(allowed)) if isinstance(value, str) else ""
            raise SpecificationError(f"{where} {key} must be one of "
                                     f"{', '.join(repr(a) for a in allowed)}, {_got(value)}."
                                     f"{hint}")
    if "maxiter" in est:
        value = est["maxiter"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SpecificationError(f"{where} maxiter must be a positive whole number (e.g. "
                                     f"maxiter = 500), {_got(value)}.")
    if "gtol" in est:
        value = est["gtol"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):
            raise SpecificationError(f"{where} gtol must be a positive number (e.g. gtol = "
                                     f"1e-8), {_got(value)}.")
    if "groups" in est:
        _column(est["groups"], f"{where} groups", "the clusters of cov_type = \"cluster\"")
