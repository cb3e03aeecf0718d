"""Model specifications in a small TOML file, for batch use (``choicekit fit DATA --spec F``).

A spec file names the data layout, the alternatives, their availability, optional row filters
and derived variables, and the utilities (as expressions) or an mlogit-style formula::

    [data]
    layout = "wide"                  # or "long" (then: case = ..., alt = ...)
    choice = "CHOICE"
    filter = "PURPOSE in (1, 3) and CHOICE != 0"   # rows to keep
    # drop_cases = "..."             # whole cases to drop: the condition holds on a row
    # invalid = "drop"; missing = "drop"; weight = "W"; weight_type = "sampling"

    [data.alternatives]              # wide: code in the choice column = name
    1 = "train"
    2 = "sm"
    3 = "car"

    [availability]                   # wide: expression per alternative (long: a column name)
    train = "TRAIN_AV * (SP != 0)"
    sm = "SM_AV"
    car = "CAR_AV * (SP != 0)"

    [variables]                      # new columns, computed in order
    TRAIN_COST = "TRAIN_CO * (GA == 0)"

    [parameters]                     # every parameter used in [utilities]
    ASC_TRAIN = 0.0                  # a start value ...
    ASC_SM = { value = 0.0, fixed = true }   # ... or a table: value, fixed, lower, upper

    [utilities]
    train = "ASC_TRAIN + B_TIME * TRAIN_TT / 100"

    [estimation]
    cov_type = "robust"

Expressions are parsed with :mod:`ast` and *interpreted* over a whitelist of nodes (names,
numbers, strings, ``+ - * / **``, unary minus, comparisons, ``and``/``or``/``not``, ``&``/``|``,
``x in (a, b)``, and calls to ``log``, ``exp``, ``abs``, ``Beta``, ``Var``); nothing is ever
passed to :func:`eval`, so a spec file cannot run code. In ``[utilities]`` a bare name is a
parameter if ``[parameters]`` declares it, otherwise a data column; ``Beta("x")`` and
``Var("x")`` say so explicitly.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from choicekit._validation import suggest
from choicekit.data.choicedata import ChoiceData
from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.models.mnl import MNL
from choicekit.spec.expressions import Beta
from choicekit.spec.interpreter import evaluate_expression, utility_from_expression
from choicekit.spec.options import check_data_options, check_estimation_options

__all__ = ["ModelSpec", "load_spec", "parse_spec", "read_data", "evaluate_expression",
           "utility_from_expression", "fit_spec"]

_SECTIONS = {"data", "availability", "variables", "parameters", "utilities", "formula",
             "estimation"}
_DATA_KEYS = {"layout", "choice", "alternatives", "case", "alt", "availability", "weight",
              "group", "filter", "sep", "variables", "invalid", "missing", "weight_type",
              "drop_cases"}
#: file suffixes read as parquet (any file starting with parquet's magic bytes is, too)
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_ESTIMATION_KEYS = {"cov_type", "method", "maxiter", "gtol", "groups"}


def _toml_loads(text: str, source: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise SpecificationError(
                "Reading TOML spec files on Python 3.10 needs the `tomli` package "
                "(pip install tomli); Python 3.11+ has it built in (tomllib)."
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecificationError(f"{source} is not valid TOML: {err}.") from None


# ---------------------------------------------------------------------------------------------
# the spec file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec file (see the module docstring for the format)."""

    source: str
    data: dict[str, Any]
    availability: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Beta] = field(default_factory=dict)
    utilities: dict[str, str] = field(default_factory=dict)
    formula: dict[str, Any] = field(default_factory=dict)
    estimation: dict[str, Any] = field(default_factory=dict)


def _table(raw: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise SpecificationError(f"{source}: [{key}] must be a table (a [{key}] section), got "
                                 f"{type(value).__name__}.")
    return dict(value)


def _beta_from(name: str, value: Any, source: str) -> Beta:
    where = f"{source}: [parameters] {name}"
    if isinstance(value, bool):
        raise SpecificationError(f"{where}: give a start value (number) or a table "
                                 "{ value = ..., fixed = ..., lower = ..., upper = ... }.")
    if isinstance(value, (int, float)):
        return Beta(name, float(value))
    if not isinstance(value, Mapping):
        raise SpecificationError(f"{where}: give a start value (number) or a table "
                                 "{ value = ..., fixed = ..., lower = ..., upper = ... }.")
    _check_keys(value, ("value", "fixed", "lower", "upper"), where, "")
    try:
        return Beta(name, value.get("value", 0.0), fixed=bool(value.get("fixed", False)),
                    lower=value.get("lower"), upper=value.get("upper"))
    except (SpecificationError, TypeError, ValueError) as err:
        raise SpecificationError(f"{where}: {err}") from None


def _check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str, what: str) -> None:
    """Refuse keys of a TOML table that the spec does not know, suggesting close names."""
    allowed = sorted(allowed)
    bad = sorted(set(table) - set(allowed))
    if bad:
        raise SpecificationError(f"{where}: unknown keys {bad}{what}.{suggest(bad[0], allowed)} "
                                 f"Allowed: {', '.join(allowed)}.")


