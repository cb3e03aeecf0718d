"""Sampling of alternatives for large choice sets, and choice sets stored per case.

:func:`sample_alternatives` (``ChoiceData.sample_alternatives``) keeps, for every case, the
chosen alternative and a sample of the other available ones, and records McFadden's
correction so that the logit estimated on the sampled sets is consistent.
:class:`ChoiceSets` is how a choice set per case is held: ``alt`` ``(n_cases, n_slots)``, the
index into ``data.alternatives`` of every slot (``-1`` for an empty slot), and the correction
``ln(k_j / q_j)`` of every slot (or None where it is the same for every alternative of a case).
The design builder (:mod:`choicekit.design.slots`) evaluates the utilities on these slots, so
the cost of a fit scales with the sampled size, not with the number of alternatives.

Notes
-----
Let :math:`C_n` be the available alternatives of case :math:`n`, :math:`i` the chosen one and
:math:`D_n \\subset C_n` the sampled set, drawn by a protocol with probability
:math:`\\pi(D_n \\mid i)`. McFadden (1978) shows that maximising the conditional likelihood

.. math:: \\prod_n \\frac{\\exp(V_{ni} + \\ln \\pi(D_n \\mid i))}
          {\\sum_{j \\in D_n} \\exp(V_{nj} + \\ln \\pi(D_n \\mid j))}

gives consistent estimates of the parameters of the full-set logit whenever
:math:`\\pi(D_n \\mid j) > 0` for every :math:`j \\in D_n` (the positive conditioning property).
Two protocols are implemented:

* ``weights=None``: the chosen alternative plus ``n - 1`` others drawn uniformly **without**
  replacement. Every :math:`j \\in D_n` gives :math:`D_n` the same probability
  :math:`1 / \\binom{|C_n| - 1}{n - 1}` (uniform conditioning), so the correction is the same
  for every alternative of a case and cancels: no offset is added.
* ``weights=w`` (importance sampling): ``n - 1`` draws **with** replacement from :math:`C_n`,
  alternative :math:`j` with probability :math:`q_{nj} = w_{nj} / \\sum_{l \\in C_n} w_{nl}`,
  plus the chosen one; :math:`D_n` is the set of distinct alternatives and :math:`k_{nj}` the
  number of times :math:`j` was drawn, counting the chosen alternative once more. Then
  :math:`\\pi(D_n \\mid j) \\propto k_{nj} / q_{nj}` (the multinomial coefficients differ only
  by :math:`k_{nj}`), so the correction added to :math:`V_{nj}` is :math:`\\ln(k_{nj}/q_{nj})`
  (Ben-Akiva & Lerman 1985, sec. 9.3; Train 2009, sec. 3.7.1). :math:`D_n` can have fewer than
  ``n`` distinct alternatives; the empty slots are unavailable.

Sampling weights close to the choice probabilities (e.g. the size of a zone, or an inverse
distance) give the most efficient estimates; uniform sampling is consistent but wastes draws
on alternatives that are almost never chosen.

Alternative-specific constants for every alternative of a large universe are rarely estimated
on sampled sets (most alternatives appear in few sets); generic coefficients, a size term and a
few alternative-specific dummies are the usual specification.

References
----------
McFadden, D. (1978). Modelling the choice of residential location. In A. Karlqvist et al.
(eds.), *Spatial Interaction Theory and Planning Models*, 75-96. North-Holland.

Ben-Akiva, M. & Lerman, S. R. (1985). *Discrete Choice Analysis*, ch. 9. MIT Press.

Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed., sec. 3.7.1. Cambridge
University Press.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from choicekit._validation import check_int, first_cases
from choicekit.exceptions import ChoiceDataError

if TYPE_CHECKING:
    from choicekit.data.choicedata import ChoiceData

__all__ = ["ChoiceSets", "sample_alternatives", "sparse_choice_sets"]

#: values per block of cases when sampling (bounds the ``(cases, alternatives)`` temporaries)
_BLOCK = 1 << 22

#: a choice set is stored per case (slots) rather than over every alternative when the largest
#: set has at most this fraction of the alternatives and there are at least _SPARSE_MIN of them
_SPARSE_FRACTION = 0.25
_SPARSE_MIN = 64


@dataclass(frozen=True)
class ChoiceSets:
    """Choice sets stored per case.

    Attributes
    ----------
    alt : ndarray of intp, ``(n_cases, n_slots)``
        Index into ``data.alternatives`` of each slot, ascending within a case; ``-1`` marks an
        empty slot (fewer alternatives than slots).
    correction : ndarray of float64, ``(n_cases, n_slots)``, or None
        McFadden's correction ``ln(k_j / q_j)`` of each slot (0 in empty slots); None when it
        is the same within every case (uniform sampling, or no sampling).
    method : str
        ``"uniform"``, ``"importance"`` or ``"sparse"`` (choice sets as given, not sampled).
    """

    alt: np.ndarray
    correction: np.ndarray | None
    method: str

    def take(self, index: np.ndarray) -> ChoiceSets:
        return ChoiceSets(self.alt[index],
                          None if self.correction is None else self.correction[index],
                          self.method)


def sparse_choice_sets(avail: np.ndarray, force: bool = False,
                       sizes: np.ndarray | None = None) -> ChoiceSets | None:
    """The available alternatives of every case as slots, when that is much smaller than the
    ``(n_cases, n_alts)`` layout (or always with ``force``); None otherwise. ``sizes``: the
    available alternatives per case, when known."""
    n, J = avail.shape
    if not force and J < _SPARSE_MIN:  # too few alternatives for slots to pay
        return None
    sizes = avail.sum(axis=1) if sizes is None else sizes
    S = int(sizes.max()) if n else 0
    if not force and not (J >= _SPARSE_MIN and S <= _SPARSE_FRACTION * J):
        return None
    rows, cols = np.nonzero(avail)  # row-major: alternatives ascending within each case
    start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(len(rows)) - start[rows]
    alt = np.full((n, S), -1, dtype=np.intp)
    alt[rows, rank] = cols
    return ChoiceSets(alt, None, "sparse")


def _weights(data: ChoiceData, weights: Any) -> np.ndarray:
    """Sampling weights as a positive ``(n_cases, n_alts)`` or ``(n_alts,)`` array."""
    alts = data.alternatives
    J = data.n_alts
    if isinstance(weights, str):
        if not data.has_variable(weights):
            raise data._unknown(weights, "Sampling weight variable")
        w = np.asarray(data.variable(weights), dtype=np.float64)
        if w.ndim == 1:
            raise ChoiceDataError(
                f"Sampling weight variable {weights!r} is case-level (one value per case); "
                "weights must vary over alternatives (e.g. the size of a zone).")
        what = f"variable {weights!r}"
    elif isinstance(weights, (Mapping, pd.Series)):
        given = dict(weights.items())
        missing = [a for a in alts if a not in given]
        if missing:
            raise ChoiceDataError(f"`weights` has no value for {len(missing)} alternatives (e.g. "
                                  f"{missing[:5]}); give one per alternative.")
        w = np.array([given[a] for a in alts], dtype=np.float64)
        what = "`weights`"
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape not in ((J,), (data.n_cases, J)):
            raise ChoiceDataError(
                f"`weights` must be a variable name, a mapping or Series by alternative, or an "
                f"array of shape ({J},) or ({data.n_cases}, {J}); got shape {w.shape}.")
        what = "`weights`"
    full = np.broadcast_to(w, (data.n_cases, J))
    bad = data.avail_array & ~(np.isfinite(full) & (full > 0))
    if bad.any():
        cases = bad.any(axis=1)
        raise ChoiceDataError(
            f"Sampling weights ({what}) must be finite and positive for every available "
            f"alternative; {int(bad.sum())} are not, in {first_cases(data.cases[cases])} "
            "(an alternative with weight 0 could never be sampled, so its correction "
            "ln(k/q) is undefined). Make them positive or drop those alternatives.")
    return w


def sample_alternatives(data: ChoiceData, n: int, rng: Any = None,
                        weights: Any = None) -> ChoiceData:
    """The data with each case's choice set reduced to the chosen plus a sample of others.

    See :meth:`ChoiceData.sample_alternatives` (which calls this) for the parameters and the
    module notes for the correction.
    """
    check_int("n", n, minimum=2, what="(alternatives per sampled choice set)")
    if not data.has_choice:
        raise ChoiceDataError("Sampling of alternatives keeps the chosen alternative of every "
                              "case; these data carry no observed choices.")
    if data._sets is not None and data._sets.method != "sparse":
        raise ChoiceDataError("These data are already a sample of alternatives; sample from the "
                              "full data instead.")
    gen = np.random.default_rng(rng)
    avail, chosen = data.avail_array, data.chosen_array
    N, J = avail.shape
    w = None if weights is None else _weights(data, weights)
    n = min(int(n), J)
    alt = np.full((N, n), -1, dtype=np.intp)
    corr = None if w is None else np.zeros((N, n))
    step = max(1, _BLOCK // max(J, 1))
    for a in range(0, N, step):
        rows = slice(a, min(N, a + step))
        av, ch = avail[rows], chosen[rows]
        if w is None:
            alt[rows] = _uniform_block(av, ch, n, gen)
        else:
            wb = w[rows] if w.ndim == 2 else w
            alt[rows], corr[rows] = _importance_block(av, ch, wb, n, gen)
    valid = alt >= 0
    r = np.broadcast_to(np.arange(N)[:, None], alt.shape)
    new_avail = np.zeros_like(avail)
    new_avail[r[valid], alt[valid]] = True
    new_avail.setflags(write=False)
    sets = ChoiceSets(alt, corr, "uniform" if w is None else "importance")
    for arr in (alt, corr):
        if arr is not None:
            arr.setflags(write=False)
    return data._replace(avail=new_avail, sets=sets)


def _uniform_block(av: np.ndarray, ch: np.ndarray, n: int, gen: np.random.Generator
                   ) -> np.ndarray:
    """Chosen plus ``n - 1`` others uniformly without replacement: random keys, the chosen
    first, unavailable last, and the ``n`` smallest kept."""
    m, J = av.shape
    keys = gen.random((m, J))
    keys[~av] = 2.0
    keys[np.arange(m), ch] = -1.0
    idx = np.argpartition(keys, n - 1, axis=1)[:, :n] if n < J else np.tile(np.arange(J), (m, 1))
    idx = np.where(np.take_along_axis(av, idx, axis=1), idx, J)
    idx.sort(axis=1)
    idx[idx == J] = -1
    return idx


def _importance_block(av: np.ndarray, ch: np.ndarray, w: np.ndarray, n: int,
                      gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chosen plus ``n - 1`` draws with replacement with probabilities ``q`` proportional to
    ``w`` over the available alternatives; distinct alternatives, counts ``k`` (the chosen
    counted once more) and the correction ``ln(k / q)`` per slot."""
    m, J = av.shape
    q = np.where(av, w, 0.0)
    q = q / q.sum(axis=1, keepdims=True)
    cdf = np.cumsum(q, axis=1)
    cdf[:, -1] = 1.0 + 1e-12  # guard the last step against rounding
    # one searchsorted over the rows laid end to end: row r's cdf is shifted by 2r
    shift = 2.0 * np.arange(m)[:, None]
    u = gen.random((m, n - 1)) + shift
    flat = np.searchsorted((cdf + shift).ravel(), u.ravel(), side="right")
    draws = np.minimum(flat.reshape(m, n - 1) - np.arange(m)[:, None] * J, J - 1)
    both = np.sort(np.concatenate([ch[:, None], draws], axis=1), axis=1)  # (m, n)
    first = np.ones_like(both, dtype=bool)
    first[:, 1:] = both[:, 1:] != both[:, :-1]
    slot = np.cumsum(first, axis=1) - 1  # slot of every draw within its case
    r = np.broadcast_to(np.arange(m)[:, None], both.shape)
    alt = np.full((m, n), -1, dtype=np.intp)
    alt[r[first], slot[first]] = both[first]
    k = np.zeros((m, n))
    np.add.at(k, (r.ravel(), slot.ravel()), 1.0)
    valid = alt >= 0
    qa = np.take_along_axis(q, np.where(valid, alt, 0), axis=1)
    corr = np.zeros((m, n))
    corr[valid] = np.log(k[valid]) - np.log(qa[valid])
    return alt, corr
