"""Results that persist: a fit as a JSON document, and back.

:meth:`Results.to_dict <choicekit.results.results.ResultsBase.to_dict>` keeps what a fit is:
the estimates (with the fixed mask and bounds), the covariance matrices (the fit's own and the
classical, robust and OPG ones; the cluster one when it was the fit's), the optimizer's
outcome (score, Hessian, convergence), the fit statistics, the specification (every utility
as an expression tree and as text, every parameter's settings, the nests) and the software
versions. :meth:`~choicekit.results.results.ResultsBase.save` writes it as JSON;
:func:`load_results` reads it back:

* without data, into a :class:`StoredResults`: estimates, standard errors, intervals, fit
  statistics, the summary and ``ck.compare`` tables, the stored covariance variants;
* with ``data=`` (the estimation data), into a full :class:`~choicekit.results.results.
  Results` with its model rebuilt from the stored specification, so that every
  post-estimation method works. The stored log-likelihood is checked against the data.

Numbers are written with Python's shortest round-trip ``repr``, so a save/load cycle gives
the same floats bit for bit; non-finite numbers (infinite bounds, NaN) are the strings
``"inf"``, ``"-inf"`` and ``"nan"``, so the file is strict JSON. Pickling (of models and
results, caches dropped) is the other way to move a fit between processes.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import platform
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from choicekit._validation import python_scalar
from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.results.results import Results, ResultsBase, _FitCore, _param_index
from choicekit.spec.expressions import Beta, Expr, Utility, Var, _BinOp, _Const, _Func

if TYPE_CHECKING:
    from choicekit.data.choicedata import ChoiceData

__all__ = ["FORMAT", "FORMAT_VERSION", "StoredResults", "results_to_dict", "results_from_dict",
           "save_results", "load_results"]

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


def _unnum(x: Any) -> float:
    return float(x)  # float("inf"), float("nan") read the strings


def _vec(a: Any) -> list[float | str]:
    return [_num(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def _mat(a: Any) -> list[list[float | str]]:
    return [_vec(row) for row in np.asarray(a, dtype=np.float64)]


def _unvec(v: list) -> np.ndarray:
    return np.array([_unnum(x) for x in v], dtype=np.float64)


def _unmat(m: list, k: int) -> np.ndarray:
    return np.array([[_unnum(x) for x in row] for row in m],
                    dtype=np.float64).reshape(k, k)


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


def _unexpr(d: Any) -> Expr:
    if "var" in d:
        return Var(d["var"])
    if "const" in d:
        return _Const(_unnum(d["const"]))
    if "op" in d:
        return _BinOp(d["op"], _unexpr(d["left"]), _unexpr(d["right"]))
    if "fn" in d:
        return _Func(d["fn"], _unexpr(d["arg"]))
    raise SpecificationError(f"Unknown expression node {d!r} in a saved specification.")


def _utility(u: Utility) -> dict[str, Any]:
    return {"terms": [[name, _expr(m)] for name, (_, m) in u.terms.items()],
            "offset": None if u.offset is None else _expr(u.offset)}


def _unutility(d: dict[str, Any], betas: dict[str, Beta]) -> Utility:
    terms = {name: (betas[name], _unexpr(m)) for name, m in d["terms"]}
    return Utility(terms, None if d["offset"] is None else _unexpr(d["offset"]))


def _nest(n: Any, betas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from choicekit.spec.nests import Nest

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


def _unnest(d: dict[str, Any], betas: dict[str, Beta], alts: dict[Any, Hashable]) -> Any:
    from choicekit.spec.nests import Nest

    par = d["parameter"]
    par = betas[par] if isinstance(par, str) and par in betas else _unnum(par)
    if "allocations" in d:
        members: Any = {}
        for a in d["allocations"]:
            const, coef = _unnum(a["const"]), _unnum(a["coef"])
            if a["beta"] is None:
                members[alts[a["alternative"]]] = const
            else:
                b = betas[a["beta"]]
                members[alts[a["alternative"]]] = (
                    b if (const, coef) == (0.0, 1.0) else const + _Const(coef) * b)
    else:
        members = [_unnest(m["nest"], betas, alts) if "nest" in m else alts[m["alternative"]]
                   for m in d["members"]]
    return Nest(d["name"], members, **{d["kind"]: par})


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
    from choicekit import __version__

    return {"choicekit": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__}


def results_to_dict(res: ResultsBase) -> dict[str, Any]:
    """A JSON-ready dict of a fit (see the module docstring); a :class:`StoredResults` gives
    its own document back (with its covariance type)."""
    if isinstance(res, StoredResults):
        out = copy.deepcopy(res._doc)
        out["cov_type"] = res.cov_type
        return out
    if not isinstance(res, Results):
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


def results_from_dict(doc: dict[str, Any], data: ChoiceData | None = None
                      ) -> StoredResults | Results:
    """A results object from :func:`results_to_dict`'s document: a :class:`StoredResults`
    without ``data``, a full :class:`~choicekit.results.results.Results` with it."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SpecificationError("This is not a saved choicekit fit (no \"format\": "
                                 f"{FORMAT!r} entry).")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SpecificationError(
            f"This fit was saved in format version {version!r} (by choicekit "
            f"{doc.get('software', {}).get('choicekit', '?')}); this choicekit reads versions "
            f"up to {FORMAT_VERSION}. Upgrade choicekit to load it.")
    stored = StoredResults(doc)
    return stored if data is None else stored.with_data(data)


