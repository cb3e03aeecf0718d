"""The Dask backend: a family whose sums are reduced from partitions kept on the workers.

A model built on :class:`~choicekit.data.dask.DaskChoiceData` builds, on every partition's
worker, the same model on that partition's data (an in-memory model of the same class, with
the same utilities, parameter order and options: its design and family, the MNL's compiled
pass included, exactly as on one machine), and keeps it there as a future. The partition's
data are rebuilt from storage by that task (read and validated as :func:`~choicekit.data.
dask.from_dask` did) and **released once the design is built**: a worker holds only the
designs, i.e. what the likelihood needs (the design columns, choices, availability,
weights). What needs the data's columns again (post-estimation by segment, elasticities,
scenarios, a cluster column) rebuilds them from storage, once per call
(:meth:`DaskFamily.map` with ``with_data=True``). On the client, :class:`DaskDesign` stands
for the design (parameter metadata, case counts) and :class:`DaskFamily` for the family: its
:meth:`DaskFamily.fast_sums` is what the objective
(:class:`~choicekit.estimation.objective.Objective`) calls, so the optimizers, Newton's
iteration included, run unchanged.

One evaluation sends only the parameter vector to the partitions (one small task per
partition on its persisted model, no graph that grows with the iterations) and brings back
each partition's log-likelihood, score and Hessian over the free parameters; the client adds
them **in partition order**, so the estimates do not depend on which worker answered first.
Covariance meats (robust, OPG, cluster) and post-estimation sums come back the same way
(:meth:`DaskFamily.meats`, :meth:`DaskFamily.map`).

Faults: the partitions' models are futures computed from the read tasks of the Dask frame;
when a worker dies the scheduler recomputes the lost ones from storage, and the evaluation in
flight is retried, giving the same sums.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from choicekit.data.dask import (
    MAX_SPLIT_GROUPS,
    DaskChoiceData,
    Partition,
    compute_placed,
    placement,
    release_unused_memory,
)
from choicekit.estimation.objective import hessian_from_scores
from choicekit.exceptions import ChoiceDataError, ChoiceKitError, DataWarning, SpecificationError
from choicekit.families.protocol import ParamTable, family_sums
from choicekit.inference.covariance import Meats, cluster_sums, meat_robust

__all__ = ["DaskDesign", "DaskFamily", "PartitionModel", "REMOTE", "STORED"]


class _Remote:
    """Stands for per-case arrays kept on the workers (``DaskDesign.chosen``)."""

    def __repr__(self) -> str:
        return "<on the Dask workers>"


REMOTE = _Remote()


class _Stored:
    """Stands for a partition model's data once its design is built: released, rebuilt from
    storage by the tasks that need them (:func:`run_with_data`)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ChoiceKitError(
            f"The partition's data were released once its design was built (`data.{name}`); "
            "a task that needs them must rebuild them from storage (DaskFamily.map(..., "
            "with_data=True)).")

    def __repr__(self) -> str:
        return "<released; rebuilt from storage on demand>"

    def __reduce__(self) -> str:
        return "STORED"  # the module's one instance, also after pickling


STORED = _Stored()


# ---------------------------------------------------------------------- worker side
@dataclass
class PartitionModel:
    """A partition's in-memory model, kept on its worker."""

    number: int
    model: Any
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    _family: Any = None

    def family(self) -> Any:
        """The model's family for the fit, on as many threads as the worker has (built once
        per worker; its compiled pass and workspaces are reused across evaluations)."""
        if self._family is None:
            threads = 1
            try:
                from distributed import get_worker

                threads = max(1, int(get_worker().state.nthreads))
            except (ImportError, ValueError, AttributeError):  # pragma: no cover
                pass
            opts = self.model._fit_options(None, threads)
            self._family = self.model.family(**opts) if opts else self.model.family()
        return self._family


