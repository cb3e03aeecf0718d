"""Benchmark choicekit's nested and cross-nested logits against their peers (issue 13, "Speed").

    python benchmarks/nested.py                                  # choicekit only
    python benchmarks/nested.py --peer-python /work/peers/bin/python \\
        --bio32-python /work/bio32/bin/python --peer-dir ../shared/bench
    python benchmarks/nested.py --workloads swissmetro_cnl --repeats 5
    python benchmarks/nested.py --tiny                           # seconds; the smoke test

Workloads:

* ``swissmetro_nl`` -- Biogeme's ``b09nested`` (one nest {train, car}, ``MU_EXISTING >= 1``) and
  ``swissmetro_cnl`` -- ``b11cnl`` (nests {car: 1, train: ALPHA_EXISTING} and
  {train: 1 - ALPHA_EXISTING, sm: 1}, two mus), 6,768 cases; choicekit's side is exactly
  ``examples/replications/swissmetro_nested.py``.
* ``synth_nl_200k`` -- 200,000 cases x 5 alternatives x 10 generic attributes, 4 constants,
  nests A = {0, 1} (lambda 0.5) and B = {2, 3, 4} (lambda 0.7); the choices are drawn from the
  nested-logit probabilities. Generated here with the seeds and the code of
  ``peers_nested/make_synth_nl.py`` (bit for bit the same file; the peers fit the very file
  generated here). choicekit fits ``ck.NestedLogit`` with both lambdas estimated, bounded to
  [0.01, 1] as Larch bounds them (``--synth-nest mu``: Biogeme's ``mu >= 1``; ``lam_free``: no
  bounds), and ``ck.MNL`` on the same design (row ``choicekit-mnl``) for the NL / MNL ratio.

Conventions are those of ``benchmarks/run.py``: every fit runs in a fresh process
(``--child``) that prints one JSON line with the fit time measured inside it (building the
model from the data object + optimising + standard errors) and its CPU time (user + system,
all threads, ``getrusage``); the parent adds the whole process's wall time, CPU time and peak
memory (``wait4``). The peers are the scripts in ``peers_nested/`` (written for this benchmark),
run with the peers' own Python; they measure the same way. The table gives, per workload, the
ratios of the fastest peer's fit time (wall and CPU) to choicekit's, measured in the same run,
and every tool's log-likelihood against the best one found.

Not collected by pytest; ``tests/test_benchmarks_smoke.py`` runs ``--tiny``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPLICATIONS = HERE.parent / "examples" / "replications"
PEER_SCRIPTS = HERE / "peers_nested"
sys.path.insert(0, str(HERE))
from run import _emit, _synth_data, run_process  # noqa: E402

WORKLOADS = ("swissmetro_nl", "swissmetro_cnl", "synth_nl_200k")
SYNTH = {"synth_nl_200k": 200_000}
TINY = {"synth_nl_200k": 3_000}
#: the published log-likelihoods (Biogeme's test of b09nested; larch 5's test of b11cnl)
PUBLISHED_LL = {"swissmetro_nl": -5236.90001357885, "swissmetro_cnl": -5214.0491950955357}
#: (label, python option, script, extra arguments, workloads); the slow ones run once
PEER_RUNS = [
    ("biogeme-3.2", "bio32", "fit_nl_biogeme.py", [], WORKLOADS),
    ("biogeme-3.2-tol1e-10", "bio32", "fit_nl_biogeme.py", ["--tolerance", "1e-10"], WORKLOADS),
    ("larch", "peer", "fit_nl_larch.py", [], ("swissmetro_nl", "synth_nl_200k")),
    ("larch-bhhh", "peer", "fit_nl_larch.py", ["--method", "bhhh"],
     ("swissmetro_nl", "synth_nl_200k")),
    ("pylogit", "peer", "fit_nl_pylogit.py", [], ("swissmetro_nl", "synth_nl_200k")),
    ("biogeme", "peer", "fit_nl_biogeme.py", [], WORKLOADS),
]
#: too slow (or too memory-hungry) to run by default (``--all-peers`` runs them), as measured
#: by the peer runs of peers_nested/README.md: Biogeme 3.3.2 168 s (NL), 401 s (CNL), > 900 s
#: (200k); Biogeme 3.2 711 s on the 200k NL; pylogit runs out of 16 GB on 200k
SKIP = {("biogeme", "swissmetro_nl"), ("biogeme", "swissmetro_cnl"), ("biogeme", "synth_nl_200k"),
        ("biogeme-3.2", "synth_nl_200k"), ("biogeme-3.2-tol1e-10", "synth_nl_200k"),
        ("pylogit", "synth_nl_200k")}
#: run once per workload (not --repeats times)
SLOW = {"pylogit", "biogeme", "biogeme-3.2-tol1e-10"}
#: the lambdas' parametrisation of the synthetic NL (choicekit's side)
SYNTH_NESTS = ("lam", "mu", "lam_free")


# ------------------------------------------------------------------------- data generation
NESTS = np.array([0, 0, 1, 1, 1])  # nest index of alternatives 0..4
LAMBDAS = np.array([0.5, 0.7])


def nl_probabilities(V: np.ndarray, nests: np.ndarray = NESTS,
                     lambdas: np.ndarray = LAMBDAS) -> np.ndarray:
    """``P[n, j]`` of the two-level NL (the code of ``peers_nested/make_synth_nl.py``)."""
    lam = lambdas[nests]
    Vs = V / lam
    m = Vs.max(axis=1, keepdims=True)
    e = np.exp(Vs - m)
    S = np.stack([e[:, nests == k].sum(axis=1) for k in range(len(lambdas))], 1)
    logI = lambdas * (m + np.log(S))
    upper = np.exp(logI - logI.max(axis=1, keepdims=True))
    P_nest = upper / upper.sum(axis=1, keepdims=True)
    return P_nest[:, nests] * e / S[:, nests]


def make_synth_nl(path: Path, n: int, k: int = 10, seed: int = 20261122,
                  param_seed: int = 12345) -> Path:
    """The ``.npz`` of ``peers_nested/make_synth_nl.py --n n --k k`` (same seeds, same draws in
    the same order); skipped when already there."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    J = len(NESTS)
    prng = np.random.default_rng(param_seed)
    beta = np.round(prng.uniform(-1.0, 1.0, k), 3)
    asc = np.round(prng.normal(0.0, 0.5, J - 1), 3)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, J, k))
    u = rng.random(n)
    P = nl_probabilities(X @ beta + np.concatenate([[0.0], asc]))
    y = np.minimum((P.cumsum(axis=1) < u[:, None]).sum(axis=1), J - 1).astype(np.int64)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, X=X, y=y, beta=beta, asc=asc, lambdas=LAMBDAS, nests=NESTS)
    tmp.rename(path)
    return path


