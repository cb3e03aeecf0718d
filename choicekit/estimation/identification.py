"""Identification diagnostics: which parameters can the data pin down, and does the MLE exist?

Two checks, both reported by parameter name.

*Before fitting* (:func:`check_identification`, ``MNL.check_identification()``): the
log-likelihood of a logit model depends on the parameters only through utility *differences*
within each case, so a direction :math:`v` in parameter space is unidentified exactly when
:math:`x_{nj}'v` is the same for every available alternative :math:`j` of every case :math:`n`.
These directions form the null space of the within-case centred design

.. math:: D_{nj} = x_{nj} - \\bar x_n, \\qquad \\bar x_n = \\frac{1}{|A_n|}\\sum_{i\\in A_n} x_{ni},

(rows for available alternatives of cases with positive weight), which is also the null space
of the Hessian at *every* parameter value, since
:math:`-H = \\sum_n w_n \\sum_j P_{nj}(x_{nj}-\\bar x^P_n)(x_{nj}-\\bar x^P_n)'` with all
:math:`P_{nj} > 0`. The check finds it from the eigen-decomposition of :math:`D'D` after
scaling its columns to unit length (so that attributes in different units do not matter) and
names the typical causes: a full set of alternative-specific constants, a generic coefficient
on a variable that does not vary within cases (a case-level variable such as income), and
perfectly collinear columns.

*After fitting* (:func:`detect_separation`, run by ``MNL.fit``): the maximum-likelihood
estimate does not exist when the data are *separated*: some direction :math:`d` has
:math:`(x_{nc_n} - x_{nj})'d \\ge 0` for every case and available alternative, with strict
inequality somewhere (Albert & Anderson 1984, for the multinomial logit). Moving along
:math:`d` then raises the likelihood forever: the chosen probabilities of the separated cases
tend to one, their log-likelihood contributions to zero, and the estimates run off to
infinity while the gradient vanishes, so an optimizer may well report convergence. When the
fitted model shows the symptoms (a Newton step that stays large in utility units, a singular
Hessian, or no convergence), the linear program

.. math:: \\max_d \\sum_{n,j} (x_{nc_n} - x_{nj})'d \\quad \\text{s.t.} \\quad
          (x_{nc_n} - x_{nj})'d \\ge 0, \\; -1 \\le d_k \\le 1

decides (Konis 2007): a positive optimum proves separation and its solution :math:`d` names
the parameters that run off. The fit is then reported as not converged, with a
:class:`~choicekit.exceptions.SeparationWarning`.

References
----------
Albert, A. & Anderson, J. A. (1984). On the existence of maximum likelihood estimates in
logistic regression models. *Biometrika* 71(1), 1-10.
Konis, K. (2007). *Linear programming algorithms for detecting separated data in binary
logistic regression models*. DPhil thesis, University of Oxford.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 2.5 (which
parameters are identified). Cambridge University Press.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from choicekit._lazy import linalg, optimize
from choicekit._validation import first_cases, plural
from choicekit._warnings import warn_user
from choicekit.exceptions import IdentificationWarning, SeparationWarning

if TYPE_CHECKING:
    from choicekit.design.linear import Design
    from choicekit.estimation.objective import Objective
    from choicekit.estimation.optimizers import Optimum

__all__ = ["IdentificationReport", "check_identification", "Separation", "detect_separation",
           "flag_separation"]

#: design values below this are zero for any finite parameter (and overflow when divided by)
TINY = 1e-150

#: largest linear program (rows = available non-chosen alternatives) solved after a fit; HiGHS
#: takes a few seconds at this size
MAX_LP_ROWS = 400_000

#: eigenvalues of the unit-scaled within-case Gram matrix below this fraction of the largest
#: one count as zero (perfect collinearity leaves ~1e-16; real data rarely go below ~1e-8)
RTOL = 1e-10


@dataclass(frozen=True)
class IdentificationReport:
    """What :func:`check_identification` found.

    Attributes
    ----------
    problems : tuple of str
        One sentence per problem, naming the parameters (empty when all are identified).
    unidentified : tuple of str
        Names of every parameter involved in an unidentified direction.
    directions : tuple of pandas.Series
        Unidentified directions, indexed by parameter name, scaled to a largest entry of 1
        (the data cannot tell ``params`` from ``params + t * direction``).
    """

    problems: tuple[str, ...] = ()
    unidentified: tuple[str, ...] = ()
    directions: tuple[pd.Series, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every free parameter is identified."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return "All free parameters are identified by the data."
        k = len(self.unidentified)
        return (f"{k} {plural(k, 'parameter')} not identified by the data:\n"
                + "\n".join(f"  - {p}" for p in self.problems))

    def warn(self, stacklevel: int = 2) -> None:
        """Issue an :class:`~choicekit.exceptions.IdentificationWarning` when not ``ok``."""
        if not self.ok:
            warnings.warn(str(self) + "\nFix one parameter of each direction (Beta(..., "
                          "fixed=True)) or drop it from the utilities.", IdentificationWarning,
                          stacklevel=stacklevel + 1)


def _centred_gram(design: Design, params: np.ndarray, use: np.ndarray, chunk: int = 65536
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:math:`D'D`, :math:`\\sum x^2` per column, and which columns vary only by alternative.

    Over the design's columns ``params``; all sums run over available alternatives of the
    cases in ``use``, in chunks of cases (each materialised as a textbook block).
    """
    n, J, K = design.n_cases, design.n_alts, len(params)
    avail = design.avail
    G = np.zeros((K, K))
    raw = np.zeros(K)
    # a column is "alternative-constant" when x_njk equals one value per (j, k) in all cases
    ref = np.full((J, K), np.nan)
    alt_const = np.ones(K, dtype=bool)
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        Xc, av = design.block(sl, params), avail[sl] & use[sl, None]
        na = av.sum(axis=1)
        keep = na > 0
        Xc, av, na = Xc[keep], av[keep], na[keep]
        if not len(Xc):
            continue
        # the design is already zero at unavailable alternatives (build_design), and in the
        # cases kept ``av`` is their availability: no masked copy of the chunk is needed
        mean = Xc.sum(axis=1) / na[:, None]
        D = np.where(av[:, :, None], Xc - mean[:, None, :], 0.0).reshape(-1, K)
        G += D.T @ D
        raw += (Xc.reshape(-1, K) ** 2).sum(axis=0)
        for j in range(J):
            rows = av[:, j]
            if not rows.any():
                continue
            col = Xc[rows, j, :]
            first = np.where(np.isnan(ref[j]), col[0], ref[j])
            ref[j] = first
            alt_const &= (col == first).all(axis=0)
    return 0.5 * (G + G.T), raw, alt_const


