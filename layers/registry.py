"""Read and validate site registries: good rows kept, every bad row reported with a reason.

A registry is a CSV or GeoJSON file in the canonical schema (:mod:`layers.schema`). Each row is
either accepted (normalised: WGS84 lon/lat, controlled subtype and level keys) or rejected with
its row number, column and a reason a planner understands. ``accepted + rejected == rows read``.

Row numbers are what a spreadsheet shows: the header is row 1, the first site is row 2. For
GeoJSON the row is the feature's position, starting at 1.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo._errors import InputError
from geo.crs import normalize_crs, to_wgs84
from geo.settings import MAX_SITE_YEAR, MIN_SITE_YEAR, SITES_DIR
from layers.schema import COLUMNS, LAYERS, LEVELS, PRECISION, STATUS

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000

# Header aliases (compared lower-case, spaces removed) → canonical column.
HEADER_ALIASES: dict[str, str] = {
    "名称": "name",
    "站点名称": "name",
    "园区名称": "name",
    "单位名称": "name",
    "图层": "layer",
    "类别": "layer",
    "类型": "subtype",
    "子类": "subtype",
    "type": "subtype",
    "级别": "level",
    "县区": "county",
    "区县": "county",
    "所在县区": "county",
    "乡镇": "township",
    "乡镇街道": "township",
    "街道": "township",
    "村": "village",
    "村社区": "village",
    "经度": "lon",
    "lng": "lon",
    "long": "lon",
    "longitude": "lon",
    "x": "lon",
    "纬度": "lat",
    "latitude": "lat",
    "y": "lat",
    "坐标系": "source_crs",
    "crs": "source_crs",
    "年份": "year",
    "认定年份": "year",
    "来源": "source",
    "备注": "note",
    "编号": "id",
}

_LAYER_WORDS: dict[str, str] = {}
for _key, _layer in LAYERS.items():
    _LAYER_WORDS[_key] = _key
    _LAYER_WORDS[_layer.zh] = _key
    _LAYER_WORDS[_layer.en.lower()] = _key
_LAYER_WORDS.update({"parks": "park", "incubators": "incubator", "poverty": "poverty_demo"})

_LEVEL_WORDS: dict[str, str] = {k: k for k in LEVELS}
_LEVEL_WORDS.update({zh: k for k, (zh, _en) in LEVELS.items()})
_LEVEL_WORDS.update({"国家": "national", "省": "provincial", "市": "municipal", "县": "county"})
_LEVEL_WORDS.update({"区级": "county", "县区级": "county"})

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}


@dataclass
class SiteLoad:
    """Result of reading registries: accepted sites, rejected rows and warnings (all reported)."""

    sites: pd.DataFrame
    rejects: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["file", "row", "column", "reason", "value"])
    )
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0

    @property
    def ok(self) -> bool:
        return self.rejects.empty


def _subtype_words(layer: str) -> dict[str, str]:
    words = {}
    for key, (zh, en) in LAYERS[layer].subtypes.items():
        words[key] = key
        words[zh] = key
        words[en.lower()] = key
        for part in zh.split("/"):
            words[part] = key
    return words


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value).strip()


def _decode(raw: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path.name}: the text encoding is neither UTF-8 nor GBK/GB18030.")


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"{path.name}: {size / 1e6:.1f} MB is larger than the "
            f"{MAX_FILE_BYTES // 2**20} MB limit."
        )
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    if suffix in (".geojson", ".json"):
        try:
            doc = json.loads(_decode(raw, path))
        except json.JSONDecodeError as exc:
            msg = f"{path.name}: not valid GeoJSON ({exc.msg}, line {exc.lineno})."
            raise InputError(msg) from exc
        features = doc.get("features") if isinstance(doc, dict) else None
        if not isinstance(features, list):
            raise InputError(f"{path.name}: a GeoJSON FeatureCollection with features is needed.")
        records = []
        for feat in features:
            props = dict((feat or {}).get("properties") or {})
            geom = (feat or {}).get("geometry") or {}
            if geom.get("type") == "Point" and len(geom.get("coordinates") or []) >= 2:
                props["lon"], props["lat"] = geom["coordinates"][:2]
                props.setdefault("source_crs", "WGS84")  # RFC 7946: GeoJSON is WGS84
            records.append(props)
        frame = pd.DataFrame.from_records(records).astype(object)
        frame.index = np.arange(1, len(frame) + 1)
        return frame
    if suffix in (".csv", ".txt"):
        text = _decode(raw, path)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except pd.errors.ParserError as exc:
            raise InputError(f"{path.name}: cannot be read as CSV ({exc}).") from exc
        frame.index = np.arange(2, len(frame) + 2)
        return frame
    raise InputError(f"{path.name}: unsupported file type '{suffix}'. Use CSV or GeoJSON.")


def _canonical_headers(frame: pd.DataFrame) -> pd.DataFrame:
    mapping = {}
    for col in frame.columns:
        key = str(col).strip().lower().replace(" ", "")
        target = key if key in COLUMNS else HEADER_ALIASES.get(key)
        if target and target not in mapping.values():
            mapping[col] = target
    return frame.rename(columns=mapping)


def _parse_bool(text: str) -> bool | None:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def read_sites(path: Path | str, *, layer: str | None = None) -> SiteLoad:
    """Read one registry file; ``layer`` fills rows that name none (e.g. a per-layer file)."""
    path = Path(path)
    if layer is not None and layer not in LAYERS:
        raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
    frame = _canonical_headers(_read_table(path))
    if len(frame) > MAX_ROWS:
        raise InputError(f"{path.name}: {len(frame)} rows is more than the {MAX_ROWS} limit.")
    if "name" not in frame.columns:
        raise InputError(
            f"{path.name}: no name column (名称). Columns found: {list(frame.columns)}"
        )
    extra = [c for c in frame.columns if c not in COLUMNS]

    accepted: list[dict] = []
    rejects: list[dict] = []
    warnings: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}

    def reject(row: int, column: str, reason: str, value: object = "") -> None:
        rejects.append(
            {"file": path.name, "row": row, "column": column, "reason": reason, "value": value}
        )

    for row, rec in frame.iterrows():
        get = {c: _text(rec.get(c)) for c in COLUMNS}
        name = get["name"]
        if not name:
            reject(row, "name", "missing name")
            continue
        layer_key = _LAYER_WORDS.get(get["layer"].lower(), "") if get["layer"] else layer or ""
        if not layer_key:
            reason = f"unknown layer '{get['layer']}'" if get["layer"] else "missing layer"
            reject(row, "layer", f"{reason}; use one of {', '.join(LAYERS)}", get["layer"])
            continue
        subtype = ""
        if get["subtype"]:
            subtype = _subtype_words(layer_key).get(get["subtype"].lower(), "")
            if not subtype:
                choices = ", ".join(LAYERS[layer_key].subtypes)
                reject(row, "subtype", f"unknown subtype for {layer_key}; use {choices}")
                continue
        level = ""
        if get["level"]:
            level = _LEVEL_WORDS.get(get["level"].lower(), "")
            if not level:
                reject(row, "level", f"unknown level; use {', '.join(LEVELS)}", get["level"])
                continue
        year = None
        if get["year"]:
            try:
                year = int(float(get["year"]))
            except ValueError:
                reject(row, "year", "year is not a number", get["year"])
                continue
            if not MIN_SITE_YEAR <= year <= MAX_SITE_YEAR:
                reject(row, "year", f"year out of range {MIN_SITE_YEAR}–{MAX_SITE_YEAR}", year)
                continue
        is_sample = _parse_bool(get["is_sample"])
        if is_sample is None:
            reject(row, "is_sample", "is_sample must be true or false", get["is_sample"])
            continue
        lon = lat = np.nan
        crs_name = ""
        if get["lon"] or get["lat"]:
            try:
                lon, lat = float(get["lon"]), float(get["lat"])
            except ValueError:
                col = "lon" if not _is_float(get["lon"]) else "lat"
                reject(row, col, "unparseable coordinate", get[col])
                continue
            if not (np.isfinite(lon) and np.isfinite(lat)):
                reject(row, "lon", "unparseable coordinate", f"{get['lon']},{get['lat']}")
                continue
            if 30 <= lon <= 45 and 95 <= lat <= 110:
                lon, lat = lat, lon
                warnings.append(f"{path.name} row {row}: longitude and latitude swapped; fixed")
            try:
                crs_name = normalize_crs(get["source_crs"])
                wlon, wlat = to_wgs84([lon], [lat], crs_name)
            except InputError as exc:
                reject(row, "source_crs", str(exc), get["source_crs"])
                continue
            lon, lat = float(wlon[0]), float(wlat[0])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                reject(row, "lon", "coordinate outside the globe", f"{lon},{lat}")
                continue
        status = get["status"].lower()
        if status and status not in STATUS:
            reject(row, "status", f"use one of {', '.join(STATUS)}", get["status"])
            continue
        precision = get["location_precision"]
        if precision and precision not in PRECISION:
            reject(row, "location_precision", f"use one of {', '.join(PRECISION)}", precision)
            continue
        has_place = bool(get["county"] or get["township"] or get["village"])
        if np.isnan(lon) and not has_place and precision != "city":
            reject(row, "lon", "no location at all (no coordinate, county, township or village)")
            continue
        key = (layer_key, name, get["county"])
        if key in seen:
            reject(row, "name", f"duplicate of row {seen[key]}", name)
            continue
        seen[key] = row
        out = {c: get[c] for c in COLUMNS}
        out.update(
            layer=layer_key,
            subtype=subtype,
            level=level,
            lon=lon,
            lat=lat,
            source_crs=crs_name,
            year=year,
            is_sample=bool(is_sample),
            status=status or "built",
            location_precision="exact" if not np.isnan(lon) else precision,
            file=path.name,
            row=row,
        )
        for col in extra:
            out[col] = _text(rec.get(col))
        accepted.append(out)

    sites = pd.DataFrame(accepted, columns=[*COLUMNS, "file", "row", *extra])
    sites["year"] = pd.array(sites["year"], dtype="Int64")
    sites["lon"] = sites["lon"].astype(float)
    sites["lat"] = sites["lat"].astype(float)
    sites["is_sample"] = sites["is_sample"].astype(bool)
    rej = pd.DataFrame(rejects, columns=["file", "row", "column", "reason", "value"])
    return SiteLoad(sites=sites, rejects=rej, warnings=warnings, rows_read=len(frame))


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def combine(loads: list[SiteLoad]) -> SiteLoad:
    """Concatenate several loads (e.g. one per layer file) keeping every report."""
    frames = [load.sites for load in loads if not load.sites.empty]
    sites = pd.concat(frames, ignore_index=True) if frames else loads[0].sites.iloc[0:0]
    rejects = pd.concat([load.rejects for load in loads], ignore_index=True)
    warnings = [w for load in loads for w in load.warnings]
    return SiteLoad(sites, rejects, warnings, sum(load.rows_read for load in loads))


def bundled_files(*, include_samples: bool = True) -> dict[str, list[Path]]:
    """Registry files shipped with the product, per layer (samples live in data/sites/samples)."""
    files: dict[str, list[Path]] = {}
    for key, layer in LAYERS.items():
        paths = [SITES_DIR / layer.file]
        sample = SITES_DIR / "samples" / layer.file
        if include_samples and sample.exists():
            paths.append(sample)
        files[key] = [p for p in paths if p.exists()]
    return files


def load_bundled(*, layers: list[str] | None = None, include_samples: bool = True) -> SiteLoad:
    """Load the bundled registries of ``layers`` (all by default)."""
    wanted = layers or list(LAYERS)
    loads = [
        read_sites(path, layer=key)
        for key, paths in bundled_files(include_samples=include_samples).items()
        if key in wanted
        for path in paths
    ]
    if not loads:
        raise InputError("No bundled registry files found under data/sites/.")
    return combine(loads)
