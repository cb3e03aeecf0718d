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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from choicekit._warnings import warn_user
from choicekit.exceptions import IdentificationWarning

__all__ = ["COV_TYPES", "SymmetricInverse", "sym_inverse", "meat_robust", "meat_cluster",
           "sandwich", "information_scale", "covariance"]

COV_TYPES = ("classical", "robust", "opg", "cluster")


@dataclass(frozen=True)
class SymmetricInverse:
    """Pseudo-inverse of a symmetric positive semi-definite matrix plus its null directions.

    Attributes
    ----------
    inverse : ndarray
        The inverse, with NaN in rows/columns of parameters that load on a null direction.
    null_vectors : ndarray, shape (K, r)
        Orthonormal basis of the (numerically) singular directions, ``r`` may be 0.
    unidentified : tuple of int
        Indices of parameters loading on a null direction.
    """

    inverse: np.ndarray
    null_vectors: np.ndarray
    unidentified: tuple[int, ...]


def sym_inverse(A: np.ndarray, names: Sequence[str], what: str = "information matrix",
                rtol: float = 1e-10, warn: bool = True) -> SymmetricInverse:
    """Invert a symmetric PSD matrix, detecting and naming singular directions.

    Parameters
    ----------
    A : ndarray, shape (K, K)
        Symmetric positive semi-definite matrix (e.g. minus the Hessian).
    names : sequence of str
        Parameter names, for the warning.
    what : str
        What ``A`` is, for the warning text.
    rtol : float
        Eigenvalues below ``rtol * max eigenvalue`` count as zero.
    warn : bool
        Issue an :class:`IdentificationWarning` when singular.
    """
    K = A.shape[0]
    names = [str(n) for n in names]  # plain str in messages (not np.str_)
    if K == 0:
        return SymmetricInverse(np.zeros((0, 0)), np.zeros((0, 0)), ())
    A = 0.5 * (A + A.T)
    if not np.isfinite(A).all():
        nan = np.full((K, K), np.nan)
        return SymmetricInverse(nan, np.eye(K), tuple(range(K)))
    # equilibrate first (unit diagonal), so that parameters on very different scales (an
    # attribute in units of 1e-6) are not mistaken for singular directions
    diag = np.sqrt(np.clip(np.diag(A), 0.0, None))
    live = diag > 1e-100 * max(float(diag.max()), np.finfo(float).tiny)  # else: no information
    d = np.where(live, 1.0 / np.where(live, diag, 1.0), 1.0)
    As = A * d[:, None] * d[None, :]
    As[~live, :] = 0.0
    As[:, ~live] = 0.0
    evals, evecs = np.linalg.eigh(As)
    scale = max(float(np.abs(evals).max()), np.finfo(float).tiny)
    small = evals <= rtol * scale
    if not small.any():
        inv = d[:, None] * ((evecs / evals) @ evecs.T) * d[None, :]
        return SymmetricInverse(0.5 * (inv + inv.T), np.zeros((K, 0)), ())
    good = ~small
    inv = d[:, None] * ((evecs[:, good] / evals[good]) @ evecs[:, good].T) * d[None, :]
    null = np.linalg.qr(evecs[:, small] * d[:, None])[0]  # back to parameter units
    loading = np.sqrt((evecs[:, small] ** 2).sum(axis=1))  # scale-free involvement
    involved = tuple(int(k) for k in np.flatnonzero(loading > 1e-6))
    inv[list(involved), :] = np.nan
    inv[:, list(involved)] = np.nan
    if warn:
        warn_user(_singular_message(null, [names[k] for k in involved], names, what),
                  IdentificationWarning)
    return SymmetricInverse(inv, null, involved)


def _singular_message(null: np.ndarray, involved: list[str], names: Sequence[str],
                      what: str) -> str:
    """The warning text: ``involved`` are the parameters given NaN variances."""
    parts = []
    for r in range(null.shape[1]):
        v = null[:, r]
        v = v / np.abs(v).max()
        order = np.argsort(-np.abs(v))
        terms = [f"{v[k]:+.3g}*{names[k]}" for k in order if abs(v[k]) > 1e-6][:8]
        parts.append(" ".join(terms) + " (unidentified direction)")
    return (f"The {what} is singular: parameters {sorted(involved)} are not identified by the "
            "data. Their standard errors are NaN. The data cannot tell apart changes along "
            + "; ".join(parts) + ". Typical causes: a full set of alternative-specific constants, "
            "a generic coefficient on a variable that does not vary within cases, collinear "
            "variables (model.check_identification() names them before fitting), or perfect "
            "prediction (see any SeparationWarning). Fix one parameter or drop one of them.")


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


def covariance(cov_type: str, bread: np.ndarray, score_obs: np.ndarray,
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
    if cov_type == "opg":
        opg = meat_robust(score_obs, weight, "frequency" if weight_type else None)
        return sym_inverse(opg * scale, names, "outer product of gradients").inverse
    if cov_type == "robust":
        return sandwich(bread, meat_robust(score_obs, weight, weight_type))
    if cov_type == "cluster":
        if codes is None:
            raise ValueError("cov_type='cluster' needs cluster codes")
        G = int(codes.max()) + 1  # codes are 0..G-1 (pd.factorize)
        sums = cluster_sums(score_obs, weight, codes, G)
        return sandwich(bread, meat_cluster(sums, small_sample=small_sample))
    raise ValueError(f"unknown cov_type {cov_type!r}")


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
