"""Numerical core of nested logit (NL) and cross-nested logit (CNL) models.

All functions work on blocks of ``n`` cases with ``J`` alternatives and are vectorised over
cases; Python loops run only over nests / tree nodes.  Derivatives are exact (analytic) and are
taken in *utility space* (with respect to the utilities ``V``), with respect to the nest
parameters ``lam`` and, for the CNL, with respect to the allocations ``alpha``.

Conventions
-----------
``lam`` is the logsum coefficient (Train / Larch convention), absolute for deeper trees.  The
inclusive value of a nest is ``W_m = lam_m * log sum_{c in children(m)} exp(W_c / lam_m)`` with
``W_c = V_c`` for an alternative.  The root has ``lam = 1``.  Unavailable alternatives contribute
nothing; a nest without an available member drops out of the case.  Unavailable entries of
``log P`` are ``-inf`` and all derivative arrays are zero there.

Parameter ordering used internally for derivatives (and in the flattened Hessian) is
``theta = (V_0, ..., V_{J-1}, lam_0, ..., lam_{M-1})``.
"""

from __future__ import annotations

from choicekit.families.gev.cnl import cnl_derivatives, cnl_dproba_dv, cnl_log_proba, cnl_logsum
from choicekit.families.gev.common import CHUNK_ELEMS, CaseDerivatives, GevStructure
from choicekit.families.gev.nl import nl_derivatives, nl_dproba_dv, nl_log_proba, nl_logsum

__all__ = [
    "CaseDerivatives",
    "GevStructure",
    "CHUNK_ELEMS",
    "cnl_derivatives",
    "cnl_dproba_dv",
    "cnl_log_proba",
    "cnl_logsum",
    "nl_derivatives",
    "nl_dproba_dv",
    "nl_log_proba",
    "nl_logsum",
]
