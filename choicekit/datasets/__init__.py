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
it looked and how to provide the file. A file found is checked against the SHA-256 digest of
the reference copy (``DATASETS[name].sha256``; once per file and modification time in a
session), so that a truncated or edited copy is refused rather than loaded silently;
``verify=False`` accepts a copy that differs on purpose. Every call reads the file again and
returns a new DataFrame; no data are cached in memory. :func:`load_travelmode` falls back on
the copy bundled with statsmodels and therefore always succeeds.
"""

from __future__ import annotations

from choicekit.datasets.choicedata import (
    electricity_choicedata,
    fishing_choicedata,
    heating_choicedata,
    modecanada_choicedata,
    simulated_modechoice_choicedata,
    swissmetro_choicedata,
    train_choicedata,
    travelmode_choicedata,
)
from choicekit.datasets.loaders import (
    DATASETS,
    ENV_VAR,
    DatasetInfo,
    get_cache_dir,
    load_electricity,
    load_fishing,
    load_heating,
    load_modecanada,
    load_simulated_modechoice,
    load_simulated_modechoice_metadata,
    load_swissmetro,
    load_train,
    load_travelmode,
)

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
