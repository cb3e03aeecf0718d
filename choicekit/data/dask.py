"""Choice data on a Dask cluster: partitions validated on the workers, straight from storage.

:func:`from_dask` turns a Dask DataFrame (from ``dask.dataframe.read_parquet``, ``read_csv``,
...) into a :class:`DaskChoiceData`. Each partition is read and validated by a task on a worker
(the in-memory :meth:`ChoiceData.from_wide` / :meth:`ChoiceData.from_long` checks, run on that
partition's rows); the client gathers only small facts (cases, alternatives, errors, a
template) and never holds or scatters the data.

The validated data are **not held** on the workers: a model built on them
(:mod:`choicekit.estimation.dask`) rebuilds each partition from storage in the task that
builds its design, and keeps only the design (what the likelihood needs: the design columns,
choices, availability, weights), about half the memory of data plus design. Post-estimation
that needs the data's columns (segments, elasticities, scenarios, cluster columns) rebuilds
them the same way, once per call. Because every partition is computed from the read tasks,
the scheduler can rebuild one lost with its worker from storage.

Placement: partition ``i`` is built on worker ``i mod n`` of the workers sorted by address
(loosely: elsewhere when that worker is gone), so that the partitions, and the work of each
evaluation, are balanced over the workers.

Whole cases per partition: a wide row is a case; long rows of one case must share a partition
(checked, unless the frame is indexed by the case column with known divisions, which
guarantees it). Groups (``group=``, for cluster covariances) may span partitions: the
partitions they span are found once, here, and the cluster covariance adds their scores
across partitions exactly.

The client keeps a small *template* (the first cases of the first partition) for everything a
model asks of the data before it is built on the workers: the alternatives, the variables,
the columns' roles.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import check_option, first_cases, label_list
from choicekit.data.choicedata import WEIGHT_TYPES, ChoiceData
from choicekit.data.layouts import _ordered_labels, read_long
from choicekit.exceptions import ChoiceDataError, DataWarning

__all__ = ["DaskChoiceData", "from_dask", "get_client", "placement", "compute_placed",
           "release_unused_memory", "LAYOUT_KEYWORDS"]

#: keywords of ``from_dask`` by layout (those of ``from_wide`` / ``from_long``)
LAYOUT_KEYWORDS = {
    "wide": ("choice", "alternatives", "availability", "variables", "weight", "group", "case",
             "invalid"),
    "long": ("case", "alt", "choice", "availability", "weight", "group", "invalid"),
}
#: cases kept in the client's template
TEMPLATE_CASES = 20
#: groups spanning partitions handled exactly by the cluster covariance; beyond that, refuse
MAX_SPLIT_GROUPS = 100_000


def get_client(client: Any = None) -> Any:
    """The given client, else the current ``dask.distributed`` client (a clear error if none)."""
    if client is not None:
        return client
    try:
        from distributed import get_client as current
    except ImportError:  # pragma: no cover - exercised without dask
        raise ImportError("Distributed estimation needs dask.distributed: "
                          'pip install "choicekit[distributed]".') from None
    try:
        return current()
    except ValueError:
        raise ChoiceDataError(
            "No dask.distributed Client is running: start one first (e.g. "
            "`from distributed import Client; client = Client()`, or Client(address) for a "
            "cluster), or pass `client=`.") from None


def placement(client: Any, n_partitions: int) -> list[str | None]:
    """The worker of each partition: partition ``i`` on worker ``i mod n`` of the current
    workers sorted by address (balanced; the same plan for the same workers)."""
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        return [None] * n_partitions
    return [workers[i % len(workers)] for i in range(n_partitions)]


def compute_placed(client: Any, tasks: Sequence[Any], where: Sequence[str | None]) -> list:
    """Futures of delayed ``tasks``, each computed (its read tasks included) on its planned
    worker, loosely: on another one if that worker is gone.

    A worker is given no more tasks at once than it has threads, the next when one ends:
    loosely placed tasks queued on a worker are stolen by idle ones (measured under load: 5
    partitions on one worker and 3 on the other), and one read in flight per thread bounds
    a worker's memory for reading to one partition's."""
    from distributed import as_completed

    info = client.scheduler_info()["workers"]
    futures: list = [None] * len(tasks)
    queues: dict[str | None, list[int]] = {}
    for i, w in enumerate(where):
        queues.setdefault(w if w in info else None, []).append(i)
    queues = {w: q[::-1] for w, q in queues.items()}  # pop() takes the first
    if None in queues:  # no plan for these: the scheduler places them
        for i in queues.pop(None):
            futures[i] = client.compute(tasks[i])
    pending = as_completed()
    owner: dict[str, str] = {}

    def submit(w: str) -> None:
        i = queues[w].pop()
        futures[i] = client.compute(tasks[i], workers=[w], allow_other_workers=True)
        owner[futures[i].key] = w
        pending.add(futures[i])

    for w in queues:
        for _ in range(min(len(queues[w]), max(1, int(info[w].get("nthreads", 1))))):
            submit(w)
    for done in pending:
        w = owner.pop(done.key)
        if queues[w]:
            submit(w)
    return futures


# ---------------------------------------------------------------------- worker side
@dataclass
class Partition:
    """One partition rebuilt from storage: its number and validated data (or the error)."""

    number: int
    data: ChoiceData | None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    n_rows: int = 0


def release_unused_memory() -> None:
    """Give the memory that frames read from storage freed back to the system.

    Parquet partitions are read into Arrow's memory pool (mimalloc or jemalloc), which keeps
    freed memory for reuse: without this, a worker whose validated data were released stays
    at the resident size of everything it has read (measured: 2.16 GB where the designs and
    the process need 0.97 GB, at 2 million cases). Called by the worker tasks that read,
    before and after their work."""
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()


def build_partition(pdf: pd.DataFrame, number: int, layout: str, kwargs: dict[str, Any],
                    alternatives: list[Hashable] | None) -> Partition:
    """Validate one partition into a ChoiceData (the task that runs on a worker)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            if layout == "wide":
                data = ChoiceData.from_wide(pdf, **kwargs)
            else:
                k = kwargs
                data = ChoiceData(**read_long(
                    pdf, k["case"], k["alt"], k.get("choice"), k.get("availability"),
                    k.get("weight"), k.get("group"), k.get("invalid", "raise"),
                    alternatives=alternatives))
        except ChoiceDataError as exc:
            return Partition(number, None, str(exc), n_rows=len(pdf))
    return Partition(number, data, None, [str(w.message) for w in caught], len(pdf))


