"""The compiled nested logit pass (``_nl_pass.c``), loaded with :mod:`ctypes`.

One call runs the nested logit's log-likelihood, score and exact Hessian over a range of cases
of a parameter-major design (``Design.columns``), chunk by chunk: the utilities, the tree
recursion of :mod:`choicekit.families.gev.nl` vectorised over each chunk's cases, and the
chain rule through :math:`V = X\\beta` (see the C file). It is built like the MNL's pass (an
optional ext-module in ``pyproject.toml``) and follows the same rules:
``CHOICEKIT_NATIVE=0`` switches it off, a library that cannot be loaded or speaks another
interface version (``ck_nl_abi_version()``) is not used (one
:class:`~choicekit.families.mnl.native.NativeLibraryWarning`; NumPy takes over), and
``CHOICEKIT_REQUIRE_NATIVE=1`` makes that an error. The NumPy kernel with the chain rule of
:class:`~choicekit.families.gev.family.NestedFamily` is the reference; the test suite checks
that both give the same sums.

Why compiled code: on 200,000 cases x 5 alternatives x 14 parameters the NumPy kernel's ~40
array operations per tree node and block, the ``(n, J, K)`` block rebuilt from the
parameter-major storage and the batched ``(n, J, J) @ (n, J, K)`` products made a nested logit
fit 22 times the MNL's on the same design.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

from choicekit.design.linear import Design
from choicekit.families.gev.common import GevStructure
from choicekit.families.mnl.native import NativeLibraryWarning
from choicekit.families.native_library import load_pass, native_required, switched_off

__all__ = ["ABI_VERSION", "available", "NestedPass", "MAX_NESTS"]

_i64 = ctypes.c_int64
_ptr = ctypes.c_void_p

#: the interface version this module speaks (CK_NL_ABI_VERSION in _nl_pass.c)
ABI_VERSION = 2
#: the pass's limit (larger trees use the NumPy kernel): nests (MAXNODES - 1 in the C file)
MAX_NESTS = 127
_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_nl_pass.c")

#: design values per chunk inside the pass (the chunk's workspace, about (J + M)^2 / 2 + J K
#: values per case, stays in L2)
CHUNK_ELEMENTS = 1 << 14


def _declare(lib: ctypes.CDLL) -> None:
    lib.ck_nl_pass.argtypes = ([_ptr] + [_i64] * 7 + [_ptr] * 6 + [_i64] + [_ptr] * 3
                               + [_i64] + [_ptr] * 10 + [_i64, _i64, _ptr, _ptr])
    lib.ck_nl_pass.restype = _i64
    lib.ck_nl_work_size.argtypes = [_i64, _i64, _ptr, _i64]
    lib.ck_nl_work_size.restype = _i64


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str | None]:
    return load_pass("choicekit.families.gev._nl_pass", _SOURCE, "ck_nl_abi_version",
                     ABI_VERSION, _declare, "nested logit", NativeLibraryWarning)


def _library() -> ctypes.CDLL | None:
    lib, problem = _load()
    if lib is None and native_required():
        raise RuntimeError(f"choicekit's compiled nested logit pass {problem}, and "
                           "CHOICEKIT_REQUIRE_NATIVE=1 forbids the NumPy fallback.")
    return lib


def available() -> bool:
    """Whether the compiled pass is built and not switched off (``CHOICEKIT_NATIVE=0``)."""
    return not switched_off() and _library() is not None


def _addr(a: np.ndarray | None) -> int | None:
    return None if a is None else a.__array_interface__["data"][0]


class NestedPass:
    """A design and a nesting tree laid out for the compiled pass, with one workspace per
    thread.

    Parameters
    ----------
    design : Design
        Its ``columns`` (C-contiguous float64, zero at unavailable alternatives), choices,
        availability, offset, weights, constants and alternative-specific columns.
    struct : GevStructure
        A nested structure (:meth:`GevStructure.nested`) of at most :data:`MAX_NESTS` nests.
    chunk_cases : int, optional
        Cases per chunk inside the pass.

    Notes
    -----
    :meth:`run` returns the sums over ``L = Kd + J + S + M`` quantities, in this order: the
    ``Kd`` stored columns, one constant per alternative, the ``S`` alternative-specific
    columns and the ``M`` nest parameters :math:`\\lambda` (absolute); the caller maps them to
    its parameters.
    """

    def __init__(self, design: Design, struct: GevStructure,
                 chunk_cases: int | None = None) -> None:
        lib = _library()
        if lib is None:
            raise RuntimeError("choicekit's compiled nested logit pass is not available")
        if struct.kind != "nested":
            raise ValueError("the compiled pass is for nested structures")
        self._lib = lib
        d = design
        Kd, J, n = d.columns.shape
        M = struct.n_nests
        if M > MAX_NESTS:
            raise ValueError(f"the compiled pass takes at most {MAX_NESTS} nests")
        self.columns = np.ascontiguousarray(d.columns, dtype=np.float64)
        self.Kd, self.J, self.n, self.M = Kd, J, n, M
        self.chosen = np.ascontiguousarray(d.chosen, dtype=np.int64)
        avail = np.asarray(d.avail, dtype=bool)
        # the C code indexes without checks: the choices and availability are verified once
        if n and not (0 <= self.chosen.min() and self.chosen.max() < J):
            raise ValueError(f"chosen must hold one alternative in 0..{J - 1} per case")
        if n and not avail[np.arange(n), self.chosen].all():
            raise ValueError("chosen alternative must be available")
        if n and not avail.any(axis=1).all():
            raise ValueError("every case needs at least one available alternative")
        self._avail_t = None if avail.all() else np.ascontiguousarray(avail.T, dtype=np.uint8)
        self._offset_t = None if d.offset is None else np.ascontiguousarray(
            np.asarray(d.offset, dtype=np.float64).T)
        self._weight = None if d.weight is None else np.ascontiguousarray(
            d.weight, dtype=np.float64)
        self._spec_alt = np.ascontiguousarray(d.specific_alts, dtype=np.int64)
        self.S = S = len(self._spec_alt)
        self._spec_val = np.ascontiguousarray(
            np.asarray(d.specific_values, dtype=np.float64).reshape(S, n))
        self._parent = np.ascontiguousarray(struct.parent_node, dtype=np.int64)
        self._alt_parent = np.ascontiguousarray(struct.alt_parent_node, dtype=np.int64)
        # the tree as the C file's tree_t describes it: children, their positions in their
        # parent's local set, and the local sets
        kids, kpos, npos = [], [], []
        for q in range(M + 1):
            alts = np.asarray(struct.alt_children[q], dtype=np.int64)
            nests = np.asarray(struct.nest_children[q], dtype=np.int64)
            kids += [alts, J + nests]
            kpos.append(np.asarray(struct.alt_pos[q], dtype=np.int64))
            for pos in struct.nest_pos[q]:
                kpos.append(np.array([sum(len(x) for x in npos)], dtype=np.int64))
                npos.append(np.asarray(pos, dtype=np.int64))
        sizes = [len(k) for k in kids]
        self._kids = np.ascontiguousarray(np.concatenate(kids), dtype=np.int64)
        self._kid_off = np.ascontiguousarray(
            np.concatenate([[0], np.cumsum(sizes)[1::2]]), dtype=np.int64)
        self._kpos = np.ascontiguousarray(np.concatenate(kpos), dtype=np.int64)
        self._npos = np.ascontiguousarray(
            np.concatenate(npos) if npos else np.zeros(1), dtype=np.int64)
        loc = [np.asarray(x, dtype=np.int64) for x in struct.local_idx]
        self._loc = np.ascontiguousarray(np.concatenate(loc), dtype=np.int64)
        self._loc_off = np.ascontiguousarray(
            np.concatenate([[0], np.cumsum([len(x) for x in loc])]), dtype=np.int64)
        self._lpos = np.ascontiguousarray(
            [int(np.searchsorted(loc[q], J + q)) for q in range(M)] or [0], dtype=np.int64)
        self.L = Kd + J + S + M
        cc = chunk_cases or max(64, CHUNK_ELEMENTS // (J * max(Kd, 1)))
        self.chunk_cases = max(1, min(int(cc), max(n, 1)))
        self._work_size = int(lib.ck_nl_work_size(J, M, _addr(self._loc_off), self.chunk_cases))
        self._slots: list[tuple] = []

    def _slot(self, worker: int) -> tuple:
        """Per worker: its parameter buffers, workspace and output, and the call's arguments."""
        while len(self._slots) <= worker:
            Kd, J, S, M, L = self.Kd, self.J, self.S, self.M, self.L
            io = np.zeros(Kd + J + S + M + 1 + L + L * L)
            work = np.empty(self._work_size)
            b_d, b_a = io[:Kd], io[Kd:Kd + J]
            b_s, lam = io[Kd + J:Kd + J + S], io[Kd + J + S:Kd + J + S + M]
            out = io[Kd + J + S + M:]
            head = (_addr(self.columns), Kd, J, self.n, J * self.n, self.n)
            mid = (_addr(b_d), _addr(b_a), _addr(self.chosen), _addr(self._avail_t),
                   _addr(self._offset_t), _addr(self._weight), S, _addr(self._spec_alt),
                   _addr(self._spec_val), _addr(b_s), M, _addr(lam), _addr(self._parent),
                   _addr(self._alt_parent), _addr(self._kid_off), _addr(self._kids),
                   _addr(self._kpos), _addr(self._npos), _addr(self._loc_off),
                   _addr(self._loc), _addr(self._lpos))
            self._slots.append((b_d, b_a, b_s, lam, out, head, mid,
                                (self.chunk_cases, _addr(work), _addr(out)), work))
        return self._slots[worker]

    def run(self, beta_d: np.ndarray, alt_add: np.ndarray, beta_s: np.ndarray,
            lam: np.ndarray, order: int, first: int = 0, last: int | None = None,
            worker: int = 0) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Log-likelihood, score ``(L,)`` and Hessian ``(L, L)`` over cases
        ``first..last-1`` (up to ``order``), in the order of the Notes.

        ``beta_d`` are the stored columns' coefficients, ``alt_add`` the constants summed per
        alternative, ``beta_s`` the specific columns' coefficients, ``lam`` the nests'
        :math:`\\lambda` (all > 0).
        """
        b_d, b_a, b_s, lm, out, head, mid, tail, _ = self._slot(worker)
        b_d[:], b_a[:], b_s[:], lm[:] = beta_d, alt_add, beta_s, lam
        last = self.n if last is None else last
        rc = self._lib.ck_nl_pass(*head, int(first), int(last), *mid, int(order), *tail)
        if rc != 0:
            raise RuntimeError("the compiled nested logit pass refused the tree's size")
        L = self.L
        return (float(out[0]), None if order < 1 else out[1:1 + L].copy(),
                None if order < 2 else out[1 + L:].reshape(L, L).copy())
