"""Benchmark choicekit against its peers on the workloads of benchmarks/README.md.

    python benchmarks/run.py                                   # choicekit only, all workloads
    python benchmarks/run.py --peer-python /work/peers/bin/python \\
        --peer-dir ../shared/bench --bio32-python /work/bio32/bin/python
    python benchmarks/run.py --workloads swissmetro,mc --repeats 5
    python benchmarks/run.py --tiny                            # seconds; what the smoke test runs

Every fit runs in a fresh process (``--child``), which prints one JSON line with the fit time
measured inside it (building the model from the data object + optimising + standard errors,
as the peer scripts measure theirs); the parent measures the whole process (wall time from
spawn to exit, and peak resident memory from ``wait4``). The synthetic workloads are generated
with fixed seeds with the generator of the peers' ``synth.py`` (reimplemented here so the
script runs without the peers' folder) into a scratch folder outside the project (default: a
temporary folder; ``--scratch DIR`` keeps and reuses the files).

Not collected by pytest (the file name does not match ``test_*``); ``tests/
test_benchmarks_smoke.py`` runs ``--tiny``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# name: (cases, alternatives, attributes, replications); every synthetic model has J-1
# alternative-specific constants and K generic coefficients
WORKLOADS = {
    "swissmetro": None,
    "synth_10k": (10_000, 5, 5, 0),
    "synth_200k": (200_000, 5, 10, 0),
    "synth_1m": (1_000_000, 10, 10, 0),
    "mc": (1_000, 3, 3, 200),
    "synth_10m": (10_000_000, 5, 10, 0),  # chunked from disk only; no peer fits it in memory
}
TINY = {"synth_10k": (2_000, 5, 5, 0), "synth_200k": (4_000, 5, 10, 0),
        "synth_1m": (3_000, 10, 10, 0), "mc": (300, 3, 3, 5), "synth_10m": (20_000, 5, 10, 0)}
PEERS = ("xlogit", "larch", "pylogit", "statsmodels", "biogeme", "biogeme-3.2")
#: peers too slow (or too memory-hungry) to finish a workload in minutes, per the peers' README
#: (pylogit runs out of memory at 200k; statsmodels takes 233 s there; Biogeme 3.3.2 > 300 s;
#: Biogeme 3.2 takes 568 s on 1M)
SKIP = {("pylogit", "synth_200k"), ("pylogit", "synth_1m"), ("statsmodels", "synth_200k"),
        ("statsmodels", "synth_1m"), ("biogeme", "synth_200k"), ("biogeme", "synth_1m"),
        ("biogeme-3.2", "synth_1m")}
#: run once per workload (not --repeats times)
SLOW = {"larch", "pylogit", "statsmodels", "biogeme", "biogeme-3.2"}
#: fit only --peer-max-reps replications of the mc stack (fit time scaled to all of them)
VERY_SLOW = {"statsmodels", "biogeme"}


# ------------------------------------------------------------------------- data generation
def true_params(J: int, K: int, param_seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """beta ~ U(-1, 1), asc[1:] ~ N(0, 0.5), rounded to 3 digits (as the peers' synth.py)."""
    rng = np.random.default_rng(param_seed)
    beta = np.round(rng.uniform(-1.0, 1.0, K), 3)
    asc = np.round(rng.normal(0.0, 0.5, J - 1), 3)
    return beta, asc


def simulate_into(X: np.ndarray, y: np.ndarray, beta: np.ndarray, asc: np.ndarray, seed: int,
                  chunk: int = 250_000) -> None:
    """Fill ``X`` (N, J, K) and ``y`` (N,) exactly as the peers' ``synth.simulate``."""
    rng = np.random.default_rng(seed)
    N, J, K = X.shape
    asc_full = np.concatenate([[0.0], asc])
    for s in range(0, N, chunk):
        e = min(N, s + chunk)
        Xc = rng.standard_normal((e - s, J, K))
        U = Xc @ beta + asc_full + rng.gumbel(size=(e - s, J))
        X[s:e] = Xc
        y[s:e] = U.argmax(axis=1)


def make_npz(path: Path, N: int, J: int, K: int, reps: int, seed: int = 20261122) -> Path:
    """The peers' ``.npz`` (``X``, ``y``, ``beta``, ``asc``); skipped when already there."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    beta, asc = true_params(J, K)
    if reps:
        X = np.empty((reps, N, J, K))
        y = np.empty((reps, N), dtype=np.int64)
        for r in range(reps):
            simulate_into(X[r], y[r], beta, asc, seed + r)
    else:
        X = np.empty((N, J, K))
        y = np.empty(N, dtype=np.int64)
        simulate_into(X, y, beta, asc, seed)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, X=X, y=y, beta=beta, asc=asc)
    tmp.rename(path)
    return path


def make_npy(folder: Path, N: int, J: int, K: int, seed: int = 20261122) -> Path:
    """The same data written chunk by chunk into ``X.npy`` / ``y.npy`` (bounded memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "done").exists():
        return folder
    beta, asc = true_params(J, K)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float64,
                                  shape=(N, J, K))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.int64, shape=(N,))
    simulate_into(X, y, beta, asc, seed)
    X.flush()
    y.flush()
    del X, y
    np.savez(folder / "truth.npz", beta=beta, asc=asc)
    (folder / "done").write_text("ok")
    return folder


