"""Format readers shared by the command line and the app's upload panel.

Every reader returns a :class:`RawTable`: all cells as text (no type guessing, so codes keep
their leading zeros), the row numbers a user sees (spreadsheet row for CSV/XLSX, feature number
for GeoJSON/Shapefile/GeoPackage), per-row geometry with the file's own coordinate system when
the format has one, rows the reader itself could not use, and notes about what it decided
(encoding, sheet, header row). Validation is not done here (see :mod:`layers.registry`).

Formats: CSV (UTF-8, UTF-8 with BOM, UTF-16, GBK/GB18030 and others detected; comma, tab,
semicolon or bar separated), XLSX (sheet chosen by name or by its header; header row found),
GeoJSON (also a JSON list of records), zipped Shapefile (encoding from ``.cpg``, else detected),
GeoPackage, KML, and a zip holding one of these.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from base.cells import NEUTRALISED
from base.errors import InputError
from layers.columns import canonical_of, header_score
from layers.coords import crs_label, parse_crs
from layers.safety import MAX_UPLOAD_BYTES, check_size, read_zip

HEADER_SCAN_ROWS = 30
TABLE_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
JSON_SUFFIXES = (".geojson", ".json")
VECTOR_SUFFIXES = (".gpkg", ".kml", ".fgb")
SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
OLD_FORMATS = {
    ".xls": "old Excel 97-2003 (.xls)",
    ".et": "WPS spreadsheet (.et)",
    ".ods": "OpenDocument spreadsheet (.ods)",
    ".numbers": "Apple Numbers",
    ".dbf": "a bare .dbf table",
    ".shx": "a bare .shx index",
}
SUPPORTED = "CSV, Excel (.xlsx), GeoJSON, a zipped Shapefile (.zip) or a GeoPackage (.gpkg)"


class _Readable(Protocol):
    def read(self) -> bytes: ...


Source = Path | str | bytes | bytearray | memoryview | _Readable


@dataclass
class RawTable:
    """A file's rows as text, before validation."""

    frame: pd.DataFrame  # text cells ("" when empty), original headers, index = row numbers
    filename: str
    kind: str  # csv, xlsx, geojson, json, shapefile, gpkg, kml
    geometry: gpd.GeoSeries | None = None  # per row, in ``crs`` (None where missing)
    crs: str | None = None  # the file's own coordinate system for ``geometry``
    bad_rows: list[dict] = field(default_factory=list)  # row, column, reason, value
    notes: list[str] = field(default_factory=list)  # what the reader decided, for the report


# --- source handling ------------------------------------------------------------------------


def load_source(
    source: Source, *, filename: str | None = None, limit: int = MAX_UPLOAD_BYTES
) -> tuple[bytes, str, Path | None]:
    """Bytes, display name and path (None for uploads) of a path, bytes or file-like object.

    The size is checked before the content is read where possible.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = filename or "upload"
        check_size(len(data), name, limit=limit)
        return data, name, None
    if hasattr(source, "read") and not isinstance(source, (str, Path)):
        name = filename or Path(str(getattr(source, "name", "upload"))).name
        size = getattr(source, "size", None)
        if isinstance(size, int):
            check_size(size, name, limit=limit)
        data = source.read(limit + 1)  # type: ignore[call-arg]
        check_size(len(data), name, limit=limit)
        return bytes(data), name, None
    path = Path(source)
    name = filename or path.name
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file ({SUPPORTED}).")
    check_size(path.stat().st_size, name, limit=limit)
    return path.read_bytes(), name, path


def _sniff_kind(data: bytes, name: str) -> str:
    """File type from the name's suffix, else from the first bytes (uploads without a name)."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix:
        return suffix
    head = data[:16].lstrip()
    if data[:4] == b"PK\x03\x04":
        return ".zip"
    if data[:16].startswith(b"SQLite format 3"):
        return ".gpkg"
    if head[:1] in (b"{", b"["):
        return ".json"
    return ".csv"


# --- text decoding --------------------------------------------------------------------------


