"""Out-of-core estimation: a multinomial logit fitted from a design fed in chunks of cases.

The stream (:class:`ChunkedDesign`, :class:`DesignChunk`) and its family
(:class:`~choicekit.families.mnl.streamed.StreamedMNLFamily`) live in
:mod:`choicekit.families.mnl.streamed`; this module fits it. :func:`fit_chunked` is a backend of
the one estimation path: the generic :class:`~choicekit.estimation.objective.Objective` on the
streamed family and :func:`~choicekit.estimation.optimizers.maximize_loglike` (Newton-Raphson,
one pass over the stream per iteration, the compiled pass on every piece with one reused
workspace), returning :class:`ChunkedResults`, the :class:`~choicekit.results.results.Results`
class with its covariances (``with_cov("robust" | "opg" | "cluster")``, each meat summed one
piece at a time), summary and comparison tables. Memory stays bounded by the chunk size: the
design is never held whole and no ``(n, K)`` array is built.

Post-estimation that is a sum over cases works as one pass over the stream (predicted shares
with their standard errors, observed vs predicted shares, hit rate, confusion table); the rest
needs per-case data or a model to re-fit and is refused by name.

Examples
--------
>>> import numpy as np
>>> from choicekit.estimation.chunked import ChunkedDesign, fit_chunked
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((5000, 3, 2))
>>> U = X @ np.array([1.0, -0.5]) + rng.gumbel(size=(5000, 3))
>>> design = ChunkedDesign.from_arrays(X, U.argmax(axis=1), ["b1", "b2"], chunk_size=1000)
>>> res = fit_chunked(design)
>>> bool(res.converged), res.params.round(1).tolist()
(True, [1.0, -0.5])
>>> res.with_cov("robust").bse.round(2).tolist()
[0.03, 0.02]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from choicekit._validation import check_option
from choicekit.estimation.objective import Objective
from choicekit.estimation.optimizers import maximize_loglike
from choicekit.exceptions import ChoiceDataError, SpecificationError
from choicekit.families.mnl.streamed import (
    ChunkedDesign,
    DesignChunk,
    StreamedMNLFamily,
    npy_chunks,
)
from choicekit.inference.covariance import COV_TYPES
from choicekit.postestimation.streamed import (
    CONFUSION_KINDS,
    stream_confusion_table,
    stream_hit_rate,
    stream_share_table,
    stream_shares,
)
from choicekit.results.results import Results

__all__ = ["DesignChunk", "ChunkedDesign", "ChunkedResults", "ChunkedModel",
           "StreamedMNLFamily", "fit_chunked", "npy_chunks"]


class _ChunkedObjective:
    """Sums of the fused kernel over one pass of the chunk stream (all parameters): the
    streamed family's :meth:`~StreamedMNLFamily.fast_sums` with the old interface."""

    def __init__(self, design: ChunkedDesign, use_native: bool | None = None) -> None:
        self.family = StreamedMNLFamily(design, use_native=use_native)
        self.design = design
        self.K = self.family.K
        self.use_native = self.family.use_native

    @property
    def n_cases(self) -> int | None:
        t = self.family._totals
        return None if t is None else t.n_cases

    @property
    def n_evaluations(self) -> int:
        return self.family.n_passes

    def evaluate(self, theta: np.ndarray, order: int = 2) -> tuple[float, np.ndarray | None,
                                                                    np.ndarray | None]:
        """Log-likelihood, score and Hessian summed over one pass of the stream."""
        return self.family.fast_sums(theta, order, np.ones(self.K, dtype=bool))


class _StreamData:
    """What results read from a model's data: the weight type."""

    def __init__(self, family: StreamedMNLFamily) -> None:
        self._family = family

    @property
    def weight_type(self) -> str | None:
        return self._family.weight_type

    @property
    def weight_type_inferred(self) -> bool:
        return self._family.totals.weighted and self._family.design.weight_type is None


