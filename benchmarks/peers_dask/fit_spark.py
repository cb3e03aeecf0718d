"""Spark MLlib's multinomial logistic regression on the case-level data of ``case_data.py``
(run with a Python that has pyspark; never a dependency of choicekit), one JSON line out.

    /work/spark/bin/python benchmarks/peers_dask/fit_spark.py --data DIR [--master local[2]]

``LogisticRegression(family="multinomial", regParam=0)``: softmax over the 5 classes with an
intercept and 10 coefficients per class and no pivot class; with no regularization MLlib
reports mean-centred coefficients (identified only up to a per-feature shift across
classes), so the record gives each class's intercept and coefficients *minus class 1's*,
which is the MNL's parametrisation with alternative 1 as the base. Timed: ``lr.fit`` on the
parquet files (reading, assembling the feature vectors and MLlib's caching included, as a
user runs it), wall and the JVM's CPU seconds; the JVM's peak resident memory sampled every
0.1 s. The log-likelihood is recomputed from the estimates with ``case_data.loglike`` (numpy,
untimed), as for choicekit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import case_data  # noqa: E402


def _jvm() -> psutil.Process:
    kids = [p for p in psutil.Process().children(recursive=True) if "java" in p.name()]
    return kids[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder of case_data.py's parquet files")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--tol", type=float, default=1e-6, help="MLlib's tol (its default 1e-6)")
    ap.add_argument("--max-iter", type=int, default=100, help="MLlib's maxIter (default 100)")
    a = ap.parse_args()
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    spark = (SparkSession.builder.master(a.master).appName("choicekit-bench")
             .config("spark.driver.memory", a.driver_memory)
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    t_start = time.perf_counter() - t0
    files = sorted(str(p) for p in Path(a.data).glob("part.*.parquet"))
    jvm = _jvm()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], jvm.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    load0 = os.getloadavg()
    c0 = sum(jvm.cpu_times()[:2])
    t0 = time.perf_counter()
    df = spark.read.parquet(*files)
    df = VectorAssembler(inputCols=case_data.Z, outputCol="features").transform(df)
    df = df.withColumn("label", (F.col("CHOICE") - 1).cast("double"))
    lr = LogisticRegression(family="multinomial", regParam=0.0, elasticNetParam=0.0,
                            tol=a.tol, maxIter=a.max_iter, fitIntercept=True)
    model = lr.fit(df)
    t_fit = time.perf_counter() - t0
    cpu = sum(jvm.cpu_times()[:2]) - c0
    load1 = os.getloadavg()
    stop.set()
    iters = model.summary.totalIterations
    history = list(model.summary.objectiveHistory)
    n = df.count()
    coef = model.coefficientMatrix.toArray()          # (J, P), centred over classes
    icpt = model.interceptVector.toArray()            # (J,)
    spark.stop()
    coef_b, icpt_b = coef - coef[0], icpt - icpt[0]   # against alternative 1
    ll = case_data.loglike(files, icpt_b, coef_b)
    print(json.dumps({
        "tool": "spark-mllib", "version": __import__("pyspark").__version__,
        "master": a.master, "cases": n, "tol": a.tol, "max_iter": a.max_iter,
        "session_start_s": round(t_start, 1), "fit_s": round(t_fit, 2),
        "fit_jvm_cpu_s": round(cpu, 1), "iterations": iters,
        "jvm_peak_rss_gb": round(peak[0] / 2**30, 2),
        "llf": ll, "llf_from_objective": -history[-1] * n,
        "asc": icpt_b[1:].tolist(), "coef": coef_b[1:].tolist(),
        "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in load1],
    }), flush=True)


if __name__ == "__main__":
    main()
