"""Loading a compiled pass (the MNL's and the mixed logit's) with :mod:`ctypes`: one check of
its interface version and exported functions, so a stale or foreign library is refused with a
reason and the family estimates with NumPy instead.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

__all__ = ["open_checked", "native_required"]

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
