"""larch peer for NL: larch 6 Model with a nesting graph, on an idca Dataset.

    python fit_nl_larch.py swissmetro_nl|synth_nl_200k [--engine numba|jax] [--method SLSQP|bhhh|...]
                           [--options '{"ftol": 1e-12}']

Nest parameters are larch's logsum coefficients LAMBDA_* (bounds (0.001, 1],
start 1), i.e. 1/MU_* of Biogeme; MU_* and its delta-method SE are added to the
output. larch's default optimiser with finite bounds is SLSQP.

Cross-nesting: larch 6.0.46 accepts ``phi_parameters`` on graph edges but neither
compute engine implements allocations (numbamodel.py: "TODO alphas"/"FIXME: alpha
slots"); a CNL graph gives LL -8781.3 (numba) / -6798.7 (jax) at the published
b11cnl estimates instead of -5214.05, so swissmetro_cnl is refused here.
"""
import argparse
import json
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import larch as lx  # noqa: E402
from larch import P, X  # noqa: E402
from nl_common import Clock, add_mu_lambda, emit, load_nl_workload, pkg_version, quiet_stdout  # noqa: E402


def fit(w, engine, method, options=None):
    if w.cross:
        raise SystemExit("larch 6.0.46 does not implement cross-nested allocations (see module docstring)")
    d = w.data
    N, J, K = d.X.shape
    with Clock() as tp:
        ds = lx.Dataset.construct.new_idca(np.arange(N), np.arange(1, J + 1))
        dims = ("caseid", "altid")
        for k, name in enumerate(d.x_names):
            ds[name] = (dims, d.X[:, :, k])
        ds["chosen"] = (dims, (d.y[:, None] == np.arange(J)[None, :]).astype(np.float64))
        if not d.avail.all():
            ds["avail"] = (dims, d.avail.astype(np.int8))
    with Clock() as t:
        m = lx.Model(ds, compute_engine=engine)
        m.utility_ca = sum(P(x) * X(x) for x in d.x_names)
        for j, name in zip(d.asc_alts, d.asc_names):
            m.utility_co[j + 1] = P(name)
        if d.avail.all():
            m.availability_any = True
        else:
            m.availability_ca_var = "avail"
        m.choice_ca_var = "chosen"
        for n in w.nests:
            m.graph.new_node(parameter=n.lam, children=[j + 1 for j in n.members], name=n.name)
        kw = {"method": method} if method else {}
        if options:
            kw["options"] = options
        with quiet_stdout():
            r = m.maximize_loglike(stderr=True, quiet=True, **kw)
    params = {k: float(v) for k, v in zip(m.pnames, m.pvals)}
    se = {k: float(v) for k, v in zip(m.pnames, m.pstderr)}
    add_mu_lambda(w, params, se, have="lambda")
    names = d.param_names + [n.mu for n in w.nests] + [n.lam for n in w.nests]
    return {
        "loglik": r.loglike, "params": {k: params[k] for k in names}, "std_err": {k: se[k] for k in names},
        "fit_seconds": t.seconds, "cpu_seconds": t.cpu, "prep_seconds": tp.seconds,
        "n_iterations": r.get("nit"), "method": r.get("method"), "engine": engine,
        "bounds": {n.lam: [float(m.pminimum[list(m.pnames).index(n.lam)]),
                           float(m.pmaximum[list(m.pnames).index(n.lam)])] for n in w.nests},
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--engine", default="numba", choices=["numba", "jax"])
    ap.add_argument("--method", default=None, help="optimiser for maximize_loglike (default: larch's choice)")
    ap.add_argument("--options", default=None, help='JSON passed as scipy options, e.g. \'{"ftol": 1e-12}\'')
    a = ap.parse_args()
    opts = json.loads(a.options) if a.options else None
    w = load_nl_workload(a.workload)
    tool = ("larch" + (f"-{a.method}" if a.method else "") + ("" if a.engine == "numba" else f"-{a.engine}")
            + ("-" + "-".join(f"{k}{v:g}" for k, v in opts.items()) if opts else ""))
    emit(tool, pkg_version("larch"), w, fit(w, a.engine, a.method, opts))