def _cjk_share(text: str) -> float:
    """Share of non-ASCII characters that are CJK, CJK punctuation or full-width forms."""
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return 1.0
    good = sum(
        1
        for c in non_ascii
        if "\u4e00" <= c <= "\u9fff"
        or "\u3000" <= c <= "\u303f"
        or "\uff00" <= c <= "\uffef"
        or c in "°′″·—“”‘’…、"
    )
    return good / len(non_ascii)


def detect_encoding(raw: bytes) -> str | None:
    """Codec for bytes from a Chinese office: UTF-8 (with or without BOM), UTF-16 (BOM),
    GB18030 (a superset of GBK and GB2312) when the result reads as Chinese, else the guess of
    charset-normalizer. None when nothing decodes sensibly.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _cjk_share(text) >= 0.9:
        return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is not None:
        return best.encoding
    return "gb18030" if text is not None else None


def decode_text(raw: bytes, name: str) -> tuple[str, str]:
    """Decoded text and the codec used; :class:`InputError` when no encoding fits."""
    encoding = detect_encoding(raw)
    if encoding is None:
        raise InputError(
            f"{name}: the text encoding is neither UTF-8 nor GBK/GB18030; save it as "
            "'CSV UTF-8' in Excel or WPS."
        )
    try:
        return raw.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"{name}: cannot decode the text as {encoding} ({exc}).") from exc


def _encoding_note(name: str, encoding: str) -> list[str]:
    if encoding in ("utf-8", "utf-8-sig", "ascii"):
        return []
    label = "GBK/GB18030" if encoding == "gb18030" else encoding
    return [f"{name}: text encoding {label} detected"]


# --- tables ---------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A spreadsheet or attribute cell as text: integers without ".0", dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, dt.datetime | pd.Timestamp):
        if pd.isna(value):
            return ""
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _find_header(rows: list[list[str]]) -> int:
    """Index of the header row among the first rows: the first row naming a ``name`` column and
    at least one more known column; else the first row naming ``name``; else the first non-empty.
    """
    first_name = first_nonempty = None
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if not any(c.strip() for c in row):
            continue
        if first_nonempty is None:
            first_nonempty = i
        has_name, score = header_score(row)
        if has_name and score >= 2:
            return i
        if has_name and first_name is None:
            first_name = i
    for candidate in (first_name, first_nonempty):
        if candidate is not None:
            return candidate
    return 0


def _unique_headers(cells: list[str]) -> list[str]:
    """Headers made unique ("名称", "名称 (2)"), empty ones named ``column_N``.

    Linear: a set of the names taken, and per repeated header the next number to try (a
    number once taken stays taken, so the names are those of trying 2, 3, … every time).
    """
    out: list[str] = []
    seen: set[str] = set()
    next_number: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = base = cell.strip() or f"column_{i + 1}"
        n = next_number.get(base, 2)
        while name in seen:
            name, n = f"{base} ({n})", n + 1
        next_number[base] = n
        out.append(name)
        seen.add(name)
    return out


def _table_from_rows(
    rows: list[list[str]], name: str, kind: str, *, strict_width: bool = True, unquote: bool = True
) -> RawTable:
    """Header found, rows padded to the header, row numbers as the user sees them.

    Fully empty rows are skipped (and said so); a row with more non-empty cells than the header
    has columns is rejected when ``strict_width`` (CSV: a value with an unquoted comma shifts
    every cell after it); otherwise (XLSX) such cells become extra columns ``column_N``.
    """
    if not rows or not any(any(c.strip() for c in r) for r in rows):
        raise InputError(f"{name}: the file is empty.")
    h = _find_header(rows)
    header = _merged_header(rows, h)
    notes = []
    header, first_data = _second_header_row(rows, h, header, name=name, notes=notes)
    width, header = _table_width(rows, header, first_data=first_data, strict_width=strict_width)
    headers = _unique_headers(header[:width])
    if h > 0:
        notes.append(f"{name}: header found on row {h + 1}; rows above it skipped")
    data, index, blank, bad = _data_rows(
        rows, h, first_data=first_data, width=width, strict_width=strict_width
    )
    if blank:
        shown = ", ".join(map(str, blank[:10])) + (" …" if len(blank) > 10 else "")
        notes.append(f"{name}: {len(blank)} empty row(s) skipped (rows {shown})")
    frame = pd.DataFrame(data, columns=headers, index=pd.Index(index, dtype="int64"), dtype=object)
    if unquote:
        _unquote_neutralised(frame)
    return RawTable(frame, name, kind, bad_rows=bad, notes=notes)


def _merged_header(rows: list[list[str]], h: int) -> list[str]:
    """The header row (a copy), each empty cell under a merged cell above taking its text."""
    header = list(rows[h])
    if h > 0:
        above = rows[h - 1]
        for j, cell in enumerate(header):
            if not cell.strip() and j < len(above) and above[j].strip():
                header[j] = above[j]
    return header


def _second_header_row(
    rows: list[list[str]], h: int, header: list[str], *, name: str, notes: list[str]
) -> tuple[list[str], int]:
    """Header and first data row index, reading two header rows ("坐标" over "经度 | 纬度") as
    one when the row below names only known columns (noted in ``notes``)."""
    first_data = h + 1
    if h + 1 < len(rows):
        below = rows[h + 1]
        known = [j for j, c in enumerate(below) if c.strip() and canonical_of(c)[0]]
        other = [j for j, c in enumerate(below) if c.strip() and j not in known]
        if known and not other:
            header += [""] * (len(below) - len(header))
            for j in known:
                header[j] = below[j]
            first_data = h + 2
            notes.append(f"{name}: two header rows ({h + 1} and {h + 2}) read as one")
    return header, first_data


def _table_width(
    rows: list[list[str]], header: list[str], *, first_data: int, strict_width: bool
) -> tuple[int, list[str]]:
    """Number of columns kept, and the header padded to it: trailing empty header cells
    (Excel's trailing commas) dropped; without ``strict_width``, widened to the widest row."""
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1  # trailing empty header cells (Excel's trailing commas)
    if not strict_width:
        used = max(
            (
                len(r) - next((k for k, c in enumerate(reversed(r)) if c.strip()), len(r))
                for r in rows[first_data:]
            ),
            default=0,
        )
        width = max(width, used)
        header = header + [""] * (width - len(header))
    return width, header


def _data_rows(
    rows: list[list[str]], h: int, *, first_data: int, width: int, strict_width: bool
) -> tuple[list[list[str]], list[int], list[int], list[dict]]:
    """Data cells padded to ``width``, their row numbers, the empty rows skipped and the rows
    rejected as wider than the header (only when ``strict_width``)."""
    data, index, blank, bad = [], [], [], []
    for i in range(first_data, len(rows)):
        row = rows[i]
        number = i + 1
        if not "".join(row).strip():
            blank.append(number)
            continue
        if strict_width and (
            len(row) > len(rows[h]) or (len(row) > width and "".join(row[width:]).strip())
        ):
            bad.append(
                {
                    "row": number,
                    "column": "",
                    "reason": f"the row has {len(row)} cells but the header has "
                    f"{len(rows[h])} columns (a comma inside a value without quotes?)",
                    "value": ",".join(row)[:200],
                }
            )
            continue
        cells = row[:width]
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        data.append(cells)
        index.append(number)
    return data, index, blank, bad


def _unquote_neutralised(frame: pd.DataFrame) -> None:
    """Cells and headers our own exports neutralised ("'=…") read back as they were (in place)."""
    labels = [c[1:] if re.match(NEUTRALISED, c) else c for c in frame.columns]
    if len(set(labels)) == len(labels):  # never two columns of one name
        frame.columns = labels
    for col in frame.columns:
        values = frame[col].to_numpy()
        maybe = [v[:1] == "'" for v in values]
        if any(maybe):
            quoted = frame[col].where(maybe, "").str.match(NEUTRALISED).fillna(False)
            frame.loc[quoted, col] = frame.loc[quoted, col].str[1:]


def _delimiter(lines: list[str]) -> str:
    """The separator that splits the first lines most consistently (comma wins ties)."""
    best, best_score = ",", 0.0
    sample = [ln for ln in lines if ln.strip()][:20]
    if not sample:
        return ","
    for delim in (",", "\t", ";", "|"):
        counts = [len(next(csv.reader([ln], delimiter=delim))) - 1 for ln in sample]
        if counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * (1 + min(counts[0], 50) / 100)
        if score > best_score + 1e-9:
            best, best_score = delim, score
    return best


def read_csv_bytes(data: bytes, name: str) -> RawTable:
    """CSV/TSV text in any common encoding; row numbers as Excel shows them."""
    text, encoding = decode_text(data, name)
    text = text.lstrip("\ufeff")
    hint = re.match(r"sep=(.)\r?\n", text)  # Excel's separator line; Excel hides it
    if hint:
        text = text[hint.end() :]
    delim = hint.group(1) if hint else _delimiter(text.splitlines()[:40])
    csv.field_size_limit(10 * 2**20)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=True)
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{name}: cannot be read as CSV ({exc}).") from exc
    table = _table_from_rows(rows, name, "csv", unquote="'" in text)
    table.notes[:0] = _encoding_note(name, encoding)
    if delim != ",":
        table.notes.append(f"{name}: columns separated by {delim!r}")
    return table


