"""Distributed estimation benchmark (not run in CI): an MNL with 5 alternatives and 10 generic
attributes (plus 4 constants) fitted from parquet on a LocalCluster.

    python benchmarks/dask_scale.py --cases 4000000 --workers 2 --partitions 8
    python benchmarks/dask_scale.py --weak 2000000     # 1 worker x N, then 2 workers x 2N

Reports: data build time, fit time, iterations, seconds per Newton iteration, the slowest
partition's compute time and the reduction's overhead (iteration wall time minus the busiest
worker's compute time), and the resident memory of each worker after the fit. The parquet
files are written once per size under --dir (one file per partition, generated in pieces:
bounded memory).
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


def run(n_cases: int, workers: int, partitions: int, root: Path) -> dict:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import choicekit as ck

    path = write_parquet(root, n_cases, partitions)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           memory_limit=0, dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    try:
        t0 = time.perf_counter()
        data = ck.ChoiceData.from_dask(dd.read_parquet(path), layout="wide", choice="CHOICE",
                                       alternatives={j: j for j in range(1, J + 1)},
                                       case="case")
        t_data = time.perf_counter() - t0
        model = ck.MNL(data, utilities())
        t0 = time.perf_counter()
        _ = model.n_cases  # builds the partitions' designs
        t_design = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = model.fit()
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        _ = res.with_cov("robust").bse
        t_robust = time.perf_counter() - t0
        diag = res.diagnostics
        tm = diag["timing"]

        def rss() -> int:
            import psutil

            return psutil.Process().memory_info().rss

        mem = client.run(rss)
        err = float(np.max(np.abs(res.params.to_numpy()[:K] - BETA)))
        return {
            "cases": n_cases, "workers": workers, "partitions": partitions,
            "build_data_s": round(t_data, 2), "build_design_s": round(t_design, 2),
            "fit_s": round(t_fit, 2), "iterations": res.iterations,
            "evaluations": tm["evaluations"],
            "s_per_iteration": round(tm["seconds_per_iteration"], 4),
            "slowest_partition_s": round(tm["slowest_partition_seconds"], 4),
            "busiest_worker_s": round(tm["busiest_worker_seconds"], 4),
            "reduction_overhead_s": round(tm["reduction_overhead_seconds"], 4),
            "robust_cov_s": round(t_robust, 2),
            "worker_rss_gb": [round(v / 2**30, 2) for v in mem.values()],
            "design_gb_per_worker": [round(v / 2**30, 2) for v in
                                     diag["workers"]["design_bytes"]],
            "data_gb_per_worker": [round(v / 2**30, 2) for v in diag["workers"]["data_bytes"]],
            "max_abs_error_vs_truth": round(err, 4),
        }
    finally:
        client.close()
        cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=2_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--weak", type=int, default=None,
                    help="cases per worker: run 1 worker x N and 2 workers x 2N")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp") + "/choicekit-dask-bench")
    args = ap.parse_args()
    root = Path(args.dir)
    if args.weak:
        rows = [run(args.weak, 1, args.partitions // 2, root),
                run(2 * args.weak, 2, args.partitions, root)]
    else:
        rows = [run(args.cases, args.workers, args.partitions, root)]
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
