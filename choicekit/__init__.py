"""choicekit: discrete-choice (multinomial logit) modeling from pandas.

The flow: ``ChoiceData`` (validated data) + utilities (``Beta``/``Var`` expressions or a
formula) -> ``MNL`` (a model with its frozen design) -> ``fit()`` -> ``MNLResults``.
"""

from __future__ import annotations

from . import datasets
from .data import ChoiceData
from .exceptions import (
    ChoiceDataError,
    ChoiceKitError,
    ChoiceKitWarning,
    ConvergenceWarning,
    DataWarning,
    EstimationError,
    IdentificationWarning,
    SpecificationError,
)
from .kernels import log_softmax, logsum, softmax
from .model import MNL
from .results import MNLResults
from .specification import Beta, Var, exp, log

__version__ = "0.1.0"

__all__ = [
    "ChoiceData",
    "MNL",
    "MNLResults",
    "Beta",
    "Var",
    "log",
    "exp",
    "softmax",
    "log_softmax",
    "logsum",
    "datasets",
    "ChoiceKitError",
    "ChoiceDataError",
    "SpecificationError",
    "EstimationError",
    "ChoiceKitWarning",
    "ConvergenceWarning",
    "IdentificationWarning",
    "DataWarning",
]
