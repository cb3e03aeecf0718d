"""Hostile and careless input (issue 17): every bad spec, file and library gets a clear error,
and nothing is lost.

CLI items run the real program in a subprocess (``python -m choicekit``) and check the exit
status (2 for bad input, 1 only for "did not converge") and that stderr holds a message, never
a traceback. The random-expression (hypothesis) tests for the same interpreter cases live in
tests/test_properties.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import choicekit as ck
from choicekit.spec.specfile import evaluate_expression, parse_spec, utility_from_expression

B, V = ck.Beta, ck.Var
REPO = Path(__file__).resolve().parents[1]

GOOD = ('[data]\nchoice = "y"\n[data.alternatives]\n1 = "a"\n2 = "b"\n'
        '[parameters]\nASC = 0.0\nB = 0.0\n'
        '[utilities]\na = "ASC + B * x1"\nb = "B * x2"\n')
FRAME = pd.DataFrame({"y": [1, 2, 1, 2, 1, 2, 2, 1], "x1": [1.0, 2, 3, 4, 5, 7, 1, 2],
                      "x2": [2.0, 1, 0, 3, 1, 2, 3, 0]})


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m choicekit ARGS`` as a user would."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "choicekit", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def fit_spec_text(spec: str, tmp_path: Path, frame: pd.DataFrame = FRAME,
                  *extra: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    (tmp_path / "s.toml").write_text(spec)
    return cli("fit", data, "--spec", tmp_path / "s.toml", "--quiet", *extra)


def assert_bad_input(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("choicekit fit: error:"), r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)


def utility(expr: str, params: tuple[str, ...] = ("B", "ASC")) -> ck.spec.expressions.Utility:
    return utility_from_expression(expr, {p: B(p) for p in params},
                                   lambda name: name in ("x1", "x2"), ["x1", "x2"],
                                   where="[utilities] a")


# ------------------------------------------------------------------ 8. python -m choicekit
def test_python_dash_m_choicekit_is_the_command_line(tmp_path: Path) -> None:
    r = cli("fit", "--help")
    assert r.returncode == 0 and "Exit status" in r.stdout, r.stderr
    r = fit_spec_text(GOOD, tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli()
    assert r.returncode == 2 and "demo" in r.stdout


# -------------------------------------------------- 2. arithmetic in expressions cannot crash
ARITHMETIC = [
    ("10**10**10", "overflows", "1e10000000000"),
    ("10.0**400", "overflows", "1e400"),
    ("2 ** 2000", "overflows", "beyond the largest number"),
    ("1e308 * 10", "overflows", "1e308 * 10"),
    ("x1 / 0", "division by zero", "x1 / 0"),
    ("B / 0", "division by zero", "B / 0"),
    ("B * x1 / (3 - 3)", "division by zero", "(3 - 3)"),
    ("0 ** -1", "division by zero", "0 to a negative power"),
    ("(-8) ** 0.5", "not a real number", "fractional power"),
    ("B * log(0)", "-inf", "log(0)"),
    ("exp(1000)", "inf", "exp(1000)"),
    ("9" * 400, "too large", "1.8e308"),
]


@pytest.mark.parametrize(("expr", "what", "detail"), ARITHMETIC)
def test_constant_arithmetic_is_a_specification_error_with_a_caret(expr, what, detail) -> None:
    with pytest.raises(ck.SpecificationError) as info:
        utility(f"ASC + B * x1 + {expr}")
    msg = str(info.value)
    assert what in msg and detail in msg, msg
    assert msg.count("[utilities] a:") == 1
    line, caret = msg.splitlines()[-2:]
    assert caret.strip() == "^" and line.strip().startswith("ASC + B * x1")
    assert caret.index("^") >= line.index(expr[0], len("  ASC + B * x1 "))


@pytest.mark.parametrize(("expr", "what", "detail"),
                         [c for c in ARITHMETIC if "B" not in c[0]])
def test_constant_arithmetic_in_variables(expr, what, detail) -> None:
    with pytest.raises(ck.SpecificationError, match="division by zero|overflows|real number|"
                       "inf|too large") as info:
        evaluate_expression(f"x1 + {expr}", FRAME, where="[variables] Z")
    assert what in str(info.value) and detail in str(info.value)


def test_arithmetic_errors_through_the_cli(tmp_path: Path) -> None:
    for i, expr in enumerate(["10**10**10", "B / 0", "10.0**400"]):
        (tmp_path / str(i)).mkdir()
        r = fit_spec_text(GOOD.replace('"B * x2"', f'"B * x2 + {expr}"'), tmp_path / str(i))
        assert_bad_input(r, "[utilities] b", "^")
    spec = GOOD.replace("[parameters]", '[variables]\nZ = "x1 / 0"\n[parameters]')
    assert_bad_input(fit_spec_text(spec, tmp_path), "[variables] Z", "division by zero")


def test_inf_from_data_is_named_by_the_design_check(tmp_path: Path) -> None:
    # x1 / x2 is inf where x2 is 0 (2 rows): the design check names the variable and cases
    spec = GOOD.replace("[parameters]", '[variables]\nR = "x1 / x2"\n[parameters]').replace(
        '"ASC + B * x1"', '"ASC + B * R"')
    r = fit_spec_text(spec, tmp_path)
    assert_bad_input(r, "variable 'R' for alternative 'a'", "2 infinite values",
                     "missing='drop'")
    # log of a column with a 0 in it: -inf, the same message
    spec = GOOD.replace("[parameters]", '[variables]\nL = "log(x2)"\n[parameters]').replace(
        '"B * x2"', '"B * L"')
    assert_bad_input(fit_spec_text(spec, tmp_path), "variable 'L' for alternative 'b'",
                     "infinite")


def test_python_api_division_by_zero() -> None:
    with pytest.raises(ck.SpecificationError, match="Division by zero"):
        B("b") / 0
    with pytest.raises(ck.SpecificationError, match="Division by zero"):
        B("b") * V("x") / 0.0
    with pytest.raises(ck.SpecificationError, match="Division by zero"):
        V("x") / 0


# -------------------------------------------------- 3. logical operators on parameters
LOGICAL = ["not B", "B == 0", "(ASC == B)", "B != x1", "B < 1", "B and x1", "x1 or B",
           "B in (0, 1)", "B not in (1,)", "(B * x1 > 0)", "B & x1", "x1 | ASC",
           "not (B * x1 + 1)", "0 < B < 1"]


@pytest.mark.parametrize("expr", LOGICAL)
def test_logic_on_parameters_is_refused_naming_the_term(expr: str) -> None:
    with pytest.raises(ck.SpecificationError) as info:
        utility(f"B * x1 + ({expr})")
    msg = str(info.value)
    assert "parameter" in msg and "data" in msg, msg
    assert msg.count("[utilities] a:") == 1
    assert msg.splitlines()[-1].strip() == "^"


@pytest.mark.parametrize("expr", ["B * (x1 == 1)", "B * (x1 > 1 and x2 < 2)", "B * (not x2)",
                                  "B * (x1 in (1, 2))", "ASC * (x1 != 7) + B * x2"])
def test_logic_on_data_still_works(expr: str) -> None:
    u = utility(expr)
    assert set(u.terms) <= {"B", "ASC"} and u.terms


def test_logic_on_parameters_through_the_cli(tmp_path: Path) -> None:
    for i, expr in enumerate(["not B", "B == 0", "(ASC == B)"]):
        (tmp_path / str(i)).mkdir()
        r = fit_spec_text(GOOD.replace('"ASC + B * x1"', f'"ASC + B * x1 + ({expr})"'),
                          tmp_path / str(i))
        assert_bad_input(r, "[utilities] a", "parameter", "^")


@pytest.mark.parametrize("build", [
    lambda: {"a": B("ASC") + (B("b") == 0), "b": 0},
    lambda: {"a": (B("b") == 0) + B("ASC"), "b": 0},
    lambda: {"a": B("b") * V("x1") + (B("ASC") == B("b")), "b": 0},
    lambda: {"a": B("b") == 0, "b": 0},
    lambda: {"a": V("x1") * (B("b") != 1), "b": 0},
    lambda: {"a": B("b") * V("x1") + (B("ASC") < 1), "b": 0},
    lambda: {"a": not B("b"), "b": 0},
    lambda: {"a": (not B("b")) + B("ASC"), "b": 0},
    lambda: {"a": B("b") & V("x1"), "b": 0},
    lambda: {"a": V("x1") | B("b"), "b": 0},
    lambda: {"a": (B("b") * V("x1") == 0), "b": 0},
])
def test_python_api_refuses_logic_on_parameters(build) -> None:
    data = ck.ChoiceData.from_wide(FRAME, choice="y", alternatives={1: "a", 2: "b"})
    with pytest.raises(ck.SpecificationError, match="parameter|True/False"):
        ck.MNL(data, build())


def test_parameters_still_behave_in_containers() -> None:
    b, c = B("b"), B("c")
    assert b in [c, b] and c not in [b]
    assert {b: 1}[b] == 1 and (b or c) is b
    assert list({b, c, b}) and b != c and not (b == c)


# -------------------------------------------------- 9. messages read once
def test_location_prefix_appears_once(tmp_path: Path) -> None:
    with pytest.raises(ck.SpecificationError) as info:
        evaluate_expression("nosuch + 1", FRAME, where="s.toml: [variables] Z")
    assert str(info.value).count("s.toml: [variables] Z") == 1
    spec = GOOD.replace("[parameters]", '[variables]\nZ = "nosuch + 1"\n[parameters]')
    r = fit_spec_text(spec, tmp_path)
    assert_bad_input(r, "'nosuch' is not a column")
    assert r.stderr.count("[variables] Z") == 1


@pytest.mark.parametrize("expr", ["-" * 9000 + "x1", "(" * 300 + "x1" + ")" * 300,
                                  "1+" * 4999 + "1", "not " * 2400 + "x1"])
def test_pathological_expressions_say_why_and_quote_briefly(expr: str) -> None:
    for run in (lambda: evaluate_expression(expr, FRAME, where="[variables] Z"),
                lambda: utility(expr)):
        with pytest.raises(ck.SpecificationError) as info:
            run()
        msg = str(info.value)
        reason = msg.split(": ", 2)[-1]
        assert "nested" in reason or "too many" in reason, msg
        assert len(msg) < 400, msg  # the expression is shortened, not quoted whole
        assert " ... " in msg


def test_pandas_parser_messages_are_one_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("y,x1,x2\n1,1,2\n2,2,1,5\n1,0.5,1.5\n")
    (tmp_path / "s.toml").write_text(GOOD)
    r = cli("fit", data, "--spec", tmp_path / "s.toml")
    assert_bad_input(r, "Expected 3 fields in line 3, saw 4.")
    assert r.stderr.count("\n") == 1, r.stderr  # one line, ending in a newline


# -------------------------------------------------- 6. spec options validated up front
def _with_data(line: str) -> str:
    return GOOD.replace("[data]\n", f"[data]\n{line}\n")


BAD_OPTIONS = [
    (_with_data('sep = ""'), "[data] sep"),
    (_with_data("sep = 5"), "[data] sep"),
    (_with_data('sep = "\\n"'), "[data] sep"),
    (GOOD.replace('choice = "y"', "choice = 3"), "[data] choice"),
    (GOOD.replace('choice = "y"', 'choice = ""'), "[data] choice"),
    (_with_data("weight = true"), "[data] weight"),
    (_with_data("group = [1, 2]"), "[data] group"),
    (_with_data('case = { a = 1 }'), "[data] case"),
    (_with_data("filter = true"), "[data] filter"),
    (_with_data('filter = ""'), "[data] filter"),
    (_with_data("layout = 3"), "layout must be"),
    (GOOD.replace('2 = "b"', "2 = 7"), "[data.alternatives] 2"),
    (GOOD.replace('2 = "b"', '2 = "a"'), "gives the name 'a' to several codes"),
    (GOOD.replace('[data.alternatives]\n1 = "a"\n2 = "b"\n', 'alternatives = "ab"\n'),
     "[data.alternatives]"),
    (_with_data('variables = { time = "x1" }'), "[data.variables]"),
    (GOOD + "[estimation]\nmaxiter = \"many\"\n", "[estimation] maxiter"),
    (GOOD + "[estimation]\nmaxiter = 0\n", "[estimation] maxiter"),
    (GOOD + "[estimation]\nmaxiter = true\n", "[estimation] maxiter"),
    (GOOD + "[estimation]\nmaxiter = 2.5\n", "[estimation] maxiter"),
    (GOOD + "[estimation]\ngtol = -1\n", "[estimation] gtol"),
    (GOOD + "[estimation]\ngtol = nan\n", "[estimation] gtol"),
    (GOOD + "[estimation]\ngtol = \"small\"\n", "[estimation] gtol"),
    (GOOD + "[estimation]\nmethod = \"newtn\"\n", "Did you mean 'newton'"),
    (GOOD + "[estimation]\nmethod = 3\n", "[estimation] method"),
    (GOOD + "[estimation]\ncov_type = [\"robust\"]\n", "[estimation] cov_type"),
    (GOOD + "[estimation]\ngroups = 2\n", "[estimation] groups"),
    (GOOD.replace('b = "B * x2"', "b = [1]"), "[utilities] b"),
    (GOOD.replace("[parameters]", "[variables]\nZ = { x = 1 }\n[parameters]"), "[variables] Z"),
    (GOOD + "[availability]\na = true\n", "[availability] a"),
]


@pytest.mark.parametrize(("spec", "key"), BAD_OPTIONS)
def test_parse_spec_checks_every_option(spec: str, key: str) -> None:
    with pytest.raises(ck.SpecificationError) as info:
        parse_spec(spec, source="s.toml")
    assert key in str(info.value) and str(info.value).startswith("s.toml: "), str(info.value)


def test_bad_options_through_the_cli(tmp_path: Path) -> None:
    for i, (spec, key) in enumerate([BAD_OPTIONS[0], BAD_OPTIONS[1], BAD_OPTIONS[15]]):
        (tmp_path / str(i)).mkdir()
        assert_bad_input(fit_spec_text(spec, tmp_path / str(i)), key)


def test_good_options_still_accepted() -> None:
    spec = parse_spec(_with_data('sep = ";"\nweight = "w"\nfilter = "x1 > 0"')
                      + '[estimation]\nmethod = "bfgs"\nmaxiter = 50\ngtol = 1e-6\n'
                      'cov_type = "robust"\n', source="s.toml")
    assert spec.data["sep"] == ";" and spec.estimation["maxiter"] == 50


def test_estimation_methods_are_those_of_mnl_fit() -> None:
    from typing import get_args

    from choicekit.estimation.optimizers import METHODS
    from choicekit.models.base import Method
    from choicekit.spec.options import ESTIMATION_METHODS

    assert get_args(Method) == ESTIMATION_METHODS == ("auto",) + METHODS


def test_read_data_refuses_a_bad_separator(tmp_path: Path) -> None:
    from choicekit.spec.specfile import read_data

    FRAME.to_csv(tmp_path / "d.csv", index=False)
    for sep in ("", 5):
        with pytest.raises(ck.SpecificationError, match="sep must be"):
            read_data(tmp_path / "d.csv", sep=sep)  # type: ignore[arg-type]


# -------------------------------------------------- 7. derived variables in linear time
def _many_variables_spec(k: int) -> str:
    lines = "\n".join(f'V{i} = "V{i - 1} + x1"' if i else 'V0 = "x1 * 2"' for i in range(k))
    return GOOD.replace("[parameters]", f"[variables]\n{lines}\n[parameters]").replace(
        '"ASC + B * x1"', f'"ASC + B * V{k - 1} / {k}"')


def test_derived_variables_do_not_copy_the_frame_per_variable(monkeypatch) -> None:
    from choicekit.spec import specfile

    calls = {"assign": 0, "concat": 0}
    real_assign, real_concat = pd.DataFrame.assign, pd.concat

    def assign(self, **kw):
        calls["assign"] += 1
        return real_assign(self, **kw)

    def concat(*a, **kw):
        calls["concat"] += 1
        return real_concat(*a, **kw)

    monkeypatch.setattr(pd.DataFrame, "assign", assign)
    monkeypatch.setattr(pd, "concat", concat)
    spec = parse_spec(_many_variables_spec(2_000))
    frame = FRAME.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        out = specfile.derive_variables(spec, frame)
    # one join of all new columns, whatever their number (it was one assign per variable)
    assert calls["assign"] + calls["concat"] <= 2, calls
    pd.testing.assert_frame_equal(frame, FRAME)  # the user's frame is not modified
    assert out.shape == (len(FRAME), 3 + 2_000)
    np.testing.assert_allclose(out["V1999"], FRAME["x1"] * 2 + 1_999 * FRAME["x1"])


def test_derived_variables_see_earlier_ones_and_may_replace_a_column() -> None:
    from choicekit.spec import specfile

    spec = parse_spec(GOOD.replace("[parameters]", '[variables]\nx1 = "x1 * 10"\n'
                                   'Z = "x1 + 1"\nC = "3"\nD = "x2 > 1"\n[parameters]'))
    out = specfile.derive_variables(spec, FRAME)
    assert list(out.columns).count("x1") == 1
    np.testing.assert_allclose(out["x1"], FRAME["x1"] * 10)
    np.testing.assert_allclose(out["Z"], FRAME["x1"] * 10 + 1)
    assert (out["C"] == 3).all() and out["D"].dtype == float


def test_many_variables_through_the_cli(tmp_path: Path) -> None:
    r = fit_spec_text(_many_variables_spec(1_000), tmp_path)
    assert r.returncode == 0, r.stderr
    assert "PerformanceWarning" not in r.stderr and "fragmented" not in r.stderr


# -------------------------------------------------- 5. the CLI never destroys a file
@pytest.mark.parametrize(("option", "target", "needle"), [
    ("--json", "d.csv", "that is the data file"),
    ("--csv", "d.csv", "that is the data file"),
    ("--csv", "s.toml", "that is the spec file"),
    ("--json", "./sub/../s.toml", "that is the spec file"),
    ("--json", "link.csv", "that is the data file"),          # a hard link to the data
    ("--json", "nowhere/res.json", "does not exist"),
    ("--csv", ".", "is a directory"),
])
def test_outputs_never_overwrite_inputs(option, target, needle, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    FRAME.to_csv(data, index=False)
    (tmp_path / "s.toml").write_text(GOOD)
    (tmp_path / "sub").mkdir()
    os.link(data, tmp_path / "link.csv")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    r = cli("fit", "d.csv", "--spec", "s.toml", option, target, "--quiet", cwd=tmp_path)
    assert_bad_input(r, option, needle)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before


def test_json_and_csv_cannot_be_the_same_file(tmp_path: Path) -> None:
    r = fit_spec_text(GOOD, tmp_path, FRAME, "--json", str(tmp_path / "o"), "--csv",
                      str(tmp_path / "o"))
    assert_bad_input(r, "name the same file")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions and a non-root user")
def test_unwritable_output_folder_is_refused_before_the_fit(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = fit_spec_text(GOOD, tmp_path, FRAME, "--json", str(locked / "res.json"))
    finally:
        locked.chmod(0o700)
    assert_bad_input(r, "cannot write there")


def test_outputs_are_checked_before_the_fit(tmp_path: Path, monkeypatch, capsys) -> None:
    from choicekit import cli as cli_module
    from choicekit.spec import specfile

    fits = []
    monkeypatch.setattr(specfile, "fit_spec", lambda *a: fits.append(a))
    FRAME.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "s.toml").write_text(GOOD)
    code = cli_module.main(["fit", str(tmp_path / "d.csv"), "--spec", str(tmp_path / "s.toml"),
                            "--csv", str(tmp_path / "missing" / "o.csv")])
    assert code == 2 and fits == []
    assert "does not exist" in capsys.readouterr().err


def test_outputs_are_written_atomically(tmp_path: Path, monkeypatch) -> None:
    from choicekit import cli as cli_module

    target = tmp_path / "res.json"
    target.write_text("old results\n")
    target.chmod(0o640)

    def interrupted(src, dst):
        raise KeyboardInterrupt  # Ctrl-C between writing the new file and the rename

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli_module.write_atomic(target, "new results\n")
    assert target.read_text() == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.json"]  # no temporary left
    monkeypatch.undo()
    cli_module.write_atomic(target, "new results\n")
    assert target.read_text() == "new results\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.json"]


def test_good_outputs_are_written(tmp_path: Path) -> None:
    r = fit_spec_text(GOOD, tmp_path, FRAME, "--json", str(tmp_path / "o.json"), "--csv",
                      str(tmp_path / "o.csv"))
    assert r.returncode in (0, 1), r.stderr
    import json

    assert json.loads((tmp_path / "o.json").read_text())["model"] == "multinomial logit"
    assert pd.read_csv(tmp_path / "o.csv")["parameter"].tolist() == ["ASC", "B"]


# -------------------------------------------------- 1. datasets verified where they are read
def _copy_to(shared: Path, directory: Path, filename: str, edit=None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = (shared / filename).read_bytes()
    (directory / filename).write_bytes(edit(data) if edit else data)
    return directory / filename


def _truncate(data: bytes) -> bytes:  # the first 2,852 rows, as in the report
    return b"".join(data.splitlines(keepends=True)[:2_853])


def _edit_one_value(data: bytes) -> bytes:  # row 2, last column (CHOICE): 2 -> 3, same size
    lines = data.splitlines(keepends=True)
    assert lines[2].endswith(b"\t2\r\n")
    lines[2] = lines[2][:-3] + b"3\r\n"
    return b"".join(lines)


def test_truncated_dataset_is_refused(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    copy = _copy_to(shared_data, tmp_path / "mine", "swissmetro.dat", _truncate)
    monkeypatch.setenv(ck.datasets.ENV_VAR, str(copy.parent))
    with pytest.raises(ck.ChoiceDataError) as info:
        ck.datasets.load_swissmetro()
    msg = str(info.value)
    for needle in (str(copy), "2,852 data rows", "10,728", "truncated", "SHA-256",
                   "download=True", "https://transp-or.epfl.ch/data/swissmetro.dat",
                   "verify=False"):
        assert needle in msg, (needle, msg)
    with pytest.raises(ck.ChoiceDataError, match="not the reference copy"):
        ck.datasets.swissmetro_choicedata()
    assert len(ck.datasets.load_swissmetro(verify=False)) == 2_852  # on purpose: accepted


def test_edited_dataset_is_refused(shared_data: Path, tmp_path: Path) -> None:
    copy = _copy_to(shared_data, tmp_path, "swissmetro.dat", _edit_one_value)
    assert copy.stat().st_size == (shared_data / "swissmetro.dat").stat().st_size
    with pytest.raises(ck.ChoiceDataError, match=r"expected 10,728 rows, but some values "
                       r"differ \(edited\?\)") as info:
        ck.datasets.load_swissmetro(copy)
    assert "verify=False" in str(info.value)
    assert ck.datasets.load_swissmetro(copy, verify=False)["CHOICE"].iloc[1] == 3


@pytest.mark.parametrize(("name", "filename"), [
    ("heating", "heating.csv"), ("fishing", "fishing.csv"), ("train", "train_netherlands.csv"),
    ("electricity", "electricity.csv"), ("modecanada", "modecanada.csv"),
    ("travelmode", "travelmode_greene.csv")])
def test_every_real_dataset_is_verified(name, filename, shared_data: Path,
                                        tmp_path: Path) -> None:
    copy = _copy_to(shared_data, tmp_path, filename, lambda d: d[: len(d) // 2].rsplit(
        b"\n", 1)[0] + b"\n")
    with pytest.raises(ck.ChoiceDataError, match="not the reference copy") as info:
        getattr(ck.datasets, f"load_{name}")(copy)
    assert "Replace it with the reference copy" in str(info.value) or \
        "download=True" in str(info.value)
    with pytest.raises(ck.ChoiceDataError, match="not the reference copy"):
        getattr(ck.datasets, f"{name}_choicedata")(copy)
    getattr(ck.datasets, f"load_{name}")(copy, verify=False)


def test_digest_is_computed_once_per_file_version(shared_data: Path, tmp_path: Path,
                                                  monkeypatch) -> None:
    from choicekit.datasets import files

    copy = _copy_to(shared_data, tmp_path, "heating.csv")
    hashed = []
    real = files.hashlib.sha256

    def counting(*a):
        hashed.append(1)
        return real(*a)

    monkeypatch.setattr(files.hashlib, "sha256", counting)
    ck.datasets.load_heating(copy)
    ck.datasets.load_heating(copy)
    assert len(hashed) == 1  # the second load costs a stat, not a hash
    copy.write_bytes(copy.read_bytes().replace(b"ncostl", b"ncostx", 1))
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    with pytest.raises(ck.ChoiceDataError, match="edited"):
        ck.datasets.load_heating(copy)
    assert len(hashed) == 2


# -------------------------------------------------- 4. a stale or foreign compiled library
FAKE_LIBRARIES = {
    # built from an older _mnl_pass.c: the pass is there, the version function is not
    "stale": ("#include <stdint.h>\nint64_t ck_work_per_case(int64_t a, int64_t b, int64_t c)"
              "{ return 1; }\n", "older _mnl_pass.c"),
    "foreign": ("#include <stdint.h>\nint64_t ck_abi_version(void) { return 999; }\n",
                "interface version 999"),
    "incomplete": ("#include <stdint.h>\nint64_t ck_abi_version(void) { return %d; }\n",
                   "lacks a function"),
}


@pytest.fixture
def fresh_native(monkeypatch):
    from choicekit.families.mnl import native

    monkeypatch.delenv("CHOICEKIT_REQUIRE_NATIVE", raising=False)
    monkeypatch.delenv("CHOICEKIT_NATIVE", raising=False)
    native._load.cache_clear()
    yield native
    monkeypatch.undo()
    native._load.cache_clear()


def _build(tmp_path: Path, source: str) -> Path:
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build a fake library")
    (tmp_path / "fake.c").write_text(source)
    lib = tmp_path / "fake.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "fake.c")],
                   check=True, capture_output=True, timeout=60)
    return lib


def _small_fit() -> ck.results.MNLResults:
    data = ck.ChoiceData.from_wide(FRAME, choice="y", alternatives={1: "a", 2: "b"})
    return ck.MNL(data, {"a": B("ASC") + B("b") * V("x1"), "b": B("b") * V("x2")}).fit()


@pytest.mark.parametrize("kind", [*FAKE_LIBRARIES, "not a library"])
def test_bad_library_falls_back_with_one_warning(kind, tmp_path, monkeypatch,
                                                 fresh_native) -> None:
    native = fresh_native
    if kind == "not a library":
        lib, needle = tmp_path / "fake.so", "cannot be loaded"
        lib.write_text("not an ELF file")
    else:
        source, needle = FAKE_LIBRARIES[kind]
        lib = _build(tmp_path, source.replace("%d", str(native.ABI_VERSION)))
    monkeypatch.setattr(native, "_library_path", lambda: str(lib))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert native.available() is False
        assert native.available() is False
        res = _small_fit()  # estimated with NumPy, not an AttributeError
    assert res.converged
    mine = [w for w in caught if issubclass(w.category, native.NativeLibraryWarning)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    text = str(mine[0].message)
    assert needle in text and str(lib) in text and "pip install -e ." in text
    assert issubclass(native.NativeLibraryWarning, ck.ChoiceKitWarning)


@pytest.mark.parametrize("kind", ["foreign", "missing"])
def test_require_native_stays_strict(kind, tmp_path, monkeypatch, fresh_native) -> None:
    native = fresh_native
    path = None if kind == "missing" else str(_build(tmp_path, FAKE_LIBRARIES[kind][0]))
    monkeypatch.setattr(native, "_library_path", lambda: path)
    monkeypatch.setenv("CHOICEKIT_REQUIRE_NATIVE", "1")
    with pytest.raises(RuntimeError, match="CHOICEKIT_REQUIRE_NATIVE=1"):
        native.available()
    with pytest.raises(RuntimeError, match="CHOICEKIT_REQUIRE_NATIVE=1"):
        _small_fit()
    monkeypatch.setenv("CHOICEKIT_NATIVE", "0")  # switched off on purpose: no error
    assert native.available() is False


def test_library_older_than_its_source_says_so(tmp_path, monkeypatch, fresh_native) -> None:
    native = fresh_native
    if native._library_path() is None:
        pytest.skip("choicekit's compiled pass is not built")
    source = tmp_path / "_mnl_pass.c"
    source.write_text("/* edited */\n")
    later = os.path.getmtime(native._library_path()) + 60
    os.utime(source, (later, later))
    monkeypatch.setattr(native, "_SOURCE", str(source))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert native.available() is True  # same interface version: still used
        native.available()
    mine = [w for w in caught if issubclass(w.category, native.NativeLibraryWarning)]
    assert len(mine) == 1 and "older than its source" in str(mine[0].message)
    assert "pip install -e ." in str(mine[0].message)


def test_built_library_reports_the_expected_version(fresh_native) -> None:
    native = fresh_native
    if native._library_path() is None:
        pytest.skip("choicekit's compiled pass is not built")
    assert native._library().ck_abi_version() == native.ABI_VERSION
    c_source = (REPO / "choicekit" / "families" / "mnl" / "_mnl_pass.c").read_text()
    assert f"#define CK_ABI_VERSION {native.ABI_VERSION}\n" in c_source


# -------------------------------------------------- 10. two silent surprises in data
def _travel_long() -> pd.DataFrame:
    df = ck.datasets.load_travelmode()
    return df.assign(mode=df["mode"].map({1: "air", 2: "train", 3: "bus", 4: "car"}))


def test_mixed_type_alternative_labels_warn() -> None:
    df = _travel_long().astype({"mode": object})
    df.loc[0, "mode"] = 1  # a stray code among the names
    with pytest.warns(ck.DataWarning, match="mixes alternative labels of different types") as w:
        data = ck.ChoiceData.from_long(df, "individual", "mode", "choice")
    msg = str(w[0].message)
    assert "'mode'" in msg and "number label 1 in 1 row (index 0)" in msg
    assert "'air'" in msg and "5 here" in msg and "replace" in msg
    assert len(data.alternatives) == 5
    assert w[0].filename == __file__  # points at the caller


@pytest.mark.parametrize("labels", [{1: "air", 2: "train", 3: "bus", 4: "car"},
                                    {1: 1, 2: 2, 3: 3.5, 4: 4}])
def test_single_type_labels_are_silent(labels) -> None:
    df = ck.datasets.load_travelmode()
    df = df.assign(mode=df["mode"].map(labels))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ck.DataWarning)
        ck.ChoiceData.from_long(df, "individual", "mode", "choice")


def test_an_extreme_value_is_named_with_a_rescaling_hint() -> None:
    df = ck.datasets.load_simulated_modechoice().astype({"TRAIN_TT": float})
    df.loc[17, "TRAIN_TT"] = 1e200
    data = ck.ChoiceData.from_wide(df, choice="CHOICE", alternatives={1: "train", 2: "bus",
                                                                      3: "car"}, case="case")
    u = {"train": B("ASC_T") + B("B_TIME") * V("TRAIN_TT") / 100
         + B("B_COST") * V("TRAIN_COST") / 100,
         "bus": B("ASC_B") + B("B_TIME") * V("BUS_TT") / 100 + B("B_COST") * V("BUS_COST") / 100,
         "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100}
    with pytest.warns(ck.DataWarning, match="many orders of magnitude larger") as w:
        ck.MNL(data, u)
    msg = str(w[0].message)
    case_id = df.loc[17, "case"]
    for needle in ("'B_TIME'", "'TRAIN_TT'", "1e+198", "alternative 'train'",
                   f"case {case_id}", "Rescale", "at most"):
        assert needle in msg, (needle, msg)
    assert w[0].filename == __file__


def test_the_scale_warning_reaches_the_cli(tmp_path: Path) -> None:
    frame = FRAME.assign(x1=FRAME["x1"].astype(float))
    frame.loc[3, "x1"] = 1e200
    r = fit_spec_text(GOOD, tmp_path, frame)
    assert "Traceback" not in r.stderr
    assert "choicekit fit: warning: 1 design column is many orders of magnitude" in r.stderr
    assert "'x1'" in r.stderr
