"""ChoiceData: validated, immutable choice data built once from a pandas frame.

A :class:`ChoiceData` holds, for ``n_cases`` choice situations and ``n_alts`` alternatives:

* ``cases`` (the user's case ids) and ``alternatives`` (the user's labels, any hashable);
* an availability matrix ``(n_cases, n_alts)``;
* the chosen alternative of each case (or none, for data used only for prediction);
* optional case weights and a group id (person, for panels and clustering);
* variables: *alternative-varying* ones, an ``(n_cases, n_alts)`` array each (the long table's
  columns, or wide columns gathered by ``variables=``), and *case-level* ones (the wide table's
  columns), an ``(n_cases,)`` array each.

Everything is checked once here; the estimation code downstream trusts it. The checks do not
stop at the first problem: every kind of problem found (missing ids, duplicate rows, choice
codes outside the declared alternatives, cases with no or several chosen rows, chosen
alternatives that are unavailable, cases with no available alternative, bad weights or groups)
is listed in one :class:`~choicekit.exceptions.ChoiceDataError`, with the count and the first
case ids of each. ``invalid="drop"`` drops the affected cases instead, with a
:class:`~choicekit.exceptions.DataWarning` giving the same listing; ``data.dropped_cases``
names them. Values of the variables are checked later, when a utility uses them (see
:func:`choicekit.design.build.build_design` and ``MNL(missing=...)``).

The user's frame is never mutated: long columns are read into arrays lazily, from a private
view of the frame.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from choicekit._validation import (
    check_option,
    first_cases,
    numeric_column,
    show_values,
    suggest,
    to_float,
)
from choicekit.data.changes import restrict_alternatives, with_variables
from choicekit.data.layouts import INVALID_POLICIES, WideVariable, read_long, read_wide
from choicekit.data.sampling import ChoiceSets, sample_alternatives, sparse_choice_sets
from choicekit.exceptions import ChoiceDataError, SpecificationError

__all__ = ["ChoiceData", "INVALID_POLICIES", "WEIGHT_TYPES"]

#: What case weights mean (see :meth:`ChoiceData.from_long`).
WEIGHT_TYPES = ("sampling", "frequency")


class ChoiceData:
    """Validated choice data: cases, alternatives, availability, choices, weights, groups.

    Build it with :meth:`from_long` or :meth:`from_wide`; it is immutable afterwards.

    Attributes
    ----------
    cases : pandas.Index
        Case ids, in the order of the input.
    alternatives : list
        Alternative labels.
    n_cases, n_alts : int
        Numbers of cases and alternatives.
    dropped_cases : pandas.Index
        Cases dropped by ``invalid="drop"`` (empty otherwise).
    """

    __slots__ = (
        "_cases", "_alts", "_avail", "_chosen", "_weight", "_group", "_group_labels",
        "_long_frame", "_long_pos", "_long_cache", "_case_frame", "_layout", "_meta", "_sets",
        "_n_avail", "_case_cache",
    )

    def __init__(self, *, cases: pd.Index, alternatives: Sequence[Hashable],
                 avail: np.ndarray, chosen: np.ndarray | None, weight: np.ndarray | None,
                 group: np.ndarray | None, group_labels: pd.Index | None,
                 long_frame: pd.DataFrame | None, long_pos: np.ndarray | None,
                 long_cache: dict[str, np.ndarray], case_frame: pd.DataFrame | None,
                 layout: str, meta: Mapping[str, Any] | None = None,
                 sets: ChoiceSets | None = None) -> None:
        self._cases = cases
        self._alts = list(alternatives)
        self._avail = avail
        self._avail.setflags(write=False)
        self._chosen = chosen
        if chosen is not None:
            chosen.setflags(write=False)
        self._weight = weight
        self._group = group
        self._group_labels = group_labels
        self._long_frame = long_frame
        self._long_pos = long_pos
        self._long_cache = long_cache
        self._case_frame = case_frame
        self._layout = layout
        self._meta = dict(meta or {})
        self._sets = sets
        self._n_avail: np.ndarray | None = None  # available alternatives per case, on use
        # case-level variables as float64, converted on first use (every model built on the
        # data reads them; the frame is this object's own copy)
        self._case_cache: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        case: str,
        alt: str,
        choice: str | None = None,
        availability: str | None = None,
        weight: str | None = None,
        group: str | None = None,
        *,
        invalid: Literal["raise", "drop"] = "raise",
        weight_type: Literal["sampling", "frequency"] | None = None,
    ) -> ChoiceData:
        """Choice data from a long frame: one row per case and alternative.

        Parameters
        ----------
        df : pandas.DataFrame
            The long table. Rows may come in any order; a case-alternative pair without a row
            is unavailable (unbalanced choice sets).
        case : str
            Column of case (choice situation) ids.
        alt : str
            Column of alternative labels (any hashable: ints, strings, tuples...; 0 is a
            valid label).
        choice : str, optional
            0/1 column marking the chosen row; exactly one chosen available row per case.
            Omit it for data used only for prediction.
        availability : str, optional
            0/1 column; rows with 0 are unavailable. Default: every present row is available.
        weight : str, optional
            Column of case weights (constant within a case, finite, non-negative).
        group : str, optional
            Column of group ids (e.g. person), constant within a case; used for panels and
            cluster-robust covariances.
        invalid : {"raise", "drop"}, default "raise"
            What to do with invalid cases (see Raises): ``"raise"`` one error listing every
            kind of problem; ``"drop"`` drop the affected cases with a
            :class:`~choicekit.exceptions.DataWarning` giving the same listing.
        weight_type : {"sampling", "frequency"}, optional
            What the weights mean. ``"sampling"``: sampling (probability) weights, e.g. the
            population-to-sample share ratios of a choice-based sample (WESML, Manski and
            Lerman 1977), like Stata's ``pweight``: fits default to the robust (sandwich)
            covariance, and rescaling the weights changes no standard error.
            ``"frequency"``: each case stands for ``w`` identical cases (Stata's ``fweight``,
            statsmodels' ``freq_weights``): the fit equals the fit on the replicated rows,
            standard errors included. Default: ``"frequency"`` when every weight is an
            integer, ``"sampling"`` otherwise. See ``data.weight_type``.

        Returns
        -------
        ChoiceData

        Raises
        ------
        ChoiceDataError
            Listing, with counts and the first case ids of each: rows without a case id or
            alternative, duplicate case-alternative rows, availability or choice values other
            than 0/1, cases with no or several chosen rows, chosen alternatives that are
            unavailable, cases with no available alternative, and weights or group ids that
            are missing, invalid or not constant within a case.

        Notes
        -----
        All other columns are alternative-varying variables that a ``Var`` can name. A case
        whose only available alternative is the chosen one is kept: it adds exactly zero to
        the log-likelihood and its derivatives; estimation warns about such cases.
        """
        out = cls(**read_long(df, case, alt, choice, availability, weight, group, invalid))
        return out._with_resolved_weight_type(weight_type)

    @classmethod
    def from_wide(
        cls,
        df: pd.DataFrame,
        choice: str | None,
        alternatives: Mapping[Any, Hashable],
        availability: Mapping[Hashable, str] | None = None,
        variables: Mapping[str, Mapping[Hashable, str]] | None = None,
        weight: str | None = None,
        group: str | None = None,
        case: str | None = None,
        *,
        invalid: Literal["raise", "drop"] = "raise",
        weight_type: Literal["sampling", "frequency"] | None = None,
    ) -> ChoiceData:
        """Choice data from a wide frame: one row per case.

        Parameters
        ----------
        df : pandas.DataFrame
            The wide table.
        choice : str or None
            Column holding the code of the chosen alternative (None: no choices, prediction
            only).
        alternatives : mapping
            ``{code in the choice column: alternative label}``, in the order alternatives
            should appear. Codes and labels may be any hashable (0 included).
        availability : mapping, optional
            ``{alternative label: 0/1 column}``; an alternative left out is always available.
        variables : mapping, optional
            ``{variable name: {alternative label: column}}``: alternative-varying variables
            gathered from wide columns; an alternative left out of a mapping gets 0.
        weight, group : str, optional
            Columns of case weights and group ids.
        case : str, optional
            Column of case ids; by default the frame's index (if unique) gives the ids.
        invalid : {"raise", "drop"}, default "raise"
            What to do with invalid cases: ``"raise"`` one error listing every kind of
            problem; ``"drop"`` drop them with a :class:`~choicekit.exceptions.DataWarning`.
        weight_type : {"sampling", "frequency"}, optional
            What the weights mean; see :meth:`from_long`. Default: ``"frequency"`` when every
            weight is an integer, ``"sampling"`` otherwise.

        Returns
        -------
        ChoiceData

        Raises
        ------
        ChoiceDataError
            Listing, with counts and the first case ids of each: missing or repeated case ids,
            choice codes that are not declared alternatives (missing codes included),
            availability values other than 0/1, chosen alternatives that are unavailable,
            cases with no available alternative, and missing or invalid weights and groups.

        Notes
        -----
        Every column of ``df`` stays available as a case-level variable, so utilities can use
        ``Var("TRAIN_TT")`` directly, in the Biogeme style.
        """
        out = cls(**read_wide(df, choice, alternatives, availability, variables, weight, group,
                              case, invalid))
        return out._with_resolved_weight_type(weight_type)

    @classmethod
    def from_dask(cls, ddf: Any, layout: Literal["wide", "long"] = "wide", *,
                  client: Any = None, shuffle: bool = False,
                  weight_type: Literal["sampling", "frequency"] | None = None,
                  **kwargs: Any) -> ChoiceData:
        """Choice data kept on a Dask cluster, partition by partition (needs the
        ``distributed`` extra: ``pip install "choicekit[distributed]"``).

        Parameters
        ----------
        ddf : dask.dataframe.DataFrame
            The table, e.g. ``dask.dataframe.read_parquet(path)``; one row per case
            (``layout="wide"``) or per case and alternative (``"long"``).
        layout : {"wide", "long"}, default "wide"
        client : distributed.Client, optional
            Default: the current client.
        shuffle : bool, default False
            Hash-shuffle the rows by ``case`` first, so that every case lies whole in one
            partition (needed when rows of a case are spread over partitions; without it such
            data are refused, naming the cases and partitions).
        weight_type : {"sampling", "frequency"}, optional
            As in :meth:`from_long`; inferred over all partitions when omitted.
        **kwargs
            The keywords of :meth:`from_wide` (``choice``, ``alternatives``,
            ``availability``, ``variables``, ``weight``, ``group``, ``case``, ``invalid``)
            or of :meth:`from_long` (``case``, ``alt``, ``choice``, ``availability``,
            ``weight``, ``group``, ``invalid``).

        Returns
        -------
        DaskChoiceData
            A :class:`ChoiceData` whose partitions were validated by tasks on the workers and
            are kept there (:mod:`choicekit.data.dask`). ``ck.MNL(data, utilities).fit()``
            fits on the cluster and returns the usual results.

        Raises
        ------
        ChoiceDataError
            Listing every partition with invalid data (the in-memory checks, with the case
            ids), cases split over partitions, or alternatives that differ.
        """
        from choicekit.data.dask import from_dask

        return from_dask(ddf, layout, client=client, shuffle=shuffle, weight_type=weight_type,
                         **kwargs)

    def _with_resolved_weight_type(self, weight_type: str | None) -> ChoiceData:
        """Store the weights' meaning given by the user (else it is inferred on use)."""
        if weight_type is None:
            return self
        check_option("weight_type", weight_type, WEIGHT_TYPES, ChoiceDataError)
        if self._weight is None:
            raise ChoiceDataError(
                f"`weight_type={weight_type!r}` was given without weights; pass the weight "
                "column as `weight=`, or drop `weight_type`.")
        self._meta["weight_type"] = weight_type
        return self

    # ------------------------------------------------------------------ public view
    @property
    def alternatives(self) -> list[Hashable]:
        """Alternative labels, in model order."""
        return list(self._alts)

    @property
    def cases(self) -> pd.Index:
        """Case ids."""
        return self._cases

    @property
    def n_cases(self) -> int:
        """Number of cases (choice situations)."""
        return len(self._cases)

    @property
    def n_alts(self) -> int:
        """Number of alternatives."""
        return len(self._alts)

    @property
    def layout(self) -> str:
        """``"long"`` or ``"wide"``: the layout the data came from."""
        return self._layout

    @property
    def dropped_cases(self) -> pd.Index:
        """Cases dropped by ``invalid="drop"`` when the data were built (empty otherwise)."""
        return self._meta.get("dropped_cases", pd.Index([]))

    @property
    def has_choice(self) -> bool:
        """Whether the data carry observed choices."""
        return self._chosen is not None

    @property
    def chosen(self) -> pd.Series | None:
        """Chosen alternative label per case (index: case ids), or None without choices."""
        if self._chosen is None:
            return None
        labels = np.empty(len(self._alts), dtype=object)
        labels[:] = self._alts
        return pd.Series(labels[self._chosen], index=self._cases, name="chosen")

    @property
    def availability(self) -> pd.DataFrame:
        """Availability as a boolean frame (cases x alternatives)."""
        return pd.DataFrame(self._avail, index=self._cases, columns=self._alts)

    @property
    def weight(self) -> pd.Series | None:
        """Case weights, or None."""
        return None if self._weight is None else pd.Series(self._weight, index=self._cases,
                                                            name="weight")

    @property
    def weight_type(self) -> str | None:
        """What the weights mean: ``"sampling"``, ``"frequency"``, or None without weights.

        Given as ``weight_type=`` when the data were built, or inferred: ``"frequency"``
        when every weight is an integer, ``"sampling"`` otherwise.
        """
        if self._weight is None:
            return None
        given = self._meta.get("weight_type")
        if given is not None:
            return given
        return "frequency" if np.all(self._weight == np.round(self._weight)) else "sampling"

    @property
    def weight_type_inferred(self) -> bool:
        """Whether :attr:`weight_type` was inferred from the values (not given)."""
        return self._weight is not None and self._meta.get("weight_type") is None

    def with_weight_type(self, weight_type: Literal["sampling", "frequency"]) -> ChoiceData:
        """The same data with the weights read as ``"sampling"`` or ``"frequency"`` weights."""
        check_option("weight_type", weight_type, WEIGHT_TYPES, ChoiceDataError)
        if self._weight is None:
            raise ChoiceDataError("These data have no weights; build them with `weight=` to "
                                  "give weights a meaning.")
        return self._replace(meta={**self._meta, "weight_type": weight_type})

    @property
    def group(self) -> pd.Series | None:
        """Group id per case, or None."""
        if self._group is None:
            return None
        return pd.Series(np.asarray(self._group_labels)[self._group], index=self._cases,
                         name="group")

    @property
    def variables(self) -> list[str]:
        """Names a ``Var`` can refer to: alternative-varying first, then case-level."""
        names = list(self._long_cache)
        if self._long_frame is not None:
            names += [str(c) for c in self._long_frame.columns if c not in self._long_cache]
        if self._case_frame is not None:
            names += [str(c) for c in self._case_frame.columns if c not in names]
        return names

    def __repr__(self) -> str:
        extra = []
        if self._weight is not None:
            extra.append(f"{self.weight_type} weights")
        if self._group is not None:
            extra.append(f"{len(self._group_labels)} groups")
        tail = (", " + ", ".join(extra)) if extra else ""
        if self.is_sampled:
            extra.append(f"sampled: {self._sets.alt.shape[1]} per case, {self._sets.method}")
            tail = ", " + ", ".join(extra)
        alts = self._alts if self.n_alts <= 8 else (
            ", ".join(map(repr, self._alts[:3])) + ", ..., " + ", ".join(map(repr,
                                                                           self._alts[-2:])))
        shown = f"{alts}" if self.n_alts <= 8 else f"[{alts}]"
        return (f"ChoiceData({self.n_cases} cases, {self.n_alts} alternatives "
                f"{shown}, {self._layout}{tail})")

    # ------------------------------------------------------------------ variable lookup
    def has_variable(self, name: str) -> bool:
        """Whether ``name`` is an alternative-varying or case-level variable."""
        return isinstance(name, str) and (name in self._long_cache
                                          or _key(self._long_frame, name) is not None
                                          or _key(self._case_frame, name) is not None)

    def variable(self, name: str) -> np.ndarray:
        """Values of a variable: ``(n_cases, n_alts)`` if alternative-varying, else ``(n_cases,)``.

        Alternative-varying values of unavailable (missing) rows are NaN in long data.
        Entries that are present but not numbers (e.g. ``"n/a"`` in a column of numbers) are
        NaN here; :meth:`nonnumeric` locates them for error messages.

        Raises
        ------
        SpecificationError
            If the variable does not exist or holds no number at all (a text column).
        """
        src = self._source(name)
        return src.array() if isinstance(src, WideVariable) else src

    def _source(self, name: str) -> np.ndarray | WideVariable:
        """A variable as held: an ``(n_cases, n_alts)`` array, a :class:`WideVariable`
        (wide data: the frame's columns per alternative, not stacked) or a case-level
        ``(n_cases,)`` array. The design builder reads it with :func:`alt_values`."""
        if not isinstance(name, str):
            raise SpecificationError(f"A variable name must be a str. Got {name!r}.")
        if name in self._long_cache:
            return self._long_cache[name]
        key = _key(self._long_frame, name)
        if key is not None:
            arr = np.full(self.n_cases * self.n_alts, np.nan)
            arr[self._long_pos] = _numeric(self._long_frame[key], name)
            arr = arr.reshape(self.n_cases, self.n_alts)
            arr.setflags(write=False)
            self._long_cache[name] = arr
            return arr
        if name in self._case_cache:
            return self._case_cache[name]
        key = _key(self._case_frame, name)
        if key is not None:
            arr = _numeric(self._case_frame[key], name)
            arr.setflags(write=False)
            self._case_cache[name] = arr
            return arr
        raise self._unknown(name)

    def _unknown(self, name: str, what: str = "Variable") -> SpecificationError:
        """The error for a ``name`` that is no variable: close matches and the variables at
        hand; ``what`` starts the message (e.g. ``"Formula variable"``)."""
        names = self.variables
        return SpecificationError(
            f"{what} {name!r} is not in the data.{suggest(name, names)} "
            f"Available variables: {', '.join(map(repr, names[:30]))}"
            + (", ..." if len(names) > 30 else "") + "."
        )

    def nonnumeric(self, name: str) -> tuple[np.ndarray, str] | None:
        """Where a variable holds entries that are not numbers, and examples of them.

        Returns
        -------
        (mask, examples) or None
            ``mask`` has the shape of :meth:`variable` (True at non-numeric entries) and
            ``examples`` shows the first few offending values; None when every entry is a
            number or missing, or when the source column is no longer at hand (subsets made
            by :meth:`take` keep only the converted values).
        """
        spec = self._meta.get("variables", {})
        if name in self._long_cache and name in spec and self._case_frame is not None:
            mask = np.zeros((self.n_cases, self.n_alts), dtype=bool)
            vals: list[Any] = []
            for j, a in enumerate(self._alts):
                if a in spec[name]:
                    col = self._case_frame[spec[name][a]]
                    m = to_float(col)[1]
                    mask[:, j] = m
                    vals += list(col[m][:5])
            return (mask, show_values(vals)) if mask.any() else None
        key = _key(self._long_frame, name)
        if key is not None:
            col = self._long_frame[key]
            m = to_float(col)[1]
            if not m.any():
                return None
            mask = np.zeros(self.n_cases * self.n_alts, dtype=bool)
            mask[self._long_pos] = m
            return mask.reshape(self.n_cases, self.n_alts), show_values(col[m])
        if name in self._long_cache:
            return None
        key = _key(self._case_frame, name)
        if key is not None:
            col = self._case_frame[key]
            m = to_float(col)[1]
            return (m, show_values(col[m])) if m.any() else None
        return None

    # ------------------------------------------------------------------ derived data
    def _replace(self, **changes: Any) -> ChoiceData:
        fields = {
            "cases": self._cases, "alternatives": self._alts, "avail": self._avail,
            "chosen": self._chosen, "weight": self._weight, "group": self._group,
            "group_labels": self._group_labels, "long_frame": self._long_frame,
            "long_pos": self._long_pos, "long_cache": self._long_cache,
            "case_frame": self._case_frame, "layout": self._layout, "meta": self._meta,
            "sets": self._sets,
        }
        fields.update(changes)
        return ChoiceData(**fields)

    def with_chosen(self, chosen: np.ndarray) -> ChoiceData:
        """The same data with other choices (an index into ``alternatives`` per case).

        Used by simulation: everything else (variables, availability, weights, groups) is
        shared, not copied.
        """
        chosen = np.asarray(chosen, dtype=np.intp)
        if chosen.shape != (self.n_cases,):
            raise ChoiceDataError(f"`chosen` must have shape ({self.n_cases},); got "
                                  f"{chosen.shape}.")
        if ((chosen < 0) | (chosen >= self.n_alts)).any():
            raise ChoiceDataError("`chosen` holds indices outside the alternatives.")
        bad = ~self._avail[np.arange(self.n_cases), chosen]
        if bad.any():
            raise ChoiceDataError(
                f"`chosen` picks an unavailable alternative in {first_cases(self._cases[bad])}."
            )
        return self._replace(chosen=chosen.copy())

    def take(self, index: np.ndarray) -> ChoiceData:
        """A subset (or resample, with repeats) of cases by position."""
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self.n_cases,):
                raise ChoiceDataError(f"A boolean case mask must have {self.n_cases} entries; "
                                      f"got shape {index.shape}.")
            index = np.flatnonzero(index)
        if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
            raise ChoiceDataError("`index` must be a 1-d array of case positions (ints) or a "
                                  f"boolean mask. Got dtype {index.dtype}, shape {index.shape}.")
        index = index.astype(np.intp)
        out_of_range = (index < -self.n_cases) | (index >= self.n_cases)
        if out_of_range.any():
            raise ChoiceDataError(
                f"Case positions {index[out_of_range][:5].tolist()} are out of range for "
                f"{self.n_cases} cases (positions run from 0 to {self.n_cases - 1})."
            )
        long_cache = {k: v.take(index) if isinstance(v, WideVariable) else v[index]
                      for k, v in self._long_cache.items()}
        if self._long_frame is not None:
            # materialise the remaining long columns for the subset (numeric ones only)
            for c in self._long_frame.columns:
                if c not in long_cache and isinstance(c, str):
                    try:
                        long_cache[c] = self.variable(c)[index]
                    except SpecificationError:  # text columns cannot be utility variables
                        continue
        for v in long_cache.values():
            if isinstance(v, np.ndarray):
                v.setflags(write=False)
        case_frame = None if self._case_frame is None else self._case_frame.iloc[index]
        cases = self._cases[index]
        if not cases.is_unique:  # a bootstrap resample: give the repeats new ids
            cases = pd.RangeIndex(len(index), name=self._cases.name)
        return self._replace(
            cases=cases, avail=self._avail[index],
            chosen=None if self._chosen is None else self._chosen[index],
            weight=None if self._weight is None else self._weight[index],
            group=None if self._group is None else self._group[index],
            long_frame=None, long_pos=None, long_cache=long_cache,
            case_frame=case_frame, sets=None if self._sets is None else self._sets.take(index),
        )

    # ------------------------------------------------------------------ sampled choice sets
    def sample_alternatives(self, n: int, *, rng: Any = None,
                            weights: Any = None) -> ChoiceData:
        """Reduce every case's choice set to the chosen alternative plus a sample of others.

        For large choice sets (destinations, routes, dwellings): the logit estimated on the
        sampled sets, with McFadden's correction added to the utilities, is consistent for the
        parameters of the full-set logit.

        Parameters
        ----------
        n : int
            Alternatives per sampled set, the chosen one included (at least 2). A case with
            fewer available alternatives keeps them all.
        rng : int, numpy.random.Generator, SeedSequence or None
            Seed or generator (``np.random.default_rng(rng)``).
        weights : str, mapping, Series or array, optional
            Importance-sampling weights: an alternative-varying variable (e.g. ``"size"``), a
            mapping or Series ``{alternative: weight}``, or an array ``(n_alts,)`` or
            ``(n_cases, n_alts)``; finite and positive for every available alternative.
            Omitted: uniform sampling.

        Returns
        -------
        ChoiceData
            The same cases, alternatives, variables, weights and groups; the availability is
            the sampled set. The correction :math:`\\ln(k_j / q_j)` is carried as a
            parameter-free offset that every model built on these data adds to the utilities
            (see Notes), and the design is laid out per case over the ``n`` sampled slots, so a
            fit costs what a model with ``n`` alternatives costs.

        Notes
        -----
        ``weights=None``: the other ``n - 1`` alternatives are drawn uniformly without
        replacement from the available ones; the correction is then the same for every
        alternative of a case and cancels (McFadden's uniform conditioning property).
        With ``weights``: ``n - 1`` draws with replacement, alternative :math:`j` with
        probability :math:`q_j \\propto w_j` over the available ones, plus the chosen; the set
        is the distinct alternatives (possibly fewer than ``n``), :math:`k_j` counts the
        draws of :math:`j` (the chosen counted once more) and :math:`\\ln(k_j/q_j)` is added
        to :math:`V_j` (McFadden 1978; Ben-Akiva & Lerman 1985, ch. 9; Train 2009, sec.
        3.7.1). The derivation is in :mod:`choicekit.data.sampling`.

        Predictions on sampled data (``predict_proba``, ``predicted_shares``) are the
        probabilities within each case's sampled set, corrections included (0 for
        alternatives outside it): what the estimator fits, not full-set predictions. For
        those, predict on the full data (``res.predict_proba(full_data)``).

        Alternative-specific constants for each of many alternatives are rarely estimated on
        sampled sets; use generic coefficients (``| 0`` in a formula drops the constants).
        They do work, at a cost of ``n_cases * n`` values per constant.

        Examples
        --------
        >>> sampled = data.sample_alternatives(20, rng=0, weights="size")  # doctest: +SKIP
        >>> ck.MNL.from_formula("chosen ~ dist + log_size | 0", sampled).fit()  # doctest: +SKIP
        """

        return sample_alternatives(self, n, rng=rng, weights=weights)

    def with_variables(self, values: Mapping[str, Any]) -> ChoiceData:
        """The same data with some variables replaced or added
        (:func:`choicekit.data.changes.with_variables`)."""
        return with_variables(self, values)

    def restrict_alternatives(self, alternatives: Sequence[Hashable]) -> ChoiceData:
        """Data on a subset of alternatives
        (:func:`choicekit.data.changes.restrict_alternatives`)."""
        return restrict_alternatives(self, alternatives)

    @property
    def is_sampled(self) -> bool:
        """Whether the choice sets are a sample of alternatives (:meth:`sample_alternatives`)."""
        return self._sets is not None and self._sets.method != "sparse"

    @property
    def sampled_sets(self) -> pd.DataFrame | None:
        """The sampled alternatives of every case (cases x slots; None in empty slots) and,
        after importance sampling, the correction of each slot (columns ``("correction",
        slot)``); None unless :attr:`is_sampled`."""
        if not self.is_sampled:
            return None
        sets = self._sets
        labels = np.empty(self.n_alts + 1, dtype=object)
        labels[:-1] = self._alts
        labels[-1] = None
        frame = pd.DataFrame(labels[sets.alt], index=self._cases)
        if sets.correction is None:
            return frame
        corr = pd.DataFrame(sets.correction, index=self._cases)
        return pd.concat({"alternative": frame, "correction": corr}, axis=1)

    def _choice_sets(self, layout: str = "auto") -> ChoiceSets | None:
        """The choice sets as slots per case when the design should be laid out that way:
        sampled data (unless ``layout="dense"``), or sparse availability (few available
        alternatives out of many, ``"auto"``); ``"slots"`` forces it."""
        if layout == "dense":
            return None
        if self._sets is not None:
            return self._sets
        return sparse_choice_sets(self._avail, force=layout == "slots",
                                  sizes=self.available_counts)

    def _slot_values(self, name: str, alt: np.ndarray) -> np.ndarray:
        """Values of a variable at every slot, ``(n_cases, n_slots)`` (0 in empty slots),
        read without building the ``(n_cases, n_alts)`` array of a long column."""
        n, S = alt.shape
        valid = alt >= 0
        a = np.where(valid, alt, 0)
        key = _key(self._long_frame, name) if name not in self._long_cache else None
        if key is not None:
            # rows of the long frame -> slots: both keyed by case * n_alts + alternative,
            # the slots' keys ascending (cases in order, alternatives ascending within each)
            slot_keys = (np.arange(n, dtype=np.int64)[:, None] * self.n_alts + a)[valid]
            slot_pos = np.flatnonzero(valid.ravel())
            where = np.searchsorted(slot_keys, self._long_pos)
            where = np.minimum(where, max(len(slot_keys) - 1, 0))
            hit = slot_keys[where] == self._long_pos if len(slot_keys) else \
                np.zeros(len(self._long_pos), dtype=bool)
            out = np.full(n * S, np.nan)
            out[slot_pos[where[hit]]] = _numeric(self._long_frame[key], name)[hit]
            out = out.reshape(n, S)
        else:
            src = self._source(name)
            if isinstance(src, WideVariable):
                src = src.array()
            if src.ndim == 1:
                return np.broadcast_to(src[:, None], (n, S))
            out = np.take_along_axis(src, a, axis=1)
        return np.where(valid, out, 0.0)

    @property
    def available_counts(self) -> np.ndarray:
        """Available alternatives per case, ``(n_cases,)`` (read-only; computed once: every
        model built on the data asks for it, and a row count over a short axis costs as much
        as a small model's design)."""
        if self._n_avail is None:
            a = self._avail
            if 0 < a.shape[1] <= 16:  # column by column: a reduction over a short axis is slow
                counts = a[:, 0].astype(np.intp)
                for j in range(1, a.shape[1]):
                    counts += a[:, j]
            else:
                counts = a.sum(axis=1)
            counts.setflags(write=False)
            self._n_avail = counts
        return self._n_avail

    # internal array access for the design builder (read-only arrays)
    @property
    def avail_array(self) -> np.ndarray:
        """Availability as a read-only ``(n_cases, n_alts)`` bool array."""
        return self._avail

    @property
    def chosen_array(self) -> np.ndarray | None:
        """Chosen alternative index per case as a read-only int array, or None."""
        return self._chosen

    @property
    def weight_array(self) -> np.ndarray | None:
        """Case weights as an array, or None."""
        return self._weight

    @property
    def group_array(self) -> np.ndarray | None:
        """Group codes (0..G-1) per case, or None."""
        return self._group