def read_xlsx_bytes(data: bytes, name: str, *, sheet: str | int | None = None) -> RawTable:
    """An XLSX workbook: the sheet asked for (name or 1-based number), else the first visible
    sheet with a recognisable header. Cached values only: formulas are never evaluated.
    """
    read_zip(data, name)  # the same member and size limits as any archive
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged or encrypted files
        raise InputError(
            f"{name}: cannot be opened as an Excel workbook ({type(exc).__name__}); "
            "is it password-protected or damaged?"
        ) from exc
    try:
        names = book.sheetnames
        if sheet is not None:
            chosen = _pick_sheet(names, sheet, name)
            rows = _sheet_rows(book[chosen])
        else:
            fallback: tuple[str, list[list[str]]] | None = None
            for candidate in names:
                ws = book[candidate]
                if getattr(ws, "sheet_state", "visible") != "visible":
                    continue
                cand_rows = _sheet_rows(ws)
                head = cand_rows[:HEADER_SCAN_ROWS]
                if any(header_score(r)[0] for r in head):
                    chosen, rows = candidate, cand_rows
                    break
                if fallback is None and any(any(c for c in r) for r in head):
                    fallback = (candidate, cand_rows)
            else:
                if fallback is None:
                    raise InputError(f"{name}: every sheet is empty.")
                chosen, rows = fallback
    finally:
        book.close()
    table = _table_from_rows(rows, name, "xlsx", strict_width=False)
    if len(names) > 1:
        table.notes.insert(0, f"{name}: sheet '{chosen}' read (sheets: {', '.join(names)})")
    return table


