"""Logit kernels: pure numpy, no pandas, no results objects.

Two families live here.

*Array functions* (public as ``ck.softmax``, ``ck.log_softmax``, ``ck.logsum``) take any
array of utilities and an optional availability mask.

*Likelihood kernels* take one chunk of a design — ``X`` of shape ``(n, J, K)``, an optional
``offset`` ``(n, J)``, availability ``avail`` ``(n, J)``, the chosen alternative ``chosen``
``(n,)`` and optional case weights ``(n,)`` — and return sums over the cases of that chunk.
Because the log-likelihood, its score and its Hessian are sums over cases, the same functions
serve a whole design, a chunk of a larger-than-memory design, or a shard in a distributed run.

Notes
-----
With utilities :math:`V_{nj} = x_{nj}'\\beta + o_{nj}` and availability set
:math:`A_n`, the multinomial logit probabilities are

.. math:: P_{nj} = \\frac{\\exp V_{nj}}{\\sum_{i \\in A_n} \\exp V_{ni}}, \\quad j \\in A_n,

computed as :math:`\\exp(V_{nj} - \\mathrm{logsum}_n)` with the masked log-sum-exp
:math:`\\mathrm{logsum}_n = m_n + \\log \\sum_{i\\in A_n} \\exp(V_{ni} - m_n)`,
:math:`m_n = \\max_{i \\in A_n} V_{ni}`, so no exponential overflows whatever the magnitude
of the utilities. With case weights :math:`w_n` and chosen alternative :math:`c_n`:

.. math::

    \\ell(\\beta) &= \\sum_n w_n (V_{n c_n} - \\mathrm{logsum}_n) \\\\
    s_n(\\beta) &= x_{n c_n} - \\bar x_n, \\qquad \\bar x_n = \\sum_j P_{nj} x_{nj} \\\\
    H(\\beta) &= -\\sum_n w_n \\Big(\\sum_j P_{nj} x_{nj} x_{nj}' - \\bar x_n \\bar x_n'\\Big)

(McFadden 1974; Train 2009, ch. 3). The design is zero at unavailable alternatives, whose
probability is exactly zero, so they drop out of every sum.

References
----------
McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In
P. Zarembka (ed.), *Frontiers in Econometrics*, 105-142.
Train, K. (2009). *Discrete Choice Methods with Simulation*, 2nd ed. Cambridge University Press.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "softmax",
    "log_softmax",
    "logsum",
    "utilities",
    "loglike_obs",
    "score_obs",
    "LogitDerivatives",
    "loglike_derivatives",
]

FloatArray = NDArray[np.float64]


def _masked(v: ArrayLike, available: ArrayLike | None) -> FloatArray:
    """Utilities as float64 with unavailable alternatives set to ``-inf``."""
    v = np.asarray(v, dtype=np.float64)
    if available is None:
        return v
    mask = np.asarray(available)
    if mask.dtype != bool:
        mask = mask != 0
    return np.where(mask, v, -np.inf)


def logsum(v: ArrayLike, axis: int = -1, available: ArrayLike | None = None) -> FloatArray:
    """Log of the sum of exponentials over available alternatives (the inclusive value).

    Parameters
    ----------
    v : array_like
        Utilities.
    axis : int, default -1
        Axis of the alternatives.
    available : array_like of bool, optional
        Availability mask broadcastable to ``v``; unavailable entries are ignored.

    Returns
    -------
    ndarray
        ``log(sum(exp(v)))`` over ``axis`` (that axis removed); ``-inf`` where no alternative
        is available.

    Notes
    -----
    Computed as :math:`m + \\log\\sum_j \\exp(v_j - m)` with :math:`m = \\max_j v_j`, which is
    exact and cannot overflow. It is the expected maximum utility up to Euler's constant when
    errors are i.i.d. standard Gumbel (Small & Rosen 1981).
    """
    x = _masked(v, available)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis)


def log_softmax(v: ArrayLike, axis: int = -1, available: ArrayLike | None = None) -> FloatArray:
    """Logit log-probabilities, stable for utilities of any magnitude.

    Parameters
    ----------
    v : array_like
        Utilities.
    axis : int, default -1
        Axis of the alternatives.
    available : array_like of bool, optional
        Availability mask broadcastable to ``v``.

    Returns
    -------
    ndarray
        ``v - logsum(v)``; ``-inf`` for unavailable alternatives.
    """
    x = _masked(v, available)
    lse = np.expand_dims(logsum(x, axis=axis), axis)
    finite = np.isfinite(lse)
    out = np.where(finite, x - np.where(finite, lse, 0.0), -np.inf)
    return out


def softmax(v: ArrayLike, axis: int = -1, available: ArrayLike | None = None) -> FloatArray:
    """Logit choice probabilities ``exp(v) / sum(exp(v))`` over available alternatives.

    Parameters
    ----------
    v : array_like
        Utilities.
    axis : int, default -1
        Axis of the alternatives.
    available : array_like of bool, optional
        Availability mask broadcastable to ``v``; unavailable alternatives get probability 0.

    Returns
    -------
    ndarray
        Probabilities summing to one over ``axis`` wherever some alternative is available.

    Examples
    --------
    >>> import choicekit as ck
    >>> ck.softmax([0.25, 1.23, -0.8]).round(3)
    array([0.249, 0.664, 0.087])
    >>> ck.softmax([1000.0, 1001.0]).round(4)
    array([0.2689, 0.7311])
    """
    return np.exp(log_softmax(v, axis=axis, available=available))


# ---------------------------------------------------------------------------------------------
# likelihood kernels on a design chunk
# ---------------------------------------------------------------------------------------------


def utilities(
    X: FloatArray, beta: FloatArray, offset: FloatArray | None = None
) -> FloatArray:
    """Systematic utilities ``V = X @ beta + offset`` of shape ``(n, J)``."""
    n, J, K = X.shape
    V = (X.reshape(n * J, K) @ beta).reshape(n, J)
    if offset is not None:
        V += offset
    return V


def loglike_obs(
    X: FloatArray,
    beta: FloatArray,
    avail: NDArray[np.bool_],
    chosen: NDArray[np.intp],
    offset: FloatArray | None = None,
) -> FloatArray:
    """Per-case log-probability of the chosen alternative, shape ``(n,)`` (unweighted)."""
    logp = log_softmax(utilities(X, beta, offset), available=avail)
    return logp[np.arange(len(chosen)), chosen]


def score_obs(
    X: FloatArray,
    beta: FloatArray,
    avail: NDArray[np.bool_],
    chosen: NDArray[np.intp],
    offset: FloatArray | None = None,
) -> FloatArray:
    """Per-case gradient of the log-probability of the chosen alternative, ``(n, K)``.

    Notes
    -----
    :math:`s_n = x_{n c_n} - \\sum_j P_{nj} x_{nj}` (unweighted; weights enter the sums).
    """
    P = softmax(utilities(X, beta, offset), available=avail)
    xbar = np.einsum("nj,njk->nk", P, X, optimize=True)
    return X[np.arange(len(chosen)), chosen] - xbar


@dataclass(frozen=True)
class LogitDerivatives:
    """Sums over the cases of one chunk: log-likelihood, score and Hessian (weighted)."""

    loglike: float
    score: FloatArray | None
    hessian: FloatArray | None


def loglike_derivatives(
    X: FloatArray,
    beta: FloatArray,
    avail: NDArray[np.bool_],
    chosen: NDArray[np.intp],
    offset: FloatArray | None = None,
    weight: FloatArray | None = None,
    order: int = 2,
) -> LogitDerivatives:
    """Weighted log-likelihood and, by ``order``, its score and Hessian in one pass.

    Parameters
    ----------
    X : ndarray, shape (n, J, K)
        Design, zero at unavailable alternatives, C-contiguous float64.
    beta : ndarray, shape (K,)
        Parameters.
    avail : ndarray of bool, shape (n, J)
        Availability.
    chosen : ndarray of int, shape (n,)
        Index of the chosen alternative of each case.
    offset : ndarray, shape (n, J), optional
        Part of the utility that carries no free parameter.
    weight : ndarray, shape (n,), optional
        Case weights.
    order : {0, 1, 2}
        0: log-likelihood only; 1: and the score; 2: and the Hessian.

    Returns
    -------
    LogitDerivatives

    Notes
    -----
    The Hessian is formed as :math:`-(X' D X - \\bar X' W \\bar X)` with
    :math:`D = \\mathrm{diag}(w_n P_{nj})`, one BLAS product over the ``(n J) x K`` design,
    which is the dominant cost of a Newton iteration.
    """
    n, J, K = X.shape
    rows = np.arange(n)
    V = utilities(X, beta, offset)
    logp = log_softmax(V, available=avail)
    ll_obs = logp[rows, chosen]
    ll = float(ll_obs.sum() if weight is None else ll_obs @ weight)
    if order == 0:
        return LogitDerivatives(ll, None, None)
    P = np.exp(logp, out=logp)  # reuse the buffer: log-probabilities are no longer needed
    wP = P if weight is None else P * weight[:, None]
    # score = sum_n w_n x_{n c_n} - X' (w P), as one matrix-vector product over (n J) rows
    Xf = X.reshape(n * J, K)
    x_chosen = X[rows, chosen]
    g_chosen = x_chosen.sum(axis=0) if weight is None else weight @ x_chosen
    score = g_chosen - wP.reshape(-1) @ Xf
    if order == 1:
        return LogitDerivatives(ll, score, None)
    xbar = np.einsum("nj,njk->nk", P, X, optimize=True)
    WX = Xf * wP.reshape(-1, 1)
    H = -(Xf.T @ WX)
    wxbar = xbar if weight is None else xbar * weight[:, None]
    H += xbar.T @ wxbar
    H = 0.5 * (H + H.T)
    return LogitDerivatives(ll, score, H)
