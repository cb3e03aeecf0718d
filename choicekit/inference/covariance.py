"""Covariance estimators for maximum-likelihood estimates: bread, meat and their sandwiches.

All functions work on the *free* parameters; fixed parameters get no variance.

Notes
-----
With the Hessian :math:`H = \\sum_n w_n \\nabla^2 \\ell_n` at the estimate and the per-case
scores :math:`s_n` (unweighted), the estimators are

* ``classical``: :math:`(-H)^{-1}` (observed information);
* ``opg`` (BHHH): :math:`\\big(\\sum_n w_n s_n s_n'\\big)^{-1}`;
* ``robust`` (Huber-White sandwich, as Biogeme's "robust" columns and statsmodels'
  ``HC0``): :math:`H^{-1} M H^{-1}` with meat :math:`M = \\sum_n w_n^2 s_n s_n'`;
* ``cluster``: the sandwich with meat
  :math:`\\frac{G}{G-1} \\sum_g S_g S_g'`, :math:`S_g = \\sum_{n\\in g} w_n s_n`,
  over :math:`G` clusters. The :math:`G/(G-1)` factor is the usual small-sample correction
  (Stata's for ``vce(cluster)`` in ML models). statsmodels' discrete models by default also
  multiply by :math:`(N-1)/(N-K)`; divide by that factor to compare.

What the weights mean decides how they enter (``weight_type``, see
:meth:`~choicekit.ChoiceData.from_long`):

* **frequency** weights (case :math:`n` stands for :math:`w_n` identical cases): every
  estimator equals its value on the replicated rows, so the robust meat is
  :math:`\\sum_n w_n s_n s_n'` (each replicate is an independent case) and the OPG is as above.
* **sampling** weights (WESML, Manski and Lerman 1977): the robust sandwich, with meat
  :math:`\\sum_n w_n^2 s_n s_n'`, is the consistent covariance, and it does not change when the
  weights are rescaled. The classical and OPG matrices are computed with the weights
  normalised to mean 1 over the cases with positive weight (so they do not shrink when the
  weights grow either); they ignore the sampling design and are shown for comparison only.

The inverse is taken through a symmetric eigendecomposition: directions whose eigenvalue is
negligible (relative ``1e-10`` of the largest) are unidentified; the parameters loading on them
get NaN variances and are named in an :class:`~choicekit.exceptions.IdentificationWarning`.

References
----------
Manski, C. F. & Lerman, S. R. (1977). The estimation of choice probabilities from
choice based samples. *Econometrica* 45(8), 1977-1988.
White, H. (1982). Maximum likelihood estimation of misspecified models. *Econometrica* 50(1).
Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from choicekit._linalg import SymmetricInverse, sym_inverse

__all__ = ["COV_TYPES", "SymmetricInverse", "sym_inverse", "meat_robust", "meat_cluster",
           "sandwich", "information_scale", "covariance", "Meats", "covariance_from_meats",
           "covariance_from_blocks", "from_meat", "meat_part"]

COV_TYPES = ("classical", "robust", "opg", "cluster")


def meat_robust(score_obs: np.ndarray, weight: np.ndarray | None,
                weight_type: str | None = None) -> np.ndarray:
    """:math:`\\sum_n w_n^2 s_n s_n'` from per-case scores ``(n, K)``; with frequency weights
    :math:`\\sum_n w_n s_n s_n'` (the meat of the replicated rows)."""
    if weight is None:
        return score_obs.T @ score_obs
    if weight_type == "frequency":
        return (score_obs * weight[:, None]).T @ score_obs
    ws = score_obs * weight[:, None]
    return ws.T @ ws


def information_scale(weight: np.ndarray | None, weight_type: str | None) -> float:
    """Factor that turns information matrices summed with the weights into ones summed with
    the weights normalised to mean 1 (sampling weights); 1 otherwise."""
    if weight is None or weight_type != "sampling":
        return 1.0
    return float(np.count_nonzero(weight > 0) / weight.sum())


def covariance(cov_type: str, bread: np.ndarray, score_obs: np.ndarray | None,
               weight: np.ndarray | None, weight_type: str | None, names: Sequence[str], *,
               codes: np.ndarray | None = None, small_sample: bool = True) -> np.ndarray:
    """Covariance of the free parameters of one kind (see the module notes).

    Parameters
    ----------
    cov_type : {"classical", "robust", "opg", "cluster"}
    bread : ndarray, shape (K, K)
        :math:`(-H)^{-1}`, the Hessian summed with the raw weights.
    score_obs : ndarray, shape (n, K)
        Unweighted per-case scores.
    weight : ndarray or None
        Case weights.
    weight_type : {"sampling", "frequency"} or None
    names : sequence of str
        Free parameter names (for messages).
    codes : ndarray, optional
        Cluster codes ``0..G-1`` per case (``"cluster"``).
    small_sample : bool
        ``G/(G-1)`` factor of the cluster meat.
    """
    scale = information_scale(weight, weight_type)
    if cov_type == "classical":
        return bread / scale
    if cov_type == "cluster":
        if codes is None:
            raise ValueError("cov_type='cluster' needs cluster codes")
        G = int(codes.max()) + 1  # codes are 0..G-1 (pd.factorize)
        meat = cluster_sums(score_obs, weight, codes, G)
    else:
        meat = meat_part(cov_type, score_obs, weight, weight_type)
    return from_meat(cov_type, bread, meat, scale, names, small_sample=small_sample)


def meat_part(cov_type: str, score_obs: np.ndarray, weight: np.ndarray | None,
              weight_type: str | None) -> np.ndarray:
    """The OPG or robust meat of some cases (meats of disjoint cases add)."""
    if cov_type == "opg":
        return meat_robust(score_obs, weight, "frequency" if weight_type else None)
    if cov_type == "robust":
        return meat_robust(score_obs, weight, weight_type)
    raise ValueError(f"no additive meat for cov_type {cov_type!r}")


def from_meat(cov_type: str, bread: np.ndarray, meat: np.ndarray, scale: float,
              names: Sequence[str], *, small_sample: bool = True) -> np.ndarray:
    """The covariance from the bread and the meat summed over all cases (for ``"cluster"``:
    the ``(G, K)`` weighted score sums of the clusters); ``scale`` is
    :func:`information_scale`."""
    if cov_type == "classical":
        return bread / scale
    if cov_type == "opg":
        return sym_inverse(meat * scale, names, "outer product of gradients").inverse
    if cov_type == "robust":
        return sandwich(bread, meat)
    if cov_type == "cluster":
        return sandwich(bread, meat_cluster(meat, small_sample=small_sample))
    raise ValueError(f"unknown cov_type {cov_type!r}")


@dataclass(frozen=True)
class Meats:
    """The sums every covariance of a fit is made of, when the per-case scores are not in one
    place (distributed data): each is a sum over cases (or whole clusters), so partitions add
    them.

    Attributes
    ----------
    robust : ndarray
        :func:`meat_robust` with the data's weight type.
    opg : ndarray
        :math:`\\sum_n w_n s_n s_n'` (the OPG matrix; :math:`\\sum_n s_n s_n'` unweighted).
    cluster : ndarray or None
        :math:`\\sum_g S_g S_g'` (without the small-sample factor).
    n_clusters : int or None
        :math:`G`, counted over all the data.
    n_positive, weight_total : int and float, or None
        Cases with positive weight and the weights' sum (:func:`information_scale`).
    """

    robust: np.ndarray
    opg: np.ndarray
    cluster: np.ndarray | None = None
    n_clusters: int | None = None
    n_positive: int | None = None
    weight_total: float | None = None


def covariance_from_meats(cov_type: str, bread: np.ndarray, meats: Meats,
                          weight_type: str | None, names: Sequence[str], *,
                          small_sample: bool = True) -> np.ndarray:
    """:func:`covariance` from summed meats instead of per-case scores (same estimators)."""
    scale = 1.0
    if meats.weight_total is not None and weight_type == "sampling":
        scale = float(meats.n_positive / meats.weight_total)
    if cov_type == "classical":
        return bread / scale
    if cov_type == "opg":
        return sym_inverse(meats.opg * scale, names, "outer product of gradients").inverse
    if cov_type == "robust":
        return sandwich(bread, meats.robust)
    if cov_type == "cluster":
        if meats.cluster is None:
            raise ValueError("cov_type='cluster' needs the cluster meat")
        M = meats.cluster.copy()
        G = int(meats.n_clusters)
        if small_sample and G > 1:
            M *= G / (G - 1)
        return sandwich(bread, M)
    raise ValueError(f"unknown cov_type {cov_type!r}")


def covariance_from_blocks(cov_type: str, bread: np.ndarray, blocks: Iterable[tuple[
        np.ndarray, np.ndarray | None, np.ndarray | None]], scale: float,
        weight_type: str | None, names: Sequence[str], *,
        small_sample: bool = True) -> tuple[np.ndarray, int | None]:
    """:func:`covariance` from the per-unit scores given one bounded block at a time.

    Parameters
    ----------
    blocks : iterable of (scores, weight, group)
        Unweighted scores ``(m, K)`` of some cases, their weights (None: ones) and, for
        ``"cluster"``, their cluster ids (non-negative integers, any order across blocks).
        Only the ``(K, K)`` meat (or the ``(G, K)`` cluster sums) is held, never all scores.
    scale : float
        :func:`information_scale` of the weights.

    Returns
    -------
    (covariance, number of clusters or None)
    """
    if cov_type == "classical":
        return bread / scale, None
    K = bread.shape[0]
    if cov_type != "cluster":
        meat = np.zeros((K, K))
        for s, w, _ in blocks:
            meat += meat_part(cov_type, s, w, weight_type)
        return from_meat(cov_type, bread, meat, scale, names), None
    sums = np.zeros((0, K))
    seen = np.zeros(0, dtype=bool)
    for s, w, g in blocks:
        if g is None:
            raise ValueError("cov_type='cluster' needs a cluster id for every case")
        g = np.asarray(g)
        if g.size and (g.min() < 0 or not np.issubdtype(g.dtype, np.integer)):
            raise ValueError("cluster ids must be non-negative integers")
        top = int(g.max()) + 1 if g.size else 0
        if top > len(sums):
            sums = np.vstack([sums, np.zeros((top - len(sums), K))])
            seen = np.concatenate([seen, np.zeros(top - len(seen), dtype=bool)])
        np.add.at(sums, g, s if w is None else s * np.asarray(w)[:, None])
        seen[g] = True
    sums = sums[seen]
    cov = from_meat("cluster", bread, sums, scale, names, small_sample=small_sample)
    return cov, int(len(sums))


def cluster_sums(score_obs: np.ndarray, weight: np.ndarray | None,
                 groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Weighted score summed within each cluster, shape ``(G, K)``."""
    ws = score_obs if weight is None else score_obs * weight[:, None]
    out = np.zeros((n_groups, ws.shape[1]))
    np.add.at(out, groups, ws)
    return out


def meat_cluster(group_scores: np.ndarray, small_sample: bool = True) -> np.ndarray:
    """Cluster meat :math:`\\frac{G}{G-1}\\sum_g S_g S_g'` from summed cluster scores ``(G, K)``."""
    G = group_scores.shape[0]
    M = group_scores.T @ group_scores
    if small_sample and G > 1:
        M *= G / (G - 1)
    return M


def sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """:math:`B M B`, symmetrised; parameters with NaN bread rows keep NaN variances only."""
    bad = np.isnan(bread).all(axis=1)
    B = np.where(np.isnan(bread), 0.0, bread)
    C = B @ meat @ B
    C = 0.5 * (C + C.T)
    C[bad, :] = np.nan
    C[:, bad] = np.nan
    return C
