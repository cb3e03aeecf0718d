"""Models of every registered family on one small synthetic data set, for the conformance suite.

The data: 300 cases, 5 alternatives ``a..e`` with availability holes (about 15% of the
non-chosen alternatives missing), two alternative-varying attributes, a case-level income
entering the utility of ``e``, and case weights. Choices come from an MNL (any choices do: the
conformance checks are identities of each family's functions, not estimates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import choicekit as ck

B, V = ck.Beta, ck.Var
ALTS = ["a", "b", "c", "d", "e"]


def synthetic_long(n: int = 300, seed: int = 7, weights: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    J = len(ALTS)
    x1 = rng.normal(size=(n, J))
    x2 = rng.uniform(0, 2, size=(n, J))
    inc = rng.uniform(1, 3, size=n)
    avail = rng.uniform(size=(n, J)) > 0.15
    avail[np.arange(n), rng.integers(0, J, n)] = True
    U = 0.8 * x1 - 0.5 * x2 + rng.gumbel(size=(n, J))
    U[~avail] = -np.inf
    chosen = U.argmax(axis=1)
    rows = [(i, ALTS[j], x1[i, j], x2[i, j], inc[i], int(j == chosen[i]))
            for i in range(n) for j in range(J) if avail[i, j]]
    df = pd.DataFrame(rows, columns=["case", "alt", "x1", "x2", "inc", "chosen"])
    if weights:
        w = rng.uniform(0.5, 2.0, size=n)
        df["w"] = w[df["case"].to_numpy()]
    return df


def utilities() -> dict:
    u = {alt: B(f"ASC_{alt}") + B("B1") * V("x1") + B("B2") * V("x2") for alt in ALTS[:-1]}
    u["e"] = B("B1") * V("x1") + B("B2") * V("x2") + B("B_INC") * V("inc")
    return u


def nl_nests(lam_low=None, lam_top=None, mu_de=None) -> list:
    """A three-level tree: ((a, b), c), (d, e) with mu-form on the second nest."""
    low = ck.Nest("low", ["a", "b"], B("L_LOW", 0.5, lower=0.01, upper=1.0)
                  if lam_low is None else lam_low)
    top = ck.Nest("top", [low, "c"], B("L_TOP", 0.8, lower=0.01, upper=1.0)
                  if lam_top is None else lam_top)
    de = ck.Nest("de", ["d", "e"], mu=B("MU_DE", 1.6, lower=1.0) if mu_de is None else mu_de)
    return [top, de]


def cnl_nests() -> list:
    al = B("ALPHA_B", 0.4, lower=0.0, upper=1.0)
    return [ck.Nest("n1", {"a": 1.0, "b": al, "c": 0.5}, B("L1", 0.6, lower=0.01, upper=1.0)),
            ck.Nest("n2", {"b": 1 - al, "c": 0.5, "d": 1.0, "e": 1.0},
                    B("L2", 0.7, lower=0.01, upper=1.0))]


def family_data() -> ck.ChoiceData:
    return ck.ChoiceData.from_long(synthetic_long(), case="case", alt="alt", choice="chosen",
                                   weight="w")


def panel_data() -> ck.ChoiceData:
    """The same cases as :func:`family_data`, grouped in persons of three cases (weights per
    person), for the panel mixed logit."""
    df = synthetic_long()
    df["person"] = df["case"] // 3
    wp = np.random.default_rng(11).uniform(0.5, 2.0, size=df["person"].max() + 1)
    df["wp"] = wp[df["person"].to_numpy()]
    return ck.ChoiceData.from_long(df, case="case", alt="alt", choice="chosen", weight="wp",
                                   group="person")


def mixed_utilities(spread: bool = True) -> dict:
    """A normal coefficient on x1, a negative lognormal one on x2 (fixed draws per person)."""
    D = ck.Draw
    b1 = B("B1") + B("S1") * D("d1")
    b2 = -ck.exp(B("M2") + B("S2") * D("d2", "normal"))
    u = {alt: B(f"ASC_{alt}") + b1 * V("x1") + b2 * V("x2") for alt in ALTS[:-1]}
    u["e"] = b1 * V("x1") + b2 * V("x2") + B("B_INC") * V("inc")
    return u


def mixed_model(n_draws: int = 200) -> ck.MixedLogit:
    return ck.MixedLogit(panel_data(), mixed_utilities(), n_draws=n_draws, draws="halton",
                         panel=True, rng=5)


def family_models(data: ck.ChoiceData) -> dict:
    """One model per registered family: ``{family name: (model, parameter vector)}``."""
    u = utilities()
    mnl = ck.MNL(data, u)
    nl = ck.NestedLogit(data, u, nl_nests())
    cnl = ck.CrossNestedLogit(data, u, cnl_nests())
    rng = np.random.default_rng(3)
    out = {}
    for m in (mnl, nl, cnl):
        theta = m.start_params.to_numpy().copy()
        k = m.design.n_params
        theta[:k] = rng.normal(scale=0.4, size=k)  # an interior point, away from the MNL
        out[m.family().name] = (m, theta)
    mx = mixed_model()
    theta = rng.normal(scale=0.4, size=len(mx.param_names))
    names = mx.param_names
    theta[names.index("S1")], theta[names.index("S2")] = 0.6, 0.5
    out[mx.family().name] = (mx, theta)
    return out
