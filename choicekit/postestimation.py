"""Post-estimation on fitted results: prediction, shares, elasticities, WTP, scenarios, tests.

:class:`PostEstimationMixin` is mixed into :class:`~choicekit.results.MNLResults`; the numbers
are computed by plain functions in this module (and its siblings), the methods only orchestrate.
"""

from __future__ import annotations

__all__ = ["PostEstimationMixin"]


class PostEstimationMixin:
    """Post-estimation methods of :class:`~choicekit.results.MNLResults`."""