def alt_values(source: np.ndarray | WideVariable, j: int) -> np.ndarray:
    """Values of a variable (as :meth:`ChoiceData._source` holds it) for alternative ``j``:
    ``(n_cases,)``, a view where possible (a case-level variable is the same for every ``j``)."""
    if isinstance(source, WideVariable):
        return source.alt(j)
    return source[:, j] if source.ndim == 2 else source


def _numeric(col: pd.Series, name: str) -> np.ndarray:
    """A column as float64; non-numeric entries become NaN (reported where used), and a
    column with no number at all is refused."""
    values, message = numeric_column(col, f"Variable {name!r}")
    if message is not None:
        raise SpecificationError(f"{message} Recode it (e.g. indicator columns, or "
                                 "`Var(name) == value` on a numeric code).")
    return values


def _key(frame: pd.DataFrame | None, name: str) -> Any:
    """The column of ``frame`` that a ``Var(name)`` means: the column ``name`` itself, else the
    one whose ``str()`` is ``name`` (so ``Var("5")`` finds a column labelled ``5``); None."""
    if frame is None:
        return None
    try:
        if name in frame.columns:
            return name
    except TypeError:  # pragma: no cover - unhashable name
        return None
    for c in frame.columns:
        if str(c) == name:
            return c
    return None
