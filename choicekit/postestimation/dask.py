"""Post-estimation on distributed data: every quantity that is a sum over cases, as a
map-reduce over the partitions.

Each function mirrors its in-memory counterpart (:mod:`.shares`, :mod:`.elasticities`,
:mod:`.scenarios`, :mod:`choicekit.results.fit_measures`): the partitions evaluate the same
in-memory code on their cases and return weighted *sums* per segment (keyed by the segment's
label), the client adds them in partition order and forms the same ratios. Standard errors
come from the same delta method or simulation (:func:`choicekit.inference.delta.
standard_errors`): each evaluation of the quantity at a perturbed parameter vector is one
round trip that sends only the parameters.

The workers hold only the partitions' designs (:mod:`choicekit.estimation.dask`). A call
that needs the data's columns (segments ``by=``, the variables of elasticities and scenarios,
a design in slots spread over the alternatives) has them rebuilt from storage on its first
evaluation, keeps what it derives from them (segment codes, the changed design) under the
call's token for the other evaluations, and drops that when it ends.

Per-case outputs (``predict_proba``) stay distributed: a Dask DataFrame computed from the
partitions' models.
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import suggest
from choicekit.design.build import build_design
from choicekit.estimation.dask import run_on_partition
from choicekit.exceptions import ChoiceDataError, ChoiceKitWarning, SpecificationError
from choicekit.families.protocol import family_proba
from choicekit.inference.delta import DeltaResult, standard_errors
from choicekit.postestimation.elasticities import (
    EffectTable,
    _dP,
    derivative_design,
    resolve_perturbations,
)
from choicekit.postestimation.scenarios import ScenarioResult, _sub, apply_changes
from choicekit.postestimation.shares import PostContext, estimate_frame, segment_codes

__all__ = ["predict_proba", "predicted_shares", "aggregate_elasticities", "scenario",
           "hit_rate"]


# ---------------------------------------------------------------------- worker side
def _ctx(model: Any, beta: np.ndarray, token: str | None = None) -> PostContext:
    """The post-estimation context of a partition's in-memory model (over every alternative,
    as in memory). A design in slots is spread over the alternatives from the partition's
    data (given for the first evaluation of a call, kept under ``token`` for the rest)."""
    design = model.design
    if design.slot_alts is not None:
        cache = _cache(model)
        key = ("dense", token)
        design = cache.get(key)
        if design is None:
            design = build_design(model.data, model.specification, missing=model._missing,
                                  need_choice=False, layout="dense")
            if token is not None:
                cache[key] = design
    K = len(beta)
    return PostContext(model=model, data=model.data, design=design, beta=beta,
                       cov=np.zeros((K, K)), free=np.ones(K, dtype=bool),
                       param_names=tuple(model.param_names))


def _cache(model: Any) -> dict:
    return model.__dict__.setdefault("_dask_post_cache", {})


def _w_forget(model: Any, fam: Any, token: str) -> None:
    """Drop what a post-estimation call kept on a partition (its derived designs, codes)."""
    cache = _cache(model)
    for key in [k for k in cache if k == token or (isinstance(k, tuple) and token in k)]:
        del cache[key]


def _codes(ctx: PostContext, by: Any, token: str | None = None) -> tuple[np.ndarray, list]:
    """Segment codes of the partition's cases (from its data on the first evaluation of a
    call, kept under ``token`` for the rest)."""
    if by is None:
        return np.zeros(ctx.design.n_cases, dtype=np.intp), [None]
    cache = _cache(ctx.model)
    key = ("codes", token)
    if key not in cache:
        codes, labels, _ = segment_codes(by, ctx)
        if token is None:
            return codes, list(labels)
        cache[key] = (codes, list(labels))
    return cache[key]


def _seg_sum(M: np.ndarray, w: np.ndarray, codes: np.ndarray, S: int) -> np.ndarray:
    """Weighted sums of the rows of ``M`` (n, m) within each segment, ``(S, m)`` (in row
    order, as ``np.add.at``, at a third of its time)."""
    return np.stack([np.bincount(codes, weights=M[:, j] * w, minlength=S)
                     for j in range(M.shape[1])], axis=1).reshape(S, M.shape[1])


def _w_proba_frame(model: Any, fam: Any, beta: np.ndarray) -> pd.DataFrame:

    d = model.design
    P = family_proba(fam, beta)
    return pd.DataFrame(d.to_alternatives(P), index=d.cases, columns=list(d.alternatives))


def _w_shares(model: Any, fam: Any, beta: np.ndarray, by: Any, token: str
              ) -> tuple[list, np.ndarray, np.ndarray]:
    ctx = _ctx(model, beta, token)
    codes, labels = _codes(ctx, by, token)
    w = ctx.weight
    S = len(labels)
    return labels, _seg_sum(ctx.proba(beta, ctx.design), w, codes, S), \
        np.bincount(codes, weights=w, minlength=S)


def _w_elasticities(model: Any, fam: Any, beta: np.ndarray, variable: Any, relative: bool,
                    token: str) -> tuple[list, np.ndarray, np.ndarray, float]:

    ctx = _ctx(model, beta, token)
    cache = _cache(model)
    if token not in cache:
        perts = resolve_perturbations(variable, ctx)
        cache[token] = (perts, [derivative_design(ctx.data, ctx, p, relative=relative)
                                for p in perts])
    perts, derivs = cache[token]
    w = ctx.weight
    P = ctx.proba(beta)
    wdP = np.stack([w @ _dP(ctx, P, DX, doff, beta) for DX, doff in derivs])
    return [p.label for p in perts], w @ P, wdP, float(w.sum())


def _w_scenario(model: Any, fam: Any, beta: np.ndarray, changes: Any, how: str,
                alternatives: Any, cases: Any, by: Any, k_cost: int | None,
                cost_scale: float, token: str) -> tuple:

    ctx = _ctx(model, beta, token)
    cache = _cache(model)
    if token not in cache:
        new = apply_changes(ctx.data, changes, how=how, alternatives=alternatives,
                            cases=cases)
        d1 = model._design_for(new)
        d0 = ctx.design
        if d1.n_cases != d0.n_cases or not d1.cases.equals(d0.cases):
            raise ChoiceDataError(
                f"The changed data keep {d1.n_cases} cases, the original {d0.n_cases} (in "
                "one partition): the change made some variables missing or non-finite. Check "
                "the new values.")
        cache[token] = d1
    d1 = cache[token]
    d0 = ctx.design
    codes, labels = _codes(ctx, by, token)
    S = len(labels)
    w = ctx.weight
    S0 = _seg_sum(ctx.proba(beta, d0), w, codes, S)
    S1 = _seg_sum(ctx.proba(beta, d1), w, codes, S)
    W = np.bincount(codes, weights=w, minlength=S)
    tot = None
    if k_cost is not None:
        lam = -beta[k_cost] * cost_scale
        cs = (ctx.logsum(beta, d1) - ctx.logsum(beta, d0)) / lam
        tot = np.bincount(codes, weights=w * cs, minlength=S)
    return labels, S0, S1, W, tot


def _w_hit_rate(model: Any, fam: Any, beta: np.ndarray) -> tuple[float, float, float, int]:
    ctx = _ctx(model, beta)
    d = ctx.design
    if d.chosen is None:
        raise ChoiceDataError("These data carry no observed choices; a hit rate needs them.")
    P = ctx.proba(beta, d)
    w = ctx.weight
    rows = np.arange(d.n_cases)
    return (float(w @ (P.argmax(axis=1) == d.chosen)), float(w @ P[rows, d.chosen]),
            float(w.sum()), d.n_cases)


class _Calls:
    """The evaluations of one post-estimation call on the partitions: the first with the
    partitions' data rebuilt from storage (when the call needs the data's columns), the
    rest on what it left under the call's token; :meth:`close` drops that."""

    def __init__(self, fam: Any, needs_data: bool) -> None:
        self.fam = fam
        self.token = uuid.uuid4().hex
        self.with_data = needs_data or _slotted(fam)

    def map(self, func: Any, *args: Any) -> list:
        parts = self.fam.map(func, *args, with_data=self.with_data)
        self.with_data = False
        return parts

    def close(self) -> None:
        self.fam.map(_w_forget, self.token)


