"""Utility specification: parameters (``Beta``), data expressions (``Var``) and linear utilities.

A utility is an expression *linear in the parameters*::

    B("ASC") + B("B_TIME") * V("TRAIN_TT") / 100 + B("B_COST") * V("TRAIN_CO") * (V("GA") == 0)

Arithmetic on :class:`Var` builds a small expression tree (numbers, ``+ - * / **``, comparisons
giving 0/1 indicators, ``abs``, ``ck.log``/``ck.exp``); multiplying it by a :class:`Beta`
gives a :class:`Utility`: a mapping from each parameter to its data multiplier plus an offset
that carries no parameter. Products of two parameters are refused: the model stays linear, so
its design can be built once and the Hessian is exact.

The same ``Beta`` name used in several utilities is one generic parameter; its attributes
(start value, fixed, bounds) must then agree.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from choicekit._validation import suggest
from choicekit.exceptions import SpecificationError

__all__ = ["Beta", "Var", "Expr", "Utility", "NonlinearCoefficient", "Specification", "log",
           "exp", "as_utility"]

Lookup = Callable[[str], "np.ndarray | float"]


# ---------------------------------------------------------------------------------------------
# data expressions (no parameters)
# ---------------------------------------------------------------------------------------------


class _Arithmetic:
    """``+ - * /``, their reflections and unary minus for :class:`Expr`, :class:`Beta` and
    :class:`Utility`, all through ``_arith(other, op, reflected)``.

    The default ``_arith`` (parameters and utilities) gives a :class:`Utility`; :class:`Expr`
    overrides it to keep data-only arithmetic an expression tree.
    """

    __slots__ = ()

    def _arith(self, other: Any, op: str, reflected: bool = False) -> Any:
        return _utility_op(other, self, op) if reflected else _utility_op(self, other, op)

    def __add__(self, o: Any) -> Any: return self._arith(o, "+")
    def __radd__(self, o: Any) -> Any: return self._arith(o, "+", True)
    def __sub__(self, o: Any) -> Any: return self._arith(o, "-")
    def __rsub__(self, o: Any) -> Any: return self._arith(o, "-", True)
    def __mul__(self, o: Any) -> Any: return self._arith(o, "*")
    def __rmul__(self, o: Any) -> Any: return self._arith(o, "*", True)
    def __truediv__(self, o: Any) -> Any: return self._arith(o, "/")
    def __rtruediv__(self, o: Any) -> Any: return self._arith(o, "/", True)
    def __neg__(self) -> Any: return as_utility(self)._scale(_Const(-1.0))


class Expr(_Arithmetic):
    """An arithmetic expression of data columns and numbers (no parameters).

    Subclasses: :class:`Var` (a column), ``_Const``, ``_BinOp``, ``_Func``.
    """

    __slots__ = ()

    def evaluate(self, lookup: Lookup) -> np.ndarray | float:
        """Value of the expression, looking up columns with ``lookup(name)``."""
        raise NotImplementedError

    def variables(self) -> set[str]:
        """Names of the columns the expression reads."""
        raise NotImplementedError

    # arithmetic (the operators come from _Arithmetic) -----------------------------------
    def _arith(self, other: Any, op: str, reflected: bool = False) -> Any:
        if isinstance(other, (Beta, Utility)):
            left, right = (as_utility(other), as_utility(self)) if reflected else (
                as_utility(self), as_utility(other))
            return left._bin(right, op)
        o = _as_expr(other)
        if o is None:
            return NotImplemented
        if op == "/" and _is_zero(self if reflected else o):
            raise SpecificationError(f"Division by zero: {o!r} / 0." if reflected else
                                     f"Division by zero: {self!r} / 0.")
        return _BinOp(op, o, self) if reflected else _BinOp(op, self, o)


    def __pow__(self, o: Any) -> Any:
        if isinstance(o, (Beta, Utility)):
            raise SpecificationError("A parameter cannot appear in an exponent: utilities must "
                                     "be linear in the parameters.")
        return self._arith(o, "**")

    def __neg__(self) -> Expr: return _BinOp("*", _Const(-1.0), self)
    def __pos__(self) -> Expr: return self
    def __abs__(self) -> Expr: return _Func("abs", self)

    def _cmp(self, other: Any, op: str) -> Any:
        if isinstance(other, (Beta, Utility)):
            raise SpecificationError("A comparison cannot involve a parameter; compare data "
                                     "only, e.g. Var('GA') == 0.")
        o = _as_expr(other)
        if o is None:
            return NotImplemented
        return _BinOp(op, self, o)

    def __eq__(self, o: Any) -> Any: return self._cmp(o, "==")  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return self._cmp(o, "!=")  # type: ignore[override]
    def __lt__(self, o: Any) -> Any: return self._cmp(o, "<")
    def __le__(self, o: Any) -> Any: return self._cmp(o, "<=")
    def __gt__(self, o: Any) -> Any: return self._cmp(o, ">")
    def __ge__(self, o: Any) -> Any: return self._cmp(o, ">=")
    def __and__(self, o: Any) -> Any: return self._cmp(o, "&")
    def __or__(self, o: Any) -> Any: return self._cmp(o, "|")

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise SpecificationError(
            "An expression has no truth value; use `&`, `|` and comparisons to build 0/1 "
            "indicators, e.g. (Var('AGE') > 30) & (Var('MALE') == 1)."
        )


class Var(Expr):
    """A data column, looked up by name in the choice data.

    The name is looked up first among the alternative-varying variables (the long table's
    columns, or wide columns gathered by ``variables=``), where it takes the value of the
    alternative whose utility it appears in, then among the case-level columns.

    Parameters
    ----------
    name : str
        Column name.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise SpecificationError(f"Var needs a column name (a non-empty str). Got {name!r}.")
        self.name = name

    def evaluate(self, lookup: Lookup) -> np.ndarray | float:
        return lookup(self.name)

    def variables(self) -> set[str]:
        return {self.name}

    def __repr__(self) -> str:
        return f"Var({self.name!r})"