def _pick_sheet(names: list[str], sheet: str | int, name: str) -> str:
    """A sheet by name, else by its number counted from 1."""
    if str(sheet) in names:
        return str(sheet)
    if isinstance(sheet, int) or str(sheet).isdigit():
        number = int(sheet)
        if 1 <= number <= len(names):
            return names[number - 1]
    raise InputError(f"{name}: no sheet '{sheet}'. Sheets: {', '.join(names)}")


def _sheet_rows(ws: Any) -> list[list[str]]:
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # a wrong <dimension> tag must not cut rows off
    return [
        [cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, min_col=1, values_only=True)
    ]


# --- GeoJSON and JSON -------------------------------------------------------------------------


def _geojson_crs(doc: dict, name: str) -> str | None:
    """The legacy ``crs`` member of pre-RFC 7946 GeoJSON (e.g. EPSG:4490 or a GK zone)."""
    member = doc.get("crs")
    if not isinstance(member, dict):
        return None
    label = (member.get("properties") or {}).get("name")
    if not label:
        return None
    try:
        return parse_crs(str(label))
    except InputError as exc:
        raise InputError(f"{name}: the GeoJSON crs member '{label}' is not understood.") from exc


def read_json_bytes(data: bytes, name: str) -> RawTable:
    """GeoJSON FeatureCollection / Feature, or a JSON list of records; row = feature number."""
    import shapely.geometry

    text, encoding = decode_text(data, name)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{name}: not valid GeoJSON ({exc.msg}, line {exc.lineno})."
        raise InputError(msg) from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    bad: list[dict] = []
    if isinstance(doc, list):
        if not all(isinstance(r, dict) for r in doc):
            raise InputError(f"{name}: a JSON list must hold one object per site.")
        records = [{k: cell_text(v) for k, v in r.items()} for r in doc]
        frame = pd.DataFrame.from_records(records).fillna("").astype(object)
        frame.index = pd.Index(np.arange(1, len(frame) + 1), dtype="int64")
        return RawTable(frame, name, "json", notes=_encoding_note(name, encoding))
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InputError(f"{name}: a GeoJSON FeatureCollection with features is needed.")
    crs = _geojson_crs(doc, name)
    records, geoms = [], []
    for i, feat in enumerate(features, start=1):
        feat = feat if isinstance(feat, dict) else {}
        props = feat.get("properties")
        props = props if isinstance(props, dict) else {}
        records.append({k: _json_cell(v) for k, v in props.items()})
        geom = feat.get("geometry")
        shape = None
        if geom:
            try:
                shape = shapely.geometry.shape(geom)
            except Exception as exc:  # shapely raises several types for malformed input
                bad.append(
                    {
                        "row": i,
                        "column": "geometry",
                        "reason": f"the geometry is not valid GeoJSON ({exc})",
                        "value": json.dumps(geom)[:200],
                    }
                )
        geoms.append(shape)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame = frame.fillna("").astype(object)
    frame.index = pd.Index(np.arange(1, len(features) + 1), dtype="int64")
    bad_rows = {b["row"] for b in bad}
    keep = ~frame.index.isin(list(bad_rows))
    geometry = gpd.GeoSeries(geoms, index=frame.index)[keep]
    return RawTable(
        frame[keep],
        name,
        "geojson",
        geometry=geometry,
        crs=crs,
        bad_rows=bad,
        notes=_encoding_note(name, encoding),
    )


