"""Biogeme peer for NL / CNL: lognested / logcnl on a wide (idco) frame.

    python fit_nl_biogeme.py swissmetro_nl|swissmetro_cnl|synth_nl_200k [--threads 0] [--tolerance 1e-10]

Works with Biogeme 3.3.x (JAX core; tool "biogeme") and 3.2.x (C++ core,
cythonbiogeme; tool "biogeme-3.2"). Nest parameters are Biogeme's MU_* (>= 1,
start 1), ALPHA_EXISTING in [0, 1] (start 0.5), other parameters start at 0.
Standard errors: Rao-Cramer (inverse analytical Hessian); robust (sandwich) SEs
are reported as robust_std_err. Biogeme writes files into the working directory,
so the script works in a fresh folder under $NL_RUNDIR (default: <tmp>/choicekit-nl-run).
"""
import argparse
import logging
import os
import tempfile

import numpy as np
from nl_common import Clock, add_mu_lambda, emit, load_nl_workload, pkg_version, quiet_stdout

RUNDIR = os.environ.get("NL_RUNDIR", os.path.join(tempfile.gettempdir(), "choicekit-nl-run"))
os.makedirs(RUNDIR, exist_ok=True)
os.chdir(tempfile.mkdtemp(prefix="biogeme-nl-", dir=RUNDIR))
logging.getLogger("biogeme").setLevel(logging.WARNING)

from biogeme.biogeme import BIOGEME  # noqa: E402
from biogeme.database import Database  # noqa: E402
from biogeme.expressions import Beta, Variable  # noqa: E402
from biogeme.models import logcnl, lognested  # noqa: E402
from biogeme.nests import (  # noqa: E402
    NestsForCrossNestedLogit,
    NestsForNestedLogit,
    OneNestForCrossNestedLogit,
    OneNestForNestedLogit,
)
from biogeme.parameters import Parameters  # noqa: E402

VERSION = pkg_version("biogeme")
LEGACY = tuple(int(x) for x in VERSION.split(".")[:2]) < (3, 3)
if not LEGACY:
    from biogeme.results_processing import EstimateVarianceCovariance  # noqa: E402


def fit(w, threads, tolerance=None):
    d = w.data
    with Clock() as tp:
        df = d.wide()
    with Clock() as t:
        database = Database(w.label, df)
        asc = {j: Beta(name, 0, None, None, 0) for j, name in zip(d.asc_alts, d.asc_names)}
        betas = [Beta(name, 0, None, None, 0) for name in d.x_names]
        V, av = {}, {}
        for j in range(d.J):
            v = betas[0] * Variable(f"{d.x_names[0]}_{j}")
            for b, name in zip(betas[1:], d.x_names[1:]):
                v = v + b * Variable(f"{name}_{j}")
            V[j + 1] = asc[j] + v if j in asc else v
            av[j + 1] = Variable(f"AV_{j}")
        if d.avail.all():
            av = None
        alphas = {a: Beta(a, 0.5, 0, 1, 0) for a in w.alpha_names}

        def alpha_expr(spec):
            if isinstance(spec, str):
                return 1 - alphas[spec[2:]] if spec.startswith("1-") else alphas[spec]
            return float(spec)

        mus = {n.name: Beta(n.mu, 1, 1, None, 0) for n in w.nests}
        choice_set = list(range(1, d.J + 1))
        if w.cross:
            nests = NestsForCrossNestedLogit(choice_set=choice_set, tuple_of_nests=tuple(
                OneNestForCrossNestedLogit(
                    nest_param=mus[n.name],
                    dict_of_alpha={j + 1: (alpha_expr(n.members[j]) if j in n.members else 0.0) for j in range(d.J)},
                    name=n.name)
                for n in w.nests))
            logprob = logcnl(V, av, nests, Variable("CHOICE"))
        else:
            nests = NestsForNestedLogit(choice_set=choice_set, tuple_of_nests=tuple(
                OneNestForNestedLogit(nest_param=mus[n.name], list_of_alternatives=[j + 1 for j in n.members],
                                      name=n.name)
                for n in w.nests))
            logprob = lognested(V, av, nests, Variable("CHOICE"))
        files = (dict(generate_html=False, generate_pickle=False) if LEGACY
                 else dict(generate_html=False, generate_yaml=False, generate_netcdf=False))
        parameters = Parameters()
        if tolerance is not None:  # default: eps**(1/3) ~ 6.1e-6 on the relative projected gradient
            parameters.set_value("tolerance", tolerance, section="SimpleBounds")
        model = BIOGEME(database, logprob, parameters=parameters, save_iterations=False,
                        number_of_threads=threads, **files)
        if LEGACY:
            model.modelName = "nl_peer"
        else:
            model.model_name = "nl_peer"
        with quiet_stdout():
            results = model.estimate()
        values = results.get_beta_values()
        if LEGACY:
            names = list(results.data.betaNames)
            cov, rcov, ll = results.data.varCovar, results.data.robust_varCovar, results.data.logLike
            msgs = results.data.optimizationMessages
        else:
            names = list(results.beta_names)
            cov = results.get_variance_covariance_matrix(EstimateVarianceCovariance.RAO_CRAMER)
            rcov = results.get_variance_covariance_matrix(EstimateVarianceCovariance.ROBUST)
            ll = results.final_loglikelihood
            msgs = getattr(results, "optimization_messages", None) or {}
    se = dict(zip(names, np.sqrt(np.diag(cov))))
    rse = dict(zip(names, np.sqrt(np.diag(rcov))))
    params = {k: float(values[k]) for k in w.param_names}
    std_err = {k: float(se[k]) for k in w.param_names}
    robust = {k: float(rse[k]) for k in w.param_names}
    add_mu_lambda(w, params, std_err, have="mu")
    add_mu_lambda(w, dict(params), robust, have="mu")
    nit = msgs.get("Number of iterations")
    return {
        "loglik": ll, "params": params, "std_err": std_err, "robust_std_err": robust,
        "fit_seconds": t.seconds, "cpu_seconds": t.cpu, "prep_seconds": tp.seconds,
        "n_iterations": None if nit is None else int(nit),
        "optimizer": str(msgs.get("Algorithm", "")), "threads": threads, "tolerance": tolerance,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--threads", type=int, default=0, help="Biogeme number_of_threads (0 = all cores)")
    ap.add_argument("--tolerance", type=float, default=None, help="SimpleBounds tolerance (default Biogeme's)")
    a = ap.parse_args()
    w = load_nl_workload(a.workload)
    tool = "biogeme" + ("-3.2" if LEGACY else "") + (f"-tol{a.tolerance:g}" if a.tolerance else "")
    emit(tool, VERSION, w, fit(w, a.threads, a.tolerance))
