"""Synthetic choice data with known parameters, for simulation studies.

:func:`make_choice_data` builds a long choice frame from scratch -- cases, alternatives,
attributes drawn from given distributions, random availability, an optional panel of repeated
choices per person -- and draws the choices from a multinomial logit with known parameters
through :meth:`choicekit.MNL.simulate` (so the utilities come from the same design code as
estimation). It returns the :class:`~choicekit.ChoiceData`, the frame, the true parameters and
the utility specification that generated them, ready to fit or to pass to
:func:`choicekit.recovery_study`.

Notes
-----
The generating model for case :math:`n` (person :math:`p(n)`) and alternative :math:`j` is

.. math::

    U_{nj} = \\mathrm{ASC}_j + \\sum_k \\beta_k x_{njk} + \\sum_m \\gamma_{mj} z_{p(n)m}
             + \\varepsilon_{nj},

with :math:`\\varepsilon_{nj}` i.i.d. Gumbel(0, ``scale``), the first alternative as reference
(:math:`\\mathrm{ASC}_1 = \\gamma_{m1} = 0`), alternative-varying attributes :math:`x` drawn
per case and alternative, and case-level attributes :math:`z` drawn once per person (per case
without a panel). The panel structure only groups cases (``ChoiceData.group``); the errors are
independent across a person's choices, so the plain MNL is the true model.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from choicekit._validation import check_int
from choicekit.data.choicedata import ChoiceData
from choicekit.exceptions import SpecificationError
from choicekit.models.base import ChoiceModel
from choicekit.models.mixed import RANDOM_KINDS, MixedLogit, MixedLogitWarning
from choicekit.models.mnl import MNL
from choicekit.models.nested import CrossNestedLogit, NestedLogit
from choicekit.simulation.choices import as_generator
from choicekit.spec.draws import Draw
from choicekit.spec.expressions import Beta, Var, exp
from choicekit.spec.nests import Nest

__all__ = ["SyntheticData", "make_choice_data", "DEFAULT_ATTRIBUTES", "DEFAULT_PARAMS"]

#: attributes of :func:`make_choice_data` when none are given
DEFAULT_ATTRIBUTES: dict[str, Any] = {"cost": ("uniform", 0.0, 3.0), "time": ("normal", 1.0, 0.5)}
#: their true coefficients
DEFAULT_PARAMS: dict[str, float] = {"cost": -1.0, "time": -0.5}

_DISTRIBUTIONS = ("normal", "uniform", "lognormal", "bernoulli")


@dataclass(frozen=True)
class SyntheticData:
    """A simulated choice dataset and the model that generated it.

    Attributes
    ----------
    data : ChoiceData
        Cases with simulated choices (group = person with a panel).
    frame : DataFrame
        The long table (``case``, ``alt``, ``person`` with a panel, ``avail``, attributes,
        case attributes, ``chosen``), one row per case and alternative; ``data`` equals
        ``ChoiceData.from_long(frame, case="case", alt="alt", choice="chosen",
        availability="avail", group="person")``.
    params : Series
        True parameter values, in model order.
    utilities : dict
        ``{alternative: expression}`` of the generating specification.
    scale : float
        Gumbel scale of the errors (the parameters identified by a fit are ``params / scale``).
    """

    data: ChoiceData
    frame: pd.DataFrame
    params: pd.Series
    utilities: dict[Hashable, Any]
    scale: float = 1.0
    nests: tuple[Nest, ...] | None = None
    random: dict[str, str] | None = None

    def model(self, **options: Any) -> ChoiceModel:
        """The generating specification on :attr:`data`: an :class:`~choicekit.MNL`, the
        nested / cross-nested logit of :attr:`nests`, or with :attr:`random` coefficients a
        :class:`~choicekit.MixedLogit` (panel when the data have persons; ``options`` such
        as ``n_draws`` go to it)."""
        return _model(self.data, self.utilities, self.nests, self.random, **options)


def _model(data: ChoiceData, utilities: dict, nests: tuple[Nest, ...] | None,
           random: dict[str, str] | None = None, **options: Any) -> ChoiceModel:
    if random:
        options.setdefault("n_draws", 200)
        options.setdefault("panel", data.group_array is not None)
        with warnings.catch_warnings():  # the draw-count advice is the fit's business
            warnings.simplefilter("ignore", MixedLogitWarning)
            return MixedLogit(data, utilities, **options)
    if not nests:
        return MNL(data, utilities)
    cross = any(n.allocations is not None for n in nests)
    return (CrossNestedLogit if cross else NestedLogit)(data, utilities, nests)


def _draw(spec: Any, gen: np.random.Generator, size: tuple[int, ...], what: str) -> np.ndarray:
    """Values from a distribution spec (tuple, scipy frozen distribution, callable, number)."""
    if isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool):
        return np.full(size, float(spec))
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        name, *args = spec
        try:
            if name == "normal":
                return gen.normal(*args, size=size)
            if name == "uniform":
                return gen.uniform(*args, size=size)
            if name == "lognormal":
                return gen.lognormal(*args, size=size)
            if name == "bernoulli":
                return (gen.random(size) < args[0]).astype(np.float64)
        except (TypeError, ValueError, IndexError) as err:
            raise SpecificationError(f"Distribution {spec!r} of {what} is malformed ({err}). "
                                     "E.g. ('normal', 0, 1), ('uniform', 0, 3), "
                                     "('lognormal', 0, 0.5), ('bernoulli', 0.3).") from None
        raise SpecificationError(f"Unknown distribution {name!r} for {what}; use one of "
                                 f"{list(_DISTRIBUTIONS)}, a scipy.stats frozen distribution, "
                                 "a callable (rng, size) -> array, or a number.")
    if hasattr(spec, "rvs"):
        return np.asarray(spec.rvs(size=size, random_state=gen), dtype=np.float64)
    if callable(spec):
        out = np.asarray(spec(gen, size), dtype=np.float64)
        if out.shape != size:
            raise SpecificationError(f"The callable for {what} returned shape {out.shape}; "
                                     f"expected {size}.")
        return out
    raise SpecificationError(f"Cannot draw {what} from {spec!r}: give a tuple such as "
                             "('normal', 0, 1), a scipy.stats frozen distribution, a callable "
                             "(rng, size) -> array, or a number.")


def _alternative_varying(spec: Any, gen: np.random.Generator, n: int, alts: list[Hashable],
                         name: str) -> np.ndarray:
    """(n, J) values; ``spec`` may be one distribution or ``{alternative: distribution}``."""
    if isinstance(spec, Mapping):
        unknown = [a for a in spec if a not in alts]
        missing = [a for a in alts if a not in spec]
        if unknown or missing:
            raise SpecificationError(
                f"Attribute {name!r} maps alternatives {list(spec)}; it needs exactly the "
                f"alternatives {alts} (unknown: {unknown}, missing: {missing})."
            )
        return np.column_stack([_draw(spec[a], gen, (n,), f"attribute {name!r} of "
                                                         f"alternative {a!r}") for a in alts])
    return _draw(spec, gen, (n, len(alts)), f"attribute {name!r}")


def make_choice_data(
    n_cases: int = 1000,
    alternatives: int | Sequence[Hashable] = 3,
    *,
    attributes: Mapping[str, Any] | None = None,
    params: Mapping[str, float] | None = None,
    case_attributes: Mapping[str, Any] | None = None,
    asc: bool = True,
    availability: float = 1.0,
    choices_per_person: int | None = None,
    scale: float = 1.0,
    nests: Sequence[Nest] | None = None,
    random: Mapping[str, str] | None = None,
    rng: Any = None,
) -> SyntheticData:
    """Build a choice dataset from scratch with choices drawn from a known logit.

    Parameters
    ----------
    n_cases : int, default 1000
        Number of choice situations.
    alternatives : int or sequence, default 3
        Number of alternatives (labelled ``1..J``) or their labels; the first is the
        reference for constants and case-attribute coefficients.
    attributes : mapping, optional
        ``{name: distribution}`` of alternative-varying attributes, each with one generic
        coefficient named ``name``. A distribution is a tuple (``("normal", loc, sd)``,
        ``("uniform", low, high)``, ``("lognormal", mean, sigma)``, ``("bernoulli", p)``), a
        scipy.stats frozen distribution, a callable ``(rng, size) -> array``, a number, or a
        mapping ``{alternative: distribution}`` for alternative-specific distributions.
        Default :data:`DEFAULT_ATTRIBUTES`.
    params : mapping, optional
        True values by parameter name: attribute names, ``"ASC_<alt>"`` for the constants and
        ``"<case attribute>:<alt>"`` for case-attribute coefficients. Defaults exist for the
        default attributes (:data:`DEFAULT_PARAMS`) and for constants (evenly spread from 0.5
        to -0.5); every other parameter needs a value.
    case_attributes : mapping, optional
        ``{name: distribution}`` of case-level (person-level with a panel) attributes with
        alternative-specific coefficients.
    asc : bool, default True
        Include alternative-specific constants.
    availability : float, default 1.0
        Probability that each alternative is available, independently; a case left with no
        alternative gets one at random.
    choices_per_person : int, optional
        Panel structure: consecutive cases are grouped into persons making this many choices
        (``person`` column, ``ChoiceData.group``); case attributes are drawn per person.
    scale : float, default 1.0
        Gumbel scale of the errors (MNL only).
    nests : sequence of Nest, optional
        A nested (members listed) or cross-nested (members mapped to allocations) logit truth:
        choices are then drawn from its correlated extreme-value errors. The nest parameters'
        true values come from ``params`` or else their Betas' values.
    random : mapping, optional
        A mixed logit truth: ``{attribute: "n" | "ln" | "u" | "t"}`` makes that attribute's
        coefficient random as in :meth:`MixedLogit.from_formula` (normal ``x + sd:x * z``,
        lognormal ``exp(x + sd:x * z)``, uniform or triangular on ``x -/+ sd:x``), drawn once
        per person with ``choices_per_person`` (a panel) or per case. Spreads ``sd:x`` default
        to half the mean's magnitude (normal, uniform, triangular); a lognormal's location
        ``x`` and ``sd:x`` need values in ``params``.
    rng : int, Generator, SeedSequence or None
        Seed; the same seed gives the same dataset.

    Returns
    -------
    SyntheticData

    Examples
    --------
    >>> import choicekit as ck
    >>> sim = ck.make_choice_data(500, 3, rng=0)
    >>> sim.params.round(2).to_dict()
    {'cost': -1.0, 'time': -0.5, 'ASC_2': 0.5, 'ASC_3': -0.5}
    >>> res = sim.model().fit()
    """
    check_int("n_cases", n_cases)
    if isinstance(alternatives, (int, np.integer)) and not isinstance(alternatives, bool):
        if alternatives < 2:
            raise SpecificationError(f"Need at least 2 alternatives. Got {alternatives}.")
        alts: list[Hashable] = list(range(1, int(alternatives) + 1))
    else:
        alts = list(alternatives)
        if len(alts) < 2 or len(set(alts)) != len(alts):
            raise SpecificationError(f"`alternatives` must be at least 2 distinct labels. Got "
                                     f"{alts}.")
    if not (isinstance(availability, (int, float)) and 0 < availability <= 1):
        raise SpecificationError(f"`availability` must be a probability in (0, 1]. Got "
                                 f"{availability!r}.")
    check_int("choices_per_person", choices_per_person, allow_none=True)
    default_attrs = attributes is None
    attrs = dict(DEFAULT_ATTRIBUTES if default_attrs else attributes)
    case_attrs = dict(case_attributes or {})
    clash = set(attrs) & set(case_attrs)
    reserved = {"case", "alt", "person", "avail", "chosen"}
    bad = (set(attrs) | set(case_attrs)) & reserved
    if clash or bad:
        raise SpecificationError(f"Attribute names must be distinct and not one of "
                                 f"{sorted(reserved)}; got clashes {sorted(clash | bad)}.")
    gen = as_generator(rng)
    n, J = int(n_cases), len(alts)

    # ---- parameters and utilities
    values: dict[str, float] = {}
    if default_attrs:
        values.update(DEFAULT_PARAMS)
    if asc:
        values.update({f"ASC_{a}": float(v)
                       for a, v in zip(alts[1:], np.linspace(0.5, -0.5, J - 1))})
    given = dict(params or {})
    values.update({k: float(v) for k, v in given.items()})
    names = list(attrs)
    names += [f"ASC_{a}" for a in alts[1:]] if asc else []
    names += [f"{m}:{a}" for m in case_attrs for a in alts[1:]]
    nests = None if nests is None else ((nests,) if isinstance(nests, Nest) else tuple(nests))
    if nests and scale != 1.0:
        raise SpecificationError("`scale` applies to the MNL's iid Gumbel errors; a nested "
                                 "logit truth draws its own errors (leave scale=1).")
    nest_params = {} if not nests else {
        b.name: float(b.value) for n in nests for sub in n.walk()
        for b in ([sub.parameter.beta] if sub.parameter.beta is not None else [])
        + [a.beta for a in (sub.allocations or {}).values() if a.beta is not None]}
    values.update({k: v for k, v in nest_params.items() if k not in given})
    names += list(nest_params)
    rand = dict(random or {})
    if rand and (nests or scale != 1.0):
        raise SpecificationError("`random` (a mixed logit truth) does not combine with `nests` "
                                 "or `scale`.")
    for k, kind in rand.items():
        if kind not in RANDOM_KINDS:
            raise SpecificationError(f"random[{k!r}] must be one of {list(RANDOM_KINDS)}. Got "
                                     f"{kind!r} instead.")
        if k not in attrs:
            raise SpecificationError(f"random names {k!r}, which is not an attribute (the "
                                     f"attributes are {list(attrs)}).")
        names.append(f"sd:{k}")
        if kind != "ln" and f"sd:{k}" not in given and k in values:
            values[f"sd:{k}"] = 0.5 * abs(values[k])
        if kind == "ln" and k not in given:
            values.pop(k, None)  # the default is a coefficient, not a log-location
    unknown = [k for k in given if k not in names]
    if unknown:
        raise SpecificationError(f"`params` names unknown parameters {unknown}; the model's "
                                 f"parameters are {names}.")
    missing = [k for k in names if k not in values]
    if missing:
        raise SpecificationError(f"True values are missing for parameters {missing}; give them "
                                 "in `params`.")
    def coefficient(k: str) -> Any:
        kind = rand.get(k)
        mean, sd = Beta(k), Beta(f"sd:{k}")
        if kind is None:
            return mean
        if kind == "ln":
            return exp(mean + sd * Draw(k))
        dist = {"n": "normal", "u": "uniform_sym", "t": "triangular"}[kind]
        return mean + sd * Draw(k, dist)

    utilities: dict[Hashable, Any] = {}
    for j, a in enumerate(alts):
        terms = [coefficient(k) * Var(k) for k in attrs]
        if j > 0:
            if asc:
                terms.insert(0, Beta(f"ASC_{a}"))
            terms += [Beta(f"{m}:{a}") * Var(m) for m in case_attrs]
        utilities[a] = sum(terms[1:], terms[0])

    # ---- the frame (vectorized: arrays of shape (n, J) raveled case-major)
    if choices_per_person is None:
        person = None
        n_units = n
    else:
        person = np.arange(n) // int(choices_per_person)
        n_units = int(person[-1]) + 1
    cols: dict[str, np.ndarray] = {
        "case": np.repeat(np.arange(n), J),
        "alt": np.tile(np.asarray(alts, dtype=object), n),
    }
    if person is not None:
        cols["person"] = np.repeat(person, J)
    avail = gen.random((n, J)) < availability if availability < 1 else np.ones((n, J), bool)
    none = ~avail.any(axis=1)
    if none.any():
        avail[np.flatnonzero(none), gen.integers(0, J, int(none.sum()))] = True
    cols["avail"] = avail.ravel().astype(np.int8)
    for k, spec in attrs.items():
        cols[k] = _alternative_varying(spec, gen, n, alts, k).ravel()
    for m, spec in case_attrs.items():
        per_unit = _draw(spec, gen, (n_units,), f"case attribute {m!r}")
        per_case = per_unit if person is None else per_unit[person]
        cols[m] = np.repeat(per_case, J)
    frame = pd.DataFrame(cols)
    if all(isinstance(a, (int, np.integer)) for a in alts):
        frame["alt"] = frame["alt"].astype(np.int64)
    base = ChoiceData.from_long(frame, case="case", alt="alt", availability="avail",
                                group=None if person is None else "person")

    # ---- choices, through the model's own design and simulate()
    model = _model(base, utilities, nests, rand or None, n_draws=1)
    truth = pd.Series([values[k] for k in model.param_names], index=model.param_names,
                      name="true")
    data = (model.simulate(truth, rng=gen) if nests or rand
            else model.simulate(truth, rng=gen, scale=scale))
    chosen = np.zeros((n, J), dtype=np.int8)
    # the data order alternatives as ChoiceData sorts them; the frame is in the given order
    position = np.array([alts.index(a) for a in data.alternatives], dtype=np.intp)
    chosen[np.arange(n), position[data.chosen_array]] = 1
    frame["chosen"] = chosen.ravel()
    return SyntheticData(data=data, frame=frame, params=truth, utilities=utilities,
                         scale=float(scale), nests=nests, random=rand or None)
