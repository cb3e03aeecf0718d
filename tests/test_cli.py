"""The command line: ``choicekit demo``, ``choicekit fit DATA --spec SPEC.toml`` and its spec
files (choicekit.spec.specfile).

The Swissmetro check compares with Biogeme's published report
(tests/reference/biogeme_b01logit_swissmetro.json, 3 significant digits: tolerance half a unit
in the last digit, x1.01 for ties, as tests/reference/README.md says).
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.cli import main
from choicekit.spec.specfile import evaluate_expression, parse_spec

REPO = Path(__file__).resolve().parents[1]
try:  # TOML: stdlib from Python 3.11, the `tomli` package before
    import tomllib  # noqa: F401
    HAVE_TOML = True
except ImportError:  # pragma: no cover - Python 3.10
    HAVE_TOML = importlib.util.find_spec("tomli") is not None
needs_toml = pytest.mark.skipif(not HAVE_TOML, reason="no TOML reader (Python 3.10 without "
                                "tomli); see test_clear_error_without_toml_reader")
SPEC = REPO / "examples" / "specs" / "swissmetro_b01logit.toml"
PUB = runpy.run_path(str(REPO / "examples" / "replications" / "_published.py"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------- demo
def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo"], capsys)
    assert code == 0
    assert "True parameters of the simulation" in out and "B_TIME" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([], capsys)
    assert code == 2 and "demo" in out and "fit" in out


# -------------------------------------------------------------------------------------- help
def test_fit_help_is_clear(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for needle in ("DATA", "--spec", "--json", "--csv", "TOML", "[utilities]", "[availability]",
                   "formula", "Exit status", "never evaluated"):
        assert needle in out, needle


def test_console_entry_point_help() -> None:
    """The installed module runs as a program and its help exits 0."""
    r = subprocess.run([sys.executable, "-m", "choicekit.cli", "fit", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--spec" in r.stdout


# ------------------------------------------------------------------------------ swissmetro
@needs_toml
def test_fit_swissmetro_reproduces_biogeme(shared_data: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ref = json.loads((REPO / "tests/reference/biogeme_b01logit_swissmetro.json").read_text())
    out_json, out_csv = tmp_path / "res.json", tmp_path / "res.csv"
    code, out, err = run([
        "fit", str(shared_data / "swissmetro.dat"), "--spec", str(SPEC),
        "--json", str(out_json), "--csv", str(out_csv)], capsys)
    assert code == 0, err
    assert "ASC_TRAIN" in out and "Log-likelihood" in out
    res = json.loads(out_json.read_text())
    half = PUB["half_last_digit"]
    assert res["n_cases"] == ref["n_obs"]
    for k, v in ref["params"].items():
        assert abs(res["params"][k] - v) <= 1.01 * half(v, 3), k
    for k, v in ref["std_errors"].items():
        assert abs(res["std_errors"][k] - v) <= 1.01 * half(v, 3), k
    assert abs(res["loglik"] - ref["loglik"]) <= 1.01 * half(ref["loglik"])
    assert abs(res["null_loglik"] - ref["null_loglik"]) <= 1.01 * half(ref["null_loglik"])
    assert res["fixed"]["ASC_SM"] is True and res["std_errors"]["ASC_SM"] is None
    table = pd.read_csv(out_csv, index_col="parameter")
    assert abs(table.loc["B_TIME", "estimate"] - ref["params"]["B_TIME"]) <= 5.05e-3
    # nothing else was written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.csv", "res.json"]


@needs_toml
def test_fit_swissmetro_robust(shared_data: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    ref = json.loads((REPO / "tests/reference/biogeme_b01logit_swissmetro.json").read_text())
    spec = tmp_path / "robust.toml"
    spec.write_text(SPEC.read_text().replace('cov_type = "classical"', 'cov_type = "robust"'))
    out_json = tmp_path / "res.json"
    code, _, err = run(["fit", str(shared_data / "swissmetro.dat"), "--spec", str(spec),
                        "--json", str(out_json), "--quiet"], capsys)
    assert code == 0, err
    res = json.loads(out_json.read_text())
    for k, v in ref["robust_std_errors"].items():
        assert abs(res["std_errors"][k] - v) <= 1.01 * PUB["half_last_digit"](v, 3), k


# ------------------------------------------------------------------ formula, long layout
@needs_toml
def test_fit_formula_long_layout_greene(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Greene's Table 21.11 from a long CSV and a formula spec (mlogit's published values)."""
    df = ck.datasets.load_travelmode()
    df["mode"] = df["mode"].map({1: "air", 2: "train", 3: "bus", 4: "car"})
    data_file = tmp_path / "travelmode.csv"
    df.to_csv(data_file, index=False)
    spec = tmp_path / "greene.toml"
    spec.write_text(
        '[data]\nlayout = "long"\ncase = "individual"\nalt = "mode"\nchoice = "choice"\n'
        '[variables]\nhinc_air = "hinc * (mode == \'air\')"\n'
        '[formula]\nformula = "choice ~ gc + ttme + hinc_air"\nreference = "car"\n')
    out_json = tmp_path / "res.json"
    code, out, err = run(["fit", str(data_file), "--spec", str(spec), "--json",
                          str(out_json)], capsys)
    assert code == 0, err
    ref = json.loads((REPO / "tests/reference/greene_travelmode_table21_11.json").read_text())
    res = json.loads(out_json.read_text())
    ours = {"air_const": "ASC:air", "train_const": "ASC:train", "bus_const": "ASC:bus",
            "gc": "gc", "ttme": "ttme", "hinc_air": "hinc_air"}
    # statsmodels' full-precision mlogit values; rtol 1e-4 covers mlogit's stopping slack
    for k, v in ref["params_high_precision_statsmodels"].items():
        np.testing.assert_allclose(res["params"][ours[k]], v, rtol=1e-4, err_msg=k)


