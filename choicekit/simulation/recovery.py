"""Parameter-recovery studies: simulate choices from known parameters, refit, summarize.

:func:`recovery_study` holds the design fixed (attributes, availability, weights, groups) and
repeats ``n_reps`` times: draw choices as the argmax of ``V + Gumbel`` at the true parameters,
refit the model on the same design (:meth:`choicekit.MNL.with_choices`, so the design is built
once), and keep the estimates and their standard errors under each requested covariance
estimator. The :class:`RecoveryStudy` it returns reports, per parameter, the bias, RMSE, the
mean standard error against the empirical standard deviation, and the coverage of Wald
confidence intervals, each with its Monte Carlo standard error.

Notes
-----
With :math:`R` converged replications, estimates :math:`\\hat\\beta_r`, standard errors
:math:`s_r` and true value :math:`\\beta`:

* bias :math:`\\bar\\beta - \\beta`, Monte Carlo s.e. :math:`\\mathrm{sd}(\\hat\\beta)/\\sqrt R`;
* RMSE :math:`\\sqrt{R^{-1}\\sum_r (\\hat\\beta_r - \\beta)^2}`;
* SE ratio :math:`\\bar s / \\mathrm{sd}(\\hat\\beta)` (1 when the standard errors are right);
* coverage :math:`R^{-1}\\sum_r 1\\{|\\hat\\beta_r - \\beta| \\le z_{1-\\alpha/2} s_r\\}`, Monte
  Carlo s.e. :math:`\\sqrt{c(1-c)/R}`; under correct inference the count of covering intervals
  is Binomial(:math:`R`, :math:`1-\\alpha`), which gives the acceptance band of
  :meth:`RecoveryStudy.coverage_band` (Morris, White & Crowther 2019).

Replication :math:`r` draws from its own stream, the :math:`r`-th child of
``numpy.random.SeedSequence(rng)``, so a study is reproducible from one seed and gives the same
numbers with any number of parallel workers.

References
----------
Morris, T. P., White, I. R. & Crowther, M. J. (2019). Using simulation studies to evaluate
statistical methods. *Statistics in Medicine* 38(11), 2074-2102.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from choicekit._lazy import stats
from choicekit._validation import check_int, check_option
from choicekit.exceptions import (
    ChoiceKitWarning,
    ConvergenceWarning,
    EstimationError,
    IdentificationWarning,
    SpecificationError,
)
from choicekit.inference.covariance import COV_TYPES
from choicekit.inference.delta import z_two_sided
from choicekit.models.base import ChoiceModel
from choicekit.simulation.choices import (
    ErrorKind,
    _check_scale_error,
    refuse_dropped_cases,
    simulate_choices,
    spawn_seeds,
)
from choicekit.simulation.synthetic import SyntheticData

__all__ = ["RecoveryStudy", "recovery_study"]

ProgressArg = bool | Callable[[int, int], None]


@dataclass(frozen=True)
class RecoveryStudy:
    """Outcome of :func:`recovery_study`.

    Attributes
    ----------
    true_params : Series
        The values the estimates should recover (``params / scale``), free parameters.
    estimates : DataFrame
        One row per replication, one column per free parameter (NaN if the fit failed).
    std_errors : dict of str to DataFrame
        Standard errors by covariance type, shaped like ``estimates``.
    converged : ndarray of bool
        Whether each replication's fit converged with finite, positive standard errors (no
        identification warning); the statistics use these only (:attr:`messages` says why
        others were left out).
    n_cases : int
        Cases per replication.
    alpha : float
        Confidence intervals have level ``1 - alpha``.
    seed_entropy : int
        Entropy of the root SeedSequence: ``rng=np.random.SeedSequence(seed_entropy)``
        reproduces the study.
    elapsed : float
        Wall-clock seconds.
    messages : list of str
        Why replications were left out (non-convergence, unidentified parameters, estimation
        errors), with counts.
    """

    true_params: pd.Series
    estimates: pd.DataFrame
    std_errors: dict[str, pd.DataFrame]
    converged: np.ndarray
    n_cases: int
    alpha: float
    seed_entropy: Any
    elapsed: float
    messages: list[str] = field(default_factory=list)

    @property
    def n_reps(self) -> int:
        """Replications run."""
        return int(self.estimates.shape[0])

    @property
    def n_used(self) -> int:
        """Replications used in the statistics (see :attr:`converged`)."""
        return int(self.converged.sum())

    @property
    def cov_types(self) -> list[str]:
        return list(self.std_errors)

    def coverage_band(self, level: float = 0.99) -> tuple[float, float]:
        """Range of empirical coverage consistent with the nominal ``1 - alpha``.

        The number of covering intervals among :attr:`n_used` replications is
        Binomial(:attr:`n_used`, ``1 - alpha``) when inference is right; the band holds its
        central ``level`` probability, as proportions.
        """
        if not 0 < level < 1:
            raise SpecificationError(f"`level` must lie in (0, 1). Got {level!r}.")
        R, p = self.n_used, 1.0 - self.alpha
        tail = (1.0 - level) / 2.0
        return (float(stats.binom.ppf(tail, R, p) / R), float(stats.binom.isf(tail, R, p) / R))

    def _used(self) -> np.ndarray:
        return self.estimates.to_numpy()[self.converged]

    def estimates_summary(self) -> pd.DataFrame:
        """Per parameter: ``true``, ``mean``, ``bias``, ``bias_mcse``, ``bias_z``, ``rmse``,
        ``sd`` (empirical standard deviation of the estimates)."""
        est = self._used()
        truth = self.true_params.to_numpy()
        R = est.shape[0]
        mean = est.mean(axis=0) if R else np.full(len(truth), np.nan)
        sd = est.std(axis=0, ddof=1) if R > 1 else np.full(len(truth), np.nan)
        mcse = sd / math.sqrt(max(R, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = pd.DataFrame({
                "true": truth, "mean": mean, "bias": mean - truth, "bias_mcse": mcse,
                "bias_z": (mean - truth) / mcse,
                "rmse": np.sqrt(((est - truth) ** 2).mean(axis=0)) if R else np.nan,
                "sd": sd,
            }, index=self.true_params.index)
        out.index.name = "parameter"
        return out

    def inference_summary(self, band_level: float = 0.99) -> pd.DataFrame:
        """Per covariance type and parameter: ``mean_se``, ``sd``, ``se_ratio``, ``coverage``,
        ``coverage_mcse``, ``band_lower``, ``band_upper`` and ``in_band``.

        ``band_*`` is :meth:`coverage_band` at ``band_level``.
        """
        est = self._used()
        truth = self.true_params.to_numpy()
        R = est.shape[0]
        sd = est.std(axis=0, ddof=1) if R > 1 else np.full(len(truth), np.nan)
        z = z_two_sided(self.alpha)
        lo, hi = self.coverage_band(band_level) if R else (np.nan, np.nan)
        frames = []
        for ct, se_frame in self.std_errors.items():
            se = se_frame.to_numpy()[self.converged]
            with np.errstate(invalid="ignore"):
                covered = np.abs(est - truth) <= z * se
            cov = covered.mean(axis=0) if R else np.full(len(truth), np.nan)
            mean_se = se.mean(axis=0) if R else np.full(len(truth), np.nan)
            frames.append(pd.DataFrame({
                "cov_type": ct, "parameter": self.true_params.index, "mean_se": mean_se,
                "sd": sd, "se_ratio": mean_se / sd, "coverage": cov,
                "coverage_mcse": np.sqrt(cov * (1 - cov) / max(R, 1)),
                "band_lower": lo, "band_upper": hi, "in_band": (cov >= lo) & (cov <= hi),
            }))
        return pd.concat(frames, ignore_index=True).set_index(["cov_type", "parameter"])

    def summary(self, band_level: float = 0.99) -> pd.DataFrame:
        """Both summaries in one frame indexed by (cov_type, parameter)."""
        inf = self.inference_summary(band_level)
        est = self.estimates_summary().drop(columns="sd")
        return inf.join(est, on="parameter")[list(est.columns) + list(inf.columns)]

    def __str__(self) -> str:
        e = self.estimates_summary()
        lines = [
            f"Recovery study: {self.n_reps} replications of {self.n_cases:,} cases "
            f"({self.n_used} converged), {self.elapsed:.1f} s",
            "",
            f"{'parameter':<16} {'true':>9} {'mean':>9} {'bias':>9} {'MC s.e.':>8} "
            f"{'bias/se':>8} {'RMSE':>8} {'emp. SD':>8}",
        ]
        for name, r in e.iterrows():
            lines.append(f"{str(name):<16} {r['true']:>9.4f} {r['mean']:>9.4f} "
                         f"{r['bias']:>9.4f} {r['bias_mcse']:>8.4f} {r['bias_z']:>8.2f} "
                         f"{r['rmse']:>8.4f} {r['sd']:>8.4f}")
        inf = self.inference_summary()
        lo, hi = (inf["band_lower"].iloc[0], inf["band_upper"].iloc[0]) if len(inf) else (0, 0)
        lines += ["", f"{100 * (1 - self.alpha):g}% Wald intervals (99% binomial acceptance "
                      f"band for coverage: [{lo:.3f}, {hi:.3f}])",
                  f"{'cov_type':<10} {'parameter':<16} {'mean SE':>8} {'emp. SD':>8} "
                  f"{'ratio':>6} {'coverage':>9} {'MC s.e.':>8}  in band"]
        for (ct, name), r in inf.iterrows():
            lines.append(f"{ct:<10} {str(name):<16} {r['mean_se']:>8.4f} {r['sd']:>8.4f} "
                         f"{r['se_ratio']:>6.3f} {r['coverage']:>9.3f} "
                         f"{r['coverage_mcse']:>8.3f}  {'yes' if r['in_band'] else 'NO'}")
        for m in self.messages:
            lines.append(f"note: {m}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<RecoveryStudy: {self.n_reps} replications x {self.n_cases} cases, "
                f"{len(self.true_params)} parameters, cov_types={self.cov_types}>")


# ------------------------------------------------------------------------------ the worker
@dataclass(frozen=True)
class _Task:
    """Everything one worker needs (pickled once per worker process)."""

    model: ChoiceModel
    V: np.ndarray | None  # the MNL's utilities (its iid errors are drawn here); else None
    theta: np.ndarray  # the true parameters (the other families simulate from their errors)
    start: np.ndarray
    cov_types: tuple[str, ...]
    groups: np.ndarray | None
    fit_options: dict[str, Any]
    scale: float
    error: str


_WORKER_TASK: _Task | None = None


def _init_worker(task: _Task) -> None:
    global _WORKER_TASK
    _WORKER_TASK = task


def _run_block_in_worker(seeds: list[np.random.SeedSequence]) -> tuple[Any, ...]:
    assert _WORKER_TASK is not None
    return _run_block(_WORKER_TASK, seeds)


def _run_block(task: _Task, seeds: Sequence[np.random.SeedSequence]) -> tuple[Any, ...]:
    """Simulate and fit one block of replications; arrays of estimates, SEs, flags."""
    model = task.model
    d = model.design
    free = ~model.param_table.fixed
    family = model.family()
    k = int(free.sum())
    est = np.full((len(seeds), k), np.nan)
    ses = {ct: np.full((len(seeds), k), np.nan) for ct in task.cov_types}
    ok = np.zeros(len(seeds), dtype=bool)
    reasons: Counter[str] = Counter()
    for i, seed in enumerate(seeds):
        gen = np.random.default_rng(seed)
        if task.V is None:  # the family's own (e.g. correlated extreme-value) errors
            chosen = family.simulate(task.theta, gen)
        else:
            chosen = simulate_choices(task.V, d.avail, rng=gen, scale=task.scale,
                                      error=task.error)  # type: ignore[arg-type]
        try:
            with warnings.catch_warnings(record=True) as caught, \
                    np.errstate(invalid="ignore"):
                warnings.simplefilter("always")
                res = model.with_choices(chosen).fit(start=task.start, cov_type="classical",
                                                     **task.fit_options)
                est[i] = res._core.params[free]
                for ct in task.cov_types:
                    r = res if ct == "classical" else res.with_cov(ct, groups=task.groups)
                    ses[ct][i] = np.sqrt(np.diag(r._cov_free))
        except (EstimationError, np.linalg.LinAlgError) as err:
            reasons[f"estimation failed ({type(err).__name__}: {str(err)[:120]})"] += 1
            continue
        if not res.converged or any(issubclass(w.category, ConvergenceWarning)
                                    for w in caught):
            kinds = sorted({w.category.__name__ for w in caught})
            reasons["the fit did not converge" + (f" ({', '.join(kinds)})" if kinds else "")] += 1
        elif any(issubclass(w.category, IdentificationWarning) for w in caught) or not all(
                np.isfinite(se[i]).all() and (se[i] > 0).all() for se in ses.values()):
            reasons["some parameters were not identified (e.g. an alternative never chosen: "
                    "its constant diverges)"] += 1
        else:
            ok[i] = True
    return est, ses, ok, reasons


def _progress_callback(progress: ProgressArg) -> Callable[[int, int], None] | None:
    if progress is False or progress is None:
        return None
    if callable(progress):
        return progress

    def bar(done: int, total: int) -> None:
        # opt-in text bar on stderr (the user asked for it with progress=True)
        width = 30
        filled = int(width * done / total)
        sys.stderr.write(f"\rrecovery study [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return bar


def recovery_study(model: ChoiceModel | SyntheticData, params: Any = None, *, n_reps: int = 200,
                   cov_type: str | Sequence[str] = ("classical", "robust"), rng: Any = None,
                   alpha: float = 0.05, scale: float = 1.0, error: ErrorKind = "gumbel",
                   groups: Any = None, n_jobs: int = 1, progress: ProgressArg = False,
                   fit_options: dict[str, Any] | None = None) -> RecoveryStudy:
    """Monte Carlo study of how well a model recovers known parameters.

    Parameters
    ----------
    model : MNL or SyntheticData
        The model whose design is held fixed across replications (its observed choices, if
        any, are ignored). A :class:`~choicekit.simulation.synthetic.SyntheticData` supplies its
        model and
        true parameters.
    params : Series, dict or array
        True parameter values (default: ``model.params`` of a SyntheticData).
    n_reps : int, default 200
        Replications.
    cov_type : str or sequence of str, default ("classical", "robust")
        Covariance estimators whose standard errors and coverage are evaluated; any of
        ``"classical"``, ``"robust"``, ``"opg"``, ``"cluster"``.
    rng : int, SeedSequence, Generator or None
        One seed for the whole study; replication ``r`` uses the ``r``-th spawned child.
    alpha : float, default 0.05
        Intervals have level ``1 - alpha``.
    scale : float, default 1.0
        Gumbel scale of the simulated errors; the true values of the estimated (scale-free)
        parameters are then ``params / scale``.
    error : {"gumbel", "normal"}, default "gumbel"
        ``"normal"`` simulates probit choices (misspecification studies); ``true_params`` are
        still ``params / scale``.
    groups : str or array, optional
        Clusters for ``"cluster"`` (default: the data's group).
    n_jobs : int, default 1
        Worker processes (``concurrent.futures.ProcessPoolExecutor``); results do not depend
        on it.
    progress : bool or callable, default False
        ``True`` draws a text bar on stderr; a callable is called as ``progress(done, total)``
        after each block of replications.
    fit_options : dict, optional
        Extra keyword arguments of :meth:`choicekit.MNL.fit` (e.g. ``method``); by default
        fits start at the true values.

    Returns
    -------
    RecoveryStudy

    Examples
    --------
    >>> import choicekit as ck
    >>> sim = ck.make_choice_data(1000, 3, rng=0)
    >>> study = ck.recovery_study(sim, n_reps=20, rng=1)
    >>> study.estimates.shape
    (20, 4)
    """
    t0 = time.perf_counter()
    if isinstance(model, SyntheticData):
        if params is None:
            params = model.params
        model = model.model()
    if not isinstance(model, ChoiceModel):
        raise SpecificationError(f"`model` must be a model (ck.MNL, ck.NestedLogit, ...) or a "
                                 f"SyntheticData. Got {type(model).__name__}.")
    if params is None:
        raise SpecificationError("Give the true parameter values in `params`.")
    check_int("n_reps", n_reps, 2)
    check_int("n_jobs", n_jobs)
    if not 0 < alpha < 1:
        raise SpecificationError(f"`alpha` must lie in (0, 1). Got {alpha!r}.")
    cov_types = (cov_type,) if isinstance(cov_type, str) else tuple(cov_type)
    if not cov_types:
        raise SpecificationError("`cov_type` must name at least one covariance type.")
    for ct in cov_types:
        check_option("cov_type", ct, COV_TYPES, SpecificationError)
    mu = _check_scale_error(scale, error)
    fit_options = dict(fit_options or {})
    if "cov_type" in fit_options:
        raise SpecificationError("Pass covariance types through `cov_type`, not `fit_options`.")
    d = model.design
    refuse_dropped_cases(d, "run the study")
    beta = model.params_vector(params)
    start = (model.params_vector(fit_options.pop("start")) if "start" in fit_options
             else beta / mu)
    codes = None
    if "cluster" in cov_types:
        codes = model._resolve_groups(groups)
    free = ~model.param_table.fixed
    names = list(np.asarray(model.param_names)[free])
    mnl = model.family().name == "MNL"
    if not mnl and (mu != 1.0 or error != "gumbel"):
        raise SpecificationError("`scale` and `error` apply to the MNL's iid errors only; a "
                                 f"{model.family().name} model simulates its own errors.")
    truth = pd.Series(beta[free] / mu, index=names, name="true")
    V = d.utilities(beta) if mnl else None
    task = _Task(model, V, beta, start, cov_types, codes, fit_options, mu, error)
    root, seeds = spawn_seeds(rng, int(n_reps))
    report = _progress_callback(progress)

    n_blocks = max(1, min(int(n_reps), 4 * n_jobs if n_jobs > 1 else 20))
    bounds = np.linspace(0, n_reps, n_blocks + 1).astype(int)
    blocks = [seeds[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    results: list[Any] = [None] * len(blocks)
    done = 0
    if n_jobs == 1:
        for i, blk in enumerate(blocks):
            results[i] = _run_block(task, blk)
            done += len(blk)
            if report:
                report(done, int(n_reps))
    else:
        with ProcessPoolExecutor(max_workers=int(n_jobs), initializer=_init_worker,
                                 initargs=(task,)) as pool:
            futures = {pool.submit(_run_block_in_worker, blk): i for i, blk in enumerate(blocks)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                done += len(blocks[i])
                if report:
                    report(done, int(n_reps))
    est = np.vstack([r[0] for r in results])
    ses = {ct: pd.DataFrame(np.vstack([r[1][ct] for r in results]), columns=names)
           for ct in cov_types}
    ok = np.concatenate([r[2] for r in results])
    reasons: Counter[str] = Counter()
    for r in results:
        reasons.update(r[3])
    messages = [f"{k} of {int(n_reps)} replications left out of the statistics: {why}."
                for why, k in reasons.most_common()]
    if messages:
        warnings.warn(
            f"{int(n_reps) - int(ok.sum())} of {int(n_reps)} replications were left out of "
            f"the statistics ({'; '.join(reasons)}). The statistics are conditional on a "
            "successful fit; more cases per replication make failures rarer. See "
            "`study.messages`.", ChoiceKitWarning, stacklevel=2)
    return RecoveryStudy(
        true_params=truth, estimates=pd.DataFrame(est, columns=names), std_errors=ses,
        converged=ok, n_cases=int(d.n_cases), alpha=float(alpha), seed_entropy=root.entropy,
        elapsed=time.perf_counter() - t0, messages=messages)
