"""The transport example (examples/value_of_time.py) runs, at small size, and writes only into
the directory it is given."""

from __future__ import annotations

import runpy

import numpy as np
from conftest import REPO


def test_value_of_time_example_runs(tmp_path, capsys):
    mod = runpy.run_path(str(REPO / "examples" / "value_of_time.py"), run_name="example")
    out_dir = tmp_path / "out"
    out = mod["main"](["--n-cases", "900", "--bootstrap", "3", "--output-dir", str(out_dir)])
    printed = capsys.readouterr().out
    assert "value of time" in printed and "Train fare +10%" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "cost_elasticities.csv", "fare_scenario_shares.csv", "fare_scenario_surplus.csv",
        "value_of_time.csv"]
    sc = out["scenario"]
    # a fare rise lowers the train share, raises the others, and costs consumers surplus
    assert sc.shares.loc["train", "change"] < 0 < sc.shares.loc["bus", "change"]
    assert sc.surplus.loc["mean", "estimate"] < 0
    vot = out["vot"][("classical", "delta")].loc["B_TIME"]
    assert np.isfinite(vot["se"]) and vot["lower"] < vot["wtp"] < vot["upper"]
    assert out["bootstrap"].n_boot + out["bootstrap"].n_failed == 3
