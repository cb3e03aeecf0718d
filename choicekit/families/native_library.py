"""Loading a compiled pass (the MNL's, the nested logit's and the mixed logit's) with
:mod:`ctypes`: one check of its interface version and exported functions, so a stale or
foreign library is refused with a reason and the family estimates with NumPy instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import warnings
from collections.abc import Callable

__all__ = ["open_checked", "native_required", "load_pass", "switched_off"]

_i64 = ctypes.c_int64


def native_required() -> bool:
    """``CHOICEKIT_REQUIRE_NATIVE=1`` (CI): a missing or refused library is an error."""
    return os.environ.get("CHOICEKIT_REQUIRE_NATIVE", "").strip() == "1"


def open_checked(path: str, abi_symbol: str, abi_version: int, source: str,
                 declare: Callable[[ctypes.CDLL], None]
                 ) -> tuple[ctypes.CDLL | None, str | None]:
    """Load the library at ``path`` and check it: ``(library, None)``, or ``(None, what is
    wrong)``.

    ``abi_symbol`` returns the library's interface version, which must equal ``abi_version``;
    ``declare(lib)`` sets the argument and result types of the functions the caller uses (an
    ``AttributeError`` there means the library lacks one). ``source`` names the C file.
    """
    try:
        lib = ctypes.CDLL(path)
    except OSError as err:
        return None, f"cannot be loaded ({err})"
    try:
        fn = getattr(lib, abi_symbol)
    except AttributeError:
        return None, (f"was built from an older {source} (it has no {abi_symbol}; this "
                      f"choicekit needs version {abi_version})")
    fn.argtypes, fn.restype = [], _i64
    version = int(fn())
    if version != abi_version:
        return None, (f"has interface version {version}, but this choicekit needs version "
                      f"{abi_version}")
    try:
        declare(lib)
    except AttributeError as err:
        return None, f"lacks a function this choicekit calls ({err})"
    return lib, None


def switched_off() -> bool:
    """``CHOICEKIT_NATIVE=0`` (or false/no/off): estimation uses the NumPy kernels."""
    return os.environ.get("CHOICEKIT_NATIVE", "1").strip() in ("0", "false", "no", "off")


def load_pass(module: str, source: str, abi_symbol: str, abi_version: int,
              declare: Callable[[ctypes.CDLL], None], what: str,
              warning: type[Warning]) -> tuple[ctypes.CDLL | None, str | None]:
    """Find the ext-module ``module``, load and check it (:func:`open_checked`) and see that
    it is not older than its C ``source`` (an editable install edited since its build).

    Returns ``(library, None)`` or ``(None, what is wrong)``. A library that is not built is
    the documented optional case (no message). One that cannot be loaded, lacks a function or
    speaks another interface version is reported once with ``warning`` and not used; a stale
    one is used with a warning. With ``CHOICEKIT_REQUIRE_NATIVE=1`` every one of these is
    returned as a problem instead (the caller raises). ``what`` names the pass in messages.
    """
    spec = importlib.util.find_spec(module)
    path = spec.origin if spec is not None and spec.origin else None
    if path is None:
        return None, "is not built (no C compiler when choicekit was installed?)"
    lib, problem = open_checked(path, abi_symbol, abi_version, os.path.basename(source),
                                declare)
    rebuild = (f"Rebuild it by reinstalling choicekit (`pip install -e .` in an editable "
               f"checkout); until then the {what} uses its NumPy kernel, which gives the same "
               "results, more slowly.")
    if problem is not None:
        if not native_required():
            warnings.warn(f"choicekit's compiled {what} pass {path} {problem}. {rebuild}",
                          warning, stacklevel=4)
        return None, f"{path} {problem}"
    try:
        stale = os.path.getmtime(source) > os.path.getmtime(path)
    except OSError:  # no source beside the module (a wheel)
        stale = False
    if stale:
        message = (f"choicekit's compiled {what} pass {path} is older than its source "
                   f"{source}. Rebuild it with `pip install -e .`.")
        if native_required():
            return None, message
        warnings.warn(message, warning, stacklevel=4)
    return lib, None
