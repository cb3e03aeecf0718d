"""Multi-model comparison tables for papers: ``ck.compare([res1, res2, ...])``.

One column per model: each parameter's estimate, with its standard error (or t statistic) in
parentheses below, optional significance stars, fixed parameters and parameters at a bound
marked, then fit statistics (log-likelihood, null log-likelihood, rho-squared, AIC, BIC,
estimated parameters, N, covariance type). Rendered as text, LaTeX (booktabs), HTML and a
DataFrame, all written here (no jinja2).

Only the public results API is used (``params``, ``bse``, ``tvalues``, ``pvalues``, ``fixed``,
``at_bound``, ``llf``, ``llnull``, ``rho_squared``, ``aic``, ``bic``, ``df_model``, ``nobs``,
``cov_type``, ``n_clusters``, ``weight_type``), so any family's results compare alike; a
parameter that a model does not have is left blank in its column.

Examples
--------
>>> import choicekit as ck
>>> data = ck.datasets.simulated_modechoice_choicedata()
>>> r1 = ck.MNL.from_formula("CHOICE ~ time", data, reference="car").fit()
>>> r2 = ck.MNL.from_formula("CHOICE ~ time + cost", data, reference="car").fit()
>>> table = ck.compare([r1, r2], names=["time only", "time and cost"], stars=True)
>>> print(table.as_latex())  # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from choicekit._validation import check_int, check_option
from choicekit.exceptions import SpecificationError
from choicekit.results.summary import (
    _rules,
    _thresholds,
    cov_label,
    fmt_fixed,
    latex_cell,
    latex_escape,
    star_marks,
    stars_legend,
    wrap_table,
)

__all__ = ["compare", "Comparison", "FIT_STATISTICS"]

#: The fit-statistic rows, in order (a "Weights" row follows when some model is weighted).
FIT_STATISTICS = ("Log-likelihood", "Null log-likelihood", "Rho-squared", "AIC", "BIC",
                  "Estimated parameters", "N", "Covariance")
_BOUND = "[b]"


def _fit_stats(res: Any) -> dict[str, Any]:
    """The :data:`FIT_STATISTICS` of one model, plus its weights' meaning."""
    return {"Log-likelihood": float(res.llf), "Null log-likelihood": float(res.llnull),
            "Rho-squared": float(res.rho_squared), "AIC": float(res.aic),
            "BIC": float(res.bic), "Estimated parameters": int(res.df_model),
            "N": int(res.nobs), "Covariance": cov_label(res),
            "Weights": res.weight_type or "none"}


