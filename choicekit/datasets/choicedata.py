"""Ready-to-model :class:`~choicekit.ChoiceData` for the data sets of :mod:`choicekit.datasets`.

Each ``<name>_choicedata()`` loads the frame with ``load_<name>()`` (passing ``path``,
``download`` and ``verify`` on) and declares its layout,
alternatives, availability, alternative-varying variables (so that formulas work) and panel
group. Re-exported by :mod:`choicekit.datasets`; import from there.
"""

from __future__ import annotations

import pandas as pd

from choicekit.data.choicedata import ChoiceData
from choicekit.datasets.files import _PathLike
from choicekit.datasets.loaders import (
    DATASETS,
    load_electricity,
    load_fishing,
    load_heating,
    load_modecanada,
    load_simulated_modechoice,
    load_swissmetro,
    load_train,
    load_travelmode,
)

__all__ = [
    "electricity_choicedata",
    "fishing_choicedata",
    "heating_choicedata",
    "modecanada_choicedata",
    "simulated_modechoice_choicedata",
    "swissmetro_choicedata",
    "train_choicedata",
    "travelmode_choicedata",
]

def _per_alt(stems: tuple[str, ...], alts: tuple[str, ...], sep: str,
             suffixes: tuple[str, ...] | None = None) -> dict[str, dict[str, str]]:
    suffixes = alts if suffixes is None else suffixes
    return {s: {a: f"{s}{sep}{x}" for a, x in zip(alts, suffixes)} for s in stems}


def swissmetro_choicedata(path: _PathLike | None = None, *, download: bool = False,
                          biogeme_sample: bool = True, verify: bool = True) -> ChoiceData:
    """Swissmetro as ChoiceData, prepared as in Biogeme's examples.

    Parameters
    ----------
    path, download, verify
        As in :func:`load_swissmetro`.
    biogeme_sample : bool, default True
        Keep only ``PURPOSE`` in {1, 3} (commuters, business) and ``CHOICE != 0``: the
        6,768 cases of Biogeme's ``b01logit``. With False, only ``CHOICE != 0`` (10,719).

    Returns
    -------
    ChoiceData
        Wide layout, alternatives ``"train"``, ``"sm"``, ``"car"`` (codes 1, 2, 3), group
        ``ID`` (respondent). Added columns: ``TRAIN_COST = TRAIN_CO * (GA == 0)``,
        ``SM_COST = SM_CO * (GA == 0)`` (GA season-ticket holders pay nothing at the margin).
        Availability: train ``TRAIN_AV * (SP != 0)``, Swissmetro ``SM_AV``, car
        ``CAR_AV * (SP != 0)``. Alternative-varying variables for formulas: ``time``
        (``*_TT``, minutes), ``cost`` (``TRAIN_COST``, ``SM_COST``, ``CAR_CO``, CHF) and
        ``headway`` (``TRAIN_HE``, ``SM_HE``; 0 for car).

    Examples
    --------
    >>> import choicekit as ck
    >>> data = ck.datasets.swissmetro_choicedata()  # doctest: +SKIP
    >>> data.n_cases  # doctest: +SKIP
    6768
    """
    df = load_swissmetro(path, download=download, verify=verify)
    keep = df["CHOICE"] != 0
    if biogeme_sample:
        keep &= df["PURPOSE"].isin([1, 3])
    df = df.loc[keep]
    df = df.assign(
        TRAIN_COST=df["TRAIN_CO"] * (df["GA"] == 0),
        SM_COST=df["SM_CO"] * (df["GA"] == 0),
        TRAIN_AV_SP=df["TRAIN_AV"] * (df["SP"] != 0),
        CAR_AV_SP=df["CAR_AV"] * (df["SP"] != 0),
    )
    return ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "sm", 3: "car"},
        availability={"train": "TRAIN_AV_SP", "sm": "SM_AV", "car": "CAR_AV_SP"},
        variables={
            "time": {"train": "TRAIN_TT", "sm": "SM_TT", "car": "CAR_TT"},
            "cost": {"train": "TRAIN_COST", "sm": "SM_COST", "car": "CAR_CO"},
            "headway": {"train": "TRAIN_HE", "sm": "SM_HE"},
        },
        group="ID",
    )


def travelmode_choicedata(path: _PathLike | None = None, *, verify: bool = True) -> ChoiceData:
    """TravelMode (Greene) as ChoiceData: long layout, alternatives air, bus, car, train.

    The ``mode`` codes 1-4 become labels ``"air"``, ``"train"``, ``"bus"``, ``"car"`` (column
    ``mode``); case id ``individual``. Variables: ``ttme``, ``invc``, ``invt``, ``gc``
    (alternative-varying), ``hinc``, ``psize`` (constant within a case). Always available
    (statsmodels ships the data).

    Examples
    --------
    >>> import choicekit as ck
    >>> data = ck.datasets.travelmode_choicedata()
    >>> data.n_cases, data.alternatives
    (210, ['air', 'bus', 'car', 'train'])
    """
    df = load_travelmode(path, verify=verify)
    df = df.assign(mode=df["mode"].map({1: "air", 2: "train", 3: "bus", 4: "car"}))
    return ChoiceData.from_long(df, case="individual", alt="mode", choice="choice")


