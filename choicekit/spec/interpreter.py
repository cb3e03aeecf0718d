"""The safe expression interpreter of spec files: ``[variables]``, ``filter`` and
``[utilities]`` expressions parsed with :mod:`ast` and evaluated on data columns (pandas) or
into :class:`~choicekit.spec.expressions.Utility` objects, without ``eval``.

Only arithmetic, comparisons and logic on data, numbers, a few functions (``log``, ``exp``,
``abs``, ...) and names are accepted; attribute access, calls of anything else, lambdas,
subscripts and deep nesting are refused with a caret under the token, and so are constant
arithmetic that would overflow, division by a constant zero and logic on parameters.
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import suggest
from choicekit.exceptions import SpecificationError
from choicekit.spec.expressions import Beta, Utility, Var, as_utility
from choicekit.spec.expressions import exp as _ck_exp
from choicekit.spec.expressions import log as _ck_log

__all__ = ["evaluate_expression", "utility_from_expression", "MAX_EXPRESSION_LENGTH"]

MAX_EXPRESSION_LENGTH = 10_000


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
