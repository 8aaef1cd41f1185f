"""Exports as bytes: GeoJSON (RFC 7946), GeoPackage, CSV for Excel, XLSX.

* GeoJSON: WGS84 lon/lat, no ``crs`` member, coordinates to 6 decimals (~0.1 m), via GDAL's
  RFC 7946 mode.
* CSV: UTF-8 with BOM so Excel shows Chinese correctly; geometry dropped (points keep lon/lat).
* CSV and XLSX neutralise cells Excel would run as formulas (text starting ``= + - @``).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from base.crs import WGS84
from base.errors import InputError
from layers.registry import registry_frame

FORMATS = ("geojson", "gpkg", "csv", "xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start like a formula with ``'`` (numbers are left alone)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    return out


def _tabular(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    return neutralize_formulas(out)


def _clean_for_gdal(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if out[col].dtype == bool:
            out[col] = out[col].astype(int)
        elif isinstance(out[col].dtype, pd.Int64Dtype):
            out[col] = out[col].astype(float)
    return out


def to_geojson(gdf: gpd.GeoDataFrame) -> bytes:
    """RFC 7946 GeoJSON bytes (WGS84, no crs member)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.geojson"
        pyogrio.write_dataframe(
            _clean_for_gdal(gdf),
            path,
            driver="GeoJSON",
            layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "6", "WRITE_BBOX": "NO"},
        )
        return path.read_bytes()


def to_gpkg(gdf: gpd.GeoDataFrame, *, layer: str = "units") -> bytes:
    """GeoPackage bytes with one layer."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.gpkg"
        pyogrio.write_dataframe(_clean_for_gdal(gdf), path, driver="GPKG", layer=layer)
        return path.read_bytes()


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with BOM, formulas neutralised, geometry dropped."""
    return _tabular(frame).to_csv(index=False).encode("utf-8-sig")


def to_xlsx(frame: pd.DataFrame, *, sheet: str = "data") -> bytes:
    """XLSX bytes (openpyxl), formulas neutralised, geometry dropped."""
    buf = io.BytesIO()
    table = _tabular(frame).replace({np.nan: None})
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buf.getvalue()


def export(frame: pd.DataFrame, fmt: str, *, layer: str = "units") -> bytes:
    """Dispatch on format name (one of :data:`FORMATS`)."""
    if fmt == "geojson":
        return to_geojson(frame)
    if fmt == "gpkg":
        return to_gpkg(frame, layer=layer)
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "xlsx":
        return to_xlsx(frame, sheet=layer)
    raise InputError(f"Unknown format '{fmt}'. Use one of {', '.join(FORMATS)}.")


def format_from_suffix(path: Path) -> str:
    """Export format implied by an output file name."""
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"json": "geojson", "geojson": "geojson", "gpkg": "gpkg", "csv": "csv", "xlsx": "xlsx"}
    if suffix not in fmt:
        raise InputError(f"{path.name}: cannot tell the format from '.{suffix}'.")
    return fmt[suffix]


def registry_csv(sites: pd.DataFrame) -> bytes:
    """A registry as CSV bytes: canonical columns (:func:`layers.registry.registry_frame`),
    UTF-8 with BOM, formula-like cells neutralised (``read_sites`` reads such cells back)."""
    return to_csv(registry_frame(sites))
