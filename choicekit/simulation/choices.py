"""Simulation of choices from the random-utility model behind the logit.

Notes
-----
If :math:`U_{nj} = V_{nj} + \\varepsilon_{nj}` with :math:`\\varepsilon_{nj}` i.i.d. Gumbel
(type I extreme value) with location 0 and scale :math:`\\mu`, and the decision maker picks the
largest :math:`U_{nj}` among the available alternatives, then
:math:`\\Pr(j) = \\exp(V_{nj}/\\mu) / \\sum_{i\\in A_n} \\exp(V_{ni}/\\mu)` (McFadden 1974).
Simulating choices is therefore an argmax of utilities plus Gumbel draws
(:meth:`numpy.random.Generator.gumbel`).

For negative controls the errors can instead be normal with the same variance as the Gumbel,
:math:`\\sigma^2 = \\pi^2 \\mu^2 / 6` (the independent probit); the choice probabilities are then
no longer the softmax.

All draws are made in blocks of at most :data:`BLOCK_ELEMENTS` values, so memory stays bounded
whatever the number of cases and replications; the block size is a constant (not tuned to the
machine), so a seed gives the same choices everywhere.

References
----------
McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In
P. Zarembka (ed.), *Frontiers in Econometrics*, 105-142.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 3.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from choicekit._random import as_generator, spawn_generators, spawn_seeds
from choicekit._validation import check_int, check_option
from choicekit.exceptions import ChoiceDataError, SpecificationError

if TYPE_CHECKING:
    from choicekit.design.linear import Design

__all__ = [
    "ERRORS",
    "BLOCK_ELEMENTS",
    "as_generator",
    "spawn_seeds",
    "spawn_generators",
    "draw_errors",
    "simulate_choices",
    "simulate_counts",
]

ErrorKind = Literal["gumbel", "normal"]
#: error distributions the simulators draw from
ERRORS: tuple[str, ...] = ("gumbel", "normal")
#: random values drawn per block (cases x alternatives); ~16 MB of float64 per buffer
BLOCK_ELEMENTS = 1 << 21


def _check_scale_error(scale: float, error: str) -> float:
    check_option("error", error, ERRORS, SpecificationError)
    try:
        mu = float(scale)
    except (TypeError, ValueError):
        raise SpecificationError(f"`scale` must be a positive number. Got {scale!r}.") from None
    if not (np.isfinite(mu) and mu > 0):
        raise SpecificationError(f"`scale` must be a positive number. Got {scale!r}.")
    return mu


def draw_errors(gen: np.random.Generator, size: int | tuple[int, ...], *,
                error: ErrorKind = "gumbel", scale: float = 1.0) -> np.ndarray:
    """Random-utility error terms.

    Parameters
    ----------
    gen : numpy.random.Generator
    size : int or tuple of int
    error : {"gumbel", "normal"}, default "gumbel"
        ``"gumbel"``: type I extreme value with location 0 and scale ``scale``
        (``gen.gumbel``). ``"normal"``: mean 0 and the same variance,
        :math:`\\pi^2 \\mu^2 / 6` (a probit negative control).
    scale : float, default 1.0
        Gumbel scale :math:`\\mu`.

    Returns
    -------
    ndarray of float64
    """
    if error == "gumbel":
        return gen.gumbel(0.0, scale, size)
    return gen.normal(0.0, scale * math.pi / math.sqrt(6.0), size)


def _argmax_available(U: np.ndarray, avail: np.ndarray | None) -> np.ndarray:
    """Index of the largest available entry of each row of ``U`` (``U`` is overwritten)."""
    if avail is not None:
        np.putmask(U, ~avail, -np.inf)
    return U.argmax(axis=1)


def _check_arrays(V: Any, avail: Any) -> tuple[np.ndarray, np.ndarray | None]:
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2:
        raise SpecificationError(f"`V` must be a (cases x alternatives) array; got shape "
                                 f"{V.shape}.")
    if avail is not None:
        avail = np.asarray(avail)
        if avail.dtype != bool:
            avail = avail != 0
        if avail.shape != V.shape:
            raise SpecificationError(f"`avail` must have the shape of `V` {V.shape}; got "
                                     f"{avail.shape}.")
        none = ~avail.any(axis=1)
        if none.any():
            raise ChoiceDataError(f"No alternative is available in {int(none.sum())} rows "
                                  f"(e.g. row {int(np.flatnonzero(none)[0])}); nothing can be "
                                  "chosen there.")
        if avail.all():
            avail = None
    finite = np.isfinite(V) if avail is None else (np.isfinite(V) | ~avail)
    if not finite.all():
        raise SpecificationError(f"Utilities must be finite where available; "
                                 f"{int((~finite).sum())} values are not.")
    return V, avail


def refuse_dropped_cases(design: Design, action: str) -> None:
    """Simulated choices must line up with the data's cases: refuse a design from which
    ``missing="drop"`` removed some (one message for every simulation entry point)."""
    if len(design.dropped_cases):
        raise ChoiceDataError(
            f"The model dropped {len(design.dropped_cases)} cases with missing values; "
            f"{action} on data without them (build the model on `data.take(...)` of the "
            "complete cases) so that cases line up."
        )


def simulate_choices(V: Any, avail: Any = None, rng: Any = None, scale: float = 1.0, *,
                     error: ErrorKind = "gumbel") -> np.ndarray:
    """Index of the chosen alternative per case: argmax over available ``V + error``.

    Parameters
    ----------
    V : array_like, shape (n, J)
        Systematic utilities.
    avail : array_like of bool, shape (n, J), optional
        Availability; unavailable alternatives are never chosen. Default: all available.
    rng : int, Generator, SeedSequence or None
        Source of randomness (the global numpy state is never used).
    scale : float, default 1.0
        Gumbel scale :math:`\\mu > 0`; the probabilities are ``softmax(V / scale)``.
    error : {"gumbel", "normal"}, default "gumbel"
        Error distribution (see :func:`draw_errors`).

    Returns
    -------
    ndarray of int, shape (n,)
    """
    mu = _check_scale_error(scale, error)
    V, avail = _check_arrays(V, avail)
    gen = as_generator(rng)
    n, J = V.shape
    out = np.empty(n, dtype=np.intp)
    step = max(1, BLOCK_ELEMENTS // J)
    for s in range(0, n, step):
        sl = slice(s, min(n, s + step))
        U = draw_errors(gen, (sl.stop - sl.start, J), error=error, scale=mu)
        U += V[sl]
        out[sl] = _argmax_available(U, None if avail is None else avail[sl])
    return out


def simulate_counts(V: Any, avail: Any = None, n_draws: int = 1, rng: Any = None,
                    scale: float = 1.0, *, error: ErrorKind = "gumbel") -> np.ndarray:
    """Choice counts over ``n_draws`` independent replications of every case.

    Parameters
    ----------
    V : array_like, shape (n, J)
        Systematic utilities.
    avail : array_like of bool, shape (n, J), optional
        Availability.
    n_draws : int
        Replications per case (each draws a fresh error vector).
    rng : int, Generator, SeedSequence or None
    scale : float, default 1.0
        Gumbel scale.
    error : {"gumbel", "normal"}, default "gumbel"

    Returns
    -------
    ndarray of int64, shape (n, J)
        ``counts[i, j]``: how many of the ``n_draws`` replications of case ``i`` chose ``j``;
        each row sums to ``n_draws``.

    Notes
    -----
    The ``n * n_draws`` case-draws are processed in blocks of :data:`BLOCK_ELEMENTS` values;
    each block gathers the utilities of its cases, adds the errors, takes the masked argmax and
    accumulates with one ``bincount``. Ten million case-draws of three alternatives take about
    1-2 seconds on one core (dominated by the Gumbel draws).
    """
    mu = _check_scale_error(scale, error)
    V, avail = _check_arrays(V, avail)
    check_int("n_draws", n_draws)
    gen = as_generator(rng)
    n, J = V.shape
    total = n * int(n_draws)
    counts = np.zeros(n * J, dtype=np.int64)
    step = max(1, BLOCK_ELEMENTS // J)
    for s in range(0, total, step):
        flat = np.arange(s, min(total, s + step), dtype=np.int64)
        case = flat // n_draws
        U = draw_errors(gen, (len(flat), J), error=error, scale=mu)
        U += V[case]
        ch = _argmax_available(U, None if avail is None else avail[case])
        # case-major order: a block covers the contiguous cases first..last only
        first, last = int(case[0]), int(case[-1]) + 1
        counts[first * J:last * J] += np.bincount((case - first) * J + ch,
                                                  minlength=(last - first) * J)
    return counts.reshape(n, J)