def child_generate(args: argparse.Namespace) -> None:
    kind, path, N, J, K, R = json.loads(args.workload)
    if kind == "npy":
        make_npy(Path(path), N, J, K)
    else:
        make_npz(Path(path), N, J, K, R)
    print(json.dumps({"generated": path, "loglik": 0.0, "fit_seconds": 0.0}), flush=True)


# ------------------------------------------------------------------------- choicekit children
def _emit(**out) -> None:
    import resource

    out["peak_rss_mib_inside"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                       1)
    print(json.dumps(out), flush=True)


def _swissmetro_frame(path: Path):
    import pandas as pd

    df = pd.read_csv(path, sep="\t")
    df = df[df["PURPOSE"].isin([1, 3]) & (df["CHOICE"] != 0)].reset_index(drop=True)
    ga0 = (df["GA"] == 0).astype(float)
    sp = (df["SP"] != 0).astype(float)
    df["TRAIN_COST"] = df["TRAIN_CO"] * ga0
    df["SM_COST"] = df["SM_CO"] * ga0
    df["TRAIN_AV_SP"] = df["TRAIN_AV"] * sp
    df["CAR_AV_SP"] = df["CAR_AV"] * sp
    return df


def _swissmetro_data(args: argparse.Namespace):
    """ChoiceData (timed as preparation) and utilities of Biogeme's b01logit."""
    import choicekit as ck

    B, V = ck.Beta, ck.Var
    df = _swissmetro_frame(Path(args.data) / "swissmetro.dat")
    t0 = time.perf_counter()
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "TRAIN", 2: "SM", 3: "CAR"},
        availability={"TRAIN": "TRAIN_AV_SP", "SM": "SM_AV", "CAR": "CAR_AV_SP"})
    prep = time.perf_counter() - t0
    utilities = {
        "TRAIN": B("ASC_TRAIN") + B("B_TIME") * V("TRAIN_TT") / 100
        + B("B_COST") * V("TRAIN_COST") / 100,
        "SM": B("B_TIME") * V("SM_TT") / 100 + B("B_COST") * V("SM_COST") / 100,
        "CAR": B("ASC_CAR") + B("B_TIME") * V("CAR_TT") / 100 + B("B_COST") * V("CAR_CO") / 100,
    }
    return data, utilities, prep


def child_swissmetro(args: argparse.Namespace) -> None:
    import choicekit as ck

    data, utilities, prep = _swissmetro_data(args)
    t0 = time.perf_counter()
    res = ck.MNL(data, utilities).fit(method=args.method)
    bse = res.bse
    fit = time.perf_counter() - t0
    str(res.summary())
    _emit(tool="choicekit", workload="swissmetro", n_obs=res.nobs, loglik=res.llf,
          params=res.params.to_dict(), std_err=bse.to_dict(), fit_seconds=fit,
          prep_seconds=prep, converged=res.converged, iterations=res.iterations)