def _json_cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return cell_text(value)


# --- Shapefile, GeoPackage, KML ---------------------------------------------------------------

_CPG = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "65001": "utf-8",
    "936": "gb18030",
    "cp936": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "ansi936": "gb18030",
    "54936": "gb18030",
    "950": "big5",
    "big5": "big5",
    "88591": "latin-1",
    "iso88591": "latin-1",
    "latin1": "latin-1",
    "1252": "cp1252",
}


def _cpg_codec(text: str) -> str | None:
    key = text.strip().lower().replace(" ", "").replace("_", "")
    if key in _CPG:
        return _CPG[key]
    key = key.replace("-", "")
    if key in _CPG:
        return _CPG[key]
    import codecs

    try:
        return codecs.lookup(text.strip()).name
    except LookupError:
        return None


def _dbf_text_bytes(dbf: bytes) -> bytes:
    """Field names and records of a .dbf (the part whose encoding matters)."""
    return dbf[32:] if len(dbf) > 32 else b""


def shapefile_encoding(members: dict[str, bytes], stem: str, name: str) -> tuple[str, list[str]]:
    """Encoding of a shapefile's attributes: the ``.cpg`` when it decodes them, else detected."""
    dbf = members.get(stem + ".dbf", b"")
    sample = _dbf_text_bytes(dbf)
    cpg = members.get(stem + ".cpg")
    notes: list[str] = []
    if cpg is not None:
        declared = cpg.decode("ascii", "replace").strip()
        codec = _cpg_codec(declared)
        if codec:
            try:
                sample.decode(codec)
            except UnicodeDecodeError:
                notes.append(
                    f"{name}: the .cpg says {declared!r} but the attributes are not in it; "
                    "encoding detected instead"
                )
            else:
                return codec, notes
    detected = detect_encoding(sample) or "gb18030"
    if detected in ("utf-8", "utf-8-sig") or all(b < 128 for b in sample):
        return "utf-8", notes
    label = "GBK/GB18030" if detected == "gb18030" else detected
    if cpg is None:
        notes.append(f"{name}: no .cpg file; attribute encoding {label} detected")
    return detected, notes


