"""Policy scenarios: change the data, predict shares before and after, and value the change.

A scenario is a change of some variables (a fare rise of 10% for one mode, a faster train in one
region): :func:`apply_changes` builds a *new* :class:`~choicekit.ChoiceData` (the user's frame
is never changed), and :func:`evaluate_scenario` compares predicted shares and the consumer
surplus of the two data sets at the estimates, with standard errors.

Notes
-----
**Consumer surplus** (Small & Rosen 1981; Train 2009, section 3.5). With a utility linear in
cost with coefficient :math:`\\beta_c` (so :math:`-\\beta_c` is the marginal utility of money),
the change in expected consumer surplus of case :math:`n` is the change in the logsum
(inclusive value) converted to money:

.. math:: \\Delta CS_n = \\frac{\\log\\sum_{j \\in A_n} e^{V^1_{nj}}
          - \\log\\sum_{j\\in A_n} e^{V^0_{nj}}}{-\\beta_c s},

where :math:`s` is the scale with which the cost enters the utility (``cost_scale``; e.g.
``0.01`` for ``B("B_COST") * Var("COST") / 100``). The unknown constant of the expected maximum
utility cancels in the difference. The total is :math:`\\sum_n w_n \\Delta CS_n` and the mean
divides by :math:`\\sum_n w_n`. Shares are sample enumerations
(:mod:`choicekit.postestimation.shares`).
Standard errors use the delta method or parametric simulation (:mod:`choicekit.inference.delta`).

References
----------
Small, K. A. & Rosen, H. S. (1981). Applied welfare economics with discrete choice models.
*Econometrica* 49(1), 105-130.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., section 3.5.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import check_option, suggest
from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData
from choicekit.exceptions import ChoiceDataError, ChoiceKitWarning, SpecificationError
from choicekit.inference.delta import DeltaResult, standard_errors
from choicekit.postestimation.shares import (
    PostContext,
    _segment_means,
    case_values,
    estimate_frame,
    segment_layout,
)

__all__ = ["HOW", "apply_changes", "ScenarioResult", "evaluate_scenario"]

HOW = ("multiply", "add", "set")


def _case_mask(cases: Any, data: ChoiceData) -> np.ndarray:
    """Boolean mask over the data's cases from a mask, a Series by case id or a column name
    (non-zero values; missing ones count as 0)."""
    values = case_values(cases, "cases", data)
    return np.nan_to_num(values) != 0 if isinstance(cases, str) else values.astype(bool)


def apply_changes(data: ChoiceData,
                  changes: Mapping[str, Any] | Callable[[ChoiceData], ChoiceData], *,
                  how: str = "multiply",
                  alternatives: Sequence[Hashable] | Hashable | None = None,
                  cases: Any = None) -> ChoiceData:
    """New choice data with some variables changed.

    Parameters
    ----------
    data : ChoiceData
    changes : mapping or callable
        ``{variable: change}`` where a change is a number or array (combined with the current
        values by ``how``) or a function of the current values returning new values; or a
        function ``data -> ChoiceData`` for full control (``alternatives`` and ``cases`` do not
        apply then).
    how : {"multiply", "add", "set"}, default "multiply"
        How a numeric change combines with the current values.
    alternatives : label or sequence, optional
        Change alternative-varying variables only for these alternatives.
    cases : bool array, Series by case id, or column name, optional
        Change only these cases (a segment).

    Returns
    -------
    ChoiceData
    """
    check_option("how", how, HOW, SpecificationError)
    if callable(changes) and not isinstance(changes, Mapping):
        if alternatives is not None or cases is not None:
            raise SpecificationError("`alternatives` and `cases` apply to a mapping of changes, "
                                     "not to a function of the data.")
        out = changes(data)
        if not isinstance(out, ChoiceData):
            raise SpecificationError("A scenario function must return a ChoiceData (e.g. "
                                     f"data.with_variables(...)); got {type(out).__name__}.")
        return out
    if not isinstance(changes, Mapping) or not changes:
        raise SpecificationError("`changes` must be a non-empty mapping {variable: change} or a "
                                 "function of the data.")
    alt_idx = None
    if alternatives is not None:
        alts = list(data.alternatives)
        if isinstance(alternatives, (str, int)) or not isinstance(alternatives, Sequence):
            alternatives = [alternatives]
        unknown = [a for a in alternatives if a not in alts]
        if unknown:
            raise SpecificationError(f"Unknown alternatives {unknown}"
                                     f"{suggest(str(unknown[0]), alts) or '.'} The alternatives "
                                     f"are {alts}.")
        alt_idx = [alts.index(a) for a in alternatives]
    rows = None if cases is None else _case_mask(cases, data)
    new_values = {}
    for name, change in changes.items():
        x = np.asarray(data.variable(name), dtype=np.float64)
        if x.ndim == 1 and alt_idx is not None:
            raise SpecificationError(
                f"Variable {name!r} is case-level (one value per case), so `alternatives` cannot "
                "restrict it; change the column that belongs to the alternative, or use `cases`."
            )
        if callable(change):
            target = np.asarray(change(x.copy()), dtype=np.float64)
        else:
            c = np.asarray(change, dtype=np.float64)
            if how == "multiply":
                target = x * c
            elif how == "add":
                target = x + c
            else:
                target = np.broadcast_to(c, x.shape) + 0.0
        try:
            target = np.broadcast_to(target, x.shape)
        except ValueError:
            raise SpecificationError(f"The change of {name!r} has shape {np.shape(target)}; the "
                                     f"variable has shape {x.shape}.") from None
        sel = np.ones(x.shape, dtype=bool)
        if alt_idx is not None:
            sel[:] = False
            sel[:, alt_idx] = True
        if rows is not None:
            sel &= rows[:, None] if x.ndim == 2 else rows
        new_values[name] = np.where(sel, target, x)
    return data.with_variables(new_values)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ScenarioResult:
    """Shares and consumer surplus before and after a change.

    Attributes
    ----------
    shares : pandas.DataFrame
        Index: alternative (or (segment, alternative)); columns ``before, after, change``
        (predicted shares, sample enumeration) and ``se, lower, upper`` of the change.
    surplus : pandas.DataFrame or None
        Rows ``mean`` (per case) and ``total`` (weighted sum) of the consumer-surplus change
        (per segment with ``by``),
        columns ``estimate, se, lower, upper``; None without a cost coefficient.
    surplus_per_case : pandas.Series or None
        :math:`\\Delta CS_n` per case at the estimates.
    data : ChoiceData
        The changed data.
    result : DeltaResult
        Flat estimates ``[before, after, change (S x J each), cs mean (S), cs total (S)]``
        over ``S`` segments and their covariance.
    """

    shares: pd.DataFrame
    surplus: pd.DataFrame | None
    surplus_per_case: pd.Series | None
    data: ChoiceData
    result: DeltaResult

    def __repr__(self) -> str:
        text = f"ScenarioResult\nshares:\n{self.shares!r}"
        if self.surplus is not None:
            text += f"\nconsumer surplus change:\n{self.surplus!r}"
        return text


def evaluate_scenario(ctx: PostContext, new_data: ChoiceData, *, cost: str | None = None,
                      cost_scale: float = 1.0, by: Any = None, se: str = "delta",
                      alpha: float = 0.05, n_draws: int = 1000, rng: Any = None
                      ) -> ScenarioResult:
    """Compare predicted shares and consumer surplus on ``ctx.data`` and ``new_data``.

    With ``by`` (segments, see :func:`choicekit.postestimation.shares.segment_codes`) the shares
    and the
    surplus are reported per segment.
    """
    d0 = ctx.design
    d1 = ctx.model._design_for(new_data)
    if d1.n_cases != d0.n_cases or not d1.cases.equals(d0.cases):
        raise ChoiceDataError(
            f"The changed data keep {d1.n_cases} cases, the original {d0.n_cases}: the change "
            "made some variables missing or non-finite. Check the new values."
        )
    k_cost = None
    per_draw = getattr(ctx.model, "surplus_change", None)
    if cost is not None and per_draw is not None:
        # random coefficients: the cost coefficient per draw (the model checks the name)
        k_cost = -1
        per_draw(ctx.beta, d0, d0, cost, cost_scale)
    elif cost is not None:
        names = list(ctx.param_names)
        if cost not in names:
            raise SpecificationError(f"Cost parameter {cost!r} is not in the model."
                                     f"{suggest(cost, names)} The parameters are {names}.")
        if not (isinstance(cost_scale, (int, float)) and np.isfinite(cost_scale)
                and cost_scale != 0):
            raise SpecificationError(f"`cost_scale` must be a non-zero number. Got "
                                     f"{cost_scale!r}.")
        k_cost = names.index(cost)
        if ctx.beta[k_cost] * cost_scale >= 0:
            warn_user(
                f"The cost coefficient {cost!r} times cost_scale is "
                f"{ctx.beta[k_cost] * cost_scale:.4g} >= 0: the marginal utility of money is "
                "not positive, so the consumer-surplus change has no welfare meaning.",
                ChoiceKitWarning)
    w = ctx.weight
    codes, labels, S, index = segment_layout(by, ctx)
    W = np.bincount(codes, weights=w, minlength=S)

    def cs_cases(beta: np.ndarray) -> np.ndarray:
        if per_draw is not None:
            return per_draw(beta, d0, d1, cost, cost_scale)
        lam = -beta[k_cost] * cost_scale
        return (ctx.logsum(beta, d1) - ctx.logsum(beta, d0)) / lam

    def f(beta: np.ndarray) -> np.ndarray:
        S0 = _segment_means(ctx.proba(beta, d0), w, codes, S)
        S1 = _segment_means(ctx.proba(beta, d1), w, codes, S)
        parts = [S0.ravel(), S1.ravel(), (S1 - S0).ravel()]
        if k_cost is not None:
            tot = np.bincount(codes, weights=w * cs_cases(beta), minlength=S)
            parts += [tot / W, tot]
        return np.concatenate(parts)

    r = standard_errors(f, ctx.beta, ctx.cov, ctx.free, method=se, n_draws=n_draws, rng=rng)
    m = S * d0.n_alts
    ch = estimate_frame(_sub(r, slice(2 * m, 3 * m)), index, alpha, "change")
    shares = pd.DataFrame({"before": r.estimate[:m], "after": r.estimate[m:2 * m]},
                          index=index)
    shares = shares.join(ch)
    surplus = per_case = None
    if k_cost is not None:
        stat = pd.Index(["mean", "total"], name="consumer_surplus")
        sub = _sub(r, slice(3 * m, 3 * m + 2 * S))
        if labels is None:
            surplus = estimate_frame(sub, stat, alpha)
        else:
            order = np.arange(2 * S).reshape(2, S).T.ravel()  # segment-major rows
            sub = DeltaResult(sub.estimate[order], sub.cov[np.ix_(order, order)], sub.method,
                              None if sub.draws is None else sub.draws[:, order])
            surplus = estimate_frame(sub, pd.MultiIndex.from_product([labels, stat]), alpha)
        per_case = pd.Series(cs_cases(ctx.beta), index=d0.cases, name="consumer_surplus")
    return ScenarioResult(shares, surplus, per_case, new_data, r)


def _sub(r: DeltaResult, sl: slice) -> DeltaResult:
    return DeltaResult(r.estimate[sl], r.cov[sl, sl], r.method,
                       None if r.draws is None else r.draws[:, sl])
