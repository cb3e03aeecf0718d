"""Synthetic nested-logit data (workload ``synth_nl_200k``).

    python make_synth_nl.py --out $NL_SCRATCH/synth_nl_200k.npz

N=200,000 cases x J=5 alternatives x K=10 generic attributes, X ~ N(0, 1), all
alternatives available, ASCs on alternatives 1..4 (alternative 0 is the base).
Two nests: A = {0, 1} with logsum coefficient lambda_A = 0.5 and
B = {2, 3, 4} with lambda_B = 0.7 (lambda = 1/mu; mu is Biogeme's nest parameter).
True parameters come from ``--param-seed`` (default 12345: beta ~ U(-1, 1),
asc ~ N(0, 0.5), rounded to 3 decimals, as in bench/synth.py); the data from
``--seed`` (default 20261122). Choices are drawn by inverse CDF from the exact
NL probabilities with one U(0, 1) per case (numpy default_rng throughout).
The .npz holds X (N, J, K) float64, y (N,) int64, beta (K,), asc (J-1,),
lambdas (2,), nests (J,) int nest index of each alternative.
"""
import argparse
from pathlib import Path

import numpy as np

NESTS = np.array([0, 0, 1, 1, 1])  # nest index of alternatives 0..4
LAMBDAS = np.array([0.5, 0.7])


def nl_probabilities(V, nests=NESTS, lambdas=LAMBDAS):
    """P[n, j] of a two-level NL with utilities V (N, J) and logsum coefs lambdas."""
    lam = lambdas[nests]                              # (J,)
    Vs = V / lam
    m = Vs.max(axis=1, keepdims=True)                 # stabiliser
    e = np.exp(Vs - m)
    S = np.stack([e[:, nests == k].sum(axis=1) for k in range(len(lambdas))], 1)  # (N, M)
    # log of nest "inclusive" terms lambda_k * (m + log S_k) for the upper level
    logI = lambdas * (m + np.log(S))
    upper = np.exp(logI - logI.max(axis=1, keepdims=True))
    P_nest = upper / upper.sum(axis=1, keepdims=True)  # (N, M)
    return P_nest[:, nests] * e / S[:, nests]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--param-seed", type=int, default=12345)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    J = len(NESTS)
    prng = np.random.default_rng(a.param_seed)
    beta = np.round(prng.uniform(-1.0, 1.0, a.k), 3)
    asc = np.round(prng.normal(0.0, 0.5, J - 1), 3)
    rng = np.random.default_rng(a.seed)
    X = rng.standard_normal((a.n, J, a.k))
    u = rng.random(a.n)
    P = nl_probabilities(X @ beta + np.concatenate([[0.0], asc]))
    y = np.minimum((P.cumsum(axis=1) < u[:, None]).sum(axis=1), J - 1).astype(np.int64)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, X=X, y=y, beta=beta, asc=asc, lambdas=LAMBDAS, nests=NESTS)
    print(f"wrote {out}: X{X.shape} shares={np.round(np.bincount(y, minlength=J) / a.n, 3).tolist()} "
          f"beta={beta.tolist()} asc={asc.tolist()} lambdas={LAMBDAS.tolist()}")


if __name__ == "__main__":
    main()
