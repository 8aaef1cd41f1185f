"""Exports as bytes: GeoJSON (RFC 7946), GeoPackage, CSV for Excel, XLSX.

* GeoJSON: WGS84 lon/lat, no ``crs`` member, coordinates to 6 decimals (~0.1 m), via GDAL's
  RFC 7946 mode; the collection is named after the layer.
* GeoPackage 1.2, the version GDAL 3.6 and QGIS 3.22 (Debian stable, many office desktops) read
  without a warning.
* Counts, populations, years and row numbers are integer fields (empty where unknown) in every
  format, never ``3.0`` or text.
* CSV: UTF-8 with BOM so Excel shows Chinese correctly; geometry dropped (points keep lon/lat);
  rows end in CRLF (RFC 4180, as Excel writes), so a cell holding a line break or a bare carriage
  return is quoted and stays one cell (with ``\n`` endings Python's writer leaves ``\r`` bare, and
  Excel, LibreOffice and the csv module then start a new row there).
* CSV and XLSX neutralise cells and headers Excel would run as formulas (:mod:`base.cells`: text
  starting ``= + - @``, also after leading spaces or control characters); XLSX stores every cell
  as a value, never a formula, and replaces the control characters XML cannot hold with U+FFFD.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from base.cells import neutralise
from base.crs import WGS84
from base.errors import InputError
from geo.boundaries import as_multipolygons
from geo.simplify import EXPORT_GRID, snap_coverage
from layers.registry import registry_frame

FORMATS = ("geojson", "gpkg", "csv", "xlsx")
GPKG_VERSION = "1.2"
# Whole numbers by meaning (a float column only because some rows are unknown): written as
# integers, nullable. Counts per layer are ``n_<layer>``, ``n_<layer>_sample``, ...
INTEGER_COLUMNS = frozenset(
    {"pop_2020", "n_villages", "year", "row", "source_row", "version", "n_rows", "n_added"}
    | {"n_removed", "n_townships"}
)


def integer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Number columns of :data:`INTEGER_COLUMNS` (and ``n_*`` counts) as nullable integers
    (Int64) when every known value is whole and fits; text columns are never touched (a
    user's "007" stays "007")."""
    out = frame.copy()
    for col in out.columns:
        if col not in INTEGER_COLUMNS and not str(col).startswith("n_"):
            continue
        values = out[col]
        if values.dtype == bool or not pd.api.types.is_float_dtype(values.dtype):
            continue  # already integers, or not numbers at all
        known = values.dropna()
        finite = np.isfinite(known).all() and (known.abs() < 2**53).all()
        if finite and (known == known.round()).all():
            out[col] = values.round().astype("Int64")
    return out


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells and column labels that start like a formula with ``'``
    (:func:`base.cells.neutralise`; numbers are left alone)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def _tabular(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    return neutralize_formulas(integer_columns(out))


def _polygonal(gdf: gpd.GeoDataFrame) -> bool:
    kinds = set(gdf.geometry.dropna().geom_type)
    return bool(kinds) and kinds <= {"Polygon", "MultiPolygon"}


def clean_for_gdal(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """WGS84, integer fields, and units snapped to the written precision as one coverage."""
    out = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
    out = gpd.GeoDataFrame(integer_columns(out), geometry=out.geometry.name, crs=WGS84)
    if _polygonal(out):
        out = snap_coverage(out, grid=EXPORT_GRID)
        out[out.geometry.name] = as_multipolygons(out.geometry.to_numpy())
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == bool:
            out[col] = out[col].astype(int)
    return out


def to_geojson(gdf: gpd.GeoDataFrame, *, layer: str = "units") -> bytes:
    """RFC 7946 GeoJSON bytes (WGS84, no crs member), the collection named ``layer``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.geojson"
        pyogrio.write_dataframe(
            clean_for_gdal(gdf),
            path,
            layer=layer,
            driver="GeoJSON",
            layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "6", "WRITE_BBOX": "NO"},
        )
        return path.read_bytes()


def to_gpkg(gdf: gpd.GeoDataFrame, *, layer: str = "units") -> bytes:
    """GeoPackage bytes (version :data:`GPKG_VERSION`) with one layer named ``layer``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.gpkg"
        pyogrio.write_dataframe(
            clean_for_gdal(gdf),
            path,
            driver="GPKG",
            layer=layer,
            dataset_options={"VERSION": GPKG_VERSION},
        )
        return path.read_bytes()


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with BOM and CRLF rows, formulas neutralised, geometry dropped: the writer
    of the CSVs people open (downloads, check report, registry store and its build scripts)."""
    return _tabular(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xml_text(value: object) -> object:
    """Text without the control characters XML 1.0 cannot hold (openpyxl refuses them)."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


def to_xlsx(frame: pd.DataFrame, *, sheet: str = "data") -> bytes:
    """XLSX bytes (openpyxl), formulas neutralised, geometry dropped; every cell is stored as a
    value: one that openpyxl took for a formula (text starting ``=``) is turned back into text."""
    buf = io.BytesIO()
    table = _tabular(frame)
    table = table.astype(object).where(table.notna(), None).map(_xml_text)
    table.columns = [_xml_text(c) for c in table.columns]
    name = sheet[:31]
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name=name, index=False)
        for row in writer.sheets[name].iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    return buf.getvalue()


def export(frame: pd.DataFrame, fmt: str, *, layer: str = "units") -> bytes:
    """Dispatch on format name (one of :data:`FORMATS`)."""
    if fmt == "geojson":
        return to_geojson(frame, layer=layer)
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