class _Const(Expr):
    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def evaluate(self, lookup: Lookup) -> float:
        return self.value

    def variables(self) -> set[str]:
        return set()

    def __repr__(self) -> str:
        v = self.value
        return str(int(v)) if math.isfinite(v) and v == int(v) and abs(v) < 1e16 else repr(v)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "&": lambda a, b: (np.asarray(a) != 0) & (np.asarray(b) != 0),
    "|": lambda a, b: (np.asarray(a) != 0) | (np.asarray(b) != 0),
}
_BOOLEAN = {"==", "!=", "<", "<=", ">", ">=", "&", "|"}


class _BinOp(Expr):
    __slots__ = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        self.op, self.left, self.right = op, left, right

    def evaluate(self, lookup: Lookup) -> np.ndarray | float:
        a, b = self.left.evaluate(lookup), self.right.evaluate(lookup)
        if not np.ndim(a) and not np.ndim(b):  # two numbers: inf/NaN (named by the design
            a, b = np.float64(a), np.float64(b)  # check), not ZeroDivision/OverflowError
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = _OPS[self.op](a, b)
        if self.op in _BOOLEAN:
            return np.asarray(out, dtype=np.float64) if np.ndim(out) else float(out)
        return out

    def variables(self) -> set[str]:
        return self.left.variables() | self.right.variables()

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"


_FUNCS: dict[str, Callable[[Any], Any]] = {"log": np.log, "exp": np.exp, "abs": np.abs}


class _Func(Expr):
    __slots__ = ("fn", "arg")

    def __init__(self, fn: str, arg: Expr) -> None:
        self.fn, self.arg = fn, arg

    def evaluate(self, lookup: Lookup) -> np.ndarray | float:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _FUNCS[self.fn](self.arg.evaluate(lookup))

    def variables(self) -> set[str]:
        return self.arg.variables()

    def __repr__(self) -> str:
        return f"{self.fn}({self.arg!r})"


def _as_expr(x: Any) -> Expr | None:
    if isinstance(x, Expr):
        return x
    if isinstance(x, (bool, int, float, np.integer, np.floating)):
        return _Const(float(x))
    return None


def _is_zero(e: Expr) -> bool:
    return isinstance(e, _Const) and e.value == 0


def _func(fn: str, x: Any) -> Expr:
    if isinstance(x, (Beta, Utility)):
        raise SpecificationError(f"{fn}() of a parameter is not linear in the parameters.")
    e = _as_expr(x)
    if e is None:
        raise SpecificationError(f"{fn}() takes a Var expression or a number; got {x!r}.")
    return _Func(fn, e)


def log(x: Any) -> Expr:
    """Natural logarithm of a data expression, e.g. ``B('b') * ck.log(Var('cost'))``."""
    return _func("log", x)


