"""Mixed logit workloads: Electricity (361 persons x 12 choices x 4 alternatives, 6 normal
coefficients, panel) at 100 and 500 Halton draws, and a synthetic panel of 20,000 persons x 10
choices x 4 alternatives with 4 random and 2 fixed coefficients at 200 draws.

Run: ``python benchmarks/mixed_logit.py [--skip-synthetic] [--peer PYTHON] [--data DIR]``.
Prints wall and CPU time of ``fit()`` (on Electricity the fastest of ``--repeat`` fresh runs
of each package, default 3) (MNL start, BFGS, Newton polish, covariance) and the peak
resident memory of the process (``resource.getrusage``), each workload in a fresh subprocess so
peaks do not mix. On Electricity choicekit is given mlogit's Halton draws (prime k for the k-th
coefficient, 100 values dropped, person by person), which are also xlogit's default draws, so
with ``--peer`` (a Python with xlogit installed) both fit the same simulated likelihood and
their log-likelihoods are compared.
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
PRIMES = [2, 3, 5, 7, 11, 13]


def mlogit_halton(prime: int, length: int, drop: int = 100) -> np.ndarray:
    """mlogit's (and xlogit's) Halton sequence: starts at 0, first ``drop`` values dropped."""
    halt = np.array([0.0])
    t = 0
    while len(halt) < length + drop:
        t += 1
        halt = np.concatenate([halt] + [halt + k / prime**t for k in range(1, prime)])
    return halt[drop:drop + length]


def _import_optimizers() -> None:
    """Import scipy.optimize before the timing (choicekit imports it lazily, at the first fit;
    xlogit imports it with its own modules): ~0.3 s that is not estimation."""
    import scipy.optimize  # noqa: F401


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def electricity(R: int, data_dir: str) -> dict:
    from scipy.special import ndtri

    import choicekit as ck

    df = pd.read_csv(Path(data_dir) / "electricity.csv")
    df["case"] = np.arange(len(df))
    data = ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={j: str(j) for j in range(1, 5)},
        variables={v: {str(j): f"{v}{j}" for j in range(1, 5)} for v in VARS}, group="id")
    n = df["id"].nunique()
    draws = {v: ndtri(mlogit_halton(p, n * R)).reshape(n, R) for v, p in zip(VARS, PRIMES)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ck.MixedLogit.from_formula("choice ~ pf + cl + loc + wk + tod + seas | 0", data,
                                       random={v: "n" for v in VARS}, draws=draws)
        m.loglike(m.mnl_start())  # draws, compiled library and caches outside the timing
        _import_optimizers()
        res, wall, cpu = _timed(m.fit)
    return {"seconds": wall, "cpu": cpu, "loglike": res.llf, "iterations": res.iterations,
            "converged": bool(res.converged)}


def electricity_xlogit(R: int, data_dir: str) -> dict:
    from xlogit import MixedLogit

    df = pd.read_csv(Path(data_dir) / "electricity.csv")
    df["chid"] = np.arange(len(df))
    long = pd.wide_to_long(df, stubnames=VARS, i="chid", j="alt").reset_index()
    long = long.sort_values(["chid", "alt"])
    long["chosen"] = (long["choice"] == long["alt"]).astype(int)
    m = MixedLogit()
    _, wall, cpu = _timed(lambda: m.fit(
        X=long[VARS], y=long["chosen"], varnames=VARS, ids=long["chid"], alts=long["alt"],
        panels=long["id"], randvars={v: "n" for v in VARS}, n_draws=R, verbose=0))
    return {"seconds": wall, "cpu": cpu, "loglike": float(m.loglikelihood),
            "iterations": int(getattr(m, "total_iter", -1)),
            "converged": bool(getattr(m, "convergence", False))}


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
    del df, cols, X, U
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ck.MixedLogit.from_formula("choice ~ x0 + x1 + x2 + x3 + x4 + x5 | 0", data,
                                       random={f"x{k}": "n" for k in range(4)}, n_draws=R)
        m.loglike(m.mnl_start())
        _import_optimizers()
        res, wall, cpu = _timed(m.fit)
    return {"seconds": wall, "cpu": cpu, "loglike": res.llf, "iterations": res.iterations,
            "converged": bool(res.converged)}


def _child(which: str, R: int, data_dir: str) -> None:
    fn = {"electricity": electricity, "xlogit": electricity_xlogit}.get(which)
    out = fn(R, data_dir) if fn is not None else synthetic(R)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _run(python: str, which: str, R: int, data_dir: str, repeat: int = 1) -> dict:
    """The fastest of ``repeat`` fresh subprocesses (the machine's other load only adds)."""
    runs = []
    for _ in range(repeat):
        r = subprocess.run([python, __file__, "--data", data_dir, "--child", which, str(R)],
                           capture_output=True, text=True, check=True)
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda x: x["seconds"])


def _line(name: str, R: int, res: dict) -> str:
    return (f"{name:22s} R={R:4d}  fit {res['seconds']:7.2f} s wall {res['cpu']:7.2f} s CPU  "
            f"LL {res['loglike']:.6f}  iterations {res['iterations']}  "
            f"peak {res['peak_rss_mib']:.0f} MiB  converged {res['converged']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("CHOICEKIT_DATA", "../shared/data"))
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--peer", default=None, help="a Python with xlogit installed")
    ap.add_argument("--repeat", type=int, default=3,
                    help="fresh runs per Electricity workload; the fastest is reported")
    ap.add_argument("--child", nargs=2)
    a = ap.parse_args()
    if a.child:
        _child(a.child[0], int(a.child[1]), a.data)
        return
    for R in (100, 500):
        ours = _run(sys.executable, "electricity", R, a.data, a.repeat)
        print(_line("choicekit Electricity", R, ours), flush=True)
        if a.peer:
            peer = _run(a.peer, "xlogit", R, a.data, a.repeat)
            print(_line("xlogit Electricity", R, peer), flush=True)
            print(f"{'':22s} ratio xlogit/choicekit: wall {peer['seconds'] / ours['seconds']:.1f}"
                  f"x, CPU {peer['cpu'] / ours['cpu']:.1f}x; |LL difference| "
                  f"{abs(peer['loglike'] - ours['loglike']):.2e}", flush=True)
    if not a.skip_synthetic:
        print(_line("choicekit synthetic", 200, _run(sys.executable, "synthetic", 200, a.data)),
              flush=True)


if __name__ == "__main__":
    main()
