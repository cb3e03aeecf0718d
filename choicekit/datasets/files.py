"""Finding, downloading and reading the data files of :mod:`choicekit.datasets`.

The functions take a :class:`~choicekit.datasets.catalog.DatasetInfo`; the catalogue lookup
stays in :mod:`choicekit.datasets` (so that ``datasets.DATASETS`` is the one source of truth).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from choicekit.datasets.catalog import DatasetInfo
from choicekit.exceptions import ChoiceDataError

__all__ = ["ENV_VAR", "get_cache_dir"]

ENV_VAR = "CHOICEKIT_DATA"
"""Name of the environment variable naming a directory that holds the data files."""

_DOWNLOAD_TIMEOUT = 10.0  # seconds, per blocking socket operation
_DOWNLOAD_MAX_BYTES = 64 * 1024 * 1024
_PathLike = str | os.PathLike[str]


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
    st = target.stat()
    _DIGESTS[(str(target.resolve()), st.st_size, st.st_mtime_ns)] = digest.hexdigest()
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


#: SHA-256 of each file already checked in this process, by (path, size, mtime): a second
#: load of an unchanged file costs a stat, not a hash. In memory only: loading never writes.
_DIGESTS: dict[tuple[str, int, int], str] = {}


def _sha256(file: Path) -> str:
    """SHA-256 of ``file``, computed once per (path, size, modification time)."""
    st = file.stat()
    key = (str(file.resolve()), st.st_size, st.st_mtime_ns)
    digest = _DIGESTS.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                h.update(chunk)
        digest = _DIGESTS[key] = h.hexdigest()
    return digest


def _verify(info: DatasetInfo, file: Path) -> None:
    """Refuse a file that is not the reference copy (truncated, edited, another version)."""
    if not info.sha256:
        return
    digest = _sha256(file)
    if digest == info.sha256:
        return
    with open(file, "rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    rows = max(lines - 1, 0)  # the header line
    size = (f"it has {rows:,} data rows, the reference copy {info.n_rows:,}"
            + (" (truncated?)" if rows < info.n_rows else "") if rows != info.n_rows else
            f"it has the expected {rows:,} rows, but some values differ (edited?)")
    if info.url is not None:
        fix = (f"Delete it and call load_{info.name}(download=True) to fetch the reference copy "
               f"from {info.url}")
    else:
        fix = (f"Replace it with the reference copy (its source is in the Notes of "
               f"load_{info.name}())")
    raise ChoiceDataError(
        f"load_{info.name}(): {file} is not the reference copy of {info.filename}: {size}; its "
        f"SHA-256 is {digest[:16]}..., expected {info.sha256[:16]}... "
        f"(DATASETS[{info.name!r}].sha256). {fix}. If the file differs on purpose (your own "
        "copy), pass verify=False."
    )


def _read(info: DatasetInfo, file: Path, verify: bool = True) -> pd.DataFrame:
    if verify:
        _verify(info, file)
    try:
        frame = pd.read_csv(file, sep=info.sep)
    except (OSError, ValueError) as exc:  # pandas parser errors are ValueErrors
        message = " ".join(str(exc).split()).rstrip(".")
        raise ChoiceDataError(f"load_{info.name}(): cannot read {file}: {message}.") from exc
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

