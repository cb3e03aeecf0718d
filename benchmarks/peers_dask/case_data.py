"""Case-level data for the Dask / Spark MLlib comparison (numpy and pandas only, so that the
choicekit and the Spark Pythons both import it): ``n`` cases, 5 alternatives (``CHOICE`` 1..5),
10 case characteristics ``z0..z9`` (standard normal), choices drawn from an MNL with
alternative-specific constants and coefficients on the characteristics (alternative 1 the
base). One parquet file per partition, written in pieces (bounded memory).

    python benchmarks/peers_dask/case_data.py --cases 5000000 --partitions 10 --dir DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

J, P = 5, 10
#: true values: constants (J,) and coefficients (J, P), zero for the base alternative 1
ASC = np.array([0.0, 0.4, -0.3, 0.2, -0.5])
COEF = np.vstack([np.zeros(P), np.random.default_rng(12345).uniform(-1.0, 1.0, (J - 1, P))])
Z = [f"z{p}" for p in range(P)]


def write(root: Path, n_cases: int, partitions: int, seed: int = 20261204) -> Path:
    """Write (once) and return the folder of the data set."""
    path = Path(root) / f"cases_{n_cases}_{partitions}"
    if (path / "_done").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    per = -(-n_cases // partitions)
    for p in range(partitions):
        rng = np.random.default_rng([seed, p])
        n = min(per, n_cases - p * per)
        z = rng.standard_normal((n, P))
        u = ASC + z @ COEF.T + rng.gumbel(size=(n, J))
        cols = {"case": np.arange(p * per, p * per + n), "CHOICE": u.argmax(axis=1) + 1}
        cols.update({name: z[:, k] for k, name in enumerate(Z)})
        pd.DataFrame(cols).to_parquet(path / f"part.{p:04d}.parquet", index=False)
    (path / "_done").touch()
    return path


def loglike(files: list[str], asc: np.ndarray, coef: np.ndarray) -> float:
    """The MNL log-likelihood of constants ``asc`` (J,) and coefficients ``coef`` (J, P) on
    the files (a check of each tool's estimates by one formula)."""
    total = 0.0
    for f in files:
        d = pd.read_parquet(f)
        v = asc + d[Z].to_numpy() @ coef.T
        m = v.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(v - m).sum(axis=1))
        total += float((v[np.arange(len(d)), d["CHOICE"].to_numpy() - 1] - lse).sum())
    return total


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    print(write(Path(a.dir), a.cases, a.partitions))
