"""What every model does, written once: data + specification -> design -> family -> fit.

:class:`ChoiceModel` orchestrates; the numbers happen in the family (:mod:`choicekit.families`),
the objective and optimizers (:mod:`choicekit.estimation`) and the covariance estimators
(:mod:`choicekit.inference`). A model is immutable: fitting returns a new
:class:`~choicekit.results.results.Results` and never changes the model. A concrete model
(:class:`~choicekit.models.mnl.MNL`, :class:`~choicekit.models.nested.NestedLogit`, ...) says
which family it builds and which parameters the family adds to the utilities' ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from choicekit._random import as_generator
from choicekit._state import state_without_caches
from choicekit._validation import check_int, check_option, suggest
from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData
from choicekit.data.dask import DaskChoiceData
from choicekit.design.build import MISSING_POLICIES, build_design
from choicekit.design.linear import Design
from choicekit.estimation.dask import DaskDesign, DaskFamily
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import (
    METHODS,
    Optimum,
    check_negative_definite,
    maximize_loglike,
    polish_active_set,
)
from choicekit.exceptions import ChoiceDataError, ConvergenceWarning, SpecificationError
from choicekit.families.mixed.structure import uses_draws
from choicekit.families.protocol import ParamTable, family_proba
from choicekit.inference.covariance import COV_TYPES
from choicekit.postestimation.dask import predict_proba as dask_predict_proba
from choicekit.results.results import Results
from choicekit.simulation.choices import refuse_dropped_cases, simulate_choices, simulate_counts
from choicekit.spec.expressions import Specification
from choicekit.spec.formula import utilities_from_formula

__all__ = ["ChoiceModel"]

Method = Literal["auto", "newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr", "bhhh"]


class ChoiceModel:
    """Base of every model: a family on the linear design of some utilities.

    Subclasses set :attr:`family_class`, and may add family parameters
    (:meth:`_family_params`) and keyword arguments kept for rebuilding (:meth:`_options`).
    """

    #: the family this model builds (a class of :mod:`choicekit.families`)
    family_class: ClassVar[type]
    #: ``"auto"``: sampled or sparse choice sets are stored per case in slots
    #: (:mod:`choicekit.design.slots`); ``"dense"``: over the alternatives (a family whose
    #: structure names alternatives, such as nests)
    design_layout: ClassVar[str] = "auto"

    def __init__(self, data: ChoiceData, utilities: Mapping[Hashable, Any], *,
                 missing: Literal["raise", "drop"] = "raise",
                 _param_order: list[str] | None = None) -> None:
        if not isinstance(data, ChoiceData):
            raise ChoiceDataError(
                f"`data` must be a ChoiceData (ck.ChoiceData.from_long / from_wide). Got "
                f"{type(data).__name__}."
            )
        check_option("missing", missing, MISSING_POLICIES, ChoiceDataError)
        spec = Specification.from_mapping(utilities, data.alternatives)
        _check_variables(spec, data)
        self._data = data
        self._missing = missing
        self._spec, self._design_spec = self._specifications(spec, _param_order)
        if isinstance(data, DaskChoiceData):
            # built on the workers, partition by partition, on first use
            # (choicekit.estimation.dask): the subclass's options are set by then
            self._design = DaskDesign(data, self, missing, data.has_choice)
        else:
            self._design = build_design(data, self._design_spec, missing=missing,
                                        need_choice=data.has_choice, layout=self.design_layout)

    @classmethod
    def from_formula(cls, formula: str, data: ChoiceData, *, reference: Hashable | None = None,
                     missing: Literal["raise", "drop"] = "raise", **options: Any) -> Any:
        """A model from an mlogit-style formula.

        Parameters
        ----------
        formula : str
            ``"choice ~ generic | case-specific | alternative-specific"``: part 1 lists
            alternative-varying variables with one generic coefficient each; part 2 lists
            case-level variables with alternative-specific coefficients (relative to the
            reference alternative) and the alternative-specific constants (drop them with
            ``0`` or ``-1``); part 3 lists alternative-varying variables with one coefficient
            per alternative. Parts 2 and 3 may be omitted. The left-hand side is the name of
            the choice column (informative; the choices come from ``data``).
        data : ChoiceData
        reference : alternative label, optional
            Base alternative for constants and part-2 coefficients (default: the first).
        missing : {"raise", "drop"}
        **options
            The model's own arguments (e.g. ``nests=`` of a nested logit).

        Returns
        -------
        model
            Parameter labels: ``"cost"`` (generic), ``"income:train"`` (alternative-specific),
            ``"ASC:train"`` (constants).
        """
        if not isinstance(data, ChoiceData):
            raise ChoiceDataError(
                f"`data` must be a ChoiceData (ck.ChoiceData.from_long / from_wide). Got "
                f"{type(data).__name__}."
            )
        utils, order = utilities_from_formula(formula, data, reference=reference)
        return cls(data, utils, missing=missing, _param_order=order, **options)

    def __getstate__(self) -> dict[str, Any]:
        # the family (with the MNL's compiled pass) and the all-free objective are caches
        return state_without_caches(self)

    # ------------------------------------------------------------------ family hooks
    def _specifications(self, spec: Specification, param_order: list[str] | None
                        ) -> tuple[Specification, Specification]:
        """The model's specification and the one its linear design is built on (the same
        but for families whose coefficients are functions of the parameters, such as the
        mixed logit's random coefficients)."""
        if uses_draws(spec):
            raise SpecificationError(
                f"The utilities have random coefficients (ck.Draw or ck.exp of parameters); "
                f"{type(self).__name__} has fixed coefficients. Use ck.MixedLogit.")
        if param_order is not None:
            rank = {name: i for i, name in enumerate(param_order)}
            spec = replace(spec, params=tuple(sorted(spec.params, key=lambda b: rank[b.name])))
        return spec, spec

    def _family_params(self) -> ParamTable:
        """Parameters the family adds after the utilities' (none by default)."""
        empty = np.empty(0)
        return ParamTable((), empty, np.empty(0, dtype=bool), empty, empty)

    def _options(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model on other data or utilities."""
        return {}

    def family(self, design: Design | None = None, **options: Any) -> Any:
        """The model's family bound to ``design`` (default: the estimation design)."""
        if design is None and (not options or self.distributed):
            return self._family
        return self.family_class(self._design if design is None else design,
                                 **self._family_arguments(), **options)

    def _family_arguments(self) -> dict[str, Any]:
        """Structure the family needs beyond the design (nests, ...)."""
        return {}

    @cached_property
    def _family(self) -> Any:
        if self.distributed:
            return DaskFamily(self._design, self.family_class)
        return self.family_class(self._design, **self._family_arguments())

    @property
    def distributed(self) -> bool:
        """Whether the data are on a Dask cluster (:meth:`ChoiceData.from_dask`)."""
        return isinstance(self._design, DaskDesign)

    def _refuse_distributed(self, what: str) -> None:
        if self.distributed:
            raise ChoiceDataError(
                f"{what} is not available for a model on distributed data: the cases stay on "
                "the Dask workers. The fit, every covariance, predicted shares, aggregate "
                "elasticities, scenarios and hit rates run as map-reduce; for the rest, fit "
                "on a sample collected in memory.")

    def rebuild(self, data: ChoiceData | None = None,
                utilities: Mapping[Hashable, Any] | None = None,
                param_order: list[str] | None = None) -> ChoiceModel:
        """The same kind of model (same family structure and options) on other data or
        utilities: what bootstrap, restricted fits and synthetic data use."""
        return type(self)(self._data if data is None else data,
                          self._spec.utilities if utilities is None else utilities,
                          missing=self._missing, _param_order=param_order,
                          **self._options())

    # ------------------------------------------------------------------ accessors
    @property
    def data(self) -> ChoiceData:
        """The choice data the model was built on."""
        return self._data

    @property
    def specification(self) -> Specification:
        """The utilities and parameters."""
        return self._spec

    @property
    def design(self) -> Design:
        """The frozen design arrays."""
        return self._design

    @cached_property
    def param_table(self) -> ParamTable:
        """Every parameter: the utilities' (design order), then the family's."""
        return ParamTable.of_design(self._design).concat(self._family_params())

    @property
    def param_names(self) -> list[str]:
        """Parameter names, in model order."""
        return list(self.param_table.names)

    @property
    def start_params(self) -> pd.Series:
        """Starting (or fixed) values from the Betas."""
        return pd.Series(self.param_table.start, index=self.param_names, name="start")

    @property
    def dropped_cases(self) -> pd.Index:
        """Cases dropped by ``missing="drop"``."""
        return self._design.dropped_cases

    @property
    def n_cases(self) -> int:
        """Cases used in estimation."""
        return self._design.n_cases

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.n_cases} cases, "
                f"{len(self._design.alternatives)} alternatives, "
                f"{len(self.param_names)} parameters)")

    # ------------------------------------------------------------------ evaluation
    def params_vector(self, params: Any) -> np.ndarray:
        """Full parameter vector from a Series/dict by name or an array in model order."""
        names = self.param_names
        table = self.param_table
        if isinstance(params, (pd.Series, Mapping)):
            given = dict(params.items())
            unknown = [k for k in given if k not in names]
            if unknown:
                raise SpecificationError(
                    f"Unknown parameters {unknown}.{suggest(str(unknown[0]), names)} The model's "
                    f"parameters are {names}."
                )
            missing = [k for k in names if k not in given]
            fixed = dict(zip(names, table.fixed))
            missing_free = [k for k in missing if not fixed[k]]
            if missing_free:
                raise SpecificationError(
                    f"Values are missing for parameters {missing_free}. Give every free "
                    "parameter a value."
                )
            try:
                vec = np.array([float(given[k]) if k in given else table.start[i]
                                for i, k in enumerate(names)])
            except (TypeError, ValueError):
                bad = {k: v for k, v in given.items() if not _is_number(v)}
                raise SpecificationError(
                    f"Parameter values must be numbers; got {bad}.") from None
        else:
            try:
                vec = np.asarray(params, dtype=np.float64).ravel()
            except (TypeError, ValueError):
                raise SpecificationError(
                    f"Parameter values must be numbers (a Series/dict by name or an array in "
                    f"model order {names}); got {params!r}.") from None
            if vec.shape != (len(names),):
                raise SpecificationError(
                    f"Expected {len(names)} parameter values ({names}); got {vec.size}."
                )
        if not np.isfinite(vec).all():
            bad = [n for n, v in zip(names, vec) if not np.isfinite(v)]
            raise SpecificationError(f"Parameter values must be finite; {bad} are not.")
        self._check_values(vec)
        return vec

    def _check_values(self, vec: np.ndarray) -> None:
        """Refuse parameter values the model cannot evaluate: overflowing utilities, and the
        family's own checks."""
        _check_overflow(vec[:self._design.n_params], self._design, self.param_names)
        self._check_family_values(vec)

    def _check_family_values(self, vec: np.ndarray) -> None:
        """Refuse values the family cannot evaluate (e.g. a nest parameter <= 0)."""

    def _design_for(self, data: ChoiceData | None, need_choice: bool = False) -> Design:
        if data is None:
            return self._design
        self._refuse_distributed("Prediction on other data")
        if isinstance(data, DaskChoiceData):
            raise ChoiceDataError("New data on a Dask cluster: build the model on them "
                                  "(model.rebuild(data)) and use its methods.")
        if not isinstance(data, ChoiceData):
            raise ChoiceDataError(f"`data` must be a ChoiceData. Got {type(data).__name__}.")
        if list(data.alternatives) != list(self._design.alternatives):
            raise ChoiceDataError(
                f"The new data have alternatives {data.alternatives}; the model has "
                f"{list(self._design.alternatives)}. Use the same alternatives."
            )
        _check_variables(self._spec, data)
        return build_design(data, self._design_spec, missing=self._missing,
                            need_choice=need_choice, layout=self.design_layout)

    def utilities(self, params: Any, data: ChoiceData | None = None) -> pd.DataFrame:
        """Systematic utilities ``V`` (cases x alternatives); NaN where unavailable."""
        self._refuse_distributed("utilities()")
        d = self._design_for(data)
        V = d.utilities(self.params_vector(params)[:d.n_params])
        V[~d.avail] = np.nan
        return pd.DataFrame(d.to_alternatives(V, np.nan), index=d.cases,
                            columns=list(d.alternatives))

    def predict_proba(self, params: Any, data: ChoiceData | None = None) -> pd.DataFrame:
        """Choice probabilities at ``params`` (cases x alternatives; 0 where unavailable)."""
        if self.distributed and data is None:
            return dask_predict_proba(self, self.params_vector(params))
        d = self._design_for(data)
        P = family_proba(self.family(None if data is None else d), self.params_vector(params))
        # per slot on sampled data (see design.slots), spread over the alternatives
        return pd.DataFrame(d.to_alternatives(P), index=d.cases, columns=list(d.alternatives))

    def loglike(self, params: Any) -> float:
        """Log-likelihood at ``params`` (all parameters, including fixed ones)."""
        beta = self.params_vector(params)
        return self._all_free.evaluate(beta, order=0)[0]

    @cached_property
    def _all_free(self) -> Objective:
        """The objective over every parameter, built once per model: building its chunk layout
        (constant detection, transposed design) costs ~3x an evaluation (200k x 5 x 8 design:
        65 ms vs 21 ms), which every ``loglike``/``score``/``hessian`` call paid."""
        if self._design.chosen is None:
            raise ChoiceDataError("These data carry no observed choices; the likelihood needs "
                                  "them.")
        table = self.param_table
        return Objective(self._family, table.start, fixed=np.zeros_like(table.fixed),
                         bounds=False)

    def score(self, params: Any) -> pd.Series:
        """Gradient of the log-likelihood with respect to every parameter."""
        beta = self.params_vector(params)
        _, g, _ = self._all_free.evaluate(beta, order=1)
        # copies: the objective keeps its last result, which a caller's edit must not change
        return pd.Series(g.copy(), index=self.param_names, name="score")

    def hessian(self, params: Any) -> pd.DataFrame:
        """Hessian of the log-likelihood with respect to every parameter."""
        beta = self.params_vector(params)
        _, _, H = self._all_free.evaluate(beta, order=2)
        return pd.DataFrame(H.copy(), index=self.param_names, columns=self.param_names)

    def score_obs(self, params: Any) -> pd.DataFrame:
        """Per-unit gradients of the (unweighted) log-likelihood: per case (the log-probability
        of the chosen alternative), or per panel unit for a panel likelihood."""
        self._refuse_distributed("score_obs() (per-case scores)")
        beta = self.params_vector(params)
        s = self._all_free.score_obs(beta)
        return pd.DataFrame(s, index=self._unit_index(), columns=self.param_names)

    def _unit_index(self) -> pd.Index:
        """Ids of the likelihood's units (the cases by default)."""
        return self._design.cases

    # ------------------------------------------------------------------ estimation
    def fit(self, *, start: Any = None, method: Method = "auto",
            cov_type: Literal["classical", "robust", "opg", "cluster"] | None = None,
            groups: Any = None, maxiter: int = 200, gtol: float = 1e-8,
            chunk_size: int | None = None, threads: int | None = None) -> Results:
        """Maximum-likelihood estimation.

        Parameters
        ----------
        start : Series, dict or array, optional
            Starting values (default: the Betas' values); a Series or dict may name only some
            parameters, the others start at their Betas' values. Fixed parameters keep their
            values.
        method : {"auto", "newton", "trust-exact", "bfgs", "lbfgsb", "trust-constr", "bhhh"}
            ``auto`` (default) is ``newton`` without bounds: Newton-Raphson with the analytic
            Hessian and a backtracking line search
            (:func:`choicekit.estimation.optimizers.newton_raphson`), safeguarded where the
            likelihood is not concave (nested logits); with bounds, L-BFGS-B followed by Newton
            steps on the parameters that are not at a bound (exact at active bounds, precise
            elsewhere). ``bhhh`` is Newton's iteration with the outer product of the per-case
            scores for the Hessian. ``trust-exact``, ``bfgs``, ``lbfgsb`` and ``trust-constr``
            are SciPy's methods of those names, with the analytic gradient (and Hessian where
            the method uses one).
        cov_type : {"classical", "robust", "opg", "cluster"}, optional
            Covariance of the estimates; see :mod:`choicekit.inference.covariance`. Default:
            ``"robust"`` when the data carry sampling weights (``data.weight_type``), else
            ``"classical"``. Others are available afterwards through :meth:`Results.with_cov`.
        groups : str, array or Series, optional
            Clusters for ``cov_type="cluster"``: a case-level column name, or one value per
            case. Default: the data's ``group``.
        maxiter : int, default 200
        gtol : float, default 1e-8
            Gradient tolerance on ``-loglike / n_cases``.
        chunk_size : int, optional
            Cases per kernel call (bounds memory of temporaries on large data).
        threads : int, optional
            Threads for the likelihood pass. By default one per core on large designs (one for
            each 2^20 design values) and one on small ones; pass ``threads=1`` when running
            many fits in parallel processes.

        Returns
        -------
        Results
        """
        check_option("method", method, ("auto",) + METHODS, SpecificationError)
        if cov_type is None:
            cov_type = "robust" if self._data.weight_type == "sampling" else "classical"
        check_option("cov_type", cov_type, COV_TYPES, SpecificationError)
        d = self._design
        if d.chosen is None:
            raise ChoiceDataError("These data carry no observed choices; pass `choice=` when "
                                  "building the ChoiceData to estimate a model.")
        check_int("maxiter", maxiter)
        if not (isinstance(gtol, (int, float)) and gtol > 0):
            raise SpecificationError(f"`gtol` must be a positive number. Got {gtol!r}.")
        check_int("chunk_size", chunk_size, allow_none=True, what="(cases per kernel call)")
        check_int("threads", threads, allow_none=True, what="(threads for the likelihood pass)")
        table = self.param_table
        # bounds: the MNL (concave) polishes L-BFGS-B with Newton steps; the others take
        # projected (safeguarded) Newton steps from the start
        concave = self.family_class.concave
        auto = method == "auto"
        if method == "auto":
            method = self._auto_method(table)
        polish = auto and table.has_bounds and method == "lbfgsb" and (
            concave or self._polish_quasi_newton)
        if isinstance(start, (pd.Series, Mapping)):  # partial: the others from the Betas
            start = {**dict(zip(table.names, table.start)), **dict(start.items())}
        values = table.start if start is None else self.params_vector(start)
        values = np.where(table.fixed, table.start, values)
        outside = (values < table.lower) | (values > table.upper)
        if outside.any():
            raise SpecificationError(
                f"Starting values of {list(np.asarray(table.names)[outside])} lie outside "
                "their bounds."
            )
        if cov_type == "cluster" and not self.distributed:
            self._resolve_groups(groups)  # fail early, before the optimizer runs
        family = self._family if chunk_size is None and threads is None else self.family(
            **self._fit_options(chunk_size, threads))
        obj = Objective(family, values)
        fallback = auto and not concave
        with warnings.catch_warnings(record=fallback) as caught:
            if fallback:
                warnings.simplefilter("always")
            opt = self._maximize(obj, values[obj.free], method=method, auto=auto,
                                 maxiter=maxiter, gtol=gtol)
        if polish:
            opt = polish_active_set(obj, opt, maxiter=maxiter, gtol=gtol)
        if fallback:
            opt = self._second_start(obj, opt, values, caught, maxiter=maxiter, gtol=gtol,
                                     bounded=table.has_bounds)
        opt = self._after_fit(obj, opt)
        return Results._from_optimum(self, obj, opt, cov_type=cov_type, groups=groups)

    def _maximize(self, obj: Objective, start: np.ndarray, *, method: str, auto: bool,
                  maxiter: int, gtol: float) -> Optimum:
        """The optimizer run of :meth:`fit` (``method`` already resolved from ``"auto"``, which
        ``auto`` says); a family's model may chain optimizers here."""
        return maximize_loglike(obj, start, method=method, maxiter=maxiter, gtol=gtol)

    #: whether a non-concave family's ``auto`` L-BFGS-B fit gets the Newton polish (as the
    #: MNL's bounded fits do)
    _polish_quasi_newton: ClassVar[bool] = False

    def _auto_method(self, table: ParamTable) -> str:
        """The optimizer of ``method="auto"``: L-BFGS-B (then a Newton polish) for a concave
        family with bounds, else Newton's method (safeguarded where not concave)."""
        return "lbfgsb" if table.has_bounds and self.family_class.concave else "newton"

    def _fit_options(self, chunk_size: int | None, threads: int | None) -> dict[str, Any]:
        """Family options of one fit (the MNL's chunk size and threads)."""
        return {}

    @staticmethod
    def _second_start(obj: Objective, opt: Optimum, values: np.ndarray, caught: list,
                      *, maxiter: int, gtol: float, bounded: bool) -> Optimum:
        """A non-concave likelihood's safeguarded Newton iteration can stall at a flat or
        saddle point (e.g. a cross-nested logit started at the MNL, where the allocations are
        not identified). Then L-BFGS-B (with a Newton polish) runs from the same start, and
        the better converged point is kept; the warnings of the discarded run are dropped."""
        stalled = not opt.converged or check_negative_definite(opt, obj) is not None
        if stalled:
            with warnings.catch_warnings(record=True) as caught2:
                warnings.simplefilter("always")
                alt = maximize_loglike(obj, values[obj.free], method="lbfgsb", maxiter=maxiter,
                                       gtol=gtol)
                alt = polish_active_set(obj, alt, maxiter=maxiter, gtol=gtol)
            good = alt.converged and check_negative_definite(alt, obj) is None
            if good and alt.loglike >= opt.loglike - 1e-9 * abs(opt.loglike):
                opt, caught = replace(alt, message=f"safeguarded Newton stalled ({opt.message});"
                                      f" {alt.message}"), caught2
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return opt

    def _after_fit(self, obj: Objective, opt: Optimum) -> Optimum:
        """Checks at the estimates: for a family whose likelihood is not concave, whether the
        Hessian is negative definite there."""
        if self.family_class.concave or not opt.converged:
            return opt
        problem = check_negative_definite(opt, obj)
        if problem is None:
            return opt
        warn_user(problem, ConvergenceWarning)
        return replace(opt, converged=False, message=f"{opt.message}; {problem}")

    def _resolve_groups(self, groups: Any) -> np.ndarray:
        """Cluster codes (0..G-1) per estimation case from a column name or per-case values."""
        if groups is None:
            return np.asarray(self._data_groups(), dtype=np.intp)
        return np.asarray(pd.factorize(self._group_values(groups))[0], dtype=np.intp)

    def _data_groups(self) -> np.ndarray:
        """The data's group codes per estimation case, or the error saying how to give them."""
        if self._design.group is None:
            raise SpecificationError(
                "cov_type='cluster' needs clusters: pass `groups=` (a case-level column or one "
                "value per case), or build the ChoiceData with `group=`.")
        return self._design.group

    def _group_values(self, groups: Any) -> np.ndarray:
        """The cluster label of every estimation case, from ``None`` (the data's groups), a
        column name or per-case values."""
        d = self._design
        if groups is None:
            return np.asarray(self._data._group_labels)[self._data_groups()]
        if isinstance(groups, str):
            if not self._data.has_variable(groups):
                raise self._data._unknown(groups, "Cluster column")
            v = self._data.variable(groups)
            if v.ndim == 2:  # long column: one value per case, constant within case
                v = np.nanmax(np.where(self._data.avail_array, v, -np.inf), axis=1)
            return pd.Series(v, index=self._data.cases).loc[d.cases].to_numpy()
        else:
            if isinstance(groups, pd.Series):
                missing = d.cases.difference(groups.index)
                if len(missing):
                    raise SpecificationError(
                        f"`groups` has no value for {len(missing)} estimation cases (e.g. "
                        f"{list(missing[:5])})."
                    )
                v = groups.loc[d.cases].to_numpy()
            else:
                v = np.asarray(groups)
                if v.shape != (self._data.n_cases,) and v.shape != (d.n_cases,):
                    raise SpecificationError(
                        f"`groups` must have one value per case ({d.n_cases}); got shape "
                        f"{v.shape}."
                    )
                if v.shape[0] != d.n_cases:
                    keep = self._data.cases.get_indexer(d.cases)
                    v = v[keep]
            if pd.isna(v).any():
                raise SpecificationError(f"`groups` is missing for {int(pd.isna(v).sum())} "
                                         "cases.")
            return v

    def with_choices(self, chosen: np.ndarray) -> ChoiceModel:
        """The same model on the same design with other choices (index per estimation case).

        The design is shared, not rebuilt: this is the fast path for simulation studies that
        refit one design many times with re-simulated choices.
        """
        d = self._design
        chosen = np.asarray(chosen, dtype=np.intp)
        if chosen.shape != (d.n_cases,):
            raise ChoiceDataError(f"`chosen` must have one entry per case ({d.n_cases}); got "
                                  f"shape {chosen.shape}.")
        if ((chosen < 0) | (chosen >= d.n_alts)).any() or not d.avail[
                np.arange(d.n_cases), chosen].all():
            raise ChoiceDataError("`chosen` must pick an available alternative in every case.")
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in self.__dict__.items()
                             if k not in ("_family", "_all_free")})
        new._design = d.with_chosen(chosen)
        new._data = self._data if len(d.dropped_cases) else self._data.with_chosen(
            new._design.chosen_alternatives())
        reuse = getattr(self.__dict__.get("_family"), "with_design", None)
        if reuse is not None:  # the family's layout is the same: only the choices differ
            new.__dict__["_family"] = reuse(new._design)
        return new

    # ------------------------------------------------------------------ simulation
    def simulate(self, params: Any, rng: Any = None, *, scale: float = 1.0,
                 n_draws: int | None = None,
                 error: Literal["gumbel", "normal"] = "gumbel") -> ChoiceData | pd.DataFrame:
        """Draw choices from the model: argmax over available alternatives of ``V + e``, with
        ``e`` from the family's own error distribution (iid Gumbel for the MNL).

        Parameters
        ----------
        params : Series, dict or array
            Parameter values.
        rng : int, numpy.random.Generator, SeedSequence or None
            Seed or generator (``np.random.default_rng(rng)``); the global state is not used.
        scale : float, default 1.0
            Gumbel scale :math:`\\mu` (MNL only): probabilities become ``softmax(V / mu)``.
        n_draws : int, optional
            Replications per case. ``None`` (default) draws one choice per case and returns
            the data with those choices; an integer returns the simulated choice frequencies
            instead (cases x alternatives, rows summing to 1, ``attrs["n_draws"]`` set),
            directly comparable with :meth:`predict_proba`.
        error : {"gumbel", "normal"}, default "gumbel"
            Error distribution (MNL only); ``"normal"`` (same variance as the Gumbel) is a
            probit negative control, whose probabilities are not the logit's.

        Returns
        -------
        ChoiceData or DataFrame
            ``n_draws=None``: same cases, variables, availability, weights and groups, with
            simulated choices. Otherwise the frequencies.

        See Also
        --------
        choicekit.simulation.choices.simulate_choices, choicekit.simulation.choices.simulate_counts
        """
        return _simulate(self, params, rng=rng, scale=scale, n_draws=n_draws, error=error)


