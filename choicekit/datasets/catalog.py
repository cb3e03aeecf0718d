"""The catalogue of data sets known to :mod:`choicekit.datasets` (names, files, columns,
checksums, download addresses). Import from :mod:`choicekit.datasets`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["DatasetInfo", "DATASETS"]


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