def build_partition_model(part: Partition, cls: type, utilities: Any, missing: str,
                          param_order: list[str], options: dict[str, Any]) -> PartitionModel:
    """The model on one partition's data (a task on the worker holding the partition)."""
    release_unused_memory()  # what earlier partitions' reads freed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            if part.data is None:  # the data changed in storage since from_dask
                raise ChoiceDataError(str(part.error))
            model = cls(part.data, utilities, missing=missing, _param_order=param_order,
                        **options)
        except (ChoiceDataError, SpecificationError) as exc:
            return PartitionModel(part.number, None, str(exc))
    model._data = STORED  # only the design is held (the data are rebuilt on demand)
    return PartitionModel(part.number, model, None, [str(w.message) for w in caught])


def partition_design_summary(pm: PartitionModel) -> dict[str, Any]:
    """Small facts about a partition's design (gathered once per model)."""
    release_unused_memory()  # the validated data's, released by now
    out: dict[str, Any] = {"number": pm.number, "error": pm.error, "warnings": pm.warnings}
    try:
        from distributed import get_worker

        out["worker"] = get_worker().address
    except (ImportError, ValueError):  # pragma: no cover
        out["worker"] = None
    if pm.model is None:
        return out
    d = pm.model.design
    w = d.weight
    ll0 = -np.log(d.avail.sum(axis=1))
    nbytes = sum(a.nbytes for a in (d.columns, d.specific_values, d.offset, d.avail,
                                    d.chosen, d.weight, d.group) if a is not None)
    out.update(n_cases=d.n_cases, has_choice=d.chosen is not None,
               slotted=d.slot_alts is not None,
               column_max=d.column_max, llnull=float(ll0.sum() if w is None else ll0 @ w),
               weight_total=None if w is None else float(w.sum()),
               n_positive=None if w is None else int(np.count_nonzero(w > 0)),
               dropped=list(d.dropped_cases), nbytes=int(nbytes),
               params=pm.model.param_table, design_params=ParamTable.of_design(d),
               alternatives=tuple(d.alternatives))
    return out


def partition_sums(pm: PartitionModel, theta: np.ndarray, order: int, free: np.ndarray
                   ) -> tuple[float, np.ndarray | None, np.ndarray | None, float, str | None]:
    """Log-likelihood, score and Hessian of one partition over the free parameters, the
    seconds it took and the worker that ran it."""
    t0 = time.perf_counter()
    fam = pm.family()
    fast = getattr(fam, "fast_sums", None)
    if fast is not None:
        ll, g, H = fast(theta, order, free)
    else:
        total = family_sums(fam, theta, order)
        ll = total.loglike
        g = None if order < 1 else total.score[free]
        H = (None if order < 2 or not fam.analytic_hessian
             else total.hessian[np.ix_(free, free)])
    seconds = time.perf_counter() - t0
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):  # pragma: no cover
        where = None
    return float(ll), g, H, seconds, where


def partition_meats(pm: PartitionModel, theta: np.ndarray, free: np.ndarray,
                    weight_type: str | None, groups: Any, split: Any, want_cluster: bool
                    ) -> dict[str, Any]:
    """Robust and OPG meats of one partition, and its part of the cluster meat: the sum of
    :math:`S_g S_g'` over the groups that lie whole in it, the number of those groups, and the
    summed scores :math:`S_g` of the groups that span partitions (added on the client)."""
    model = pm.model
    d = model.design
    S = pm.family().score_obs(theta)[:, free]
    w = d.weight
    out: dict[str, Any] = {
        "robust": meat_robust(S, w, weight_type),
        "opg": meat_robust(S, w, "frequency" if weight_type else None),
        "n_positive": None if w is None else int(np.count_nonzero(w > 0)),
        "weight_total": None if w is None else float(w.sum()),
    }
    if want_cluster:
        values = model._group_values(groups)
        codes, labels = pd.factorize(values)
        sums = cluster_sums(S, w, codes, len(labels))
        crossing = np.asarray(pd.Index(labels).isin(split)) if len(split) else \
            np.zeros(len(labels), dtype=bool)
        whole = sums[~crossing]
        out["cluster"] = whole.T @ whole
        out["n_whole_groups"] = int((~crossing).sum())
        out["split"] = {lab: sums[i] for i, lab in zip(np.flatnonzero(crossing),
                                                        np.asarray(labels)[crossing])}
    return out