def child_generate(args: argparse.Namespace) -> None:
    path, n = json.loads(args.workload)
    make_synth_nl(Path(path), n)
    print(json.dumps({"generated": path, "loglik": 0.0, "fit_seconds": 0.0}), flush=True)


# ------------------------------------------------------------------------- choicekit children
def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _fit(model, **kw):
    """``model.fit()`` and its standard errors (the caller times the build and this)."""
    res = model.fit(**kw)
    res.bse  # noqa: B018 - standard errors are part of the timed fit, as for the peers
    return res


def child_swissmetro(args: argparse.Namespace) -> None:
    """b09nested / b11cnl exactly as ``examples/replications/swissmetro_nested.py``."""
    sys.path.insert(0, str(REPLICATIONS))
    import swissmetro_nested as sn
    from swissmetro_b01logit import load_data, utilities

    import choicekit as ck

    t0 = time.perf_counter()
    data = load_data(args.data)
    prep = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu()
    if args.workload == "swissmetro_nl":
        model = ck.NestedLogit(data, utilities(), sn.nested())
    else:
        model = ck.CrossNestedLogit(data, utilities(), sn.cross_nested())
    res = _fit(model)
    fit, cpu = time.perf_counter() - t0, _cpu() - c0
    _emit(tool="choicekit", workload=args.workload, n_obs=res.nobs, loglik=res.llf,
          params=res.params.to_dict(), std_err=res.bse.to_dict(), fit_seconds=fit,
          cpu_seconds=cpu, prep_seconds=prep, converged=res.converged,
          iterations=res.iterations)


def synth_nests(kind: str) -> list:
    import choicekit as ck

    B = ck.Beta
    members = {"A": ["ALT0", "ALT1"], "B": ["ALT2", "ALT3", "ALT4"]}
    if kind == "mu":
        return [ck.Nest(k, m, mu=B(f"MU_{k}", 1.0, lower=1.0)) for k, m in members.items()]
    bounds = {} if kind == "lam_free" else {"lower": 0.01, "upper": 1.0}
    return [ck.Nest(k, m, lam=B(f"LAMBDA_{k}", 1.0, **bounds)) for k, m in members.items()]


