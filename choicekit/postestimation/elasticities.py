"""Elasticities and marginal effects of logit probabilities with respect to a variable.

A *variable* is a data column that utilities use: a long alternative-varying variable (one
value per case and alternative, e.g. ``cost``), or a case-level column (a wide column such as
``TRAIN_TT``, which may enter one or several utilities, possibly transformed as in
``Var("TRAIN_TT") / 100`` or ``ck.log(Var("INCOME"))``). Each row of an elasticity table is one
*perturbation*: the variable of one alternative (long data), or one case-level column.

Notes
-----
**Derivative of the utilities.** Utilities are :math:`V_{nj} = \\sum_k \\beta_k m_{njk} +
o_{nj}` with data multipliers :math:`m` and offset :math:`o` that are expression trees of the
data (:mod:`choicekit.spec.expressions`). The derivative of every multiplier with respect to the
perturbed column is obtained *exactly* by forward-mode differentiation of the expression tree
(sum, product, quotient and power rules; :math:`d\\log a = da/a`, :math:`d e^a = e^a da`,
:math:`d|a| = \\mathrm{sign}(a) da`; comparisons and indicators are piecewise constant, with
derivative 0). This is exact for linear and nonlinear transformations alike, so
:math:`\\partial V_{nj} / \\partial x = \\sum_k \\beta_k \\partial m_{njk}/\\partial x +
\\partial o_{nj}/\\partial x` needs no finite differences.

**Logit derivatives.** With :math:`D_{nj} = \\partial V_{nj} / \\partial x`,

.. math::

    \\frac{\\partial P_{nk}}{\\partial x} = P_{nk}\\Big(D_{nk} - \\sum_j P_{nj} D_{nj}\\Big).

For a variable of alternative :math:`l` entering only :math:`V_{nl}` linearly with coefficient
:math:`\\beta`, the point elasticities are :math:`\\beta x_{nl}(1 - P_{nl})` (direct) and
:math:`-\\beta x_{nl} P_{nl}` (cross, the same for every :math:`k \\ne l`: the IIA signature;
Train 2009, section 3.6).

**Aggregate elasticities** (sample enumeration, Ben-Akiva & Lerman 1985, section 6.3) are the
elasticities of the predicted shares to a proportional change of the variable in every case:

.. math:: E_k = \\frac{\\sum_n w_n \\, x_n\\, \\partial P_{nk}/\\partial x_n}
                     {\\sum_n w_n P_{nk}}
              = \\frac{\\sum_n w_n P_{nk} E_{nk}}{\\sum_n w_n P_{nk}},

the probability-weighted mean of the point elasticities. **Arc elasticities** for a finite
relative change :math:`c` use mid-points: :math:`\\frac{(S^1_k - S^0_k)/(S^1_k + S^0_k)}
{(x^1 - x^0)/(x^1 + x^0)}`, with :math:`x^1 = (1 + c)x^0`, from the predicted shares on the
changed data. **Average marginal effects** are :math:`\\sum_n w_n \\partial P_{nk}/\\partial x_n
/ \\sum_n w_n`. Standard errors use the delta method (:mod:`choicekit.inference.delta`).

References
----------
Ben-Akiva, M. & Lerman, S. R. (1985). *Discrete Choice Analysis*. MIT Press.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., section 3.6.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from choicekit.data.choicedata import ChoiceData
from choicekit.exceptions import SpecificationError
from choicekit.inference.delta import DeltaResult, standard_errors
from choicekit.postestimation.shares import PostContext, estimate_frame
from choicekit.spec.expressions import Expr, Var, _BinOp, _Const, _Func

__all__ = ["Perturbation", "EffectTable", "resolve_perturbations", "derivative_design",
           "point_effects", "aggregate_effects", "arc_elasticities", "perturbed_data"]

_ZERO = 0.0


@dataclass(frozen=True)
class Perturbation:
    """One row of an effect table: variable ``name``, of alternative index ``alt`` (long
    variables) or of every utility using it (``alt=None``, case-level columns)."""

    label: Hashable
    name: str
    alt: int | None


def resolve_perturbations(variable: Any, ctx: PostContext) -> list[Perturbation]:
    """The perturbations a ``variable`` argument stands for.

    ``variable`` is a long variable name (one row per alternative whose utility uses it;
    a long variable that is constant within every case, such as income repeated on each row,
    is a case-level variable and gives one row), a case-level column name (one row), or a
    mapping ``{row label: column}`` (one row each; for a long variable, a label that is an
    alternative perturbs that alternative's value, any other label perturbs all
    alternatives' values together).
    """
    data, spec = ctx.data, ctx.model.specification
    alts = list(data.alternatives)
    used = set().union(*(u.variables() for u in spec.utilities.values()))

    def check(name: str) -> np.ndarray:
        if not isinstance(name, str):
            raise SpecificationError(f"A variable must be named by a string; got {name!r}.")
        if not data.has_variable(name):
            raise data._unknown(name)
        if name not in used:
            raise SpecificationError(
                f"No utility uses variable {name!r}: its elasticities are zero. The utilities "
                f"use {sorted(used)}."
            )
        return data.variable(name)

    if isinstance(variable, Mapping):
        out = []
        for label, name in variable.items():
            v = check(name)
            if v.ndim == 2 and label in alts:
                out.append(Perturbation(label, name, alts.index(label)))
            else:
                out.append(Perturbation(label, name, None))
        if not out:
            raise SpecificationError("`variable` is an empty mapping.")
        return out
    v = check(variable)
    if v.ndim == 1 or _constant_within_cases(v, data.avail_array):
        return [Perturbation(variable, variable, None)]
    rows = [Perturbation(a, variable, j) for j, a in enumerate(alts)
            if variable in spec.utilities[a].variables()]
    return rows


def _constant_within_cases(v: np.ndarray, avail: np.ndarray) -> bool:
    """Whether a long variable is a case-level one stored in long form (as income)."""
    x = np.where(avail, v, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(x, axis=1), np.nanmax(x, axis=1)
    ok = np.isfinite(lo)
    return bool(np.all(lo[ok] == hi[ok]))


# ---------------------------------------------------------------------------------------------
# forward-mode differentiation of data expressions
# ---------------------------------------------------------------------------------------------


def _is_zero(d: Any) -> bool:
    return isinstance(d, float) and d == 0.0


def _dual(expr: Expr, lookup: Any, dlookup: Any, target: str) -> tuple[Any, Any]:
    """Value and derivative of ``expr`` along the perturbation of column ``target``."""
    if target not in expr.variables():
        return expr.evaluate(lookup), _ZERO
    if isinstance(expr, Var):
        return lookup(expr.name), dlookup(expr.name)
    if isinstance(expr, _Const):  # pragma: no cover - has no variables
        return expr.value, _ZERO
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if isinstance(expr, _BinOp):
            a, da = _dual(expr.left, lookup, dlookup, target)
            b, db = _dual(expr.right, lookup, dlookup, target)
            op = expr.op
            if op == "+":
                return a + b, da + db
            if op == "-":
                return a - b, da - db
            if op == "*":
                return a * b, (_ZERO if _is_zero(da) else da * b) + (
                    _ZERO if _is_zero(db) else a * db)
            if op == "/":
                d = (_ZERO if _is_zero(da) else da / b) - (
                    _ZERO if _is_zero(db) else a * db / (b * b))
                return a / b, d
            if op == "**":
                val = a ** b
                d = _ZERO if _is_zero(da) else b * a ** (b - 1) * da
                if not _is_zero(db):
                    d = d + val * np.log(a) * db
                return val, d
            # comparisons and logical operators: piecewise constant
            return expr.evaluate(lookup), _ZERO
        if isinstance(expr, _Func):
            a, da = _dual(expr.arg, lookup, dlookup, target)
            if expr.fn == "log":
                return np.log(a), da / a
            if expr.fn == "exp":
                e = np.exp(a)
                return e, e * da
            if expr.fn == "abs":
                return np.abs(a), np.sign(a) * da
    raise SpecificationError(f"Cannot differentiate expression {expr!r}.")  # pragma: no cover


def derivative_design(data: ChoiceData, ctx: PostContext, p: Perturbation, *,
                      relative: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Derivatives of the design multipliers and offset along one perturbation.

    The perturbation moves the column by :math:`t \\cdot d` with direction :math:`d = x`
    (``relative``: a proportional change) or :math:`d = 1` (absolute), and the returned arrays
    are :math:`\\partial m_{njk}/\\partial t` ``(n, J, K)`` and :math:`\\partial o_{nj}/
    \\partial t` ``(n, J)`` (or None) at :math:`t = 0`, rows aligned to the design's cases and
    zero at unavailable alternatives.
    """
    design = ctx.design
    # a model with random coefficients differentiates its slots' multipliers (draw-free data
    # expressions; the family applies each draw's coefficients, see _dP)
    slots = getattr(ctx.model, "derivative_specification", None)
    spec, names = (ctx.model.specification, ctx.param_names) if slots is None else slots
    rows = ctx.data_rows
    n, J, K = len(rows), data.n_alts, len(names)
    index = {name: k for k, name in enumerate(names)}
    x = data.variable(p.name)
    DX = np.zeros((n, J, K))
    doff = None
    for j, alt in enumerate(data.alternatives):
        u = spec.utilities[alt]
        if p.name not in u.variables():
            continue

        def lookup(name: str, j: int = j) -> Any:
            v = data.variable(name)
            return (v[:, j] if v.ndim == 2 else v)[rows]

        def dlookup(name: str, j: int = j) -> Any:
            if name != p.name:
                return _ZERO
            if x.ndim == 2:
                if p.alt is not None and j != p.alt:
                    return _ZERO
                return x[rows, j] if relative else np.ones(n)
            return x[rows] if relative else np.ones(n)

        for name, (_, mult) in u.terms.items():
            _, d = _dual(mult, lookup, dlookup, p.name)
            if not _is_zero(d):
                DX[:, j, index[name]] = np.broadcast_to(d, (n,))
        if u.offset is not None:
            _, d = _dual(u.offset, lookup, dlookup, p.name)
            if not _is_zero(d):
                if doff is None:
                    doff = np.zeros((n, J))
                doff[:, j] = np.broadcast_to(d, (n,))
    DX[~design.avail] = 0.0
    if doff is not None:
        doff[~design.avail] = 0.0
    if not np.isfinite(DX).all() or (doff is not None and not np.isfinite(doff).all()):
        raise SpecificationError(
            f"The derivative of the utilities with respect to {p.name!r} is not finite in some "
            "cases (e.g. log of 0 or division by 0 at the data point)."
        )
    return DX, doff


def _dP(ctx: PostContext, P: np.ndarray, DX: np.ndarray, doff: np.ndarray | None,
        beta: np.ndarray) -> np.ndarray:
    """:math:`\\partial P_{nk}/\\partial t = \\sum_j (\\partial P_{nk}/\\partial V_{nj}) D_{nj}`
    with :math:`D = \\partial V / \\partial t`, from the family (for the MNL,
    :math:`P_{nk}(D_{nk} - \\sum_j P_{nj} D_{nj})`)."""
    if getattr(ctx.model, "derivative_specification", None) is not None:
        # random coefficients: the derivative of the utilities differs per draw
        return ctx.family().dproba_design(beta, DX, doff)
    n, J, K = DX.shape
    D = (DX.reshape(n * J, K) @ beta).reshape(n, J)
    if doff is not None:
        D = D + doff
    return ctx.dproba(beta, D, proba=P)


@dataclass(frozen=True)
class EffectTable:
    """Aggregate elasticities or average marginal effects with standard errors.

    Attributes
    ----------
    estimate : pandas.DataFrame
        Rows: the perturbed variable (of an alternative); columns: the probability (share) of
        each alternative. Cell ``[l, k]`` is the effect on alternative ``k`` of the variable
        of ``l`` (mlogit's ``effects()`` layout).
    se : pandas.DataFrame
        Standard errors in the same layout (NaN when not computed).
    kind : str
        ``"elasticity"``, ``"arc_elasticity"`` or ``"marginal_effect"``.
    result : DeltaResult
        The flat estimate and covariance (row-major over the table).
    """

    estimate: pd.DataFrame
    se: pd.DataFrame
    kind: str
    result: DeltaResult

    def frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Tidy table indexed by (variable of, alternative): estimate, se, lower, upper."""
        idx = pd.MultiIndex.from_product([self.estimate.index, self.estimate.columns],
                                         names=["variable_of", "alternative"])
        return estimate_frame(self.result, idx, alpha)

    def __repr__(self) -> str:
        return f"EffectTable({self.kind})\n{self.estimate!r}"


def _table(r: DeltaResult, perts: list[Perturbation], ctx: PostContext,
           kind: str) -> EffectTable:
    rows = pd.Index([p.label for p in perts], name="variable_of")
    cols = pd.Index(list(ctx.design.alternatives), name="alternative")
    shape = (len(rows), len(cols))
    est = pd.DataFrame(r.estimate.reshape(shape), index=rows, columns=cols)
    se = pd.DataFrame(r.se.reshape(shape), index=rows, columns=cols)  # NaN for se="none"
    return EffectTable(est, se, kind, r)


def point_effects(ctx: PostContext, perts: list[Perturbation], *,
                  relative: bool) -> pd.DataFrame:
    """Per-case elasticities (``relative``) or marginal effects.

    Returns
    -------
    pandas.DataFrame
        Index: cases; columns: MultiIndex (variable of, alternative). Elasticities are NaN for
        unavailable alternatives.
    """
    P = ctx.proba(ctx.beta)
    blocks = []
    for p in perts:
        DX, doff = derivative_design(ctx.data, ctx, p, relative=relative)
        dP = _dP(ctx, P, DX, doff, ctx.beta)
        if relative:
            with np.errstate(invalid="ignore", divide="ignore"):
                dP = np.where(ctx.design.avail, dP / P, np.nan)
        blocks.append(dP)
    cols = pd.MultiIndex.from_product(
        [[p.label for p in perts], list(ctx.design.alternatives)],
        names=["variable_of", "alternative"])
    return pd.DataFrame(np.concatenate(blocks, axis=1), index=ctx.design.cases, columns=cols)


def aggregate_effects(ctx: PostContext, perts: list[Perturbation], *, relative: bool,
                      se: str = "delta", n_draws: int = 1000, rng: Any = None) -> EffectTable:
    """Aggregate elasticities (``relative``) or average marginal effects with SEs."""
    w = ctx.weight
    derivs = [derivative_design(ctx.data, ctx, p, relative=relative) for p in perts]

    def f(beta: np.ndarray) -> np.ndarray:
        P = ctx.proba(beta)
        den = w @ P if relative else np.full(P.shape[1], w.sum())
        out = []
        for DX, doff in derivs:
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append((w @ _dP(ctx, P, DX, doff, beta)) / den)
        return np.concatenate(out)

    r = standard_errors(f, ctx.beta, ctx.cov, ctx.free, method=se, n_draws=n_draws, rng=rng)
    return _table(r, perts, ctx, "elasticity" if relative else "marginal_effect")


def perturbed_data(data: ChoiceData, p: Perturbation, factor: float) -> ChoiceData:
    """``data`` with the perturbed column multiplied by ``factor`` (for one alternative)."""
    x = data.variable(p.name)
    if x.ndim == 2 and p.alt is not None:
        new = x.copy()
        new[:, p.alt] = new[:, p.alt] * factor
    else:
        new = x * factor
    return data.with_variables({p.name: new})  # type: ignore[attr-defined]


def arc_elasticities(ctx: PostContext, perts: list[Perturbation], *, change: float,
                     se: str = "delta", n_draws: int = 1000, rng: Any = None) -> EffectTable:
    """Arc (mid-point) elasticities of the predicted shares for a relative change ``change``."""
    if not (isinstance(change, (int, float)) and np.isfinite(change) and change != 0
            and change > -1):
        raise SpecificationError(f"`change` must be a non-zero relative change > -1 (e.g. 0.1 "
                                 f"for +10%). Got {change!r}.")
    w = ctx.weight
    d0 = ctx.design
    d1s = [ctx.model._design_for(perturbed_data(ctx.data, p, 1.0 + change)) for p in perts]
    for d1 in d1s:
        if d1.n_cases != d0.n_cases:
            raise SpecificationError("The changed data drop other cases than the original "
                                     "(missing values); arc elasticities need the same cases.")
    mid = (2.0 + change) / change

    def f(beta: np.ndarray) -> np.ndarray:
        S0 = w @ ctx.proba(beta, d0)
        out = []
        for d1 in d1s:
            S1 = w @ ctx.proba(beta, d1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append((S1 - S0) / (S1 + S0) * mid)
        return np.concatenate(out)

    r = standard_errors(f, ctx.beta, ctx.cov, ctx.free, method=se, n_draws=n_draws, rng=rng)
    return _table(r, perts, ctx, "arc_elasticity")
