"""Summary tables of a fit: text, pandas, LaTeX and HTML from one frame.

The standard error columns say which covariance they come from: the fit's own first
(``"robust std err"``, ``"cluster (752 groups) std err"``...), then, when shown, a second set
named by its type (classical next to robust, as Biogeme prints both). Fixed parameters and
parameters that ended at a bound are marked in every rendering. The LaTeX and HTML are written
here (no jinja2, which pandas' ``Styler`` needs); :mod:`choicekit.results.compare` shares the
helpers for its multi-model tables.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from choicekit._validation import check_option
from choicekit.exceptions import SpecificationError

if TYPE_CHECKING:
    from choicekit.results.results import MNLResults

__all__ = ["Summary", "cov_label", "weight_note", "STARS"]

#: Default significance thresholds of the stars: * p < 0.10, ** p < 0.05, *** p < 0.01
#: (stargazer's and statsmodels' ``summary_col`` convention).
STARS = (0.10, 0.05, 0.01)

#: how the summary names each family
_FAMILY_NAMES = {"MNL": "multinomial logit", "NL": "nested logit", "CNL": "cross-nested logit",
                 "MXL": "mixed logit"}

_SECOND_COV = ("auto", "classical", "robust", "opg", "cluster")
_MARK = {"fixed": "(fixed)", "at lower bound": "(at bound)", "at upper bound": "(at bound)"}


def cov_label(res: MNLResults) -> str:
    """What the covariance is, for column names and headers: ``"cluster (752 groups)"``."""
    if res.cov_type == "cluster" and res.n_clusters is not None:
        return f"cluster ({res.n_clusters} groups)"
    return str(res.cov_type)


def weight_note(res: MNLResults) -> str | None:
    """One sentence on how a weighted fit used its weights (None unweighted)."""
    wtype = res.weight_type
    if wtype is None:
        return None
    inferred = res._weight_type_inferred
    if wtype == "sampling":
        text = ("Weighted fit, sampling weights (WESML, Manski and Lerman 1977): the "
                "log-likelihood, AIC and BIC are weighted sums (a pseudo-log-likelihood), not "
                "comparable with unweighted fits, and likelihood-ratio tests on them are not "
                "valid; the robust (sandwich) standard errors are the consistent ones and do "
                "not change when the weights are rescaled.")
        if res.cov_type in ("classical", "opg"):
            text += (f" The {res.cov_type} standard errors shown ignore the sampling design "
                     "(weights normalised to mean 1).")
        if inferred:
            text += (" The weights are not all integers, so they were read as sampling "
                     "weights; pass weight_type='frequency' if they count identical cases.")
        return text
    total = res._weight_total
    text = (f"Weighted fit, frequency weights: each case counts as its weight's number of "
            f"identical cases ({_count(total)} in all over {res.nobs} cases; BIC uses "
            f"{_count(total)}); estimates and standard errors equal those of the replicated "
            "rows.")
    if inferred:
        text += (" The weights are all integers, so they were read as frequency weights; pass "
                 "weight_type='sampling' if they are sampling weights (a choice-based sample).")
    return text


def _count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.6g}"


def _second_cov(res: MNLResults, second: str | None) -> MNLResults | None:
    if second is None:
        return None
    check_option("second_cov", second, _SECOND_COV, SpecificationError)
    if second == "auto":
        if res.weight_type == "sampling":
            return None  # classical SEs ignore the sampling design: not shown by default
        second = "robust" if res.cov_type == "classical" else "classical"
    if second == res.cov_type:
        return None  # never two identical columns
    if second == "cluster":
        return res.with_cov("cluster") if res.cov_type != "cluster" else None
    return res.with_cov(second)


def status(res: MNLResults) -> pd.Series:
    """``""``, ``"fixed"``, ``"at lower bound"`` or ``"at upper bound"`` per parameter."""
    out = pd.Series("", index=res.params.index, name="status", dtype=object)
    at = res.at_bound
    if at.any():
        b = res.bounds
        p = res.params.to_numpy()
        low = np.abs(p - b["lower"].to_numpy()) <= np.abs(p - b["upper"].to_numpy())
        out[at.to_numpy() & low] = "at lower bound"
        out[at.to_numpy() & ~low] = "at upper bound"
    out[res.fixed.to_numpy()] = "fixed"
    return out


@dataclass(frozen=True)
class Summary:
    """A fit summary: header statistics and the coefficient table.

    ``str(summary)`` is the text table; :meth:`as_frame`, :meth:`as_latex` and :meth:`as_html`
    give the same numbers in other forms. ``status`` marks fixed parameters and parameters at
    a bound (``""`` otherwise).
    """

    title: str
    header: tuple[tuple[str, str], ...]
    table: pd.DataFrame
    notes: tuple[str, ...]
    status: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))

    @classmethod
    def from_results(cls, res: MNLResults, alpha: float = 0.05,
                     second_cov: str | None = "auto") -> Summary:
        ci = res.conf_int(alpha)  # also checks alpha
        other = _second_cov(res, second_cov)
        lvl = f"{100 * (1 - alpha):g}%"
        p, se = res.params, res.bse
        label = cov_label(res)
        cols = {
            "estimate": p,
            f"{label} std err": se,
            f"{res.cov_type} t": res.tvalues,
            f"{res.cov_type} p": res.pvalues,
            f"[{lvl}": ci["lower"],
            f"{lvl}]": ci["upper"],
        }
        if other is not None:
            cols.update({f"{cov_label(other)} std err": other.bse,
                         f"{other.cov_type} t": other.tvalues,
                         f"{other.cov_type} p": other.pvalues})
        null = res.null_values
        if (null != 0).any():  # nest parameters: the t-test against 1, the MNL (as Biogeme)
            with np.errstate(divide="ignore", invalid="ignore"):
                cols[f"t vs 1 ({res.cov_type})"] = ((p - null) / se).where(null != 0)
        table = pd.DataFrame(cols)
        table.index.name = "parameter"
        fixed = res.fixed
        nan_se = ~fixed & se.isna()
        model_name = _FAMILY_NAMES.get(res.family_name, res.family_name)
        mixed = res._simulated_model  # a model with draws (mixed logit), else None
        draws = None if mixed is None else mixed.n_draws
        units = ([("Units (panel groups)" if mixed.panel else "Cases", f"{res.nobs}"),
                  ("Choices", f"{mixed.n_cases}"),
                  ("Draws", f"{draws} per unit ({mixed.draw_type})")]
                 if mixed is not None else [("Cases", f"{res.nobs}")])
        header = [
            ("Model", model_name),
            *units,
            ("Alternatives", f"{res._n_alternatives}"),
            ("Estimated parameters", f"{res.df_model}"),
            ("Log-likelihood", f"{res.llf:.6f}"),
            ("Null log-likelihood", f"{res.llnull:.6f}"),
            ("Rho-squared", f"{res.rho_squared:.4f}"),
            ("Adj. rho-squared", f"{res.rho_squared_adj:.4f}"),
            ("AIC", f"{res.aic:.3f}"),
            ("BIC", f"{res.bic:.3f}"),
            ("Covariance", label),
        ]
        if res.weight_type is not None:
            header.append(("Weights", {"sampling": "sampling (WESML), weighted log-likelihood",
                                       "frequency": "frequency (counts of identical cases)"}
                           [res.weight_type]))
        header.append(("Converged", f"{res.converged} ({res.method}, {res.iterations} "
                                    f"iterations, gradient {res.gradient_norm:.1e})"))
        st = status(res)
        notes = []
        wnote = weight_note(res)
        if wnote:
            notes.append(wnote)
        if fixed.any():
            notes.append("Fixed parameters (not estimated): " + ", ".join(fixed.index[fixed]))
        bound = st.str.startswith("at ")
        if bound.any():
            notes.append("At a bound (their standard errors ignore the bound): "
                         + ", ".join(f"{n} ({s})" for n, s in st[bound].items()))
        if (null != 0).any():
            notes.append("Nest parameters " + ", ".join(null.index[null != 0]) + ": 't vs 1' "
                         "tests them against 1 (the multinomial logit), with the first standard "
                         "errors.")
        if nan_se.any():
            notes.append("Not identified (NaN standard errors): "
                         + ", ".join(nan_se.index[nan_se]))
        if res._n_dropped:
            notes.append(f"{res._n_dropped} cases dropped for missing values.")
        if not res.converged:
            notes.append(f"WARNING: did not converge: {res.message}")
        if draws is not None:
            gone = mixed.collapsed(res.params)
            if gone:
                notes.append("Random parameters collapsed (spread fitted at 0; SE and t-test "
                             "against 0 at the boundary): " + ", ".join(gone))
        return cls(f"{model_name[0].upper()}{model_name[1:]} estimation results",
                   tuple(header), table, tuple(notes), st)

    def as_frame(self) -> pd.DataFrame:
        """The coefficient table as a DataFrame (a copy), with the ``status`` column."""
        out = self.table.copy()
        out["status"] = self.status.reindex(out.index).fillna("") if len(self.status) else ""
        return out

    # ------------------------------------------------------------------ rendering
    def _p_column(self) -> str | None:
        return next((c for c in self.table.columns if c.endswith(" p")), None)

    def _formatted(self, decimals: int | None = None, stars: bool | Sequence[float] = False,
                   marks: bool = True) -> pd.DataFrame:
        t = self.table
        out = pd.DataFrame(index=t.index)
        for c in t.columns:
            col = t[c].to_numpy(dtype=float)
            if c.endswith(" p") or c == "p":
                out[c] = [_fmt_p(v) for v in col]
            elif c.endswith(" t") or c == "t" or c.startswith("t vs"):
                out[c] = [_fmt(v, 3 if decimals is None else decimals) for v in col]
            else:
                out[c] = [_fmt(v, 6 if decimals is None else decimals) for v in col]
        thresholds = _thresholds(stars)
        pcol = self._p_column()
        if thresholds and pcol is not None:
            out["estimate"] = [e + star_marks(pv, thresholds)
                               for e, pv in zip(out["estimate"], t[pcol])]
        if marks and len(self.status):
            st = self.status.reindex(t.index).fillna("")
            out.index = [f"{n} {_MARK[s]}" if s else str(n) for n, s in st.items()]
            out.index.name = "parameter"
        return out

    def as_text(self, *, decimals: int | None = None,
                stars: bool | Sequence[float] = False) -> str:
        """The text table (``str(summary)``), with the same options as :meth:`as_latex`."""
        f = self._formatted(decimals, stars)
        width = max(len(k) for k, _ in self.header) + 2
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k + ':':<{width}}{v}" for k, v in self.header]
        lines.append("")
        body = f.to_string(justify="right")
        rule = "-" * max(len(line) for line in body.splitlines())
        lines += [rule, body, rule]
        if _thresholds(stars):
            lines.append(stars_legend(_thresholds(stars)))
        lines += self.notes
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return str(self)

    def as_latex(self, *, decimals: int | None = None, stars: bool | Sequence[float] = False,
                 booktabs: bool = True, caption: str | None = None,
                 label: str | None = None) -> str:
        """A LaTeX ``tabular`` of the coefficient table with the header statistics below.

        Parameters
        ----------
        decimals : int, optional
            Decimals of estimates, standard errors, intervals and t statistics (default 6 and
            3).
        stars : bool or sequence of float, default False
            Significance stars on the estimates from the first p column: True gives
            ``* p<0.1, ** p<0.05, *** p<0.01``; a sequence gives other thresholds.
        booktabs : bool, default True
            ``\\toprule``/``\\midrule``/``\\bottomrule`` (``\\usepackage{booktabs}``);
            False uses ``\\hline``.
        caption, label : str, optional
            Wrap the tabular in a ``table`` float with this caption and ``\\label``.
        """
        f = self._formatted(decimals, stars)
        n = f.shape[1]
        esc = latex_escape
        top, mid, bottom = _rules(booktabs)
        rows = [r"\begin{tabular}{l" + "r" * n + "}", top,
                " & ".join(["Parameter"] + [esc(c) for c in f.columns]) + r" \\", mid]
        for name, r in f.iterrows():
            rows.append(" & ".join([esc(str(name))] + [latex_cell(v) for v in r]) + r" \\")
        rows.append(mid)
        for k, v in self.header:
            rows.append(esc(k) + " & " + r"\multicolumn{" + str(n) + "}{l}{" + esc(v) + r"} \\")
        notes = ([stars_legend(_thresholds(stars))] if _thresholds(stars) else []) \
            + list(self.notes)
        if notes:
            rows.append(mid)
            rows += [r"\multicolumn{" + str(n + 1) + r"}{p{0.95\linewidth}}{\footnotesize "
                     + esc(t) + r"} \\" for t in notes]
        rows += [bottom, r"\end{tabular}"]
        return wrap_table("\n".join(rows), caption, label)

    def as_html(self, *, decimals: int | None = None,
                stars: bool | Sequence[float] = False) -> str:
        """An HTML fragment: header statistics and the coefficient table."""
        f = self._formatted(decimals, stars)
        head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self.header)
        cols = "".join(f"<th>{html.escape(c)}</th>" for c in f.columns)
        body = "".join(
            "<tr><th>" + html.escape(str(n)) + "</th>"
            + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>"
            for n, r in f.iterrows())
        notes = ([stars_legend(_thresholds(stars))] if _thresholds(stars) else []) \
            + list(self.notes)
        notes_html = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        return (f"<div class=\"choicekit-summary\"><h4>{html.escape(self.title)}</h4>"
                f"<table>{head}</table><table><thead><tr><th>parameter</th>{cols}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes_html}</div>")

    def _repr_html_(self) -> str:
        return self.as_html()


# ---------------------------------------------------------------------- shared helpers
def _thresholds(stars: bool | Sequence[float]) -> tuple[float, ...]:
    """Star thresholds, largest first: ``()`` for no stars."""
    if stars is False or stars is None:
        return ()
    if stars is True:
        return STARS
    try:
        th = tuple(sorted((float(s) for s in stars), reverse=True))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise SpecificationError(f"`stars` must be True, False or a sequence of p-value "
                                 f"thresholds such as (0.1, 0.05, 0.01). Got {stars!r}.") from None
    if not th or not all(0 < s < 1 for s in th):
        raise SpecificationError(f"`stars` thresholds must lie in (0, 1). Got {stars!r}.")
    return th


def star_marks(p: float, thresholds: Sequence[float]) -> str:
    """``"***"`` for ``p`` below all three (default) thresholds, ``""`` for NaN."""
    if not np.isfinite(p):
        return ""
    return "*" * sum(p < t for t in thresholds)


def stars_legend(thresholds: Sequence[float]) -> str:
    return ", ".join(f"{'*' * (i + 1)} p<{t:g}" for i, t in enumerate(thresholds))


def _rules(booktabs: bool) -> tuple[str, str, str]:
    return (r"\toprule", r"\midrule", r"\bottomrule") if booktabs else (r"\hline",) * 3


def wrap_table(tabular: str, caption: str | None, label: str | None) -> str:
    """``tabular`` alone, or in a ``table`` float when a caption or label is given."""
    if caption is None and label is None:
        return tabular
    parts = [r"\begin{table}", r"\centering"]
    if caption is not None:
        parts.append(r"\caption{" + latex_escape(caption) + "}")
    if label is not None:
        parts.append(r"\label{" + label + "}")
    return "\n".join(parts + [tabular, r"\end{table}"])


def latex_cell(v: str) -> str:
    """A formatted value for LaTeX: stars as a superscript, the rest escaped."""
    core = v.rstrip("*")
    n = len(v) - len(core)
    return latex_escape(core) + ("$^{" + "*" * n + "}$" if n else "")


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def latex_escape(s: str) -> str:
    """Escape LaTeX's special characters (one pass, so escapes are not escaped again)."""
    return "".join(_LATEX.get(ch, ch) for ch in str(s))


def _fmt(v: float, digits: int) -> str:
    if not np.isfinite(v):
        return "" if np.isnan(v) else str(v)
    if abs(v) >= 1e5 or (v != 0 and abs(v) < 10.0 ** -max(digits - 2, 4)):
        return f"{v:.{max(digits - 2, 1)}e}"
    return f"{v:.{digits}f}"


def _fmt_p(v: float) -> str:
    if not np.isfinite(v):
        return ""
    return "<1e-16" if v < 1e-16 else f"{v:.4f}" if v >= 1e-4 else f"{v:.1e}"


def fmt_fixed(v: float, decimals: int) -> str:
    """Fixed-point with ``decimals`` (no switch to exponents), ``""`` for NaN."""
    if not math.isfinite(v):
        return "" if math.isnan(v) else str(v)
    return f"{v:.{decimals}f}"
