"""choicekit on Dask against Spark MLlib's multinomial logistic regression (not run in CI), on
the same parquet files of case-level data (``peers_dask/case_data.py``: 5 alternatives, 10
case characteristics, alternative-specific constants and coefficients, alternative 1 the
base; 44 parameters): the model both fit.

    python benchmarks/dask_vs_spark.py --cases 5000000 --partitions 10 \\
        --dir /work/scratch15 --spark-python /work/spark/bin/python

choicekit: ``ck.MNL.from_formula("CHOICE ~ 0 | z0 + ... + z9", data, reference=1)`` on
``ck.ChoiceData.from_dask(dd.read_parquet(files))`` on a LocalCluster of 2 worker processes
(one thread each); Spark: ``LogisticRegression(family="multinomial", regParam=0)`` with
``local[2]`` (``peers_dask/fit_spark.py``, its own Python). Each runs in a fresh process, one
after the other. Both times run from the parquet files to the estimates (choicekit's
``from_dask`` + design + fit with its classical covariance; Spark's read, feature assembly,
caching and L-BFGS). Prints one JSON line per tool and one comparing them: log-likelihoods
(recomputed from each tool's estimates by one numpy formula) and the largest difference of
the estimates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers_dask"))
import case_data  # noqa: E402


def _worker_facts() -> dict:
    import resource

    import psutil

    t = psutil.Process().cpu_times()
    return {"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "cpu": t.user + t.system}


def fit_choicekit(path: Path, workers: int, method: str = "newton") -> dict:
    """The choicekit record (runs in this process, with its own LocalCluster)."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import choicekit as ck

    files = sorted(str(p) for p in path.glob("part.*.parquet"))
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           memory_limit=0, dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    try:
        load0 = os.getloadavg()
        before = client.run(_worker_facts)
        t0 = time.perf_counter()
        data = ck.ChoiceData.from_dask(dd.read_parquet(files), layout="wide", choice="CHOICE",
                                       alternatives={j: j for j in range(1, case_data.J + 1)},
                                       case="case")
        model = ck.MNL.from_formula("CHOICE ~ 0 | " + " + ".join(case_data.Z), data,
                                    reference=1)
        _ = model.n_cases
        t_build = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = model.fit(method=method)
        _ = res.bse
        t_fit = time.perf_counter() - t1
        total = time.perf_counter() - t0
        after = client.run(_worker_facts)
        load1 = os.getloadavg()
        p = res.params
        asc = [float(p[f"ASC:{j}"]) for j in range(2, case_data.J + 1)]
        coef = [[float(p[f"{z}:{j}"]) for z in case_data.Z] for j in range(2, case_data.J + 1)]
        ll = case_data.loglike(files, np.r_[0.0, asc], np.vstack([np.zeros(case_data.P),
                                                                 coef]))
        return {"tool": "choicekit-dask", "version": ck.__version__, "workers": workers,
                "method": method, "evaluations": res.diagnostics["timing"]["evaluations"],
                "cases": int(res.nobs), "build_s": round(t_build, 2),
                "fit_s": round(t_fit, 2), "total_s": round(total, 2),
                "workers_cpu_s": round(sum(after[w]["cpu"] - before[w]["cpu"]
                                           for w in after), 1),
                "iterations": res.iterations,
                "s_per_iteration": round(res.diagnostics["timing"]["seconds_per_iteration"],
                                         3),
                "worker_peak_rss_gb": [round(after[w]["peak"] / 2**30, 2) for w in after],
                "llf": ll, "llf_reported": float(res.llf), "asc": asc, "coef": coef,
                "load_before": [round(x, 2) for x in load0],
                "load_after": [round(x, 2) for x in load1]}
    finally:
        client.close()
        cluster.close()


def _run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=5_000_000)
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--spark-python", default=None, help="a Python with pyspark")
    ap.add_argument("--spark-tol", type=float, default=1e-6)
    ap.add_argument("--method", default="newton",
                    help="choicekit's optimizer (fit(method=...)): newton (default), lbfgsb")
    ap.add_argument("--no-spark", action="store_true", help="choicekit only")
    ap.add_argument("--choicekit-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    path = case_data.write(Path(a.dir), a.cases, a.partitions)
    if a.choicekit_only:
        print(json.dumps(fit_choicekit(path, a.workers, a.method)), flush=True)
        return
    ck_rec = _run([sys.executable, __file__, "--choicekit-only", "--cases", str(a.cases),
                   "--partitions", str(a.partitions), "--workers", str(a.workers),
                   "--dir", a.dir, "--method", a.method])
    print(json.dumps(ck_rec), flush=True)
    if a.spark_python is None or a.no_spark:
        return
    sp = _run([a.spark_python, str(HERE / "peers_dask" / "fit_spark.py"), "--data", str(path),
               "--master", f"local[{a.workers}]", "--tol", str(a.spark_tol)])
    print(json.dumps(sp), flush=True)
    est = lambda r: np.r_[r["asc"], np.ravel(r["coef"])]  # noqa: E731
    truth = np.r_[case_data.ASC[1:], case_data.COEF[1:].ravel()]
    print(json.dumps({
        "llf_choicekit_minus_spark": ck_rec["llf"] - sp["llf"],
        "max_abs_estimate_difference": float(np.max(np.abs(est(ck_rec) - est(sp)))),
        "max_abs_error_vs_truth": {"choicekit": float(np.max(np.abs(est(ck_rec) - truth))),
                                   "spark": float(np.max(np.abs(est(sp) - truth)))},
        "spark_total_over_choicekit_total": round(sp["fit_s"] / ck_rec["total_s"], 2),
    }), flush=True)


if __name__ == "__main__":
    main()
