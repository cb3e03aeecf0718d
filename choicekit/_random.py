"""Randomness only through an ``rng`` argument: generators and independent streams from a seed.

The global NumPy random state is never used (pyfixest's and scikit-learn's rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from choicekit.exceptions import SpecificationError

__all__ = ["as_generator", "spawn_seeds", "spawn_generators"]


def as_generator(rng: Any) -> np.random.Generator:
    """``numpy.random.Generator`` from an int seed, a Generator, a SeedSequence or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        if isinstance(rng, (int, np.integer)) and rng < 0:
            raise SpecificationError(f"An integer seed `rng` must be non-negative. Got {rng}.")
        return np.random.default_rng(rng)
    raise SpecificationError(
        f"`rng` must be an int seed, a numpy Generator, a SeedSequence or None. Got "
        f"{type(rng).__name__}."
    )


def spawn_seeds(rng: Any, n: int) -> tuple[np.random.SeedSequence,
                                           list[np.random.SeedSequence]]:
    """The root ``SeedSequence`` of ``rng`` and ``n`` independent children.

    ``rng`` may be a non-negative int, None (fresh entropy, recorded in the root's
    ``entropy``), a SeedSequence or a Generator (its own seed sequence is spawned from, so
    repeated calls give new children, as ``Generator.spawn`` does).
    """
    if isinstance(rng, np.random.Generator):
        bg = rng.bit_generator
        root = getattr(bg, "seed_seq", None) or bg._seed_seq  # numpy < 1.25: private name
    elif isinstance(rng, np.random.SeedSequence):
        root = rng
    elif rng is None or (isinstance(rng, (int, np.integer)) and rng >= 0):
        root = np.random.SeedSequence(rng)
    else:
        raise SpecificationError(f"`rng` must be a non-negative int seed, a numpy Generator, a "
                                 f"SeedSequence or None. Got {rng!r}.")
    return root, root.spawn(int(n))


def spawn_generators(rng: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent Generators from one seed (see :func:`spawn_seeds`)."""
    return [np.random.default_rng(s) for s in spawn_seeds(rng, n)[1]]
