"""Plots return Figures without touching pyplot; the examples run small and write only to
the directory they are given."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import choicekit as ck  # noqa: E402
from choicekit import plots  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def report():
    return ck.gumbel_check(n_draws=5000, n_draws_ks=2000, rng=0)


@pytest.fixture(scope="module")
def study():
    return ck.recovery_study(ck.make_choice_data(400, 3, rng=0), n_reps=12, rng=1)


def test_derivation_plots(report, tmp_path):
    before = plt.get_fignums()
    fig = plots.plot_frequencies(report)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    # the first panel has one point per (pattern, alternative) cell
    line = fig.axes[0].lines[1]
    np.testing.assert_allclose(line.get_xdata(), report.frequencies.table["probability"])
    np.testing.assert_allclose(fig.axes[1].lines[-1].get_ydata(),
                               report.frequencies.table["z"])
    f2 = plots.plot_gumbel_difference(report)
    f3 = plots.plot_max_utility(report.maximum)
    for i, f in enumerate((fig, f2, f3)):
        f.savefig(tmp_path / f"{i}.png")
        # more than a blank canvas of the same size (about 2 kB; the plots are 35-55 kB)
        Figure(figsize=f.get_size_inches()).savefig(tmp_path / "blank.png")
        assert (tmp_path / f"{i}.png").stat().st_size > 5 * (tmp_path / "blank.png").stat().st_size
    # logistic density drawn on the difference plot: pdf at 0 is 1/4 for scale 1
    curve = f2.axes[0].lines[0]
    x, y = curve.get_xdata(), curve.get_ydata()
    assert y[np.argmin(np.abs(x))] == pytest.approx(0.25, abs=1e-3)
    assert plt.get_fignums() == before  # nothing registered with pyplot


def test_plots_draw_on_given_axes(report):
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.plot_frequencies(report.frequencies, ax=ax) is fig
    assert plots.plot_gumbel_difference(report.difference, ax=ax) is fig
    assert len(fig.axes) == 1


def test_recovery_plot(study):
    fig = plots.plot_recovery(study)
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == len(study.true_params)
    for ax, (name, truth) in zip(visible, study.true_params.items()):
        assert ax.get_title() == name
        assert any(np.allclose(ln.get_xdata(), truth) for ln in ax.lines)
    with pytest.raises(ck.SpecificationError, match="no standard errors of type 'cluster'"):
        plots.plot_recovery(study, cov_type="cluster")


def test_wrong_inputs(study, report):
    with pytest.raises(ck.SpecificationError, match="FrequencyCheck"):
        plots.plot_frequencies(study)
    with pytest.raises(ck.SpecificationError, match="RecoveryStudy"):
        plots.plot_recovery(report)


def _run_example(name: str, args: list[str], monkeypatch, cwd: Path) -> dict:
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [name, *args])
    return runpy.run_path(str(EXAMPLES / name), run_name="__main__")


@pytest.mark.parametrize("name, files", [
    ("gumbel_derivation.py", ["report_gumbel.txt", "frequencies_gumbel.png",
                              "difference_normal.png", "maximum_gumbel.png",
                              "tests_normal.csv"]),
    ("recovery_study.py", ["recovery.txt", "recovery.png", "recovery_summary.csv",
                           "recovery_estimates.csv"]),
])
def test_examples_run_small(name, files, tmp_path, monkeypatch, capsys):
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    _run_example(name, [str(out), "--size", "0.01"], monkeypatch, cwd)
    for f in files:
        assert (out / f).is_file(), f
    assert os.listdir(cwd) == []  # nothing written outside the output directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "out"]
    assert "written to" in capsys.readouterr().out


# ---------------------------------------------------------------------------- issue 16, item 6
@pytest.fixture(scope="module")
def fitted():
    df = ck.datasets.load_simulated_modechoice()
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"},
        variables={"cost": {"train": "TRAIN_COST", "bus": "BUS_COST", "car": "CAR_COST"},
                   "tt": {"train": "TRAIN_TT", "bus": "BUS_TT", "car": "CAR_TT"}})
    return df, data, ck.MNL.from_formula("CHOICE ~ cost + tt", data, reference="car").fit()


def test_post_estimation_plots(fitted, tmp_path):
    df, data, res = fitted
    before = plt.get_fignums()
    fig = plots.plot_shares(res)
    assert isinstance(fig, Figure)
    obs, pred = fig.axes[0].collections[0].get_offsets().T
    table = res.share_table()
    assert np.allclose(obs, table["observed"]) and np.allclose(pred, table["predicted"])
    fig = plots.plot_elasticities(res.elasticities("cost"))
    im = fig.axes[0].images[0]
    assert im.get_array().shape == (3, 3)
    assert "(" in fig.axes[0].texts[0].get_text()  # the standard error under the value
    assert isinstance(ck.plots.plot_elasticities(res.elasticities("cost")), Figure)
    curve = {f: res.predicted_shares(data.with_variables({"cost": data.variable("cost") * f}))
             for f in (0.8, 1.0, 1.25, 1.5)}
    fig = plots.plot_scenario_curve(curve, alternatives=["car", "train"], xlabel="cost factor")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["car", "train"]
    assert len(ax.collections) == 2  # the bands
    assert np.allclose(ax.lines[0].get_ydata(), [curve[f].loc["car", "share"] for f in curve])
    fig = plots.plot_random_coefficient(-1.2, 0.5, "ln", sign=-1, name="B_COST")
    assert "100.0% below 0" in fig.axes[0].texts[0].get_text()
    fig = plots.plot_random_coefficient(0.5, 1.0, "normal", name="B_TIME")
    assert "30.9% below 0" in fig.axes[0].texts[0].get_text()
    fig.savefig(tmp_path / "coef.png")
    assert plt.get_fignums() == before  # no pyplot state


def test_post_estimation_plot_errors(fitted):
    _, _, res = fitted
    with pytest.raises(ck.SpecificationError, match="`distribution` must be one of"):
        plots.plot_random_coefficient(0, 1, "gamma")
    with pytest.raises(ck.SpecificationError, match="share table"):
        plots.plot_shares([1, 2])
    with pytest.raises(ck.SpecificationError, match="not in the curve"):
        plots.plot_scenario_curve({1.0: res.predicted_shares()}, alternatives="plane")