def exp(x: Any) -> Expr | Utility:
    """Exponential of a data expression, or of a parameter expression (a lognormal random
    coefficient of a mixed logit, ``ck.exp(B("M") + B("S") * ck.Draw("x"))``).

    The exponential of a parameter expression is a :class:`NonlinearCoefficient`: one
    coefficient that multiplies data like a Beta; only :class:`~choicekit.MixedLogit`
    evaluates it.
    """
    if isinstance(x, (Beta, Utility)):
        inner = as_utility(x)
        coef = NonlinearCoefficient(inner)
        return Utility({coef.name: (coef, _Const(1.0))}, None)
    return _func("exp", x)


# ---------------------------------------------------------------------------------------------
# parameters and linear utilities
# ---------------------------------------------------------------------------------------------


class _ParameterComparison:
    """What ``Beta("b") == 0`` (or ``<``, ``>``, ... on a utility) gives: a placeholder that
    refuses to enter a utility, so that it cannot silently become the constant 0.

    Its truth value keeps Python's default for ``==``/``!=`` (identity), so that containers
    (``beta in [...]``) behave as before; an ordering comparison has no truth value.
    """

    __slots__ = ("left", "op", "right")

    def __init__(self, left: Any, op: str, right: Any) -> None:
        self.left, self.op, self.right = left, op, right

    def message(self) -> str:
        return (f"`{self.left!r} {self.op} {self.right!r}` compares a parameter: comparisons "
                "and not/and/or work on data only (e.g. Var('GA') == 0), and a parameter can "
                "only multiply data or stand alone as a constant.")

    def __bool__(self) -> bool:
        if self.op == "==":
            return self.left is self.right
        if self.op == "!=":
            return self.left is not self.right
        raise SpecificationError(self.message())

    def _refuse(self, *_: Any) -> Any:
        raise SpecificationError(self.message())

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = __pos__ = _refuse
    __and__ = __rand__ = __or__ = __ror__ = __invert__ = _refuse

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"


class _NoLogic:
    """Comparisons and ``& | ~`` on parameters and utilities: refused (they used to fall back on
    Python's defaults, e.g. ``Beta("b") == 0`` was False, a utility of 0). ``not beta`` is
    False, which :func:`as_utility` refuses like any bool."""

    __slots__ = ()

    def _compare(self, other: Any, op: str) -> _ParameterComparison:
        return _ParameterComparison(self, op, other)

    def __eq__(self, o: Any) -> Any: return self._compare(o, "==")  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return self._compare(o, "!=")  # type: ignore[override]
    def __lt__(self, o: Any) -> Any: return self._compare(o, "<")
    def __le__(self, o: Any) -> Any: return self._compare(o, "<=")
    def __gt__(self, o: Any) -> Any: return self._compare(o, ">")
    def __ge__(self, o: Any) -> Any: return self._compare(o, ">=")

    def _logic(self, *_: Any) -> Any:
        raise SpecificationError(
            f"`&`, `|` and `~` do not apply to a parameter ({self!r}): they "
            "combine data conditions only, e.g. (Var('AGE') > 30) & (Var('MALE') == 1).")

    __and__ = __rand__ = __or__ = __ror__ = __invert__ = _logic
    # __bool__ keeps Python's default (true), so that `beta or default` works; `not beta`
    # is then False, which as_utility refuses (a bool is never a utility)

    __hash__ = object.__hash__


