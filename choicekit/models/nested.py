"""Nested and cross-nested logit models: the MNL's utilities plus a nesting structure.

When some alternatives are closer substitutes than others (train and bus against car), the
MNL's independence of irrelevant alternatives gets cross-elasticities and policy forecasts
wrong; the nested logit groups them in nests that share an unobserved component of utility,
and the cross-nested logit lets an alternative belong to several nests. Both are
:class:`~choicekit.models.base.ChoiceModel` s on the families of
:mod:`choicekit.families.gev`; estimation, inference, post-estimation and simulation are the
generic ones.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from choicekit._warnings import warn_user
from choicekit.data.choicedata import ChoiceData
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import Optimum
from choicekit.exceptions import ChoiceKitWarning, SpecificationError
from choicekit.families.gev.family import CrossNestedFamily, NestedFamily
from choicekit.families.gev.structure import GevSpec, cross_nested_spec, nested_spec
from choicekit.families.protocol import ParamTable
from choicekit.models.base import ChoiceModel
from choicekit.spec.nests import Nest

__all__ = ["NestedLogit", "CrossNestedLogit", "NestWarning"]


class NestWarning(ChoiceKitWarning):
    """A nest parameter outside (0, 1]: the model is not consistent with random utility
    maximisation for all data."""


class _GevModel(ChoiceModel):
    """A model whose family is a GEV structure built from :class:`~choicekit.Nest` objects."""

    _build_spec: ClassVar[Any]
    design_layout: ClassVar[str] = "dense"  # nests name alternatives, not slots

    def __init__(self, data: ChoiceData, utilities: Mapping[Hashable, Any],
                 nests: Sequence[Nest] | Nest, *, missing: Literal["raise", "drop"] = "raise",
                 _param_order: list[str] | None = None) -> None:
        if data.is_sampled:
            raise SpecificationError(
                "Nested and cross-nested logits on sampled choice sets need a correction that "
                "depends on the nests (Guevara & Ben-Akiva 2013); it is not implemented. Fit "
                "them on the full choice sets.")
        super().__init__(data, utilities, missing=missing, _param_order=_param_order)
        self._nests = (nests,) if isinstance(nests, Nest) else tuple(nests)
        d = self._design
        self._gev: GevSpec = type(self)._build_spec(self._nests, list(d.alternatives),
                                                    d.n_params, d.param_names)

    @property
    def nests(self) -> tuple[Nest, ...]:
        """The nests as given."""
        return self._nests

    @property
    def nest_parameters(self) -> list[str]:
        """Names of the nest parameters (lambda or mu), whose null of interest is 1 (the
        MNL)."""
        s = self._gev
        return [n for n, k in zip(s.params.names, s._kinds) if k in ("lam", "mu")]

    def _options(self) -> dict[str, Any]:
        return {"nests": self._nests}

    def _family_arguments(self) -> dict[str, Any]:
        return {"spec": self._gev}

    def _family_params(self) -> ParamTable:
        return self._gev.params

    def _fit_options(self, chunk_size: int | None, threads: int | None) -> dict[str, Any]:
        return {"chunk_size": chunk_size}

    def _check_family_values(self, vec: np.ndarray) -> None:
        fam = self._family
        lam = fam.lam(vec)[0]
        bad = ~(np.isfinite(lam) & (lam > 0))
        if bad.any():
            names = [self._gev.nest_names[m] for m in np.flatnonzero(bad)]
            raise SpecificationError(
                f"The nest parameters of {names} give lambda <= 0; a nest parameter must be "
                "positive.")
        a = fam.alpha(vec)
        if a is not None and (a < 0).any():
            raise SpecificationError("Some allocations are negative at these parameter values; "
                                     "allocations lie in [0, 1].")

    def _after_fit(self, obj: Objective, opt: Optimum) -> Optimum:
        opt = super()._after_fit(obj, opt)
        lam = self._family.lam(obj.full_params(opt.theta))[0]
        outside = [(n, float(v)) for n, v in zip(self._gev.nest_names, lam)
                   if not 0 < v <= 1 + 1e-8]
        if outside:
            warn_user(
                f"Estimated lambda outside (0, 1] for nests {outside} (lambda = 1 / mu): the "
                "model is not consistent with random utility maximisation for all values of "
                "the data (McFadden 1978; Boersch-Supan 1990 for local consistency). Bound the "
                "nest parameters (e.g. lower=0.01, upper=1.0, or mu's lower=1.0) or revise "
                "the nests.", NestWarning)
        return opt


class NestedLogit(_GevModel):
    """Nested logit model.

    Parameters
    ----------
    data : ChoiceData
    utilities : dict
        ``{alternative: expression}`` as for :class:`~choicekit.MNL`.
    nests : sequence of Nest
        The nests (trees of any depth: a nest's members are alternatives and nests). An
        alternative in no nest is alone in its own. Each nest's parameter is ``lam`` (the
        logsum coefficient, 1 is the MNL) or ``mu`` (Biogeme's 1/lambda), a Beta or a number.
    missing : {"raise", "drop"}

    Notes
    -----
    Lambdas are absolute in deeper trees: :math:`0 < \\lambda_{child} \\le \\lambda_{parent}
    \\le 1` is consistent with random utility maximisation (McFadden 1978). The
    log-likelihood is not concave, so ``fit()`` uses Newton's method with a safeguarded exact
    Hessian (or L-BFGS-B then Newton on the free parameters when some are bounded) and checks
    that the Hessian is negative definite at the estimates.

    Examples
    --------
    >>> import choicekit as ck
    >>> B, V = ck.Beta, ck.Var
    >>> df = ck.datasets.load_simulated_modechoice()
    >>> data = ck.ChoiceData.from_wide(
    ...     df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
    ...     availability={"train": "TRAIN_AV", "bus": "BUS_AV", "car": "CAR_AV"})
    >>> utilities = {
    ...     "train": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
    ...              + B("B_COST") * V("TRAIN_COST") / 100,
    ...     "bus": B("ASC_BUS") + B("B_TIME") * V("BUS_TT") / 100
    ...            + B("B_COST") * V("BUS_COST") / 100,
    ...     "car": B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_COST") / 100}
    >>> nests = [ck.Nest("public", ["train", "bus"], B("LAMBDA_PT", 1.0, lower=0.05, upper=1))]
    >>> res = ck.NestedLogit(data, utilities, nests).fit()
    >>> "LAMBDA_PT" in res.params.index
    True
    """

    family_class: ClassVar[type] = NestedFamily
    _build_spec = staticmethod(nested_spec)


class CrossNestedLogit(_GevModel):
    """Cross-nested logit model.

    Parameters
    ----------
    data : ChoiceData
    utilities : dict
        ``{alternative: expression}`` as for :class:`~choicekit.MNL`.
    nests : sequence of Nest
        One level of nests, each mapping alternatives to allocations (a number, a Beta, or
        ``1 - Beta``); the allocations of each alternative add up to one.
    missing : {"raise", "drop"}

    Notes
    -----
    Ben-Akiva & Bierlaire (1999)'s generating function
    :math:`G(y) = \\sum_m (\\sum_j (\\alpha_{jm} y_j)^{1/\\lambda_m})^{\\lambda_m}`, consistent
    with random utility maximisation for :math:`0 < \\lambda_m \\le 1` and allocations in
    [0, 1] (Papola 2004). With one nest per alternative it is the MNL, with one-hot
    allocations the nested logit.
    """

    family_class: ClassVar[type] = CrossNestedFamily
    _build_spec = staticmethod(cross_nested_spec)
    _polish_quasi_newton: ClassVar[bool] = True

    def _auto_method(self, table: ParamTable) -> str:
        """With estimated allocations, L-BFGS-B then a Newton polish: started at the MNL (every
        lambda 1, the usual start) the allocations are not identified, and safeguarded
        Newton steps stall there (Swissmetro b11cnl: 32 iterations and a second start)."""
        if table.has_bounds and len(self._family.fd_hessian_params):
            return "lbfgsb"
        return super()._auto_method(table)