def child_synth(args: argparse.Namespace) -> None:
    """The synthetic NL with ``ck.NestedLogit`` (``--model nl``) or ``ck.MNL`` (``mnl``) on the
    same ``ChoiceData`` (``from_wide``, as the MNL benchmark builds it)."""
    import choicekit as ck

    z = np.load(args.path)
    X, y = z["X"], z["y"]
    t0 = time.perf_counter()
    data, utilities = _synth_data(X, y)
    del z, X
    prep = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu()
    if args.model == "mnl":
        model = ck.MNL(data, utilities)
    else:
        model = ck.NestedLogit(data, utilities, synth_nests(args.synth_nest))
    res = _fit(model)
    fit, cpu = time.perf_counter() - t0, _cpu() - c0
    params = res.params.to_dict()
    for k in ("A", "B"):  # both conventions, as the peers report them
        if f"MU_{k}" in params:
            params[f"LAMBDA_{k}"] = 1.0 / params[f"MU_{k}"]
        elif f"LAMBDA_{k}" in params:
            params[f"MU_{k}"] = 1.0 / params[f"LAMBDA_{k}"]
    _emit(tool="choicekit" + ("-mnl" if args.model == "mnl" else ""), workload=args.workload,
          n_obs=res.nobs, loglik=res.llf, params=params, std_err=res.bse.to_dict(),
          fit_seconds=fit, cpu_seconds=cpu, prep_seconds=prep, converged=res.converged,
          iterations=res.iterations, synth_nest=args.synth_nest if args.model == "nl" else None)


# ------------------------------------------------------------------------- parent
def median_record(recs: list[dict]) -> dict:
    ok = [r for r in recs if "error" not in r]
    if not ok:
        return recs[-1]
    out = dict(ok[-1])
    for key in ("fit_seconds", "cpu_seconds", "wall_seconds", "process_cpu_seconds",
                "peak_rss_mib"):
        vals = [r[key] for r in ok if r.get(key) is not None]
        if vals:
            out[key] = statistics.median(vals)
    out["runs"] = len(ok)
    out["fit_seconds_all"] = [round(r["fit_seconds"], 4) for r in ok]
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
    ap.add_argument("--peer-dir", default=str(HERE.parents[1] / "shared" / "bench"),
                    help="the MNL peers' folder (its common.py loads Swissmetro for the peers)")
    ap.add_argument("--peers", default=",".join(p[0] for p in PEER_RUNS))
    ap.add_argument("--all-peers", action="store_true",
                    help="also the peer runs that take many minutes (SKIP)")
    ap.add_argument("--peer-timeout", type=float, default=900.0)
    ap.add_argument("--synth-nest", default="lam", choices=SYNTH_NESTS)
    ap.add_argument("--tiny", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--json", default=None, help="append every record to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workload", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--path", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model", default="nl", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        {"swissmetro": child_swissmetro, "synth": child_synth,
         "gen": child_generate}[args.child](args)
        return 0

    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    sizes = {**SYNTH, **(TINY if args.tiny else {})}
    tmp = None
    if args.scratch is None:
        tmp = tempfile.TemporaryDirectory(prefix="choicekit-bench-nl-")
        scratch = Path(tmp.name)
    else:
        scratch = Path(args.scratch)
        scratch.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--data", args.data, "--synth-nest", args.synth_nest]
    env = dict(os.environ, SHARED_BENCH=args.peer_dir,
               SWISSMETRO=str(Path(args.data) / "swissmetro.dat"),
               NL_RUNDIR=str(scratch / "biogeme-run"))
    pythons = {"peer": args.peer_python, "bio32": args.bio32_python}
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    records: list[dict] = []

    def record(rec: dict, tool: str, workload: str) -> None:
        rec.setdefault("tool", tool)
        rec["workload_key"] = workload
        rec["load_avg"] = os.getloadavg()
        records.append(rec)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
        if "error" in rec:
            print(f"  {workload:>14} {tool:<22} {rec['error'][:150]}", file=sys.stderr)
        else:
            print(f"  {workload:>14} {tool:<22} fit {rec['fit_seconds']:9.4f} s  CPU "
                  f"{rec.get('cpu_seconds') or 0:8.3f} s  process {rec['wall_seconds']:8.3f} s"
                  f"  peak {rec['peak_rss_mib']:6.0f} MiB  LL {rec['loglik']:.6f}  load "
                  f"{rec['load_avg'][0]:.2f}", file=sys.stderr)

    def repeat(cmd: list[str], tool: str, workload: str, repeats: int,
               timeout: float | None = None, cwd: Path | None = None) -> None:
        recs = [run_process(cmd, cwd=cwd, timeout=timeout, env=env) for _ in range(repeats)]
        record(median_record(recs), tool, workload)

    for wl in wanted:
        print(f"workload {wl} (load average {os.getloadavg()[0]:.2f})", file=sys.stderr)
        if wl.startswith("swissmetro"):
            if not (Path(args.data) / "swissmetro.dat").exists():
                print(f"  skipped: {args.data}/swissmetro.dat not found", file=sys.stderr)
                continue
            target = wl
            repeat(me + ["--child", "swissmetro", "--workload", wl] + common, "choicekit", wl,
                   args.repeats)
        else:
            n = sizes[wl]
            path = scratch / f"synth_nl_{n}_5_10.npz"
            rec = run_process(me + ["--child", "gen", "--workload", json.dumps([str(path), n])])
            if "error" in rec:
                raise RuntimeError(f"data generation failed: {rec['error']}")
            target = str(path)
            for model in ("nl", "mnl"):
                repeat(me + ["--child", "synth", "--workload", wl, "--path", target, "--model",
                             model] + common, "choicekit" + ("-mnl" if model == "mnl" else ""),
                       wl, args.repeats)
        for label, which, script, extra, wls in PEER_RUNS:
            py = pythons[which]
            if (label not in peers or py is None or wl not in wls
                    or ((label, wl) in SKIP and not (args.all_peers or args.tiny))):
                continue
            once = label in SLOW and not args.tiny
            repeat([py, str(PEER_SCRIPTS / script), target] + extra, label, wl,
                   1 if once else args.repeats, timeout=args.peer_timeout, cwd=PEER_SCRIPTS)
    print(table(records))
    if tmp is not None:
        tmp.cleanup()
    return 0 if all("error" not in r for r in records if r["tool"].startswith("choicekit")) \
        else 1


