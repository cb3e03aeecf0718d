"""A tiny run of benchmarks/run.py: the script works end to end and fits what it generates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_benchmark_script_tiny(tmp_path):
    out = tmp_path / "records.jsonl"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--repeats", "1", "--workloads",
         "synth_10k,synth_10m", "--scratch", str(tmp_path / "scratch"), "--json", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| synth_10k | choicekit |" in proc.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    tools = {(r["workload_key"], r["tool"]) for r in records}
    assert tools == {("synth_10k", "choicekit"), ("synth_10k", "choicekit-chunked"),
                     ("synth_10m", "choicekit-chunked")}
    by = {(r["workload_key"], r["tool"]): r for r in records}
    # the in-memory and the chunked estimator fit the same data: same maximum
    a, b = by[("synth_10k", "choicekit")], by[("synth_10k", "choicekit-chunked")]
    assert a["loglik"] == pytest.approx(b["loglik"], rel=1e-10)
    for name, value in a["params"].items():
        assert b["params"][name] == pytest.approx(value, rel=1e-8, abs=1e-12)
    for r in records:
        assert r["fit_seconds"] > 0 and r["wall_seconds"] >= r["fit_seconds"]
        assert r["peak_rss_mib"] > 0
    # the data are the peers' synth.py data: 2,000 cases, 5 alternatives, 5 attributes, and
    # the estimates are near the true parameters (B_1 = 0.3, 4 standard errors allowed)
    z = np.load(tmp_path / "scratch" / "synth_2000_5_5.npz")
    assert z["X"].shape == (2000, 5, 5)
    assert a["params"]["B_1"] == pytest.approx(z["beta"][0], abs=4 * a["std_err"]["B_1"])


def test_sampled_destinations_tiny():
    """benchmarks/sampled_destinations.py: every workload runs, and the zone-labelled rows fit
    like the slot-labelled ones in either layout."""
    script = SCRIPT.parent / "sampled_destinations.py"
    proc = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line.split("|")[-2] for line in proc.stdout.splitlines()
            if line.startswith("| ") and "workload" not in line}
    assert set(rows) == {"zone_labels", "zone_labels_dense", "slot_labels",
                         "sample_alternatives"}
    assert rows["zone_labels"] == rows["zone_labels_dense"] == rows["slot_labels"]


def test_nested_benchmark_tiny(tmp_path):
    """benchmarks/nested.py --tiny: the NL / CNL workloads run end to end (Swissmetro when its
    data are there), and the synthetic NL data are those of the peers' generator."""
    script = SCRIPT.parent / "nested.py"
    out = tmp_path / "records.jsonl"
    proc = subprocess.run(
        [sys.executable, str(script), "--tiny", "--repeats", "1", "--scratch",
         str(tmp_path / "scratch"), "--json", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| synth_nl_200k | choicekit |" in proc.stdout
    by = {(r["workload_key"], r["tool"]): r
          for r in map(json.loads, out.read_text().splitlines())}
    assert {("synth_nl_200k", "choicekit"), ("synth_nl_200k", "choicekit-mnl")} <= set(by)
    nl, mnl = by[("synth_nl_200k", "choicekit")], by[("synth_nl_200k", "choicekit-mnl")]
    assert nl["n_obs"] == mnl["n_obs"] == 3000 and nl["converged"]
    assert nl["loglik"] > mnl["loglik"]  # the data are nested: the NL fits better
    assert 0.3 < nl["params"]["LAMBDA_A"] < 0.7 and 0.5 < nl["params"]["LAMBDA_B"] < 0.9
    for r in by.values():
        assert r["fit_seconds"] > 0 and r["cpu_seconds"] > 0 and r["process_cpu_seconds"] > 0
    for wl, ll in [("swissmetro_nl", -5236.90001357885), ("swissmetro_cnl", -5214.0491950955)]:
        if (wl, "choicekit") in by:  # Biogeme's published log-likelihoods
            assert by[(wl, "choicekit")]["loglik"] == pytest.approx(ll, abs=1e-4)
    # the generator is the peers' one (peers_nested/make_synth_nl.py), bit for bit
    peer = tmp_path / "peer.npz"
    subprocess.run([sys.executable, str(SCRIPT.parent / "peers_nested" / "make_synth_nl.py"),
                    "--n", "3000", "--out", str(peer)], check=True, capture_output=True,
                   timeout=120)
    mine, theirs = np.load(tmp_path / "scratch" / "synth_nl_3000_5_10.npz"), np.load(peer)
    assert set(mine.files) == set(theirs.files)
    for k in mine.files:
        assert np.array_equal(mine[k], theirs[k]), k
