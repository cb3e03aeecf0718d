"""Post-estimation on fitted results: prediction, shares, elasticities, WTP, scenarios, tests.

:class:`PostEstimationMixin` is mixed into :class:`~choicekit.results.results.MNLResults`; its
methods
only check options and orchestrate. The numbers happen in plain functions of sibling modules:

=====================  ==========================================================
:mod:`.shares`         predicted shares (sample enumeration), observed vs predicted
:mod:`.elasticities`   point / aggregate / arc elasticities, marginal effects
:mod:`.wtp`            willingness to pay (ratios), delta and Fieller intervals
:mod:`.scenarios`      changed data, shares before/after, consumer surplus
:mod:`.hypothesis_tests`  LR, Wald, score, Hausman-McFadden
:mod:`.fit_measures`   market-share null, hit rate, confusion table, holdout fit
:mod:`.bootstrap`      case / cluster bootstrap
:mod:`.delta`          delta-method and simulation standard errors
=====================  ==========================================================

Every standard error uses ``self.cov_params()``, so it follows the covariance type of the
results (``res.with_cov("robust").wtp(...)`` gives robust intervals).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from choicekit._validation import check_option
from choicekit.exceptions import SpecificationError
from choicekit.inference.hypothesis_tests import (
    _chi2,
    hausman_mcfadden,
    lr_test,
    score_test,
    wald_test,
)
from choicekit.postestimation import dask as _dask
from choicekit.postestimation.bootstrap import bootstrap
from choicekit.postestimation.elasticities import (
    aggregate_effects,
    arc_elasticities,
    point_effects,
    resolve_perturbations,
)
from choicekit.postestimation.fit_measures import (
    confusion_table,
    hit_rate,
    holdout_fit,
    loglike_market_share,
)
from choicekit.postestimation.scenarios import apply_changes, evaluate_scenario
from choicekit.postestimation.shares import PostContext, predicted_shares, share_table
from choicekit.postestimation.wtp import wtp_table

if TYPE_CHECKING:
    from choicekit.data.choicedata import ChoiceData
    from choicekit.inference.hypothesis_tests import TestResult
    from choicekit.postestimation.bootstrap import BootstrapResult
    from choicekit.postestimation.elasticities import EffectTable
    from choicekit.postestimation.scenarios import ScenarioResult
    from choicekit.results.results import MNLResults

__all__ = ["PostEstimationMixin"]

SE = Literal["delta", "simulation", "none"]
_EFFECT_KINDS = ("aggregate", "point", "arc")
_ME_KINDS = ("average", "point")


class PostEstimationMixin:
    """Post-estimation methods of :class:`~choicekit.results.results.MNLResults`."""

    def _ctx(self, data: ChoiceData | None = None) -> Any:

        self.model._refuse_distributed("This post-estimation method")  # type: ignore[attr-defined]

        return PostContext.from_results(self, data)  # type: ignore[arg-type]

    def _on_dask(self, data: ChoiceData | None) -> bool:
        """Whether to run as a map-reduce over the partitions (distributed estimation data)."""
        if not getattr(self.model, "distributed", False):  # type: ignore[attr-defined]
            return False
        if data is not None:
            raise SpecificationError(
                "On distributed estimation data, post-estimation runs on those data "
                "(data=None); for other data, build a model on them and use the estimates.")
        return True

    # ------------------------------------------------------------------ shares
    def predicted_shares(self, data: ChoiceData | None = None, *, by: Any = None,
                         se: SE = "delta", alpha: float = 0.05, n_draws: int = 1000,
                         rng: Any = None) -> pd.DataFrame:
        """Predicted market shares by sample enumeration (weights respected).

        Parameters
        ----------
        data : ChoiceData, optional
            Data to predict on (default: the estimation data).
        by : str, array or Series, optional
            Segments: a case-level column, or one value per case.
        se : {"delta", "simulation", "none"}, default "delta"
        alpha : float, default 0.05
        n_draws : int, default 1000
            Draws for ``se="simulation"``.
        rng : int, Generator or None
            For ``se="simulation"``.

        Returns
        -------
        pandas.DataFrame
            Index: alternative, or (segment, alternative); columns ``share, se, lower,
            upper``.

        See Also
        --------
        choicekit.postestimation.shares : the formulas.
        """
        if self._on_dask(data):
            return _dask.predicted_shares(self, by=by, se=se, alpha=alpha, n_draws=n_draws,
                                          rng=rng)

        return predicted_shares(self._ctx(data), by=by, se=se, alpha=alpha, n_draws=n_draws,
                                rng=rng)

    def share_table(self, data: ChoiceData | None = None, *, by: Any = None) -> pd.DataFrame:
        """Observed vs predicted shares (and weighted counts), overall or by segment."""

        return share_table(self._ctx(data), by=by)

    # ------------------------------------------------------------------ elasticities
    def elasticities(self, variable: str | Mapping[Hashable, str], *,
                     kind: Literal["aggregate", "point", "arc"] = "aggregate",
                     data: ChoiceData | None = None, change: float = 0.01, se: SE = "delta",
                     n_draws: int = 1000, rng: Any = None) -> EffectTable | pd.DataFrame:
        """Elasticities of the choice probabilities with respect to a variable.

        Parameters
        ----------
        variable : str or mapping
            A long alternative-varying variable (one row per alternative using it), a
            case-level column such as a wide ``"TRAIN_TT"`` (one row, however many utilities
            use it, however transformed), or ``{row label: column}`` (e.g. ``{"train":
            "TRAIN_COST", "car": "CAR_COST"}``).
        kind : {"aggregate", "point", "arc"}, default "aggregate"
            ``aggregate``: elasticities of the predicted shares (probability-weighted mean of
            the point elasticities), with standard errors; ``point``: per case; ``arc``:
            mid-point elasticities of the shares for a relative change ``change``.
        data : ChoiceData, optional
            Data to evaluate on (default: the estimation data).
        change : float, default 0.01
            Relative change for ``kind="arc"``.
        se, n_draws, rng
            Standard errors (not for ``point``); see :meth:`predicted_shares`. Intervals at
            any level come from ``EffectTable.frame(alpha)``.

        Returns
        -------
        EffectTable or pandas.DataFrame
            ``aggregate``/``arc``: an :class:`~choicekit.postestimation.elasticities.EffectTable`
            (rows: the
            variable of an alternative; columns: the probability of an alternative; ``.se``;
            ``.frame()``). ``point``: a frame of cases by (variable of, alternative).

        Notes
        -----
        The derivative of the utilities is exact for any transformation of the variable (see
        :mod:`choicekit.postestimation.elasticities`).
        """

        check_option("kind", kind, _EFFECT_KINDS, SpecificationError)
        if self._on_dask(data) and kind == "aggregate":
            return _dask.aggregate_elasticities(self, variable, relative=True, se=se,
                                                n_draws=n_draws, rng=rng)
        ctx = self._ctx(data)
        perts = resolve_perturbations(variable, ctx)
        if kind == "point":
            return point_effects(ctx, perts, relative=True)
        if kind == "arc":
            return arc_elasticities(ctx, perts, change=change, se=se, n_draws=n_draws, rng=rng)
        return aggregate_effects(ctx, perts, relative=True, se=se, n_draws=n_draws, rng=rng)

    def marginal_effects(self, variable: str | Mapping[Hashable, str], *,
                         kind: Literal["average", "point"] = "average",
                         data: ChoiceData | None = None, se: SE = "delta",
                         n_draws: int = 1000, rng: Any = None) -> EffectTable | pd.DataFrame:
        """Marginal effects :math:`\\partial P / \\partial x` (per case, or averaged).

        Parameters are those of :meth:`elasticities`; ``kind="average"`` gives the weighted
        average marginal effects with standard errors, ``"point"`` the per-case derivatives.
        """

        check_option("kind", kind, _ME_KINDS, SpecificationError)
        if self._on_dask(data) and kind == "average":
            return _dask.aggregate_elasticities(self, variable, relative=False, se=se,
                                                n_draws=n_draws, rng=rng)
        ctx = self._ctx(data)
        perts = resolve_perturbations(variable, ctx)
        if kind == "point":
            return point_effects(ctx, perts, relative=False)
        return aggregate_effects(ctx, perts, relative=False, se=se, n_draws=n_draws, rng=rng)

    # ------------------------------------------------------------------ WTP
    def wtp(self, attributes: str | Sequence[str], cost: str, *, scale: float = 1.0,
            method: Literal["delta", "fieller"] = "delta", alpha: float = 0.05
            ) -> pd.DataFrame:
        """Willingness to pay: ``scale * beta[attribute] / beta[cost]`` with SEs and intervals.

        Parameters
        ----------
        attributes : str or list of str
            Numerator parameters (e.g. time coefficients).
        cost : str
            Cost parameter.
        scale : float, default 1.0
            Unit conversion, e.g. ``60`` for a value per hour from per-minute coefficients.
        method : {"delta", "fieller"}, default "delta"
            Confidence interval: delta-method (symmetric) or Fieller (exact for the ratio
            of normal estimates; unbounded when the cost coefficient is insignificant).
        alpha : float, default 0.05

        Returns
        -------
        pandas.DataFrame
            Index: attribute; columns ``wtp, se, lower, upper``.

        Notes
        -----
        No sign change is applied (mlogit's convention); see :mod:`choicekit.postestimation.wtp`.
        A mixed logit gives the same four columns for the population mean of the WTP over its
        draws (the median where the mean does not exist: column ``statistic``) and, as extra
        columns, the WTP's distribution (``mean, mean_se, sd, median, median_se, q_lo, q_hi``;
        :meth:`MixedLogit.wtp_distribution`).
        """

        model = self.model  # type: ignore[attr-defined]
        if hasattr(model, "wtp_distribution"):
            # random coefficients: the distribution of the ratio, simulated per draw
            if method != "delta":
                raise SpecificationError("wtp of a random-coefficient model: method='delta' "
                                         "only (SEs of the simulated mean and median).")
            return model.wtp_distribution(self.params, self.cov_params(),  # type: ignore
                                          attributes, cost, scale=scale, alpha=alpha)
        return wtp_table(self.params, self.cov_params(), attributes, cost,  # type: ignore
                         scale=scale, method=method, alpha=alpha)

    # ------------------------------------------------------------------ scenarios
    def scenario(self, changes: Mapping[str, Any] | Callable[[ChoiceData], ChoiceData], *,
                 how: Literal["multiply", "add", "set"] = "multiply",
                 alternatives: Sequence[Hashable] | Hashable | None = None, cases: Any = None,
                 cost: str | None = None, cost_scale: float = 1.0, by: Any = None,
                 data: ChoiceData | None = None, se: SE = "delta", alpha: float = 0.05,
                 n_draws: int = 1000, rng: Any = None) -> ScenarioResult:
        """Shares and consumer surplus before and after a change of the data.

        Parameters
        ----------
        changes : mapping or callable
            ``{variable: change}``: a number or array combined with the current values by
            ``how`` (``{"cost": 1.1}`` raises cost by 10%), or a function of the current values
            (``{"cost": lambda x: x + 5}``); or a function ``data -> ChoiceData``.
        how : {"multiply", "add", "set"}, default "multiply"
        alternatives : label or list, optional
            Change long variables only for these alternatives.
        cases : bool array, Series or column name, optional
            Change only these cases (a segment).
        cost : str, optional
            Cost parameter; gives the consumer-surplus change (Small-Rosen logsum rule).
        cost_scale : float, default 1.0
            Scale of the cost in the utility (``0.01`` for ``B_COST * Var("COST") / 100``).
        by : str, array or Series, optional
            Report shares and surplus per segment (a case-level column or one value per case).
        data : ChoiceData, optional
            Base data (default: the estimation data).
        se, alpha, n_draws, rng
            Standard errors: delta method or parametric simulation.

        Returns
        -------
        ScenarioResult
            ``.shares`` (before, after, change with SE), ``.surplus`` (mean and total with
            SE), ``.surplus_per_case``, ``.data`` (the changed data).
        """
        if self._on_dask(data):
            return _dask.scenario(self, changes, how=how, alternatives=alternatives,
                                  cases=cases, cost=cost, cost_scale=cost_scale, by=by, se=se,
                                  alpha=alpha, n_draws=n_draws, rng=rng)

        ctx = self._ctx(data)
        new = apply_changes(ctx.data, changes, how=how, alternatives=alternatives, cases=cases)
        return evaluate_scenario(ctx, new, cost=cost, cost_scale=cost_scale, by=by, se=se,
                                 alpha=alpha, n_draws=n_draws, rng=rng)

    def logsum(self, data: ChoiceData | None = None) -> pd.Series:
        """Inclusive value :math:`\\log\\sum_j e^{V_{nj}}` per case at the estimates."""

        ctx = self._ctx(data)
        return pd.Series(ctx.logsum(ctx.beta), index=ctx.design.cases,
                         name="logsum")

    # ------------------------------------------------------------------ tests
    def wald_test(self, restrictions: str | Sequence[str]) -> TestResult:
        """Wald test of linear restrictions such as ``"b_time = b_cost"``, ``"asc_car = 0"``.

        Uses this result's covariance type. See
        :func:`choicekit.inference.hypothesis_tests.wald_test`.
        """

        return wald_test(self, restrictions)  # type: ignore[arg-type]

    def lr_test(self, other: MNLResults, *, check_names: bool = True) -> TestResult:
        """Likelihood-ratio test against another fit nested in (or nesting) this one."""

        return lr_test(self, other, check_names=check_names)  # type: ignore[arg-type]

    def score_test(self, unrestricted: Any) -> TestResult:
        """Score (LM) test of this (restricted) fit against a larger model."""

        return score_test(self, unrestricted)  # type: ignore[arg-type]

    def hausman_mcfadden(self, subset: MNLResults | Sequence[Hashable]) -> TestResult:
        """Hausman-McFadden IIA test against a fit on a subset of alternatives.

        ``subset`` is a fitted results object or the alternatives to keep (the model is then
        re-estimated on them, cases choosing other alternatives dropped).
        """

        return hausman_mcfadden(self, subset)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ fit measures
    @cached_property
    def llnull_market_share(self) -> float:
        """Log-likelihood of the constants-only (market-share) model on the same cases."""

        return loglike_market_share(self._core.objective.design)  # type: ignore[attr-defined]

    @property
    def rho_squared_market_share(self) -> float:
        """McFadden's :math:`1 - \\ell(\\hat\\beta)/\\ell_{MS}` (mlogit's "McFadden R^2")."""
        return 1.0 - self.llf / self.llnull_market_share  # type: ignore[attr-defined]

    def lr_test_market_share(self) -> TestResult:
        """LR test against the market-share (constants-only) model, as mlogit's summary.

        The degrees of freedom are the estimated parameters beyond the :math:`J - 1`
        constants; the test is valid when the model contains a full set of constants (it then
        nests the market-share model).
        """

        d = self._core.objective.design  # type: ignore[attr-defined]
        n_const = int((np.bincount(d.chosen, minlength=d.n_alts) > 0).sum()) - 1
        df = self.df_model - n_const  # type: ignore[attr-defined]
        if df <= 0:
            raise SpecificationError(
                f"The model estimates {self.df_model} parameters, no more than the "  # type: ignore[attr-defined]
                f"{n_const} constants of the market-share model: it does not nest it, so there "
                "is no likelihood-ratio test against it."
            )
        stat = 2.0 * (self.llf - self.llnull_market_share)  # type: ignore[attr-defined]
        return _chi2("likelihood-ratio test vs market shares", stat, df,
                     llf_market_share=self.llnull_market_share)

    def hit_rate(self, data: ChoiceData | None = None) -> pd.Series:
        """Hit rate (most probable = chosen) and expected hit rate, weighted."""
        if self._on_dask(data):
            return _dask.hit_rate(self)

        return hit_rate(self._ctx(data))

    def confusion_table(self, data: ChoiceData | None = None, *,
                        kind: Literal["probability", "argmax"] = "probability") -> pd.DataFrame:
        """Observed (rows) by predicted (columns) alternatives, with totals."""

        return confusion_table(self._ctx(data), kind=kind)

    def holdout(self, data: ChoiceData) -> pd.Series:
        """Out-of-sample fit on ``data``: log-likelihood, per case, rho-squared, hit rate."""

        if data is None:
            raise SpecificationError("`holdout` needs data that were not used in estimation.")
        return holdout_fit(self._ctx(data))

    # ------------------------------------------------------------------ bootstrap
    def bootstrap(self, n_boot: int = 200, *, func: Callable[[MNLResults], Any] | None = None,
                  cluster: Any = None, rng: Any = None, workers: int | None = None
                  ) -> BootstrapResult:
        """Case (or cluster) bootstrap of the estimates and of ``func(results)``.

        Returns a :class:`~choicekit.postestimation.bootstrap.BootstrapResult`: replicates,
        ``se()``,
        ``cov()``, percentile ``conf_int()``, and ``.results``, this fit with the bootstrap
        covariance (``cov_type="bootstrap"``) for any other post-estimation quantity. See
        :func:`choicekit.postestimation.bootstrap.bootstrap`.
        """

        return bootstrap(self, n_boot, func=func, cluster=cluster,  # type: ignore[arg-type]
                         rng=rng, workers=workers)
