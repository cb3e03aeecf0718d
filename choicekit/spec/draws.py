"""Random draws in utility expressions: :class:`Draw`, the standard variate of a random coefficient.

A ``Draw(name, distribution)`` stands for one standard random variable per unit (a person in a
panel, a case otherwise), the same in every utility and choice of that unit. It enters a
utility through the coefficients of a mixed logit (:class:`~choicekit.MixedLogit`)::

    b_time = B("B_TIME") + B("S_TIME") * D("time")                # normal coefficient
    b_cost = -ck.exp(B("M_COST") + B("S_COST") * D("cost"))       # negative lognormal

Draws enter *linearly* (a parameter times a draw, times data) or inside ``ck.exp`` of a
parameter expression (lognormal coefficients); a product of two draws, or a draw inside another
function, is refused. :func:`split_draws` writes a multiplier as a sum over draws of data
expressions, which is how the mixed logit's design is built (see
:mod:`choicekit.families.mixed.structure`).

Distributions of the standard variates (``u`` uniform on (0, 1) from the draw generator):

=================  ===========================================  ==========================
``"normal"``       :math:`\\Phi^{-1}(u)`                         mean 0, SD 1
``"uniform"``      :math:`u`                                     (0, 1)
``"uniform_sym"``  :math:`2u - 1`                                (-1, 1), SD :math:`1/\\sqrt3`
``"triangular"``   :math:`\\sqrt{2u} - 1` (u < 1/2), else
                   :math:`1 - \\sqrt{2(1-u)}`                     (-1, 1), SD :math:`1/\\sqrt6`
=================  ===========================================  ==========================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from choicekit._validation import suggest
from choicekit.exceptions import SpecificationError
from choicekit.spec.expressions import Expr, _BinOp, _Const, _Func

__all__ = ["Draw", "DISTRIBUTIONS", "split_draws", "has_draws", "standard_variate"]

#: distributions of a Draw's standard variate
DISTRIBUTIONS = ("normal", "uniform", "uniform_sym", "triangular")


class Draw(Expr):
    """A standard random variate, one value per unit and simulation draw.

    Parameters
    ----------
    name : str
        One name is one variate: the same name in several coefficients is the same draw
        (e.g. the Cholesky terms of correlated coefficients).
    distribution : {"normal", "uniform", "uniform_sym", "triangular"}, default "normal"
    """

    __slots__ = ("name", "distribution")

    def __init__(self, name: str, distribution: str = "normal") -> None:
        if not isinstance(name, str) or not name:
            raise SpecificationError(f"Draw needs a name (a non-empty str). Got {name!r}.")
        if distribution not in DISTRIBUTIONS:
            raise SpecificationError(
                f"`distribution` of Draw {name!r} must be one of {list(DISTRIBUTIONS)}. Got "
                f"{distribution!r} instead.{suggest(str(distribution), DISTRIBUTIONS)}")
        self.name, self.distribution = name, distribution

    def evaluate(self, lookup: Any) -> np.ndarray | float:
        raise SpecificationError(
            f"Draw({self.name!r}) is a random draw: only ck.MixedLogit evaluates utilities with "
            "draws (an MNL or nested logit has fixed coefficients).")

    def variables(self) -> set[str]:
        return set()

    def draws(self) -> dict[str, str]:
        return {self.name: self.distribution}

    def __repr__(self) -> str:
        if self.distribution == "normal":
            return f"Draw({self.name!r})"
        return f"Draw({self.name!r}, {self.distribution!r})"


def has_draws(expr: Expr | None) -> bool:
    """Whether a data expression contains a :class:`Draw`."""
    if expr is None:
        return False
    if isinstance(expr, Draw):
        return True
    if isinstance(expr, _BinOp):
        return has_draws(expr.left) or has_draws(expr.right)
    if isinstance(expr, _Func):
        return has_draws(expr.arg)
    return False


def collect_draws(expr: Expr | None, out: dict[str, str]) -> None:
    """Add the draws of ``expr`` to ``out`` (``{name: distribution}``), refusing one name with
    two distributions."""
    if expr is None:
        return
    if isinstance(expr, Draw):
        old = out.setdefault(expr.name, expr.distribution)
        if old != expr.distribution:
            raise SpecificationError(
                f"Draw {expr.name!r} is used with two distributions ({old!r} and "
                f"{expr.distribution!r}); one name is one draw.")
    elif isinstance(expr, _BinOp):
        collect_draws(expr.left, out)
        collect_draws(expr.right, out)
    elif isinstance(expr, _Func):
        collect_draws(expr.arg, out)


def _mul(a: Expr, b: Expr) -> Expr:
    if isinstance(a, _Const) and a.value == 1.0:
        return b
    if isinstance(b, _Const) and b.value == 1.0:
        return a
    return _BinOp("*", a, b)


def split_draws(expr: Expr) -> dict[str | None, Expr]:
    """Write ``expr`` as :math:`\\sum_d m_d z_d` (plus :math:`m_{None}`): ``{draw name or None:
    data expression}``.

    Raises
    ------
    SpecificationError
        A product or quotient of draws, a division by a draw, or a draw inside a function.
    """
    if isinstance(expr, Draw):
        return {expr.name: _Const(1.0)}
    if not has_draws(expr):
        return {None: expr}
    if isinstance(expr, _BinOp):
        if expr.op in ("+", "-"):
            left, right = split_draws(expr.left), split_draws(expr.right)
            out = dict(left)
            for d, m in right.items():
                m2 = m if expr.op == "+" else _mul(m, _Const(-1.0))
                out[d] = m2 if d not in out else _BinOp("+", out[d], m2)
            return out
        if expr.op == "*":
            if has_draws(expr.left) and has_draws(expr.right):
                raise SpecificationError(
                    f"Product of two draws in {expr!r}: a coefficient is linear in the draws "
                    "(write correlated coefficients with Cholesky terms, e.g. B('C21') * "
                    "D('d1') + B('C22') * D('d2')).")
            drawn, data = ((expr.left, expr.right) if has_draws(expr.left)
                           else (expr.right, expr.left))
            return {d: _mul(m, data) for d, m in split_draws(drawn).items()}
        if expr.op == "/" and not has_draws(expr.right):
            return {d: _BinOp("/", m, expr.right) for d, m in split_draws(expr.left).items()}
    raise SpecificationError(
        f"A draw enters {expr!r} other than linearly. Draws may multiply parameters and data "
        "(B('S') * D('x') * Var('x')); a lognormal coefficient is ck.exp(B('M') + B('S') * "
        "D('x')).")


def standard_variate(u: np.ndarray, distribution: str) -> np.ndarray:
    """The standard variate of ``distribution`` from uniforms ``u`` in (0, 1) (inverse CDF)."""
    if distribution == "normal":
        from scipy.special import ndtri

        return ndtri(u)
    if distribution == "uniform":
        return u
    if distribution == "uniform_sym":
        return 2.0 * u - 1.0
    if distribution == "triangular":
        return np.where(u < 0.5, np.sqrt(2.0 * u) - 1.0, 1.0 - np.sqrt(2.0 * (1.0 - u)))
    raise SpecificationError(f"Unknown distribution {distribution!r}.")  # pragma: no cover
