"""Lazily imported SciPy submodules.

``scipy.stats`` costs ~0.5 s to import, ``scipy.optimize`` ~0.1 s and ``scipy.linalg`` ~0.15 s:
together they tripled the start-up time of ``import choicekit`` (and of every short script and
CLI call), although a default fit needs none of them. Modules write
``from ._lazy import stats`` and use ``stats.norm.sf(...)`` as usual; the real module is
imported on first attribute access.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["stats", "optimize", "linalg", "special"]


class _LazyModule:
    """Stand-in for a module, importing it on first attribute access."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


stats: Any = _LazyModule("scipy.stats")
optimize: Any = _LazyModule("scipy.optimize")
linalg: Any = _LazyModule("scipy.linalg")
#: scipy.special alone (~0.25 s) where a distribution function is all that is needed (the
#: chi-square tail of the tests: ``special.chdtrc(df, x)`` is what ``stats.chi2.sf`` calls)
special: Any = _LazyModule("scipy.special")
