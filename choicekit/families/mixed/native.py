"""The compiled per-unit pass of the mixed logit (``_mxl_pass.c``), loaded with :mod:`ctypes`.

One call runs, for a block of whole units, every unit's log-likelihood at every draw and the
derivatives of those in every slot's coefficient (see the C file). It is built like the MNL's
pass (:mod:`choicekit.families.mnl.native`: an optional ext-module in ``pyproject.toml``) and
follows the same rules: ``CHOICEKIT_NATIVE=0`` switches it off, a library that cannot be
loaded or speaks another interface version (``ck_mxl_abi_version()``) is not used (one
:class:`~choicekit.families.mnl.native.NativeLibraryWarning`; NumPy takes over), and
``CHOICEKIT_REQUIRE_NATIVE=1`` makes that an error. The NumPy pass of
:class:`~choicekit.families.mixed.family.MixedFamily` is the reference; the test suite checks
that both give the same sums.

Why compiled code: the NumPy pass forms (cases x draws x alternatives) temporaries a dozen
times per evaluation; on Electricity (4,308 cases x 100 draws x 4 alternatives, 6 random
coefficients) it takes 0.19 s per score, the compiled loop about 0.01 s.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import warnings

import numpy as np

from choicekit.families.mnl.native import NativeLibraryWarning
from choicekit.families.native_library import native_required, open_checked

__all__ = ["ABI_VERSION", "available", "mxl_pass", "mxl_hessian_pass"]

_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p

#: the interface version this module speaks (CK_MXL_ABI_VERSION in _mxl_pass.c)
ABI_VERSION = 2
_MODULE = "choicekit.families.mixed._mxl_pass"
_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_mxl_pass.c")
_REBUILD = ("Rebuild it by reinstalling choicekit (`pip install -e .` in an editable checkout); "
            "until then the mixed logit uses its NumPy pass, which gives the same results, "
            "more slowly.")


_required = native_required


def _declare(lib: ctypes.CDLL) -> None:
    lib.ck_mxl_pass.argtypes = ([_i64] * 5 + [_ptr] * 7 + [_i64, _ptr, _ptr, _ptr, _ptr]
                                 + [_i64, _i64] + [_ptr] * 6)
    lib.ck_mxl_pass.restype = _i64


def _open(path: str) -> tuple[ctypes.CDLL | None, str | None]:
    """Load and check the library: ``(library, None)``, or ``(None, what is wrong)``."""
    return open_checked(path, "ck_mxl_abi_version", ABI_VERSION, "_mxl_pass.c", _declare)


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str | None]:
    spec = importlib.util.find_spec(_MODULE)
    path = spec.origin if spec is not None and spec.origin else None
    if path is None:
        return None, "is not built (no C compiler when choicekit was installed?)"
    lib, problem = _open(path)
    if problem is not None:
        if not _required():
            warnings.warn(f"choicekit's compiled mixed logit pass {path} {problem}. {_REBUILD}",
                          NativeLibraryWarning, stacklevel=4)
        return None, f"{path} {problem}"
    try:
        stale = os.path.getmtime(_SOURCE) > os.path.getmtime(path)
    except OSError:
        stale = False
    if stale:
        message = (f"choicekit's compiled mixed logit pass {path} is older than its source "
                   f"{_SOURCE}. Rebuild it with `pip install -e .`.")
        if _required():
            return None, message
        warnings.warn(message, NativeLibraryWarning, stacklevel=4)
    return lib, None


def _library() -> ctypes.CDLL | None:
    lib, problem = _load()
    if lib is None and _required():
        raise RuntimeError(f"choicekit's compiled mixed logit pass {problem}, and "
                           "CHOICEKIT_REQUIRE_NATIVE=1 forbids the NumPy fallback.")
    return lib


def available() -> bool:
    """Whether the compiled pass is built and not switched off (``CHOICEKIT_NATIVE=0``)."""
    if os.environ.get("CHOICEKIT_NATIVE", "1").strip() in ("0", "false", "no", "off"):
        return False
    return _library() is not None


def _addr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def mxl_pass(unit_start: np.ndarray, X: np.ndarray, V0: np.ndarray, avail: np.ndarray,
             chosen: np.ndarray, rand_idx: np.ndarray, C: np.ndarray, R: int,
             with_grad: bool, with_info: bool = False
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Units' simulated log-likelihoods ``(n_u,)`` and (``with_grad``) ``G (n_u, P, R)``, the
    posterior-weighted derivatives of each draw's log-likelihood in the slot coefficients, of
    one block of whole units, and (``with_info``) ``M (n_u, P, P, R)``, each draw's
    information in the coefficients (lower triangle ``q <= p`` filled; then ``G`` is not
    weighted by the posterior shares either), and the per-draw log-likelihoods ``ell (n_u, R)``.

    ``unit_start`` (n_u + 1) local case offsets, ``X (m, J, P)``, ``V0 (m, J)``, ``avail (m, J)``
    bool, ``chosen (m,)``, ``rand_idx (Pr,)`` slots, ``C (Pr, n_u, R)`` their coefficients.
    """
    lib = _library()
    if lib is None:
        raise RuntimeError("choicekit's compiled mixed logit pass is not available")
    n_u = len(unit_start) - 1
    m, J, P = X.shape
    us = np.ascontiguousarray(unit_start, dtype=np.int64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    V0 = np.ascontiguousarray(V0, dtype=np.float64)
    av = np.ascontiguousarray(avail, dtype=np.uint8)
    ch = np.ascontiguousarray(chosen, dtype=np.int64)
    ri = np.ascontiguousarray(rand_idx, dtype=np.int64)
    Pr = len(ri)
    C = np.ascontiguousarray(C, dtype=np.float64) if Pr else np.zeros(1)
    if Pr and C.shape != (Pr, n_u, R):
        raise ValueError(f"C must be {(Pr, n_u, R)}, got {C.shape}")
    ell = np.empty((n_u, R))
    llu = np.empty(n_u)
    G = np.empty((n_u, P, R)) if with_grad else np.empty(1)
    M = np.empty((n_u, P, P, R)) if (with_grad and with_info) else None
    rc = lib.ck_mxl_pass(n_u, R, J, P, Pr, _addr(us), _addr(X), _addr(V0), _addr(av),
                         _addr(ch), _addr(ri) if Pr else None, _addr(C), int(with_grad),
                         _addr(ell), _addr(llu), _addr(G),
                         None if M is None else _addr(M), 0, 0, None, None, None, None, None,
                         None)
    _check(rc)
    return llu, (G if with_grad else None), M, ell


def _check(rc: int) -> None:
    if rc == -1:
        raise MemoryError("the compiled mixed logit pass could not allocate its workspace")
    if rc != 0:
        raise ValueError(f"the compiled mixed logit pass refused its arguments (code {rc})")


def mxl_hessian_pass(unit_start: np.ndarray, X: np.ndarray, V0: np.ndarray, avail: np.ndarray,
                     chosen: np.ndarray, rand_idx: np.ndarray, C: np.ndarray, R: int, K: int,
                     e_col: np.ndarray, e_par: np.ndarray, e_aidx: np.ndarray, A: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Units' simulated log-likelihoods ``(n_u,)``, scores ``S (n_u, K)`` and Hessians ``H
    (n_u, K, K)`` in the parameters, with the unweighted per-draw derivatives ``G (n_u, P, R)``
    and per-draw log-likelihoods ``ell (n_u, R)`` (for the caller's second derivatives of
    nonlinear coefficients), of one block of whole units.

    The chain rule runs inside the pass from a sparse Jacobian: entry ``e`` says parameter
    ``e_par[e]`` moves distinct column ``e_col[e]``'s coefficient by ``A[e_aidx[e]]`` ``(n_u,
    R)`` (by 1 where ``e_aidx[e] < 0``). Other arguments as :func:`mxl_pass`.
    """
    lib = _library()
    if lib is None:
        raise RuntimeError("choicekit's compiled mixed logit pass is not available")
    n_u = len(unit_start) - 1
    m, J, P = X.shape
    us = np.ascontiguousarray(unit_start, dtype=np.int64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    V0 = np.ascontiguousarray(V0, dtype=np.float64)
    av = np.ascontiguousarray(avail, dtype=np.uint8)
    ch = np.ascontiguousarray(chosen, dtype=np.int64)
    ri = np.ascontiguousarray(rand_idx, dtype=np.int64)
    Pr = len(ri)
    C = np.ascontiguousarray(C, dtype=np.float64) if Pr else np.zeros(1)
    if Pr and C.shape != (Pr, n_u, R):
        raise ValueError(f"C must be {(Pr, n_u, R)}, got {C.shape}")
    ec = np.ascontiguousarray(e_col, dtype=np.int64)
    ep = np.ascontiguousarray(e_par, dtype=np.int64)
    ea = np.ascontiguousarray(e_aidx, dtype=np.int64)
    E = len(ec)
    if not (len(ep) == len(ea) == E) or (E and (ec.min() < 0 or ec.max() >= P or ep.min() < 0
                                                or ep.max() >= K)):
        raise ValueError("Jacobian entries out of range")
    A = np.ascontiguousarray(A, dtype=np.float64) if A.size else np.zeros(1)
    if E and ea.max() >= 0 and (A.ndim != 3 or A.shape[1:] != (n_u, R)
                                or ea.max() >= A.shape[0]):
        raise ValueError(f"A must be (rows, {n_u}, {R}) with a row per entry's index")
    ell = np.empty((n_u, R))
    llu = np.empty(n_u)
    G = np.empty((n_u, P, R))
    S = np.empty((n_u, K))
    H = np.empty((n_u, K, K))
    rc = lib.ck_mxl_pass(n_u, R, J, P, Pr, _addr(us), _addr(X), _addr(V0), _addr(av),
                         _addr(ch), _addr(ri) if Pr else None, _addr(C), 1, _addr(ell),
                         _addr(llu), _addr(G), None, K, E, _addr(ec) if E else None,
                         _addr(ep) if E else None, _addr(ea) if E else None, _addr(A),
                         _addr(S), _addr(H))
    _check(rc)
    return llu, S, H, G, ell
