"""Post-estimation of random-coefficient models at every draw: posterior (conditional) means,
the distribution of willingness to pay, consumer surplus with the cost coefficient per draw,
and the random parameters table.

Plain functions on a :class:`~choicekit.families.mixed.family.MixedFamily` (its design,
structure and draws) and parameter vectors; :class:`~choicekit.MixedLogit` orchestrates them
(names, validation, the family of a design). Every quantity uses each unit's estimation draws
of all its coefficients together, so correlated and lognormal coefficients keep their joint
law.

References
----------
Revelt, D. & Train, K. (2000). Customer-specific taste parameters and mixed logit. Working
paper E00-274, UC Berkeley.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 6 (surplus) and 11
(conditional distributions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from choicekit._warnings import warn_user
from choicekit.design.linear import Design
from choicekit.exceptions import MixedLogitWarning
from choicekit.families.mixed.family import MixedFamily
from choicekit.families.mixed.structure import MixedStructure
from choicekit.inference.delta import standard_errors, z_two_sided

__all__ = ["coefficient_columns", "unit_draw_loglike", "conditional_means",
           "wtp_distribution", "surplus_change", "random_parameters_table"]


def coefficient_columns(s: MixedStructure, design: Design) -> dict[str, list[int]]:
    """Random coefficients as they multiply the data: a draw slot joins the fixed slot with the
    same design column (a normal ``B + S * z`` is one column named ``B``); other slots (exp,
    or draw terms with a column of their own) stand alone under their slot names."""
    cols: dict[str, list[int]] = {}
    fixed = list(s.fixed_slots)
    fixed_cols = {int(q): design.column(int(q)) for q in fixed}
    for p in s.random_slots:
        p = int(p)
        home = None
        if s.kind[p] == 0:
            col = design.column(p)
            home = next((q for q in fixed if np.array_equal(fixed_cols[int(q)], col)), None)
        if home is None:
            cols.setdefault(s.slot_names[p], []).append(p)
        else:
            name = s.slot_names[int(home)]
            cols.setdefault(name, [int(home)]).append(p)
    return cols


def unit_draw_loglike(fam: MixedFamily, theta: np.ndarray, rows: slice) -> np.ndarray:
    """``(n_u, R)`` log-likelihood of each unit's choices at each of its draws."""
    d = fam.design
    start, stop, u0, u1 = fam._units_of(rows)
    V, _ = fam._utilities(theta, rows, fam.draws[:, u0:u1, :])
    t = np.arange(stop - start)
    Vc = V[t, :, d.chosen[start:stop]]
    _, lse = fam._log_softmax(V)
    return np.add.reduceat(Vc - lse[:, :, 0], fam.unit_start[u0:u1] - start, axis=0)


