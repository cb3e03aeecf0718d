"""Warnings that point at the user's line.

A fixed ``stacklevel`` is right for one call path only: the same DataWarning reached from
``MNL(...)`` and from ``res.hausman_mcfadden(...)`` (through a rebuilt model), or an
IdentificationWarning computed lazily by ``res.bse`` or ``res.summary()`` (through a
``cached_property``), pointed into choicekit's own files. :func:`warn_user` walks the stack to
the first frame outside the package (and outside ``functools``, whose ``cached_property``
runs our code), so that the warning names the line of user code that led to it.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings

__all__ = ["warn_user", "user_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_INTERNAL_FILES = {os.path.abspath(functools.__file__)}


def _internal(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE) or path in _INTERNAL_FILES


def user_stacklevel(extra: int = 0) -> int:
    """The ``stacklevel`` (for a ``warnings.warn`` called by the caller of this function)
    of the first frame outside choicekit."""
    frame = sys._getframe(2)  # the caller of our caller
    level = 2
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level + extra


def warn_user(message: str | Warning, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first line of user code on the stack."""
    frame = sys._getframe(1)
    level = 2  # 1 would be this function
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
