"""Simulation draws of a mixed logit, keyed by unit id.

Every unit (a person in a panel, a case otherwise) gets ``n_draws`` values of each standard
variate. They are a function of the unit's *id* and the seed only, never of the row order, of
the other units or of how the data are split: a unit's draws are the same in a subset, a
bootstrap or a Dask partition.

* ``"halton"`` / ``"sobol"``: one scrambled Halton or Sobol point set of ``n_draws`` points
  (:mod:`scipy.stats.qmc`, from the seed), shifted modulo 1 by a uniform vector drawn from the
  unit's id (a Cranley-Patterson rotation): each unit's draws cover the unit cube as evenly as
  the point set does, and they are independent between units (randomised quasi-Monte Carlo).
* ``"mlhs"``: modified Latin hypercube sampling (Hess, Train & Polak 2006), per unit and
  dimension a shuffled grid ``(i + u) / n_draws`` with one uniform shift, from a generator
  seeded by the seed and the unit's id.
* ``"random"``: pseudo-random uniforms from the same per-unit generator.

The uniforms go through the inverse CDF of each draw's distribution
(:func:`choicekit.spec.draws.standard_variate`). User-given draws (``draws={name: values}``) are
the standard variates themselves, for exact reproduction of another tool's run.

References
----------
Hess, S., Train, K. E. & Polak, J. W. (2006). On the use of a Modified Latin Hypercube Sampling
(MLHS) method in the estimation of a mixed logit model for vehicle choice. *Transportation
Research B* 40(2), 147-163.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., ch. 9.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from choicekit.exceptions import SpecificationError
from choicekit.spec.draws import standard_variate

__all__ = ["DRAW_TYPES", "unit_uniforms", "make_draws", "given_draws", "seed_of"]

DRAW_TYPES = ("halton", "sobol", "mlhs", "random")

#: uniforms are kept inside (0, 1): the inverse normal CDF of 0 or 1 is infinite
_EPS = 1e-12


def seed_of(rng: Any) -> int:
    """A non-negative int seed from an int, a Generator or None (fresh entropy)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise SpecificationError(f"An integer seed `rng` must be non-negative. Got {rng}.")
        return int(rng)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**62))
    if rng is None:
        return int(np.random.SeedSequence().entropy % 2**62)
    raise SpecificationError(f"`rng` must be an int seed, a numpy Generator or None. Got "
                             f"{type(rng).__name__}.")


def unit_hash(ids: pd.Index, seed: int, salt: int) -> np.ndarray:
    """A uint64 hash of every unit id, depending on the seed and a salt (stable across runs
    and platforms: pandas' siphash of the id values)."""
    key = f"{seed % 10**12:012d}{salt % 10**4:04d}"
    values = np.asarray(ids)
    if values.dtype.kind not in "iufb":
        values = values.astype(str).astype(object)
    return pd.util.hash_array(values, hash_key=key, categorize=False)


def unit_uniforms(ids: pd.Index, n_draws: int, dims: int, kind: str, seed: int
                  ) -> np.ndarray:
    """Uniforms ``(dims, n_units, n_draws)`` in (0, 1), keyed by unit id."""
    n = len(ids)
    R = int(n_draws)
    if kind in ("halton", "sobol"):
        from scipy.stats import qmc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Sobol's balance warning when R is not 2^m
            eng = (qmc.Halton(dims, scramble=True, seed=seed) if kind == "halton"
                   else qmc.Sobol(dims, scramble=True, seed=seed))
            base = eng.random(R)  # (R, dims)
        out = np.empty((dims, n, R))
        for d in range(dims):
            shift = unit_hash(ids, seed, d).astype(np.float64) / 2.0**64
            np.add(base[None, :, d], shift[:, None], out=out[d])
            np.mod(out[d], 1.0, out=out[d])
    elif kind in ("mlhs", "random"):
        out = np.empty((dims, n, R))
        keys = unit_hash(ids, seed, 9999)
        for i, key in enumerate(keys):
            g = np.random.default_rng([seed, int(key)])
            if kind == "random":
                out[:, i, :] = g.random((dims, R))
            else:
                grid = (np.arange(R)[None, :] + g.random((dims, 1))) / R
                out[:, i, :] = g.permuted(grid, axis=1)
    else:
        raise SpecificationError(f"`draws` must be one of {list(DRAW_TYPES)} or a mapping of "
                                 f"user draws. Got {kind!r} instead.")
    np.clip(out, _EPS, 1.0 - _EPS, out=out)
    return out


def make_draws(ids: pd.Index, n_draws: int, names: Sequence[str], dists: Sequence[str],
               kind: str, seed: int) -> np.ndarray:
    """Standard variates ``(len(names), n_units, n_draws)``, keyed by unit id."""
    U = unit_uniforms(ids, n_draws, len(names), kind, seed)
    for d, dist in enumerate(dists):
        U[d] = standard_variate(U[d], dist)
    return U


def given_draws(draws: Mapping[str, Any], ids: pd.Index, names: Sequence[str],
                n_draws: int | None) -> tuple[np.ndarray, int]:
    """User draws ``{name: DataFrame indexed by unit id, or array (n_units, n_draws)}``
    aligned on the units ``ids``; returns ``(array (D, n_units, R), R)``."""
    missing = [n for n in names if n not in draws]
    if missing:
        raise SpecificationError(f"`draws` gives no values for draws {missing}; give every "
                                 f"draw of the utilities ({list(names)}).")
    unknown = [n for n in draws if n not in names]
    if unknown:
        raise SpecificationError(f"`draws` names {unknown}, which no utility uses (the draws "
                                 f"are {list(names)}).")
    arrays = []
    for n in names:
        v = draws[n]
        if isinstance(v, pd.DataFrame):
            absent = ids.difference(v.index)
            if len(absent):
                raise SpecificationError(
                    f"`draws[{n!r}]` has no row for {len(absent)} units (e.g. "
                    f"{list(absent[:5])}); index it by unit id (the group, or the case when "
                    "panel=False).")
            a = v.loc[ids].to_numpy(dtype=np.float64)
        else:
            a = np.asarray(v, dtype=np.float64)
            if a.ndim != 2 or a.shape[0] != len(ids):
                raise SpecificationError(
                    f"`draws[{n!r}]` must have shape (n_units, n_draws) = ({len(ids)}, R); got "
                    f"{a.shape}. A DataFrame indexed by unit id is aligned on the ids.")
        if not np.isfinite(a).all():
            raise SpecificationError(f"`draws[{n!r}]` has non-finite values.")
        arrays.append(a)
    R = arrays[0].shape[1]
    if any(a.shape[1] != R for a in arrays):
        raise SpecificationError("Every draw in `draws` must have the same number of columns "
                                 "(draws per unit).")
    if n_draws is not None and n_draws != R:
        raise SpecificationError(f"`n_draws`={n_draws} but the given draws have {R} columns.")
    return np.stack(arrays), R
