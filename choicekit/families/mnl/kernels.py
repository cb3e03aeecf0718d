"""The multinomial logit likelihood kernels: pure numpy, no pandas, no results objects.

The kernels take one chunk of a design — ``X`` of shape ``(n, J, K)``, an optional
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

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from choicekit.families.logit import log_softmax, softmax

__all__ = [
    "utilities",
    "loglike_obs",
    "score_obs",
    "LogitDerivatives",
    "KernelWorkspace",
    "blas_threads",
    "to_parameter_major",
    "chunk_derivatives",
    "loglike_derivatives",
    "loglike_derivatives_reference",
]

FloatArray = NDArray[np.float64]

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


class KernelWorkspace:
    """Scratch buffers for the fused kernel, allocated once and reused across iterations.

    Parameters
    ----------
    max_cases : int
        Largest number of cases in one chunk.
    n_alts, n_params : int
        Alternatives and (free) parameters.

    Notes
    -----
    A Newton iteration on a large design calls the kernel on many chunks. Allocating the
    ``K x (J n)`` product buffer afresh on every call costs page faults (large blocks come from
    ``mmap`` and are zeroed by the operating system) that are as expensive as the arithmetic;
    reusing one buffer keeps the chunk's temporaries in cache.
    """

    def __init__(self, max_cases: int, n_alts: int, n_params: int) -> None:
        self.max_cases = int(max_cases)
        self.n_alts = int(n_alts)
        self.n_params = int(n_params)
        m, J, K = self.max_cases, self.n_alts, self.n_params
        self.Xt = np.empty(K * J * m)  # a transposed chunk (when the caller has none cached)
        self.V = np.empty(J * m)
        self.E = np.empty(J * m)
        self.WX = np.empty(K * J * m)
        self.xbar = np.empty(K * m)
        self.case = np.empty((3, m))
        self.ones = np.ones(max(m, J))

    def fits(self, n: int, J: int, K: int) -> bool:
        """Whether a chunk of ``n`` cases with ``J`` alternatives and ``K`` parameters fits."""
        return n <= self.max_cases and J == self.n_alts and K == self.n_params

    def transposed(self, X: FloatArray, columns: NDArray[np.intp] | None = None) -> FloatArray:
        """``X`` ``(n, J, K)`` (or its ``columns``) copied into the layout ``(K, J * n)``."""
        return to_parameter_major(X, columns, out=self.Xt)


def to_parameter_major(X: FloatArray, columns: NDArray[np.intp] | None = None,
                       out: FloatArray | None = None) -> FloatArray:
    """The ``(n, J, K)`` design of one chunk as the ``(K, J * n)`` matrix the fused kernel reads.

    Row ``k`` holds parameter ``k``'s column for alternative 0 of every case, then alternative
    1, and so on: position ``j * n + i`` is case ``i``, alternative ``j``. With ``columns``,
    only those parameters' columns, in that order; ``out`` is a flat buffer to write into.
    """
    n, J, K = X.shape
    k_out = K if columns is None else len(columns)
    dest = (np.empty(k_out * J * n) if out is None else out[:k_out * J * n]).reshape(k_out, J, n)
    if columns is None:
        np.copyto(dest, X.transpose(2, 1, 0))
    else:
        for i, k in enumerate(columns):
            np.copyto(dest[i], X[:, :, k].T)
    return dest.reshape(k_out, J * n)


@functools.lru_cache(maxsize=1)
def _openblas_controls() -> tuple:
    """``(get, set)`` thread-count functions of every OpenBLAS loaded in this process.

    Found the way ``threadpoolctl`` finds them (the shared objects mapped into the process,
    then their exported ``*openblas_[gs]et_num_threads*`` symbols), without the dependency.
    Empty where that is not possible (no ``/proc``, another BLAS); then nothing is changed.
    """
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({ln.split()[-1] for ln in fh
                            if "openblas" in ln.lower() and ".so" in ln})
    except OSError:
        return ()
    controls = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for stem in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{stem}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{stem}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype = ctypes.c_int
                    set_.argtypes = [ctypes.c_int]
                    controls.append((get, set_))
                    break
            else:
                continue
            break
    return tuple(controls)


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the block with OpenBLAS limited to ``n`` threads (restored afterwards).

    The kernel's BLAS products are small (``K x K`` from a chunk of a few thousand rows).
    OpenBLAS splits them over its threads anyway, and on a 2-core machine where anything else
    runs its threads wait on each other: measured on the benchmark machine, a chunk's
    Hessian product took a median 10 ms with two BLAS threads and 1.1 ms with one. The chunks
    themselves are what is worth running in parallel
    (:class:`choicekit.estimation.objective.Objective`).
    """
    controls = _openblas_controls()
    old = [get() for get, _ in controls]
    for _, set_ in controls:
        set_(n)
    try:
        yield
    finally:
        for (_, set_), k in zip(controls, old):
            set_(k)