@dataclass(frozen=True)
class Comparison:
    """A comparison of fitted models; see :func:`compare`.

    Attributes
    ----------
    names : tuple of str
        Column names, one per model.
    params, bse, tvalues, pvalues : pandas.DataFrame
        Parameter (rows) by model (columns), NaN where a model lacks the parameter; the
        standard errors, t and p values follow each model's covariance type.
    fixed, at_bound : pandas.DataFrame
        Booleans, same shape (False where a model lacks the parameter).
    fit : pandas.DataFrame
        Fit statistics (rows) by model (columns).
    labels : dict
        Display labels of the parameters (default: their names).
    stat, stars, decimals
        The rendering options given to :func:`compare`.
    """

    names: tuple[str, ...]
    params: pd.DataFrame
    bse: pd.DataFrame
    tvalues: pd.DataFrame
    pvalues: pd.DataFrame
    fixed: pd.DataFrame
    at_bound: pd.DataFrame
    fit: pd.DataFrame
    labels: dict[str, str]
    stat: str = "se"
    stars: bool | tuple[float, ...] = False
    decimals: int = 3

    # ------------------------------------------------------------------ the string grid
    def _cells(self, decimals: int | None, stars: Any) -> tuple[list[tuple[str, str]],
                                                                  list[list[str]], list[str]]:
        """Row keys (label, kind), the cell strings, and the notes."""
        dec = self.decimals if decimals is None else _check_decimals(decimals)
        th = _thresholds(self.stars if stars is None else stars)
        second = self.bse if self.stat == "se" else self.tvalues
        keys: list[tuple[str, str]] = []
        grid: list[list[str]] = []
        any_bound = False
        for p in self.params.index:
            coef_row, stat_row = [], []
            for m in self.names:
                v = self.params.at[p, m]
                if np.isnan(v):
                    coef_row.append("")
                    stat_row.append("")
                    continue
                c = fmt_fixed(v, dec)
                if self.fixed.at[p, m]:
                    coef_row.append(c)
                    stat_row.append("(fixed)")
                    continue
                c += star_marks(self.pvalues.at[p, m], th)
                if self.at_bound.at[p, m]:
                    c += " " + _BOUND
                    any_bound = True
                coef_row.append(c)
                s = second.at[p, m]
                stat_row.append(f"({fmt_fixed(s, dec)})" if np.isfinite(s)
                                else "(not identified)")
            keys += [(self.labels.get(p, p), "coef"), (self.labels.get(p, p), self.stat)]
            grid += [coef_row, stat_row]
        for stat_name in self.fit.index:
            row = []
            for m in self.names:
                v = self.fit.at[stat_name, m]
                if isinstance(v, str):
                    row.append(v)
                elif stat_name in ("Estimated parameters", "N"):
                    row.append(f"{int(v)}")
                else:
                    row.append(fmt_fixed(float(v), dec))
            keys.append((stat_name, ""))
            grid.append(row)
        notes = [("Standard errors" if self.stat == "se" else "t statistics")
                 + " in parentheses, from each model's covariance (see the Covariance row)."]
        if th:
            notes.append(stars_legend(th) + ".")
        if any_bound:
            notes.append(f"{_BOUND}: estimate at a bound (its standard error ignores the bound).")
        sampling = [m for m in self.names if self.fit.at["Weights", m] == "sampling"] \
            if "Weights" in self.fit.index else []
        if sampling:
            notes.append(", ".join(sampling) + ": sampling weights (WESML); the log-likelihood, "
                         "AIC and BIC are weighted sums, not comparable with unweighted fits.")
        return keys, grid, notes

    def as_frame(self, *, decimals: int | None = None, stars: Any = None) -> pd.DataFrame:
        """The table as displayed, as strings: rows ``(parameter, "coef"/"se"/"t")`` and
        ``(statistic, "")``, one column per model. The numbers are in :attr:`params`,
        :attr:`bse`, :attr:`tvalues`, :attr:`pvalues` and :attr:`fit`."""
        keys, grid, _ = self._cells(decimals, stars)
        return pd.DataFrame(grid, index=pd.MultiIndex.from_tuples(keys, names=["", "row"]),
                            columns=list(self.names))

    def _n_param_rows(self) -> int:
        return 2 * len(self.params.index)

    def as_text(self, *, decimals: int | None = None, stars: Any = None) -> str:
        """The text table (``str(comparison)``)."""
        keys, grid, notes = self._cells(decimals, stars)
        first = [k if kind in ("coef", "") else "" for k, kind in keys]
        w0 = max([len(s) for s in first] + [1])
        widths = [max([len(n)] + [len(r[j]) for r in grid]) for j, n in enumerate(self.names)]
        total = w0 + sum(w + 2 for w in widths)

        def line(label: str, cells: Sequence[str]) -> str:
            return label.ljust(w0) + "".join("  " + c.rjust(w) for c, w in zip(cells, widths))

        out = ["=" * total, line("", self.names), "-" * total]
        n_par = self._n_param_rows()
        for i, (label, cells) in enumerate(zip(first, grid)):
            if i == n_par:
                out.append("-" * total)
            out.append(line(label, cells))
        out.append("=" * total)
        out += notes
        return "\n".join(out)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def as_latex(self, *, decimals: int | None = None, stars: Any = None,
                 booktabs: bool = True, caption: str | None = None,
                 label: str | None = None) -> str:
        """A LaTeX ``tabular`` (booktabs rules by default; ``\\usepackage{booktabs}``).

        Parameters
        ----------
        decimals, stars : optional
            Override the options given to :func:`compare`.
        booktabs : bool, default True
            ``\\toprule``/``\\midrule``/``\\bottomrule``; False uses ``\\hline``.
        caption, label : str, optional
            Wrap the tabular in a ``table`` float with this caption and ``\\label``.
        """
        keys, grid, notes = self._cells(decimals, stars)
        esc = latex_escape
        top, mid, bottom = _rules(booktabs)
        n = len(self.names)
        rows = [r"\begin{tabular}{l" + "c" * n + "}", top,
                " & ".join([""] + [esc(m) for m in self.names]) + r" \\", mid]
        n_par = self._n_param_rows()
        for i, ((k, kind), cells) in enumerate(zip(keys, grid)):
            if i == n_par:
                rows.append(mid)
            lab = esc(k) if kind in ("coef", "") else ""
            rows.append(" & ".join([lab] + [latex_cell(c) for c in cells]) + r" \\")
        rows.append(bottom)
        rows += [r"\multicolumn{" + str(n + 1) + r"}{l}{\footnotesize " + esc(t) + r"} \\"
                 for t in notes]
        rows.append(r"\end{tabular}")
        return wrap_table("\n".join(rows), caption, label)

    def as_html(self, *, decimals: int | None = None, stars: Any = None) -> str:
        """An HTML ``<table>`` fragment (class ``choicekit-compare``) with the notes below."""
        keys, grid, notes = self._cells(decimals, stars)
        e = html.escape
        head = "<tr><th></th>" + "".join(f"<th>{e(m)}</th>" for m in self.names) + "</tr>"
        n_par = self._n_param_rows()

        def tr(i: int) -> str:
            k, kind = keys[i]
            lab = e(k) if kind in ("coef", "") else ""
            return (f"<tr class=\"{kind or 'fit'}\"><th>{lab}</th>"
                    + "".join(f"<td>{e(c)}</td>" for c in grid[i]) + "</tr>")

        body = "".join(tr(i) for i in range(n_par))
        fit = "".join(tr(i) for i in range(n_par, len(grid)))
        foot = "".join(f"<p>{e(t)}</p>" for t in notes)
        return (f"<div class=\"choicekit-compare\"><table><thead>{head}</thead>"
                f"<tbody>{body}</tbody><tbody class=\"fit-statistics\">{fit}</tbody></table>"
                f"{foot}</div>")

    def _repr_html_(self) -> str:
        return self.as_html()