def parse_spec(text: str, source: str = "spec") -> ModelSpec:
    """Parse and check the structure of a spec file's text (see the module docstring)."""
    raw = _toml_loads(text, source)
    unknown = set(raw) - _SECTIONS
    if unknown:
        name = sorted(unknown)[0]
        raise SpecificationError(f"{source}: unknown section [{name}]"
                                 f"{suggest(name, sorted(_SECTIONS))} Sections: "
                                 f"{', '.join(sorted(_SECTIONS))}.")
    data = _table(raw, "data", source)
    _check_keys(data, _DATA_KEYS, source, " in [data]")
    layout = data.get("layout", "wide")
    if layout not in ("wide", "long"):
        raise SpecificationError(f"{source}: [data] layout must be 'wide' or 'long', got "
                                 f"{layout!r}.")
    data["layout"] = layout
    if "choice" not in data:
        raise SpecificationError(f"{source}: [data] needs `choice`, the column holding the "
                                 "choices.")
    if layout == "wide" and not isinstance(data.get("alternatives"), Mapping):
        raise SpecificationError(
            f"{source}: a wide layout needs [data.alternatives], the code of each alternative "
            "in the choice column, e.g.\n  [data.alternatives]\n  1 = \"train\"\n  2 = \"car\"")
    if layout == "long":
        missing = [k for k in ("case", "alt") if k not in data]
        if missing:
            raise SpecificationError(f"{source}: a long layout needs [data] {' and '.join(missing)}"
                                     " (the case id and alternative columns).")
    check_data_options(data, source)
    estimation = _table(raw, "estimation", source)
    _check_keys(estimation, _ESTIMATION_KEYS, source, " in [estimation]")
    check_estimation_options(estimation, source)
    utilities = {str(k): v for k, v in _table(raw, "utilities", source).items()}
    formula = raw.get("formula", {})
    if isinstance(formula, str):
        formula = {"formula": formula}
    if not isinstance(formula, Mapping):
        raise SpecificationError(f"{source}: `formula` must be a string or a [formula] table.")
    formula = dict(formula)
    _check_keys(formula, ("formula", "reference"), source, " in [formula]")
    if bool(utilities) == bool(formula):
        raise SpecificationError(f"{source}: give either [utilities] (one expression per "
                                 "alternative) or a formula (formula = \"choice ~ x | z\"), "
                                 "not both or neither.")
    if formula and not isinstance(formula.get("formula"), str):
        raise SpecificationError(f"{source}: [formula] needs formula = \"choice ~ ...\" "
                                 "(and optionally reference = \"alternative\").")
    params = {str(k): _beta_from(str(k), v, source)
              for k, v in _table(raw, "parameters", source).items()}
    variables = _table(raw, "variables", source)
    for section, table in (("utilities", utilities), ("variables", variables),
                           ("availability", _table(raw, "availability", source))):
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise SpecificationError(f"{source}: [{section}] {key} must be an expression "
                                         f"in quotes, got {type(value).__name__} {value!r}.")
    return ModelSpec(source=source, data=data, availability=_table(raw, "availability", source),
                     variables=variables, parameters=params, utilities=utilities,
                     formula=formula, estimation=estimation)


