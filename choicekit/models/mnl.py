"""The multinomial logit model.

:class:`MNL` is a :class:`~choicekit.models.base.ChoiceModel` on the
:class:`~choicekit.families.mnl.family.MNLFamily`; everything it does beyond the generic model
is MNL-only: the identification report before fitting and the separation check after it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from choicekit.estimation.identification import (
    IdentificationReport,
    check_identification,
    flag_separation,
)
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import Optimum
from choicekit.families.mnl.family import MNLFamily
from choicekit.models.base import ChoiceModel

__all__ = ["MNL"]


class MNL(ChoiceModel):
    """Multinomial (conditional) logit model.

    Parameters
    ----------
    data : ChoiceData
        The choice data.
    utilities : dict
        ``{alternative: expression}``, expressions linear in :class:`~choicekit.Beta`
        parameters (see :mod:`choicekit.spec.expressions`).
    missing : {"raise", "drop"}, default "raise"
        Cases with NaN/inf in a variable used by an available alternative: raise naming the
        variables, or drop the cases (``model.dropped_cases`` lists them).

    Notes
    -----
    The probability that case :math:`n` chooses :math:`j` among its available alternatives
    :math:`A_n` is :math:`P_{nj} = \\exp V_{nj} / \\sum_{i \\in A_n} \\exp V_{ni}`, the
    conditional logit of McFadden (1974). See :mod:`choicekit.families.mnl.kernels` for the
    likelihood, score and Hessian.

    Examples
    --------
    >>> import choicekit as ck
    >>> B, V = ck.Beta, ck.Var
    >>> df = ck.datasets.load_simulated_modechoice()
    >>> data = ck.ChoiceData.from_wide(
    ...     df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
    ...     availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})
    >>> model = ck.MNL(data, {
    ...     "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
    ...              + B("B_COST") * V("TRAIN_COST") / 100,
    ...     "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100
    ...            + B("B_COST") * V("BUS_COST") / 100,
    ...     "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100})
    >>> res = model.fit()
    >>> res.converged
    True
    """

    family_class: ClassVar[type] = MNLFamily

    def _fit_options(self, chunk_size: int | None, threads: int | None) -> dict[str, Any]:
        return {"chunk_size": chunk_size, "threads": threads}

    def _after_fit(self, obj: Objective, opt: Optimum) -> Optimum:
        return flag_separation(obj, opt)  # perfect prediction: not "converged"

    def check_identification(self, *, warn: bool = True) -> IdentificationReport:
        """Which free parameters the data cannot identify, before fitting.

        Finds a full set of alternative-specific constants, generic coefficients on variables
        that do not vary within cases, and perfectly collinear columns, and names the
        parameters involved (see :mod:`choicekit.estimation.identification`).

        Parameters
        ----------
        warn : bool, default True
            Also issue an :class:`~choicekit.exceptions.IdentificationWarning` when some
            parameter is not identified.

        Returns
        -------
        IdentificationReport
            ``.ok``, ``.problems`` (one sentence each), ``.unidentified`` (names) and
            ``.directions`` (unidentified directions by parameter name).
        """
        report = check_identification(self._design)
        if warn:
            report.warn(stacklevel=2)
        return report