def _sparse_basis(null: np.ndarray) -> np.ndarray:
    """A basis of the same null space with one pivot parameter per vector (RREF-like), so that
    unrelated problems (say, a full set of constants and two collinear columns) show apart."""
    r = null.shape[1]
    if r <= 1:
        return null
    _, _, piv = linalg.qr(null.T, pivoting=True)
    B = np.linalg.solve(null.T[:, piv[:r]], null.T)  # rows: identity on the pivots
    B[np.abs(B) < 1e-9] = 0.0
    return B.T


def _fmt(v: pd.Series) -> str:
    terms = [f"{x:+.3g}*{k}" for k, x in v.items() if x != 0]
    return " ".join(terms[:10]) + (" ..." if len(terms) > 10 else "")


def check_identification(design: Design, *, rtol: float = RTOL) -> IdentificationReport:
    """Find the parameters that the data cannot identify, before any fitting.

    Parameters
    ----------
    design : Design
        The estimation design (fixed parameters are left out of the check).
    rtol : float
        Relative eigenvalue threshold of the unit-scaled within-case Gram matrix.

    Returns
    -------
    IdentificationReport

    Notes
    -----
    See the module docstring for the mathematics. Three kinds of problem are told apart:

    * a parameter whose column is the same for every available alternative of every case:
      a generic coefficient on a case-level variable, or a constant that enters every
      utility;
    * a combination of parameters whose columns vary only by alternative (not by case) and
      add up to the same value in every alternative: a full set of alternative-specific
      constants (or of alternative-specific coefficients on one case-level variable);
    * any other exact linear dependence between columns (perfect collinearity).
    """
    free = ~design.fixed
    names = [str(n) for n in np.asarray(design.param_names)[free]]
    K = len(names)
    if K == 0:
        return IdentificationReport()
    use = np.ones(design.n_cases, dtype=bool) if design.weight is None else design.weight > 0
    G, raw, alt_const = _centred_gram(design, np.flatnonzero(free), use)
    scale = np.sqrt(np.clip(np.diag(G), 0.0, None))
    raw_norm = np.sqrt(raw)
    raw_norm[raw_norm <= TINY] = 0.0  # values like 1e-310 are zero for any finite parameter
    flat = (scale <= 1e-10 * raw_norm) | (raw_norm == 0)
    problems: list[str] = []
    directions: list[pd.Series] = []
    involved: set[str] = set()
    for k in np.flatnonzero(flat):
        involved.add(names[k])
        directions.append(pd.Series(np.eye(K)[k], index=names))
        if raw_norm[k] == 0:
            problems.append(f"{names[k]!r} multiplies a variable that is zero in every available "
                            "alternative of every case: the data say nothing about it.")
        elif alt_const[k]:
            problems.append(f"{names[k]!r} adds the same constant to every available "
                            "alternative: a constant in every utility cancels out of the "
                            "probabilities.")
        else:
            problems.append(f"{names[k]!r} multiplies a variable that does not vary across the "
                            "available alternatives of any case (a case-level variable such as "
                            "income with a generic coefficient): it cancels out of the "
                            "probabilities. Give it alternative-specific coefficients (all but "
                            "one alternative) or drop it.")
    rest = np.flatnonzero(~flat)
    if len(rest) > 1:
        C = G[np.ix_(rest, rest)] / np.outer(scale[rest], scale[rest])
        evals, evecs = np.linalg.eigh(C)
        small = evals <= rtol * max(float(evals.max()), np.finfo(float).tiny)
        if small.any():
            null = evecs[:, small] / scale[rest, None]  # back to parameter units
            null = _sparse_basis(null)
            for r in range(null.shape[1]):
                v = np.zeros(K)
                v[rest] = null[:, r]
                v /= v[np.argmax(np.abs(v))]  # largest entry +1
                v[np.abs(v) < 1e-8] = 0.0
                vec = pd.Series(v, index=names)
                support = [names[k] for k in np.flatnonzero(v)]
                involved.update(support)
                directions.append(vec)
                if all(alt_const[names.index(s)] for s in support):
                    problems.append(
                        f"{support} form a full set of alternative-specific constants (their "
                        f"columns vary only by alternative and {_fmt(vec)} is the same in "
                        "every alternative): only differences between them are identified. "
                        "Fix one of them to 0 (the reference alternative).")
                else:
                    problems.append(
                        f"{support} multiply perfectly collinear columns: {_fmt(vec)} is the "
                        "same for every available alternative of every case, so the data "
                        "cannot tell these parameters apart along that direction. Drop or fix "
                        "one of them.")
    ordered = tuple(n for n in names if n in involved)
    return IdentificationReport(tuple(problems), ordered, tuple(directions))