def _synth_data(X: np.ndarray, y: np.ndarray):
    """ChoiceData (wide) and utilities of the synthetic model: ASC_1..ASC_{J-1}, B_1..B_K."""
    import pandas as pd

    import choicekit as ck

    N, J, K = X.shape
    alts = [f"ALT{j}" for j in range(J)]
    # one contiguous column per attribute and alternative, as a frame read from a file has
    # them (not strided views into X)
    cols = {f"x{k + 1}_{j}": np.ascontiguousarray(X[:, j, k]) for j in range(J)
            for k in range(K)}
    cols["CHOICE"] = y + 1
    df = pd.DataFrame(cols, copy=False)
    data = ck.ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={j + 1: a for j, a in enumerate(alts)},
        variables={f"x{k + 1}": {a: f"x{k + 1}_{j}" for j, a in enumerate(alts)}
                   for k in range(K)})
    B, V = ck.Beta, ck.Var
    utilities = {}
    for j, a in enumerate(alts):
        u = sum((B(f"B_{k + 1}") * V(f"x{k + 1}") for k in range(K)), start=0)
        utilities[a] = u + B(f"ASC_{j}") if j else u
    return data, utilities


def child_synth(args: argparse.Namespace) -> None:
    import choicekit as ck

    z = np.load(args.workload)
    X, y = z["X"], z["y"]
    name = Path(args.workload).stem
    if X.ndim == 4:  # replication stack: a new design for every replication
        fits, results = [], []
        for r in range(X.shape[0]):
            t0 = time.perf_counter()
            data, utilities = _synth_data(X[r], y[r])
            t1 = time.perf_counter()
            res = ck.MNL(data, utilities).fit(method=args.method)
            bse = res.bse
            fits.append((time.perf_counter() - t1, t1 - t0))
            results.append((res.llf, res.params.to_dict(), bse.to_dict()))
        _emit(tool="choicekit", workload=name, reps=len(fits), n_obs=X.shape[1],
              loglik=results[0][0], params=results[0][1], std_err=results[0][2],
              fit_seconds=sum(f for f, _ in fits) + sum(p for _, p in fits),
              prep_seconds=sum(p for _, p in fits),
              params_all=[list(r[1].values()) for r in results])
        return
    t0 = time.perf_counter()
    data, utilities = _synth_data(X, y)
    shape = X.shape
    del z, X  # the frame holds its own copy of the data (as if read from a file)
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = ck.MNL(data, utilities)
    build = time.perf_counter() - t0
    res = model.fit(method=args.method)
    bse = res.bse
    fit = time.perf_counter() - t0
    obj = res._core.objective  # noqa: SLF001 - evaluations count for the hardware floor
    _emit(tool="choicekit", workload=name, n_obs=res.nobs, loglik=res.llf,
          params=res.params.to_dict(), std_err=bse.to_dict(), fit_seconds=fit,
          prep_seconds=prep, converged=res.converged, iterations=res.iterations,
          evaluations=obj.n_evaluations, build_seconds=build,
          # the textbook float64 design n x J x (K + J - 1), as for the chunked rows (choicekit
          # itself stores only the K attribute columns: ``model.design.columns``)
          design_mib=shape[0] * shape[1] * model.design.n_params * 8 / 2**20)


