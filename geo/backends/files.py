"""The embedded backend: the files in ``data/`` (the default; no configuration).

Reading wraps the existing loaders. Saving a registry writes the layer's CSV files (real rows to
``<sites>/<file>``, sample rows to ``<sites>/samples/<file>``) under an exclusive file lock, with
the same optimistic versioning as the database: the head version lives in
``<sites>/.versions/<layer>.json`` (absent: the shipped files are version 1) and every saved
version is kept as ``<sites>/.history/<layer>/v<N>.csv`` with a line in ``log.jsonl``. Each file is
replaced atomically and the head is written last, so a crash leaves the previous version current.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from base.crs import WGS84
from base.errors import InputError
from base.settings import BOUNDARIES_DIR, PLAN_DIR, SITES_DIR
from geo.attainment import Plan
from geo.backends._registry import (
    TEXT_COLUMNS,
    check_frame,
    frame_from_records,
    published,
    records,
    row_hash,
)
from geo.backends.store import HISTORY_COLUMNS, ConflictError, RegistryLoad
from geo.boundaries import Units
from geo.export import to_csv
from layers.registry import SiteLoad, combine, load_bundled, read_sites
from layers.schema import COLUMNS, LAYERS


class FileBackend:
    """Boundaries, registries and plan tables from directories in the bundled layout."""

    name = "files"

    def __init__(
        self,
        boundaries_dir: Path = BOUNDARIES_DIR,
        sites_dir: Path = SITES_DIR,
        plan_dir: Path = PLAN_DIR,
    ) -> None:
        self.boundaries_dir = Path(boundaries_dir)
        self.sites_dir = Path(sites_dir)
        self.plan_dir = Path(plan_dir)

    def __repr__(self) -> str:
        return f"FileBackend({self.boundaries_dir.parent})"

    # -- boundaries and plan -------------------------------------------------------------------
    def load_units(self) -> Units:
        return load_units_from_files(self.boundaries_dir)

    def load_plan(self) -> Plan:
        return load_plan_from_files(self.plan_dir)

    # -- registries ----------------------------------------------------------------------------
    def _paths(self, layer: str, *, include_samples: bool = True) -> list[Path]:
        file = LAYERS[layer].file
        paths = [self.sites_dir / file]
        if include_samples:
            paths.append(self.sites_dir / "samples" / file)
        return [p for p in paths if p.exists()]

    def _head_path(self, layer: str) -> Path:
        return self.sites_dir / ".versions" / f"{layer}.json"

    def _history_dir(self, layer: str) -> Path:
        return self.sites_dir / ".history" / layer

    def _head(self, layer: str) -> dict:
        path = self._head_path(layer)
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        shipped = bool(self._paths(layer))
        return {"version": 1 if shipped else 0, "saved_at": None, "saved_by": ""}

    def registry_versions(self) -> dict[str, int]:
        return {layer: int(self._head(layer)["version"]) for layer in LAYERS}

    def load_registry(
        self, layer: str, *, include_samples: bool = True, version: int | None = None
    ) -> RegistryLoad:
        if layer not in LAYERS:
            raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
        head = self._head(layer)
        if version is not None and version != head["version"]:
            return self._load_old(layer, version, include_samples=include_samples)
        loads = [read_sites(p, layer=layer) for p in self._paths(layer, include_samples=True)]
        load = combine(loads) if loads else SiteLoad(frame_from_records([]))
        sites = load.sites
        if not include_samples:
            sites = sites[~sites["is_sample"]].reset_index(drop=True)
        return RegistryLoad(
            sites=sites,
            rejects=load.rejects,
            warnings=load.warnings,
            rows_read=load.rows_read,
            layer=layer,
            version=int(head["version"]),
            saved_at=_parse_time(head.get("saved_at")),
            saved_by=head.get("saved_by", ""),
        )

    def _load_old(self, layer: str, version: int, *, include_samples: bool) -> RegistryLoad:
        path = self._history_dir(layer) / f"v{version}.json"
        if not path.exists():
            raise InputError(f"Layer '{layer}' has no saved version {version} in {path.parent}")
        rows = json.loads(path.read_text(encoding="utf-8"))
        sites = frame_from_records(rows)
        if not include_samples:
            sites = sites[~sites["is_sample"]].reset_index(drop=True)
        entry = self._log(layer).set_index("version").loc[version]
        return RegistryLoad(
            sites=sites,
            rows_read=len(sites),
            layer=layer,
            version=version,
            saved_at=entry["saved_at"],
            saved_by=entry["saved_by"],
        )

    def load_bundled(
        self, *, layers: list[str] | None = None, include_samples: bool = True
    ) -> SiteLoad:
        return load_bundled(
            layers=layers, include_samples=include_samples, sites_dir=self.sites_dir
        )

    def save_registry(
        self,
        layer: str,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        check_frame(layer, frame)
        new_rows = records(frame)
        lock = self.sites_dir / ".versions" / f"{layer}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(lock):
            head = self._head(layer)
            current = int(head["version"])
            if current != int(expected_version):
                raise ConflictError(
                    layer,
                    expected=int(expected_version),
                    current=current,
                    saved_at=_parse_time(head.get("saved_at")),
                    saved_by=head.get("saved_by", ""),
                )
            old = self.load_registry(layer)
            old_rows = records(old.sites)
            old_hashes = [row_hash(i, _content(r)) for i, r in enumerate(old_rows)]
            new_hashes = [row_hash(i, _content(r)) for i, r in enumerate(new_rows)]
            if old_hashes == new_hashes:
                return current
            version = current + 1
            now = datetime.now(UTC)
            hist = self._history_dir(layer)
            hist.mkdir(parents=True, exist_ok=True)
            if current >= 1 and not (hist / f"v{current}.json").exists():
                # keep the version being replaced (e.g. the shipped files) readable
                _write_json(hist / f"v{current}.json", old_rows)
                _append_log(hist, current, None, "", len(old_rows), len(old_rows), 0, "as found")
            real = [r for r in new_rows if not r["is_sample"]]
            samples = [r for r in new_rows if r["is_sample"]]
            file = LAYERS[layer].file
            _write_registry(self.sites_dir / file, real, keep_empty=True)
            _write_registry(self.sites_dir / "samples" / file, samples, keep_empty=False)
            _write_json(hist / f"v{version}.json", new_rows)
            (hist / f"v{version}.csv").write_bytes(_registry_csv(new_rows))
            added = len(set(new_hashes) - set(old_hashes))
            removed = len(set(old_hashes) - set(new_hashes))
            _append_log(hist, version, now, saved_by, len(new_rows), added, removed, message)
            _write_json(
                self._head_path(layer),
                {"version": version, "saved_at": now.isoformat(), "saved_by": saved_by},
            )
            return version

    def _log(self, layer: str) -> pd.DataFrame:
        path = self._history_dir(layer) / "log.jsonl"
        if not path.exists():
            return pd.DataFrame(columns=HISTORY_COLUMNS)
        entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        log = pd.DataFrame(entries, columns=HISTORY_COLUMNS)
        log["saved_at"] = log["saved_at"].map(_parse_time)
        return log.drop_duplicates("version", keep="last").sort_values("version")

    def history(self, layer: str) -> pd.DataFrame:
        log = self._log(layer)
        if log.empty and self._head(layer)["version"] == 1:
            rows = len(self.load_registry(layer).sites)
            log = pd.DataFrame(
                [[1, None, "", rows, rows, 0, "shipped files"]], columns=HISTORY_COLUMNS
            )
        return log.reset_index(drop=True)


def _content(row: dict) -> dict:
    """What identifies a row in the files: where it came from is rewritten on save."""
    return {k: v for k, v in row.items() if k not in ("file", "row")}


def _parse_time(value: object) -> datetime | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@contextlib.contextmanager
def _exclusive(path: Path):
    with path.open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _write_json(path: Path, payload: object) -> None:
    _atomic_write(path, json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"))


def _append_log(hist: Path, version, saved_at, saved_by, n_rows, added, removed, message) -> None:
    entry = {
        "version": version,
        "saved_at": saved_at.isoformat() if saved_at else None,
        "saved_by": saved_by,
        "n_rows": n_rows,
        "n_added": added,
        "n_removed": removed,
        "message": message,
    }
    with (hist / "log.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _registry_csv(rows: list[dict]) -> bytes:
    """Rows as a registry file in the canonical schema, as published (:func:`published`:
    coordinates in their source system, nothing filled in that the reader derives).

    Written like every CSV the product makes (:func:`geo.export.to_csv`: UTF-8 with BOM,
    formula-like text neutralised, which ``read_sites`` undoes).
    """
    extras: dict[str, None] = {}
    for row in rows:
        for key in row["extra"]:
            extras.setdefault(key)
    out = []
    for row in published(rows):
        rec: dict[str, object] = {c: row[c] for c in TEXT_COLUMNS}
        rec["lon"] = np.nan if row["lon"] is None else row["lon"]
        rec["lat"] = np.nan if row["lat"] is None else row["lat"]
        rec["year"] = row["year"]
        rec["is_sample"] = "true" if row["is_sample"] else "false"
        for key in extras:
            rec[key] = row["extra"].get(key, "")
        out.append(rec)
    frame = pd.DataFrame(out, columns=[*COLUMNS, *extras], dtype=object)
    frame["lon"] = frame["lon"].astype(float)
    frame["lat"] = frame["lat"].astype(float)
    frame["year"] = pd.array(frame["year"], dtype="Int64")
    return to_csv(frame)


def _write_registry(path: Path, rows: list[dict], *, keep_empty: bool) -> None:
    if not rows and not keep_empty:
        path.unlink(missing_ok=True)
        return
    _atomic_write(path, _registry_csv(rows))


# -- boundaries and plan tables in the bundled layout ------------------------------------------
def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"Missing data file {path}. Run scripts/build_data.py or restore it.")
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)


@cache
def load_units_from_files(directory: Path = BOUNDARIES_DIR) -> Units:
    """Load and validate the bundled boundaries (cached: the files do not change at run time)."""
    counties = gpd.read_file(directory / "counties.geojson")
    if counties.crs is None or not counties.crs.equals(WGS84):
        counties = counties.set_crs(WGS84, allow_override=True)
    counties["code"] = counties["code"].astype(str)
    counties["pop_2020"] = pd.to_numeric(counties["pop_2020"])
    if len(counties) != 7 or counties["code"].duplicated().any():
        raise InputError(f"{directory / 'counties.geojson'} must hold the 7 counties once each")

    register = _read_csv(directory / "townships.csv")
    register["is_statistical"] = register["is_statistical"].eq("True")
    register["n_villages"] = register["n_villages"].astype(int)
    unknown = set(register["county_code"]) - set(counties["code"])
    if unknown:
        raise InputError(f"townships.csv names unknown counties: {sorted(unknown)}")
    zones = gpd.read_file(directory / "township_zones.geojson")
    zones["code"] = zones["code"].astype(str)
    zones = zones.set_index("code")
    register["geometry"] = register["code"].map(zones["geometry"])
    register["geometry_source"] = register["code"].map(zones["geometry_source"]).fillna("none")
    seats = _read_csv(directory / "township_seats.csv")
    seats[["lon", "lat"]] = seats[["lon", "lat"]].astype(float)
    county_seats = _read_csv(directory / "county_seats.csv")
    county_seats[["lon", "lat"]] = county_seats[["lon", "lat"]].astype(float)
    return Units.from_frames(
        counties,
        register,
        villages=_read_csv(directory / "villages.csv"),
        township_seats=seats,
        county_seats=county_seats,
    )


def load_plan_from_files(directory: Path = PLAN_DIR) -> Plan:
    """The plan tables from CSV files in ``directory`` (``value`` of targets parsed)."""
    frames = []
    for name in ("targets.csv", "designations.csv", "reported_actuals.csv"):
        path = directory / name
        if not path.exists():
            raise InputError(f"Missing plan table {path}.")
        frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
    frames[0]["value"] = pd.to_numeric(frames[0]["value"])
    return Plan(*frames)