def _shape_members(members: dict[str, bytes], name: str, want: str | None) -> tuple[str, dict]:
    """The .shp (and its sibling files) to read from an archive's members."""
    shp = sorted(m for m in members if m.lower().endswith(".shp"))
    if not shp:
        raise InputError(f"{name}: no .shp file in the archive.")
    if want is not None:
        matches = [m for m in shp if PurePosixPath(m).stem == str(want)]
        if not matches:
            layers = ", ".join(PurePosixPath(m).stem for m in shp)
            raise InputError(f"{name}: no shapefile '{want}'. Shapefiles: {layers}")
        shp = matches
    chosen = shp[0]
    base = chosen[:-4]
    parts = {
        m[len(base) :].lower(): data
        for m, data in members.items()
        if m[: len(base)] == base and m[len(base) :].lower() in SHAPE_PARTS
    }
    missing = [p for p in (".dbf",) if p not in parts]
    if missing:
        raise InputError(f"{name}: the shapefile {PurePosixPath(chosen).name} has no .dbf file.")
    return chosen, parts


def _read_shapefile(
    members: dict[str, bytes], name: str, *, layer: str | None = None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    import pyogrio

    chosen, parts = _shape_members(members, name, layer)
    notes = []
    others = [m for m in members if m.lower().endswith(".shp") and m != chosen]
    if others:
        notes.append(f"{name}: shapefile {chosen} read (also in the archive: {', '.join(others)})")
    encoding, enc_notes = shapefile_encoding(
        {"layer" + k: v for k, v in parts.items()}, "layer", name
    )
    notes += enc_notes
    if ".prj" not in parts:
        notes.append(f"{name}: no .prj file; the coordinate system is guessed from the values")
    with tempfile.TemporaryDirectory() as tmp:
        for ext, content in parts.items():
            Path(tmp, "layer" + ext).write_bytes(content)  # fixed safe names, never the member's
        if ".shx" not in parts:
            notes.append(f"{name}: no .shx index file; rebuilt from the .shp")
        before = pyogrio.get_gdal_config_option("SHAPE_RESTORE_SHX")
        pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": "YES"})
        try:
            gdf = _pyogrio_read(Path(tmp, "layer.shp"), name, encoding=encoding)
        finally:
            pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": before})
    return gdf, notes


def _pyogrio_read(path: Path | io.BytesIO, name: str, **kwargs: Any) -> gpd.GeoDataFrame:
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(path, **kwargs)
    except Exception as exc:  # GDAL errors come in several types
        raise InputError(f"{name}: cannot be read ({exc}).") from exc


def _read_gdal_bytes(
    data: bytes, name: str, suffix: str, *, layer: str | None, prefer: str | None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """GeoPackage / KML / FlatGeobuf through GDAL; the layer asked for, else the first layer
    whose geometry type suits (points for sites, polygons for boundaries)."""
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "data" + suffix)
        path.write_bytes(data)
        try:
            layers = pyogrio.list_layers(path)
        except Exception as exc:  # damaged file
            raise InputError(f"{name}: cannot be read ({exc}).") from exc
        names = [str(row[0]) for row in layers]
        if not names:
            raise InputError(f"{name}: holds no layer.")
        if layer is not None:
            if str(layer) not in names:
                raise InputError(f"{name}: no layer '{layer}'. Layers: {', '.join(names)}")
            chosen = str(layer)
        else:
            chosen = names[0]
            if prefer:
                for lname, gtype in layers:
                    if gtype and prefer in str(gtype).lower():
                        chosen = str(lname)
                        break
        gdf = _pyogrio_read(path, name, layer=chosen)
    notes = (
        [f"{name}: layer '{chosen}' read (layers: {', '.join(names)})"] if len(names) > 1 else []
    )
    return gdf, notes


def _vector_table(gdf: gpd.GeoDataFrame, name: str, kind: str, notes: list[str]) -> RawTable:
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame = pd.DataFrame(
        {col: [cell_text(v) for v in attrs[col].tolist()] for col in attrs.columns},
        dtype=object,
    )
    index = pd.Index(np.arange(1, len(gdf) + 1), dtype="int64")
    frame.index = index
    geometry = gpd.GeoSeries(gdf.geometry.to_numpy(), index=index)
    crs = crs_label(gdf.crs) if gdf.crs is not None else None
    return RawTable(frame, name, kind, geometry=geometry, crs=crs, notes=notes)


# --- dispatch ---------------------------------------------------------------------------------


def read_table(
    source: Source,
    *,
    filename: str | None = None,
    sheet: str | int | None = None,
    limit: int = MAX_UPLOAD_BYTES,
    prefer_geometry: str | None = "point",
) -> RawTable:
    """Read any supported file into a :class:`RawTable`.

    ``source`` is a path, bytes (then ``filename`` tells the format) or a file-like object with
    ``read()`` and ``name`` (an upload). ``sheet`` picks an XLSX sheet, a GeoPackage layer or a
    shapefile in a zip. ``prefer_geometry`` picks the first GeoPackage layer of that type.
    """
    data, name, path = load_source(source, filename=filename, limit=limit)
    kind = _sniff_kind(data, name)
    if path is not None and kind == ".shp":
        members = {
            p.name: p.read_bytes()
            for p in path.parent.glob(path.stem + ".*")
            if p.suffix.lower() in SHAPE_PARTS
        }
        gdf, notes = _read_shapefile(members, name, layer=path.stem)
        return _vector_table(gdf, name, "shapefile", notes)
    return _dispatch(data, name, kind, sheet=sheet, prefer=prefer_geometry, depth=0)


def _dispatch(
    data: bytes, name: str, kind: str, *, sheet: Any, prefer: str | None, depth: int
) -> RawTable:
    readers: dict[str, Callable[[], RawTable]] = {
        **{s: lambda: read_csv_bytes(data, name) for s in TABLE_SUFFIXES},
        **{s: lambda: read_xlsx_bytes(data, name, sheet=sheet) for s in EXCEL_SUFFIXES},
        **{s: lambda: read_json_bytes(data, name) for s in JSON_SUFFIXES},
    }
    if kind in readers:
        return readers[kind]()
    if kind in VECTOR_SUFFIXES:
        gdf, notes = _read_gdal_bytes(data, name, kind, layer=sheet, prefer=prefer)
        return _vector_table(gdf, name, kind.lstrip("."), notes)
    if kind == ".zip":
        members = read_zip(data, name)
        if any(m.lower().endswith(".shp") for m in members):
            gdf, notes = _read_shapefile(members, name, layer=sheet)
            return _vector_table(gdf, name, "shapefile", notes)
        inner = [
            m
            for m in members
            if PurePosixPath(m.lower()).suffix
            in (*TABLE_SUFFIXES, *EXCEL_SUFFIXES, *JSON_SUFFIXES, *VECTOR_SUFFIXES)
        ]
        if depth == 0 and len(inner) == 1:
            member = inner[0]
            table = _dispatch(
                members[member],
                name,
                PurePosixPath(member.lower()).suffix,
                sheet=sheet,
                prefer=prefer,
                depth=1,
            )
            table.notes.insert(0, f"{name}: read {member} from the archive")
            return table
        found = ", ".join(members) or "nothing"
        raise InputError(
            f"{name}: the archive must hold one shapefile or one data file; it holds {found}."
        )
    if kind == ".shp":
        raise InputError(
            f"{name}: a shapefile is several files (.shp, .shx, .dbf, .prj, .cpg); "
            "upload them together as one .zip."
        )
    if kind in OLD_FORMATS:
        raise InputError(
            f"{name}: unsupported file type '{kind}' ({OLD_FORMATS[kind]}). Open it in Excel or "
            "WPS and save it as .xlsx or CSV."
        )
    raise InputError(f"{name}: unsupported file type '{kind}'. Use {SUPPORTED}.")