def modecanada_choicedata(path: _PathLike | None = None, *,
                          download: bool = False, verify: bool = True) -> ChoiceData:
    """ModeCanada as ChoiceData: long layout (case, alt, choice), 4,324 cases.

    Alternatives air, bus, car, train; a case without a row for an alternative has it
    unavailable (``noalt`` counts the available ones). Variables: ``cost``, ``ivt``, ``ovt``,
    ``freq``, ``dist`` (alternative-varying), ``income``, ``urban``, ``noalt``.
    """
    df = load_modecanada(path, download=download, verify=verify)
    return ChoiceData.from_long(df, case="case", alt="alt", choice="choice")


def heating_choicedata(path: _PathLike | None = None, *,
                       download: bool = False, verify: bool = True) -> ChoiceData:
    """Heating as ChoiceData: wide layout, alternatives gc, gr, ec, er, hp.

    Alternative-varying variables ``ic`` (installation cost), ``oc`` (annual operating cost)
    and ``pb`` (ic / oc) gathered from ``ic.<alt>``, ``oc.<alt>``, ``pb.<alt>``; case-level
    ``income``, ``agehed``, ``rooms`` (and ``region``, a string).

    Examples
    --------
    >>> import choicekit as ck
    >>> data = ck.datasets.heating_choicedata()  # doctest: +SKIP
    >>> ck.MNL.from_formula("depvar ~ ic + oc | 0", data).fit().params  # doctest: +SKIP
    """
    alts = DATASETS["heating"].alternatives
    df = load_heating(path, download=download, verify=verify)
    return ChoiceData.from_wide(df, choice="depvar", alternatives={a: a for a in alts},
                                variables=_per_alt(("ic", "oc", "pb"), alts, "."),
                                case="idcase")


def fishing_choicedata(path: _PathLike | None = None, *,
                       download: bool = False, verify: bool = True) -> ChoiceData:
    """Fishing as ChoiceData: wide layout, alternatives beach, pier, boat, charter.

    Alternative-varying ``price`` and ``catch``; case-level ``income``.
    """
    alts = DATASETS["fishing"].alternatives
    df = load_fishing(path, download=download, verify=verify)
    return ChoiceData.from_wide(df, choice="mode", alternatives={a: a for a in alts},
                                variables=_per_alt(("price", "catch"), alts, "."))


def train_choicedata(path: _PathLike | None = None, *, download: bool = False,
                     verify: bool = True) -> ChoiceData:
    """Train (Netherlands) as ChoiceData: wide layout, alternatives A and B, group ``id``.

    Alternative-varying ``price`` (cents of guilders), ``time`` (minutes), ``change``,
    ``comfort``; case ids ``choiceid``.
    """
    df = load_train(path, download=download, verify=verify)
    return ChoiceData.from_wide(
        df, choice="choice", alternatives={"A": "A", "B": "B"},
        variables=_per_alt(("price", "time", "change", "comfort"), ("A", "B"), "_"),
        group="id", case="choiceid")


def electricity_choicedata(path: _PathLike | None = None, *,
                           download: bool = False, verify: bool = True) -> ChoiceData:
    """Electricity as ChoiceData: wide layout, suppliers 1-4 (labels ``"1"``..``"4"``).

    Alternative-varying ``pf``, ``cl``, ``loc``, ``wk``, ``tod``, ``seas``; group ``id``
    (361 respondents).
    """
    df = load_electricity(path, download=download, verify=verify)
    alts = ("1", "2", "3", "4")
    return ChoiceData.from_wide(
        df, choice="choice", alternatives={int(a): a for a in alts},
        variables=_per_alt(("pf", "cl", "loc", "wk", "tod", "seas"), alts, ""), group="id")


def simulated_modechoice_choicedata(path: _PathLike | None = None) -> ChoiceData:
    """choicekit's bundled simulated data as ChoiceData (train, bus, car; group ``person``).

    Alternative-varying ``time`` (``*_TT``) and ``cost`` (``*_COST``); availability
    ``*_AV``; case ids ``case``.

    Examples
    --------
    >>> import choicekit as ck
    >>> data = ck.datasets.simulated_modechoice_choicedata()
    >>> data.n_cases
    3000
    """
    df: pd.DataFrame = load_simulated_modechoice(path)
    alts = ("train", "bus", "car")
    upper = tuple(a.upper() for a in alts)
    return ChoiceData.from_wide(
        df, choice="CHOICE", alternatives={1: "train", 2: "bus", 3: "car"},
        availability={a: f"{u}_AV" for a, u in zip(alts, upper)},
        variables={"time": {a: f"{u}_TT" for a, u in zip(alts, upper)},
                   "cost": {a: f"{u}_COST" for a, u in zip(alts, upper)}},
        group="person", case="case")
