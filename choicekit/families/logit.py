"""Logit array functions in utility space: the masked softmax, log-softmax and log-sum-exp.

Public as ``ck.softmax``, ``ck.log_softmax`` and ``ck.logsum``: any array of utilities with an
optional availability mask. Every family's kernel builds on them (the MNL directly, the GEV
families within their nests).

Notes
-----
With utilities :math:`V_{j}` and availability set :math:`A`, the logit probabilities are
:math:`P_j = \\exp V_j / \\sum_{i \\in A} \\exp V_i`, computed as
:math:`\\exp(V_j - \\mathrm{logsum})` with the masked log-sum-exp
:math:`\\mathrm{logsum} = m + \\log \\sum_{i\\in A} \\exp(V_i - m)`, :math:`m = \\max_{i \\in A}
V_i`,
so no exponential overflows whatever the magnitude of the utilities.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["softmax", "log_softmax", "logsum"]

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


