"""Make an uploaded registry the new default of a layer; keep every previous version; undo.

The registry of a layer is ``data/sites/<layer file>`` (e.g. ``incubators.csv``). Saving writes
the canonical CSV (:func:`layers.registry.registry_frame`) to a temporary file in the same
folder and moves it into place with ``os.replace`` (atomic: a reader sees the old file or the new
one, never half of it). An exclusive lock (``fcntl.flock`` on ``.<file>.lock``) serialises
savers, so the previous version is always copied to ``history/<file>.<timestamp>.csv`` before it
is replaced and two concurrent saves cannot interleave. :func:`undo_last` puts the newest
history version back (the undone file is kept as ``…undone.csv``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from geo._errors import InputError
from geo.export import to_csv
from geo.settings import SITES_DIR
from layers.registry import read_sites, registry_frame
from layers.schema import LAYERS

HISTORY = "history"
UNDONE = ".undone.csv"


def _target(layer: str, directory: Path) -> Path:
    if layer not in LAYERS:
        raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
    return Path(directory) / LAYERS[layer].file


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``target`` (a separate lock file: the target gets replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _history_path(target: Path, *, suffix: str = ".csv") -> Path:
    folder = target.parent / HISTORY
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{target.name}.{stamp}{suffix}"
    n = 1
    while path.exists():  # same microsecond: keep both, in order
        path = folder / f"{target.name}.{stamp}-{n:03d}{suffix}"
        n += 1
    return path


def registry_csv(sites: pd.DataFrame) -> bytes:
    """A registry as CSV bytes: canonical columns, UTF-8 with BOM, formula-like cells neutralised
    (``read_sites`` reads such cells back as they were)."""
    return to_csv(registry_frame(sites))


def save_registry(
    layer: str,
    frame_or_bytes: pd.DataFrame | bytes,
    *,
    directory: Path = SITES_DIR,
    filename: str | None = None,
) -> Path:
    """Make ``frame_or_bytes`` the registry of ``layer``; the previous version goes to history.

    A frame is accepted sites (``SiteLoad.sites`` or a subset); bytes are a registry file
    (``filename`` tells its format) that must read without any rejected row: to save only the
    good rows of a partly bad file, pass ``load.sites``. Returns the path written.
    """
    target = _target(layer, directory)
    if isinstance(frame_or_bytes, bytes | bytearray):
        load = read_sites(
            bytes(frame_or_bytes), filename=filename or LAYERS[layer].file, layer=layer
        )
        if not load.rejects.empty:
            raise InputError(
                f"{len(load.rejects)} row(s) of the file were rejected; nothing was saved. Fix "
                "them, or save only the accepted rows."
            )
        frame = load.sites
    else:
        frame = frame_or_bytes
    if frame.empty:
        raise InputError(f"No sites to save for layer '{layer}'; nothing was saved.")
    layers = set(frame["layer"].astype(str)) if "layer" in frame else {layer}
    if layers != {layer}:
        others = ", ".join(sorted(layers - {layer}))
        raise InputError(f"Rows of other layers ({others}) cannot be saved as '{layer}'.")
    data = registry_csv(frame)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with _locked(target):
            if target.exists():
                shutil.copy2(target, _history_path(target))
            os.replace(tmp, target)
            _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def history(layer: str, *, directory: Path = SITES_DIR) -> list[Path]:
    """Previous versions of the layer's registry, newest first (what :func:`undo_last` restores)."""
    target = _target(layer, directory)
    folder = target.parent / HISTORY
    if not folder.exists():
        return []
    found = [
        p
        for p in folder.glob(f"{target.name}.*.csv")
        if not p.name.endswith(UNDONE) and p.name.startswith(target.name + ".")
    ]
    return sorted(found, key=lambda p: p.name, reverse=True)


def undo_last(layer: str, *, directory: Path = SITES_DIR) -> Path:
    """Put the newest previous version back; the undone version is kept as ``…undone.csv``."""
    target = _target(layer, directory)
    with _locked(target):
        versions = history(layer, directory=directory)
        if not versions:
            raise InputError(f"No earlier version of layer '{layer}' to go back to.")
        if target.exists():
            shutil.copy2(target, _history_path(target, suffix=UNDONE))
        os.replace(versions[0], target)
        _fsync_dir(target.parent)
    return target
