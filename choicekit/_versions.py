"""``ck.show_versions()``: what a bug report needs, and which likelihood pass is in use."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

import numpy as np
import pandas as pd

from choicekit._version import __version__
from choicekit.families.mnl import native
from choicekit.families.mnl.family import cores

__all__ = ["show_versions"]


def show_versions(as_dict: bool = False) -> dict[str, Any] | None:
    """Print (or return) the versions of choicekit and its dependencies, where choicekit was
    imported from, and the likelihood pass estimation uses (compiled or the NumPy kernel,
    and why).

    Parameters
    ----------
    as_dict : bool, default False
        Return the report as a dict instead of printing it.
    """
    info: dict[str, Any] = {
        "choicekit": __version__,
        "location": _package_dir(),
        "likelihood pass": native.pass_in_use(),
        "cores": cores(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        # from the installed metadata: importing SciPy here cost every `import choicekit`
        # ~20 ms (choicekit imports SciPy lazily, on first use)
        "scipy": _installed("scipy"),
        "pandas": pd.__version__,
    }
    for name in ("statsmodels", "matplotlib", "pyarrow"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "?")
        except ImportError:
            info[name] = None
    if as_dict:
        return info
    width = max(len(k) for k in info)
    print("\n".join(f"{k:<{width}} : {'-' if v is None else v}" for k, v in info.items()))
    return None


def _installed(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_dir() -> str:
    """The folder choicekit is imported from."""
    return os.path.dirname(os.path.abspath(__file__))