def child_floor(args: argparse.Namespace) -> None:
    """Hardware floor of one pass: stream the stored attributes once through ``X'X`` (BLAS).

    Any Newton iteration reads every stored design value at least once and forms a ``K x K``
    Hessian from them; this pass does exactly that and nothing else (cache-sized chunks of the
    ``(n J) x K`` rows as stored, BLAS on one thread per worker, best of 3). The constants'
    columns are left out: they are not data (the kernel does not read them either), so this
    floor is the lower, stricter one. Measured on one core and on every core (threads over
    halves of the cases, as choicekit's pass runs); the floor is the faster of the two.
    """
    from concurrent.futures import ThreadPoolExecutor

    from choicekit.estimation.objective import _cores
    from choicekit.families.mnl.kernels import blas_threads

    X = np.load(args.workload)["X"]
    n, J, K = X.shape

    def part(a: int, b: int) -> np.ndarray:
        G = np.zeros((K, K))
        for s in range(a, b, 8192):
            Xc = X[s:min(b, s + 8192)].reshape(-1, K)
            G += Xc.T @ Xc
        return G

    cores = _cores()
    best = {1: np.inf, cores: np.inf}
    with blas_threads(1), ThreadPoolExecutor(cores) as pool:
        for _ in range(3):
            for w in best:
                per = -(-n // w)
                t0 = time.perf_counter()
                sum(pool.map(lambda i, per=per: part(i * per, min(n, (i + 1) * per)),
                             range(w)))
                best[w] = min(best[w], time.perf_counter() - t0)
    _emit(tool="floor", workload=Path(args.workload).stem, floor_pass_seconds=min(best.values()),
          floor_pass_one_core=best[1], floor_pass_all_cores=best[cores], cores=cores,
          loglik=0.0, fit_seconds=min(best.values()))


def child_check(args: argparse.Namespace) -> None:
    """The benchmarked estimates against the unoptimised path, on the benchmark's own data.

    Fits as the benchmarked choicekit row does (``MNL.fit``; for ``mc`` the last
    ``with_choices`` refit; for ``synth_10m`` ``fit_chunked`` from the files), then takes one
    Newton step from those estimates with the textbook kernel ``loglike_derivatives_reference``
    (each term of the formulas on its own, no chunks, no threads, no compiled code; over the
    whole ``(n, J, K)`` design, or summed over blocks of a million cases for ``synth_10m``).
    Newton converges quadratically, so that step is the distance from the estimates to the
    maximum the unoptimised path finds; reported relative to ``1 + |beta|``.
    """
    import choicekit as ck
    from choicekit.families.mnl.kernels import loglike_derivatives_reference

    src = Path(args.workload)
    if src.is_dir():  # synth_10m: chunked from disk; the reference in blocks
        from choicekit.estimation.chunked import ChunkedDesign, fit_chunked

        Xm, y = np.load(src / "X.npy", mmap_mode="r"), np.load(src / "y.npy")
        n, J, K = Xm.shape
        consts = {f"ASC_{j}": j for j in range(1, J)}
        res = fit_chunked(ChunkedDesign.from_npy(src / "X.npy", src / "y.npy",
                                                 [f"B_{k + 1}" for k in range(K)],
                                                 constants=consts, chunk_size=args.chunk_size))
        beta = res.params.to_numpy()
        g, H, ll = 0.0, 0.0, 0.0
        for a in range(0, n, 1_000_000):
            Xb = np.asarray(Xm[a:a + 1_000_000])
            full = np.concatenate([Xb, np.broadcast_to(np.eye(J)[:, 1:], (len(Xb), J, J - 1))],
                                  axis=2)
            part = loglike_derivatives_reference(full, beta, np.ones((len(Xb), J), bool),
                                                 y[a:a + 1_000_000])
            g, H, ll = g + part.score, H + part.hessian, ll + part.loglike
        name, llf = src.name, res.llf
    else:
        if args.workload == "swissmetro":
            data, utilities, _ = _swissmetro_data(args)
            model = ck.MNL(data, utilities)
            res = model.fit(method=args.method)
        elif np.load(src)["X"].ndim == 4:  # mc: the last refit of the shared design
            X, ys = _mc_choices(args.workload)
            data, utilities = _synth_data(X, ys[0])
            model = ck.MNL(data, utilities).with_choices(ys[-1])
            res = model.fit()
        else:
            z = np.load(src)
            data, utilities = _synth_data(z["X"], z["y"])
            del z
            model = ck.MNL(data, utilities)
            res = model.fit(method=args.method)
        d = model.design
        beta = res.params.to_numpy()
        ref = loglike_derivatives_reference(d.X, beta, d.avail, d.chosen, d.offset, d.weight)
        g, H, ll = ref.score, ref.hessian, ref.loglike
        name, llf = (args.workload if args.workload == "swissmetro" else src.stem), res.llf
    step = np.linalg.solve(-H, g)
    _emit(tool="check", workload=name, loglik=llf, fit_seconds=0.0, reference_loglik=ll,
          max_rel_step=float(np.max(np.abs(step) / (1.0 + np.abs(beta)))))


def _mc_choices(path: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The first replication's design and the 200 choice vectors re-simulated on it."""
    z = np.load(path)
    X = z["X"][0]
    beta, asc = z["beta"], z["asc"]
    R, (N, J, _) = z["X"].shape[0], X.shape
    asc_full = np.concatenate([[0.0], asc])
    rng = np.random.default_rng(20261122)
    V = X @ beta + asc_full
    return X, [(V + rng.gumbel(size=(N, J))).argmax(axis=1) for _ in range(R)]


def child_mc_refit(args: argparse.Namespace) -> None:
    """One design, many re-simulated choice vectors: ``MNL.with_choices`` (no rebuild)."""
    import choicekit as ck

    X, ys = _mc_choices(args.workload)
    t0 = time.perf_counter()
    data, utilities = _synth_data(X, ys[0])
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = ck.MNL(data, utilities)
    results = []
    for y in ys:
        res = model.with_choices(y).fit()
        results.append((res.llf, res.params.to_dict(), res.bse.to_dict()))
    fit = time.perf_counter() - t0
    _emit(tool="choicekit-with_choices", workload=Path(args.workload).stem, reps=len(ys),
          n_obs=X.shape[0],
          loglik=results[0][0], params=results[0][1], std_err=results[0][2],
          fit_seconds=fit, prep_seconds=prep)


def child_chunked(args: argparse.Namespace) -> None:
    """The chunked estimator: from ``.npy`` files (out of core) or the ``.npz`` arrays."""
    from choicekit.estimation.chunked import ChunkedDesign, fit_chunked

    src = Path(args.workload)
    t0 = time.perf_counter()
    if src.is_dir():
        J, K = np.load(src / "X.npy", mmap_mode="r").shape[1:]
    else:
        z = np.load(src)
        X, y = z["X"], z["y"]
        J, K = X.shape[1:]
    names = [f"B_{k + 1}" for k in range(K)]
    consts = {f"ASC_{j}": j for j in range(1, J)}
    if src.is_dir():
        design = ChunkedDesign.from_npy(src / "X.npy", src / "y.npy", names, constants=consts,
                                        chunk_size=args.chunk_size)
        name = src.name
    else:
        design = ChunkedDesign.from_arrays(X, y, names, constants=consts,
                                           chunk_size=args.chunk_size)
        name = src.stem
    prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = fit_chunked(design)
    fit = time.perf_counter() - t0
    N = res.nobs
    design_bytes = N * J * (K + J - 1) * 8
    _emit(tool="choicekit-chunked", workload=name, n_obs=N, loglik=res.llf,
          params=res.params.to_dict(), std_err=res.bse.to_dict(), fit_seconds=fit,
          prep_seconds=prep, converged=res.converged, iterations=res.iterations,
          evaluations=res.evaluations, design_mib=design_bytes / 2**20,
          chunk_size=args.chunk_size)


# ------------------------------------------------------------------------- parent
def run_process(cmd: list[str], cwd: Path | None = None, timeout: float | None = None,
                env: dict | None = None) -> dict | None:
    """Run ``cmd``; its last JSON line plus ``wall_seconds``, ``peak_rss_mib`` and
    ``process_cpu_seconds`` (user + system, ``wait4``)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return {"error": f"timeout after {timeout:.0f} s", "cmd": " ".join(cmd)}
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = [ln for ln in out.read().splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = err.read().strip().splitlines()[-3:]
            return {"error": f"exit {proc.returncode}: {' | '.join(tail)}",
                    "cmd": " ".join(cmd)}
    rec = json.loads(lines[-1])
    rec["wall_seconds"] = wall
    rec["peak_rss_mib"] = usage.ru_maxrss / 1024
    rec["process_cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return rec


def median_record(recs: list[dict]) -> dict:
    ok = [r for r in recs if "error" not in r]
    if not ok:
        return recs[-1]
    out = dict(ok[-1])
    for key in ("fit_seconds", "wall_seconds", "peak_rss_mib"):
        out[key] = statistics.median(r[key] for r in ok)
    out["runs"] = len(ok)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=3, help="runs per tool and workload")
    ap.add_argument("--scratch", default=None, help="folder for generated data (outside repo)")
    ap.add_argument("--data", default=os.environ.get("CHOICEKIT_DATA",
                                                     str(HERE.parents[1] / "shared" / "data")))
    ap.add_argument("--peer-python", default=None, help="python of the peers' environment")
    ap.add_argument("--bio32-python", default=None, help="python with biogeme 3.2.14")
    ap.add_argument("--peer-dir", default=str(HERE.parents[1] / "shared" / "bench"))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--peer-timeout", type=float, default=900.0)
    ap.add_argument("--peer-max-reps", type=int, default=None,
                    help="fit only this many replications of the mc stack with slow peers")
    ap.add_argument("--tiny", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--json", default=None, help="append every record to this file")
    ap.add_argument("--method", default="auto")
    ap.add_argument("--chunk-size", type=int, default=32768)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workload", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        {"swissmetro": child_swissmetro, "synth": child_synth, "mc_refit": child_mc_refit,
         "chunked": child_chunked, "floor": child_floor, "check": child_check,
         "gen": child_generate}[args.child](args)
        return 0

    sizes = {**WORKLOADS, **(TINY if args.tiny else {})}
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    tmp = None
    if args.scratch is None:
        tmp = tempfile.TemporaryDirectory(prefix="choicekit-bench-")
        scratch = Path(tmp.name)
    else:
        scratch = Path(args.scratch)
        scratch.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--method", args.method, "--chunk-size", str(args.chunk_size), "--data", args.data]
    records: list[dict] = []

    def record(rec: dict, tool: str, workload: str) -> None:
        rec.setdefault("tool", tool)
        rec["workload_key"] = workload
        records.append(rec)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
        if "error" in rec:
            print(f"  {workload:>11} {tool:<24} {rec['error'][:150]}", file=sys.stderr)
        else:
            print(f"  {workload:>11} {tool:<24} fit {rec['fit_seconds']:9.4f} s  process "
                  f"{rec['wall_seconds']:8.3f} s  peak {rec['peak_rss_mib']:8.0f} MiB  "
                  f"LL {rec['loglik']:.6f}", file=sys.stderr)

    def repeat(cmd: list[str], tool: str, workload: str, cwd: Path | None = None,
               timeout: float | None = None, repeats: int | None = None, reps: int = 0) -> None:
        recs = [run_process(cmd, cwd=cwd, timeout=timeout)
                for _ in range(repeats or args.repeats)]
        rec = median_record(recs)
        if reps and "error" not in rec and rec.get("reps", reps) < reps:
            # a slow peer fitted only --peer-max-reps replications: scale its fit time
            rec["fit_seconds"] *= reps / rec["reps"]
            rec["extrapolated_from_reps"] = rec["reps"]
            rec["reps"] = reps
        record(rec, tool, workload)

    def generate(spec: list) -> None:
        # in a child process: the parent stays small, and every child starts from it. (Linux
        # counts the parent's resident memory at fork in a child's peak RSS.)
        rec = run_process(me + ["--child", "gen", "--workload", json.dumps(spec)])
        if "error" in rec:
            raise RuntimeError(f"data generation failed: {rec['error']}")

    def check(workload: str, target: str, tool: str) -> None:
        """Estimates against the unoptimised path on this very data (a separate, untimed
        process), noted on the ``tool`` row."""
        rec = run_process(me + ["--child", "check", "--workload", target] + common)
        if "error" in rec:
            print(f"  {workload:>11} check failed: {rec['error'][:150]}", file=sys.stderr)
            return
        for r in records:
            if r["workload_key"] == workload and r["tool"] == tool:
                r["reference_step"] = rec["max_rel_step"]

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    peer_runs = [(p, args.peer_python, f"fit_{p}.py") for p in PEERS if p != "biogeme-3.2"]
    peer_runs.append(("biogeme-3.2", args.bio32_python, "fit_biogeme.py"))
    for wl in wanted:
        print(f"workload {wl}", file=sys.stderr)
        if wl == "swissmetro":
            if not (Path(args.data) / "swissmetro.dat").exists():
                print(f"  skipped: {args.data}/swissmetro.dat not found", file=sys.stderr)
                continue
            target, R = "swissmetro", 0
            repeat(me + ["--child", "swissmetro"] + common, "choicekit", wl)
            check(wl, "swissmetro", "choicekit")
        elif wl == "synth_10m":
            N, J, K, _ = sizes[wl]
            folder = scratch / f"npy_{N}_{J}_{K}"
            generate(["npy", str(folder), N, J, K, 0])
            repeat(me + ["--child", "chunked", "--workload", str(folder)] + common,
                   "choicekit-chunked", wl, repeats=1 if not args.tiny else args.repeats)
            check(wl, str(folder), "choicekit-chunked")
            continue
        else:
            N, J, K, R = sizes[wl]
            stem = f"sim_{R}x{N}_{J}_{K}" if R else f"synth_{N}_{J}_{K}"
            target = str(scratch / f"{stem}.npz")
            generate(["npz", target, N, J, K, R])
            repeat(me + ["--child", "synth", "--workload", target] + common, "choicekit", wl)
            if R:
                repeat(me + ["--child", "mc_refit", "--workload", target] + common,
                       "choicekit-with_choices", wl)
                check(wl, target, "choicekit-with_choices")
            else:
                repeat(me + ["--child", "chunked", "--workload", target] + common,
                       "choicekit-chunked", wl)
                if wl in ("synth_200k", "synth_1m"):
                    floor = run_process(me + ["--child", "floor", "--workload", target])
                    for r in records:
                        if r["workload_key"] == wl and "evaluations" in r and "error" not in \
                                floor:
                            r["floor_seconds"] = floor["floor_pass_seconds"] * r["evaluations"]
                            r["floor_cores"] = (floor["floor_pass_one_core"],
                                                floor["floor_pass_all_cores"], floor["cores"])
                check(wl, target, "choicekit")
        for label, py, script in peer_runs:
            if label not in peers or py is None or ((label, wl) in SKIP and not args.tiny):
                continue
            cmd = [py, str(Path(args.peer_dir) / script), target]
            if R and args.peer_max_reps and label in VERY_SLOW:
                cmd += ["--max-reps", str(args.peer_max_reps)]
            once = (label in SLOW or wl == "synth_1m") and not args.tiny
            repeat(cmd, label, wl, cwd=Path(args.peer_dir), timeout=args.peer_timeout,
                   repeats=1 if once else None, reps=R)
    print(table(records))
    if tmp is not None:
        tmp.cleanup()
    return 0 if all("error" not in r for r in records if r["tool"].startswith("choicekit")) \
        else 1


def table(records: list[dict]) -> str:
    """Markdown table: per workload, every tool with ratios against the fastest peer."""
    lines = ["| workload | tool | fit s | process s | peak MiB | LL | fastest peer fit / fit | "
             "fastest peer process / process | notes |", "|---|---|---|---|---|---|---|---|---|"]
    by_wl: dict[str, list[dict]] = {}
    for r in records:
        by_wl.setdefault(r["workload_key"], []).append(r)
    for wl, recs in by_wl.items():
        ok = [r for r in recs if "error" not in r]
        peers = [r for r in ok if not r["tool"].startswith("choicekit")]
        best_fit = min((r["fit_seconds"] for r in peers), default=None)
        best_wall = min((r["wall_seconds"] for r in peers), default=None)
        for r in sorted(recs, key=lambda r: r.get("fit_seconds", np.inf)):
            if "error" in r:
                lines.append(f"| {wl} | {r['tool']} | {r['error'][:60]} | | | | | | |")
                continue
            notes = []
            if "evaluations" in r:
                notes.append(f"{r['evaluations']} passes")
            if "floor_seconds" in r:
                notes.append(f"fit / floor {r['fit_seconds'] / r['floor_seconds']:.1f}")
                if "build_seconds" in r:  # the Newton iterations alone against their floor
                    est = r["fit_seconds"] - r["build_seconds"]
                    notes.append(f"design build {r['build_seconds']:.2f} s; estimation / "
                                 f"floor {est / r['floor_seconds']:.1f}")
            if "floor_cores" in r:
                one, every, cores = r["floor_cores"]
                notes.append(f"floor pass {min(one, every):.3f} s (1 core {one:.3f} s, "
                             f"{cores} cores {every:.3f} s)")
            if "reference_step" in r:
                notes.append(f"unoptimised path's Newton step from these estimates "
                             f"{r['reference_step']:.0e} relative")
            if r.get("design_mib"):
                notes.append(f"peak / design {r['peak_rss_mib'] / r['design_mib']:.2f}")
            if "extrapolated_from_reps" in r:
                notes.append(f"fit time scaled from {r['extrapolated_from_reps']} to "
                             f"{r['reps']} replications")
            if "runs" in r and r["runs"] > 1:
                notes.append(f"median of {r['runs']}")
            mine = r["tool"].startswith("choicekit")
            rf = f"{best_fit / r['fit_seconds']:.1f}x" if mine and best_fit else ""
            rw = f"{best_wall / r['wall_seconds']:.2f}x" if mine and best_wall else ""
            lines.append(f"| {wl} | {r['tool']} | {r['fit_seconds']:.4g} | "
                         f"{r['wall_seconds']:.3g} | {r['peak_rss_mib']:.0f} | "
                         f"{r['loglik']:.4f} | {rf} | {rw} | {'; '.join(notes)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