def partition_summary(part: Partition) -> dict[str, Any]:
    """Small facts about a partition, gathered by the client."""
    release_unused_memory()
    out: dict[str, Any] = {"number": part.number, "error": part.error, "rows": part.n_rows,
                           "warnings": part.warnings}
    try:
        from distributed import get_worker

        out["worker"] = get_worker().address
    except (ImportError, ValueError):  # pragma: no cover - run outside a worker
        out["worker"] = None
    d = part.data
    if d is None:
        return out
    w = d.weight_array
    out.update(
        n_cases=d.n_cases, alternatives=d.alternatives, has_choice=d.has_choice,
        weighted=w is not None,
        integer_weights=bool(w is None or np.all(w == np.round(w))),
        dropped=list(d.dropped_cases[:5]), n_dropped=len(d.dropped_cases),
        nbytes=_nbytes(d),
        template=d.take(np.arange(min(d.n_cases, TEMPLATE_CASES))) if part.number == 0
        else None)
    return out


def _nbytes(d: ChoiceData) -> int:
    """Bytes of a partition's data (frames deep, arrays)."""
    total = 0
    for name in ("_long_frame", "_case_frame"):
        f = getattr(d, name)
        if f is not None:
            total += int(f.memory_usage(deep=True, index=True).sum())
    for name in ("_avail", "_chosen", "_weight", "_group", "_long_pos"):
        a = getattr(d, name)
        if a is not None:
            total += a.nbytes
    return total


def _keys_of_partition(pdf: pd.DataFrame, column: str, number: int) -> pd.DataFrame:
    """The distinct values of a column in one partition, tagged with the partition."""
    keys = pd.unique(pdf[column].to_numpy())
    return pd.DataFrame({"key": keys, "part": np.full(len(keys), number, dtype=np.int64)})


