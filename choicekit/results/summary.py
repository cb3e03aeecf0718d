"""Summary tables of a fit: text, pandas, LaTeX and HTML from one frame."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from choicekit.results.results import MNLResults

__all__ = ["Summary"]


@dataclass(frozen=True)
class Summary:
    """A fit summary: header statistics and the coefficient table.

    ``str(summary)`` is the text table; :meth:`as_frame`, :meth:`as_latex` and :meth:`as_html`
    give the same numbers in other forms.
    """

    title: str
    header: tuple[tuple[str, str], ...]
    table: pd.DataFrame
    notes: tuple[str, ...]

    @classmethod
    def from_results(cls, res: MNLResults, alpha: float = 0.05) -> Summary:
        rob = res if res.cov_type == "robust" else res.with_cov("robust")
        ci = res.conf_int(alpha)  # also checks alpha
        lvl = f"{100 * (1 - alpha):g}%"
        p, se = res.params, res.bse
        table = pd.DataFrame({
            "estimate": p,
            "std err": se,
            "t": res.tvalues,
            "p": res.pvalues,
            f"[{lvl}": ci["lower"],
            f"{lvl}]": ci["upper"],
            "robust std err": rob.bse,
            "robust t": rob.tvalues,
            "robust p": rob.pvalues,
        })
        table.index.name = "parameter"
        fixed = res.fixed
        nan_se = ~fixed & se.isna()
        header = (
            ("Model", "multinomial logit"),
            ("Cases", f"{res.nobs}"),
            ("Alternatives", f"{len(res.model.design.alternatives)}"),
            ("Estimated parameters", f"{res.df_model}"),
            ("Log-likelihood", f"{res.llf:.6f}"),
            ("Null log-likelihood", f"{res.llnull:.6f}"),
            ("Rho-squared", f"{res.rho_squared:.4f}"),
            ("Adj. rho-squared", f"{res.rho_squared_adj:.4f}"),
            ("AIC", f"{res.aic:.3f}"),
            ("BIC", f"{res.bic:.3f}"),
            ("Covariance", res.cov_type),
            ("Converged", f"{res.converged} ({res.method}, {res.iterations} iterations, "
                          f"gradient {res.gradient_norm:.1e})"),
        )
        notes = []
        if fixed.any():
            notes.append("Fixed parameters (not estimated): " + ", ".join(fixed.index[fixed]))
        if nan_se.any():
            notes.append("Not identified (NaN standard errors): "
                         + ", ".join(nan_se.index[nan_se]))
        if len(res.model.dropped_cases):
            notes.append(f"{len(res.model.dropped_cases)} cases dropped for missing values.")
        if not res.converged:
            notes.append(f"WARNING: did not converge: {res.message}")
        return cls("Multinomial logit estimation results", header, table, tuple(notes))

    def as_frame(self) -> pd.DataFrame:
        """The coefficient table as a DataFrame (a copy)."""
        return self.table.copy()

    def _formatted(self) -> pd.DataFrame:
        t = self.table
        out = pd.DataFrame(index=t.index)
        for c in t.columns:
            col = t[c].to_numpy(dtype=float)
            if c.endswith(" p") or c == "p":
                out[c] = [_fmt_p(v) for v in col]
            elif c.endswith(" t") or c == "t":
                out[c] = [_fmt(v, 3) for v in col]
            else:
                out[c] = [_fmt(v, 6) for v in col]
        return out

    def __str__(self) -> str:
        f = self._formatted()
        width = max(len(k) for k, _ in self.header) + 2
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k + ':':<{width}}{v}" for k, v in self.header]
        lines.append("")
        body = f.to_string(justify="right")
        rule = "-" * max(len(line) for line in body.splitlines())
        lines += [rule, body, rule]
        lines += self.notes
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def as_latex(self) -> str:
        """A LaTeX ``tabular`` of the coefficient table with the header statistics below."""
        f = self._formatted()
        cols = "l" + "r" * f.shape[1]
        esc = _latex_escape
        rows = [r"\begin{tabular}{" + cols + "}", r"\hline",
                " & ".join(["Parameter"] + [esc(c) for c in f.columns]) + r" \\", r"\hline"]
        for name, r in f.iterrows():
            rows.append(" & ".join([esc(str(name))] + [esc(v) for v in r]) + r" \\")
        rows.append(r"\hline")
        for k, v in self.header:
            rows.append(esc(k) + " & " + r"\multicolumn{" + str(f.shape[1]) + "}{l}{"
                        + esc(v) + r"} \\")
        rows += [r"\hline", r"\end{tabular}"]
        return "\n".join(rows)

    def as_html(self) -> str:
        """An HTML fragment: header statistics and the coefficient table."""
        f = self._formatted()
        head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self.header)
        cols = "".join(f"<th>{html.escape(c)}</th>" for c in f.columns)
        body = "".join(
            "<tr><th>" + html.escape(str(n)) + "</th>"
            + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>"
            for n, r in f.iterrows())
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (f"<div class=\"choicekit-summary\"><h4>{html.escape(self.title)}</h4>"
                f"<table>{head}</table><table><thead><tr><th>parameter</th>{cols}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes}</div>")

    def _repr_html_(self) -> str:
        return self.as_html()


def _fmt(v: float, digits: int) -> str:
    if not np.isfinite(v):
        return "" if np.isnan(v) else str(v)
    if abs(v) >= 1e5 or (v != 0 and abs(v) < 1e-4):
        return f"{v:.{digits - 2}e}"
    return f"{v:.{digits}f}"


def _fmt_p(v: float) -> str:
    if not np.isfinite(v):
        return ""
    return "<1e-16" if v < 1e-16 else f"{v:.4f}" if v >= 1e-4 else f"{v:.1e}"


def _latex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                 ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("<", r"$<$")):
        s = s.replace(a, b)
    return s
