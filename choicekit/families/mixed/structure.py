"""The structure of a mixed logit: random coefficients as functions of parameters and draws.

The user's utilities (:mod:`choicekit.spec.expressions` with :class:`~choicekit.spec.draws.Draw`
terms) are rewritten as a linear design over *slots*, each slot a data column whose coefficient
is a function of the parameters :math:`\\theta` and of a unit's draw :math:`z_r`:

* ``lin`` slot :math:`(k, d)`: coefficient :math:`\\theta_k z_{d}` (:math:`z = 1` when the term has
  no draw: a fixed coefficient, whose slot carries the parameter's own name);
* ``exp`` slot: coefficient :math:`\\exp(a_0 + \\sum_i c_i \\theta_{k_i} z_{d_i})` (a lognormal
  coefficient; the sign and data multiply its column).

So :math:`V_{njr} = \\sum_p x_{njp}\\, c_p(\\theta, z_{u(n) r}) + o_{nj}`, and the design of the
data stays the frozen linear :class:`~choicekit.design.linear.Design` (built once): only the
coefficients vary over draws.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from choicekit.exceptions import SpecificationError
from choicekit.families.protocol import ParamTable
from choicekit.spec.draws import collect_draws, has_draws, split_draws
from choicekit.spec.expressions import (
    Beta,
    Expr,
    NonlinearCoefficient,
    Specification,
    Utility,
    _BinOp,
    _check_same_beta,
)

__all__ = ["MixedStructure", "build_structure", "uses_draws"]


@dataclass(frozen=True)
class MixedStructure:
    """Slots of the design and the map from parameters and draws to their coefficients.

    Attributes
    ----------
    params : ParamTable
        The model's parameters (means, spreads, Cholesky terms, lognormal locations).
    betas : tuple of Beta
    draw_names, draw_dists : tuple of str
        The draws (one standard variate each) and their distributions.
    slot_names : tuple of str
        Design parameters (slots), in design order.
    kind : ndarray of int, (P,)
        0 lin, 1 exp.
    lin_k, lin_d : ndarray of int, (P,)
        Parameter and draw (-1: none) of lin slots (-1 elsewhere).
    exp_terms : tuple of tuple
        Per slot: ``((k, d, c), ...)`` of the exponent (empty for lin slots).
    exp_const : ndarray, (P,)
        Constant of the exponent.
    spread : ndarray of bool, (K,)
        Parameters that multiply a draw somewhere.
    """

    params: ParamTable
    betas: tuple[Beta, ...]
    draw_names: tuple[str, ...]
    draw_dists: tuple[str, ...]
    slot_names: tuple[str, ...]
    kind: np.ndarray
    lin_k: np.ndarray
    lin_d: np.ndarray
    exp_terms: tuple[tuple[tuple[int, int, float], ...], ...]
    exp_const: np.ndarray
    spread: np.ndarray

    @property
    def n_params(self) -> int:
        return len(self.betas)

    @property
    def fixed_slots(self) -> np.ndarray:
        """Slots whose coefficient is one parameter with no draw."""
        return np.flatnonzero((self.kind == 0) & (self.lin_d < 0))

    @property
    def random_slots(self) -> np.ndarray:
        return np.flatnonzero(~((self.kind == 0) & (self.lin_d < 0)))

    def coefficients_at_zero(self, theta: np.ndarray) -> np.ndarray:
        """Slot coefficients with every draw at 0 (the MNL of the means / medians)."""
        c = np.zeros(len(self.slot_names))
        for p in range(len(c)):
            if self.kind[p] == 0:
                c[p] = theta[self.lin_k[p]] if self.lin_d[p] < 0 else 0.0
            else:
                a = self.exp_const[p] + sum(cc * theta[k] for k, d, cc in self.exp_terms[p]
                                            if d < 0)
                c[p] = np.exp(a)
        return c


def uses_draws(spec: Specification) -> bool:
    """Whether a specification has random coefficients (draws or ``ck.exp`` of parameters)."""
    for u in spec.utilities.values():
        if has_draws(u.offset):
            return True
        for b, m in u.terms.values():
            if isinstance(b, NonlinearCoefficient) or has_draws(m):
                return True
    return False


def _number(expr: Expr, where: str) -> float:
    """A draw-free, data-free multiplier inside an exponent."""
    if expr.variables():
        raise SpecificationError(
            f"The exponent of {where} uses data ({sorted(expr.variables())}); the exponent of a "
            "lognormal coefficient holds parameters and draws only.")
    val = expr.evaluate(lambda name: 0.0)
    return float(val)


def build_structure(spec: Specification) -> tuple[MixedStructure, Specification]:
    """The mixed structure of the user's specification and the slot specification the design
    is built on (one pseudo-Beta per slot)."""
    betas: dict[str, Beta] = {}
    draws: dict[str, str] = {}

    def add_beta(b: Beta) -> int:
        if b.name in betas:
            _check_same_beta(betas[b.name], b)
        else:
            betas[b.name] = b
        return list(betas).index(b.name)

    # parameters in order of first appearance (inner parameters of exp where the exp appears)
    for b in spec.params:
        if isinstance(b, NonlinearCoefficient):
            for ib, _ in b.inner.terms.values():
                if isinstance(ib, NonlinearCoefficient):
                    raise SpecificationError(f"Nested exp() in {b.name}: not supported.")
                add_beta(ib)
        else:
            add_beta(b)
    names = list(betas)
    slots: dict[tuple, int] = {}  # key -> slot index
    slot_names: list[str] = []
    kind: list[int] = []
    lin_k: list[int] = []
    lin_d: list[int] = []
    exp_terms: list[tuple] = []
    exp_const: list[float] = []
    draw_index: dict[str, int] = {}

    def draw_id(name: str | None) -> int:
        if name is None:
            return -1
        return draw_index.setdefault(name, len(draw_index))

    def lin_slot(k: int, d: str | None) -> int:
        key = ("lin", k, d)
        if key not in slots:
            slots[key] = len(slot_names)
            slot_names.append(names[k] if d is None else f"{names[k]}*{d}")
            kind.append(0)
            lin_k.append(k)
            lin_d.append(draw_id(d))
            exp_terms.append(())
            exp_const.append(0.0)
        return slots[key]

    def exp_slot(coef: NonlinearCoefficient) -> int:
        key = ("exp", coef.name)
        if key in slots:
            return slots[key]
        inner: Utility = coef.inner
        collect_draws(inner.offset, draws)
        const = 0.0 if inner.offset is None else _number(inner.offset, coef.name)
        terms = []
        for name, (_, m) in inner.terms.items():
            collect_draws(m, draws)
            k = names.index(name)
            for d, mult in split_draws(m).items():
                terms.append((k, draw_id(d), _number(mult, coef.name)))
        slots[key] = len(slot_names)
        slot_names.append(coef.name)
        kind.append(1)
        lin_k.append(-1)
        lin_d.append(-1)
        exp_terms.append(tuple(terms))
        exp_const.append(const)
        return slots[key]

    new_utils: dict[Hashable, Utility] = {}
    slot_betas: dict[int, Beta] = {}
    for alt, u in spec.utilities.items():
        if has_draws(u.offset):
            raise SpecificationError(
                f"Utility of {alt!r}: a draw without a parameter ({u.offset!r}). Multiply each "
                "draw by a parameter (its spread), e.g. B('S') * D('x').")
        terms: dict[str, tuple[Beta, Expr]] = {}
        for name, (b, m) in u.terms.items():
            collect_draws(m, draws)
            if isinstance(b, NonlinearCoefficient):
                if has_draws(m):
                    raise SpecificationError(
                        f"Utility of {alt!r}: {b.name} multiplies a draw; a lognormal "
                        "coefficient takes its draws inside exp().")
                parts = {None: m}
                p_of = {None: exp_slot(b)}
            else:
                parts = split_draws(m)
                p_of = {d: lin_slot(names.index(name), d) for d in parts}
            for d, mult in parts.items():
                p = p_of[d]
                sb = slot_betas.setdefault(p, Beta(slot_names[p]))
                if slot_names[p] in terms:
                    terms[slot_names[p]] = (sb, _add(terms[slot_names[p]][1], mult))
                else:
                    terms[slot_names[p]] = (sb, mult)
        new_utils[alt] = Utility(terms, u.offset)
    order = sorted(slot_betas, key=lambda p: p)
    slot_spec = Specification(utilities=new_utils, params=tuple(slot_betas[p] for p in order))
    # slot ids follow creation order, which is the order of slot_spec.params
    P = len(slot_names)
    assert order == list(range(P)), "every slot is used"
    dnames = tuple(sorted(draw_index, key=draw_index.get))
    spread = np.zeros(len(names), dtype=bool)
    for p in range(P):
        if kind[p] == 0 and lin_d[p] >= 0:
            spread[lin_k[p]] = True
        for k, d, _ in exp_terms[p]:
            if d >= 0:
                spread[k] = True
    bl = list(betas.values())
    table = ParamTable(
        tuple(names), np.array([b.value for b in bl], dtype=np.float64),
        np.array([b.fixed for b in bl], dtype=bool),
        np.array([b.lower for b in bl], dtype=np.float64),
        np.array([b.upper for b in bl], dtype=np.float64))
    structure = MixedStructure(
        params=table, betas=tuple(bl), draw_names=dnames,
        draw_dists=tuple(draws[n] for n in dnames), slot_names=tuple(slot_names),
        kind=np.array(kind, dtype=np.intp), lin_k=np.array(lin_k, dtype=np.intp),
        lin_d=np.array(lin_d, dtype=np.intp), exp_terms=tuple(exp_terms),
        exp_const=np.array(exp_const), spread=spread)
    return structure, slot_spec


def _add(a: Expr, b: Expr) -> Expr:
    return _BinOp("+", a, b)