# ---------------------------------------------------------------------- client side
def spanning_keys(ddf: Any, column: str) -> pd.DataFrame:
    """Values of ``column`` found in more than one partition: a frame indexed by value with
    the first and last partition (``first``, ``last``) and the number of partitions (``n``).
    Computed on the workers (a tree reduction over the partitions' distinct values)."""
    import dask
    import dask.dataframe as dd

    meta = pd.DataFrame({"key": pd.Series([], dtype=ddf[column].dtype),
                         "part": pd.Series([], dtype=np.int64)})
    parts = ddf[[column]].to_delayed()
    tagged = dd.from_delayed([dask.delayed(_keys_of_partition)(p, column, i)
                              for i, p in enumerate(parts)], meta=meta, verify_meta=False)
    stats = tagged.groupby("key")["part"].agg(["min", "max", "count"])
    stats = stats.rename(columns={"min": "first", "max": "last", "count": "n"})
    split = stats[stats["n"] > 1]
    return split.compute().sort_index()


class DaskChoiceData(ChoiceData):
    """Choice data on a Dask cluster: partitions validated on the workers, rebuilt from
    storage by the tasks that need them.

    Built by :meth:`ChoiceData.from_dask`. A model built on it (``ck.MNL(data, utilities)``)
    builds its design on the workers, partition by partition from storage, keeps only the
    designs there, and fits with one reduction of the partitions' sums per evaluation
    (:mod:`choicekit.estimation.dask`).

    Attributes
    ----------
    n_partitions : int
    partitions : pandas.DataFrame
        One row per partition: rows, cases, bytes of its validated data and the worker that
        validated it.
    """

    __slots__ = ("_dist",)

    def __init__(self, template: ChoiceData, dist: _Distributed) -> None:
        t = template
        super().__init__(cases=t._cases, alternatives=t._alts, avail=t._avail,
                         chosen=t._chosen, weight=t._weight, group=t._group,
                         group_labels=t._group_labels, long_frame=t._long_frame,
                         long_pos=t._long_pos, long_cache=t._long_cache,
                         case_frame=t._case_frame, layout=t._layout, meta=t._meta,
                         sets=t._sets)
        self._dist = dist

    # ---------------------------------------------------------------- what differs
    @property
    def n_cases(self) -> int:
        return self._dist.n_cases

    @property
    def n_partitions(self) -> int:
        return len(self._dist.sources)

    @property
    def partitions(self) -> pd.DataFrame:
        return self._dist.table.copy()

    @property
    def client(self) -> Any:
        return self._dist.client

    @property
    def dropped_cases(self) -> pd.Index:
        return self._dist.dropped

    @property
    def weight_type(self) -> str | None:
        return self._dist.weight_type

    @property
    def weight_type_inferred(self) -> bool:
        return self._dist.weight_type is not None and self._dist.weight_type_inferred

    def with_weight_type(self, weight_type: str) -> DaskChoiceData:
        check_option("weight_type", weight_type, WEIGHT_TYPES, ChoiceDataError)
        if self._dist.weight_type is None:
            raise ChoiceDataError("These data have no weights; build them with `weight=` to "
                                  "give weights a meaning.")
        dist = self._dist.replace(weight_type=weight_type, weight_type_inferred=False)
        return DaskChoiceData(self._template, dist)

    @property
    def _template(self) -> ChoiceData:
        return self._dist.template

    def split_groups(self, column: str | None = None) -> pd.DataFrame:
        """Groups (default: the data's ``group`` column) found in more than one partition,
        with the first and last partition of each (found once per column, on the workers)."""
        col = self._dist.kwargs.get("group") if column is None else column
        if col is None:
            raise ChoiceDataError("These data have no `group=` column; name one.")
        cache = self._dist.split_cache
        if col not in cache:
            cache[col] = spanning_keys(self._dist.ddf, col)
        return cache[col]

    def __repr__(self) -> str:
        return (f"DaskChoiceData({self.n_cases} cases, {self.n_alts} alternatives, "
                f"{self.n_partitions} partitions, layout={self.layout!r})")

    def _not_here(self, what: str) -> ChoiceDataError:
        return ChoiceDataError(
            f"{what} is not available on distributed data (the cases stay on the Dask "
            "workers). Fit the model, then use the results' map-reduce methods "
            "(predicted_shares, elasticities, scenario, hit_rate, ...), or collect a sample "
            "with ddf.sample(...).compute() and ck.ChoiceData.from_wide/from_long.")

    @property
    def cases(self) -> pd.Index:
        raise self._not_here("`cases`")

    @property
    def chosen(self) -> pd.Series | None:
        raise self._not_here("`chosen`")

    @property
    def availability(self) -> pd.DataFrame:
        raise self._not_here("`availability`")

    @property
    def weight(self) -> pd.Series | None:
        raise self._not_here("`weight`")

    @property
    def group(self) -> pd.Series | None:
        raise self._not_here("`group`")

    def variable(self, name: str) -> np.ndarray:
        raise self._not_here(f"variable({name!r})")

    def take(self, index: np.ndarray) -> ChoiceData:
        raise self._not_here("take()")

    def with_chosen(self, chosen: np.ndarray) -> ChoiceData:
        raise self._not_here("with_chosen()")

    def sample_alternatives(self, n: int, *, rng: Any = None, weights: Any = None) -> Any:
        raise self._not_here("sample_alternatives()")

    def with_variables(self, values: Mapping[str, Any]) -> Any:
        raise self._not_here("with_variables() (pass the changes to res.scenario instead)")

    def restrict_alternatives(self, alternatives: Sequence[Hashable]) -> Any:
        raise self._not_here("restrict_alternatives()")


