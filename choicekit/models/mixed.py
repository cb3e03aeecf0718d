"""The mixed logit model: random coefficients, panel data, simulated maximum likelihood.

:class:`MixedLogit` is a :class:`~choicekit.models.base.ChoiceModel` on the
:class:`~choicekit.families.mixed.family.MixedFamily`: its utilities hold random coefficients
written with :class:`~choicekit.Draw` (normal ``B("M") + B("S") * D("x")``, lognormal
``ck.exp(B("M") + B("S") * D("x"))``, uniform, triangular, correlated through Cholesky terms);
estimation, inference, prediction and simulation are the generic ones. What is mixed-only lives
here: the draws (keyed by unit id), the MNL starting values, the random parameters table,
per-unit conditional means, and the simulation noise of the log-likelihood.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from choicekit._validation import check_int
from choicekit.data.choicedata import ChoiceData
from choicekit.design.linear import Design
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import (
    Optimum,
    bfgs_then_newton,
    maximize_loglike,
    polish_fixed_hessian,
)
from choicekit.exceptions import ChoiceDataError, MixedLogitWarning, SpecificationError
from choicekit.families.mixed.draws import DRAW_TYPES, given_draws, make_draws, seed_of
from choicekit.families.mixed.family import MixedFamily
from choicekit.families.mixed.structure import MixedStructure, build_structure
from choicekit.families.mnl.family import MNLFamily
from choicekit.families.protocol import ParamTable
from choicekit.models.base import ChoiceModel, _check_overflow
from choicekit.postestimation.mixed import (
    coefficient_columns,
    conditional_means,
    random_parameters_table,
    surplus_change,
    wtp_distribution,
)
from choicekit.spec.expressions import Specification
from choicekit.spec.formula import utilities_from_formula
from choicekit.spec.random import RANDOM_KINDS, random_coefficient_utilities

__all__ = ["MixedLogit", "MixedLogitWarning", "RANDOM_KINDS"]

#: starting value of a spread (mlogit's 0.1): at 0 the score in a spread is 0 by symmetry
SPREAD_START = 0.1

#: scaled-gradient max-norm (of ``-loglike / n``) at which the default fit hands over from BFGS
#: to Newton's method on the analytic Hessian. BFGS finds the basin (Newton from the MNL start
#: can flip a spread's sign and land on a worse local maximum of the simulated likelihood);
#: near the maximum Newton converges in 2-3 iterations where BFGS needs ~15. Measured on
#: Electricity over 16 sets of draws and specifications (mlogit's, scrambled Halton, Sobol and
#: MLHS, correlated, uniform and triangular): the same maximum as BFGS to 1e-8 each time, in
#: 28-39 passes instead of 41-87. (A switch at 1e-3 or a Hessian-preconditioned BFGS took
#: the worse maximum in some of them.)
NEWTON_SWITCH_GTOL = 1e-2


def _first_appearance_codes(values: np.ndarray) -> np.ndarray:
    return pd.factorize(values)[0]


class MixedLogit(ChoiceModel):
    """Mixed logit (random parameters logit) by simulated maximum likelihood.

    Parameters
    ----------
    data : ChoiceData
    utilities : dict
        ``{alternative: expression}``; coefficients may be random: ``B("B_T") + B("S_T") *
        ck.Draw("t")`` (normal), ``-ck.exp(B("M") + B("S") * ck.Draw("c"))`` (negative
        lognormal), ``ck.Draw("x", "uniform_sym")`` or ``"triangular"`` for bounded ones;
        correlated normals through Cholesky terms sharing draws.
    n_draws : int, default 500
        Draws per unit.
    draws : {"halton", "sobol", "mlhs", "random"} or mapping, default "halton"
        Draw type (scrambled Halton and Sobol from :mod:`scipy.stats.qmc`, keyed by unit id:
        see :mod:`choicekit.families.mixed.draws`), or ``{draw name: DataFrame indexed by unit
        id, or array (n_units, n_draws) with units in order of first appearance}`` of standard
        variates, to reproduce another tool's draws exactly.
    panel : bool, default True
        A unit is a ``data.group`` (a person, whose choices share one draw of the
        coefficients); ``False``: a unit is a case.
    rng : int, Generator or None, default 0
        Seed of the draws.
    missing : {"raise", "drop"}

    Notes
    -----
    Panel data whose groups are not contiguous are reordered by group (stably) once; results
    are indexed by case id as always. ``nobs`` is the number of units; robust and cluster
    covariances sum the scores of units. The default optimizer is BFGS with the analytic score
    until near the maximum, then Newton's method on the analytic Hessian (with the compiled
    pass; else Newton steps on one Hessian from central differences of the analytic score),
    which also gives the classical covariance (see :meth:`fit`). Starting values are the MNL
    estimates (spreads 0.1).

    References
    ----------
    McFadden, D. & Train, K. (2000). Mixed MNL models for discrete response. *Journal of
    Applied Econometrics* 15(5), 447-470.
    Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 6 and 10.
    """

    family_class: ClassVar[type] = MixedFamily
    design_layout: ClassVar[str] = "dense"

    def __init__(self, data: ChoiceData, utilities: Mapping[Hashable, Any], *,
                 n_draws: int = 500, draws: str | Mapping[str, Any] = "halton",
                 panel: bool = True, rng: Any = 0, missing: Literal["raise", "drop"] = "raise",
                 _param_order: list[str] | None = None) -> None:
        if not isinstance(data, ChoiceData):
            raise ChoiceDataError(f"`data` must be a ChoiceData. Got {type(data).__name__}.")
        if data.is_sampled:
            raise SpecificationError("A mixed logit on sampled choice sets is not implemented; "
                                     "fit it on the full choice sets.")
        given = isinstance(draws, Mapping)
        if not given and draws not in DRAW_TYPES:
            raise SpecificationError(f"`draws` must be one of {list(DRAW_TYPES)} or a mapping "
                                     f"{{draw name: values}}. Got {draws!r} instead.")
        if not given:
            check_int("n_draws", n_draws, what="(draws per unit)")
        if not isinstance(panel, (bool, np.bool_)):
            raise SpecificationError(f"`panel` must be True or False. Got {panel!r}.")
        if panel and data.group_array is None:
            raise SpecificationError(
                "panel=True needs the person of every case: build the ChoiceData with "
                "`group=` (e.g. group='id'), or pass panel=False for a cross-section (one draw "
                "per case).")
        self._panel = bool(panel)
        self._seed = seed_of(rng)
        self._rng_arg = rng if isinstance(rng, (int, np.integer)) else self._seed
        # units in order of first appearance, before any reordering (user arrays follow it)
        ids0 = self._unit_ids_of_data(data)
        if panel:
            codes = _first_appearance_codes(data.group_array)
            if (np.diff(codes) < 0).any():  # groups not contiguous: reorder stably
                data = data.take(np.argsort(codes, kind="stable"))
        self._given: dict[str, pd.DataFrame] | None = None
        if given:
            self._given = {}
            for name, v in draws.items():
                if isinstance(v, pd.DataFrame):
                    self._given[name] = v
                else:
                    a = np.asarray(v, dtype=np.float64)
                    if a.ndim != 2 or a.shape[0] != len(ids0):
                        raise SpecificationError(
                            f"`draws[{name!r}]` must have shape (n_units, n_draws) = "
                            f"({len(ids0)}, R); got {a.shape}.")
                    self._given[name] = pd.DataFrame(a, index=ids0)
            n_draws = next(iter(self._given.values())).shape[1] if self._given else n_draws
        self._n_draws = int(n_draws)
        self._draw_kind = "given" if given else str(draws)
        super().__init__(data, utilities, missing=missing, _param_order=_param_order)
        if self._given is not None:  # fail now, not at the first evaluation
            given_draws(self._given, self.unit_ids, self._structure.draw_names, None)
        self._check_draw_count()

    # ------------------------------------------------------------------ structure
    def _specifications(self, spec: Specification, param_order: list[str] | None
                        ) -> tuple[Specification, Specification]:
        structure, slot_spec = build_structure(spec)
        if param_order is not None:
            rank = {name: i for i, name in enumerate(param_order)}
            t = structure.params
            order = sorted(range(len(t)), key=lambda k: (rank.get(t.names[k], len(rank)), k))
            structure = _reorder(structure, order)
        self._structure = structure
        if not structure.draw_names:
            warnings.warn("The utilities have no draws: this mixed logit is an MNL (fit "
                          "ck.MNL instead, it is faster and exact).", MixedLogitWarning,
                          stacklevel=4)
        return spec, slot_spec

    @property
    def structure(self) -> MixedStructure:
        """Slots, draws and coefficient maps."""
        return self._structure

    @property
    def n_draws(self) -> int:
        return self._n_draws

    @property
    def derivative_specification(self) -> tuple[Specification, tuple[str, ...]]:
        """The slot specification and slot names: post-estimation differentiates the slots'
        (draw-free) multipliers and the family applies the coefficients of every draw
        (:meth:`MixedFamily.dproba_design`)."""
        return self._design_spec, self._structure.slot_names

    @property
    def draw_type(self) -> str:
        return self._draw_kind

    @property
    def panel(self) -> bool:
        return self._panel

    def _unit_ids_of_data(self, data: ChoiceData) -> pd.Index:
        if self._panel:
            g = data.group
            return pd.Index(pd.unique(g.to_numpy()))
        return data.cases

    def _units(self, design: Design) -> tuple[np.ndarray, pd.Index, np.ndarray | None]:
        """Unit of every case, unit ids and unit weights of a design."""
        if self._panel:
            if design.group is None:
                raise ChoiceDataError("These data have no groups; a panel mixed logit needs "
                                      "them (`group=`).")
            labels = np.asarray(design.group_labels)[design.group]
            codes, uniq = pd.factorize(labels)
            if (np.diff(codes) < 0).any():
                raise ChoiceDataError("The groups of these data are not contiguous; build the "
                                      "model on them so they are reordered.")
            ids = pd.Index(uniq)
        else:
            codes = np.arange(design.n_cases)
            ids = design.cases
        w = design.weight
        uw = None
        if w is not None:
            starts = np.flatnonzero(np.r_[True, np.diff(codes) != 0])
            uw = w[starts]
            if (uw[codes] != w).any():
                raise ChoiceDataError(
                    "Weights vary within some panel units: a panel mixed logit weights whole "
                    "units. Give every case of a person the person's weight.")
        return codes.astype(np.intp), ids, uw

    def _draws_for(self, ids: pd.Index) -> np.ndarray:
        s = self._structure
        if self._given is not None:
            arr, _ = given_draws(self._given, ids, s.draw_names, None)
            return arr
        return make_draws(ids, self._n_draws, s.draw_names, s.draw_dists, self._draw_kind,
                          self._seed)

    @cached_property
    def _unit_info(self) -> tuple[np.ndarray, pd.Index, np.ndarray | None]:
        return self._units(self._design)

    @property
    def unit_ids(self) -> pd.Index:
        """Ids of the units (groups, or cases when ``panel=False``) in estimation order."""
        return self._unit_info[1]

    def _unit_index(self) -> pd.Index:
        return self.unit_ids

    def _family_arguments(self) -> dict[str, Any]:
        codes, ids, uw = self._unit_info
        return {"structure": self._structure, "draws": self._draws_for(ids),
                "case_unit": codes, "unit": "group" if self._panel else "case",
                "unit_weight": uw}

    def family(self, design: Design | None = None, **options: Any) -> Any:
        if design is None and not options:
            return self._family
        if design is None or design is self._design:
            return MixedFamily(self._design, **self._family_arguments(), **options)
        codes, ids, uw = self._units(design)
        return MixedFamily(design, structure=self._structure, draws=self._draws_for(ids),
                           case_unit=codes, unit="group" if self._panel else "case",
                           unit_weight=uw, **options)

    def _fit_options(self, chunk_size: int | None, threads: int | None) -> dict[str, Any]:
        return {"chunk_size": chunk_size, "threads": threads}

    def _options(self) -> dict[str, Any]:
        draws: Any = self._given if self._given is not None else self._draw_kind
        return {"n_draws": self._n_draws, "draws": draws, "panel": self._panel,
                "rng": self._seed}

    @cached_property
    def param_table(self) -> ParamTable:
        return self._structure.params

    def _check_values(self, vec: np.ndarray) -> None:
        with np.errstate(over="ignore"):
            c0 = self._structure.coefficients_at_zero(vec)
        if not np.isfinite(c0).all():
            raise SpecificationError("Parameter values overflow exp() of a lognormal "
                                     "coefficient; use values on the scale of the data.")
        _check_overflow(c0, self._design, list(self._structure.slot_names))

    def utilities(self, params: Any, data: ChoiceData | None = None) -> pd.DataFrame:
        """Utilities with every draw at 0 (normal coefficients at their means, lognormal ones
        at their medians); NaN where unavailable."""
        d = self._design_for(data)
        c0 = self._structure.coefficients_at_zero(self.params_vector(params))
        V = d.utilities(c0)
        V[~d.avail] = np.nan
        return pd.DataFrame(V, index=d.cases, columns=list(d.alternatives))

    def _check_draw_count(self) -> None:
        D = len(self._structure.draw_names)
        if D and self._n_draws < 50 * D and self._n_draws < 200:
            warnings.warn(
                f"{self._n_draws} draws per unit for {D} random parameters: the simulated "
                "log-likelihood is biased and its noise can move the estimates (Train 2009, ch. "
                f"10). Use at least {max(100, 50 * D)} Halton or Sobol draws, and compare with "
                "more draws before trusting the spreads.", MixedLogitWarning, stacklevel=3)

    # ------------------------------------------------------------------ estimation
    def _auto_method(self, table: ParamTable) -> str:
        return "lbfgsb" if table.has_bounds else "bfgs"

    def fit(self, *, start: Any = None, **kwargs: Any) -> Any:
        """Simulated maximum likelihood; see :meth:`ChoiceModel.fit` for the options.

        ``start`` defaults to :meth:`mnl_start` (the MNL estimates, spreads 0.1). The default
        ``method="auto"`` is BFGS with the analytic score until the scaled gradient is below
        :data:`NEWTON_SWITCH_GTOL`, then Newton's method on the analytic Hessian (compiled
        pass) to ``gtol``; with bounds, or with the NumPy pass (whose Hessian is central
        differences of the analytic score), L-BFGS-B or BFGS to ``gtol`` polished by Newton
        steps on one Hessian. The last Hessian is the classical covariance's.
        ``method="bhhh"`` uses the outer product of the per-unit scores.
        """
        if start is None:
            start = self.mnl_start()
        return super().fit(start=start, **kwargs)

    def _maximize(self, obj: Objective, start: np.ndarray, *, method: str, auto: bool,
                  maxiter: int, gtol: float) -> Optimum:
        """``auto`` without bounds and with the analytic Hessian: BFGS until the scaled
        gradient is below :data:`NEWTON_SWITCH_GTOL`, then Newton's method (safeguarded) to
        ``gtol``. Kept when Newton converges to a point at least as good whose Hessian is
        negative definite; otherwise BFGS goes on from the hand-over point to ``gtol`` (then
        the Newton polish of :meth:`_after_fit`)."""
        if not (auto and method == "bfgs" and obj.family.analytic_hessian
                and gtol < NEWTON_SWITCH_GTOL):
            return super()._maximize(obj, start, method=method, auto=auto, maxiter=maxiter,
                                     gtol=gtol)
        return bfgs_then_newton(obj, start, switch_gtol=NEWTON_SWITCH_GTOL, maxiter=maxiter,
                                gtol=gtol)

    def mnl_start(self) -> pd.Series:
        """Starting values: the MNL with every draw at 0 (means, lognormal locations from the
        log of the MNL coefficient), spreads at 0.1 (or their Betas' values when nonzero)."""
        s = self._structure
        d = self._design
        P = len(s.slot_names)
        fixed = np.ones(P, dtype=bool)
        fixed[s.fixed_slots] = False
        fixed[s.kind == 1] = False
        t = s.params
        base = replace(d, start=np.zeros(P), fixed=fixed, lower=np.full(P, -np.inf),
                       upper=np.full(P, np.inf), param_names=s.slot_names)
        # fixed parameters' slots keep their values
        c0 = s.coefficients_at_zero(t.start)
        obj = Objective(MNLFamily(base), c0, fixed=fixed | _fixed_slots_of(s, t.fixed),
                        bounds=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = maximize_loglike(obj, c0[obj.free], method="newton", maxiter=100)
        c = obj.full_params(opt.theta)
        theta = t.start.copy()
        for p in range(P):
            if s.kind[p] == 0 and s.lin_d[p] < 0:
                theta[s.lin_k[p]] = c[p]
            elif s.kind[p] == 1:
                loc = [(k, cc) for k, dd, cc in s.exp_terms[p] if dd < 0]
                if loc:
                    k, cc = loc[0]
                    theta[k] = (math.log(max(abs(c[p]), 1e-4)) - s.exp_const[p]) / cc
        spread = s.spread & ~t.fixed
        theta[spread] = np.where(t.start[spread] != 0, t.start[spread], SPREAD_START)
        theta = np.where(t.fixed, t.start, np.clip(theta, t.lower, t.upper))
        return pd.Series(theta, index=list(t.names), name="start")

    def _after_fit(self, obj: Objective, opt: Optimum) -> Optimum:
        # Newton polish on one Hessian: the optimizer's result carries the Hessian at BFGS's
        # end point (analytic with the compiled pass, else central differences of the
        # analytic score: 2K score passes; needed for the covariance anyway). Steps H^-1 g on
        # that fixed Hessian cost one score pass each and converge linearly at rate ~ the
        # Hessian's relative change over the step (BFGS stops within ~1e-5 relative, so two or
        # three steps reach 1e-10); the Hessian is not recomputed: over a step that small it
        # changes by less than 1e-5 relative, far inside what the covariance needs.
        if opt.method in ("bfgs", "lbfgsb") and np.isfinite(opt.loglike) and not (
                obj.params.has_bounds):
            opt = polish_fixed_hessian(obj, opt)
        opt = super()._after_fit(obj, opt)
        self._warn_collapsed(obj.full_params(opt.theta))
        return opt

    def collapsed(self, params: Any) -> list[str]:
        """Spread parameters at (numerically) zero: the random parameter collapsed to a fixed
        one; its SE and the t-test against 0 are at the boundary of the parameter space."""
        vec = self.params_vector(params)
        s = self._structure
        return [n for n, v, sp, f in zip(s.params.names, vec, s.spread, s.params.fixed)
                if sp and not f and abs(v) < 1e-4]

    def _warn_collapsed(self, vec: np.ndarray) -> None:
        gone = self.collapsed(vec)
        if gone:
            warnings.warn(
                f"The spreads {gone} are fitted at 0: those random parameters collapsed to "
                "fixed ones. Their standard errors and t-tests against 0 are at the boundary "
                "of the parameter space (not normal; an LR test against the model without them "
                "has a chi-bar-squared null, halve its p-value). Drop their draws, or check "
                "with more draws.", MixedLogitWarning, stacklevel=4)

    # ------------------------------------------------------------------ mixed-only tools
    def unit_report(self) -> pd.Series:
        """Counts of the units: all, and those whose choices are all the same alternative
        (fine; they pin their own coefficients down less)."""
        codes, ids, _ = self._unit_info
        d = self._design
        ch = d.chosen
        first = np.r_[True, np.diff(codes) != 0]
        starts = np.flatnonzero(first)
        n_cases = np.diff(np.r_[starts, len(codes)])
        same = np.ones(len(ids), dtype=bool)
        np.logical_and.at(same, codes, ch == ch[starts][codes])
        return pd.Series({"units": len(ids), "cases": d.n_cases,
                          "units_with_one_case": int((n_cases == 1).sum()),
                          "units_always_same_choice": int((same & (n_cases > 1)).sum()),
                          "draws_per_unit": self._n_draws}, name="units")

    def conditional_params(self, params: Any) -> pd.DataFrame:
        """Per-unit posterior means of every random coefficient (Revelt & Train 2000):
        :math:`\\hat\\beta_u = \\sum_r \\omega_{ur} \\beta(\\theta, z_{ur})` with the posterior
        shares :math:`\\omega_{ur} \\propto L_u(z_{ur})` of the unit's own choices.

        Returns
        -------
        DataFrame
            Index: unit ids; columns: the coefficients' slots (``"B*draw"`` terms combined
            into one column per random coefficient as it multiplies the data).
        """
        M = conditional_means(self._family, self.params_vector(params))
        cols = coefficient_columns(self._structure, self._design)
        return pd.DataFrame({name: M[:, idx].sum(axis=1) for name, idx in cols.items()},
                            index=self.unit_ids)

    def coefficient_draws(self, params: Any) -> dict[str, np.ndarray]:
        """Every coefficient at every unit's estimation draws: ``{name: (n_units, R)}``.

        Random ones are named as in :meth:`conditional_params` (a normal ``B + S * z`` under
        ``B``'s name, a lognormal one under its ``exp`` name, as a magnitude: its sign is the
        data multiplier's); fixed ones under their parameter's name."""
        theta = self.params_vector(params)
        fam = self._family
        C = fam.draw_coefficients(theta, fam.draws)  # (P, n_units, R)
        return {name: C[idx].sum(axis=0) for name, idx in self._coefficient_slots().items()}

    def _coefficient_slots(self) -> dict[str, list[int]]:
        """Slots of every coefficient (random ones combined as in conditional_params)."""
        s = self._structure
        cols = coefficient_columns(s, self._design)
        used = {p for idx in cols.values() for p in idx}
        for p in s.fixed_slots:  # fixed coefficients: constant over draws
            if int(p) not in used:
                cols[s.slot_names[int(p)]] = [int(p)]
        return cols

    def wtp_distribution(self, params: Any, cov: pd.DataFrame, attributes: Any, cost: str, *,
                         scale: float = 1.0, alpha: float = 0.05) -> pd.DataFrame:
        """Willingness to pay ``scale * beta_attribute / beta_cost`` of a random-coefficient
        model: its population mean (or median) with SE and confidence interval, in the
        columns of the MNL's ``res.wtp`` (:func:`~choicekit.postestimation.wtp.wtp_table`),
        and its distribution over the population, simulated with the estimation draws (each
        unit's draws of both coefficients, so correlated and lognormal coefficients keep their
        joint law).

        Returns
        -------
        DataFrame
            Index: attribute. As the MNL's: ``wtp`` (the mean of the WTP over units and draws;
            the median where the mean does not exist, see below), ``se`` (delta method, the
            draws held fixed), ``lower, upper`` (``wtp -/+ z se``, level ``1 - alpha``); then
            ``statistic`` (``"mean"`` or ``"median"``: what ``wtp`` is) and the distribution:
            ``mean, mean_se, sd, median, median_se`` and ``q_lo, q_hi`` (its ``alpha/2`` and
            ``1 - alpha/2`` quantiles over units and draws: the spread of tastes, not an
            uncertainty of the estimate). With a cost coefficient whose distribution reaches
            0 (a normal one) the ratio has no mean (a Cauchy-like tail): ``mean``,
            ``mean_se`` and ``sd`` are NaN, ``wtp`` is the median, and a warning says to use
            the median and quantiles, a lognormal cost or a WTP-space model.

        Notes
        -----
        With a fixed cost coefficient :math:`c` and an attribute coefficient of mean
        :math:`\\mu`, the mean WTP is :math:`\\mu / c` up to the draws' sample mean, and its
        SE the MNL's ratio SE: with every spread at 0 the table is the MNL's ``wtp, se,
        lower, upper``.
        """
        attrs = [attributes] if isinstance(attributes, str) else list(attributes)
        names = list(self.coefficient_draws(params))
        for a in [*attrs, cost]:
            if a not in names:
                raise SpecificationError(
                    f"wtp: {a!r} is not a coefficient of this mixed logit; its coefficients "
                    f"are {names}.")
        return wtp_distribution(self.coefficient_draws, self.params_vector(params),
                                cov.to_numpy(), ~self._structure.params.fixed, attrs, cost,
                                scale=scale, alpha=alpha)

    def surplus_change(self, params: Any, before: Design, after: Design, cost: str,
                       cost_scale: float = 1.0) -> np.ndarray:
        """Change in expected consumer surplus per case from ``before`` to ``after`` (designs
        of the same cases), with the cost coefficient per draw (Train 2009, ch. 6):
        :math:`\\frac1R \\sum_r (LS^1_{nr} - LS^0_{nr}) / \\lambda_{ur}`, :math:`\\lambda_{ur} =
        -c_{ur} \\cdot` ``cost_scale`` with :math:`c_{ur}` the coefficient ``cost`` (a name of
        :meth:`coefficient_draws`) at the unit's draw. A negative lognormal cost written
        ``-ck.exp(...) * cost`` has a positive coefficient (its sign is the data's): pass
        ``cost_scale=-1``. Draws at which :math:`\\lambda \\le 0` are warned about (no welfare
        meaning; a normal cost coefficient has them)."""
        slots = self._coefficient_slots()
        if cost not in slots:
            raise SpecificationError(
                f"Cost coefficient {cost!r} is not a coefficient of this mixed logit; its "
                f"coefficients are {list(slots)}.")
        if not (isinstance(cost_scale, (int, float)) and np.isfinite(cost_scale)
                and cost_scale != 0):
            raise SpecificationError(f"`cost_scale` must be a non-zero number. Got "
                                     f"{cost_scale!r}.")
        theta = self.params_vector(params)
        f0 = self.family(None if before is self._design else before)
        f1 = self.family(None if after is self._design else after)
        return surplus_change(f0, f1, theta, slots[cost], cost, cost_scale)

    def random_parameters_table(self, params: Any, cov: pd.DataFrame) -> pd.DataFrame:
        """The random parameters: per random coefficient its distribution, mean and spread
        parameters, and for a lognormal one the implied median, mean and SD of the
        coefficient (magnitude; its sign is the data multiplier's), with delta-method SEs
        from ``cov``. See :meth:`Results.random_parameters`."""
        return random_parameters_table(self._structure, self._design,
                                       self.params_vector(params), cov.to_numpy())

    def simulation_noise(self, params: Any, *, n_sets: int = 5, rng: Any = 1) -> pd.Series:
        """Simulation noise of the log-likelihood at ``params``: its SD over ``n_sets``
        independent sets of draws of the same type and number (seeds from ``rng``)."""
        check_int("n_sets", n_sets)
        if self._given is not None:
            raise SpecificationError("The noise needs new draws; these are user-given.")
        vec = self.params_vector(params)
        seeds = np.random.SeedSequence(seed_of(rng)).generate_state(n_sets)
        lls = []
        codes, ids, uw = self._unit_info
        s = self._structure
        for sd in seeds:
            z = make_draws(ids, self._n_draws, s.draw_names, s.draw_dists, self._draw_kind,
                           int(sd))
            fam = MixedFamily(self._design, structure=s, draws=z, case_unit=codes,
                              unit="group" if self._panel else "case", unit_weight=uw)
            lls.append(sum(fam.sums(vec, b, 0).loglike for b in fam.blocks()))
        lls = np.array(lls)
        return pd.Series({"loglike": self.loglike(vec), "mean_other_draws": lls.mean(),
                          "sd": lls.std(ddof=1) if n_sets > 1 else np.nan, "n_sets": n_sets,
                          "n_draws": self._n_draws}, name="simulation_noise")

    # ------------------------------------------------------------------ formula
    @classmethod
    def from_formula(cls, formula: str, data: ChoiceData, *, reference: Hashable | None = None,
                     missing: Literal["raise", "drop"] = "raise",
                     random: Mapping[str, str] | None = None,
                     correlated: bool | list[str] = False, **options: Any) -> MixedLogit:
        """A mixed logit from an mlogit-style formula with random generic coefficients.

        Parameters
        ----------
        random : dict
            ``{variable: "n" | "ln" | "u" | "t"}`` (mlogit's ``rpar``): normal ``x + sd:x *
            z``; lognormal ``exp(x + sd:x * z)`` (x and sd:x are the mean and SD of the log;
            negate the variable for a negative coefficient); uniform on ``x -/+ sd:x``;
            triangular on ``x -/+ sd:x``. Variables are part-1 (generic) terms.
        correlated : bool or list of str
            Correlated normal coefficients (all normal ones, or those listed): the Cholesky
            factor's entries ``chol:x:y`` (row x, column y; ``chol:x:x`` the diagonal) replace
            the spreads.
        **options
            ``n_draws``, ``draws``, ``panel``, ``rng``.
        """
        if not isinstance(data, ChoiceData):
            raise ChoiceDataError(f"`data` must be a ChoiceData. Got {type(data).__name__}.")
        utils, order = utilities_from_formula(formula, data, reference=reference)
        new, extra = random_coefficient_utilities(utils, order, random, correlated)
        return cls(data, new, missing=missing, _param_order=order + extra, **options)


def _fixed_slots_of(s: MixedStructure, fixed: np.ndarray) -> np.ndarray:
    """Slots whose coefficient is a fixed parameter (held in the MNL start too)."""
    out = np.zeros(len(s.slot_names), dtype=bool)
    lin = (s.kind == 0) & (s.lin_d < 0)
    out[lin] = fixed[s.lin_k[lin]]
    return out


def _reorder(s: MixedStructure, order: list[int]) -> MixedStructure:
    """The structure with its parameters in another order."""
    inv = np.empty(len(order), dtype=np.intp)
    inv[order] = np.arange(len(order))
    t = s.params
    table = ParamTable(tuple(t.names[k] for k in order), t.start[order], t.fixed[order],
                       t.lower[order], t.upper[order])
    lin_k = np.where(s.lin_k >= 0, inv[np.maximum(s.lin_k, 0)], -1)
    terms = tuple(tuple((int(inv[k]), d, c) for k, d, c in tt) for tt in s.exp_terms)
    return replace(s, params=table, betas=tuple(s.betas[k] for k in order), lin_k=lin_k,
                   exp_terms=terms, spread=s.spread[order])

