"""Nonparametric bootstrap of the estimates and of any quantity derived from a fit.

Notes
-----
Each replicate draws :math:`N` cases with replacement (case bootstrap) or :math:`G` clusters
with replacement and keeps all their cases (cluster, or block, bootstrap — the right scheme for
panels, where the cases of one person are dependent), re-estimates the model from the
full-sample estimates, and evaluates the user's function on the replicate's results. The
bootstrap covariance is the sample covariance of the replicates; intervals are percentile
intervals (Efron & Tibshirani 1993, ch. 13; Cameron & Trivedi 2005, ch. 11).

All resampling indices are drawn up front from one generator, so results are reproducible
from the seed whatever the number of workers. Replicates whose estimation does not converge
are left out and counted.

References
----------
Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall.
Cameron, A. C. & Trivedi, P. K. (2005). *Microeconometrics*, ch. 11.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from choicekit._random import as_generator
from choicekit._validation import check_int
from choicekit._warnings import warn_user
from choicekit.exceptions import ChoiceKitWarning, SpecificationError
from choicekit.postestimation.shares import PostContext

if TYPE_CHECKING:
    from choicekit.results.results import MNLResults

__all__ = ["BootstrapResult", "bootstrap"]


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates.

    Attributes
    ----------
    params : pandas.DataFrame
        Estimates of every successful replicate (rows) by parameter (columns).
    statistics : pandas.DataFrame or None
        Values of the user's function per successful replicate.
    estimate : pandas.Series
        Full-sample estimates.
    statistics_estimate : pandas.Series or None
        The user's function on the full sample.
    n_failed : int
        Replicates left out because estimation failed or did not converge.
    scheme : str
        ``"case"`` or ``"cluster"``.
    results : MNLResults
        The full-sample fit with the bootstrap covariance (``cov_type="bootstrap"``): its
        ``bse``, ``conf_int()``, ``summary()`` and every post-estimation standard error (WTP,
        elasticities, scenarios) then use the bootstrap covariance.
    """

    params: pd.DataFrame
    statistics: pd.DataFrame | None
    estimate: pd.Series
    statistics_estimate: pd.Series | None
    n_failed: int
    scheme: str
    results: MNLResults

    @property
    def n_boot(self) -> int:
        """Number of successful replicates."""
        return len(self.params)

    def _values(self, of: str) -> pd.DataFrame:
        if of == "params":
            return self.params
        if of == "statistics":
            if self.statistics is None:
                raise SpecificationError("No statistics were bootstrapped (pass `func=`).")
            return self.statistics
        raise SpecificationError(f"`of` must be 'params' or 'statistics'. Got {of!r}.")

    def cov(self, of: str = "params") -> pd.DataFrame:
        """Bootstrap covariance (sample covariance of the replicates)."""
        return self._values(of).cov()

    def se(self, of: str = "params") -> pd.Series:
        """Bootstrap standard errors."""
        return self._values(of).std(ddof=1).rename("se")

    def conf_int(self, alpha: float = 0.05, of: str = "params") -> pd.DataFrame:
        """Percentile intervals."""
        if not 0 < alpha < 1:
            raise SpecificationError(f"`alpha` must lie in (0, 1). Got {alpha!r}.")
        v = self._values(of)
        return pd.DataFrame({"lower": v.quantile(alpha / 2), "upper": v.quantile(1 - alpha / 2)})

    def __repr__(self) -> str:
        return (f"<BootstrapResult: {self.n_boot} {self.scheme} replicates, {self.n_failed} "
                "failed>")


def _cluster_codes(cluster: Any, ctx: PostContext) -> np.ndarray:
    if cluster is True:
        cluster = None
    return ctx.model._resolve_groups(cluster)