#: largest spread of utilities within a chunk for which one shift serves every case in the
#: log-sum-exp: exp(-600) ~ 1e-261 is far from float64 underflow (~1e-308), so each case's sum
#: of exponentials stays a normal number with full precision
SHIFT_SPAN = 600.0


def chunk_derivatives(
    Xt: FloatArray,
    n_alts: int,
    beta: FloatArray,
    chosen_flat: NDArray[np.intp],
    unavail: NDArray[np.bool_] | None,
    offset: FloatArray | None,
    weight: FloatArray | None,
    order: int,
    workspace: KernelWorkspace,
    x_chosen_sum: FloatArray | None = None,
    constants: NDArray[np.intp] | None = None,
    chosen_sum_out: FloatArray | None = None,
    specific: NDArray[np.intp] | None = None,
    specific_values: FloatArray | None = None,
) -> tuple[float, FloatArray | None, FloatArray | None]:
    """Fused log-likelihood, score and Hessian of one chunk (the NumPy fast path).

    Estimation uses the compiled pass of :mod:`choicekit.families.mnl.native`, which computes the
    same sums,
    when it is built; this kernel is its fallback and the reference it is tested against.

    Parameters
    ----------
    Xt : ndarray, shape (Kd, J * n) or (Kd, J, n)
        The chunk's design in parameter-major layout (:func:`to_parameter_major`, or a slice
        ``Design.columns[:, :, a:b]``), zero at unavailable alternatives, float64. A 3-D
        array whose rows are not contiguous is copied into the workspace first.
    n_alts : int
        ``J``.
    beta : ndarray, shape (Kd + A + S,)
        Parameters: the ``Kd`` multiplying the rows of ``Xt``, then the ``A`` constants, then
        the ``S`` alternative-specific columns.
    chosen_flat : ndarray of int, shape (n,)
        Position ``c_n * n + i`` of each case's chosen alternative in a row of ``Xt``.
    unavail : ndarray of bool, shape (J, n), optional
        True where an alternative is unavailable (alternative-major, like ``Xt``); None when
        all are available, which saves a pass.
    offset : ndarray, shape (J, n), optional
        Parameter-free utility, alternative-major.
    weight : ndarray, shape (n,), optional
    order : {0, 1, 2}
    workspace : KernelWorkspace
        Buffers large enough for the chunk.
    x_chosen_sum : ndarray, shape (Kd + A + S,), optional
        :math:`\\sum_n w_n x_{n c_n}` for this chunk, which does not depend on ``beta``: an
        estimator computes it once and passes it in; computed here when omitted.
    constants : ndarray of int, shape (A,), optional
        Alternative of each alternative-specific constant (the last ``A`` parameters). Their
        design columns, indicators of one alternative, are not stored.
    chosen_sum_out : ndarray, shape (Kd + A + S,), optional
        Where to write ``x_chosen_sum`` when it is computed here (``order >= 1``): an
        estimator's first pass computes it from the chunk while the chunk is in cache, and
        passes it in afterwards. Gathering the chosen rows straight from a large design
        instead cost a random read per case (0.1 s on 1M x 10 x 10, a quarter of a pass).
    specific : ndarray of int, shape (S,), optional
        Alternative of each *alternative-specific* column (the last ``S`` parameters, after
        the constants): a parameter that enters the utility of one alternative only, with
        data (e.g. income in the utility of train).
    specific_values : ndarray, shape (S, n), optional
        Their values in that alternative (zero where it is unavailable); the other
        alternatives' zeros are not stored.

    Returns
    -------
    tuple
        ``(loglike, score or None, hessian or None)``.

    Notes
    -----
    Speed comes from three choices, all measured (``benchmarks/README.md``):

    * *Layout.* With the design stored ``(n, J, K)`` every per-case operation (the maximum and
      sum over alternatives, scaling rows by probabilities, summing rows within a case) runs
      NumPy loops of length ``J`` or ``K``, a few elements, which costs several times the
      arithmetic. In the parameter-major layout each of them is a loop over all cases of the
      chunk: the maximum over alternatives is a reduction over ``J`` contiguous rows, scaling
      by probabilities one broadcast along contiguous rows.
    * *Fusion.* Utilities, masked log-sum-exp and probabilities are computed in place in the
      workspace. For the derivatives the product :math:`W X` with
      :math:`W = \\mathrm{diag}(w_n P_{nj})` is formed once and serves three purposes: its
      within-case sums are :math:`w_n \\bar x_n` (so the score
      :math:`\\sum_n w_n x_{n c_n} - \\sum_n w_n \\bar x_n` needs no further pass over the
      design), and the Hessian is one BLAS product
      :math:`H = -(X' W X - \\sum_n w_n \\bar x_n \\bar x_n')`.
    * *No materialised constants.* For a constant of alternative :math:`a` (design column
      :math:`d_{nj} = 1[j = a]`) every sum above reduces to sums of probabilities:
      :math:`\\partial \\ell / \\partial \\alpha_a = \\sum_n w_n (1[c_n = a] - P_{na})`,
      :math:`-H_{ab} = \\sum_n w_n P_{na} (1[a = b] - P_{nb})` and
      :math:`-H_{ka} = \\sum_n w_n P_{na} (x_{nak} - \\bar x_{nk})`, so with ``J - 1`` constants
      and ``K`` attributes the kernel moves ``K`` rows instead of ``K + J - 1``.
      Alternative-specific columns (column :math:`z_{n} 1[j = a]`) are the same with the
      values :math:`z_n` as weights: :math:`-H_{ka} = \\sum_n w_n z_n P_{na}
      (x_{nak} - \\bar x_{nk})`, :math:`-H_{ab} = \\sum_n w_n z_{an} z_{bn} P_{n a}
      (1[a = b] - P_{n b})` (with :math:`a, b` their alternatives), so ``S`` of them cost
      ``S`` rows of ``n`` values, not ``S`` rows of ``J n``.
    """
    J = n_alts
    ws = workspace
    if Xt.ndim == 3:
        Kd, _, n = Xt.shape
        if not Xt.flags.c_contiguous:
            # a chunk of a parameter-major design, ``columns[:, :, a:b]``: K J runs of n
            # contiguous values. One copy into the workspace (row by row, ~15% of a pass on
            # 1M x 10 x 10) makes it the single (K, J n) matrix that the BLAS products below
            # need; reading it leaves it in cache for them.
            buf = ws.Xt[:Xt.size]
            np.copyto(buf.reshape(Xt.shape), Xt)
            Xt = buf
        Xt = Xt.reshape(Kd, J * n)
    Kd, nJ = Xt.shape
    n = nJ // J
    A = 0 if constants is None else len(constants)
    V = ws.V[:nJ]
    if Kd:
        np.matmul(beta[:Kd], Xt, out=V)
    else:
        V[:] = 0.0
    V2 = V.reshape(J, n)
    if A:
        # the constants as one addition per alternative (one pass over V, not one per
        # constant; several constants of one alternative are added up)
        V2 += np.bincount(constants, weights=beta[Kd:Kd + A], minlength=J)[:, None]
    S = 0 if specific is None else len(specific)
    if S:
        Z = specific_values
        # (J x S) @ (S x n): each column's beta times its values, added to its alternative
        Bz = np.zeros((J, S))
        Bz[specific, np.arange(S)] = beta[Kd + A:]
        V2 += Bz @ Z
    if offset is not None:
        V2 += offset
    # log-sum-exp shift. Any shift m_n gives the same log P = V - m - log sum exp(V - m); it
    # only has to keep exp() from overflowing and every case's sum from underflowing. When
    # all utilities of the chunk lie within SHIFT_SPAN of each other, the chunk's largest
    # utility does that for every case: two contiguous reductions instead of a maximum over
    # alternatives per case (~7 us of ~260 per chunk). Otherwise, the per-case maximum.
    hi, lo = V.max(), V.min()  # unavailable entries are included: a wider span, still safe
    if unavail is not None:
        np.copyto(V2, -np.inf, where=unavail)
    if hi - lo <= SHIFT_SPAN:  # False for NaN
        V -= hi
    else:
        m = ws.case[0, :n]
        np.max(V2, axis=0, out=m)
        V2 -= m
    ll_obs = V.take(chosen_flat)  # V_{n c_n} - m_n
    E = ws.E[:nJ]
    np.exp(V, out=E)
    E2 = E.reshape(J, n)
    s = ws.case[1, :n]
    np.matmul(ws.ones[:J], E2, out=s)  # sum over alternatives (BLAS; 2x sum(axis=0))
    ll_obs -= np.log(s, out=ws.case[2, :n])
    ll = float(ll_obs.sum() if weight is None else ll_obs @ weight)
    if order == 0:
        return ll, None, None
    # probabilities times case weights, in place of the exponentials
    if weight is not None:
        np.divide(weight, s, out=s)
        E2 *= s
    else:
        np.divide(E2, s, out=E2)
    if x_chosen_sum is None:
        xc = Xt[:, chosen_flat]
        parts = [xc.sum(axis=1) if weight is None else xc @ weight]
        chosen_alt = chosen_flat // n
        if A:
            parts.append(np.bincount(chosen_alt, weights=weight, minlength=J)[constants])
        if S:
            zc = np.where(chosen_alt == specific[:, None], Z, 0.0)
            parts.append(zc.sum(axis=1) if weight is None else zc @ weight)
        x_chosen_sum = np.concatenate(parts)
        if chosen_sum_out is not None:
            chosen_sum_out[:] = x_chosen_sum
    # sums over cases are products with a vector of ones: BLAS gemv, ~2x faster than
    # ndarray.sum along the contiguous axis for these shapes (measured per 2^16-value chunk)
    ones = ws.ones[:n]
    Esum = E2 @ ones  # (J,): sum_n w_n P_nj
    if S:
        Ez = E2[specific] * Z  # (S, n): w_n P_{n a_s} z_sn
        Ez_sum = Ez @ ones
    if order == 1:
        score = x_chosen_sum.copy()
        score[:Kd] -= Xt @ E
        if A:
            score[Kd:Kd + A] -= Esum[constants]
        if S:
            score[Kd + A:] -= Ez_sum
        return ll, score, None
    WX = ws.WX[:Kd * nJ].reshape(Kd, nJ)
    np.multiply(Xt, E, out=WX)
    # within-case sums w_n xbar_n: (1 x J) @ (J x n) for each parameter, a stacked product
    # (12 us against 20 us for sum(axis=1) over the middle axis)
    wxbar = ws.xbar[:Kd * n].reshape(Kd, 1, n)
    np.matmul(ws.ones[:J].reshape(1, J), WX.reshape(Kd, J, n), out=wxbar)
    wxbar = wxbar.reshape(Kd, n)
    # zero-weight cases contribute nothing: divide their (zero) sums by 1
    inv_w = None if weight is None else 1.0 / np.where(weight > 0, weight, 1.0)
    xbar = wxbar if weight is None else wxbar * inv_w  # unweighted xbar_n
    H = np.empty((Kd + A + S, Kd + A + S))
    np.matmul(WX, Xt.T, out=H[:Kd, :Kd])
    H[:Kd, :Kd] -= wxbar @ xbar.T
    # sum_n w_n P_nj x_njk: the sums of W X within each alternative's block, (Kd, J)
    block_sums = (WX.reshape(Kd * J, n) @ ones).reshape(Kd, J)
    score = x_chosen_sum.copy()
    score[:Kd] -= block_sums.sum(axis=1)
    # below: the upper blocks of -H for the constants (c) and alternative-specific columns
    # (s); the lower ones are their transposes
    P = E2 if weight is None or not (A or S) else E2 * inv_w  # unweighted P_nj
    c, s = slice(Kd, Kd + A), slice(Kd + A, Kd + A + S)
    if A:
        cross = block_sums - xbar @ E2.T  # (Kd, J): sum_n w_n P_nj (x_njk - xbar_nk)
        H[:Kd, c] = cross[:, constants]
        M = E2 @ P.T  # (J, J): sum_n w_n P_ni P_nj
        M.flat[::J + 1] -= Esum
        # the (A, A) block by flat positions in M (np.ix_ cost ~15 us per chunk)
        H[c, c] = -M.take(constants[:, None] * J + constants[None, :])
        score[c] -= Esum[constants]
    if S:
        # dense x specific: sum_n w_n P_na z_n (x_nak - xbar_nk), one product per column
        WX3 = WX.reshape(Kd, J, n)
        for i in range(S):
            np.matmul(WX3[:, specific[i], :], Z[i], out=H[:Kd, Kd + A + i])
        H[:Kd, s] -= xbar @ Ez.T
        Pz = P[specific] * Z  # unweighted P_{n a_s} z_sn
        same = specific[:, None] == specific[None, :]
        H[s, s] = np.where(same, Ez @ Z.T, 0.0) - Ez @ Pz.T
        if A:  # constant (value 1) x specific
            same = constants[:, None] == specific[None, :]
            H[c, s] = np.where(same, Ez_sum[None, :], 0.0) - P[constants] @ Ez.T
            H[s, c] = H[c, s].T
        H[s, :Kd] = H[:Kd, s].T
        score[s] -= Ez_sum
    if A:
        H[c, :Kd] = H[:Kd, c].T
    H = -0.5 * (H + H.T)  # exact symmetry (the two BLAS triangles round differently)
    return ll, score, H