def _simulate(model: ChoiceModel, params: Any, rng: Any = None, scale: float = 1.0, *,
              n_draws: int | None = None,
              error: str = "gumbel") -> ChoiceData | pd.DataFrame:
    """Choices drawn from ``model`` at ``params``; see :meth:`choicekit.MNL.simulate`.

    The MNL's utilities come from the model's design (``Design.utilities``, the same
    computation as prediction) with iid errors (Gumbel of scale ``scale``, or the normal
    negative control). Other families draw from their own error structure
    (``family.simulate``: for the nested logits, the correlated extreme-value errors).
    """
    d = model.design
    refuse_dropped_cases(d, "simulate")
    theta = model.params_vector(params)
    family = model.family()
    if family.name != "MNL":
        if scale != 1.0 or error != "gumbel":
            raise SpecificationError(
                f"`scale` and `error` apply to the MNL's iid errors only; a {family.name} model "
                "draws its own correlated extreme-value errors.")
        gen = as_generator(rng)
        if n_draws is None:
            return model.data.with_chosen(family.simulate(theta, gen))
        check_int("n_draws", n_draws)
        n, J = d.n_cases, d.n_alts
        counts = np.zeros(n * J, dtype=np.int64)
        flat = np.arange(n) * J
        for _ in range(int(n_draws)):
            counts += np.bincount(flat + family.simulate(theta, gen), minlength=n * J)
        freq = pd.DataFrame(counts.reshape(n, J) / float(n_draws), index=d.cases,
                            columns=list(d.alternatives))
        freq.attrs["n_draws"] = int(n_draws)
        return freq
    V = d.utilities(theta)
    if n_draws is None:
        chosen = simulate_choices(V, d.avail, rng=rng, scale=scale, error=error)
        return model.data.with_chosen(d.with_chosen(chosen).chosen_alternatives())
    counts = simulate_counts(V, d.avail, n_draws=n_draws, rng=rng, scale=scale, error=error)
    freq = pd.DataFrame(d.to_alternatives(counts / float(n_draws)), index=d.cases,
                        columns=list(d.alternatives))
    freq.attrs["n_draws"] = int(n_draws)
    return freq


def _check_variables(spec: Specification, data: ChoiceData) -> None:
    """Every variable a utility uses must exist in the data."""
    for alt, u in spec.utilities.items():
        for name in sorted(u.variables()):
            if not data.has_variable(name):
                raise SpecificationError(
                    f"Utility of alternative {alt!r} uses variable {name!r}, which is not in the "
                    f"data.{suggest(name, data.variables)}"
                )


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _check_overflow(vec: np.ndarray, design: Design, names: list[str]) -> None:
    """Refuse parameter values at which ``X @ beta`` would overflow float64."""
    colmax = design.column_max
    with np.errstate(over="ignore", invalid="ignore"):
        contrib = np.abs(vec) * colmax
        bound = float(contrib.sum())
    if not bound < 1e300:
        worst = [names[k] for k in np.argsort(-contrib)[:3]]
        raise SpecificationError(
            f"Parameter values are so large that the utilities overflow (|x * beta| up to "
            f"{bound:.3g}), mostly through {worst}. Use values on the scale of the data, or "
            "rescale the variables.")