def conditional_means(fam: MixedFamily, theta: np.ndarray) -> np.ndarray:
    """Per-unit posterior means of every slot's coefficient ``(n_units, P)`` (Revelt & Train
    2000).

    Notes
    -----
    :math:`\\hat c_u = \\sum_r \\omega_{ur} c(\\theta, z_{ur})` with the posterior shares
    :math:`\\omega_{ur} \\propto L_u(z_{ur})` of the unit's own choices.
    """
    out = []
    for b in fam.unit_blocks():
        _, _, u0, u1 = fam._units_of(b)
        lu = unit_draw_loglike(fam, theta, b)
        w = np.exp(lu - lu.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        C = fam.draw_coefficients(theta, fam.draws[:, u0:u1, :])  # (P, n_u, R)
        out.append(np.einsum("pur,ur->up", C, w))
    return np.concatenate(out)


def wtp_distribution(draws_of: Callable[[np.ndarray], dict[str, np.ndarray]],
                     vec: np.ndarray, cov: np.ndarray, free: np.ndarray,
                     attributes: Sequence[str], cost: str, *, scale: float = 1.0,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Willingness to pay ``scale * beta_attribute / beta_cost`` over the population, from
    ``draws_of(vec)``, every coefficient at every unit's draws (``{name: (n_units, R)}``), with
    delta-method SEs from ``cov`` over the ``free`` parameters (the draws held fixed).

    Returns
    -------
    DataFrame
        Index: attribute; columns ``wtp, se, lower, upper, statistic, mean, mean_se, sd,
        median, median_se, q_lo, q_hi`` (see :meth:`MixedLogit.wtp_distribution`).

    Notes
    -----
    ``wtp`` is the mean of the ratio over units and draws, or its median where the cost
    coefficient takes both signs over the draws: the ratio then has no mean (its tails are
    Cauchy-like), so ``mean``, ``mean_se`` and ``sd`` are NaN and a
    :class:`~choicekit.MixedLogitWarning` is issued.
    """
    attrs = list(attributes)
    k = len(attrs)

    def stats(v: np.ndarray) -> np.ndarray:
        co = draws_of(v)
        c = co[cost].ravel()
        out = np.empty((k, 5))
        for i, a in enumerate(attrs):
            w = scale * co[a].ravel() / c
            out[i] = [w.mean(), w.std(), np.median(w), np.quantile(w, alpha / 2),
                      np.quantile(w, 1 - alpha / 2)]
        return out

    est = stats(vec)
    c0 = draws_of(vec)[cost]
    crosses = bool((c0 > 0).any() and (c0 < 0).any())
    r = standard_errors(lambda v: stats(v)[:, [0, 2]].ravel(), vec, cov, free, method="delta")
    se = np.sqrt(np.maximum(np.diag(r.cov), 0.0)).reshape(k, 2)
    if crosses:
        est[:, [0, 1]] = np.nan
        se[:, 0] = np.nan
    at = 2 if crosses else 0  # the median where the mean does not exist
    z = z_two_sided(alpha)
    frame = pd.DataFrame(
        {"wtp": est[:, at], "se": se[:, at // 2], "lower": est[:, at] - z * se[:, at // 2],
         "upper": est[:, at] + z * se[:, at // 2],
         "statistic": "median" if crosses else "mean",
         "mean": est[:, 0], "mean_se": se[:, 0], "sd": est[:, 1], "median": est[:, 2],
         "median_se": se[:, 1], "q_lo": est[:, 3], "q_hi": est[:, 4]},
        index=pd.Index(attrs, name="attribute"))
    if crosses:
        warn_user(
            f"The cost coefficient {cost!r} takes both signs over the draws: the ratio has "
            "no mean or variance (its tails are Cauchy-like). Use the median and quantiles, "
            "a lognormal cost coefficient, or a WTP-space model.", MixedLogitWarning)
    return frame


def surplus_change(f0: MixedFamily, f1: MixedFamily, theta: np.ndarray,
                   cost_slots: Sequence[int], cost: str, cost_scale: float = 1.0
                   ) -> np.ndarray:
    """Change in expected consumer surplus per case from family ``f0`` to ``f1`` (the same
    cases and draws, other data), with the cost coefficient per draw.

    Notes
    -----
    :math:`\\frac1R \\sum_r (LS^1_{nr} - LS^0_{nr}) / \\lambda_{ur}`, :math:`\\lambda_{ur} =
    -c_{ur} \\cdot` ``cost_scale`` with :math:`c_{ur}` the coefficient (the sum of the slots
    ``cost_slots``, named ``cost``) at the unit's draw (Train 2009, ch. 6). Draws at which
    :math:`\\lambda \\le 0` are warned about (no welfare meaning).
    """
    C = f0.draw_coefficients(theta, f0.draws)
    lam_u = -C[list(cost_slots)].sum(axis=0) * cost_scale  # (n_units, R)
    if (lam_u <= 0).any():
        warn_user(
            f"The cost coefficient {cost!r} times cost_scale is >= 0 at "
            f"{(lam_u <= 0).mean():.1%} of the draws: there the marginal utility of money "
            "is not positive and the surplus has no welfare meaning (use a lognormal cost "
            "coefficient).", MixedLogitWarning)
    out = []
    for b in f0._proba_blocks(slice(None)):
        lam = lam_u[f0.case_unit[b]]
        out.append(((f1.draw_logsums(theta, b) - f0.draw_logsums(theta, b)) / lam)
                   .mean(axis=1))
    return np.concatenate(out)


def random_parameters_table(s: MixedStructure, design: Design, vec: np.ndarray,
                            C: np.ndarray) -> pd.DataFrame:
    """Per random coefficient its distribution, mean and spread parameters, and for a
    lognormal one the implied median, mean and SD of the coefficient (magnitude; its sign is
    the data multiplier's), with delta-method SEs from the covariance ``C``.

    Notes
    -----
    For :math:`\\exp(\\mu + \\sigma z)`, :math:`z` standard normal: median :math:`e^\\mu`,
    mean :math:`e^{\\mu + \\sigma^2/2}`, SD :math:`e^{\\mu + \\sigma^2/2}
    \\sqrt{e^{\\sigma^2} - 1}`; their gradients by central differences.
    """
    names = s.params.names
    rows: list[dict[str, Any]] = []

    def delta(f: Any) -> tuple[float, float]:
        val = float(f(vec))
        g = np.zeros(len(vec))
        for k in range(len(vec)):
            h = 1e-6 * max(1.0, abs(vec[k]))
            e = np.zeros(len(vec))
            e[k] = h
            g[k] = (f(vec + e) - f(vec - e)) / (2 * h)
        var = float(g @ C @ g)
        return val, math.sqrt(var) if var >= 0 else float("nan")

    for name, slots in coefficient_columns(s, design).items():
        for p in slots:
            if s.kind[p] == 0 and s.lin_d[p] >= 0:
                k, d = int(s.lin_k[p]), int(s.lin_d[p])
                home = [q for q in slots if s.kind[q] == 0 and s.lin_d[q] < 0]
                mean_k = int(s.lin_k[home[0]]) if home else None
                rows.append({
                    "coefficient": name, "distribution": s.draw_dists[d],
                    "draw": s.draw_names[d], "mean_param": None if mean_k is None
                    else names[mean_k], "spread_param": names[k],
                    "mean": np.nan if mean_k is None else vec[mean_k],
                    "mean_se": np.nan if mean_k is None else math.sqrt(
                        max(C[mean_k, mean_k], 0.0)),
                    "spread": abs(vec[k]), "spread_se": math.sqrt(max(C[k, k], 0.0))})
            elif s.kind[p] == 1:
                loc = [k for k, dd, _ in s.exp_terms[p] if dd < 0]
                spr = [(k, dd, c) for k, dd, c in s.exp_terms[p] if dd >= 0]

                def mu(v: np.ndarray, p: int = p) -> float:
                    return s.exp_const[p] + sum(c * v[k] for k, dd, c in s.exp_terms[p]
                                                if dd < 0)

                def sig2(v: np.ndarray, p: int = p) -> float:
                    return sum((c * v[k]) ** 2 for k, dd, c in s.exp_terms[p]
                               if dd >= 0 and s.draw_dists[dd] == "normal")

                med = delta(lambda v: math.exp(mu(v)))
                mean = delta(lambda v: math.exp(mu(v) + sig2(v) / 2))
                sd = delta(lambda v: math.exp(mu(v) + sig2(v) / 2)
                           * math.sqrt(math.expm1(sig2(v))))
                rows.append({
                    "coefficient": name, "distribution": "lognormal",
                    "draw": ", ".join(s.draw_names[dd] for _, dd, _ in spr),
                    "mean_param": names[loc[0]] if loc else None,
                    "spread_param": ", ".join(names[k] for k, _, _ in spr),
                    "mean": mean[0], "mean_se": mean[1],
                    "spread": sd[0], "spread_se": sd[1],
                    "median": med[0], "median_se": med[1]})
    return pd.DataFrame(rows).set_index("coefficient") if rows else pd.DataFrame()
