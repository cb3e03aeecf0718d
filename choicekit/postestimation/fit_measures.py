"""Goodness of fit: market-share null model, hit rate, confusion table, holdout log-likelihood.

Notes
-----
* **Market-share (constants-only) model.** The logit with only alternative-specific constants
  reproduces the observed (weighted) shares. When every alternative is available in every case
  its log-likelihood has the closed form :math:`\\ell_{MS} = \\sum_n w_n \\log \\bar y_{c_n}`,
  :math:`\\bar y_j` the weighted share of :math:`j`; with varying availability it is estimated.
  McFadden's :math:`\\rho^2` against it is :math:`1 - \\ell(\\hat\\beta) / \\ell_{MS}` (mlogit's
  "McFadden R^2"; :attr:`MNLResults.rho_squared` uses the equal-shares null instead).
* **Hit rate**: weighted share of cases whose most probable alternative is the chosen one.
  The *expected* hit rate is the mean probability of the chosen alternative.
* **Confusion table**: rows are the observed alternatives, columns the predicted ones — either
  counts of the most probable alternative (``"argmax"``) or sums of probabilities
  (``"probability"``, whose row sums are the observed counts and column sums the predicted
  counts).
* **Holdout log-likelihood**: :math:`\\sum_n w_n \\log P_{n c_n}(\\hat\\beta)` on cases not used
  in estimation (out-of-sample validation), with its per-case mean and the :math:`\\rho^2`
  against equal shares on those cases.

References
----------
Ben-Akiva, M. & Lerman, S. R. (1985). *Discrete Choice Analysis*, section 7.5.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from choicekit._validation import check_option
from choicekit.design.linear import Design
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import maximize_loglike
from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.postestimation.shares import PostContext, case_weights

__all__ = ["loglike_market_share", "hit_rate", "confusion_table", "holdout_fit",
           "CONFUSION_KINDS"]

CONFUSION_KINDS = ("probability", "argmax")


def _require_choices(d: Design, what: str) -> np.ndarray:
    if d.chosen is None:
        raise ChoiceDataError(f"These data carry no observed choices; {what} needs them.")
    return d.chosen


def loglike_market_share(design: Design) -> float:
    """Log-likelihood of the constants-only (market-share) logit on ``design``'s cases."""
    chosen = _require_choices(design, "the market-share log-likelihood")
    if design.slot_alts is not None:
        raise ChoiceDataError(
            "The market-share (constants-only) model is not computed on choice sets stored per "
            f"case (sampled or sparse sets over {len(design.alternatives)} alternatives): it "
            "needs a constant for every alternative, and on sampled sets the observed shares "
            "are those of the sample. Use `llnull` (equal shares within each set) instead.")
    w = case_weights(design)
    J = design.n_alts
    counts = np.bincount(chosen, weights=w, minlength=J)
    if design.avail.all():
        share = counts / w.sum()
        with np.errstate(divide="ignore"):
            return float(w @ np.log(share[chosen]))
    # varying choice sets: estimate J - 1 constants (reference: the most chosen alternative;
    # alternatives never chosen get no constant and probability -> 0 is not attainable, so
    # they are left with constant 0 relative to the reference)
    ref = int(np.argmax(counts))
    others = [j for j in range(J) if j != ref and counts[j] > 0]
    K = len(others)
    d = replace(design, columns=np.zeros((0, J, design.n_cases)), stored=np.zeros(0, np.intp),
                constants=np.arange(K), constant_alts=np.array(others, dtype=np.intp),
                specific=np.zeros(0, np.intp), specific_alts=np.zeros(0, np.intp),
                specific_values=np.zeros((0, design.n_cases)),
                offset=None, param_names=tuple(f"ASC{j}" for j in others),
                start=np.zeros(K), fixed=np.zeros(K, dtype=bool), lower=np.full(K, -np.inf),
                upper=np.full(K, np.inf))
    obj = Objective(d, np.zeros(K))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = maximize_loglike(obj, np.zeros(K), method="newton", maxiter=500, gtol=1e-10)
    return float(opt.loglike)


def _hit_rate(P: np.ndarray, chosen: np.ndarray, w: np.ndarray) -> float:
    """Weighted share of cases whose most probable alternative is the chosen one."""
    return float(w @ (P.argmax(axis=1) == chosen) / w.sum())


def hit_rate(ctx: PostContext) -> pd.Series:
    """Hit rate and expected hit rate (weighted), as a Series."""
    d = ctx.design
    chosen = _require_choices(d, "a hit rate")
    P = ctx.proba(ctx.beta, d)
    w = ctx.weight
    rows = np.arange(d.n_cases)
    return pd.Series({"hit_rate": _hit_rate(P, chosen, w),
                      "expected_hit_rate": float(w @ P[rows, chosen] / w.sum()),
                      "n_cases": d.n_cases}, name="hit_rate")


def confusion_table(ctx: PostContext, *, kind: str = "probability") -> pd.DataFrame:
    """Observed (rows) by predicted (columns) alternatives, weighted, with totals."""
    check_option("kind", kind, CONFUSION_KINDS, SpecificationError)
    d = ctx.design
    chosen = _require_choices(d, "a confusion table")
    P = ctx.proba(ctx.beta, d)
    w = ctx.weight
    J = d.n_alts
    if kind == "argmax":
        pred = np.zeros_like(P)
        pred[np.arange(d.n_cases), P.argmax(axis=1)] = 1.0
    else:
        pred = P
    table = np.zeros((J, J))
    np.add.at(table, chosen, pred * w[:, None])
    alts = list(d.alternatives)
    out = pd.DataFrame(table, index=pd.Index(alts, name="observed"),
                       columns=pd.Index(alts, name="predicted"))
    out["total"] = out.sum(axis=1)
    out.loc["total"] = out.sum(axis=0)
    return out


def holdout_fit(ctx: PostContext) -> pd.Series:
    """Out-of-sample fit on ``ctx``'s data at the estimates."""
    d = ctx.design
    chosen = _require_choices(d, "a holdout log-likelihood")
    P = ctx.proba(ctx.beta, d)
    w = ctx.weight
    with np.errstate(divide="ignore"):
        ll = float(w @ np.log(P[np.arange(d.n_cases), chosen]))
    ll0 = float(w @ -np.log(d.avail.sum(axis=1)))
    return pd.Series({"loglike": ll, "n_cases": d.n_cases, "loglike_per_case": ll / w.sum(),
                      "llnull": ll0, "rho_squared": 1.0 - ll / ll0,
                      "hit_rate": _hit_rate(P, chosen, w)}, name="holdout")