def _slotted(fam: Any) -> bool:
    """Whether the partitions' designs are laid out in slots (post-estimation spreads them
    over the alternatives, from the data)."""
    return bool(fam.design.summaries[0].get("slotted", False))


# ---------------------------------------------------------------------- client side
def _family(res_or_model: Any) -> Any:
    model = getattr(res_or_model, "model", res_or_model)
    return model._family


def _merge(parts: list, *arrays: int) -> tuple[list, list[np.ndarray]]:
    """Sum per-segment arrays of the partitions by label (partition order), labels sorted."""
    labels: list = []
    seen: set = set()
    for p in parts:
        for lab in p[0]:
            if lab not in seen:
                seen.add(lab)
                labels.append(lab)
    try:
        labels = sorted(labels)
    except TypeError:  # pragma: no cover - incomparable labels: order of appearance
        pass
    pos = {lab: i for i, lab in enumerate(labels)}
    out = []
    for a in arrays:
        first = np.asarray(parts[0][a])
        acc = np.zeros((len(labels),) + first.shape[1:])
        for p in parts:
            idx = [pos[lab] for lab in p[0]]
            np.add.at(acc, idx, np.asarray(p[a]))
        out.append(acc)
    return labels, out


def _index(labels: list, by: Any, alts: list) -> pd.Index:
    a = pd.Index(alts, name="alternative")
    if by is None:
        return a
    name = by if isinstance(by, str) else "segment"
    return pd.MultiIndex.from_product([pd.Index(labels, name=name), a])


