"""Registry rows shared by the backends: checking a frame to save, records, row hashes.

A saved layer is a frame as :func:`layers.registry.read_sites` returns it: the canonical columns
(:data:`layers.schema.COLUMNS`), ``file`` and ``row`` (where each row came from, for reports) and
any extra columns the source file had. Both backends store exactly that and give it back with the
same columns and dtypes.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

from base.crs import CGCS2000, WGS84
from base.errors import InputError
from layers.coords import from_wgs84_any, parse_crs, to_wgs84_any
from layers.schema import COLUMNS, LAYERS

TEXT_COLUMNS = tuple(c for c in COLUMNS if c not in ("lon", "lat", "year", "is_sample"))
META_COLUMNS = ("file", "row")


def _text(value: object) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def _float(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    out = float(value)
    return None if math.isnan(out) else out


def _int(value: object) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return int(float(value)) if value.strip() else None
    return int(value)


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "是", "t")
    return bool(value) if value is not None and value is not pd.NA else False


def check_frame(layer: str, frame: pd.DataFrame) -> None:
    """Raise InputError when ``frame`` cannot be saved as layer ``layer``."""
    if layer not in LAYERS:
        raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"Cannot save layer '{layer}': missing columns {missing}")
    other = sorted(set(frame["layer"].map(_text)) - {layer})
    if other:
        raise InputError(f"Cannot save layer '{layer}': the frame has rows of layer(s) {other}")
    if frame["name"].map(_text).str.strip().eq("").any():
        raise InputError(f"Cannot save layer '{layer}': some rows have no name")


def records(frame: pd.DataFrame) -> list[dict]:
    """Plain-Python rows (text, float/None, int/None, bool) plus ``extra`` (other columns)."""
    extras = [c for c in frame.columns if c not in COLUMNS and c not in META_COLUMNS]
    out = []
    for rec in frame.to_dict("records"):
        row = {c: _text(rec.get(c)) for c in TEXT_COLUMNS}
        row["lon"] = _float(rec.get("lon"))
        row["lat"] = _float(rec.get("lat"))
        if row["lon"] is not None and row["lat"] is not None and not row["location_precision"]:
            row["location_precision"] = "exact"  # the reader's rule for own coordinates
        row["year"] = _int(rec.get("year"))
        row["is_sample"] = _bool(rec.get("is_sample"))
        row["file"] = _text(rec.get("file"))
        row["row"] = _int(rec.get("row"))
        # empty extra cells are left out, so a row's identity does not depend on which other
        # rows of the layer carry extra columns
        row["extra"] = {c: v for c in extras if (v := _text(rec.get(c)))}
        out.append(row)
    return out


def row_hash(position: int, row: dict) -> str:
    """Identity of a row's content at its position in the layer (unchanged rows keep it).

    Coordinates count to 1e-9° (0.1 mm): a registry file that stores them in GCJ-02 or BD-09
    reads back within 1e-12° of what was written, which is no change.
    """
    row = dict(row)
    for key in ("lon", "lat"):
        if row.get(key) is not None:
            row[key] = round(row[key], 9)
    payload = json.dumps([position, row], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.md5(payload.encode("utf-8"), usedforsecurity=False).hexdigest()


def frame_from_records(rows: list[dict]) -> pd.DataFrame:
    """The sites frame ``read_sites`` would return for these rows (same columns and dtypes)."""
    extras: dict[str, None] = {}
    for row in rows:
        for key in row.get("extra") or {}:
            extras.setdefault(key)
    flat = []
    for row in rows:
        rec = {c: row[c] for c in COLUMNS}
        rec["lon"] = np.nan if row["lon"] is None else row["lon"]
        rec["lat"] = np.nan if row["lat"] is None else row["lat"]
        rec["file"] = row["file"]
        rec["row"] = row["row"]
        extra = row.get("extra") or {}
        for key in extras:
            rec[key] = extra.get(key, "")
        flat.append(rec)
    sites = pd.DataFrame(flat, columns=[*COLUMNS, *META_COLUMNS, *extras])
    sites["year"] = pd.array(sites["year"], dtype="Int64")
    sites["lon"] = sites["lon"].astype(float)
    sites["lat"] = sites["lat"].astype(float)
    sites["is_sample"] = sites["is_sample"].astype(bool)
    if sites["row"].notna().all():
        sites["row"] = sites["row"].astype(np.int64)
    return sites


# -- as published: what a store writes (coordinates in their own system, nothing filled in) --

PUBLISHED_DECIMALS = 9  # 1e-9° (0.1 mm): a row's identity (row_hash) counts coordinates so far


def _system(label: str) -> str:
    return parse_crs(label) if label else WGS84


def published(rows: list[dict]) -> list[dict]:
    """The rows as a store writes them: lon/lat back in the system each row was published in
    (``source_crs``; a converted value is rounded to :data:`PUBLISHED_DECIMALS`, so GCJ-02
    101.521459 comes back as 101.521459, not 101.52145900000025; WGS84 keeps every digit),
    and ``location_precision`` left empty where the reader only derived "exact" from the row's
    own coordinates. :func:`as_read` undoes both."""
    out = [dict(row) for row in rows]
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(out):
        if row["lon"] is not None and row["lat"] is not None:
            groups.setdefault(_system(row["source_crs"]), []).append(i)
            if row["location_precision"] == "exact":
                row["location_precision"] = ""
    for system, idx in groups.items():
        if system in (WGS84, CGCS2000):
            continue  # stored as read: every digit kept
        lon = [out[i]["lon"] for i in idx]
        lat = [out[i]["lat"] for i in idx]
        x, y = from_wgs84_any(lon, lat, system)
        for i, a, b in zip(idx, x, y, strict=True):
            out[i]["lon"] = round(float(a), PUBLISHED_DECIMALS)
            out[i]["lat"] = round(float(b), PUBLISHED_DECIMALS)
    return out


def as_read(rows: list[dict]) -> list[dict]:
    """Stored rows back as the reader gives them: WGS84 lon/lat, "exact" for own coordinates.

    A store that keeps the WGS84 point beside the published values passes it as ``wgs84_lon``
    and ``wgs84_lat``: taken as it is, so a row reads back to exactly what was saved (and an
    unchanged layer saved again keeps its version); otherwise the published values are
    converted."""
    out = [dict(row) for row in rows]
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(out):
        exact = row.pop("wgs84_lon", None), row.pop("wgs84_lat", None)
        if row["lon"] is not None and row["lat"] is not None:
            if row["location_precision"] == "":
                row["location_precision"] = "exact"
            if exact[0] is not None and exact[1] is not None:
                row["lon"], row["lat"] = float(exact[0]), float(exact[1])
                continue
            groups.setdefault(_system(row["source_crs"]), []).append(i)
    for system, idx in groups.items():
        x, y = to_wgs84_any([out[i]["lon"] for i in idx], [out[i]["lat"] for i in idx], system)
        for i, a, b in zip(idx, x, y, strict=True):
            out[i]["lon"], out[i]["lat"] = float(a), float(b)
    return out
