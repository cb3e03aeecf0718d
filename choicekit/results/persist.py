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
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from choicekit.data.choicedata import ChoiceData
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import Optimum
from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.postestimation.mixin import PostEstimationMixin
from choicekit.results.results import Results, ResultsBase, _FitCore, _param_index
from choicekit.results.serialize import (
    FORMAT,
    FORMAT_VERSION,
    _label,
    results_to_dict,
    save_results,
)
from choicekit.spec.expressions import Beta, Expr, Utility, Var, _BinOp, _Const, _Func
from choicekit.spec.nests import Nest

__all__ = ["FORMAT", "FORMAT_VERSION", "StoredResults", "results_to_dict", "results_from_dict",
           "save_results", "load_results"]






def _unnum(x: Any) -> float:
    return float(x)  # float("inf"), float("nan") read the strings






def _unvec(v: list) -> np.ndarray:
    return np.array([_unnum(x) for x in v], dtype=np.float64)


def _unmat(m: list, k: int) -> np.ndarray:
    return np.array([[_unnum(x) for x in row] for row in m],
                    dtype=np.float64).reshape(k, k)








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




def _unutility(d: dict[str, Any], betas: dict[str, Beta]) -> Utility:
    terms = {name: (betas[name], _unexpr(m)) for name, m in d["terms"]}
    return Utility(terms, None if d["offset"] is None else _unexpr(d["offset"]))




def _unnest(d: dict[str, Any], betas: dict[str, Beta], alts: dict[Any, Hashable]) -> Any:

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