# ------------------------------------------------------------------------------ separation
@dataclass(frozen=True)
class Separation:
    """A separating direction: the data are perfectly predicted along it.

    Attributes
    ----------
    direction : pandas.Series
        :math:`d` by free-parameter name, largest entry 1 in absolute value; the
        log-likelihood rises without bound along ``params + t * d``.
    parameters : tuple of str
        Parameters with a non-zero entry in ``direction`` (those that run off).
    cases : pandas.Index
        Cases whose choice is perfectly predicted along ``d`` (a strictly positive margin
        over at least one available alternative).
    complete : bool
        Every case is perfectly predicted against every alternative (complete separation);
        otherwise quasi-complete.
    """

    direction: pd.Series
    parameters: tuple[str, ...]
    cases: pd.Index
    complete: bool

    def message(self, n_cases: int) -> str:
        kind = "complete" if self.complete else "quasi-complete"
        return (f"Perfect prediction ({kind} separation): along {_fmt(self.direction)} the "
                f"choices of {first_cases(self.cases)} of {n_cases} are predicted perfectly "
                "and the log-likelihood keeps rising, so the maximum-likelihood estimates of "
                f"{list(self.parameters)} do not exist (they run off to infinity; their "
                "estimates and standard errors are meaningless). Drop or recode the variables "
                "that predict the choice perfectly, merge sparse alternatives, or fix those "
                "parameters.")


def _symptoms(objective: Objective, optimum: Optimum) -> bool:
    """Cheap signs of separation at the reported optimum (the LP decides).

    Under separation the log-likelihood flattens out along the separating direction: its
    curvature there vanishes with the gradient, so the Hessian is (numerically) singular, or
    the Newton step :math:`(-H)^{-1}g` stays of the order of one unit of *utility* however
    small the gradient (each Newton step moves the estimates a fixed distance further out), or
    -- when every case is predicted perfectly -- the whole Hessian underflows far below its
    natural size. At a genuine maximum the Newton step is tiny. The step is measured in
    utility units (``|step_k| * max|x_k|``), so it does not depend on how the attributes are
    scaled.
    """
    if not optimum.converged:
        return True
    H, g = -optimum.hessian, optimum.score
    if H.size == 0:
        return False
    d = objective.design
    colmax = d.column_max[objective.free]
    # flat: curvature negligible against its natural size sum_n w_n max|x_k|^2 (when every
    # case is predicted perfectly the whole Hessian underflows, well conditioned or not)
    total_weight = d.n_cases if d.weight_total is None else d.weight_total
    with np.errstate(all="ignore"):
        if (np.diag(H) <= 1e-12 * total_weight * colmax**2).any() or (colmax <= TINY).any():
            return True
        s = np.sqrt(np.diag(H))
        Hs = H / np.outer(s, s)
        if not np.isfinite(Hs).all():
            return True
        evals, evecs = np.linalg.eigh(0.5 * (Hs + Hs.T))
        if evals.min() <= 1e-10 * evals.max():
            return True
        step = (evecs / evals) @ (evecs.T @ (g / s)) / s  # Newton step in parameter units
        size = float(np.abs(step) @ colmax)
    return not size <= 1e-2  # NaN counts as suspicious


