"""Simulation of choices from the random-utility model behind the logit.

Notes
-----
If :math:`U_{nj} = V_{nj} + \\varepsilon_{nj}` with :math:`\\varepsilon_{nj}` i.i.d. Gumbel
(type I extreme value) with location 0 and scale :math:`\\mu`, and the decision maker picks the
largest :math:`U_{nj}` among the available alternatives, then
:math:`\\Pr(j) = \\exp(V_{nj}/\\mu) / \\sum_{i\\in A_n} \\exp(V_{ni}/\\mu)` (McFadden 1974).
Simulating choices is therefore an argmax of utilities plus Gumbel draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .exceptions import ChoiceDataError, SpecificationError
from .kernels import utilities

if TYPE_CHECKING:
    from .data import ChoiceData
    from .model import MNL

__all__ = ["as_generator", "simulate_choices", "simulate_model"]


def as_generator(rng: Any) -> np.random.Generator:
    """``numpy.random.Generator`` from an int seed, a Generator, a SeedSequence or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise SpecificationError(
        f"`rng` must be an int seed, a numpy Generator or None. Got {type(rng).__name__}."
    )


def simulate_choices(V: np.ndarray, avail: np.ndarray, rng: Any = None,
                     scale: float = 1.0) -> np.ndarray:
    """Index of the chosen alternative per case: argmax over available ``V + Gumbel(0, scale)``.

    Parameters
    ----------
    V : ndarray, shape (n, J)
        Systematic utilities.
    avail : ndarray of bool, shape (n, J)
        Availability; unavailable alternatives are never chosen.
    rng : int, Generator or None
        Source of randomness (the global numpy state is never used).
    scale : float
        Gumbel scale :math:`\\mu > 0`.

    Returns
    -------
    ndarray of int, shape (n,)
    """
    if not (np.isfinite(scale) and scale > 0):
        raise SpecificationError(f"`scale` must be a positive number. Got {scale!r}.")
    gen = as_generator(rng)
    U = gen.gumbel(loc=0.0, scale=scale, size=V.shape)
    U += V
    U[~avail] = -np.inf
    return U.argmax(axis=1).astype(np.intp)


def simulate_model(model: MNL, params: Any, rng: Any = None, scale: float = 1.0) -> ChoiceData:
    """Choices drawn from ``model`` at ``params``; see :meth:`choicekit.MNL.simulate`."""
    d = model.design
    if len(d.dropped_cases):
        raise ChoiceDataError(
            f"The model dropped {len(d.dropped_cases)} cases with missing values; simulate on "
            "data without them (data.take) so that cases line up."
        )
    V = utilities(d.X, model.params_vector(params), d.offset)
    chosen = simulate_choices(V, d.avail, rng=rng, scale=scale)
    return model.data.with_chosen(chosen)