class ChunkedModel:
    """The model of a chunked fit, as results see it: the streamed MNL on its design.

    It has no data frame (the stream is the data): ``dropped_cases`` is empty, and what a
    model re-fits or re-builds (new data, clusters by column, bootstraps) is refused.
    """

    def __init__(self, family: StreamedMNLFamily) -> None:
        self._family = family
        self.design = family.design
        self.data = _StreamData(family)
        self.dropped_cases = pd.Index([])

    @property
    def n_cases(self) -> int:
        return self._family.n_units

    def family(self, design: Any = None) -> StreamedMNLFamily:
        if design is not None:
            _refuse("the model's family on other data", "a stream is its own data")
        return self._family

    def _resolve_groups(self, groups: Any) -> NoReturn:
        _refuse("Clusters by name or array", "give DesignChunk.group in the chunks and call "
                "with_cov('cluster')")

    def predict_proba(self, params: Any, data: Any = None) -> NoReturn:
        _refuse("predict_proba()", "per-case probabilities of a stream come piece by piece "
                "from StreamedMNLFamily.proba_blocks()")


def _refuse(what: str, instead: str) -> NoReturn:
    raise SpecificationError(f"{what} is not available on a chunked fit (the data are read in "
                             f"passes over a stream, not held): {instead}.")


def _no_data(data: Any, what: str) -> None:
    if data is not None:
        _refuse(f"{what} on new data", "build a ChunkedDesign of those data; the fit's "
                "predictions are a pass over its own stream")


