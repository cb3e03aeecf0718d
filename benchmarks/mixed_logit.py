"""Mixed logit workloads: Electricity (361 persons x 12 choices x 4 alternatives, 6 normal
coefficients, panel) at 100 and 500 Halton draws, and a synthetic panel of 20,000 persons x 10
choices x 4 alternatives with 4 random and 2 fixed coefficients at 200 draws.

Run: ``python benchmarks/mixed_logit.py [--skip-synthetic] [--data DIR]``. Prints wall time of
``fit()`` (MNL start, BFGS, Newton polish, covariance) and the peak resident memory of the
process (``resource.getrusage``), each workload in a fresh subprocess so peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

VARS = ["pf", "cl", "loc", "wk", "tod", "seas"]


def electricity(R: int, data_dir: str) -> dict:
    import choicekit as ck

    df = pd.read_csv(Path(data_dir) / "electricity.csv")
    df["case"] = np.arange(len(df))
    data = ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={j: str(j) for j in range(1, 5)},
        variables={v: {str(j): f"{v}{j}" for j in range(1, 5)} for v in VARS}, group="id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ck.MixedLogit.from_formula("choice ~ pf + cl + loc + wk + tod + seas | 0", data,
                                       random={v: "n" for v in VARS}, n_draws=R)
        m.loglike(m.mnl_start())  # draws and scipy.stats import outside the timing
        t = time.perf_counter()
        res = m.fit()
    return {"seconds": time.perf_counter() - t, "loglike": res.llf, "iterations": res.iterations,
            "converged": res.converged}


def synthetic(R: int, persons: int = 20_000, T: int = 10, J: int = 4) -> dict:
    import choicekit as ck

    rng = np.random.default_rng(0)
    n = persons * T
    X = rng.normal(size=(6, n, J))
    means = np.array([1.0, -1.0, 0.5, -0.5, 0.8, -0.3])
    sds = np.array([0.8, 0.5, 0.6, 0.4, 0.0, 0.0])
    beta = means + sds * rng.normal(size=(persons, 6))
    bp = np.repeat(beta, T, axis=0)
    U = np.einsum("knj,nk->nj", X, bp) + rng.gumbel(size=(n, J))
    chosen = U.argmax(axis=1)
    cols = {f"x{k}_{j}": X[k, :, j] for k in range(6) for j in range(J)}
    df = pd.DataFrame(cols)
    df["choice"] = chosen
    df["pid"] = np.repeat(np.arange(persons), T)
    data = ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={j: f"a{j}" for j in range(J)},
        variables={f"x{k}": {f"a{j}": f"x{k}_{j}" for j in range(J)} for k in range(6)},
        group="pid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ck.MixedLogit.from_formula("choice ~ x0 + x1 + x2 + x3 + x4 + x5 | 0", data,
                                       random={f"x{k}": "n" for k in range(4)}, n_draws=R)
        m.loglike(m.mnl_start())
        t = time.perf_counter()
        res = m.fit()
    return {"seconds": time.perf_counter() - t, "loglike": res.llf, "iterations": res.iterations,
            "converged": res.converged}


def _child(which: str, R: int, data_dir: str) -> None:
    out = electricity(R, data_dir) if which == "electricity" else synthetic(R)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("CHOICEKIT_DATA", "../shared/data"))
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--child", nargs=2)
    a = ap.parse_args()
    if a.child:
        _child(a.child[0], int(a.child[1]), a.data)
        return
    runs = [("electricity", 100), ("electricity", 500)]
    if not a.skip_synthetic:
        runs.append(("synthetic", 200))
    for which, R in runs:
        r = subprocess.run([sys.executable, __file__, "--data", a.data, "--child", which,
                            str(R)], capture_output=True, text=True, check=True)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{which:12s} R={R:4d}  fit {res['seconds']:8.1f} s  LL {res['loglike']:.4f}  "
              f"iterations {res['iterations']}  peak {res['peak_rss_mib']:.0f} MiB  "
              f"converged {res['converged']}", flush=True)


if __name__ == "__main__":
    main()
