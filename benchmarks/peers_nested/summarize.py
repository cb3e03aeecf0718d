"""Tabulate records.jsonl: median fit wall / CPU seconds, LL, and LL agreement.

    python summarize.py [records.jsonl]

LL agreement: |LL - best LL among the tools on that workload| <= 1e-4.
"""
import json
import sys
from collections import defaultdict
from statistics import median

path = sys.argv[1] if len(sys.argv) > 1 else "records.jsonl"
recs = defaultdict(list)
for line in open(path):
    r = json.loads(line)
    recs[(r["workload"], r["tool"])].append(r)
best = {}
for (wl, _), rs in recs.items():
    best[wl] = max(best.get(wl, -1e300), max(r["loglik"] for r in rs))
print("| workload | tool | version | n | fit s (wall, median) | CPU s | LL | LL - best | agrees 1e-4 | iters | RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (wl, tool), rs in sorted(recs.items()):
    ll = rs[0]["loglik"]
    d = ll - best[wl]
    print(f"| {wl} | {tool} | {rs[0]['version']} | {len(rs)} | {median(r['fit_seconds'] for r in rs):.3g} "
          f"| {median(r['cpu_seconds'] for r in rs):.3g} | {ll:.6f} | {d:.2e} | {'yes' if abs(d) <= 1e-4 else 'no'} "
          f"| {rs[0].get('n_iterations')} | {max(r['peak_rss_mib'] for r in rs):.0f} |")