class ChunkedResults(Results):
    """Results of :func:`fit_chunked`: :class:`~choicekit.results.results.Results` on the
    streamed family (covariances, summary, tests on the estimates), plus the attributes the
    chunked estimator has always had (``cov``, ``evaluations``, ``hessian``).

    Post-estimation that is a sum over cases is one pass over the stream
    (:meth:`predicted_shares`, :meth:`share_table`, :meth:`hit_rate`, :meth:`confusion_table`);
    what needs per-case data (segments, elasticities, scenarios, logsums, holdout data, the
    bootstrap, score and Hausman-McFadden tests, the market-share null) is refused by name.
    """

    @property
    def cov(self) -> pd.DataFrame:
        """Covariance of the estimates (``cov_params()``)."""
        return self.cov_params()

    @property
    def evaluations(self) -> int:
        """Passes over the stream."""
        return self._core.objective.family.n_passes

    @property
    def hessian(self) -> np.ndarray:
        """Hessian of the log-likelihood at the estimates (free parameters)."""
        return self._core.optimum.hessian

    @property
    def family(self) -> StreamedMNLFamily:
        return self._core.objective.family

    # ------------------------------------------------------------------ passes over the stream
    def predicted_shares(self, data: Any = None, *, by: Any = None, se: str = "delta",
                         alpha: float = 0.05, n_draws: int = 1000,
                         rng: Any = None) -> pd.DataFrame:
        """Predicted shares by sample enumeration (one pass per evaluation; the delta method
        takes two per free parameter). See :meth:`Results.predicted_shares`."""
        _no_data(data, "predicted_shares()")
        if by is not None:
            _refuse("predicted_shares(by=...)", "segments need a per-case column; stream each "
                    "segment as its own ChunkedDesign")
        return stream_shares(self.family, self._core.params, self.cov_params().to_numpy(),
                             self._free, se=se, alpha=alpha, n_draws=n_draws, rng=rng)

    def share_table(self, data: Any = None, *, by: Any = None) -> pd.DataFrame:
        """Observed vs predicted shares (one pass)."""
        _no_data(data, "share_table()")
        if by is not None:
            _refuse("share_table(by=...)", "segments need a per-case column")
        return stream_share_table(self.family, self._core.params)

    def hit_rate(self, data: Any = None) -> pd.Series:
        """Hit rate and expected hit rate (one pass)."""
        _no_data(data, "hit_rate()")
        return stream_hit_rate(self.family, self._core.params)

    def confusion_table(self, data: Any = None, *, kind: str = "probability") -> pd.DataFrame:
        """Observed by predicted alternatives (one pass)."""
        _no_data(data, "confusion_table()")
        check_option("kind", kind, CONFUSION_KINDS, SpecificationError)
        return stream_confusion_table(self.family, self._core.params, kind)

    # ------------------------------------------------------------------ refused by name
    def elasticities(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("elasticities()", "they need each case's attributes and a changed design")

    def marginal_effects(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("marginal_effects()", "they need each case's attributes and a changed design")

    def scenario(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("scenario()", "a scenario changes the data; stream the changed data as a "
                "ChunkedDesign and compare predicted_shares()")

    def logsum(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("logsum()", "it is one value per case; StreamedMNLFamily.logsum() concatenates "
                "them if they fit in memory")

    def holdout(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("holdout()", "it needs other data")

    def bootstrap(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("bootstrap()", "it resamples cases of data held in memory")

    def score_test(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("score_test()", "it evaluates another model on the data; use lr_test() or "
                "wald_test()")

    def hausman_mcfadden(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("hausman_mcfadden()", "it re-fits on a subset of the alternatives")

    def llnull_market_share(self) -> NoReturn:
        _refuse("llnull_market_share()", "it fits the constants-only model; fit it with "
                "fit_chunked on the same stream without attributes")

    def rho_squared_market_share(self) -> NoReturn:
        self.llnull_market_share()

    def lr_test_market_share(self) -> NoReturn:
        self.llnull_market_share()

    def __repr__(self) -> str:
        return "<Chunked" + super().__repr__()[1:]


def fit_chunked(design: ChunkedDesign, *, start: Sequence[float] | None = None,
                maxiter: int = 100, gtol: float = 1e-8,
                cov_type: str = "classical") -> ChunkedResults:
    """Maximum-likelihood fit of a multinomial logit on a chunked design.

    Parameters
    ----------
    design : ChunkedDesign
    start : sequence of float, optional
        Starting values in ``design.param_names`` order (default zeros).
    maxiter : int
        Maximum Newton iterations (each is one pass over the chunks).
    gtol : float
        Tolerance on the max-norm of the score divided by the number of cases.
    cov_type : {"classical", "robust", "opg", "cluster"}, default "classical"
        Covariance of ``bse`` (others by ``with_cov``); all but the classical one take one more
        pass (``"cluster"`` on ``DesignChunk.group``).

    Returns
    -------
    ChunkedResults

    Notes
    -----
    The same :class:`~choicekit.estimation.objective.Objective` and Newton-Raphson iteration
    as :meth:`choicekit.MNL.fit` with ``method="newton"``; identical in exact arithmetic on the
    same data, in floating point the chunk sums are added in another order, which changes the
    estimates by rounding only (``tests/test_kernels_equivalence.py``,
    ``tests/test_chunked_results.py``).
    """
    check_option("cov_type", cov_type, COV_TYPES, SpecificationError)
    family = StreamedMNLFamily(design)
    K = family.K
    theta0 = np.zeros(K) if start is None else np.asarray(start, dtype=np.float64)
    if theta0.shape != (K,):
        raise SpecificationError(f"`start` must have {K} values ({design.param_names}); got "
                                 f"{theta0.size}.")
    # counts the cases (the objective's scale); Newton's first evaluation reuses this pass
    ll0, _, _ = family.fast_sums(theta0, 2, np.ones(K, dtype=bool))
    if not np.isfinite(ll0):
        raise ChoiceDataError("The log-likelihood is not finite at the starting values; check "
                              "the data for NaN or infinite values.")
    objective = Objective(family, theta0)
    opt = maximize_loglike(objective, theta0, method="newton", maxiter=maxiter, gtol=gtol)
    return ChunkedResults._from_optimum(ChunkedModel(family), objective, opt,
                                        cov_type=cov_type, groups=None)
