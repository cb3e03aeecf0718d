"""Workloads and reporting for the NL / CNL peer benchmark (fit_nl_*.py).

Workloads (``load_nl_workload(arg)``):

* ``swissmetro_nl``  -- Biogeme b09nested: b01logit utilities (ASC_TRAIN, ASC_CAR,
  B_TIME, B_COST; ASC_SM = 0) and one nest "existing" = {TRAIN, CAR} with
  MU_EXISTING >= 1; SM alone.
* ``swissmetro_cnl`` -- Biogeme b11cnl: nests "existing" = {CAR: 1, TRAIN: ALPHA_EXISTING}
  (MU_EXISTING) and "public" = {TRAIN: 1 - ALPHA_EXISTING, SM: 1} (MU_PUBLIC);
  ALPHA_EXISTING in [0, 1], mus >= 1.
* ``synth_nl_200k`` (or the path of an .npz from make_synth_nl.py) -- 200k x 5 x 10,
  nests A = {0, 1}, B = {2, 3, 4}.

Conventions: MU_<nest> is Biogeme's nest parameter (mu >= 1); LAMBDA_<nest> = 1/MU
is the logsum coefficient (larch, pylogit-style). Every script reports both, the
converted one with a delta-method standard error (se_lambda = se_mu / mu^2).
``loglik_at`` recomputes the log-likelihood with numpy from a params dict, as an
independent check of each peer's parametrisation.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# the MNL peers' shared/bench/common.py (outside the project, beside it as for benchmarks/run.py)
sys.path.insert(0, os.environ.get("SHARED_BENCH", str(Path(__file__).resolve().parents[3] / "shared" / "bench")))
from common import ChoiceData, load_swissmetro, pkg_version, quiet_stdout  # noqa: E402,F401

SYNTH_DEFAULT = Path(os.environ.get("NL_SCRATCH", "scratch")) / "synth_nl_200k.npz"

# Published references (Biogeme 3.2.7 example reports 09nested.html / 11cnl.html,
# github.com/michelbierlaire/biogeme examples/swissmetro; Biogeme's own test asserts
# -5236.90001357885 for b09; larch 5's test suite asserts -5214.0491950955357 for b11).
PUBLISHED = {
    "swissmetro_nl": {
        "loglik": -5236.90001357885,
        "params": {"ASC_CAR": -0.167, "ASC_TRAIN": -0.512, "B_COST": -0.857, "B_TIME": -0.899, "MU_EXISTING": 2.05},
        "std_err": {"ASC_CAR": 0.0371, "ASC_TRAIN": 0.0452, "B_COST": 0.0463, "B_TIME": 0.057, "MU_EXISTING": 0.118},
        "robust_std_err": {"ASC_CAR": 0.0545, "ASC_TRAIN": 0.0791, "B_COST": 0.06, "B_TIME": 0.107, "MU_EXISTING": 0.164},
    },
    "swissmetro_cnl": {
        "loglik": -5214.0491950955357,
        "params": {"ALPHA_EXISTING": 0.495, "ASC_CAR": -0.24, "ASC_TRAIN": 0.0981, "B_COST": -0.819,
                   "B_TIME": -0.777, "MU_EXISTING": 2.51, "MU_PUBLIC": 4.11},
        "std_err": {"ALPHA_EXISTING": 0.0289, "ASC_CAR": 0.0384, "ASC_TRAIN": 0.0564, "B_COST": 0.0446,
                    "B_TIME": 0.0558, "MU_EXISTING": 0.175, "MU_PUBLIC": 0.568},
        "robust_std_err": {"ALPHA_EXISTING": 0.0348, "ASC_CAR": 0.0534, "ASC_TRAIN": 0.07, "B_COST": 0.059,
                           "B_TIME": 0.102, "MU_EXISTING": 0.248, "MU_PUBLIC": 0.496},
    },
}


@dataclass
class Nest:
    name: str  # e.g. "EXISTING"; parameters are MU_<name> / LAMBDA_<name>
    members: dict  # alt index -> 1.0, "ALPHA_X" (alpha) or "1-ALPHA_X" (1 - alpha)

    @property
    def mu(self) -> str:
        return f"MU_{self.name}"

    @property
    def lam(self) -> str:
        return f"LAMBDA_{self.name}"


@dataclass
class NLWorkload:
    data: ChoiceData
    nests: list  # non-trivial nests; alternatives in no nest sit alone under the root
    cross: bool = False
    alpha_names: tuple = ()
    label: str = ""

    @property
    def param_names(self):  # Biogeme convention (MU_*)
        return self.data.param_names + [n.mu for n in self.nests] + list(self.alpha_names)


def load_nl_workload(arg: str) -> NLWorkload:
    if arg == "swissmetro_nl":
        d = load_swissmetro()  # alts 0=TRAIN, 1=SM, 2=CAR
        return NLWorkload(d, [Nest("EXISTING", {0: 1.0, 2: 1.0})], label=arg)
    if arg == "swissmetro_cnl":
        d = load_swissmetro()
        nests = [Nest("EXISTING", {2: 1.0, 0: "ALPHA_EXISTING"}), Nest("PUBLIC", {0: "1-ALPHA_EXISTING", 1: 1.0})]
        return NLWorkload(d, nests, cross=True, alpha_names=("ALPHA_EXISTING",), label=arg)
    path = SYNTH_DEFAULT if arg == "synth_nl_200k" else Path(arg)
    z = np.load(path)
    X, y, beta, asc = z["X"], z["y"], z["beta"], z["asc"]
    N, J, K = X.shape
    tp = {f"ASC_{j}": float(asc[j - 1]) for j in range(1, J)}
    tp.update({f"B_{k + 1}": float(beta[k]) for k in range(K)})
    names = "AB"
    nests = []
    for k, lam in enumerate(z["lambdas"]):
        nests.append(Nest(names[k], {int(j): 1.0 for j in np.flatnonzero(z["nests"] == k)}))
        tp[f"MU_{names[k]}"] = 1.0 / float(lam)
        tp[f"LAMBDA_{names[k]}"] = float(lam)
    d = ChoiceData(
        X=X, avail=np.ones((N, J), dtype=bool), y=y.astype(np.int64),
        alt_names=[f"ALT{j}" for j in range(J)], x_names=[f"B_{k + 1}" for k in range(K)],
        asc_alts=list(range(1, J)), asc_names=[f"ASC_{j}" for j in range(1, J)],
        true_params=tp, label="synth_nl_200k" if arg == "synth_nl_200k" else Path(arg).stem,
    )
    return NLWorkload(d, nests, label=d.label)


def alpha_value(spec, params) -> float:
    if isinstance(spec, str):
        return 1.0 - params[spec[2:]] if spec.startswith("1-") else params[spec]
    return float(spec)


def loglik_at(w: NLWorkload, params: dict, per_obs: bool = False):
    """Numpy log-likelihood of a (cross-)nested logit at params (MU_* convention).

    P_i = sum_m [a_im^mu_m e^{mu_m V_i} / S_m] * S_m^{1/mu_m} / sum_n S_n^{1/mu_n},
    S_m = sum_j a_jm^mu_m e^{mu_m V_j} (Biogeme's CNL; the NL is the 0/1 special case);
    alternatives in no nest form singleton nests with mu = 1.
    """
    d = w.data
    beta = np.array([params[k] for k in d.x_names])
    V = d.X @ beta
    for a, j in enumerate(d.asc_alts):
        V[:, j] += params[d.asc_names[a]]
    A = []  # (alpha vector over alts, mu)
    covered = set()
    for n in w.nests:
        alpha = np.zeros(d.J)
        for j, s in n.members.items():
            alpha[j] = alpha_value(s, params)
            covered.add(j)
        A.append((alpha, params[n.mu]))
    for j in range(d.J):
        if j not in covered:
            alpha = np.zeros(d.J)
            alpha[j] = 1.0
            A.append((alpha, 1.0))
    av = d.avail
    c = np.where(av, V, -np.inf).max(axis=1, keepdims=True)
    Vc = np.where(av, V - c, -np.inf)
    num = np.zeros(d.N)
    den = np.zeros(d.N)
    rows = np.arange(d.N)
    for alpha, mu in A:
        with np.errstate(divide="ignore"):
            t = np.where(av & (alpha > 0), mu * np.log(np.where(alpha > 0, alpha, 1.0)) + mu * Vc, -np.inf)
        S = np.exp(t).sum(axis=1)
        G = np.where(S > 0, S ** (1.0 / mu), 0.0)
        den += G
        with np.errstate(invalid="ignore", divide="ignore"):
            num += np.where(S > 0, np.exp(t[rows, d.y]) / np.where(S > 0, S, 1.0) * G, 0.0)
    ll = np.log(num) - np.log(den)
    return ll if per_obs else float(ll.sum())


def add_mu_lambda(w: NLWorkload, params: dict, se: dict, have: str = "mu"):
    """Complete params/se with both MU_* and LAMBDA_* (delta method)."""
    for n in w.nests:
        if have == "mu":
            mu, s = params[n.mu], se.get(n.mu)
            params[n.lam] = 1.0 / mu
            se[n.lam] = None if s is None else s / mu**2
        else:
            lam, s = params[n.lam], se.get(n.lam)
            params[n.mu] = 1.0 / lam
            se[n.mu] = None if s is None else s / lam**2
    return params, se


class Clock:
    """Wall and process CPU time (user + system, all threads) of a block."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.c0 = r.ru_utime + r.ru_stime
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = r.ru_utime + r.ru_stime - self.c0
        return False


def _f(v):
    return None if v is None or not np.isfinite(v) else float(v)


def emit(tool, version, w: NLWorkload, res: dict, **extra) -> dict:
    params = {k: float(v) for k, v in res["params"].items()}
    out = {
        "tool": tool,
        "version": version,
        "workload": w.label,
        "n_obs": int(w.data.N),
        "loglik": float(res["loglik"]),
        "loglik_numpy_check": loglik_at(w, params),
        "params": params,
        "std_err": {k: _f(v) for k, v in (res.get("std_err") or {}).items()},
        "fit_seconds": round(float(res["fit_seconds"]), 4),
        "cpu_seconds": round(float(res["cpu_seconds"]), 4),
        "prep_seconds": round(float(res.get("prep_seconds", 0.0)), 4),
        "n_iterations": res.get("n_iterations"),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    out.update({k: v for k, v in res.items() if k not in out and k not in ("params", "std_err")})
    out.update(extra)
    line = json.dumps(out)
    print(line, flush=True)
    if os.environ.get("PEER_OUT"):
        with open(os.environ["PEER_OUT"], "a") as fh:
            fh.write(line + "\n")
    return out