def _check_decimals(decimals: Any) -> int:
    check_int("decimals", decimals, 0, what="(digits after the decimal point)")
    return int(decimals)


def compare(results: Sequence[Any], names: Sequence[str] | None = None, *,
            stat: Literal["se", "t"] = "se", stars: bool | Sequence[float] = False,
            decimals: int = 3, params: Sequence[str] | None = None,
            labels: Mapping[str, str] | None = None) -> Comparison:
    """A table comparing fitted models side by side.

    Parameters
    ----------
    results : sequence of results
        Fitted models (any family), one column each. Each column uses the covariance of its
        results object (``res.with_cov("robust")`` for robust ones).
    names : sequence of str, optional
        Column names (default ``"(1)"``, ``"(2)"``, ...).
    stat : {"se", "t"}, default "se"
        What goes in parentheses under each estimate.
    stars : bool or sequence of float, default False
        Significance stars from each model's p-values: True gives ``* p<0.1, ** p<0.05,
        *** p<0.01``; a sequence gives other thresholds.
    decimals : int, default 3
        Decimals of every number (estimates, standard errors or t, fit statistics).
    params : sequence of str, optional
        The parameters to show, in this order (default: all, in order of first appearance).
    labels : mapping, optional
        Display labels for parameters, e.g. ``{"B_TIME": "Travel time (min)"}``.

    Returns
    -------
    Comparison
        ``str()`` is the text table; ``.as_latex()``, ``.as_html()``, ``.as_frame()``; the
        numbers in ``.params``, ``.bse``, ``.tvalues``, ``.pvalues``, ``.fit``.

    Notes
    -----
    Fixed parameters show their value with ``(fixed)`` in place of the standard error;
    estimates at a bound carry ``[b]``; unidentified ones ``(not identified)``.
    """
    results = list(results) if not isinstance(results, (str, bytes)) else [results]
    if not results:
        raise SpecificationError("`results` is empty: pass a list of fitted results.")
    bad = [i for i, r in enumerate(results)
           if not all(hasattr(r, a) for a in ("params", "bse", "pvalues", "llf"))]
    if bad:
        raise SpecificationError(
            f"`results` must hold fitted results (model.fit()); item {bad[0]} is a "
            f"{type(results[bad[0]]).__name__}.")
    if names is None:
        names = [f"({i + 1})" for i in range(len(results))]
    else:
        names = [str(n) for n in (names if not isinstance(names, str) else [names])]
        if len(names) != len(results):
            raise SpecificationError(f"`names` has {len(names)} entries for {len(results)} "
                                     "models; give one name per model.")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecificationError(f"`names` must be unique; {dup} repeat.")
    check_option("stat", stat, ("se", "t"), SpecificationError)
    decimals = _check_decimals(decimals)
    star_option = _thresholds(stars)  # validates
    order: list[str] = []
    for r in results:
        order += [str(p) for p in r.params.index if str(p) not in order]
    if params is not None:
        params = [str(p) for p in params]
        unknown = [p for p in params if p not in order]
        if unknown:
            raise SpecificationError(f"`params` names {unknown}, which no model has. The "
                                     f"parameters are {order}.")
        order = params
    idx = pd.Index(order, name="parameter")

    def frame(get: Any, flags: bool = False) -> pd.DataFrame:
        cols = {}
        for n, r in zip(names, results):
            s = get(r).astype(float)
            s.index = s.index.map(str)
            cols[n] = s.reindex(idx)
        out = pd.DataFrame(cols, index=idx)
        return out.fillna(0.0).astype(bool) if flags else out

    fixed = frame(lambda r: r.fixed, flags=True)
    at_bound = frame(lambda r: r.at_bound if hasattr(r, "at_bound") else r.fixed & False,
                     flags=True)
    stats = [_fit_stats(r) for r in results]
    fit = pd.DataFrame({n: s for n, s in zip(names, stats)}, dtype=object)
    if all(s["Weights"] == "none" for s in stats):
        fit = fit.drop(index="Weights")
    return Comparison(
        names=tuple(names), params=frame(lambda r: r.params),
        bse=frame(lambda r: r.bse), tvalues=frame(lambda r: r.tvalues),
        pvalues=frame(lambda r: r.pvalues), fixed=fixed, at_bound=at_bound,
        fit=fit, labels={str(k): str(v) for k, v in (labels or {}).items()}, stat=stat,
        stars=star_option or False, decimals=decimals)