def load_spec(path: str | Path) -> ModelSpec:
    """Read and parse a spec file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecificationError(f"Spec file {str(p)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecificationError(f"Cannot read spec file {str(p)!r}: {err}.") from None
    return parse_spec(text, source=str(p))


def read_data(path: str | Path, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV (``,``), tab-separated (``.dat``, ``.tsv``, ``.txt``) or parquet
    (``.parquet``, ``.pq``; needs pyarrow or fastparquet) data file."""
    p = Path(path)
    if _is_parquet(p):
        return _read_parquet(p)
    if sep is None:
        sep = "\t" if p.suffix.lower() in (".dat", ".tsv", ".txt") else ","
    if not isinstance(sep, str) or not sep:
        raise SpecificationError(f"read_data: sep must be a non-empty string such as \",\" or "
                                 f"\"\\t\", got {type(sep).__name__} {sep!r}.")
    try:
        return pd.read_csv(p, sep=sep)
    except FileNotFoundError:
        raise ChoiceDataError(f"Data file {str(p)!r} does not exist.") from None
    except UnicodeDecodeError:
        raise ChoiceDataError(
            f"Cannot read data file {str(p)!r}: it is not text (CSV or tab-separated, UTF-8). "
            "choicekit fit reads CSV, tab-separated and parquet (.parquet) files; convert "
            "other formats (Excel, Stata, ...) to one of these first.") from None
    except (OSError, ValueError) as err:  # pandas' parser errors too
        raise ChoiceDataError(f"Cannot read data file {str(p)!r}: {_one_line(err)}.") from None


