"""Classical tests after estimation: likelihood ratio, Wald, score (LM), Hausman-McFadden IIA.

Notes
-----
* **Likelihood ratio** between nested fits on the same data:
  :math:`LR = 2(\\ell_u - \\ell_r) \\sim \\chi^2_{K_u - K_r}` under the restriction.
* **Wald** test of linear restrictions :math:`R\\beta = q` (written as strings, see
  :mod:`choicekit.inference.restrictions`): :math:`W = (R\\hat\\beta - q)'(R\\hat V R')^{-1}
  (R\\hat\\beta - q) \\sim \\chi^2_m`, with :math:`\\hat V` of any covariance type.
* **Score (Lagrange multiplier)** test: the unrestricted model's score :math:`g` and Hessian
  :math:`H` at the restricted estimates (extra parameters at 0),
  :math:`LM = g'(-H)^{-1}g \\sim \\chi^2_{K_u - K_r}`.
* **Hausman-McFadden** (1984) test of the independence of irrelevant alternatives: under IIA the
  coefficients estimated on a subset of alternatives (cases choosing a dropped alternative
  removed) are consistent, and efficient estimates on the full set differ from them only by
  noise: :math:`HM = (\\hat\\beta_s - \\hat\\beta_f)'(\\hat V_s - \\hat V_f)^{-1}
  (\\hat\\beta_s - \\hat\\beta_f) \\sim \\chi^2_{m}` over the :math:`m` coefficients common to
  both fits (matched by name, as mlogit's ``hmftest``). :math:`\\hat V_s - \\hat V_f` need not
  be positive definite in a finite sample; the statistic can then be negative, which is reported
  with a warning (p-value 1, as mlogit prints).

References
----------
Hausman, J. & McFadden, D. (1984). Specification tests for the multinomial logit model.
*Econometrica* 52(5), 1219-1240.
Croissant, Y. (2020). Estimation of random utility models in R: the mlogit package. *JSS* 95(11).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from choicekit._lazy import special
from choicekit._warnings import warn_user
from choicekit.design.build import build_design
from choicekit.exceptions import ChoiceKitWarning, DataWarning, SpecificationError
from choicekit.inference.covariance import sym_inverse
from choicekit.inference.restrictions import parse_restrictions
from choicekit.spec.expressions import Beta, Specification, Utility

if TYPE_CHECKING:
    from choicekit.results.results import MNLResults

__all__ = ["TestResult", "lr_test", "wald_test", "score_test", "hausman_mcfadden",
           "subset_fit"]


@dataclass(frozen=True)
class TestResult:
    """A chi-square test.

    Attributes
    ----------
    name : str
    statistic : float
    df : int
    pvalue : float
        ``chi2.sf(statistic, df)``.
    details : dict
        Test-specific extras (restrictions, compared parameters, log-likelihoods...).
    """

    __test__ = False  # not a pytest class

    name: str
    statistic: float
    df: int
    pvalue: float
    details: dict[str, Any]

    def __repr__(self) -> str:
        return (f"<{self.name}: statistic={self.statistic:.4f}, df={self.df}, "
                f"p-value={self.pvalue:.4g}>")

    def as_series(self) -> pd.Series:
        """``statistic, df, pvalue`` as a Series named after the test."""
        return pd.Series({"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue},
                         name=self.name)


def _chi2(name: str, stat: float, df: int, **details: Any) -> TestResult:
    # the chi-square tail (what stats.chi2.sf computes); 1 for a negative statistic, as there
    p = float(special.chdtrc(df, max(stat, 0.0))) if np.isfinite(stat) else np.nan
    return TestResult(name, float(stat), int(df), p, details)


def _weights(design: Any) -> np.ndarray:
    return np.ones(design.n_cases) if design.weight is None else design.weight


def _same_data(a: MNLResults, b: MNLResults) -> bool:
    da, db = a._core.objective.design, b._core.objective.design
    if da.n_cases != db.n_cases or not da.cases.equals(db.cases):
        return False
    if not np.array_equal(da.chosen, db.chosen):
        return False
    return bool(np.allclose(_weights(da), _weights(db)))


def _free_names(res: MNLResults) -> list[str]:
    return [n for n, f in zip(res.param_names, res.fixed) if not f]


def lr_test(a: MNLResults, b: MNLResults, *, check_names: bool = True) -> TestResult:
    """Likelihood-ratio test between two nested fits (order does not matter).

    Parameters
    ----------
    a, b : MNLResults
        Fits on the same cases, choices and weights. The one with fewer estimated parameters is
        the restricted model.
    check_names : bool, default True
        Require the restricted model's estimated parameters to be a subset of the unrestricted
        model's (nesting by exclusion). Pass False for other nestings, e.g. a restricted model
        that uses a combination of variables (``lcc = ic + oc / 0.12``).

    Returns
    -------
    TestResult
        ``details``: ``llf_restricted``, ``llf_unrestricted``.
    """
    if not _same_data(a, b):
        raise SpecificationError(
            "The two fits do not use the same cases, choices and weights "
            f"({a.nobs} and {b.nobs} cases); a likelihood-ratio test needs nested models "
            "estimated on the same data."
        )
    if a.df_model == b.df_model:
        raise SpecificationError(f"Both fits estimate {a.df_model} parameters: they cannot be "
                                 "nested. A likelihood-ratio test needs a restricted model with "
                                 "fewer parameters.")
    r, u = (a, b) if a.df_model < b.df_model else (b, a)
    if check_names:
        extra = sorted(set(_free_names(r)) - set(_free_names(u)))
        if extra:
            raise SpecificationError(
                f"The restricted model estimates parameters {extra} that the unrestricted model "
                "does not have, so nesting cannot be checked by name. If it is nested by a "
                "linear restriction, pass check_names=False."
            )
    tol = 1e-6 * max(1.0, abs(u.llf))
    if r.llf > u.llf + tol:
        warn_user(
            f"The restricted model fits better (LL {r.llf:.4f}) than the unrestricted one "
            f"(LL {u.llf:.4f}): the models are not nested or a fit did not converge.",
            ChoiceKitWarning)
    if "sampling" in (getattr(a, "weight_type", None), getattr(b, "weight_type", None)):
        warn_user(
            "These fits use sampling weights (WESML): twice the difference of their weighted "
            "log-likelihoods is not chi-squared, so this p-value is not valid. Test the "
            "restrictions with a Wald test on the robust covariance (res.wald_test(...)).",
            ChoiceKitWarning)
    stat = 2.0 * (u.llf - r.llf)
    return _chi2("likelihood-ratio test", stat, u.df_model - r.df_model,
                 llf_restricted=r.llf, llf_unrestricted=u.llf)


def wald_test(res: MNLResults, restrictions: str | Sequence[str]) -> TestResult:
    """Wald test of linear restrictions ``R beta = q`` given as strings.

    Parameters
    ----------
    res : MNLResults
        Uses ``res.cov_params()`` (any covariance type).
    restrictions : str or list of str
        E.g. ``"b_time = b_cost"``, ``["asc_car = 0", "2*b1 - b2 = 1"]``; commas separate
        restrictions in one string.

    Returns
    -------
    TestResult
        ``details``: ``R``, ``q``, ``restrictions``, ``values`` (:math:`R\\hat\\beta - q`).
    """
    names = res.param_names
    R, q, texts = parse_restrictions(restrictions, names)
    fixed = res.fixed.to_numpy()
    touches_fixed = (np.abs(R[:, fixed]) > 0).any(axis=1)
    if touches_fixed.any():
        bad = [t for t, b in zip(texts, touches_fixed) if b]
        raise SpecificationError(f"Restrictions {bad} involve fixed parameters "
                                 f"{[n for n, f in zip(names, fixed) if f]}, which have no "
                                 "variance.")
    b = res.params.to_numpy()
    V = res.cov_params().to_numpy()
    diff = R @ b - q
    M = R @ V @ R.T
    if np.isnan(M).any():
        raise SpecificationError("The covariance of the restricted combination is NaN "
                                 "(unidentified parameters).")
    rank = np.linalg.matrix_rank(M)
    if rank < len(q):
        raise SpecificationError(f"The {len(q)} restrictions are linearly dependent (rank "
                                 f"{rank}); drop the redundant ones.")
    stat = float(diff @ np.linalg.solve(M, diff))
    return _chi2("Wald test", stat, len(q), R=R, q=q, restrictions=texts, values=diff,
                 cov_type=res.cov_type)


def score_test(restricted: MNLResults, unrestricted: Any) -> TestResult:
    """Score (Lagrange multiplier) test of a restricted fit against a larger model.

    Parameters
    ----------
    restricted : MNLResults
        The restricted fit.
    unrestricted : MNL or MNLResults
        The larger model (only its likelihood is used; it need not be estimated). Its
        parameters absent from the restricted fit are evaluated at 0.

    Returns
    -------
    TestResult
    """
    # a results object has a model; a model has a design
    model = unrestricted.model if hasattr(unrestricted, "model") else unrestricted
    if model.design.n_cases != restricted.nobs or not np.array_equal(
            model.design.chosen, restricted._core.objective.design.chosen):
        raise SpecificationError("The restricted fit and the larger model do not use the same "
                                 "cases and choices.")
    rp = restricted.params
    names = model.param_names
    extra = sorted(set(_free_names(restricted)) - set(names))
    if extra:
        raise SpecificationError(f"The restricted fit has parameters {extra} that the larger "
                                 "model lacks.")
    fixed = model.param_table.fixed
    beta = np.array([rp.get(n, 0.0) if not f else model.param_table.start[i]
                     for i, (n, f) in enumerate(zip(names, fixed))])
    g = model.score(beta).to_numpy()[~fixed]
    H = model.hessian(beta).to_numpy()[np.ix_(~fixed, ~fixed)]
    stat = float(g @ np.linalg.solve(-H, g))
    df = int((~fixed).sum()) - restricted.df_model
    return _chi2("score test", stat, df)


def subset_fit(res: MNLResults, alternatives: Sequence[Hashable], **fit_kwargs: Any
               ) -> MNLResults:
    """Re-estimate ``res``'s model on a subset of alternatives (Hausman-McFadden's restricted
    choice set): other alternatives unavailable, cases that chose them dropped; parameters
    whose data vanish on the subset are held at 0.
    """

    model = res.model
    data = model.data.restrict_alternatives(alternatives)  # type: ignore[attr-defined]
    # the utilities of the kept alternatives: a parameter only in removed ones disappears
    spec = Specification.from_mapping(
        {a: model.specification.utilities[a] for a in data.alternatives}, data.alternatives)
    with warnings.catch_warnings():  # the rebuilt model below says it once, at the user's line
        warnings.simplefilter("ignore", DataWarning)
        design = build_design(data, spec, missing=model._missing)
    vanish = {n for k, n in enumerate(design.param_names)
              if not design.fixed[k] and not np.any(design.column(k))}
    utils = {}
    for alt, u in spec.utilities.items():
        terms = {n: ((Beta(n, 0.0, fixed=True), m) if n in vanish else (b, m))
                 for n, (b, m) in u.terms.items()}
        utils[alt] = Utility(terms, u.offset)
    sub = model.rebuild(data, utils, param_order=model.param_names)
    start = res.params.where(~res.params.index.isin(sorted(vanish)), 0.0)
    start = start[start.index.isin(sub.param_names)]
    free = ~sub.param_table.fixed
    H = sub.hessian(start).to_numpy()[np.ix_(free, free)]
    free_names = list(np.asarray(sub.param_names)[free])
    inv = sym_inverse(-H, free_names, warn=False)
    if inv.unidentified:
        bad = [str(free_names[k]) for k in inv.unidentified]
        raise SpecificationError(
            f"On the alternatives {list(alternatives)} the parameters {bad} are not identified "
            "(e.g. the dropped alternative is the reference of the constants). Keep the "
            "reference alternative in the subset, or refit the full model with a reference "
            "that stays."
        )
    kwargs = {"cov_type": res.cov_type if res.cov_type in ("robust", "opg") else "classical"}
    kwargs.update(fit_kwargs)
    return sub.fit(start=start, **kwargs)


def hausman_mcfadden(full: MNLResults, subset: MNLResults | Sequence[Hashable]) -> TestResult:
    """Hausman-McFadden test of IIA.

    Parameters
    ----------
    full : MNLResults
        Fit on the full choice set.
    subset : MNLResults or sequence of alternatives
        A fit on a subset of alternatives, or the alternatives to keep (the subset model is
        then estimated by :func:`subset_fit`).

    Returns
    -------
    TestResult
        ``details``: ``compared`` (parameter names), ``difference`` (subset - full),
        ``subset_results``.
    """
    sub = subset if hasattr(subset, "cov_params") else subset_fit(full, list(subset))
    fs, ss = set(_free_names(full)), set(_free_names(sub))
    cov_s = sub.cov_params()
    common = [n for n in sub.param_names if n in fs and n in ss
              and np.isfinite(cov_s.loc[n, n])]
    if not common:
        raise SpecificationError("The two fits have no estimated coefficient in common (by "
                                 "name); nothing to compare.")
    d = sub.params[common].to_numpy() - full.params[common].to_numpy()
    Vd = cov_s.loc[common, common].to_numpy() - full.cov_params().loc[common, common].to_numpy()
    stat = float(d @ np.linalg.solve(Vd, d))
    evals = np.linalg.eigvalsh(0.5 * (Vd + Vd.T))
    if evals.min() <= 0:
        warn_user(
            "The difference of the covariance matrices (subset - full) is not positive "
            f"definite (smallest eigenvalue {evals.min():.3g}); the Hausman-McFadden statistic "
            f"({stat:.4g}) is not a valid chi-square draw. Check that both fits use the same "
            "normalisation (reference alternative) and covariance type.",
            ChoiceKitWarning)
    return _chi2("Hausman-McFadden IIA test", stat, len(common), compared=common,
                 difference=pd.Series(d, index=common), subset_results=sub)