def loglike_derivatives(
    X: FloatArray,
    beta: FloatArray,
    avail: NDArray[np.bool_],
    chosen: NDArray[np.intp],
    offset: FloatArray | None = None,
    weight: FloatArray | None = None,
    order: int = 2,
    workspace: KernelWorkspace | None = None,
) -> LogitDerivatives:
    """Weighted log-likelihood and, by ``order``, its score and Hessian in one pass.

    Parameters
    ----------
    X : ndarray, shape (n, J, K)
        Design, zero at unavailable alternatives.
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
    workspace : KernelWorkspace, optional
        Reusable buffers (allocated for this call when omitted or too small).

    Returns
    -------
    LogitDerivatives

    Notes
    -----
    The fused kernel :func:`chunk_derivatives` on the transposed chunk;
    :func:`loglike_derivatives_reference` computes the same quantities term by term, as
    written in the module notes.
    """
    X = np.asarray(X, dtype=np.float64)
    n, J, K = X.shape
    beta = np.asarray(beta, dtype=np.float64)
    avail = np.asarray(avail, dtype=bool)
    if workspace is None or not workspace.fits(n, J, K):
        workspace = KernelWorkspace(n, J, K)
    chosen_flat = np.asarray(chosen, dtype=np.intp) * n + np.arange(n)
    unavail = None if avail.all() else np.ascontiguousarray(~avail.T)
    ll, g, H = chunk_derivatives(
        workspace.transposed(X), J, beta, chosen_flat, unavail,
        None if offset is None else np.ascontiguousarray(np.asarray(offset, np.float64).T),
        None if weight is None else np.asarray(weight, dtype=np.float64),
        order, workspace)
    return LogitDerivatives(ll, g, H)


