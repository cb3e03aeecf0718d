"""Tables for papers: ck.compare across models, and the summary's columns, markers and LaTeX."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.results.summary import latex_escape, star_marks

B, V = ck.Beta, ck.Var
ALTS = {1: "train", 2: "bus", 3: "car"}
AV = {"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"}


def utilities(cost=None, asc_bus=None):
    cost = B("B_COST") if cost is None else cost
    asc_bus = B("ASC_BUS") if asc_bus is None else asc_bus
    return {
        "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
                 + cost * V("TRAIN_COST") / 100,
        "bus": asc_bus + B("B_TIME") * V("BUS_TT") / 100 + cost * V("BUS_COST") / 100,
        "car": B("B_TIME") * V("CAR_TT") / 100 + cost * V("CAR_COST") / 100,
    }


@pytest.fixture(scope="module")
def data():
    return ck.datasets.simulated_modechoice_choicedata()


@pytest.fixture(scope="module")
def fits(data):
    free = ck.MNL(data, utilities()).fit()
    fixed = ck.MNL(data, utilities(asc_bus=B("ASC_BUS", -1.0, fixed=True))).fit()
    # B_COST is about -1.0 here: an upper bound of -1.2 binds
    bound = ck.MNL(data, utilities(cost=B("B_COST", -1.5, upper=-1.2))).fit()
    return free, fixed, bound


def test_bound_fixture_really_binds(fits):
    free, _, bound = fits
    assert free.params["B_COST"] > -1.2
    assert bound.params["B_COST"] == pytest.approx(-1.2)
    assert bound.at_bound["B_COST"] and bound.at_bound.sum() == 1
    assert not free.at_bound.any()


# ---------------------------------------------------------------------- ck.compare
def test_compare_numbers_are_the_results_numbers(fits):
    free, fixed, bound = fits
    clustered = free.with_cov("cluster")
    t = ck.compare([free, fixed, clustered], names=["free", "fixed ASC", "clustered"])
    for col, r in zip(t.names, [free, fixed, clustered]):
        pd.testing.assert_series_equal(t.params[col], r.params, check_names=False)
        pd.testing.assert_series_equal(t.bse[col], r.bse, check_names=False)
        pd.testing.assert_series_equal(t.tvalues[col], r.tvalues, check_names=False)
        pd.testing.assert_series_equal(t.pvalues[col], r.pvalues, check_names=False)
        assert t.fit.at["Log-likelihood", col] == r.llf
        assert t.fit.at["Null log-likelihood", col] == r.llnull
        assert t.fit.at["Rho-squared", col] == r.rho_squared
        assert t.fit.at["AIC", col] == r.aic and t.fit.at["BIC", col] == r.bic
        assert t.fit.at["N", col] == r.nobs
    assert t.fit.at["Covariance", "clustered"] == "cluster (500 groups)"
    assert t.fit.at["Covariance", "free"] == "classical"
    frame = t.as_frame()
    assert frame.loc[("B_TIME", "coef"), "free"] == f"{free.params['B_TIME']:.3f}"
    assert frame.loc[("B_TIME", "se"), "clustered"] == f"({clustered.bse['B_TIME']:.3f})"
    assert frame.loc[("Log-likelihood", ""), "fixed ASC"] == f"{fixed.llf:.3f}"
    text = str(t)
    for r in (free, fixed):
        assert f"{r.params['B_COST']:.3f}" in text and f"({r.bse['B_COST']:.3f})" in text
    for row in ("Log-likelihood", "Null log-likelihood", "Rho-squared", "AIC", "BIC", "N",
                "Covariance", "cluster (500 groups)"):
        assert row in text


def test_compare_t_statistics_and_decimals(fits):
    free = fits[0]
    t = ck.compare([free], stat="t", decimals=5)
    f = t.as_frame()
    assert f.loc[("B_TIME", "t"), "(1)"] == f"({free.tvalues['B_TIME']:.5f})"
    assert f.loc[("B_TIME", "coef"), "(1)"] == f"{free.params['B_TIME']:.5f}"
    assert "t statistics in parentheses" in str(t)
    # options can be overridden when rendering
    assert f"{free.params['B_TIME']:.2f}" in t.as_latex(decimals=2)


def test_compare_stars_follow_the_thresholds(fits):
    assert [star_marks(p, (0.1, 0.05, 0.01)) for p in (0.5, 0.1, 0.09, 0.04, 0.009, np.nan)] \
        == ["", "", "*", "**", "***", ""]
    assert star_marks(0.03, (0.05,)) == "*"
    free = fits[0]
    t = ck.compare([free], stars=True)
    for name, p in free.pvalues.items():
        n = sum(p < c for c in (0.1, 0.05, 0.01))
        assert t.as_frame().loc[(name, "coef"), "(1)"] == f"{free.params[name]:.3f}" + "*" * n
    assert "* p<0.1, ** p<0.05, *** p<0.01" in str(t)
    assert "$^{***}$" in t.as_latex()
    custom = ck.compare([free], stars=(1e-300, 0.5))   # thresholds given in any order
    assert "* p<0.5, ** p<1e-300" in str(custom)
    with pytest.raises(ck.SpecificationError, match="stars"):
        ck.compare([free], stars=(2.0,))
    assert "*" not in ck.compare([free]).as_frame().to_numpy().ravel()[0]


def test_compare_marks_fixed_and_bound_parameters(fits):
    free, fixed, bound = fits
    t = ck.compare([free, fixed, bound])
    f = t.as_frame()
    assert f.loc[("ASC_BUS", "se"), "(2)"] == "(fixed)"
    assert f.loc[("ASC_BUS", "coef"), "(2)"] == "-1.000"
    assert f.loc[("B_COST", "coef"), "(3)"].endswith("[b]")
    assert not f.loc[("B_COST", "coef"), "(1)"].endswith("[b]")
    for out in (str(t), t.as_latex(), t.as_html()):
        assert "(fixed)" in out and "[b]" in out and "at a bound" in out
    assert bool(t.fixed.at["ASC_BUS", "(2)"]) and bool(t.at_bound.at["B_COST", "(3)"])


def test_compare_latex_is_booktabs_and_escaped(fits):
    free, fixed, _ = fits
    t = ck.compare([free, fixed], names=["A & B", "50% {x}"],
                   labels={"B_TIME": "Time ($/h) #1 ~ ^_\\"})
    tex = t.as_latex()
    assert tex.startswith(r"\begin{tabular}{lcc}") and tex.rstrip().endswith(r"\end{tabular}")
    assert tex.count(r"\toprule") == 1 and tex.count(r"\bottomrule") == 1
    assert tex.count(r"\midrule") == 2
    assert r"A \& B & 50\% \{x\}" in tex
    assert (r"Time (\$/h) \#1 \textasciitilde{} \textasciicircum{}\_\textbackslash{}"
            in tex)
    assert r"ASC\_TRAIN" in tex and "ASC_TRAIN" not in tex
    # every row has the same number of cells
    body = [r for r in tex.splitlines() if r.endswith(r"\\") and "multicolumn" not in r]
    assert {r.count(" & ") for r in body} == {2}
    plain = t.as_latex(booktabs=False)
    assert r"\toprule" not in plain and r"\hline" in plain
    wrapped = t.as_latex(caption="Models 1 & 2", label="tab:models")
    assert wrapped.startswith(r"\begin{table}") and r"\caption{Models 1 \& 2}" in wrapped
    assert r"\label{tab:models}" in wrapped


def test_latex_escape_is_one_pass():
    assert latex_escape("\\") == r"\textbackslash{}"
    assert latex_escape("{}") == r"\{\}"
    assert latex_escape("a_b&c%d$e#f") == r"a\_b\&c\%d\$e\#f"
    assert latex_escape("<1e-16") == r"\textless{}1e-16"


def test_compare_html_is_escaped(fits):
    free = fits[0]
    t = ck.compare([free], names=["<b>model</b>"], labels={"B_TIME": "time & <cost>"})
    h = t.as_html()
    assert "&lt;b&gt;model&lt;/b&gt;" in h and "<b>" not in h
    assert "time &amp; &lt;cost&gt;" in h
    assert h.count("<table>") == 1 and t._repr_html_() == h
    assert f"<td>{free.params['B_COST']:.3f}</td>" in h


def test_compare_parameter_selection_and_missing_parameters(data, fits):
    free = fits[0]
    small = ck.MNL.from_formula("CHOICE ~ time", data, reference="car").fit()
    t = ck.compare([small, free])
    assert list(t.params.index[:3]) == list(small.params.index)  # first appearance
    assert np.isnan(t.params.at["B_TIME", "(1)"])
    assert t.as_frame().loc[("B_TIME", "coef"), "(1)"] == ""
    sel = ck.compare([free], params=["B_COST", "B_TIME"])
    assert list(sel.params.index) == ["B_COST", "B_TIME"]
    with pytest.raises(ck.SpecificationError, match="no model has"):
        ck.compare([free], params=["B_TYME"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(names=["a"]), "one name per model"),
    (dict(names=["a", "a"]), "unique"),
    (dict(stat="z"), "`stat` must be one of"),
    (dict(decimals=-1), "`decimals` must be"),
])
def test_compare_errors(fits, kwargs, match):
    with pytest.raises(ck.SpecificationError, match=match):
        ck.compare([fits[0], fits[1]], **kwargs)


def test_compare_refuses_non_results():
    with pytest.raises(ck.SpecificationError, match="empty"):
        ck.compare([])
    with pytest.raises(ck.SpecificationError, match="item 0 is a dict"):
        ck.compare([{}])


# ---------------------------------------------------------------------- summary
def se_columns(s) -> list[str]:
    return [c for c in s.as_frame().columns if c.endswith("std err")]


def test_summary_se_columns_say_what_they_are(fits):
    free = fits[0]
    assert se_columns(free.summary()) == ["classical std err", "robust std err"]
    assert se_columns(free.with_cov("robust").summary()) == ["robust std err",
                                                            "classical std err"]
    assert se_columns(free.with_cov("cluster").summary()) == ["cluster (500 groups) std err",
                                                             "classical std err"]
    assert se_columns(free.with_cov("opg").summary(second_cov="robust")) == [
        "opg std err", "robust std err"]
    assert se_columns(free.summary(second_cov=None)) == ["classical std err"]
    # never two identical columns
    assert se_columns(free.with_cov("robust").summary(second_cov="robust")) == [
        "robust std err"]
    rob = free.with_cov("robust").summary().as_frame()
    np.testing.assert_array_equal(rob["robust std err"], free.with_cov("robust").bse)
    np.testing.assert_array_equal(rob["classical std err"], free.bse)
    np.testing.assert_array_equal(rob["robust t"], free.with_cov("robust").tvalues)
    np.testing.assert_array_equal(rob["classical p"], free.pvalues)
    text = str(free.with_cov("cluster").summary())
    assert "Covariance:           cluster (500 groups)" in text
    with pytest.raises(ck.SpecificationError, match="second_cov"):
        free.summary(second_cov="sandwich")


def test_summary_marks_fixed_and_bound_parameters(fits):
    _, fixed, bound = fits
    s = fixed.summary()
    assert "ASC_BUS (fixed)" in str(s) and "ASC_BUS (fixed)" in s.as_latex().replace("\\", "")
    assert s.as_frame().at["ASC_BUS", "status"] == "fixed"
    b = bound.summary()
    assert re.search(r"B_COST \(at bound\)", str(b))
    assert "B\\_COST (at bound)" in b.as_latex() and "B_COST (at bound)" in b.as_html()
    assert b.as_frame().at["B_COST", "status"] == "at upper bound"
    assert "At a bound" in str(b)


def test_summary_latex_options(fits):
    free = fits[0]
    s = free.summary()
    tex = s.as_latex(decimals=2, stars=True, caption="MNL", label="tab:mnl")
    assert tex.startswith(r"\begin{table}") and r"\toprule" in tex and r"\bottomrule" in tex
    p = free.params["B_TIME"]
    n = sum(free.pvalues["B_TIME"] < c for c in (0.1, 0.05, 0.01))
    assert f"B\\_TIME & {p:.2f}$^{{{'*' * n}}}$ & {free.bse['B_TIME']:.2f} &" in tex
    assert r"\hline" in s.as_latex(booktabs=False) and r"\toprule" not in s.as_latex(
        booktabs=False)
    assert f"{p:.6f}" in s.as_latex()  # default: 6 decimals
    assert f"{p:.3f}***" in s.as_text(decimals=3, stars=True) or n < 3
    assert "<td>" in s.as_html(decimals=1, stars=True)