def run_on_partition(pm: PartitionModel, func: Any, *args: Any, **kwargs: Any) -> Any:
    """``func(model, family, *args)`` on a partition's in-memory model (post-estimation
    sums)."""
    return func(pm.model, pm.family(), *args, **kwargs)


def run_with_data(pm: PartitionModel, part: Partition, func: Any, *args: Any,
                  **kwargs: Any) -> Any:
    """``func(pm, *args)`` with the partition's data, rebuilt from storage (``part``), given
    back to its model for the call and released after it."""
    if part.data is None:
        raise ChoiceDataError(f"partition {part.number}: {part.error}")
    pm.model._data = part.data
    try:
        return func(pm, *args, **kwargs)
    finally:
        pm.model._data = STORED
        release_unused_memory()


# ---------------------------------------------------------------------- client side
class DaskDesign:
    """The client's view of a design kept on the workers: parameter metadata and counts.

    Built lazily, on first use, from the model that owns it (the partition models need the
    model's options, which subclasses set after the base constructor).
    """

    slot_alts = None
    chosen_alternatives = None

    def __init__(self, data: DaskChoiceData, model: Any, missing: str, need_choice: bool
                 ) -> None:
        self.data = data
        self._model = model
        self._missing = missing
        self._need_choice = need_choice

    @cached_property
    def _built(self) -> tuple[list, list[dict[str, Any]]]:
        model = self._model
        dist = self.data._dist
        client = dist.client
        spec = model.specification
        order = [b.name for b in spec.params]
        import dask

        # each partition read from storage, validated and modelled by one chain of tasks on
        # its planned worker; the validated data are released once the design is built
        tasks = [dask.delayed(build_partition_model, pure=False)(
            src, type(model), spec.utilities, self._missing, order, model._options())
            for src in dist.sources]
        futures = compute_placed(client, tasks, placement(client, len(tasks)))
        summaries = client.gather(client.map(partition_design_summary, futures, pure=False))
        bad = [s for s in summaries if s["error"] is not None]
        if bad:
            for f in futures:
                f.release()
            listing = "\n".join(f"partition {s['number']}: {s['error']}" for s in bad[:5])
            raise ChoiceDataError(f"{len(bad)} of {len(summaries)} partitions cannot be "
                                  f"modelled:\n{listing}")
        for s in summaries:
            for msg in s["warnings"]:
                warnings.warn(f"partition {s['number']}: {msg}", DataWarning, stacklevel=5)
        if self._need_choice and not summaries[0]["has_choice"]:
            raise ChoiceDataError("These data carry no observed choices; pass `choice=` to "
                                  "estimate a model.")
        return futures, summaries

    @cached_property
    def local_model(self) -> Any:
        """The same model on the client's template (the first cases of partition 0): for the
        family's structure (nest parameters, ...), never for sums over the data."""
        model = self._model
        spec = model.specification
        return type(model)(self.data._template, spec.utilities, missing=self._missing,
                           _param_order=[b.name for b in spec.params], **model._options())

    @property
    def futures(self) -> list:
        return self._built[0]

    @property
    def summaries(self) -> list[dict[str, Any]]:
        return self._built[1]

    # the Design interface the model and results use
    @cached_property
    def _table(self) -> ParamTable:
        return self.summaries[0]["design_params"]

    @property
    def param_names(self) -> tuple[str, ...]:
        return self._table.names

    @property
    def start(self) -> np.ndarray:
        return self._table.start

    @property
    def fixed(self) -> np.ndarray:
        return self._table.fixed

    @property
    def lower(self) -> np.ndarray:
        return self._table.lower

    @property
    def upper(self) -> np.ndarray:
        return self._table.upper

    @property
    def n_params(self) -> int:
        return len(self._table.names)

    @property
    def has_bounds(self) -> bool:
        return self._table.has_bounds

    @property
    def alternatives(self) -> tuple:
        return self.summaries[0]["alternatives"]

    @property
    def n_alts(self) -> int:
        return len(self.alternatives)

    @cached_property
    def n_cases(self) -> int:
        return int(sum(s["n_cases"] for s in self.summaries))

    @property
    def n_partitions(self) -> int:
        return len(self.summaries)

    @property
    def chosen(self) -> Any:
        return REMOTE if self.summaries[0]["has_choice"] else None

    @cached_property
    def column_max(self) -> np.ndarray:
        return np.max([s["column_max"] for s in self.summaries], axis=0)

    @cached_property
    def dropped_cases(self) -> pd.Index:
        return pd.Index([c for s in self.summaries for c in s["dropped"]])

    @cached_property
    def weight_total(self) -> float | None:
        w = [s["weight_total"] for s in self.summaries]
        return None if w[0] is None else float(sum(w))

    @property
    def weight(self) -> None:
        raise ChoiceKitError("The case weights stay on the Dask workers (see "
                             "`design.weight_total`).")

    def null_loglike(self) -> float:
        """Log-likelihood of equal shares over the available alternatives (partition sums in
        partition order)."""
        return float(sum(s["llnull"] for s in self.summaries))

    @property
    def cases(self) -> pd.Index:
        raise ChoiceKitError("The case ids stay on the Dask workers.")

    def __repr__(self) -> str:
        return (f"DaskDesign({self.n_cases} cases, {self.n_alts} alternatives, "
                f"{self.n_params} parameters, {self.n_partitions} partitions)")


