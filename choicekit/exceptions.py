"""Exception and warning classes of choicekit.

Every error raised on purpose by choicekit derives from :class:`ChoiceKitError` and also from
the matching builtin (``ValueError`` for bad input, ``RuntimeError`` for estimation failures),
so ``except ValueError`` keeps working in user code. Warnings derive from
:class:`ChoiceKitWarning`.
"""

from __future__ import annotations

__all__ = [
    "ChoiceKitError",
    "ChoiceDataError",
    "SpecificationError",
    "EstimationError",
    "ChoiceKitWarning",
    "ConvergenceWarning",
    "IdentificationWarning",
    "DataWarning",
    "SeparationWarning",
    "MixedLogitWarning",
]


class ChoiceKitError(Exception):
    """Base class of every error choicekit raises on purpose."""


class ChoiceDataError(ChoiceKitError, ValueError):
    """The choice data are malformed: a column, case or alternative is wrong."""


class SpecificationError(ChoiceKitError, ValueError):
    """The utility specification or a formula cannot be used with these data."""


class EstimationError(ChoiceKitError, RuntimeError):
    """Estimation could not be carried out (e.g. the objective is not finite at the start)."""


class ChoiceKitWarning(UserWarning):
    """Base class of every warning choicekit issues."""


class ConvergenceWarning(ChoiceKitWarning):
    """The optimizer stopped without meeting the convergence criterion."""


class IdentificationWarning(ChoiceKitWarning):
    """Some parameters are not identified by the data (singular Hessian)."""


class DataWarning(ChoiceKitWarning):
    """The data were usable but something was dropped or looks suspicious."""


class SeparationWarning(IdentificationWarning, ConvergenceWarning):
    """The data are separated (perfect prediction): the maximum-likelihood estimates of some
    parameters do not exist, and the fit is reported as not converged."""


class MixedLogitWarning(ChoiceKitWarning):
    """A mixed logit diagnostic: too few draws, a random parameter that collapsed, or a cost
    coefficient of both signs where a ratio or a surplus divides by it."""