# ------------------------------------------------------------------------------ bad input
def _fit_with(spec_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
              frame: pd.DataFrame | None = None) -> tuple[int, str]:
    if frame is None:
        frame = pd.DataFrame({"y": [1, 2, 1, 2, 1, 2], "x1": [1.0, 2, 3, 4, 5, 7],
                              "x2": [2.0, 1, 0, 3, 1, 2]})
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    spec = tmp_path / "s.toml"
    spec.write_text(spec_text)
    code, _, err = run(["fit", str(data), "--spec", str(spec)], capsys)
    assert "Traceback" not in err
    return code, err


GOOD = ('[data]\nchoice = "y"\n[data.alternatives]\n1 = "a"\n2 = "b"\n'
        '[parameters]\nASC = 0.0\nB = 0.0\n'
        '[utilities]\na = "ASC + B * x1"\nb = "B * x2"\n')


@needs_toml
def test_small_good_spec_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _fit_with(GOOD, tmp_path, capsys)
    assert code == 0, err


@needs_toml
@pytest.mark.parametrize(("spec", "needle"), [
    ("[data\nchoice = 1", "not valid TOML"),
    (GOOD + "[estimaton]\n", "unknown section [estimaton]"),
    (GOOD.replace('choice = "y"', 'choice = "yy"'), "'yy'"),
    (GOOD.replace("B * x2", "B * x3"), "'x3' is neither a parameter"),
    (GOOD.replace("B * x2", "B * x2 +"), "cannot parse"),
    (GOOD.replace("B * x2", "__import__('os').system('echo pwned')"), "only calls to"),
    (GOOD.replace("B * x2", "x2.__class__"), "Attribute is not allowed"),
    (GOOD.replace("B * x2", "(lambda: 1)()"), "only calls to"),
    (GOOD.replace("B * x2", "B * B"), "linear in the parameters"),
    (GOOD.replace("[data.alternatives]\n1 = \"a\"\n2 = \"b\"\n", ""), "[data.alternatives]"),
    (GOOD + "[formula]\nformula = \"y ~ x1\"\n", "not both"),
    (GOOD.replace("B = 0.0", "B = 0.0\nC = 1.0"), "used in no utility"),
    (GOOD.replace('[data]\n', '[data]\nfilter = "x1 > 100"\n'), "keeps no rows"),
    (GOOD.replace('[data]\n', '[data]\nfilter = "x1 + 1"\n'), "must be a condition"),
    (GOOD.replace('b = "B * x2"', 'c = "B * x2"'), "unknown alternatives ['c']"),
    ('[data]\nchoice = "y"\n[data.alternatives]\n1 = "a"\n2 = "b"\n[formula]\n'
     'formula = "y ~ x1"\nrefernce = "a"\n', "unknown keys ['refernce'] in [formula]"),
    (GOOD.replace('[data]\n', '[data]\nlayout = "tall"\n'), "layout must be"),
    (GOOD.replace("ASC = 0.0", "ASC = { value = 0.0, fix = true }"), "unknown keys ['fix']"),
    (GOOD + '[estimation]\ncov_type = "robst"\n', "robst"),
])
def test_bad_spec_is_a_clear_error(spec: str, needle: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _fit_with(spec, tmp_path, capsys)
    assert code == 2
    assert err.startswith("choicekit fit: error:")
    assert needle in err, err


@needs_toml
def test_missing_files_are_clear_errors(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(GOOD)
    code, _, err = run(["fit", str(tmp_path / "nope.csv"), "--spec", str(spec)], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run(["fit", str(spec), "--spec", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "does not exist" in err


@needs_toml
def test_bad_toml_exit_code_in_a_subprocess(tmp_path: Path) -> None:
    """The real program: exit status 2 and a one-line message, not a traceback."""
    spec = tmp_path / "bad.toml"
    spec.write_text("[data\n")
    data = tmp_path / "d.csv"
    data.write_text("y,x\n1,2\n")
    r = subprocess.run([sys.executable, "-m", "choicekit.cli", "fit", str(data), "--spec",
                        str(spec)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "not valid TOML" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------------- expressions
def test_data_expressions_match_pandas() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"PURPOSE": rng.integers(1, 6, 200), "CHOICE": rng.integers(0, 4, 200),
                       "GA": rng.integers(0, 2, 200), "CO": rng.uniform(1, 100, 200)})
    got = evaluate_expression("PURPOSE in (1, 3) and CHOICE != 0", df)
    want = df["PURPOSE"].isin([1, 3]) & (df["CHOICE"] != 0)
    pd.testing.assert_series_equal(got, want, check_names=False)
    got = evaluate_expression("CO * (GA == 0) / 100 + log(CO) ** 2 - -1", df)
    want = df["CO"] * (df["GA"] == 0) / 100 + np.log(df["CO"]) ** 2 + 1
    np.testing.assert_allclose(got, want)
    got = evaluate_expression("not (GA == 1) or PURPOSE not in [2]", df)
    np.testing.assert_array_equal(got, (df["GA"] != 1) | (df["PURPOSE"] != 2))
    got = evaluate_expression("1 < PURPOSE <= 3", df)
    np.testing.assert_array_equal(got, (df["PURPOSE"] > 1) & (df["PURPOSE"] <= 3))


@needs_toml
def test_spec_parses_parameters() -> None:
    spec = parse_spec(GOOD.replace("ASC = 0.0", "ASC = { value = 0.5, fixed = true }")
                      + "[estimation]\ncov_type = \"robust\"\n")
    assert spec.parameters["ASC"].fixed and spec.parameters["ASC"].value == 0.5
    assert spec.estimation == {"cov_type": "robust"}


@needs_toml
def test_fit_wide_formula_with_gathered_variables(shared_data: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Fishing (wide) with [data.variables] and a formula: mlogit's conditional logit."""
    alts = ("beach", "pier", "boat", "charter")
    lines = []
    for v in ("price", "catch"):
        pairs = ", ".join(f'{a} = "{v}.{a}"' for a in alts)
        lines.append(v + " = { " + pairs + " }")
    gathered = "\n".join(lines)
    spec = tmp_path / "fishing.toml"
    spec.write_text('[data]\nchoice = "mode"\n[data.alternatives]\n'
                    + "".join(f'{a} = "{a}"\n' for a in alts)
                    + "[data.variables]\n" + gathered + "\n"
                    + '[formula]\nformula = "mode ~ price + catch"\nreference = "beach"\n')
    out_json = tmp_path / "res.json"
    code, _, err = run(["fit", str(shared_data / "fishing.csv"), "--spec", str(spec),
                        "--json", str(out_json), "--quiet"], capsys)
    assert code == 0, err
    ref = json.loads((REPO / "tests/reference/mlogit_fishing_conditional.json").read_text())
    res = json.loads(out_json.read_text())
    crit = PUB["crit"](ref)
    for k, v in ref["params"].items():
        ours = PUB["mlogit_name"](k, alts)
        tol = max(1.01 * PUB["half_last_digit"](v, 4), crit ** 0.5 * ref["std_errors"][k])
        assert abs(res["params"][ours] - v) <= tol, k


@needs_toml
def test_fit_cluster_covariance_from_spec(shared_data: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """[data] group + cov_type = "cluster": the CLI gives the library's clustered SEs."""
    spec = tmp_path / "cluster.toml"
    spec.write_text(SPEC.read_text().replace('layout = "wide"', 'layout = "wide"\ngroup = "ID"')
                    .replace('cov_type = "classical"', 'cov_type = "cluster"'))
    out_json = tmp_path / "res.json"
    code, _, err = run(["fit", str(shared_data / "swissmetro.dat"), "--spec", str(spec),
                        "--json", str(out_json), "--quiet"], capsys)
    assert code == 0, err
    res = json.loads(out_json.read_text())
    assert res["cov_type"] == "cluster"
    lib = ck.MNL(ck.datasets.swissmetro_choicedata(), {
        "train": ck.Beta("ASC_TRAIN") + ck.Beta("B_TIME") * ck.Var("TRAIN_TT") / 100
        + ck.Beta("B_COST") * ck.Var("TRAIN_COST") / 100,
        "sm": ck.Beta("ASC_SM", 0, fixed=True) + ck.Beta("B_TIME") * ck.Var("SM_TT") / 100
        + ck.Beta("B_COST") * ck.Var("SM_COST") / 100,
        "car": ck.Beta("ASC_CAR") + ck.Beta("B_TIME") * ck.Var("CAR_TT") / 100
        + ck.Beta("B_COST") * ck.Var("CAR_CO") / 100}).fit(cov_type="cluster")
    for k in ("ASC_TRAIN", "ASC_CAR", "B_TIME", "B_COST"):
        assert abs(res["std_errors"][k] - lib.bse[k]) <= 1e-10 * lib.bse[k], k


@needs_toml
def test_long_layout_availability_column(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A 0/1 availability column in long data: the unavailable row drops out of the fit."""
    df = pd.DataFrame({"case": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
                       "alt": ["a", "b", "c"] * 4,
                       "ch": [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0],
                       "av": [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
                       "x": [1.0, 2, 99, 2, 1, 3, 0, 1, 2, 3, 1, 0]})
    data_file = tmp_path / "long.csv"
    df.to_csv(data_file, index=False)
    spec = tmp_path / "s.toml"
    spec.write_text('formula = "ch ~ x | 0"\n[data]\nlayout = "long"\ncase = "case"\n'
                    'alt = "alt"\nchoice = "ch"\navailability = "av"\n')
    out_json = tmp_path / "r.json"
    code, _, err = run(["fit", str(data_file), "--spec", str(spec), "--json", str(out_json),
                        "--quiet"], capsys)
    assert code == 0, err
    lib = ck.MNL.from_formula("ch ~ x | 0", ck.ChoiceData.from_long(
        df.drop(index=2), case="case", alt="alt", choice="ch")).fit()
    assert abs(json.loads(out_json.read_text())["params"]["x"] - lib.params["x"]) < 1e-10


@needs_toml
def test_separated_data_exit_status_1(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Perfect prediction: no MLE exists; the CLI reports the warnings and exits 1."""
    frame = pd.DataFrame({"y": [1, 2, 1, 2, 1, 2], "x1": [5.0, 0, 6, 1, 7, 0],
                          "x2": [0.0, 5, 1, 6, 0, 7]})
    spec = ('[data]\nchoice = "y"\n[data.alternatives]\n1 = "a"\n2 = "b"\n'
            '[parameters]\nB = 0.0\n[utilities]\na = "B * x1"\nb = "B * x2"\n')
    code, err = _fit_with(spec, tmp_path, capsys, frame)
    assert code == 1
    assert "choicekit fit: warning:" in err


@needs_toml
def test_help_example_is_the_shipped_spec() -> None:
    """The spec shown in `choicekit fit --help` parses and matches examples/specs."""
    import textwrap

    from choicekit.cli import _FIT_EPILOG

    block = _FIT_EPILOG.split("(examples/specs/swissmetro_b01logit.toml):\n\n", 1)[1]
    block = textwrap.dedent(block.split("\n\n", 1)[0])
    shown = parse_spec(block, source="--help")
    shipped = parse_spec(SPEC.read_text(), source=str(SPEC))
    assert shown.utilities == shipped.utilities
    assert shown.availability == shipped.availability
    assert shown.variables == shipped.variables
    assert shown.data == shipped.data
    assert {k: (b.value, b.fixed) for k, b in shown.parameters.items()} == {
        k: (b.value, b.fixed) for k, b in shipped.parameters.items()}


@pytest.mark.skipif(HAVE_TOML, reason="a TOML reader is available")
def test_clear_error_without_toml_reader(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(GOOD)
    code, _, err = run(["fit", str(spec), "--spec", str(spec)], capsys)
    assert code == 2 and "tomli" in err
