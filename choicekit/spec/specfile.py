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

import ast
import math
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import suggest
from choicekit.data.choicedata import ChoiceData
from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.models.mnl import MNL
from choicekit.spec.expressions import Beta, Utility, Var, as_utility
from choicekit.spec.expressions import exp as _ck_exp
from choicekit.spec.expressions import log as _ck_log
from choicekit.spec.options import check_data_options, check_estimation_options

__all__ = ["ModelSpec", "load_spec", "parse_spec", "read_data", "evaluate_expression",
           "utility_from_expression", "fit_spec"]

MAX_EXPRESSION_LENGTH = 10_000
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
# safe expressions
# ---------------------------------------------------------------------------------------------


def _shorten(text: str, limit: int = 60) -> str:
    """``text`` for a message: whole if short, else its start and end around an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def _parse(expr: Any, where: str) -> ast.expr:
    if isinstance(expr, bool) or not isinstance(expr, (str, int, float)):
        raise SpecificationError(f"{where}: expected an expression string, got "
                                 f"{type(expr).__name__} {_shorten(repr(expr))}.")
    text = str(expr)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise SpecificationError(f"{where}: expression longer than {MAX_EXPRESSION_LENGTH} "
                                 f"characters ({len(text)}): {_shorten(text)!r}. Split it into "
                                 "[variables].")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise SpecificationError(f"{where}: cannot parse {_shorten(text)!r}: "
                                 f"{err.msg or 'invalid syntax'}.") from None
    except (RecursionError, MemoryError):
        # CPython's parser gives up on very deep nesting (e.g. thousands of unary minus signs)
        # with an empty MemoryError or a RecursionError; say so
        raise SpecificationError(f"{where}: cannot parse {_shorten(text)!r}: it is nested too "
                                 "deeply for the parser (too many parentheses or operators in "
                                 "a row). Simplify it, or split it into [variables].") from None
    except ValueError as err:  # e.g. a NUL character
        raise SpecificationError(f"{where}: cannot parse {_shorten(text)!r}: {err}.") from None


_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
        ast.BitAnd: "&", ast.BitOr: "|"}
_LOGICAL = {"==", "!=", "<", "<=", ">", ">=", "&", "|"}
#: log10 of the largest float (1.8e308): a power whose result would pass it is refused
_LOG10_MAX = math.log10(sys.float_info.max)


def _is_number(x: Any) -> bool:
    """A scalar that arithmetic folds: numbers, and the 0/1 of a comparison of numbers."""
    return isinstance(x, (int, float, np.integer, np.floating, np.bool_))


class _Interpreter:
    """Walk a whitelisted expression tree, mapping each node through the hooks below.

    Arithmetic on two numbers is folded here, with the checks Python would otherwise turn
    into a raw exception (or NumPy into a silent inf): division by a constant 0, a power that
    would overflow (refused before it is computed: ``10**10**10`` never runs), a negative
    number to a fractional power, and any other folded result that is not finite.
    """

    functions: Mapping[str, Callable[..., Any]] = {}

    def __init__(self, where: str, text: str) -> None:
        self.where, self.text = where, text.strip()

    def error(self, node: ast.AST, msg: str) -> SpecificationError:
        col = getattr(node, "col_offset", 0)
        return SpecificationError(f"{self.where}: {msg}\n  {self.text}\n  {' ' * col}^")

    def source(self, node: ast.AST) -> str:
        """The text of ``node`` (shortened), for messages."""
        return _shorten(ast.get_source_segment(self.text, node) or ast.unparse(node))

    def name(self, node: ast.Name) -> Any:
        raise NotImplementedError

    def constant(self, node: ast.Constant) -> Any:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise self.error(node, f"unsupported constant {v!r}.")
        if isinstance(v, str):
            return v
        try:
            return np.float64(v)
        except OverflowError:  # an integer literal beyond the largest float
            raise self.error(node, "this number is too large (beyond the largest number, about "
                             "1.8e308).") from None

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                return self.logical_not(operand, node)
            raise self.error(node, "unsupported unary operator.")
        if isinstance(node, ast.BinOp):
            op = _BIN.get(type(node.op))
            if op is None:
                raise self.error(node, "unsupported operator; use + - * / ** & |.")
            left, right = self.visit(node.left), self.visit(node.right)
            if _is_number(left) and _is_number(right):
                return self.fold(op, float(left), float(right), node)
            if op == "/" and _is_number(right) and right == 0:
                raise self.error(node, f"division by zero in `{self.source(node)}`.")
            return self.binary(op, left, right, node)
        if isinstance(node, ast.BoolOp):
            op = "&" if isinstance(node.op, ast.And) else "|"
            values = [self.visit(v) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = self.binary(op, out, v, node)
            return out
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.error(node, f"{type(node).__name__} is not allowed in an expression (only "
                         "names, numbers, strings, + - * / **, comparisons, and/or/not, "
                         "`in (...)` and calls to log/exp/abs" + self.extra_calls() + ").")

    def fold(self, op: str, a: float, b: float, node: ast.AST) -> Any:
        """``a op b`` for two numbers, refusing what cannot give a finite real number."""
        where = f"`{self.source(node)}`"
        if op == "/" and b == 0:
            raise self.error(node, f"division by zero in {where}.")
        if op == "**":
            if a == 0 and b < 0:
                raise self.error(node, f"division by zero in {where} (0 to a negative power).")
            if a < 0 and not b.is_integer():
                raise self.error(node, f"{where} is not a real number (a negative number to a "
                                 "fractional power).")
            if a != 0 and b * math.log10(abs(a)) > _LOG10_MAX:
                raise self.error(node, f"{where} overflows: the result would be about "
                                 f"1e{_shorten(f'{b * math.log10(abs(a)):.0f}', 20)}, beyond "
                                 "the largest number (about 1.8e308).")
        if op in ("&", "|"):
            return self.binary(op, np.float64(a), np.float64(b), node)
        with np.errstate(all="ignore"):
            out = _APPLY[op](np.float64(a), np.float64(b))
        if not np.isfinite(out):
            raise self.error(node, f"{where} overflows (beyond the largest number, about "
                             "1.8e308).")
        return out

    def function(self, fn: Callable[[Any], Any], node: ast.Call) -> Any:
        """A call of ``log``/``exp``/``abs``; folded (and checked) when the argument is a
        number."""
        arg = _one_arg(self, node)
        if _is_number(arg):
            with np.errstate(all="ignore"):
                out = {"log": np.log, "exp": np.exp, "abs": np.abs}[node.func.id](  # type: ignore[attr-defined]
                    np.float64(arg))
            if not np.isfinite(out):
                raise self.error(node, f"`{self.source(node)}` is {out} (not a finite number).")
            return out
        try:
            return fn(arg)
        except SpecificationError as err:  # e.g. log() of a parameter
            raise self.error(node, str(err)) from None

    def extra_calls(self) -> str:
        return ""

    def compare(self, node: ast.Compare) -> Any:
        out = None
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right_node, (ast.Tuple, ast.List, ast.Set)):
                    raise self.error(right_node, "`in` needs a literal list, e.g. "
                                     "PURPOSE in (1, 3).")
                items = [self.visit(e) for e in right_node.elts]
                res = self.isin(left, items, node)
                if isinstance(op, ast.NotIn):
                    res = self.logical_not(res, node)
                right = None
            else:
                sym = _CMP.get(type(op))
                if sym is None:
                    raise self.error(node, "unsupported comparison (use == != < <= > >=).")
                right = self.visit(right_node)
                res = self.binary(sym, left, right, node)
            out = res if out is None else self.binary("&", out, res, node)
            left = right
        return out

    def call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
            raise self.error(node, "only calls to " + ", ".join(self.functions) + " are allowed.")
        if node.keywords and node.func.id not in ("Beta",):
            raise self.error(node, f"{node.func.id}() takes no keyword arguments.")
        return self.functions[node.func.id](self, node)

    # hooks
    def binary(self, op: str, a: Any, b: Any, node: ast.AST) -> Any:
        raise NotImplementedError

    def isin(self, a: Any, items: list[Any], node: ast.AST) -> Any:
        raise NotImplementedError

    def logical_not(self, a: Any, node: ast.AST) -> Any:
        raise NotImplementedError


def _one_arg(interp: _Interpreter, node: ast.Call) -> Any:
    if len(node.args) != 1:
        raise interp.error(node, f"{node.func.id}() takes one argument.")  # type: ignore[attr-defined]
    return interp.visit(node.args[0])


def _np_func(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        with np.errstate(all="ignore"):  # log(0) = -inf etc.: the design check names them
            return fn(x)
    return apply


class _DataInterpreter(_Interpreter):
    """Evaluate over a DataFrame: names are columns; results are Series or scalars."""

    functions = {
        "log": lambda i, n: i.function(_np_func(np.log), n),
        "exp": lambda i, n: i.function(_np_func(np.exp), n),
        "abs": lambda i, n: i.function(np.abs, n),
    }

    def __init__(self, where: str, text: str, frame: pd.DataFrame) -> None:
        super().__init__(where, text)
        self.frame = frame

    def name(self, node: ast.Name) -> Any:
        if node.id not in self.frame:  # a DataFrame or the _Columns of build_model
            raise self.error(node, f"{node.id!r} is not a column of the data."
                             f"{suggest(node.id, [str(c) for c in self.frame.columns])}")
        return self.frame[node.id]

    def binary(self, op: str, a: Any, b: Any, node: ast.AST) -> Any:
        try:
            with np.errstate(all="ignore"):
                if op == "&":
                    return _truth(a) & _truth(b)
                if op == "|":
                    return _truth(a) | _truth(b)
                if op not in _LOGICAL:  # arithmetic on conditions: their 0/1 values
                    a, b = _as_number(a), _as_number(b)
                return _APPLY[op](a, b)
        except (TypeError, NotImplementedError) as err:
            raise self.error(node, f"cannot apply {op!r} here ({err}).") from None

    def isin(self, a: Any, items: list[Any], node: ast.AST) -> Any:
        if isinstance(a, pd.Series):
            return a.isin(items)
        return a in items

    def logical_not(self, a: Any, node: ast.AST) -> Any:
        return ~_truth(a)


def _as_number(a: Any) -> Any:
    if isinstance(a, pd.Series) and a.dtype == bool:
        return a.astype(float)
    return float(a) if isinstance(a, (bool, np.bool_)) else a


def _truth(a: Any) -> Any:
    if isinstance(a, pd.Series):
        return a.astype(bool) if a.dtype == bool else a.fillna(0).astype(float) != 0
    return bool(a)


_APPLY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a ** b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def evaluate_expression(expr: str, frame: pd.DataFrame, where: str = "expression") -> Any:
    """Evaluate a data expression (no parameters) over the columns of ``frame``.

    Parameters
    ----------
    expr : str
        E.g. ``"TRAIN_CO * (GA == 0)"`` or ``"PURPOSE in (1, 3) and CHOICE != 0"``.
    frame : pandas.DataFrame
    where : str
        Named in error messages (e.g. ``"[variables] TRAIN_COST"``).

    Returns
    -------
    pandas.Series or scalar
        Comparisons and ``and``/``or``/``not`` give booleans. Values computed from the data
        may be inf or NaN (``log(0)``, ``x / y`` where ``y`` is 0); the model's design check
        names the variable and the cases.

    Raises
    ------
    SpecificationError
        For syntax errors, forbidden constructs, unknown columns, division by a constant 0 and
        constant arithmetic that overflows (with a caret under the offending part).
    """
    tree = _parse(expr, where)
    try:
        return _DataInterpreter(where, str(expr), frame).visit(tree)
    except SpecificationError:
        raise
    except RecursionError:
        raise SpecificationError(f"{where}: cannot evaluate {_shorten(str(expr))!r}: it is "
                                 "nested too deeply. Simplify it, or split it into "
                                 "[variables].") from None
    except (TypeError, ValueError, ArithmeticError) as err:
        raise SpecificationError(f"{where}: cannot evaluate {_shorten(str(expr))!r}: "
                                 f"{err}.") from None


def _holds_parameter(x: Any) -> bool:
    return isinstance(x, Beta) or (isinstance(x, Utility) and bool(x.terms))


class _UtilityInterpreter(_Interpreter):
    """Build a choicekit utility (Beta/Var expression) from an expression."""

    def __init__(self, where: str, text: str, params: Mapping[str, Beta],
                 has_variable: Callable[[str], bool], variables: list[str]) -> None:
        super().__init__(where, text)
        self.params, self.has_variable, self.variable_names = params, has_variable, variables

    def _beta(self, node: ast.Call) -> Beta:
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or not isinstance(
                node.args[0].value, str):
            raise self.error(node, 'Beta() takes a parameter name in quotes, e.g. Beta("B_TIME").')
        name = node.args[0].value
        if node.keywords:
            raise self.error(node, "set start values, fixed and bounds in [parameters], not in "
                             "Beta().")
        return self.params[name] if name in self.params else Beta(name)

    def _var(self, node: ast.Call) -> Var:
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or not isinstance(
                node.args[0].value, str):
            raise self.error(node, 'Var() takes a column name in quotes, e.g. Var("TRAIN_TT").')
        return self._column(node.args[0].value, node)

    def _column(self, name: str, node: ast.AST) -> Var:
        if not self.has_variable(name):
            raise self.error(node, f"{name!r} is neither a parameter declared in [parameters] "
                             f"nor a data column.{suggest(name, self.variable_names)} Declare "
                             "parameters in [parameters] (or write Beta(\"name\")).")
        return Var(name)

    functions = {
        "log": lambda i, n: i.function(_ck_log, n),
        "exp": lambda i, n: i.function(_ck_exp, n),
        "abs": lambda i, n: i.function(abs, n),
        "Beta": lambda i, n: i._beta(n),
        "Var": lambda i, n: i._var(n),
    }

    def extra_calls(self) -> str:
        return ", Beta, Var"

    def name(self, node: ast.Name) -> Any:
        if node.id in self.params:
            return self.params[node.id]
        return self._column(node.id, node)

    def constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, str):
            raise self.error(node, "strings are not allowed in utilities; compare numeric "
                             "codes or add an indicator in [variables].")
        return float(super().constant(node))

    def _refuse_logical(self, node: ast.AST, *operands: Any) -> None:
        if any(_holds_parameter(x) for x in operands):
            raise self.error(node, f"`{self.source(node)}` applies a comparison or not/and/or "
                             "to a parameter; these work on data columns only (e.g. "
                             "B_COST * COST * (GA == 0)). A parameter can only multiply data "
                             "or stand alone as a constant.")

    def binary(self, op: str, a: Any, b: Any, node: ast.AST) -> Any:
        if op in _LOGICAL:
            self._refuse_logical(node, a, b)
        try:
            return _APPLY[op](a, b) if op in _APPLY else (a & b if op == "&" else a | b)
        except SpecificationError as err:
            raise self.error(node, str(err)) from None
        except TypeError as err:
            raise self.error(node, f"cannot apply {op!r} here ({err}).") from None

    def isin(self, a: Any, items: list[Any], node: ast.AST) -> Any:
        out = None
        for item in items:
            term = self.binary("==", a, item, node)
            out = term if out is None else self.binary("|", out, term, node)
        if out is None:
            raise self.error(node, "`in ()` needs at least one value.")
        return out

    def logical_not(self, a: Any, node: ast.AST) -> Any:
        self._refuse_logical(node, a)
        return a == 0


def utility_from_expression(expr: str, params: Mapping[str, Beta],
                            has_variable: Callable[[str], bool], variables: list[str] = (),  # type: ignore[assignment]
                            where: str = "utility") -> Any:
    """A choicekit utility (``Beta``/``Var`` arithmetic) from an expression string.

    A bare name is the parameter ``params[name]`` if declared, else a data column (checked
    with ``has_variable``); ``Beta("x")`` / ``Var("x")`` force either reading.
    """
    tree = _parse(expr, where)
    try:
        out = _UtilityInterpreter(where, str(expr), params, has_variable,
                                  list(variables)).visit(tree)
    except SpecificationError:
        raise
    except RecursionError:
        raise SpecificationError(f"{where}: cannot build a utility from "
                                 f"{_shorten(str(expr))!r}: it is nested too deeply. Simplify "
                                 "it, or split it into [variables].") from None
    except (TypeError, ValueError, ArithmeticError) as err:
        raise SpecificationError(f"{where}: cannot build a utility from "
                                 f"{_shorten(str(expr))!r}: {err}.") from None
    try:
        return as_utility(out)
    except SpecificationError as err:
        raise SpecificationError(f"{where}: {err}") from None


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
