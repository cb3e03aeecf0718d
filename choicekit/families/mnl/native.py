"""The compiled likelihood pass (``_mnl_pass.c``), loaded with :mod:`ctypes`.

One call runs the fused log-likelihood, score and information-matrix pass of
:func:`choicekit.families.mnl.kernels.chunk_derivatives` over a range of cases of a parameter-major
design
(``Design.columns``), chunk by chunk, without returning to Python in between. The library is
built when choicekit is installed (a C compiler is needed; the build is optional). Where it is
missing, or with the environment variable ``CHOICEKIT_NATIVE=0``, estimation uses the NumPy
kernel, which gives the same sums to rounding. A library that cannot be loaded or speaks
another interface version (``ck_abi_version()``, e.g. one built from an older
``_mnl_pass.c``) is not used: one :class:`NativeLibraryWarning` says how to rebuild it and
NumPy takes over. ``CHOICEKIT_REQUIRE_NATIVE=1`` (CI) makes any of these an error.

Notes
-----
ctypes releases the GIL for the duration of the call, so threads that each run the pass over
their own range of cases run in parallel (:class:`choicekit.estimation.objective.Objective`).

Why compiled code: the NumPy kernel makes about 30 calls per chunk of cache size, each of
them a full loop over the chunk. Fused, a pass over 1M cases x 10 alternatives x 10 attributes
(+ 9 constants) takes 0.29 s on one core of the benchmark machine against 0.39 s (and 0.15 s
on two threads against no gain for NumPy), with the design read from memory once.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import warnings
from dataclasses import dataclass

import numpy as np

from choicekit.exceptions import ChoiceKitWarning
from choicekit.families.native_library import native_required, open_checked

__all__ = ["available", "NativePass", "NativeLibraryWarning", "ABI_VERSION",
           "default_chunk_cases", "native_exp", "native_log", "pass_in_use"]

_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p


#: the interface version this module speaks; the library's ``ck_abi_version()`` must return
#: the same (CK_ABI_VERSION in _mnl_pass.c)
ABI_VERSION = 1
_REBUILD = ("Rebuild it by reinstalling choicekit (`pip install -e .` in an editable checkout, "
            "`pip install --force-reinstall choicekit` otherwise); until then estimation uses "
            "the NumPy kernel, which gives the same results, more slowly.")
_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_mnl_pass.c")


class NativeLibraryWarning(ChoiceKitWarning):
    """The compiled pass is stale or foreign; estimation falls back on NumPy (said once)."""


def _library_path() -> str | None:
    """Where the built library is, or None where it was not built."""
    spec = importlib.util.find_spec("choicekit.families.mnl._mnl_pass")
    return spec.origin if spec is not None and spec.origin else None


def _declare(lib: ctypes.CDLL) -> None:
    """Argument and result types of the functions this module calls."""
    lib.ck_mnl_pass.argtypes = [_ptr, _i64, _i64, _i64, _i64, _i64, _i64, _i64, _ptr, _ptr,
                                _ptr, _ptr, _ptr, _ptr, _i64, _ptr, _ptr, _ptr, _i64, _i64,
                                _ptr, _ptr]
    lib.ck_mnl_pass.restype = _i64
    for name in ("ck_work_per_case", "ck_work_extra"):
        getattr(lib, name).argtypes = [_i64, _i64, _i64]
        getattr(lib, name).restype = _i64
    for name in ("ck_exp_n", "ck_log_n"):
        getattr(lib, name).argtypes = [_ptr, _ptr, _i64]
        getattr(lib, name).restype = None


def _open(path: str) -> tuple[ctypes.CDLL | None, str | None]:
    """Load and check the library: ``(library, None)``, or ``(None, what is wrong)``."""
    return open_checked(path, "ck_abi_version", ABI_VERSION, "_mnl_pass.c", _declare)


def _stale(path: str) -> bool:
    """An editable install whose C source was changed after the library was built."""
    try:
        return os.path.getmtime(_SOURCE) > os.path.getmtime(path)
    except OSError:  # no source beside the module (a wheel): nothing to compare
        return False


def _checkout_without_build() -> str | None:
    """Why a source checkout imported without its compiled pass is using NumPy, or None.

    The C source sits beside this module only in a source tree. Without a built library
    there, and with choicekit installed non-editable (``pip install .``: the build went to
    site-packages), Python imports the checkout (the current directory comes first on
    ``sys.path``) and silently ran the NumPy kernel. An editable install whose build failed
    (no C compiler) is the documented optional case and stays silent.
    """
    if not os.path.exists(_SOURCE):
        return None
    import importlib.metadata
    import json

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_SOURCE))))
    try:
        dist = importlib.metadata.distribution("choicekit")
    except importlib.metadata.PackageNotFoundError:
        where = "choicekit is not installed"
    else:
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            url = {}
        if url.get("dir_info", {}).get("editable", False):
            return None
        where = f"choicekit is installed non-editable in {dist.locate_file('')}"
    return (f"choicekit is imported from the source checkout {root}, whose compiled likelihood "
            f"pass is not built ({where}, which this import does not use); estimation uses "
            "the NumPy kernel, which gives the same results, more slowly. Run "
            "`pip install -e .` in the checkout, or run from another directory to use the "
            "installed copy; ck.show_versions() says which pass is in use.")


def pass_in_use() -> str:
    """Which likelihood pass estimation uses, in words (for :func:`choicekit.show_versions`)."""
    if os.environ.get("CHOICEKIT_NATIVE", "1").strip() in ("0", "false", "no", "off"):
        return "NumPy kernel (CHOICEKIT_NATIVE=0)"
    lib, problem = _load()
    if lib is not None:
        return f"compiled ({_library_path()})"
    return f"NumPy kernel (the compiled pass {problem})" if not problem.startswith(
        "choicekit is imported") else f"NumPy kernel ({problem.split(';')[0]})"


_required = native_required


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str | None]:
    """The shared object built from ``_mnl_pass.c`` (or None) and what is wrong with it.

    A library that is not built is the documented optional case (no message); one that
    cannot be loaded, lacks a function or has another interface version is reported once
    with a :class:`NativeLibraryWarning` and NumPy is used. So is (but the library still
    used, its interface being the same) a library older than its source in an editable
    install. With ``CHOICEKIT_REQUIRE_NATIVE=1`` (CI) any of these is an error instead.
    """
    path = _library_path()
    if path is None:
        checkout = _checkout_without_build()
        if checkout is not None and not _required():
            warnings.warn(checkout, NativeLibraryWarning, stacklevel=4)
        return None, checkout or "is not built (no C compiler when choicekit was installed?)"
    lib, problem = _open(path)
    if problem is not None:
        if not _required():
            warnings.warn(f"choicekit's compiled pass {path} {problem}. {_REBUILD}",
                          NativeLibraryWarning, stacklevel=4)
        return None, f"{path} {problem}"
    if _stale(path):
        message = (f"choicekit's compiled pass {path} is older than its source {_SOURCE} "
                   "(edited since the last build?). Rebuild it with `pip install -e .` so "
                   "that estimation uses the current code.")
        if _required():
            return None, message
        warnings.warn(message, NativeLibraryWarning, stacklevel=4)
    return lib, None


def _library() -> ctypes.CDLL | None:
    """The checked library, or None (NumPy is used); with ``CHOICEKIT_REQUIRE_NATIVE=1`` a
    missing, stale or foreign library raises instead of falling back."""
    lib, problem = _load()
    if lib is None and _required():
        raise RuntimeError(f"choicekit's compiled pass {problem}, and CHOICEKIT_REQUIRE_NATIVE=1 "
                           f"forbids the NumPy fallback. {_REBUILD.split(';')[0]}.")
    return lib


def _require() -> ctypes.CDLL:
    """The library, or a RuntimeError saying it is not built."""
    lib = _library()
    if lib is None:
        raise RuntimeError("choicekit's compiled pass is not built (no C compiler when choicekit "
                           "was installed?); estimation uses the NumPy kernel instead")
    return lib


def available() -> bool:
    """Whether the compiled pass is built and not switched off (``CHOICEKIT_NATIVE=0``)."""
    if os.environ.get("CHOICEKIT_NATIVE", "1").strip() in ("0", "false", "no", "off"):
        return False
    return _library() is not None


def _elementwise(name: str, x: np.ndarray) -> np.ndarray:
    lib = _require()
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    getattr(lib, name)(_addr(x), _addr(out), x.size)
    return out


def native_exp(x: np.ndarray) -> np.ndarray:
    """The pass's own vectorised ``exp`` of values ``<= 0`` (exposed for its tests)."""
    return _elementwise("ck_exp_n", x)


