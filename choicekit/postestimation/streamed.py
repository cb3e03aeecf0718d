"""Post-estimation on a fit from a stream of chunks: the quantities that are sums over cases,
each computed in one pass over the stream (no per-case array is held).

Predicted shares (sample enumeration) and their delta-method or simulation standard errors,
observed vs predicted shares, the hit rate and the confusion table are weighted sums over the
cases, so a pass of :meth:`~choicekit.families.mnl.streamed.StreamedMNLFamily.proba_blocks`
gives them. They match the in-memory functions of :mod:`.shares` and :mod:`.fit_measures`
on the same data. Segments (``by=``) and new data need per-case columns a stream does not
carry; the chunked results refuse them by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from choicekit.families.mnl.streamed import StreamedMNLFamily
from choicekit.inference.delta import standard_errors
from choicekit.postestimation.fit_measures import CONFUSION_KINDS
from choicekit.postestimation.shares import estimate_frame

__all__ = ["stream_shares", "stream_share_table", "stream_hit_rate", "stream_confusion_table",
           "CONFUSION_KINDS"]


def _alts(family: StreamedMNLFamily) -> pd.Index:
    return pd.Index(list(family.design.alternatives), name="alternative")


def _weights(c: Any, n: int) -> np.ndarray:
    return np.ones(n) if c.weight is None else np.asarray(c.weight, dtype=np.float64)


def _mean_proba(family: StreamedMNLFamily, beta: np.ndarray) -> np.ndarray:
    """Weighted mean of the probabilities over the cases, ``(J,)`` (one pass)."""
    num = np.zeros(family.design.n_alts)
    den = 0.0
    for c, P in family.proba_blocks(beta):
        w = _weights(c, len(P))
        num += w @ P
        den += float(w.sum())
    return num / den


def stream_shares(family: StreamedMNLFamily, beta: np.ndarray, cov: np.ndarray,
                  free: np.ndarray, *, se: str = "delta", alpha: float = 0.05,
                  n_draws: int = 1000, rng: Any = None) -> pd.DataFrame:
    """Predicted shares with standard errors, as
    :func:`choicekit.postestimation.shares.predicted_shares` without segments (each
    evaluation of the shares is one pass: the delta method takes two per free parameter)."""
    r = standard_errors(lambda b: _mean_proba(family, b), beta, cov, free, method=se,
                        n_draws=n_draws, rng=rng)
    return estimate_frame(r, _alts(family), alpha, "share")


def _sweep(family: StreamedMNLFamily, beta: np.ndarray) -> dict[str, Any]:
    """One pass: weighted observed counts, predicted sums, hits, expected hits and the
    observed-by-predicted tables."""
    J = family.design.n_alts
    out = {"obs": np.zeros(J), "pred": np.zeros(J), "w": 0.0, "hits": 0.0, "ehits": 0.0,
           "n": 0, "table_p": np.zeros((J, J)), "table_a": np.zeros((J, J))}
    for c, P in family.proba_blocks(beta):
        n = len(P)
        w = _weights(c, n)
        chosen = np.asarray(c.chosen, dtype=np.intp)
        out["obs"] += np.bincount(chosen, weights=w, minlength=J)
        out["pred"] += w @ P
        out["w"] += float(w.sum())
        top = P.argmax(axis=1)
        out["hits"] += float(w @ (top == chosen))
        out["ehits"] += float(w @ P[np.arange(n), chosen])
        out["n"] += n
        np.add.at(out["table_p"], chosen, P * w[:, None])
        np.add.at(out["table_a"], (chosen, top), w)
    return out


def stream_share_table(family: StreamedMNLFamily, beta: np.ndarray) -> pd.DataFrame:
    """Observed vs predicted shares, as :func:`choicekit.postestimation.shares.share_table`."""
    s = _sweep(family, beta)
    obs, pred = s["obs"] / s["w"], s["pred"] / s["w"]
    return pd.DataFrame({"observed": obs, "predicted": pred, "difference": pred - obs,
                         "observed_count": obs * s["w"], "predicted_count": pred * s["w"]},
                        index=_alts(family))


def stream_hit_rate(family: StreamedMNLFamily, beta: np.ndarray) -> pd.Series:
    """Hit rate and expected hit rate, as :func:`choicekit.postestimation.fit_measures.
    hit_rate`."""
    s = _sweep(family, beta)
    return pd.Series({"hit_rate": s["hits"] / s["w"], "expected_hit_rate": s["ehits"] / s["w"],
                      "n_cases": s["n"]}, name="hit_rate")


def stream_confusion_table(family: StreamedMNLFamily, beta: np.ndarray,
                           kind: str = "probability") -> pd.DataFrame:
    """Observed (rows) by predicted (columns), weighted, with totals, as
    :func:`choicekit.postestimation.fit_measures.confusion_table`."""
    s = _sweep(family, beta)
    table = s["table_a"] if kind == "argmax" else s["table_p"]
    alts = list(family.design.alternatives)
    out = pd.DataFrame(table, index=pd.Index(alts, name="observed"),
                       columns=pd.Index(alts, name="predicted"))
    out["total"] = out.sum(axis=1)
    out.loc["total"] = out.sum(axis=0)
    return out
