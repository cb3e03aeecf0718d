"""Pickling without caches: what a process boundary (``ProcessPoolExecutor``, joblib, Dask)
or ``copy.deepcopy`` carries of a model, an objective or a results object.

Values of :func:`functools.cached_property` (a materialised dense design, the model's family
and all-free objective, a results object's inverse Hessian...) are caches: they are rebuilt
on first use on the other side, so they are dropped rather than shipped (some are as large as
the design, and the MNL family's compiled pass is a ctypes handle that cannot be pickled at
all).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

__all__ = ["state_without_caches"]


def state_without_caches(obj: Any, **reset: Any) -> dict[str, Any]:
    """``obj.__dict__`` without its cached_property values, with ``reset`` entries replaced."""
    cls = type(obj)
    state = {k: v for k, v in obj.__dict__.items()
             if not isinstance(getattr(cls, k, None), cached_property)}
    state.update(reset)
    return state