def detect_separation(objective: Objective) -> Separation | None:
    """Decide by linear programming whether the data are separated (see module notes).

    Parameters
    ----------
    objective : Objective
        The estimation objective (its free-parameter design, availability and choices).
        :func:`flag_separation` decides whether the program is small enough to solve.

    Returns
    -------
    Separation or None
    """
    d = objective.design
    # only reached for designs small enough for the linear program (MAX_LP_ROWS)
    X, avail, chosen = d.block(params=np.flatnonzero(objective.free)), d.avail, d.chosen
    n, J, K = X.shape
    if K == 0:
        return None
    use = np.ones(n, dtype=bool) if d.weight is None else d.weight > 0
    rows_mask = avail & use[:, None]
    rows_mask[np.arange(n), chosen] = False
    if not rows_mask.any():
        return None
    A = (X[np.arange(n), chosen][:, None, :] - X)[rows_mask]  # (rows, K): x_nc - x_nj
    case_of_row = np.broadcast_to(np.arange(n)[:, None], (n, J))[rows_mask]
    col = np.abs(A).max(axis=0)
    live = col > TINY  # columns of (sub)normal dust cannot separate anything
    if not live.any():
        return None
    As = A[:, live] / col[live]
    nz = np.abs(As).max(axis=1) > 0
    As, case_of_row = As[nz], case_of_row[nz]
    if not len(As):
        return None
    res = optimize.linprog(-As.sum(axis=0), A_ub=-As, b_ub=np.zeros(len(As)),
                           bounds=[(-1.0, 1.0)] * As.shape[1], method="highs")
    if res.status != 0 or -res.fun <= 1e-7:
        return None
    margin = As @ res.x
    if margin.min() < -1e-9 or margin.max() <= 1e-7:
        return None
    dvec = np.zeros(K)
    dvec[live] = res.x / col[live]
    dvec /= np.abs(dvec).max()
    dvec[np.abs(dvec) < 1e-8] = 0.0
    names = [str(x) for x in np.asarray(d.param_names)[objective.free]]
    strict = margin > 1e-7
    sep_cases = np.unique(case_of_row[strict])
    direction = pd.Series(dvec, index=names, name="direction")
    # complete: every comparison of every used multi-alternative case has a strict margin
    complete = bool(strict.all() and len(sep_cases) == int(
        ((avail & use[:, None]).sum(axis=1) >= 2).sum()))
    return Separation(direction, tuple(k for k, v in direction.items() if v != 0),
                      d.cases[sep_cases], complete)


def flag_separation(objective: Objective, optimum: Optimum) -> Optimum:
    """The optimum unchanged, or marked not converged with a
    :class:`~choicekit.exceptions.SeparationWarning` when the data are separated.

    The linear program only runs when :func:`_symptoms` sees signs of separation, so fits of
    well-behaved models pay only one small eigen-decomposition.
    """
    d = objective.design
    if objective.n_free == 0 or d.chosen is None:
        return optimum
    if not _symptoms(objective, optimum):
        return optimum
    # distributed designs (no availability here) are treated like large ones
    n_rows = int(d.avail.sum()) - d.n_cases if hasattr(d, "avail") else MAX_LP_ROWS + 1
    if n_rows > MAX_LP_ROWS:  # the exact check would take minutes: say what we see instead
        if optimum.converged:
            warn_user(
                f"The fit shows signs of perfect prediction (a flat or singular Hessian, or a "
                f"Newton step that stays large), but the exact separation check was skipped on "
                f"this large design ({n_rows} comparisons > {MAX_LP_ROWS}). Check for chosen "
                "probabilities of 1 and for estimates that grow when `gtol` is tightened.",
                IdentificationWarning)
        return optimum
    sep = detect_separation(objective)
    if sep is None:
        return optimum
    msg = sep.message(d.n_cases)
    warn_user(msg, SeparationWarning)
    return replace(optimum, converged=False, message=msg)
