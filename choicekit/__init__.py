"""choicekit: discrete-choice (multinomial logit) modeling from pandas.

The flow: ``ChoiceData`` (validated data) + utilities (``Beta``/``Var`` expressions or a
formula) -> ``MNL`` (a model with its frozen design) -> ``fit()`` -> ``MNLResults``.
"""

from __future__ import annotations

from choicekit import datasets, plots
from choicekit._version import __version__ as __version__
from choicekit._versions import show_versions
from choicekit.data.choicedata import ChoiceData
from choicekit.estimation.chunked import ChunkedDesign, ChunkedResults, DesignChunk, fit_chunked
from choicekit.estimation.identification import IdentificationReport
from choicekit.exceptions import (
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
from choicekit.families.logit import log_softmax, logsum, softmax
from choicekit.inference.hypothesis_tests import (
    TestResult,
    hausman_mcfadden,
    lr_test,
    score_test,
    wald_test,
)
from choicekit.models.mixed import MixedLogit, MixedLogitWarning
from choicekit.models.mnl import MNL
from choicekit.models.nested import CrossNestedLogit, NestedLogit, NestWarning
from choicekit.results.compare import Comparison, compare
from choicekit.results.persist import StoredResults, load_results
from choicekit.results.results import MNLResults, Results
from choicekit.simulation.derivation import DerivationCheck, derivation_check
from choicekit.simulation.gumbel import GumbelCheck, gumbel_check
from choicekit.simulation.recovery import RecoveryStudy, recovery_study
from choicekit.simulation.synthetic import SyntheticData, make_choice_data
from choicekit.spec.draws import Draw
from choicekit.spec.expressions import Beta, Var, exp, log
from choicekit.spec.nests import Nest

__all__ = [
    "ChoiceData",
    "MNL",
    "NestedLogit",
    "CrossNestedLogit",
    "MixedLogit",
    "MixedLogitWarning",
    "Draw",
    "Nest",
    "NestWarning",
    "MNLResults",
    "Results",
    "compare",
    "Comparison",
    "load_results",
    "show_versions",
    "StoredResults",
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
    "derivation_check",
    "DerivationCheck",
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
