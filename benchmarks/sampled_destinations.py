"""Large choice sets: destination choice over 2,000 zones with 20 alternatives per case.

Workloads (each in a fresh process, so peak memory is its own):

* ``zone_labels``: a long frame of 20 rows per case labelled by zone id (the analyst sampled
  the zones), read with ``from_long(alt="zone")``; the design is laid out per case in slots;
* ``zone_labels_dense``: the same, with the per-case layout switched off (the layout before
  issue 16: dense over 2,000 alternatives);
* ``slot_labels``: the same rows labelled by slot 0..19 (the analyst's workaround);
* ``sample_alternatives``: the full 2,000-zone universe (wide) and
  ``data.sample_alternatives(20, weights=...)``, importance sampling with McFadden's correction.

Run ``python benchmarks/sampled_destinations.py`` (``--tiny`` for a smoke run); numbers in
``benchmarks/README.md``. Not collected by pytest (``tests/test_benchmarks_smoke.py`` runs it
tiny).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

WORKLOADS = ("zone_labels", "zone_labels_dense", "slot_labels", "sample_alternatives")


def _long_frame(n: int, zones: int, per_case: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 1.0, zones)
    zone = np.argsort(rng.random((n, zones)), axis=1)[:, :per_case].ravel()
    dist = rng.gamma(2.0, 5.0, n * per_case)
    U = (-0.1 * dist + np.log(size[zone])).reshape(n, per_case)
    U += rng.gumbel(size=U.shape)
    chosen = np.zeros((n, per_case), dtype=np.int8)
    chosen[np.arange(n), U.argmax(axis=1)] = 1
    return pd.DataFrame({"case": np.repeat(np.arange(n), per_case), "zone": zone,
                         "slot": np.tile(np.arange(per_case), n), "dist": dist,
                         "lnsize": np.log(size[zone]), "chosen": chosen.ravel()})


def _universe(n: int, zones: int, seed: int = 0):
    import choicekit as ck

    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 1.0, zones)
    zx, zy = rng.uniform(0, 50, (2, zones))
    hx, hy = rng.uniform(0, 50, (2, n))
    dist = np.hypot(hx[:, None] - zx, hy[:, None] - zy)
    U = -0.15 * dist + np.log(size) + rng.gumbel(size=dist.shape)
    df = pd.concat([pd.DataFrame(dist, columns=[f"d{z}" for z in range(zones)]),
                    pd.DataFrame(np.broadcast_to(np.log(size), dist.shape).copy(),
                                 columns=[f"s{z}" for z in range(zones)])], axis=1)
    df["choice"] = U.argmax(axis=1)
    data = ck.ChoiceData.from_wide(
        df, choice="choice", alternatives={z: z for z in range(zones)},
        variables={"dist": {z: f"d{z}" for z in range(zones)},
                   "lnsize": {z: f"s{z}" for z in range(zones)}})
    return data, np.exp(-0.1 * dist) * size


def child(workload: str, n: int, zones: int, per_case: int) -> dict:
    import choicekit as ck

    rec: dict = {"workload": workload, "cases": n, "zones": zones, "per_case": per_case}
    if workload == "sample_alternatives":
        data, weights = _universe(n, zones)
        t0 = time.perf_counter()
        data = data.sample_alternatives(per_case, rng=1, weights=weights)
        rec["sample_s"] = time.perf_counter() - t0
        formula = "choice ~ dist + lnsize | 0"
    else:
        df = _long_frame(n, zones, per_case)
        if workload == "zone_labels_dense":
            import choicekit.data.sampling as sampling

            sampling._SPARSE_MIN = 1 << 62  # never lay sparse choice sets out in slots
        t0 = time.perf_counter()
        data = ck.ChoiceData.from_long(df, case="case", choice="chosen",
                                       alt="slot" if workload == "slot_labels" else "zone")
        rec["data_s"] = time.perf_counter() - t0
        formula = "chosen ~ dist + lnsize | 0"
    t0 = time.perf_counter()
    model = ck.MNL.from_formula(formula, data)
    rec["model_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = model.fit()
    rec["fit_s"] = time.perf_counter() - t0
    rec["design_mib"] = model.design.columns.nbytes / 2**20
    rec["params"] = {k: round(float(v), 5) for k, v in res.params.items()}
    rec["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--zones", type=int, default=2000)
    ap.add_argument("--per-case", type=int, default=20)
    ap.add_argument("--tiny", action="store_true", help="300 cases, 200 zones (smoke test)")
    ap.add_argument("--json", default=None, help="append every record to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.tiny:
        args.cases, args.zones = 300, 200
    if args.child:
        print(json.dumps(child(args.child, args.cases, args.zones, args.per_case)))
        return 0
    print("| workload | cases | zones x per case | read / sample s | model s | fit s | design MiB "
          "| peak RSS MiB | estimates |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w in args.workloads.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", w, "--cases", str(args.cases),
                              "--zones", str(args.zones), "--per-case", str(args.per_case)],
                             capture_output=True, text=True, check=True)
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
        first = rec.get("sample_s", rec.get("data_s"))
        print(f"| {w} | {rec['cases']} | {rec['zones']} x {rec['per_case']} | {first:.3f} | "
              f"{rec['model_s']:.3f} | {rec['fit_s']:.3f} | {rec['design_mib']:.1f} | "
              f"{rec['peak_rss_mib']:.0f} | {rec['params']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
