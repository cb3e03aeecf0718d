"""Results: the immutable outcome of a fit of any family, with its covariance and fit statistics.

One class for every family and backend; ``MNLResults`` is the same class under the name the
MNL has always returned. Results know the model only through its public methods (and the
objective through its sums), never its module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from choicekit._state import state_without_caches
from choicekit._validation import check_option
from choicekit._warnings import warn_user
from choicekit.exceptions import ConvergenceWarning, SpecificationError
from choicekit.families.protocol import family_proba, n_units, unit_codes
from choicekit.inference.covariance import (
    COV_TYPES,
    covariance,
    covariance_from_blocks,
    covariance_from_meats,
    sym_inverse,
)
from choicekit.postestimation.mixin import PostEstimationMixin
from choicekit.results.serialize import results_to_dict, save_results
from choicekit.results.summary import Summary

if TYPE_CHECKING:
    from choicekit.data.choicedata import ChoiceData
    from choicekit.estimation.objective import Objective
    from choicekit.estimation.optimizers import Optimum
    from choicekit.models.base import ChoiceModel

__all__ = ["ResultsBase", "Results", "MNLResults"]


@dataclass(frozen=True)
class _FitCore:
    """What every covariance variant of one fit shares."""

    model: ChoiceModel
    objective: Objective
    optimum: Optimum
    params: np.ndarray  # full vector (fixed included)


@lru_cache(maxsize=64)
def _param_index(names: tuple[str, ...]) -> pd.Index:
    """One immutable pandas Index per tuple of names: building it from a list took 26 of the
    36 us of each ``params``/``bse`` Series, a tenth of a small Monte Carlo refit."""
    return pd.Index(names)


class ResultsBase:
    """What a results object computes from its estimates, covariance and fit statistics alone:
    standard errors, t and p values, intervals, information criteria, the summary, saving.

    :class:`Results` (a fit, with its model and data) and
    :class:`~choicekit.results.persist.StoredResults` (a saved fit loaded without data) give
    the primitives: ``_index``, ``_free``, ``_cov_free``, ``params``, ``bounds``, ``llf``,
    ``llnull``, ``nobs``, ``cov_type``, ``n_clusters``, ``weight_type``, ``_bic_n``,
    ``_nest_parameters`` and the data facts of the summary (``_n_alternatives``,
    ``_n_dropped``, ``_weight_type_inferred``, ``_weight_total``).
    """

    _cov_free: np.ndarray
    #: the model when it simulates its likelihood over draws (the summary reports them)
    _simulated_model: Any = None
    _free: np.ndarray
    _index: pd.Index
    params: pd.Series
    bounds: pd.DataFrame
    llf: float
    llnull: float
    _bic_n: float
    _nest_parameters: list[str]

    @property
    def fixed(self) -> pd.Series:
        """Whether each parameter was held fixed."""
        return pd.Series(~self._free, index=self._index, name="fixed")

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the estimates (fixed parameters: 0 rows/columns)."""
        K = len(self._index)
        C = np.zeros((K, K))
        free = np.flatnonzero(self._free)
        C[np.ix_(free, free)] = self._cov_free
        return pd.DataFrame(C, index=self._index, columns=self._index)

    @property
    def bse(self) -> pd.Series:
        """Standard errors (NaN for fixed and unidentified parameters)."""
        se = np.full(len(self._index), np.nan)
        with np.errstate(invalid="ignore"):
            se[self._free] = np.sqrt(np.diag(self._cov_free))
        return pd.Series(se, index=self._index, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        """Estimate / standard error (z statistics)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the standard normal, ``2 * sf(|z|)``."""
        # 2 Phi(-|z|) = erfc(|z| / sqrt 2): the standard library's erfc keeps full relative
        # precision far in the tail (and NaN stays NaN). scipy.special (its ndtr) would add
        # 0.11 s to `import choicekit`, a seventh of a whole small script.
        return pd.Series([math.erfc(abs(z) / math.sqrt(2.0)) for z in self.tvalues],
                         index=self._index, name="pvalues", dtype=np.float64)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals ``params -/+ z_{1-alpha/2} * bse``."""
        if not (isinstance(alpha, (int, float, np.floating)) and 0 < alpha < 1):
            raise SpecificationError(f"`alpha` must lie in (0, 1). Got {alpha!r}.")
        from statistics import NormalDist  # imported on first use: ~5 ms

        z = -NormalDist().inv_cdf(alpha / 2)  # from the lower tail: accurate for small alpha
        p, se = self.params, self.bse
        return pd.DataFrame({"lower": p - z * se, "upper": p + z * se})

    @property
    def df_model(self) -> int:
        """Number of estimated (free) parameters."""
        return int(self._free.sum())

    @property
    def rho_squared(self) -> float:
        """McFadden's :math:`1 - \\ell(\\hat\\beta) / \\ell_0` against equal shares."""
        if self.llnull == 0:  # every case has one alternative: nothing to explain
            return float("nan")
        return 1.0 - self.llf / self.llnull

    @property
    def rho_squared_adj(self) -> float:
        """:math:`1 - (\\ell(\\hat\\beta) - K) / \\ell_0`."""
        if self.llnull == 0:
            return float("nan")
        return 1.0 - (self.llf - self.df_model) / self.llnull

    @property
    def aic(self) -> float:
        """:math:`2K - 2\\ell`."""
        return 2.0 * self.df_model - 2.0 * self.llf

    @property
    def bic(self) -> float:
        """:math:`K \\log N - 2\\ell`; with frequency weights :math:`N` is their sum (the
        number of cases they stand for), as on the replicated rows."""
        return self.df_model * np.log(self._bic_n) - 2.0 * self.llf

    @property
    def null_values(self) -> pd.Series:
        """The value of each parameter under the model's natural null: 1 for nest parameters
        (lambda or mu; 1 is the MNL), 0 otherwise."""
        nests = set(self._nest_parameters)
        return pd.Series([1.0 if n in nests else 0.0 for n in self._index],
                         index=self._index, name="null")

    @property
    def at_bound(self) -> pd.Series:
        """Whether each estimated parameter ended at its lower or upper bound."""
        b = self.bounds
        p = self.params.to_numpy()
        tol = 1e-10 * np.maximum(1.0, np.abs(p))
        with np.errstate(invalid="ignore"):
            hit = self._free & ((p <= b["lower"].to_numpy() + tol)
                                | (p >= b["upper"].to_numpy() - tol))
        return pd.Series(hit, index=self._index, name="at_bound")

    # ---------------------------------------------------------------- output
    def summary(self, alpha: float = 0.05, *, second_cov: str | None = "auto") -> Summary:
        """A summary table; ``str()`` gives text, with ``as_frame/as_latex/as_html``.

        Parameters
        ----------
        alpha : float, default 0.05
            Level of the confidence intervals.
        second_cov : {"auto", "classical", "robust", "opg", "cluster"} or None
            Covariance of a second set of standard-error, t and p columns, named by its type.
            ``"auto"``: robust next to classical, classical next to any other, none with
            sampling weights (the classical ones ignore the sampling design). None: no second
            set.
        """
        return Summary.from_results(self, alpha=alpha, second_cov=second_cov)

    def to_dict(self) -> dict[str, Any]:
        """Everything a saved fit keeps, JSON-ready: estimates, covariances, fit statistics,
        the specification (utilities, nests), the data's shape and the software versions.

        See :mod:`choicekit.results.persist`; :meth:`save` writes it as JSON and
        :func:`choicekit.load_results` reads it back.
        """
        return results_to_dict(self)

    def save(self, path: Any) -> None:
        """Write the fit to ``path`` as JSON (:meth:`to_dict`); :func:`choicekit.load_results`
        reads it back (with ``data=``, into a results object with post-estimation). Fitting
        never writes files: saving is this explicit call."""
        save_results(self, path)

    def __repr__(self) -> str:
        return (f"<{self.family_name}Results: {self.nobs} cases, {self.df_model} estimated "
                f"parameters, LL={self.llf:.4f}, cov_type={self.cov_type!r}, "
                f"converged={self.converged}>")

    def __str__(self) -> str:
        return str(self.summary())


class Results(ResultsBase, PostEstimationMixin):
    """Results of a fit (any family).

    Attributes are pandas objects indexed by parameter name (fixed parameters included, with
    NaN standard errors). Build other covariance variants with :meth:`with_cov`. Results
    pickle (caches dropped) and save to JSON (:meth:`save`, :func:`choicekit.load_results`).
    """

    def __init__(self, core: _FitCore, cov_type: str, cov_free: np.ndarray,
                 groups: np.ndarray | None = None) -> None:
        self._core = core
        self._cov_type = cov_type
        self._cov_free = cov_free
        self._groups = groups

    @classmethod
    def _from_optimum(cls, model: ChoiceModel, objective: Objective, optimum: Optimum, *,
                      cov_type: str, groups: np.ndarray | None) -> Results:
        core = _FitCore(model, objective, optimum, objective.full_params(optimum.theta))
        return cls(core, "classical", np.empty((0, 0))).with_cov(cov_type, groups=groups)

    def __getstate__(self) -> dict[str, Any]:
        # the inverse Hessian, per-case scores and null log-likelihoods are rebuilt on use
        return state_without_caches(self)

    # ---------------------------------------------------------------- covariance
    @cached_property
    def _bread(self) -> np.ndarray:
        free_names = list(np.asarray(self.param_names)[self._free])
        H = self._core.optimum.hessian
        if self.converged:
            return sym_inverse(-H, free_names, "Hessian of the log-likelihood").inverse
        # not at a maximum: a singular Hessian there is the optimizer's state (saturated
        # probabilities after a bad start), not a property of the model and data
        inv = sym_inverse(-H, free_names, warn=False)
        separation = self.message.startswith("Perfect prediction")  # its warning said why
        if inv.unidentified and not separation:
            warn_user(self._singular_not_converged([str(free_names[k]) for k in inv.unidentified]),
                      ConvergenceWarning)
        return inv.inverse

    def _singular_not_converged(self, names: list[str]) -> str:
        """Why the Hessian of a fit that did not converge is singular, in words."""
        core = self._core
        d = core.objective.design
        with np.errstate(all="ignore"):
            P = family_proba(core.objective.family, core.params)
            p = P[np.arange(d.n_cases), d.chosen]
            saturated = int(((p < 1e-6) | (p > 1 - 1e-6))[d.avail.sum(axis=1) > 1].sum())
        where = (f" {saturated} of {d.n_cases} cases have a chosen probability within 1e-6 of "
                 "0 or 1 there (saturated probabilities, as when a line search from a bad start "
                 "runs far out), which flattens the likelihood." if saturated else "")
        return (f"The estimation did not converge ({self.message}), and the Hessian at its last "
                f"iterate is singular for {names}: their standard errors are NaN.{where} This "
                "is not evidence that the parameters are unidentified: refit from other "
                "starting values (the Betas' own, or the estimates of a simpler model), raise "
                "`maxiter`, or rescale the variables; model.check_identification() (MNL) "
                "checks identification itself.")

    @cached_property
    def _score_obs(self) -> np.ndarray:
        return self._core.objective.score_obs(self._core.optimum.theta)

    def with_cov(self, cov_type: Literal["classical", "robust", "opg", "cluster"], *,
                 groups: Any = None, small_sample: bool = True) -> Results:
        """The same estimates with another covariance estimator.

        Parameters
        ----------
        cov_type : {"classical", "robust", "opg", "cluster"}
            See :mod:`choicekit.inference.covariance`.
        groups : str, array or Series, optional
            Clusters for ``"cluster"`` (default: the data's ``group``).
        small_sample : bool, default True
            Apply the ``G/(G-1)`` factor to the cluster covariance.

        Returns
        -------
        Results
        """
        check_option("cov_type", cov_type, COV_TYPES, SpecificationError)
        core = self._core
        free_names = list(np.asarray(self.param_names)[self._free])
        if self._streamed:
            return self._with_cov_streamed(cov_type, groups, small_sample, free_names)
        meats = getattr(core.objective.family, "meats", None)
        if meats is not None:  # distributed: sums from the partitions, no per-case scores
            m = core.objective.family.information_meats() if cov_type == "classical" else \
                meats(core.params, self._free, self.weight_type, cluster=cov_type == "cluster",
                      groups=groups)
            cov = covariance_from_meats(cov_type, self._bread, m, self.weight_type,
                                        free_names, small_sample=small_sample)
            codes = m.n_clusters
        else:
            codes = core.model._resolve_groups(groups) if cov_type == "cluster" else None
            if codes is not None:  # per unit where the likelihood's terms are panel units
                try:
                    codes = unit_codes(core.objective.family, codes)
                except ValueError as err:
                    raise SpecificationError(str(err)) from None
            # the classical covariance needs no per-case scores (a pass over the data)
            scores = None if cov_type == "classical" else self._score_obs
            cov = covariance(cov_type, self._bread, scores,
                             core.objective.unit_weight, self.weight_type, free_names,
                             codes=codes, small_sample=small_sample)
        new = type(self)(core, cov_type, cov, codes)
        # share the expensive cached pieces
        for key in ("_bread", "_score_obs"):
            if key in self.__dict__:
                new.__dict__[key] = self.__dict__[key]
        return new

    @property
    def _streamed(self) -> bool:
        """Whether the family reads its data in passes over a stream (its per-unit scores
        come in bounded blocks: the meats are summed block by block)."""
        return hasattr(self._core.objective.family, "score_blocks")

    def _with_cov_streamed(self, cov_type: str, groups: Any, small_sample: bool,
                           free_names: list[str]) -> Results:
        """:meth:`with_cov` for a streamed family: one pass over the stream sums the meat
        (the OPG, robust or per-cluster score sums), holding no ``(n, K)`` array."""
        core = self._core
        if groups is not None:
            raise SpecificationError(
                "`groups=` is not available on a chunked fit (the data are read in passes "
                "over a stream): it clusters on the chunks' own cluster ids "
                "(DesignChunk.group).")
        t = core.objective.family.totals
        scale = (t.n_positive / t.weight_sum if self.weight_type == "sampling" else 1.0)
        blocks = (() if cov_type == "classical"
                  else core.objective.score_blocks(core.optimum.theta))
        try:
            cov, G = covariance_from_blocks(cov_type, self._bread, blocks, scale,
                                            self.weight_type, free_names,
                                            small_sample=small_sample)
        except ValueError as err:
            raise SpecificationError(f"cov_type={cov_type!r} on a chunked fit: {err} (give "
                                     "DesignChunk.group in every chunk).") from None
        new = type(self)(core, cov_type, cov, None if G is None else np.arange(G))
        if "_bread" in self.__dict__:
            new.__dict__["_bread"] = self.__dict__["_bread"]
        return new

    @property
    def _weight_sum(self) -> float:
        """Sum of the case weights (NaN unweighted)."""
        if self._streamed:
            t = self._core.objective.family.totals
            return t.weight_sum if t.weighted else float("nan")
        total = self._core.objective.design.weight_total
        return float("nan") if total is None else float(total)

    # ---------------------------------------------------------------- basic attributes
    @property
    def model(self) -> ChoiceModel:
        """The fitted model."""
        return self._core.model

    @property
    def cov_type(self) -> str:
        """Covariance estimator of ``bse``, ``cov_params()``, t and p values."""
        return self._cov_type

    @property
    def n_clusters(self) -> int | None:
        """Number of clusters of a ``"cluster"`` covariance, else None."""
        if self._groups is None:
            return None
        if isinstance(self._groups, (int, np.integer)):  # distributed: the global count
            return int(self._groups)
        return int(self._groups.max()) + 1

    @property
    def weight_type(self) -> str | None:
        """What the case weights mean (``"sampling"`` or ``"frequency"``), None unweighted.

        See :meth:`choicekit.ChoiceData.from_long` and :mod:`choicekit.inference.covariance`.
        """
        return self._core.model.data.weight_type

    @property
    def param_names(self) -> list[str]:
        return list(self._core.objective.param_names)

    @property
    def _index(self) -> pd.Index:
        """``param_names`` as a pandas Index, shared by every result of the same names."""
        return _param_index(self._core.objective.param_names)

    @property
    def _free(self) -> np.ndarray:
        return self._core.objective.free

    @property
    def params(self) -> pd.Series:
        """Estimates (fixed parameters at their values)."""
        return pd.Series(self._core.params.copy(), index=self._index, name="params")

    # ---------------------------------------------------------------- fit statistics
    @property
    def llf(self) -> float:
        """Log-likelihood at the estimates."""
        return float(self._core.optimum.loglike)

    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of equal shares over each case's available alternatives."""
        if self._streamed:
            return float(self._core.objective.family.totals.llnull)
        return self._core.objective.design.null_loglike()

    @property
    def nobs(self) -> int:
        """Number of likelihood units: the cases used, or the panel units (persons) of a
        panel mixed logit."""
        return n_units(self._core.objective.family)

    @property
    def converged(self) -> bool:
        """Whether the optimizer met its convergence criterion."""
        return bool(self._core.optimum.converged)

    @property
    def iterations(self) -> int:
        return self._core.optimum.iterations

    @property
    def message(self) -> str:
        """The optimizer's message."""
        return self._core.optimum.message

    @property
    def method(self) -> str:
        return self._core.optimum.method

    @property
    def gradient_norm(self) -> float:
        """Max-norm of the gradient of ``-loglike / nobs`` at the estimates."""
        return self._core.optimum.gradient_norm

    @property
    def score(self) -> pd.Series:
        """Gradient of the log-likelihood at the estimates (free parameters)."""
        names = list(np.asarray(self.param_names)[self._free])
        return pd.Series(self._core.optimum.score, index=names, name="score")

    @property
    def diagnostics(self) -> dict[str, Any] | None:
        """Backend diagnostics of a distributed fit (partitions, rows and bytes per worker,
        seconds per iteration, the slowest partition's share of it); None in memory."""
        get = getattr(self._core.objective.family, "diagnostics", None)
        return None if get is None else get()

    @property
    def family_name(self) -> str:
        """The model family (``"MNL"``, ``"NL"``, ``"CNL"``)."""
        return str(self._core.objective.family.name)

    @property
    def bounds(self) -> pd.DataFrame:
        """Lower and upper bounds of every parameter (infinite where unbounded)."""
        t = self._core.objective.params
        return pd.DataFrame({"lower": t.lower, "upper": t.upper}, index=self._index)

    @property
    def _bic_n(self) -> float:
        """The N of the BIC: the units, or with frequency weights the sum of the weights."""
        total = self._weight_sum
        if self.weight_type == "frequency" and np.isfinite(total):
            return float(total)
        return float(self.nobs)

    # ---------------------------------------------------------------- mixed logit
    def _mixed_only(self, what: str) -> Any:
        model = self._core.model
        if not hasattr(model, "conditional_params"):
            raise SpecificationError(f"{what} is a mixed logit tool; this is a "
                                     f"{self.family_name} model (fixed coefficients).")
        return model

    def conditional_params(self) -> pd.DataFrame:
        """Per-unit posterior means of the random coefficients at the estimates (mixed logit
        only; Revelt & Train 2000)."""
        return self._mixed_only("conditional_params()").conditional_params(self._core.params)

    def random_parameters(self) -> pd.DataFrame:
        """The random parameters table (mixed logit only): distribution, mean and spread with
        their SEs, and for lognormal coefficients the implied median, mean and SD (delta
        method, with this result's covariance)."""
        return self._mixed_only("random_parameters()").random_parameters_table(
            self._core.params, self.cov_params())

    @property
    def _simulated_model(self) -> Any:
        model = self._core.model
        return model if getattr(model, "n_draws", None) is not None else None

    @property
    def _nest_parameters(self) -> list[str]:
        return list(getattr(self.model, "nest_parameters", ()))

    # facts about the data, for the summary
    @property
    def _n_alternatives(self) -> int:
        return len(self._core.model.design.alternatives)

    @property
    def _n_dropped(self) -> int:
        return len(self._core.model.dropped_cases)

    @property
    def _weight_type_inferred(self) -> bool:
        return bool(self._core.model.data.weight_type_inferred)

    @property
    def _weight_total(self) -> float:
        return self._weight_sum

    def predict_proba(self, data: ChoiceData | None = None) -> pd.DataFrame:
        """Choice probabilities at the estimates, one row per case, one column per alternative.

        Parameters
        ----------
        data : ChoiceData, optional
            New data with the same alternatives and variables (default: the estimation data).
        """
        return self.model.predict_proba(self._core.params, data=data)



#: the name the MNL has always returned: the same class
MNLResults = Results