def save_results(res: ResultsBase, path: str | os.PathLike[str]) -> None:
    """Write ``res.to_dict()`` to ``path`` as JSON (UTF-8)."""
    text = json.dumps(results_to_dict(res), indent=1, allow_nan=False)
    with open(os.fspath(path), "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


def load_results(path: str | os.PathLike[str] | dict[str, Any],
                 data: ChoiceData | None = None) -> StoredResults | Results:
    """Read a fit written by :meth:`Results.save <choicekit.Results.save>`.

    Parameters
    ----------
    path : str, path or dict
        The JSON file (or an already-parsed :meth:`~choicekit.Results.to_dict` document).
    data : ChoiceData, optional
        The estimation data. With them the model is rebuilt from the stored specification
        and a full results object comes back (post-estimation, ``with_cov`` of any type);
        the stored log-likelihood must be reproduced by the data.

    Returns
    -------
    StoredResults or Results
        Without data: estimates, covariances, statistics and the summary, no post-estimation.
    """
    if isinstance(path, dict):
        return results_from_dict(path, data)
    with open(os.fspath(path), encoding="utf-8") as fh:
        try:
            doc = json.load(fh)
        except json.JSONDecodeError as err:
            raise SpecificationError(f"{os.fspath(path)} is not a saved choicekit fit (not "
                                     f"JSON: {err}).") from None
    return results_from_dict(doc, data)


# ------------------------------------------------------------------------- stored results
_NEEDS_DATA = (
    "{what} needs the estimation data: load with ck.load_results(path, data=data) or call "
    "res.with_data(data).")


class StoredResults(ResultsBase):
    """A saved fit loaded without its data: estimates, the stored covariances, the fit
    statistics and the summary (``ck.compare`` takes it like any results object).

    Post-estimation needs the model and data: :meth:`with_data` rebuilds them into a full
    :class:`~choicekit.results.results.Results`.
    """

    def __init__(self, doc: dict[str, Any], cov_type: str | None = None) -> None:
        self._doc = doc
        p = doc["parameters"]
        names = tuple(p["names"])
        self._names = names
        self._index = _param_index(names)
        self._free = ~np.array(p["fixed"], dtype=bool)
        self._params = _unvec(p["estimates"])
        self._lower, self._upper = _unvec(p["lower"]), _unvec(p["upper"])
        self._cov_type = doc["cov_type"] if cov_type is None else cov_type
        k = int(self._free.sum())
        covs = doc["covariances"]
        if self._cov_type not in covs:
            raise SpecificationError(
                f"The saved fit has {sorted(covs)} covariances, not {self._cov_type!r}; "
                + _NEEDS_DATA.format(what="Another covariance"))
        self._cov_free = _unmat(covs[self._cov_type], k)
        groups = doc.get("cluster_groups")
        self._n_clusters = (None if self._cov_type != "cluster" or not groups
                            else max(groups) + 1)
        self._stats = doc["statistics"]
        self._opt = doc["optimizer"]

    # ------------------------------------------------------------------ primitives
    @property
    def params(self) -> pd.Series:
        """Estimates (fixed parameters at their values)."""
        return pd.Series(self._params.copy(), index=self._index, name="params")

    @property
    def param_names(self) -> list[str]:
        return list(self._names)

    @property
    def bounds(self) -> pd.DataFrame:
        return pd.DataFrame({"lower": self._lower, "upper": self._upper}, index=self._index)

    @property
    def cov_type(self) -> str:
        return self._cov_type

    @property
    def n_clusters(self) -> int | None:
        return self._n_clusters

    @property
    def weight_type(self) -> str | None:
        return self._doc["data"]["weight_type"]

    @property
    def llf(self) -> float:
        return _unnum(self._stats["loglike"])

    @property
    def llnull(self) -> float:
        return _unnum(self._stats["loglike_null"])

    @property
    def nobs(self) -> int:
        return int(self._stats["nobs"])

    @property
    def _bic_n(self) -> float:
        return _unnum(self._stats["bic_n"])

    @property
    def _nest_parameters(self) -> list[str]:
        return list(self._doc["parameters"]["nest_parameters"])

    @property
    def _n_alternatives(self) -> int:
        return int(self._doc["data"]["n_alternatives"])

    @property
    def _n_dropped(self) -> int:
        return int(self._doc["data"]["n_dropped"])

    @property
    def _weight_type_inferred(self) -> bool:
        return bool(self._doc["data"]["weight_type_inferred"])

    @property
    def _weight_total(self) -> float:
        return _unnum(self._doc["data"]["weight_total"])

    @property
    def family_name(self) -> str:
        return str(self._doc["family"])

    @property
    def converged(self) -> bool:
        return bool(self._opt["converged"])

    @property
    def iterations(self) -> int:
        return int(self._opt["iterations"])

    @property
    def message(self) -> str:
        return str(self._opt["message"])

    @property
    def method(self) -> str:
        return str(self._opt["method"])

    @property
    def gradient_norm(self) -> float:
        return _unnum(self._opt["gradient_norm"])

    @property
    def score(self) -> pd.Series:
        names = list(np.asarray(self._names)[self._free])
        return pd.Series(_unvec(self._opt["score"]), index=names, name="score")

    @property
    def specification(self) -> dict[str, Any]:
        """The stored specification (utilities as text under ``"text"``, nests, options)."""
        return copy.deepcopy(self._doc["specification"])

    @property
    def software(self) -> dict[str, str]:
        """Versions of choicekit, Python, NumPy and pandas that made the fit."""
        return dict(self._doc["software"])

    @property
    def covariance_types(self) -> list[str]:
        """The covariance types stored (``with_cov`` gives these without the data)."""
        return list(self._doc["covariances"])

    def with_cov(self, cov_type: str, **kwargs: Any) -> StoredResults:
        """The same estimates with another stored covariance (see :attr:`covariance_types`);
        others need the data (:meth:`with_data`)."""
        if kwargs:
            raise SpecificationError(_NEEDS_DATA.format(
                what=f"with_cov(..., {', '.join(kwargs)}=)"))
        return StoredResults(self._doc, cov_type)

    @property
    def model(self) -> Any:
        raise SpecificationError(_NEEDS_DATA.format(what="The model"))

    # ------------------------------------------------------------------ back to a fit
    def with_data(self, data: ChoiceData) -> Results:
        """A full results object on ``data`` (the estimation data): the model rebuilt from
        the stored specification, the stored estimates, optimizer outcome and covariance.

        Raises
        ------
        ChoiceDataError
            When the data do not match the fit (alternatives, cases, or the log-likelihood at
            the estimates).
        """
        from choicekit.data.choicedata import ChoiceData
        from choicekit.estimation.objective import Objective
        from choicekit.estimation.optimizers import Optimum

        if not isinstance(data, ChoiceData):
            raise ChoiceDataError(f"`data` must be a ChoiceData. Got {type(data).__name__}.")
        spec = self._doc["specification"]
        labels = [_label(a) for a in data.alternatives]
        if labels != spec["alternatives"]:
            raise ChoiceDataError(
                f"The data have alternatives {labels}; the saved fit has "
                f"{spec['alternatives']}. Load it with the estimation data.")
        if spec.get("unsaved_options"):
            raise SpecificationError(
                f"The saved {spec['model']} model had options {spec['unsaved_options']} that "
                "could not be saved; it cannot be rebuilt.")
        alts = dict(zip(labels, data.alternatives))
        betas = {b["name"]: Beta(b["name"], _unnum(b["value"]), fixed=b["fixed"],
                                 lower=_unnum(b["lower"]), upper=_unnum(b["upper"]))
                 for b in spec["parameters"]}
        utilities = {alts[u["alternative"]]: _unutility(u, betas) for u in spec["utilities"]}
        options = dict(spec["options"])
        if spec["nests"] is not None:
            options["nests"] = [_unnest(n, betas, alts) for n in spec["nests"]]
        model = _model_class(spec)(data, utilities, missing=spec["missing"],
                                   _param_order=spec["param_order"], **options)
        if tuple(model.param_names) != self._names:
            raise SpecificationError(
                f"The rebuilt model has parameters {model.param_names}; the saved fit has "
                f"{list(self._names)}.")
        if model.n_cases != self.nobs:
            raise ChoiceDataError(
                f"The data give {model.n_cases} estimation cases; the saved fit has "
                f"{self.nobs}. Load it with the estimation data.")
        params = self._params.copy()
        family = model.family()
        obj = Objective(family, params)
        if not np.array_equal(obj.free, self._free):
            raise SpecificationError("The rebuilt model fixes other parameters than the saved "
                                     "fit.")
        theta = params[self._free]
        ll = obj.evaluate(theta, order=0)[0]
        if not math.isclose(ll, self.llf, rel_tol=1e-9, abs_tol=1e-9):
            raise ChoiceDataError(
                f"The data give a log-likelihood of {ll:.10g} at the saved estimates; the "
                f"saved fit has {self.llf:.10g}. Load it with the estimation data (same "
                "cases, choices, weights and variables).")
        k = int(self._free.sum())
        opt = Optimum(theta=theta, loglike=self.llf, score=_unvec(self._opt["score"]),
                      hessian=_unmat(self._opt["hessian"], k), converged=self.converged,
                      message=self.message, iterations=self.iterations, method=self.method,
                      gradient_norm=self.gradient_norm)
        groups = self._doc.get("cluster_groups")
        codes = (np.asarray(groups, dtype=np.intp)
                 if groups is not None and self.cov_type == "cluster" else None)
        return Results(_FitCore(model, obj, opt, params), self.cov_type, self._cov_free.copy(),
                       codes)

    def __getattr__(self, name: str) -> Any:
        from choicekit.postestimation.mixin import PostEstimationMixin

        if not name.startswith("_") and hasattr(PostEstimationMixin, name):
            raise SpecificationError(_NEEDS_DATA.format(what=f"`{name}`"))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return (f"<{self.family_name}Results (stored, without data): {self.nobs} cases, "
                f"{self.df_model} estimated parameters, LL={self.llf:.4f}, "
                f"cov_type={self.cov_type!r}, converged={self.converged}>")


def _model_class(spec: dict[str, Any]) -> type:
    module = str(spec.get("model_module", ""))
    if not module.startswith("choicekit."):
        raise SpecificationError(f"The saved fit's model {module}.{spec['model']} is not a "
                                 "choicekit model; it cannot be rebuilt.")
    try:
        return getattr(importlib.import_module(module), spec["model"])
    except (ImportError, AttributeError):
        raise SpecificationError(
            f"The saved fit's model {module}.{spec['model']} is not in this choicekit "
            "version.") from None
