"""pylogit peer for NL: "Nested Logit" model on a long frame of available rows.

    python fit_nl_pylogit.py swissmetro_nl|synth_nl_200k [--method BFGS] [--start-logit 0]

pylogit estimates theta = logit(lambda) per nest (lambda = 1/mu, in (0, 1), so mu > 1
without explicit bounds); degenerate (one-alternative) nests are fixed by pylogit at
their start value, set to 40 (lambda = 1 - 4e-18). Non-degenerate nests start at
theta = --start-logit (0: lambda = 0.5), the other coefficients at 0. Output has
LAMBDA_*, MU_* with delta-method SEs, and the raw THETA_*. pylogit has no CNL.

pylogit 1.0.1 needs ``collections.Iterable`` (Python >= 3.10) and ``np.in1d``
(numpy >= 2.4) shims, and its nested-logit code the ``.A`` attribute of scipy sparse
matrices (removed in scipy 1.14); all three are restored below before import.
"""
import argparse
import collections
import collections.abc
import warnings
from collections import OrderedDict

import numpy as np

collections.Iterable = collections.abc.Iterable
if not hasattr(np, "in1d"):
    np.in1d = np.isin
import scipy.sparse  # noqa: E402

for _cls in (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix, scipy.sparse.coo_matrix):
    if not hasattr(_cls, "A"):  # spmatrix.A was removed in scipy 1.14; pylogit's NL code still uses it
        _cls.A = property(lambda self: self.toarray())
warnings.filterwarnings("ignore")

import pylogit as pl  # noqa: E402
from nl_common import Clock, emit, load_nl_workload, pkg_version, quiet_stdout  # noqa: E402


def fit(w, method, start_logit):
    if w.cross:
        raise SystemExit("pylogit has no cross-nested logit")
    d = w.data
    with Clock() as tp:
        df = d.long(keep_unavailable=False)
    with Clock() as t:
        spec, names = OrderedDict(), OrderedDict()
        for col in d.param_names:
            spec[col] = [list(range(d.J))]
            names[col] = [col]
        nest_spec, covered = OrderedDict(), set()
        for n in w.nests:
            nest_spec[n.name] = [int(j) for j in n.members]
            covered |= set(n.members)
        for j in range(d.J):
            if j not in covered:
                nest_spec[f"SINGLE_{j}"] = [j]
        model = pl.create_choice_model(
            data=df, alt_id_col="alt", obs_id_col="obs_id", choice_col="chosen",
            specification=spec, model_type="Nested Logit", names=names, nest_spec=nest_spec,
        )
        init = np.concatenate([[start_logit if len(v) > 1 else 40.0 for v in nest_spec.values()],
                               np.zeros(len(d.param_names))])
        with quiet_stdout():
            model.fit_mle(init, print_res=False, method=method)
    params = {k: float(model.params[k]) for k in d.param_names}
    se = {k: float(model.standard_errors[k]) for k in d.param_names}
    for n in w.nests:
        th, s = float(model.params[n.name]), float(model.standard_errors[n.name])
        lam = 1.0 / (1.0 + np.exp(-th))
        params.update({n.mu: 1.0 / lam, n.lam: lam, f"THETA_{n.name}": th})
        se.update({n.mu: s * np.exp(-th), n.lam: s * lam * (1 - lam), f"THETA_{n.name}": s})
    est = getattr(model, "estimation_success", None)
    return {
        "loglik": model.log_likelihood, "params": params, "std_err": se,
        "fit_seconds": t.seconds, "cpu_seconds": t.cpu, "prep_seconds": tp.seconds,
        "n_iterations": None, "method": method, "estimation_success": est,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--method", default="BFGS", help="scipy method passed to fit_mle (default BFGS)")
    ap.add_argument("--start-logit", type=float, default=0.0)
    a = ap.parse_args()
    w = load_nl_workload(a.workload)
    emit("pylogit" + ("" if a.method == "BFGS" else f"-{a.method}"), pkg_version("pylogit"), w,
         fit(w, a.method, a.start_logit))
