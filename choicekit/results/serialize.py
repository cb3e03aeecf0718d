"""A fit as a strict JSON document: :func:`results_to_dict` and :func:`save_results`
(:meth:`Results.to_dict <choicekit.results.results.ResultsBase.to_dict>` and ``save``); reading
it back is :mod:`choicekit.results.persist`, which documents the format.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import python_scalar
from choicekit._version import __version__
from choicekit.exceptions import SpecificationError
from choicekit.spec.expressions import Beta, Expr, Utility, Var, _BinOp, _Const, _Func
from choicekit.spec.nests import Nest

__all__ = ["FORMAT", "FORMAT_VERSION", "results_to_dict", "save_results"]


#: the ``"format"`` entry of a saved fit
FORMAT = "choicekit.results"


#: version of the layout; files of a later version are refused with a message
FORMAT_VERSION = 1


#: covariance types stored for every fit (besides the fit's own)
_STORED_COVS = ("classical", "robust", "opg")


# ------------------------------------------------------------------------- numbers
def _num(x: Any) -> float | str:
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _vec(a: Any) -> list[float | str]:
    return [_num(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def _mat(a: Any) -> list[list[float | str]]:
    return [_vec(row) for row in np.asarray(a, dtype=np.float64)]


def _label(a: Hashable) -> Any:
    """An alternative label as a JSON value (str, number, bool or None)."""
    a = python_scalar(a)
    if a is None or isinstance(a, (str, bool, int)):
        return a
    if isinstance(a, float):
        return _num(a)
    return str(a)


# ------------------------------------------------------------------------- specification
def _beta(b: Beta) -> dict[str, Any]:
    return {"name": b.name, "value": _num(b.value), "fixed": b.fixed,
            "lower": _num(b.lower), "upper": _num(b.upper)}


def _expr(e: Expr) -> Any:
    if isinstance(e, Var):
        return {"var": e.name}
    if isinstance(e, _Const):
        return {"const": _num(e.value)}
    if isinstance(e, _BinOp):
        return {"op": e.op, "left": _expr(e.left), "right": _expr(e.right)}
    if isinstance(e, _Func):
        return {"fn": e.fn, "arg": _expr(e.arg)}
    raise SpecificationError(f"Cannot save the expression {e!r} ({type(e).__name__}).")


def _utility(u: Utility) -> dict[str, Any]:
    return {"terms": [[name, _expr(m)] for name, (_, m) in u.terms.items()],
            "offset": None if u.offset is None else _expr(u.offset)}


def _nest(n: Any, betas: dict[str, dict[str, Any]]) -> dict[str, Any]:

    p = n.parameter
    if p.beta is not None:
        betas.setdefault(p.beta.name, _beta(p.beta))
    out: dict[str, Any] = {"name": n.name, "kind": p.kind,
                           "parameter": p.name if p.beta is not None else _num(p.value)}
    if n.allocations is not None:
        allocs = []
        for alt, a in n.allocations.items():
            if a.beta is not None:
                betas.setdefault(a.beta.name, _beta(a.beta))
            allocs.append({"alternative": _label(alt), "const": _num(a.const),
                           "coef": _num(a.coef), "beta": None if a.beta is None else a.beta.name})
        out["allocations"] = allocs
    else:
        out["members"] = [{"nest": _nest(m, betas)} if isinstance(m, Nest)
                          else {"alternative": _label(m)} for m in n.members]
    return out


def _specification(model: Any) -> dict[str, Any]:
    spec = model.specification
    betas = {b.name: _beta(b) for b in spec.params}
    options = dict(model._options())
    nests = options.pop("nests", None)
    nest_list = None if nests is None else [_nest(n, betas) for n in nests]
    out: dict[str, Any] = {
        "model": type(model).__name__,
        "model_module": type(model).__module__,
        "family": str(model.family().name),
        "missing": model._missing,
        "alternatives": [_label(a) for a in model.data.alternatives],
        "param_order": list(spec.param_names),
        "parameters": list(betas.values()),
        "utilities": [{"alternative": _label(a), "text": repr(u), **_utility(u)}
                      for a, u in spec.utilities.items()],
        "nests": nest_list,
        "nests_text": None if nests is None else [repr(n) for n in nests],
    }
    saved, unsaved = {}, []
    for k, v in options.items():
        try:
            json.dumps(v, allow_nan=False)
            saved[k] = v
        except (TypeError, ValueError):
            unsaved.append(k)
    out["options"] = saved
    out["unsaved_options"] = unsaved
    return out


# ------------------------------------------------------------------------- to / from dict
def _versions() -> dict[str, str]:

    return {"choicekit": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__}


def results_to_dict(res: Any) -> dict[str, Any]:
    """A JSON-ready dict of a fit (see the module docstring); a :class:`StoredResults` gives
    its own document back (with its covariance type)."""
    doc = getattr(res, "_doc", None)
    if doc is not None:  # a StoredResults: its own document, with its covariance type
        out = copy.deepcopy(doc)
        out["cov_type"] = res.cov_type
        return out
    if not hasattr(res, "_core"):
        raise SpecificationError(f"Cannot save a {type(res).__name__}; fit a model first.")
    core = res._core
    covs = {res.cov_type: _mat(res._cov_free)}
    for t in _STORED_COVS:
        if t not in covs:
            covs[t] = _mat(res.with_cov(t)._cov_free)
    opt = core.optimum
    stats = {"loglike": _num(res.llf), "loglike_null": _num(res.llnull), "nobs": res.nobs,
             "df_model": res.df_model, "rho_squared": _num(res.rho_squared),
             "rho_squared_adj": _num(res.rho_squared_adj), "aic": _num(res.aic),
             "bic": _num(res.bic), "bic_n": _num(res._bic_n)}
    table = core.objective.params
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "software": _versions(),
        "family": res.family_name,
        "cov_type": res.cov_type,
        "parameters": {"names": list(res.param_names), "estimates": _vec(core.params),
                       "fixed": [bool(f) for f in ~res._free], "lower": _vec(table.lower),
                       "upper": _vec(table.upper),
                       "nest_parameters": list(res._nest_parameters)},
        "std_errors": _vec(res.bse),  # of cov_type; for readers (loading uses covariances)
        "covariances": covs,
        "cluster_groups": (None if res._groups is None
                           else [int(g) for g in np.asarray(res._groups)]),
        "statistics": stats,
        "optimizer": {"converged": res.converged, "message": res.message,
                      "iterations": int(res.iterations), "method": res.method,
                      "gradient_norm": _num(res.gradient_norm), "score": _vec(opt.score),
                      "hessian": _mat(opt.hessian)},
        "data": {"n_cases": res.nobs, "n_alternatives": res._n_alternatives,
                 "n_dropped": res._n_dropped, "weight_type": res.weight_type,
                 "weight_type_inferred": res._weight_type_inferred,
                 "weight_total": _num(res._weight_total),
                 "sampled": bool(core.model.data.is_sampled)},
        "specification": _specification(core.model),
    }


def save_results(res: Any, path: str | os.PathLike[str]) -> None:
    """Write ``res.to_dict()`` to ``path`` as JSON (UTF-8)."""
    text = json.dumps(results_to_dict(res), indent=1, allow_nan=False)
    with open(os.fspath(path), "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