def _as_vector(value: Any) -> tuple[np.ndarray, list[str]]:
    if isinstance(value, pd.Series):
        return value.to_numpy(dtype=np.float64), [str(i) for i in value.index]
    if isinstance(value, pd.DataFrame):
        s = value.stack()
        return s.to_numpy(dtype=np.float64), ["|".join(map(str, i)) for i in s.index]
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    return arr, [str(i) for i in range(arr.size)]


def bootstrap(res: MNLResults, n_boot: int = 200, *,
              func: Callable[[MNLResults], Any] | None = None, cluster: Any = None,
              rng: Any = None, workers: int | None = None) -> BootstrapResult:
    """Case or cluster bootstrap of a fit; see the module notes.

    Parameters
    ----------
    res : MNLResults
    n_boot : int, default 200
        Number of replicates.
    func : callable, optional
        ``func(replicate_results) -> float | array | Series | DataFrame``: a derived quantity
        (e.g. ``lambda r: r.wtp("B_TIME", "B_COST")["wtp"]``), evaluated on every replicate
        and on the full sample.
    cluster : None, True, str or array, optional
        Resample clusters instead of cases: True uses the data's ``group``; a case-level column
        name or one value per case gives other clusters.
    rng : int, Generator or None
        Seed or generator.
    workers : int, optional
        Threads for the replicates (the kernels release the GIL in BLAS); results do not
        depend on it.

    Returns
    -------
    BootstrapResult
    """
    check_int("n_boot", n_boot, 2)
    check_int("workers", workers, allow_none=True)
    gen = as_generator(rng)
    ctx = PostContext.from_results(res)
    rows = ctx.data_rows
    n = len(rows)
    if cluster is None or cluster is False:
        scheme = "case"
        draws = [rows[gen.integers(0, n, size=n)] for _ in range(int(n_boot))]
    else:
        scheme = "cluster"
        codes = _cluster_codes(cluster, ctx)
        G = int(codes.max()) + 1
        order = np.argsort(codes, kind="stable")
        members = np.split(rows[order], np.cumsum(np.bincount(codes, minlength=G))[:-1])
        draws = [np.concatenate([members[g] for g in gen.integers(0, G, size=G)])
                 for _ in range(int(n_boot))]
    model = res.model
    spec = model.specification
    start = res.params
    cov_type = res.cov_type if res.cov_type in ("classical", "robust", "opg") else "classical"

    def one(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                m = model.rebuild(model.data.take(idx), spec.utilities,
                                  param_order=model.param_names)
                r = m.fit(start=start, cov_type=cov_type)
            except (ValueError, RuntimeError, np.linalg.LinAlgError):
                return None
        if not r.converged:
            return None
        stat = None if func is None else _as_vector(func(r))[0]
        return r.params.to_numpy(), stat

    if workers is None or workers == 1:
        out = [one(idx) for idx in draws]
    else:
        with ThreadPoolExecutor(max_workers=int(workers)) as pool:
            out = list(pool.map(one, draws))
    ok = [o for o in out if o is not None]
    n_failed = len(out) - len(ok)
    if len(ok) < 2:
        raise SpecificationError(f"Only {len(ok)} of {n_boot} bootstrap replicates converged; "
                                 "check the model's identification.")
    if n_failed:
        warn_user(f"{n_failed} of {n_boot} bootstrap replicates did not converge and are "
                      "left out.", ChoiceKitWarning)
    params = pd.DataFrame(np.array([o[0] for o in ok]), columns=res.param_names)
    stats_df = stats_est = None
    if func is not None:
        full, labels = _as_vector(func(res))
        stats_df = pd.DataFrame(np.array([o[1] for o in ok]), columns=labels)
        stats_est = pd.Series(full, index=labels, name="estimate")
    free = ~res.fixed.to_numpy()
    cov_free = np.atleast_2d(np.cov(params.to_numpy()[:, free], rowvar=False))
    with_boot = type(res)(res._core, "bootstrap", cov_free, None)
    return BootstrapResult(params, stats_df, res.params.copy(), stats_est, n_failed, scheme,
                           with_boot)