def predict_proba(model: Any, beta: np.ndarray) -> Any:
    """Probabilities as a Dask DataFrame (one row per case), computed on the partitions."""
    import dask.dataframe as dd

    fam = model._family
    futs = fam.design.futures
    client = fam.client

    frames = client.map(run_on_partition, futs, [_w_proba_frame] * len(futs),
                        [beta] * len(futs), pure=False)
    meta = pd.DataFrame({a: pd.Series([], dtype=np.float64) for a in model.design.alternatives})
    return dd.from_delayed(frames, meta=meta, verify_meta=False)


def predicted_shares(res: Any, *, by: Any = None, se: str = "delta", alpha: float = 0.05,
                     n_draws: int = 1000, rng: Any = None) -> pd.DataFrame:
    """:func:`choicekit.postestimation.shares.predicted_shares` on the partitions."""
    fam = _family(res)
    beta = np.asarray(res.params, dtype=np.float64)
    labels0: list = []
    calls = _Calls(fam, needs_data=by is not None)

    def shares(b: np.ndarray) -> np.ndarray:
        labels, (num, den) = _merge(calls.map(_w_shares, b, by, calls.token), 1, 2)
        labels0[:] = labels
        with np.errstate(invalid="ignore", divide="ignore"):
            return (num / den[:, None]).ravel()

    try:
        r = standard_errors(shares, beta, res.cov_params().to_numpy(), ~res.fixed.to_numpy(),
                            method=se, n_draws=n_draws, rng=rng)
    finally:
        calls.close()
    return estimate_frame(r, _index(labels0, by, list(res.model.design.alternatives)), alpha,
                          "share")


def aggregate_elasticities(res: Any, variable: Any, *, relative: bool = True,
                           se: str = "delta", n_draws: int = 1000, rng: Any = None) -> Any:
    """Aggregate elasticities (``relative``) or average marginal effects, on the
    partitions (:func:`choicekit.postestimation.elasticities.aggregate_effects`)."""

    fam = _family(res)
    beta = np.asarray(res.params, dtype=np.float64)
    calls = _Calls(fam, needs_data=True)
    rows: list = []

    def f(b: np.ndarray) -> np.ndarray:
        parts = calls.map(_w_elasticities, b, variable, relative, calls.token)
        rows[:] = parts[0][0]
        wP = np.sum([p[1] for p in parts], axis=0)
        wdP = np.sum([p[2] for p in parts], axis=0)
        wsum = float(sum(p[3] for p in parts))
        den = wP if relative else np.full(wP.shape, wsum)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (wdP / den[None, :]).ravel()

    try:
        r = standard_errors(f, beta, res.cov_params().to_numpy(), ~res.fixed.to_numpy(),
                            method=se, n_draws=n_draws, rng=rng)
    finally:
        calls.close()
    idx = pd.Index(rows, name="variable_of")
    cols = pd.Index(list(res.model.design.alternatives), name="alternative")
    shape = (len(idx), len(cols))
    est = pd.DataFrame(r.estimate.reshape(shape), index=idx, columns=cols)
    sd = pd.DataFrame(r.se.reshape(shape), index=idx, columns=cols)
    return EffectTable(est, sd, "elasticity" if relative else "marginal_effect", r)