def _is_parquet(p: Path) -> bool:
    """A parquet file by its suffix, or by its magic bytes (``PAR1``) whatever its name."""
    if p.suffix.lower() in PARQUET_SUFFIXES:
        return True
    try:
        with open(p, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False  # read_csv says what is wrong with the path


def _read_parquet(p: Path) -> pd.DataFrame:
    import importlib

    engines = []
    for name in ("pyarrow", "fastparquet"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        engines.append(name)
    if not p.exists():
        raise ChoiceDataError(f"Data file {str(p)!r} does not exist.")
    if not engines:
        raise ChoiceDataError(
            f"Data file {str(p)!r} is a parquet file; reading parquet needs pyarrow: "
            "pip install pyarrow (or save the data as CSV).")
    try:
        return pd.read_parquet(p, engine=engines[0])
    except (OSError, ValueError) as err:
        raise ChoiceDataError(f"Cannot read parquet file {str(p)!r}: {_one_line(err)}.") from None
    except Exception as err:  # the engines' own errors (e.g. pyarrow.ArrowInvalid)
        raise ChoiceDataError(f"Cannot read parquet file {str(p)!r}: "
                              f"{type(err).__name__}: {_one_line(err)}.") from None


def _one_line(err: BaseException) -> str:
    """An exception's message on one line, without a final period (pandas' parser messages
    end in a newline)."""
    return " ".join(str(err).split()).rstrip(".") or type(err).__name__


def _alternative_code(key: str, column: pd.Series) -> Hashable:
    """A TOML key (always a string) as a code of the choice column's dtype."""
    if pd.api.types.is_numeric_dtype(column):
        try:
            f = float(key)
        except ValueError:
            raise SpecificationError(f"[data.alternatives] key {key!r} is not a number, but the "
                                     "choice column is numeric.") from None
        return int(f) if f.is_integer() else f
    return key


class _Columns:
    """The columns of a frame plus those derived so far, read without copying the frame."""

    def __init__(self, frame: pd.DataFrame, derived: Mapping[str, Any]) -> None:
        self.frame, self.derived = frame, derived

    @property
    def columns(self) -> list[Any]:
        return [*self.frame.columns, *(c for c in self.derived if c not in self.frame.columns)]

    def __contains__(self, name: object) -> bool:
        return name in self.derived or name in self.frame.columns

    def __getitem__(self, name: str) -> Any:
        return self.derived[name] if name in self.derived else self.frame[name]


def derive_variables(spec: ModelSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the ``[variables]`` of ``spec`` added (computed in order, each seeing
    the ones before it); ``frame`` itself is not modified.

    The new columns are collected in a dict and joined in one step, so that the cost is
    linear in their number (a copy of the frame per variable made 1,000 lines take minutes,
    and pandas warned about a fragmented frame).
    """
    if not spec.variables:
        return frame
    derived: dict[str, Any] = {}
    view = _Columns(frame, derived)
    for name, expr in spec.variables.items():
        value = evaluate_expression(expr, view,  # type: ignore[arg-type]
                                    where=f"{spec.source}: [variables] {name}")
        if isinstance(value, pd.Series) and value.dtype == bool:
            value = value.astype(float)
        derived[name] = value
    new = pd.DataFrame(derived, index=frame.index)
    kept = frame.drop(columns=[c for c in derived if c in frame.columns])
    return pd.concat([kept, new], axis=1)


def build_model(spec: ModelSpec, frame: pd.DataFrame) -> Any:
    """The :class:`~choicekit.MNL` a spec describes, on the rows of ``frame``."""
    src, d = spec.source, spec.data
    df = derive_variables(spec, frame)
    if "filter" in d:
        keep = evaluate_expression(d["filter"], df, where=f"{src}: [data] filter")
        if not isinstance(keep, pd.Series) or keep.dtype != bool:
            raise SpecificationError(f"{src}: [data] filter must be a condition (a comparison, "
                                     f"possibly combined with and/or), got {d['filter']!r}.")
        df = df.loc[keep.to_numpy()]
        if len(df) == 0:
            raise ChoiceDataError(f"{src}: [data] filter {d['filter']!r} keeps no rows.")
    if "drop_cases" in d:
        df = _drop_cases(spec, df)
    if d["layout"] == "wide":
        if d["choice"] not in df.columns:
            raise ChoiceDataError(f"{src}: the choice column {d['choice']!r} is not in the data."
                                  f"{suggest(d['choice'], [str(c) for c in df.columns])}")
        alternatives = {_alternative_code(str(k), df[d["choice"]]): str(v)
                        for k, v in d["alternatives"].items()}
        avail_cols = {}
        for alt, expr in spec.availability.items():
            col = f"_av_{alt}"
            value = evaluate_expression(expr, df, where=f"{src}: [availability] {alt}")
            if not isinstance(value, pd.Series):
                value = pd.Series(value, index=df.index)
            avail_cols[col] = (value.astype(float) != 0).astype(int)
        df = df.assign(**avail_cols)
        data = ChoiceData.from_wide(
            df, choice=d["choice"], alternatives=alternatives,
            availability={a: f"_av_{a}" for a in spec.availability},
            variables=d.get("variables"), weight=d.get("weight"), group=d.get("group"),
            case=d.get("case"), invalid=d.get("invalid", "raise"),
            weight_type=d.get("weight_type"))
    else:
        if spec.availability:
            raise SpecificationError(f"{src}: in a long layout availability is a column: "
                                     "[data] availability = \"column\", not an [availability] "
                                     "section.")
        data = ChoiceData.from_long(df, case=d["case"], alt=d["alt"], choice=d["choice"],
                                    availability=d.get("availability"), weight=d.get("weight"),
                                    group=d.get("group"), invalid=d.get("invalid", "raise"),
                                    weight_type=d.get("weight_type"))
    missing = d.get("missing", "raise")
    if spec.formula:
        return MNL.from_formula(spec.formula["formula"], data,
                                reference=spec.formula.get("reference"), missing=missing)
    alts = {str(a): a for a in data.alternatives}
    unknown = [a for a in spec.utilities if a not in alts]
    if unknown:
        raise SpecificationError(f"{src}: [utilities] names unknown alternatives {unknown}"
                                 f"{suggest(unknown[0], list(alts))} The alternatives are "
                                 f"{list(alts)}.")
    utilities = {alts[a]: utility_from_expression(
        expr, spec.parameters, data.has_variable, data.variables,
        where=f"{src}: [utilities] {a}") for a, expr in spec.utilities.items()}
    unused = [p for p in spec.parameters if not any(
        p in u.terms for u in utilities.values())]
    if unused:
        raise SpecificationError(f"{src}: parameters {unused} are declared in [parameters] but "
                                 "used in no utility.")
    return MNL(data, utilities, missing=missing)


def _drop_cases(spec: ModelSpec, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the cases on one of whose rows ``[data] drop_cases`` holds (wide: the
    rows themselves; long: every row of such a case, e.g. the cases that chose bus)."""
    src, d = spec.source, spec.data
    hit = evaluate_expression(d["drop_cases"], df, where=f"{src}: [data] drop_cases")
    if not isinstance(hit, pd.Series) or hit.dtype != bool:
        raise SpecificationError(
            f"{src}: [data] drop_cases must be a condition (a comparison, possibly combined "
            f"with and/or), e.g. \"mode == 'bus' and choice == 1\", got {d['drop_cases']!r}.")
    if d["layout"] == "long":
        if d["case"] not in df.columns:
            raise ChoiceDataError(f"{src}: the case column {d['case']!r} is not in the data."
                                  f"{suggest(d['case'], [str(c) for c in df.columns])}")
        hit = hit.groupby(df[d["case"]].to_numpy()).transform("any")
    df = df.loc[~hit.to_numpy()]
    if len(df) == 0:
        raise ChoiceDataError(f"{src}: [data] drop_cases {d['drop_cases']!r} drops every case.")
    return df


def fit_spec(spec: ModelSpec, frame: pd.DataFrame) -> Any:
    """Build the model of ``spec`` on ``frame`` and fit it with the [estimation] options."""
    check_estimation_options(spec.estimation, spec.source)  # a ModelSpec built by hand
    return build_model(spec, frame).fit(**spec.estimation)
