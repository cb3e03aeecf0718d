"""Distributed estimation benchmark (not run in CI): an MNL with 5 alternatives and 10 generic
attributes (plus 4 constants) fitted from parquet on a LocalCluster.

    python benchmarks/dask_scale.py --cases 20000000 --partitions 20 --workers 2
    python benchmarks/dask_scale.py --cases 20000000 --partitions 20 --workers 1 --files 10
    python benchmarks/dask_scale.py --cases 20000000 --partitions 20 --stream-cost

The first line is the 20-million-case run; with ``--files 10`` the same data's first 10 files
(10 million cases) on one worker: the weak-scaling pair at 10 million cases per worker
(``--weak N`` runs both, 1 worker x N then 2 workers x 2N, over one 2N-case data set).
``--stream-cost`` times, in this process on one file, what a pass would cost if partitions
were streamed from disk instead of held: read, validate, build the design, evaluate
(log-likelihood, score, Hessian), against the evaluation alone on the held design.

Reports (JSON lines): data build and design build times, fit time, iterations, seconds per
Newton iteration, the busiest worker's compute time and the reduction's overhead (iteration
wall time minus the busiest worker's compute), the workers' CPU seconds during the fit, the
robust covariance's time, the workers' resident and peak memory, the bytes of design held per
worker, partitions per worker, and the load average before and after. The parquet files are
written once per size under --dir (one file per partition, generated in pieces: bounded
memory).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

J, K = 5, 10
BETA = np.linspace(-1.0, 1.0, K)
ASC = np.array([0.0, 0.3, -0.2, 0.1, -0.4])


def write_parquet(root: Path, n_cases: int, partitions: int, seed: int = 0) -> Path:
    path = root / f"mnl_{n_cases}_{partitions}"
    if (path / "_done").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    per = -(-n_cases // partitions)
    for p in range(partitions):
        rng = np.random.default_rng([seed, p])
        n = min(per, n_cases - p * per)
        X = rng.standard_normal((n, J, K))
        U = X @ BETA + ASC + rng.gumbel(size=(n, J))
        cols = {"case": np.arange(p * per, p * per + n), "CHOICE": U.argmax(axis=1) + 1}
        for k in range(K):
            for j in range(J):
                cols[f"x{k}_{j + 1}"] = X[:, j, k]
        pd.DataFrame(cols).to_parquet(path / f"part.{p:04d}.parquet", index=False)
    (path / "_done").touch()
    return path


def utilities() -> dict:
    import choicekit as ck

    B, V = ck.Beta, ck.Var
    out = {}
    for j in range(1, J + 1):
        u = sum(B(f"b{k}") * V(f"x{k}_{j}") for k in range(K))
        out[j] = (B(f"asc{j}") + u) if j > 1 else u
    return out


KW = dict(layout="wide", choice="CHOICE", alternatives={j: j for j in range(1, J + 1)},
          case="case")


def _process_facts() -> dict:
    """Resident and peak memory, CPU seconds of the process this runs in (a worker)."""
    import resource

    import psutil

    p = psutil.Process()
    t = p.cpu_times()
    return {"rss": p.memory_info().rss,
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "cpu": t.user + t.system}


def _cpu_self() -> float:
    t = os.times()
    return t.user + t.system


def run(n_cases: int, workers: int, partitions: int, root: Path, files: int | None) -> dict:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import choicekit as ck

    path = write_parquet(root, n_cases, partitions)
    paths = sorted(str(p) for p in path.glob("part.*.parquet"))[:files]
    load0 = os.getloadavg()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           memory_limit=0, dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    try:
        t0 = time.perf_counter()
        data = ck.ChoiceData.from_dask(dd.read_parquet(paths), **KW)
        t_data = time.perf_counter() - t0
        model = ck.MNL(data, utilities())
        t0 = time.perf_counter()
        _ = model.n_cases  # builds the partitions' designs
        t_design = time.perf_counter() - t0
        before = client.run(_process_facts)
        c0 = _cpu_self()
        t0 = time.perf_counter()
        res = model.fit()
        t_fit = time.perf_counter() - t0
        c_fit = _cpu_self() - c0
        after = client.run(_process_facts)
        t0 = time.perf_counter()
        _ = res.with_cov("robust").bse
        t_robust = time.perf_counter() - t0
        t0 = time.perf_counter()
        shares = res.predicted_shares()
        t_shares = time.perf_counter() - t0
        end = client.run(_process_facts)
        diag = res.diagnostics
        tm = diag["timing"]
        per_worker = diag["workers"]
        err = float(np.max(np.abs(res.params.to_numpy()[:K] - BETA)))
        gb = 2.0**30
        return {
            "cases": int(res.nobs), "workers": workers, "partitions": len(paths),
            "build_data_s": round(t_data, 1), "build_design_s": round(t_design, 1),
            "fit_s": round(t_fit, 2), "iterations": res.iterations,
            "evaluations": tm["evaluations"],
            "s_per_iteration": round(tm["seconds_per_iteration"], 3),
            "slowest_partition_s": round(tm["slowest_partition_seconds"], 3),
            "busiest_worker_s": round(tm["busiest_worker_seconds"], 3),
            "reduction_overhead_s": round(tm["reduction_overhead_seconds"], 3),
            "partition_seconds_total": round(tm["partition_seconds_total"], 3),
            "fit_worker_cpu_s": [round(after[w]["cpu"] - before[w]["cpu"], 1) for w in after],
            "fit_client_cpu_s": round(c_fit, 2),
            "robust_cov_s": round(t_robust, 1), "shares_s": round(t_shares, 1),
            "worker_rss_after_fit_gb": [round(after[w]["rss"] / gb, 2) for w in after],
            "worker_peak_rss_gb": [round(end[w]["peak"] / gb, 2) for w in end],
            "design_gb_per_worker": [round(v / gb, 2) for v in per_worker["design_bytes"]],
            "partitions_per_worker": [int(v) for v in per_worker["partitions"]],
            "validated_data_gb": round(float(per_worker["data_bytes"].sum()) / gb, 2),
            "llf": round(float(res.llf), 3),
            "max_abs_error_vs_truth": round(err, 4),
            "share_1": round(float(shares["share"].iloc[0]), 5),
            "load_before": [round(x, 2) for x in load0],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        client.close()
        cluster.close()


def stream_cost(n_cases: int, partitions: int, root: Path, repeats: int = 3) -> dict:
    """One file: what a streamed pass would do (read, validate, design, evaluate) against
    the evaluation on a held design, in this process (one thread)."""
    import choicekit as ck

    path = write_parquet(root, n_cases, partitions)
    file = sorted(path.glob("part.*.parquet"))[0]
    kw = {k: v for k, v in KW.items() if k != "layout"}
    times: dict[str, list[float]] = {"read": [], "validate": [], "design": [], "pass": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        pdf = pd.read_parquet(file)
        t1 = time.perf_counter()
        data = ck.ChoiceData.from_wide(pdf, **kw)
        t2 = time.perf_counter()
        model = ck.MNL(data, utilities())
        t3 = time.perf_counter()
        fam = model.family(**model._fit_options(None, 1))
        theta = np.zeros(model.design.n_params)
        free = np.ones(len(theta), dtype=bool)
        fam.fast_sums(theta, 2, free)
        t4 = time.perf_counter()
        times["read"].append(t1 - t0)
        times["validate"].append(t2 - t1)
        times["design"].append(t3 - t2)
        times["pass"].append(t4 - t3)
        del pdf, data, model, fam
    n = int(pd.read_parquet(file, columns=["case"]).shape[0])
    med = {k: float(np.median(v)) for k, v in times.items()}
    per_m = {f"{k}_s_per_million": round(v / n * 1e6, 3) for k, v in med.items()}
    streamed = sum(med.values())
    return {"file_cases": n, **per_m,
            "streamed_pass_over_held_pass": round(streamed / med["pass"], 1),
            "load": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=2_000_000, help="cases of the data set")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8, help="files of the data set")
    ap.add_argument("--files", type=int, default=None,
                    help="fit only the first FILES files of the data set")
    ap.add_argument("--weak", type=int, default=None,
                    help="cases per worker: 1 worker x N (the first half of the files of a "
                         "2N-case data set), then 2 workers x 2N")
    ap.add_argument("--stream-cost", action="store_true",
                    help="time a streamed pass against a held one on one file, no cluster")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp") + "/choicekit-dask-bench")
    args = ap.parse_args()
    root = Path(args.dir)
    if args.stream_cost:
        rows = [stream_cost(args.cases, args.partitions, root)]
    elif args.weak:
        rows = [run(2 * args.weak, 1, args.partitions, root, args.partitions // 2),
                run(2 * args.weak, 2, args.partitions, root, None)]
    else:
        rows = [run(args.cases, args.workers, args.partitions, root, args.files)]
    for r in rows:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