def table(records: list[dict]) -> str:
    """Markdown table: per workload, every tool; for choicekit the ratios against the fastest
    peer (fit wall time and fit CPU time) and, for the NL, against choicekit's MNL."""
    lines = ["| workload | tool | fit s | fit CPU s | process s | peak MiB | LL | LL - best | "
             "fastest peer fit / fit | fastest peer CPU / CPU | notes |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    by_wl: dict[str, list[dict]] = {}
    for r in records:
        by_wl.setdefault(r["workload_key"], []).append(r)
    for wl, recs in by_wl.items():
        ok = [r for r in recs if "error" not in r]
        peers = [r for r in ok if not r["tool"].startswith("choicekit")]
        nl = [r for r in ok if r["tool"] != "choicekit-mnl"]
        best_ll = max((r["loglik"] for r in nl), default=None)
        fastest = min(peers, key=lambda r: r["fit_seconds"], default=None)
        fastest_cpu = min((r["cpu_seconds"] for r in peers if r.get("cpu_seconds")),
                          default=None)
        mnl = next((r for r in ok if r["tool"] == "choicekit-mnl"), None)
        for r in sorted(recs, key=lambda r: r.get("fit_seconds", np.inf)):
            if "error" in r:
                lines.append(f"| {wl} | {r['tool']} | {r['error'][:60]} | | | | | | | | |")
                continue
            notes = []
            if r.get("iterations") is not None or r.get("n_iterations") is not None:
                notes.append(f"{r.get('iterations') or r.get('n_iterations')} iterations")
            mine = r["tool"].startswith("choicekit")
            if r["tool"] == "choicekit" and mnl is not None:
                notes.append(f"NL / MNL fit {r['fit_seconds'] / mnl['fit_seconds']:.1f}x "
                             f"(CPU {r['cpu_seconds'] / mnl['cpu_seconds']:.1f}x)")
            if wl in PUBLISHED_LL and r["tool"] != "choicekit-mnl":
                notes.append(f"LL - published {r['loglik'] - PUBLISHED_LL[wl]:.1e}")
            if r.get("runs", 1) > 1:
                runs = ", ".join(f"{s:.3g}" for s in r["fit_seconds_all"])
                notes.append(f"median of {r['runs']} ({runs} s)")
            if mine and fastest is not None and r["tool"] == "choicekit":
                notes.append(f"fastest peer {fastest['tool']}")
            rf = (f"{fastest['fit_seconds'] / r['fit_seconds']:.1f}x"
                  if mine and fastest and r["tool"] == "choicekit" else "")
            rc = (f"{fastest_cpu / r['cpu_seconds']:.1f}x"
                  if mine and fastest_cpu and r.get("cpu_seconds") and r["tool"] == "choicekit"
                  else "")
            dll = ("" if r["tool"] == "choicekit-mnl" or best_ll is None
                   else f"{r['loglik'] - best_ll:.1e}")
            cpu = r.get("cpu_seconds")
            lines.append(f"| {wl} | {r['tool']} | {r['fit_seconds']:.4g} | "
                         f"{'' if cpu is None else f'{cpu:.4g}'} | {r['wall_seconds']:.3g} | "
                         f"{r['peak_rss_mib']:.0f} | {r['loglik']:.4f} | {dll} | {rf} | {rc} | "
                         f"{'; '.join(notes)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
