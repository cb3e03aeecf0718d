"""Does simulation from a model's own errors confirm its probability formula?

For the MNL, :func:`~choicekit.simulation.gumbel.gumbel_check` shows that the argmax of
``V + iid Gumbel`` reproduces the softmax. :func:`derivation_check` does the same for any
family, drawing the family's *own* errors (for the nested and cross-nested logit, the
correlated extreme-value errors of their generating function, built from positive stable
variables; :mod:`choicekit.families.gev.errors`) rather than sampling from the probabilities,
so that agreement confirms the closed-form probabilities. Its negative control draws iid Gumbel
errors on the same utilities: for a nested logit with some :math:`\\lambda < 1` those
frequencies do *not* match the model's probabilities (they are the MNL's).

Notes
-----
For each of a few cases the check draws ``n_draws`` choices, and compares the frequencies
:math:`\\hat p_j` with the probabilities :math:`P_j` by Pearson's statistic
:math:`\\sum_{n, j} R (\\hat p_{nj} - P_{nj})^2 / P_{nj}`, which is :math:`\\chi^2` with
:math:`\\sum_n (|A_n| - 1)` degrees of freedom under the model (Pearson 1900).

References
----------
McFadden, D. (1978). Modelling the choice of residential location. In A. Karlqvist et al.
(eds.), *Spatial Interaction Theory and Planning Models*, 75-96.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from choicekit._lazy import stats
from choicekit._validation import check_int
from choicekit.design.linear import Design
from choicekit.exceptions import SpecificationError
from choicekit.models.base import ChoiceModel
from choicekit.simulation.choices import as_generator, refuse_dropped_cases

__all__ = ["DerivationCheck", "derivation_check"]


@dataclass(frozen=True)
class DerivationCheck:
    """Simulated frequencies against a model's probabilities, with an iid-Gumbel control.

    Attributes
    ----------
    table : DataFrame
        One row per (case, available alternative): ``V``, ``probability``, ``frequency``
        (the family's own errors), ``se`` (binomial), ``z``, ``iid_frequency`` (the control).
    chi2, df, pvalue : float, int, float
        Pearson's test of the frequencies against the probabilities.
    control_chi2, control_pvalue : float
        The same for the iid Gumbel control.
    n_draws : int
    family : str
    """

    table: pd.DataFrame
    chi2: float
    df: int
    pvalue: float
    control_chi2: float
    control_pvalue: float
    n_draws: int
    family: str

    @property
    def passed(self) -> bool:
        """The family's own errors reproduce its probabilities (p > 0.001)."""
        return bool(self.pvalue > 1e-3)

    @property
    def control_rejected(self) -> bool:
        """The iid Gumbel control does not reproduce them (p < 0.001): the correlation of the
        family's errors matters at these parameters."""
        return bool(self.control_pvalue < 1e-3)

    def __str__(self) -> str:
        return (f"Derivation check ({self.family}, {self.n_draws:,} draws per case)\n"
                f"  own errors:       chi2 = {self.chi2:.2f} on {self.df} df, "
                f"p = {self.pvalue:.3g} ({'agrees' if self.passed else 'DISAGREES'})\n"
                f"  iid Gumbel control: chi2 = {self.control_chi2:.2f}, "
                f"p = {self.control_pvalue:.3g} "
                f"({'rejected' if self.control_rejected else 'not rejected'})\n"
                + self.table.to_string(float_format=lambda v: f"{v:.4f}"))


def _repeat(design: Design, rows: np.ndarray) -> Design:
    """The design of the cases ``rows`` (positions, repeats allowed), unweighted."""
    return replace(
        design, columns=np.ascontiguousarray(design.columns[:, :, rows]),
        specific_values=np.ascontiguousarray(design.specific_values[:, rows]),
        offset=None if design.offset is None else design.offset[rows],
        avail=design.avail[rows], chosen=None if design.chosen is None else design.chosen[rows],
        weight=None, group=None, cases=pd.RangeIndex(len(rows)),
        dropped_cases=pd.Index([]))


def derivation_check(model: ChoiceModel, params: Any, *, cases: Any = 5,
                     n_draws: int = 100_000, rng: Any = None) -> DerivationCheck:
    """Simulate choices from the model's own errors and test them against its probabilities.

    Parameters
    ----------
    model : model
        Any model (``ck.MNL``, ``ck.NestedLogit``, ``ck.CrossNestedLogit``, ...).
    params : Series, dict or array
        Parameter values.
    cases : int or sequence of int, default 5
        The first ``cases`` cases of the model's design, or their positions.
    n_draws : int, default 100_000
        Simulated choices per case.
    rng : seed or Generator

    Returns
    -------
    DerivationCheck
    """
    check_int("n_draws", n_draws, 100)
    d = model.design
    refuse_dropped_cases(d, "run the derivation check")
    if isinstance(cases, (int, np.integer)) and not isinstance(cases, bool):
        check_int("cases", cases)
        pos = np.arange(min(int(cases), d.n_cases))
    else:
        pos = np.asarray(cases, dtype=np.intp).ravel()
        if not len(pos) or pos.min() < 0 or pos.max() >= d.n_cases:
            raise SpecificationError(f"`cases` must be positions 0..{d.n_cases - 1}.")
    theta = model.params_vector(params)
    gen = as_generator(rng)
    rows = np.repeat(pos, int(n_draws))
    rep = _repeat(d, rows)
    family = model.family(rep)
    own = family.simulate(theta, gen)
    V = rep.utilities(theta[:d.n_params])
    U = V + gen.gumbel(size=V.shape)
    U[~rep.avail] = -np.inf
    iid = U.argmax(axis=1)
    small = model.family(_repeat(d, pos))
    P = small.proba(theta)
    Vs = _repeat(d, pos).utilities(theta[:d.n_params])
    J = d.n_alts
    block = np.repeat(np.arange(len(pos)), int(n_draws))
    f_own = np.bincount(block * J + own, minlength=len(pos) * J).reshape(-1, J) / n_draws
    f_iid = np.bincount(block * J + iid, minlength=len(pos) * J).reshape(-1, J) / n_draws
    avail = d.avail[pos]
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float((n_draws * (f_own - P) ** 2 / P)[avail].sum())
        chi2_c = float((n_draws * (f_iid - P) ** 2 / P)[avail].sum())
        se = np.sqrt(P * (1 - P) / n_draws)
        z = (f_own - P) / se
    df = int(avail.sum() - len(pos))
    n_idx, j_idx = np.nonzero(avail)
    alts = list(d.alternatives)
    table = pd.DataFrame({
        "case": d.cases[pos][n_idx], "alternative": [alts[j] for j in j_idx],
        "V": Vs[n_idx, j_idx], "probability": P[n_idx, j_idx],
        "frequency": f_own[n_idx, j_idx], "se": se[n_idx, j_idx], "z": z[n_idx, j_idx],
        "iid_frequency": f_iid[n_idx, j_idx]}).set_index(["case", "alternative"])
    sf = stats.chi2.sf
    return DerivationCheck(table, chi2, df, float(sf(chi2, df)), chi2_c,
                           float(sf(chi2_c, df)), int(n_draws), str(family.name))