class Beta(_NoLogic, _Arithmetic):
    """A parameter to estimate (or hold fixed).

    Parameters
    ----------
    name : str
        Label in the results. The same name in several utilities is one parameter.
    value : float, default 0.0
        Starting value, or the value when ``fixed``.
    fixed : bool, default False
        Hold the parameter at ``value`` during estimation.
    lower, upper : float, optional
        Bounds (estimation then uses a bounded optimizer).
    """

    __slots__ = ("name", "value", "fixed", "lower", "upper")

    def __init__(self, name: str, value: float = 0.0, *, fixed: bool = False,
                 lower: float | None = None, upper: float | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise SpecificationError(f"Beta needs a name (a non-empty str). Got {name!r}.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SpecificationError(
                f"Beta {name!r}: value must be a number; got {value!r}.") from None
        if not math.isfinite(value):
            raise SpecificationError(f"Beta {name!r}: value must be finite; got {value}.")
        try:
            lo = -math.inf if lower is None else float(lower)
            hi = math.inf if upper is None else float(upper)
        except (TypeError, ValueError):
            raise SpecificationError(f"Beta {name!r}: bounds must be numbers or None; got "
                                     f"lower={lower!r}, upper={upper!r}.") from None
        if math.isnan(lo) or math.isnan(hi):
            raise SpecificationError(f"Beta {name!r}: bounds must not be NaN (use None for no "
                                     "bound).")
        if lo > hi:
            raise SpecificationError(f"Beta {name!r}: lower bound {lo} exceeds upper bound {hi}.")
        if not fixed and not lo <= value <= hi:
            raise SpecificationError(
                f"Beta {name!r}: starting value {value} lies outside its bounds [{lo}, {hi}]."
            )
        self.name, self.value, self.fixed = name, value, bool(fixed)
        self.lower, self.upper = lo, hi

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.value, self.fixed, self.lower, self.upper)

    def __repr__(self) -> str:
        extra = "".join([", fixed=True" if self.fixed else "",
                         f", lower={self.lower}" if self.lower > -math.inf else "",
                         f", upper={self.upper}" if self.upper < math.inf else ""])
        return f"Beta({self.name!r}, {self.value}{extra})"

    def __pos__(self) -> Beta: return self

    __hash__ = object.__hash__


class NonlinearCoefficient(Beta):
    """``exp`` of a parameter expression: a coefficient that is a nonlinear function of
    parameters (and draws). It stands in a :class:`Utility` where a Beta would; its ``inner``
    utility holds the parameters. Named after the expression, so the same expression in
    several utilities is one coefficient.
    """

    __slots__ = ("inner", "fn")

    def __init__(self, inner: Utility, fn: str = "exp") -> None:
        super().__init__(f"{fn}({inner!r})")
        self.inner, self.fn = inner, fn

    def _key(self) -> tuple[Any, ...]:
        return (self.name,)


class Utility(_NoLogic, _Arithmetic):
    """A utility linear in the parameters: ``sum_k beta_k * m_k + offset``.

    ``terms`` maps each parameter name to ``(Beta, multiplier expression)``; ``offset`` is the
    parameter-free part (None when there is none).
    """

    __slots__ = ("terms", "offset")

    def __init__(self, terms: Mapping[str, tuple[Beta, Expr]], offset: Expr | None) -> None:
        self.terms = dict(terms)
        self.offset = offset

    def _scale(self, factor: Expr) -> Utility:
        terms = {k: (b, _simplify_mul(m, factor)) for k, (b, m) in self.terms.items()}
        off = None if self.offset is None else _simplify_mul(self.offset, factor)
        return Utility(terms, off)

    def _add(self, other: Utility, sign: float) -> Utility:
        terms = dict(self.terms)
        for k, (b, m) in other.terms.items():
            m2 = m if sign > 0 else _simplify_mul(m, _Const(-1.0))
            if k in terms:
                b0, m0 = terms[k]
                _check_same_beta(b0, b)
                terms[k] = (b0, _BinOp("+", m0, m2))
            else:
                terms[k] = (b, m2)
        if other.offset is None:
            off = self.offset
        else:
            o2 = other.offset if sign > 0 else _simplify_mul(other.offset, _Const(-1.0))
            off = o2 if self.offset is None else _BinOp("+", self.offset, o2)
        return Utility(terms, off)

    def _bin(self, other: Utility, op: str) -> Utility:
        if op == "+":
            return self._add(other, 1.0)
        if op == "-":
            return self._add(other, -1.0)
        if op == "*":
            if self.terms and other.terms:
                raise SpecificationError(
                    "Product of two parameter terms ("
                    f"{', '.join(self.terms)} times {', '.join(other.terms)}): utilities must be "
                    "linear in the parameters."
                )
            lin, data = (self, other) if self.terms else (other, self)
            return lin._scale(data.offset if data.offset is not None else _Const(0.0))
        if op == "/":
            if other.terms:
                raise SpecificationError(
                    f"Division by a parameter ({', '.join(other.terms)}): utilities must be "
                    "linear in the parameters."
                )
            denom = other.offset if other.offset is not None else _Const(0.0)
            if _is_zero(denom):
                raise SpecificationError(f"Division by zero: ({self!r}) / 0.")
            return self._scale(_BinOp("/", _Const(1.0), denom))
        raise SpecificationError(f"Operator {op!r} is not supported between utility terms.")

    def variables(self) -> set[str]:
        """Columns the utility reads."""
        out: set[str] = set()
        for _, m in self.terms.values():
            out |= m.variables()
        if self.offset is not None:
            out |= self.offset.variables()
        return out

    def __repr__(self) -> str:
        parts = [f"{b.name} * {m!r}" for b, m in self.terms.values()]
        if self.offset is not None:
            parts.append(repr(self.offset))
        return " + ".join(parts) or "0"