def loglike_derivatives_reference(
    X: FloatArray,
    beta: FloatArray,
    avail: NDArray[np.bool_],
    chosen: NDArray[np.intp],
    offset: FloatArray | None = None,
    weight: FloatArray | None = None,
    order: int = 2,
) -> LogitDerivatives:
    """The unoptimised kernel: each term of the module notes computed on its own.

    Same parameters and result as :func:`loglike_derivatives`. It allocates every
    intermediate and passes over the design once per term; it is kept as the reference the
    fused kernel is tested against (agreement to 1e-8 relative).
    """
    n, J, K = X.shape
    rows = np.arange(n)
    V = utilities(X, beta, offset)
    logp = log_softmax(V, available=avail)
    ll_obs = logp[rows, chosen]
    ll = float(ll_obs.sum() if weight is None else ll_obs @ weight)
    if order == 0:
        return LogitDerivatives(ll, None, None)
    P = np.exp(logp)
    wP = P if weight is None else P * weight[:, None]
    Xf = X.reshape(n * J, K)
    x_chosen = X[rows, chosen]
    g_chosen = x_chosen.sum(axis=0) if weight is None else weight @ x_chosen
    score = g_chosen - wP.reshape(-1) @ Xf
    if order == 1:
        return LogitDerivatives(ll, score, None)
    xbar = np.einsum("nj,njk->nk", P, X)
    H = -(Xf.T @ (Xf * wP.reshape(-1, 1)))
    wxbar = xbar if weight is None else xbar * weight[:, None]
    H += xbar.T @ wxbar
    H = 0.5 * (H + H.T)
    return LogitDerivatives(ll, score, H)