def scenario(res: Any, changes: Any, *, how: str = "multiply", alternatives: Any = None,
             cases: Any = None, cost: str | None = None, cost_scale: float = 1.0,
             by: Any = None, se: str = "delta", alpha: float = 0.05, n_draws: int = 1000,
             rng: Any = None) -> Any:
    """:meth:`Results.scenario` on the partitions: shares before and after, their change, and
    the consumer-surplus change (mean and total), with standard errors. The per-case surplus
    and the changed data stay on the workers (``surplus_per_case`` and ``data`` are None)."""

    if callable(changes) and not isinstance(changes, dict):
        raise SpecificationError("On distributed data `changes` must be a mapping "
                                 "{variable: change} (applied on every partition).")
    if cases is not None and not isinstance(cases, str):
        raise SpecificationError("On distributed data `cases` must be a column name.")
    fam = _family(res)
    beta = np.asarray(res.params, dtype=np.float64)
    names = list(res.param_names)
    k_cost = None
    if cost is not None:
        if cost not in names:
            raise SpecificationError(f"Cost parameter {cost!r} is not in the model."
                                     f"{suggest(cost, names)} The parameters are {names}.")
        k_cost = names.index(cost)
        if beta[k_cost] * cost_scale >= 0:
            warnings.warn(
                f"The cost coefficient {cost!r} times cost_scale is "
                f"{beta[k_cost] * cost_scale:.4g} >= 0: the marginal utility of money is not "
                "positive, so the consumer-surplus change has no welfare meaning.",
                ChoiceKitWarning, stacklevel=3)
    calls = _Calls(fam, needs_data=True)
    labels0: list = []

    def f(b: np.ndarray) -> np.ndarray:
        parts = calls.map(_w_scenario, b, changes, how, alternatives, cases, by, k_cost,
                          cost_scale, calls.token)
        which = (1, 2, 3, 4) if k_cost is not None else (1, 2, 3)
        labels, arrays = _merge(parts, *which)
        labels0[:] = labels
        S0, S1, W = arrays[:3]
        with np.errstate(invalid="ignore", divide="ignore"):
            m0, m1 = S0 / W[:, None], S1 / W[:, None]
            out = [m0.ravel(), m1.ravel(), (m1 - m0).ravel()]
            if k_cost is not None:
                tot = arrays[3]
                out += [tot / W, tot]
        return np.concatenate(out)

    try:
        r = standard_errors(f, beta, res.cov_params().to_numpy(), ~res.fixed.to_numpy(),
                            method=se, n_draws=n_draws, rng=rng)
    finally:
        calls.close()
    alts = list(res.model.design.alternatives)
    S = len(labels0)
    index = _index(labels0, by, alts)
    m = S * len(alts)
    ch = estimate_frame(_sub(r, slice(2 * m, 3 * m)), index, alpha, "change")
    shares = pd.DataFrame({"before": r.estimate[:m], "after": r.estimate[m:2 * m]},
                          index=index).join(ch)
    surplus = None
    if k_cost is not None:
        stat = pd.Index(["mean", "total"], name="consumer_surplus")
        sub = _sub(r, slice(3 * m, 3 * m + 2 * S))
        if by is None:
            surplus = estimate_frame(sub, stat, alpha)
        else:
            order = np.arange(2 * S).reshape(2, S).T.ravel()
            sub = DeltaResult(sub.estimate[order], sub.cov[np.ix_(order, order)], sub.method,
                              None if sub.draws is None else sub.draws[:, order])
            name = by if isinstance(by, str) else "segment"
            surplus = estimate_frame(sub, pd.MultiIndex.from_product(
                [pd.Index(labels0, name=name), stat]), alpha)
    return ScenarioResult(shares, surplus, None, None, r)


def hit_rate(res: Any) -> pd.Series:
    """Hit rate and expected hit rate (weighted), summed over the partitions."""
    fam = _family(res)
    parts = fam.map(_w_hit_rate, np.asarray(res.params, dtype=np.float64),
                    with_data=_slotted(fam))
    hits = sum(p[0] for p in parts)
    expected = sum(p[1] for p in parts)
    w = sum(p[2] for p in parts)
    return pd.Series({"hit_rate": hits / w, "expected_hit_rate": expected / w,
                      "n_cases": sum(p[3] for p in parts)}, name="hit_rate")