class DaskFamily:
    """A family whose sums are reduced from the partitions' in-memory families.

    Has what :class:`~choicekit.estimation.objective.Objective` asks of a family (``params``,
    ``design``, ``fast_sums``) plus :meth:`meats` (covariances) and :meth:`map`
    (post-estimation), and records :attr:`evaluations` for the diagnostics.
    """

    def __init__(self, design: DaskDesign, family_class: type) -> None:
        self.design = design
        self.family_class = family_class
        self.name = family_class.name
        self.concave = family_class.concave
        self.unit = family_class.unit
        self.use_native = False
        self.threads = 1
        #: one record per evaluation: order, wall seconds, per-partition seconds
        self.evaluations: list[dict[str, Any]] = []
        self.retries = 0

    @property
    def client(self) -> Any:
        return self.design.data._dist.client

    #: methods over the cases: on the partitions only (never on the client's template)
    _DATA_METHODS = frozenset({"sums", "score_obs", "proba", "dproba", "logsum", "simulate",
                               "blocks", "utilities"})

    def __getattr__(self, name: str) -> Any:
        # the family's structure (e.g. a nested logit's lam() and alpha()) from the same
        # family on the client's template; sums over cases are refused
        if name.startswith("_") or name in self._DATA_METHODS:
            raise AttributeError(name)
        return getattr(self.design.local_model.family(), name)

    @cached_property
    def params(self) -> ParamTable:
        return self.design.summaries[0]["params"]

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.params.names

    @cached_property
    def analytic_hessian(self) -> bool:
        # the family's own flag may depend on its structure (a GEV family with estimated
        # allocations differentiates its score): ask the first partition
        return bool(self._gather(run_on_partition, lambda m, f: f.analytic_hessian,
                                 partitions=[0])[0])

    # -------------------------------------------------------------- the reduction
    def _gather(self, func: Any, *args: Any, partitions: list[int] | None = None,
                with_data: bool = False, **kwargs: Any) -> list:
        """``func(partition_model, *args, **kwargs)`` on every partition, results in
        partition order. With ``with_data``, each partition's data are rebuilt from storage
        on its model's worker for the call (:func:`run_with_data`) and released after it. A
        failure from a lost worker is retried once the scheduler has rebuilt the partition
        (from its read tasks)."""
        import dask

        index = list(range(len(self.design.futures))) if partitions is None else partitions
        futs = [self.design.futures[i] for i in index]
        sources = self.design.data._dist.sources
        client = self.client
        for attempt in range(3):
            # each task where its partition lives (loosely: elsewhere if that worker dies),
            # so that no partition travels between workers
            who = client.who_has(futs)
            if with_data:
                tasks = compute_placed(client, [
                    dask.delayed(run_with_data, pure=False)(f, sources[i], func, *args,
                                                           **kwargs)
                    for i, f in zip(index, futs)], [(list(who[f.key]) or [None])[0]
                                                    for f in futs])
            else:
                tasks = [client.submit(func, f, *args, pure=False,
                                       workers=list(who[f.key]) or None,
                                       allow_other_workers=True, **kwargs) for f in futs]
            try:
                return client.gather(tasks)
            except ChoiceKitError:
                raise
            except Exception as exc:  # a worker lost mid-evaluation
                if attempt == 2 or not _is_lost_worker(exc):
                    raise
                self.retries += 1
        raise AssertionError("unreachable")  # pragma: no cover

    def fast_sums(self, theta: np.ndarray, order: int, free: np.ndarray
                  ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Log-likelihood, score and Hessian over every partition, for the ``free``
        parameters, added in partition order."""
        theta = np.asarray(theta, dtype=np.float64)
        free = np.asarray(free, dtype=bool)
        if order >= 2 and not self.analytic_hessian:
            ll, g, _ = self.fast_sums(theta, 1, free)
            return ll, g, self._hessian_from_scores(theta, free)
        t0 = time.perf_counter()
        parts = self._gather(partition_sums, theta, order, free)
        wall = time.perf_counter() - t0
        ll = 0.0
        g = np.zeros(int(free.sum())) if order >= 1 else None
        H = np.zeros((len(g), len(g))) if order >= 2 else None
        for p_ll, p_g, p_H, _, _ in parts:  # partition order: deterministic
            ll += p_ll
            if g is not None:
                g += p_g
            if H is not None:
                H += p_H
        busy: dict[Any, float] = {}
        for p in parts:
            busy[p[4]] = busy.get(p[4], 0.0) + p[3]
        self.evaluations.append({"order": order, "wall": wall,
                                 "partition_seconds": [p[3] for p in parts],
                                 "worker_seconds": max(busy.values())})
        return ll, g, H

    def _hessian_from_scores(self, beta: np.ndarray, free: np.ndarray) -> np.ndarray:
        """Central differences of the analytic score (as the in-memory objective does)."""
        return hessian_from_scores(lambda b: self.fast_sums(b, 1, free)[1], beta, free)

    def score_obs(self, theta: np.ndarray, rows: Any = None) -> np.ndarray:
        raise ChoiceKitError(
            "Per-case scores stay on the Dask workers; the covariances are computed from the "
            "partitions' sums (res.with_cov(...)). For the BHHH iteration use "
            "method='newton' (the default) on distributed data.")

    def opg(self, theta: np.ndarray, free: np.ndarray, weight_type: str | None) -> np.ndarray:
        """:math:`\\sum_n w_n s_n s_n'` over every partition (the BHHH matrix)."""
        parts = self._gather(partition_meats, theta, free, weight_type, None, [], False)
        return np.sum([p["opg"] for p in parts], axis=0)

    def information_meats(self) -> Meats:
        """What the classical covariance needs beyond the Hessian (the weights' count and sum),
        from the design summaries: no pass over the data."""
        s = self.design.summaries
        if s[0]["weight_total"] is None:
            return Meats(robust=None, opg=None)
        return Meats(robust=None, opg=None, n_positive=sum(x["n_positive"] for x in s),
                     weight_total=float(sum(x["weight_total"] for x in s)))

    def meats(self, theta: np.ndarray, free: np.ndarray, weight_type: str | None, *,
              cluster: bool = False, groups: Any = None) -> Meats:
        """The covariance meats summed over the partitions (see
        :class:`~choicekit.inference.covariance.Meats`). With ``cluster``, the scores of the
        groups that span partitions are added across partitions before their outer product,
        and the number of clusters is the global one."""
        split: list = []
        if cluster:
            if groups is not None and not isinstance(groups, str):
                raise SpecificationError(
                    "On distributed data `groups` must be a column name (or None for the "
                    "data's group): per-case values cannot be matched to the partitions.")
            table = self.design.data.split_groups(groups)
            if len(table) > MAX_SPLIT_GROUPS:
                raise ChoiceDataError(
                    f"{len(table)} clusters span several partitions (e.g. "
                    f"{list(table.index[:5])}); the cluster covariance adds their scores on "
                    f"the client up to {MAX_SPLIT_GROUPS}. Repartition by the cluster column "
                    "(ddf.shuffle(on=...)) or write the data sorted by it.")
            split = list(table.index)
        # a cluster column is read from the partitions' data (rebuilt from storage)
        parts = self._gather(partition_meats, theta, free, weight_type, groups, split, cluster,
                             with_data=cluster)
        robust = np.sum([p["robust"] for p in parts], axis=0)
        opg = np.sum([p["opg"] for p in parts], axis=0)
        n_pos = None if parts[0]["n_positive"] is None else sum(p["n_positive"] for p in parts)
        w_tot = None if parts[0]["weight_total"] is None else \
            float(sum(p["weight_total"] for p in parts))
        cl = None
        n_clusters = None
        if cluster:
            cl = np.sum([p["cluster"] for p in parts], axis=0)
            across: dict[Any, np.ndarray] = {}
            for p in parts:  # partition order
                for lab, s in p["split"].items():
                    across[lab] = across[lab] + s if lab in across else s.copy()
            for s in across.values():
                cl += np.outer(s, s)
            n_clusters = sum(p["n_whole_groups"] for p in parts) + len(across)
        return Meats(robust=robust, opg=opg, cluster=cl, n_clusters=n_clusters,
                     n_positive=n_pos, weight_total=w_tot)

    def map(self, func: Any, *args: Any, with_data: bool = False, **kwargs: Any) -> list:
        """``func(model, family, *args, **kwargs)`` on every partition's in-memory model and
        family, the results in partition order (post-estimation sums). With ``with_data``
        the model has its partition's data (rebuilt from storage for this call); otherwise
        only its design."""
        return self._gather(run_on_partition, func, *args, with_data=with_data, **kwargs)

    # -------------------------------------------------------------- diagnostics
    def diagnostics(self) -> dict[str, Any]:
        """Partitions, rows and bytes per worker, time per evaluation and the slowest
        partition's share of it."""
        d = self.design
        data_table = d.data._dist.table
        parts = pd.DataFrame({
            "rows": data_table["rows"].to_numpy(),
            "cases": [s["n_cases"] for s in d.summaries],
            "data_bytes": data_table["bytes"].to_numpy(),
            "design_bytes": [s["nbytes"] for s in d.summaries],
            "worker": [s["worker"] for s in d.summaries],
        }, index=pd.RangeIndex(len(d.summaries), name="partition"))
        per_worker = parts.groupby("worker")[["rows", "cases", "data_bytes",
                                              "design_bytes"]].sum()
        per_worker["partitions"] = parts.groupby("worker").size()
        ev = [e for e in self.evaluations if e["order"] >= 2] or self.evaluations
        if ev:
            wall = np.array([e["wall"] for e in ev])
            slow = np.array([max(e["partition_seconds"]) for e in ev])
            work = np.array([sum(e["partition_seconds"]) for e in ev])
            busiest = np.array([e["worker_seconds"] for e in ev])
            timing = {"evaluations": len(self.evaluations),
                      "seconds_per_iteration": float(wall.mean()),
                      "slowest_partition_seconds": float(slow.mean()),
                      "slowest_partition_share": float((slow / wall).mean()),
                      "busiest_worker_seconds": float(busiest.mean()),
                      "reduction_overhead_seconds": float((wall - busiest).mean()),
                      "partition_seconds_total": float(work.mean())}
        else:
            timing = {"evaluations": 0}
        return {"n_partitions": len(parts), "partitions": parts, "workers": per_worker,
                "timing": timing, "retries": self.retries}


def _is_lost_worker(exc: BaseException) -> bool:
    """Whether an exception from gather means a worker died (the work can be redone)."""
    name = type(exc).__name__
    return name in ("KilledWorker", "CommClosedError", "FutureCancelledError",
                    "CancelledError", "OSError", "StreamClosedError") or "lost" in str(exc)