@dataclass
class _Distributed:
    """The distributed side of a DaskChoiceData."""

    client: Any
    ddf: Any
    #: per partition, the delayed validated :class:`Partition` (read from storage)
    sources: list
    layout: str
    kwargs: dict[str, Any]
    n_cases: int
    table: pd.DataFrame
    template: ChoiceData
    dropped: pd.Index
    weight_type: str | None
    weight_type_inferred: bool
    split_cache: dict = field(default_factory=dict)

    def replace(self, **changes: Any) -> _Distributed:
        d = dict(self.__dict__)
        d.update(changes)
        return _Distributed(**d)


def from_dask(ddf: Any, layout: str = "wide", *, client: Any = None, shuffle: bool = False,
              weight_type: str | None = None, **kwargs: Any) -> DaskChoiceData:
    """See :meth:`choicekit.ChoiceData.from_dask`."""
    client = get_client(client)
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover
        raise ImportError('from_dask needs dask: pip install "choicekit[distributed]".') from None
    if not isinstance(ddf, dd.DataFrame):
        raise ChoiceDataError(f"`ddf` must be a dask DataFrame (dask.dataframe.read_parquet, "
                              f"from_pandas, ...). Got {type(ddf).__name__}.")
    check_option("layout", layout, tuple(LAYOUT_KEYWORDS), ChoiceDataError)
    unknown = sorted(set(kwargs) - set(LAYOUT_KEYWORDS[layout]))
    if unknown:
        raise ChoiceDataError(f"Unknown keywords {unknown} for layout={layout!r}; the "
                              f"keywords are those of from_{layout}: "
                              f"{list(LAYOUT_KEYWORDS[layout])}.")
    if weight_type is not None:
        check_option("weight_type", weight_type, WEIGHT_TYPES, ChoiceDataError)
    case = kwargs.get("case")
    if layout == "wide" and "alternatives" not in kwargs:
        raise ChoiceDataError("layout='wide' needs `alternatives=` ({code: name}).")
    if layout == "wide":
        kwargs.setdefault("choice", None)
    if layout == "long":
        for key in ("case", "alt"):
            if kwargs.get(key) is None:
                raise ChoiceDataError(f"layout='long' needs `{key}=` (the {key} column).")
    columns = [c for k, c in kwargs.items() if k in ("case", "alt", "choice", "availability",
                                                     "weight", "group")
               and isinstance(c, str)]
    missing = [c for c in columns if c not in ddf.columns and c != ddf.index.name]
    if missing:
        raise ChoiceDataError(f"Columns {missing} are not in the Dask frame; its columns are "
                              f"{list(ddf.columns)}.")
    if shuffle and case is not None:
        # every row of a case in one partition (hash partitioning), in a fixed order within
        # each partition so that the sums do not depend on how the shuffle delivered them
        ddf = ddf.shuffle(on=case).map_partitions(
            lambda p: p.sort_values(case, kind="stable"))
    alternatives = None
    if layout == "long":
        found = ddf[kwargs["alt"]].drop_duplicates().compute()
        alternatives, _ = _ordered_labels(pd.Index(found.dropna()))
    if case is not None and not _whole_by_index(ddf, case):
        split = spanning_keys(ddf, case)
        if len(split):
            what = ("rows of the same case" if layout == "long"
                    else "the same case id (repeated)")
            ex = ", ".join(f"{k!r} (partitions {r.first}..{r.last})"
                           for k, r in split.head(5).iterrows())
            raise ChoiceDataError(
                f"{len(split)} cases have {what} in several partitions, e.g. {ex}. Every case "
                "must lie whole in one partition: pass shuffle=True (a hash shuffle by case), "
                f"or write the data sorted by {case!r} and index it "
                f"(ddf.set_index({case!r}, sorted=True) gives known divisions)"
                + (" — or give the repeated wide rows distinct case ids." if layout == "wide"
                   else "."))
    if isinstance(ddf.index, dd.Index) and case is not None and ddf.index.name == case \
            and case not in ddf.columns:
        ddf = ddf.reset_index()
    import dask

    # the validated partitions, as tasks from storage: run here for their summaries and
    # again by the model that builds its designs from them; never held
    sources = [dask.delayed(build_partition, pure=True)(p, i, layout, dict(kwargs),
                                                        alternatives)
               for i, p in enumerate(ddf.to_delayed())]
    summary_tasks = [dask.delayed(partition_summary, pure=False)(s) for s in sources]
    summaries = client.gather(compute_placed(client, summary_tasks,
                                             placement(client, len(sources))))
    bad = [s for s in summaries if s["error"] is not None]
    if bad:
        listing = "\n".join(f"partition {s['number']} ({s['rows']} rows): {s['error']}"
                            for s in bad[:5])
        more = f"\n... and {len(bad) - 5} more partitions" if len(bad) > 5 else ""
        raise ChoiceDataError(f"{len(bad)} of {len(summaries)} partitions hold invalid data:\n"
                              f"{listing}{more}")
    alts0 = summaries[0]["alternatives"]
    for s in summaries:
        if label_list(s["alternatives"]) != label_list(alts0):
            raise ChoiceDataError(f"Partition {s['number']} has alternatives "
                                  f"{s['alternatives']}, partition 0 {alts0}.")
        for msg in s["warnings"]:
            warnings.warn(f"partition {s['number']}: {msg}", DataWarning, stacklevel=3)
    has_choice = {s["has_choice"] for s in summaries}
    weighted = {s["weighted"] for s in summaries}
    if len(has_choice) > 1 or len(weighted) > 1:  # pragma: no cover - same keywords everywhere
        raise ChoiceDataError("Partitions disagree on choices or weights.")
    if weight_type is not None and not weighted.pop():
        raise ChoiceDataError(f"`weight_type={weight_type!r}` was given without weights; pass "
                              "the weight column as `weight=`, or drop `weight_type`.")
    inferred = False
    if summaries[0]["weighted"] and weight_type is None:
        inferred = True
        weight_type = ("frequency" if all(s["integer_weights"] for s in summaries)
                       else "sampling")
    dropped = [c for s in summaries for c in s["dropped"]]
    table = pd.DataFrame({
        "rows": [s["rows"] for s in summaries], "cases": [s["n_cases"] for s in summaries],
        "bytes": [s["nbytes"] for s in summaries], "worker": [s["worker"] for s in summaries],
    }, index=pd.RangeIndex(len(summaries), name="partition"))
    template = summaries[0]["template"]
    dist = _Distributed(client, ddf, sources, layout, dict(kwargs),
                        int(table["cases"].sum()), table, template,
                        pd.Index(dropped, name=case), weight_type, inferred)
    if sum(s["n_dropped"] for s in summaries) > len(dropped):
        dist.dropped = pd.Index(dropped, name=case)  # the first few of each partition
    return DaskChoiceData(template, dist)


def _whole_by_index(ddf: Any, case: str) -> bool:
    """Whether the frame's index is the case column with known divisions (so a case lies in
    one partition)."""
    return bool(ddf.known_divisions and ddf.index.name == case and case not in ddf.columns)


def describe_cases(ids: Sequence[Any]) -> str:
    return first_cases(pd.Index(list(ids)))