def native_log(x: np.ndarray) -> np.ndarray:
    """The pass's own vectorised ``log`` of positive values (exposed for its tests)."""
    return _elementwise("ck_log_n", x)


def _addr(a: np.ndarray | None) -> int | None:
    """The address of an array's first element (None for no array: a NULL pointer)."""
    return None if a is None else a.__array_interface__["data"][0]


#: design values per chunk inside the compiled pass (the chunk and its workspace stay in
#: L1/L2; there is no per-call overhead to amortise). Measured on 1M x 10 x 19, two threads:
#: 0.127-0.131 s per pass at 2^14 values (163 cases), 0.139 s at 2^16 (655 cases);
#: 1000 x 3 x 5: no difference.
CHUNK_ELEMENTS = 1 << 14


def default_chunk_cases(n_alts: int, n_stored: int) -> int:
    """Cases per chunk of :data:`CHUNK_ELEMENTS` design values (at least 64)."""
    return max(64, CHUNK_ELEMENTS // (n_alts * max(n_stored, 1)))


@dataclass
class NativePass:
    """The arrays of one design laid out for the compiled pass, and one workspace per thread.

    Parameters
    ----------
    columns : ndarray, shape (Kd, J, n)
        ``Design.columns``: C-contiguous float64, zero at unavailable alternatives.
    chosen : ndarray of int, shape (n,)
    avail : ndarray of bool, shape (n, J), optional
        None when every alternative is available.
    offset : ndarray, shape (n, J), optional
    weight : ndarray, shape (n,), optional
    constant_alts : ndarray of int, shape (A,)
        Alternative of each alternative-specific constant (``Design.constant_alts``).
    specific_alts : ndarray of int, shape (S,), optional
        Alternative of each alternative-specific column (``Design.specific_alts``).
    specific_values : ndarray, shape (S, n), optional
        Their values (``Design.specific_values``).
    chunk_cases : int, optional
        Cases per chunk inside the pass (default :func:`default_chunk_cases`).
    work : ndarray, optional
        A float64 buffer to use as the first worker's workspace (a caller that builds one
        ``NativePass`` per piece of a stream reuses one buffer instead of allocating per piece);
        allocated when absent or too small.
    pick : ndarray of int, optional
        Which parameters :meth:`run` returns sums for (positions in the parameter order
        below); all by default.

    Notes
    -----
    Parameters are ordered as the NumPy kernel orders them: the ``Kd`` stored columns, the
    ``A`` constants, the ``S`` alternative-specific columns. The C pass itself sums over the
    stored columns, one constant per alternative and the specific columns; :meth:`run` adds
    the constants' values per alternative on the way in and hands each constant its
    alternative's sums on the way out (several constants of one alternative get the same).
    """

    columns: np.ndarray
    chosen: np.ndarray
    avail: np.ndarray | None
    offset: np.ndarray | None
    weight: np.ndarray | None
    constant_alts: np.ndarray
    specific_alts: np.ndarray | None = None
    specific_values: np.ndarray | None = None
    chunk_cases: int | None = None
    work: np.ndarray | None = None
    pick: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._lib = _require()
        Kd, J, n = self.columns.shape
        if not self.columns.flags.c_contiguous or self.columns.dtype != np.float64:
            raise ValueError("the compiled pass needs C-contiguous float64 design columns")
        self.Kd, self.J, self.n = Kd, J, n
        # the C code indexes with these without further checks: shapes and the chosen
        # alternatives are verified here, once
        self.chosen = np.ascontiguousarray(self.chosen, dtype=np.int64)
        if self.chosen.shape != (n,) or (n and not 0 <= self.chosen.min() <= self.chosen.max()
                                         < J):
            raise ValueError(f"chosen must hold one alternative in 0..{J - 1} per case ({n})")
        for name, want in (("avail", (n, J)), ("offset", (n, J)), ("weight", (n,))):
            value = getattr(self, name)
            if value is not None and np.shape(value) != want:
                raise ValueError(f"{name} must have shape {want}; got {np.shape(value)}")
        # alternative-major copies (J, n) of the per-alternative inputs: each chunk then reads
        # contiguous runs, as it does from the design. Built once per objective.
        self._avail_t = None if self.avail is None or self.avail.all() else \
            np.ascontiguousarray(self.avail.T, dtype=np.uint8)
        self._offset_t = None if self.offset is None else np.ascontiguousarray(
            self.offset.T, dtype=np.float64)
        self.weight = None if self.weight is None else np.ascontiguousarray(
            self.weight, dtype=np.float64)
        self.constant_alts = np.asarray(self.constant_alts, dtype=np.intp)
        if self.constant_alts.size and not 0 <= self.constant_alts.min() <= \
                self.constant_alts.max() < J:
            raise ValueError(f"constant_alts must be alternatives in 0..{J - 1}")
        self.specific_alts = np.ascontiguousarray(
            np.zeros(0) if self.specific_alts is None else self.specific_alts, dtype=np.int64)
        self.S = S = len(self.specific_alts)
        if S and not 0 <= self.specific_alts.min() <= self.specific_alts.max() < J:
            raise ValueError(f"specific_alts must be alternatives in 0..{J - 1}")
        self.specific_values = np.ascontiguousarray(
            np.zeros((0, n)) if self.specific_values is None else self.specific_values,
            dtype=np.float64)
        if self.specific_values.shape != (S, n):
            raise ValueError("specific_values must have shape (S, n_cases)")
        if self.chunk_cases is None:
            self.chunk_cases = default_chunk_cases(J, Kd)
        self.chunk_cases = max(1, min(int(self.chunk_cases), max(n, 1)))
        self._work_size = self.work_size(Kd, J, S, self.chunk_cases)
        self.L = Kd + J + S
        # parameter order -> the pass's sums (stored, one constant per alternative, specific)
        A = len(self.constant_alts)
        pos = np.concatenate([np.arange(Kd), Kd + self.constant_alts,
                              Kd + J + np.arange(S)]).astype(np.intp)
        if self.pick is not None:
            pos = pos[np.asarray(self.pick, dtype=np.intp)]
        self._pos, self._pairs = pos, pos[:, None] * self.L + pos[None, :]
        self._A = A
        # the call's arguments, as plain integers, computed once: converting arrays to
        # pointers costs ~1 us each, and a Monte Carlo refit of a small design makes
        # thousands of calls of ~20 us
        self._head = (_addr(self.columns), Kd, J, n, J * n, n)
        self._slots: list[tuple] = []

    def _slot(self, worker: int) -> tuple:
        """Per worker: its parameter/result buffer, views into it, and the call's arguments
        after the case range (workspace and output included)."""
        while len(self._slots) <= worker:
            Kd, J, S, L = self.Kd, self.J, self.S, self.L
            io = np.zeros(Kd + J + S + 1 + L + L * L)
            given = self.work if not self._slots else None
            work = given if given is not None and given.dtype == np.float64 and \
                given.flags.c_contiguous and given.size >= self._work_size \
                else np.empty(self._work_size)
            beta_d, alt_add, beta_s = io[:Kd], io[Kd:Kd + J], io[Kd + J:Kd + J + S]
            out = io[Kd + J + S:]
            mid = (_addr(beta_d), _addr(alt_add), _addr(self.chosen), _addr(self._avail_t),
                   _addr(self._offset_t), _addr(self.weight), S, _addr(self.specific_alts),
                   _addr(self.specific_values), _addr(beta_s))
            self._slots.append((io, work, beta_d, alt_add, beta_s, out, mid,
                                (self.chunk_cases, _addr(work), _addr(out))))
        return self._slots[worker]

    @staticmethod
    def work_size(n_stored: int, n_alts: int, n_specific: int, chunk_cases: int) -> int:
        """Doubles of workspace one worker needs (for the ``work`` argument)."""
        lib = _require()
        return (chunk_cases * lib.ck_work_per_case(n_stored, n_alts, n_specific)
                + lib.ck_work_extra(n_stored, n_alts, n_specific))

    def run(self, beta: np.ndarray, order: int, first: int = 0, last: int | None = None,
            worker: int = 0) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Log-likelihood, score and Hessian summed over cases ``first..last-1``.

        ``beta`` holds every parameter in the order of the Notes (``Kd + A + S`` values);
        ``worker`` selects the workspace. Returns ``(ll, score, hessian)`` for the ``pick``
        parameters, up to ``order`` (0: ``ll`` only; 1: and the score; 2: and the Hessian).
        """
        _, _, b_d, b_a, b_s, out, mid, tail = self._slot(worker)
        Kd, A = self.Kd, self._A
        b_d[:] = beta[:Kd]
        # the constants as one addition per alternative (several of one alternative add up)
        b_a[:] = np.bincount(self.constant_alts, weights=beta[Kd:Kd + A], minlength=self.J) \
            if A else 0.0
        b_s[:] = beta[Kd + A:]
        last = self.n if last is None else last
        self._lib.ck_mnl_pass(*self._head, int(first), int(last), *mid, int(order), *tail)
        L = self.L
        # take() copies out of the buffer, which the worker's next call overwrites
        return (float(out[0]), None if order < 1 else out[1:1 + L].take(self._pos),
                None if order < 2 else -out[1 + L:].take(self._pairs))
