"""Willingness to pay and value of time: ratios of coefficients with their uncertainty.

Notes
-----
With utility :math:`V = \\beta_a a + \\beta_c c + \\dots` in an attribute :math:`a` and a cost
:math:`c`, the marginal rate of substitution between them (the amount of money that keeps
utility constant for a unit more of the attribute) is

.. math:: \\mathrm{WTP}_a = s\\,\\frac{\\beta_a}{\\beta_c},

reported here *without* a sign change, as mlogit does: for a "bad" such as travel time both
coefficients are negative and the ratio is the positive value of time. The factor :math:`s`
converts units, e.g. :math:`s = 60` for time in minutes and a value per hour, or the ratio of the
scalings when the utilities use ``Var("TT") / 100`` and ``Var("COST") / 100``.

**Delta method.** :math:`\\mathrm{Var}(\\hat\\theta) \\approx \\theta^2 \\big(
\\frac{v_{aa}}{\\beta_a^2} - \\frac{2 v_{ac}}{\\beta_a\\beta_c} + \\frac{v_{cc}}{\\beta_c^2}\\big)`
with the analytic gradient :math:`s\\,(1/\\beta_c, -\\beta_a/\\beta_c^2)`.

**Fieller's interval** is the set of :math:`\\theta` not rejected by the Wald test of
:math:`\\beta_a - \\theta\\beta_c = 0`: the solutions of
:math:`(\\beta_a - \\theta\\beta_c)^2 \\le z^2 (v_{aa} - 2\\theta v_{ac} + \\theta^2 v_{cc})`.
When the cost coefficient is not significant at level :math:`\\alpha`
(:math:`\\beta_c^2 < z^2 v_{cc}`) the set is unbounded and the bounds are reported as
:math:`\\mp\\infty` (or NaN for the union of two half-lines) — the delta-method interval is then
misleading (Fieller 1954; Hirschberg & Lye 2010).

References
----------
Fieller, E. C. (1954). Some problems in interval estimation. *JRSS B* 16(2), 175-185.
Hirschberg, J. & Lye, J. (2010). A geometric comparison of the delta and Fieller confidence
intervals. *The American Statistician* 64(3), 234-241.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., section 2.8 and 3.9.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from choicekit._validation import check_option, suggest
from choicekit._warnings import warn_user
from choicekit.exceptions import ChoiceKitWarning, SpecificationError
from choicekit.inference.delta import z_two_sided

__all__ = ["wtp_table", "fieller_interval", "WTP_METHODS"]

WTP_METHODS = ("delta", "fieller")


def fieller_interval(a: float, c: float, vaa: float, vac: float, vcc: float,
                     alpha: float = 0.05) -> tuple[float, float]:
    """Fieller confidence set of :math:`a / c` as ``(lower, upper)``.

    Returns ``(-inf, inf)`` when every ratio is accepted and ``(nan, nan)`` when the set is
    the complement of an interval (two half-lines).
    """
    z2 = z_two_sided(alpha) ** 2
    # (c^2 - z2 vcc) t^2 - 2 (a c - z2 vac) t + (a^2 - z2 vaa) <= 0
    A = c * c - z2 * vcc
    Bh = a * c - z2 * vac
    C = a * a - z2 * vaa
    disc = Bh * Bh - A * C
    if A > 0:
        if disc < 0:  # pragma: no cover - impossible when A > 0 and cov is PSD
            return (np.nan, np.nan)
        r = np.sqrt(disc)
        return ((Bh - r) / A, (Bh + r) / A)
    if disc < 0:
        return (-np.inf, np.inf)
    return (np.nan, np.nan)


def wtp_table(params: pd.Series, cov: pd.DataFrame, attributes: str | Sequence[str],
              cost: str, *, scale: float = 1.0, method: str = "delta",
              alpha: float = 0.05) -> pd.DataFrame:
    """Ratios ``scale * params[attribute] / params[cost]`` with SEs and confidence intervals.

    Parameters
    ----------
    params : Series
        Estimates by name.
    cov : DataFrame
        Their covariance (any estimator).
    attributes : str or sequence of str
        Numerator parameter(s).
    cost : str
        Denominator (cost) parameter.
    scale : float, default 1.0
        Unit conversion (e.g. 60 for minutes -> per hour).
    method : {"delta", "fieller"}, default "delta"
        Interval type; the standard error is the delta-method one in both cases.
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        Index: attribute; columns ``wtp, se, lower, upper``.
    """
    check_option("method", method, WTP_METHODS, SpecificationError)
    if not 0 < alpha < 1:
        raise SpecificationError(f"`alpha` must lie in (0, 1). Got {alpha!r}.")
    if not (isinstance(scale, (int, float, np.number)) and np.isfinite(scale) and scale != 0):
        raise SpecificationError(f"`scale` must be a non-zero finite number. Got {scale!r}.")
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    for nm in names + [cost]:
        if nm not in params.index:
            raise SpecificationError(f"Parameter {nm!r} is not in the model."
                                     f"{suggest(nm, params.index)} The parameters are "
                                     f"{list(params.index)}.")
    if cost in names:
        raise SpecificationError(f"The cost parameter {cost!r} is also listed as an attribute.")
    c = float(params[cost])
    vcc = float(cov.loc[cost, cost])
    if c == 0:
        raise SpecificationError(f"The cost coefficient {cost!r} is exactly 0; the ratio is "
                                 "undefined.")
    z = z_two_sided(alpha)
    rows = []
    unbounded = []
    for nm in names:
        a = float(params[nm])
        vaa, vac = float(cov.loc[nm, nm]), float(cov.loc[nm, cost])
        g = np.array([1.0 / c, -a / (c * c)])
        V = np.array([[vaa, vac], [vac, vcc]])
        se = abs(scale) * float(np.sqrt(max(g @ V @ g, 0.0)))
        est = scale * a / c
        if method == "delta":
            lo, hi = est - z * se, est + z * se
        else:
            lo, hi = fieller_interval(a, c, vaa, vac, vcc, alpha)
            lo, hi = scale * lo, scale * hi
            if scale < 0:
                lo, hi = hi, lo
            if not (np.isfinite(lo) and np.isfinite(hi)):
                unbounded.append(nm)
        rows.append((est, se, lo, hi))
    if unbounded:
        warn_user(
            f"Fieller confidence sets of {unbounded} are unbounded: the cost coefficient "
            f"{cost!r} is not significantly different from 0 at level {alpha}. The ratio is "
            "poorly determined; do not rely on delta-method intervals either.",
            ChoiceKitWarning)
    out = pd.DataFrame(rows, columns=["wtp", "se", "lower", "upper"],
                       index=pd.Index(names, name="attribute"))
    out.attrs["cost"] = cost
    out.attrs["scale"] = scale
    out.attrs["method"] = method
    return out
