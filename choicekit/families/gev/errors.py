"""Draws of the correlated extreme-value errors of nested and cross-nested logit models.

The errors are drawn from the multivariate extreme value (MEV) distribution itself (logistic /
Gumbel-Hougaard type, nested hierarchically), not by sampling choices from the probabilities.
With ``U = V + eps`` the frequencies of ``argmax U`` reproduce the model probabilities.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from choicekit.families.gev.common import GevStructure

__all__ = ["draw_cnl_errors", "draw_nl_errors", "draw_positive_stable_log"]


def draw_positive_stable_log(a: float, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Logarithm of positive ``a``-stable draws with Laplace transform ``exp(-t**a)``.

    Parameters
    ----------
    a : float
        Stability index, ``0 < a <= 1``; ``a = 1`` gives the constant 1.
    n : int
        Number of draws.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n,)
        ``log S``.

    Notes
    -----
    Kanter's (Chambers-Mallows-Stuck) representation, with ``U ~ Uniform(0, pi)`` and
    ``E ~ Exp(1)`` independent::

        S = sin(a U) / sin(U)^(1/a) * (sin((1 - a) U) / E)^((1 - a)/a)

    evaluated in logs for stability when ``a`` is small.
    """
    if not (0.0 < a <= 1.0):
        raise ValueError(f"stability index must be in (0, 1], got {a}")
    if a == 1.0:
        return np.zeros(n)
    u = np.pi * (1.0 - rng.random(n))  # (0, pi]
    e = rng.standard_exponential(n)
    return (
        np.log(np.sin(a * u))
        - np.log(np.sin(u)) / a
        + (1.0 - a) / a * (np.log(np.sin((1.0 - a) * u)) - np.log(e))
    )


def _check_lam(lam: ArrayLike, M: int) -> NDArray[np.float64]:
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    if lam.size != M:
        raise ValueError(f"lam must have {M} entries")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0) or np.any(lam > 1):
        raise ValueError("simulation needs 0 < lam <= 1 (consistent with utility maximisation)")
    return lam


def draw_nl_errors(
    n: int, struct: GevStructure, lam: ArrayLike, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Draw nested-logit errors ``eps`` (n, J) such that ``U = V + eps``.

    Parameters
    ----------
    n : int
        Number of draws (cases).
    struct : GevStructure
        Built with :meth:`GevStructure.nested`.
    lam : ndarray, shape (M,)
        Absolute nest parameters with ``0 < lam_child <= lam_parent <= 1``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n, J)
        Errors; each marginal is standard Gumbel.

    Notes
    -----
    Hierarchical construction: for each nest ``m`` with parent ``p`` (``lam_root = 1``) draw
    ``S_m`` positive stable with index ``a_m = lam_m / lam_p`` and set
    ``B_m = B_p + lam_m log S_m`` (``B_root = 0``).  For alternative ``j`` in nest ``m``,
    ``eps_j = lam_m G_j + B_m`` with ``G_j`` iid standard Gumbel (``eps_j = G_j`` on the root).
    Conditionally on the ``S``, ``P(eps_j <= x_j) = exp(-C_m exp(-x_j/lam_m))`` with
    ``C_m = exp(B_m/lam_m)``; integrating the stable variables bottom-up with
    ``E exp(-s S) = exp(-s^a)`` yields ``exp(-G(exp(-x)))`` for the NL generating function.
    """
    if struct.kind != "nested":
        raise ValueError("structure must be nested")
    M, J = struct.n_nests, struct.n_alts
    lam = _check_lam(lam, M)
    lam_node = np.append(lam, 1.0)
    B = np.zeros((n, M + 1))
    for m in range(M):  # topological order: parents first
        p = struct.parent_node[m]
        a = lam[m] / lam_node[p]
        if a > 1.0 + 1e-12:
            raise ValueError(f"lam[{m}] exceeds its parent's lam: not a valid MEV tree")
        B[:, m] = B[:, p] + lam[m] * draw_positive_stable_log(min(a, 1.0), n, rng)
    G = rng.gumbel(size=(n, J))
    par = struct.alt_parent_node
    return lam_node[par] * G + B[:, par]


def draw_cnl_errors(
    n: int,
    struct: GevStructure,
    lam: ArrayLike,
    alpha: ArrayLike,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Draw cross-nested-logit errors: the effective error per alternative, ``U_j = V_j + eps_j``.

    Parameters
    ----------
    n : int
        Number of draws.
    struct : GevStructure
        Built with :meth:`GevStructure.cross_nested`.
    lam : ndarray, shape (M,)
        Nest parameters, ``0 < lam <= 1``.
    alpha : ndarray, shape (J, M)
        Allocations, ``>= 0``; every alternative needs a positive allocation somewhere.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n, J)
        ``eps_j = max_m (log alpha_jm + eps_jm)`` over nests with ``alpha_jm > 0``.  The marginal
        of ``eps_j`` is Gumbel with location ``log sum_m alpha_jm`` (standard Gumbel when the
        allocations of ``j`` sum to 1).

    Notes
    -----
    For each nest ``m`` independently, ``(eps_jm)_j`` is logistic MEV with parameter ``lam_m``:
    ``eps_jm = lam_m (G_jm + log S_m)``, ``S_m`` positive stable with index ``lam_m``.  Then
    ``P(U <= u) = prod_m exp(-(sum_j (alpha_jm e^{V_j - u_j})^(1/lam_m))^lam_m)
    = exp(-G(e^{V - u}))`` with the CNL generating function ``G``.
    """
    if struct.kind != "cross_nested":
        raise ValueError("structure must be cross_nested")
    M, J = struct.n_nests, struct.n_alts
    lam = _check_lam(lam, M)
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.shape != (J, M) or np.any(alpha < 0) or not np.all(np.isfinite(alpha)):
        raise ValueError("alpha must be finite, >= 0, of shape (J, M)")
    if np.any(~(alpha > 0).any(axis=1)):
        raise ValueError("every alternative needs a positive allocation to some nest")
    out = np.full((n, J), -np.inf)
    for m in range(M):
        members = np.flatnonzero(alpha[:, m] > 0)
        if members.size == 0:
            continue
        logs = draw_positive_stable_log(lam[m], n, rng)
        G = rng.gumbel(size=(n, members.size))
        e = lam[m] * (G + logs[:, None]) + np.log(alpha[members, m])
        out[:, members] = np.maximum(out[:, members], e)
    return out
