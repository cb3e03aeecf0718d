"""choicekit: discrete-choice (multinomial logit) modeling from pandas.

The flow: ``ChoiceData`` (validated data) + utilities (``Beta``/``Var`` expressions or a
formula) -> ``MNL`` (a model with its frozen design) -> ``fit()`` -> ``MNLResults``.
"""

from __future__ import annotations

from . import datasets, plots
from .chunked import ChunkedDesign, ChunkedResults, DesignChunk, fit_chunked
from .data import ChoiceData
from .exceptions import (
    ChoiceDataError,
    ChoiceKitError,
    ChoiceKitWarning,
    ConvergenceWarning,
    DataWarning,
    EstimationError,
    IdentificationWarning,
    SeparationWarning,
    SpecificationError,
)
from .gumbel import GumbelCheck, gumbel_check
from .hypothesis_tests import TestResult, hausman_mcfadden, lr_test, score_test, wald_test
from .identification import IdentificationReport
from .kernels import log_softmax, logsum, softmax
from .model import MNL
from .recovery import RecoveryStudy, recovery_study
from .results import MNLResults
from .specification import Beta, Var, exp, log
from .synthetic import SyntheticData, make_choice_data

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
    "plots",
    "gumbel_check",
    "GumbelCheck",
    "make_choice_data",
    "SyntheticData",
    "recovery_study",
    "RecoveryStudy",
    "ChoiceKitError",
    "ChoiceDataError",
    "SpecificationError",
    "EstimationError",
    "ChoiceKitWarning",
    "ConvergenceWarning",
    "IdentificationWarning",
    "DataWarning",
    "SeparationWarning",
    "IdentificationReport",
    "lr_test",
    "wald_test",
    "score_test",
    "hausman_mcfadden",
    "TestResult",
    "ChunkedDesign",
    "ChunkedResults",
    "DesignChunk",
    "fit_chunked",
]
