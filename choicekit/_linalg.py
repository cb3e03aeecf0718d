"""Symmetric inverses that name what they cannot invert.

The covariance of maximum-likelihood estimates is the inverse of a symmetric (information)
matrix; where that matrix is singular the parameters involved are unidentified, and the message
names them. Used by the covariance estimators (:mod:`choicekit.inference.covariance`) and the
streamed fit (:mod:`choicekit.estimation.chunked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from choicekit._warnings import warn_user
from choicekit.exceptions import IdentificationWarning

__all__ = ["SymmetricInverse", "sym_inverse"]


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