def _utility_op(a: Any, b: Any, op: str) -> Any:
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        raise SpecificationError(_BOOL_UTILITY)
    ua, ub = _try_utility(a), _try_utility(b)
    if ua is None or ub is None:
        return NotImplemented
    return ua._bin(ub, op)


def _try_utility(x: Any) -> Utility | None:
    try:
        return as_utility(x)
    except SpecificationError:
        return None


def _simplify_mul(m: Expr, factor: Expr) -> Expr:
    if isinstance(m, _Const) and m.value == 1.0:
        return factor
    if isinstance(factor, _Const) and factor.value == 1.0:
        return m
    return _BinOp("*", m, factor)


def _check_same_beta(a: Beta, b: Beta) -> None:
    if a is not b and a._key() != b._key():
        raise SpecificationError(
            f"Parameter {a.name!r} is declared twice with different settings: {a!r} and {b!r}. "
            "Use one Beta object, or the same value/fixed/bounds everywhere."
        )


_BOOL_UTILITY = (
    "A utility got True/False: `not`, `and`, `or` or a comparison was applied to a parameter, "
    "which Python turns into a bool. Conditions work on data only (e.g. "
    "Beta('B_COST') * Var('COST') * (Var('GA') == 0)); a parameter can only multiply data or "
    "stand alone as a constant.")


def as_utility(x: Any) -> Utility:
    """Turn a Beta, Var expression, number or Utility into a :class:`Utility`."""
    if isinstance(x, (bool, np.bool_)):
        raise SpecificationError(_BOOL_UTILITY)
    if isinstance(x, Utility):
        return x
    if isinstance(x, Beta):
        return Utility({x.name: (x, _Const(1.0))}, None)
    if isinstance(x, _ParameterComparison):
        raise SpecificationError(x.message())
    e = _as_expr(x)
    if e is None:
        raise SpecificationError(
            f"A utility must be built from Beta, Var and numbers; got {type(x).__name__} {x!r}."
        )
    return Utility({}, e)


# ---------------------------------------------------------------------------------------------
# the whole specification
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Specification:
    """Utilities of every alternative plus the ordered parameter list.

    Attributes
    ----------
    utilities : dict
        ``{alternative label: Utility}``.
    params : tuple of Beta
        Parameters in order of first appearance.
    """

    utilities: dict[Hashable, Utility]
    params: tuple[Beta, ...]

    @property
    def param_names(self) -> list[str]:
        """Parameter names in model order."""
        return [b.name for b in self.params]

    @classmethod
    def from_mapping(cls, utilities: Mapping[Hashable, Any],
                     alternatives: list[Hashable]) -> Specification:
        """Check a ``{alternative: expression}`` mapping against the data's alternatives."""
        if not isinstance(utilities, Mapping) or not utilities:
            raise SpecificationError(
                "`utilities` must be a non-empty dict {alternative: expression}, e.g. "
                "{'train': Beta('ASC_TRAIN') + Beta('B_TIME') * Var('TRAIN_TT'), ...}."
            )
        unknown = [a for a in utilities if a not in alternatives]
        if unknown:
            raise SpecificationError(
                f"Utilities are given for unknown alternatives {unknown}."
                f"{_suggest_alt(unknown[0], alternatives)} The data's alternatives are "
                f"{alternatives}."
            )
        missing = [a for a in alternatives if a not in utilities]
        if missing:
            raise SpecificationError(
                f"No utility is given for alternatives {missing}. Give every alternative a "
                "utility (use 0 for a reference alternative with no terms)."
            )
        utils: dict[Hashable, Utility] = {}
        seen: dict[str, Beta] = {}
        for a in alternatives:
            try:
                u = as_utility(utilities[a])
            except SpecificationError as err:
                raise SpecificationError(f"Utility of alternative {a!r}: {err}") from None
            for name, (b, _) in u.terms.items():
                if name in seen:
                    _check_same_beta(seen[name], b)
                else:
                    seen[name] = b
            utils[a] = u
        return cls(utilities=utils, params=tuple(seen.values()))


def _suggest_alt(name: Hashable, alternatives: list[Hashable]) -> str:
    return suggest(str(name), alternatives)
