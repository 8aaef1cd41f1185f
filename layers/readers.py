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

Reading is bounded and linear in the file's size: the limits of :mod:`layers.safety` (columns,
rows, sheets looked at, features, vertices, JSON depth) are checked from headers, metadata or a
cheap pass (:mod:`layers.prescan`) before the work they bound, and the upload's time budget
between blocks of work; a damaged or hostile file is one :class:`InputError`, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from base.cells import NEUTRALISED
from base.errors import InputError
from layers.columns import canonical_of, header_score
from layers.coords import checked_crs_label, parse_crs
from layers.prescan import dbf_counts, json_shape, shared_strings, shp_counts, unsized_sheet_bytes
from layers.safety import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_SHARED_STRINGS,
    MAX_SHARED_STRINGS_BYTES,
    MAX_SHEETS_READ,
    MAX_UNSIZED_SHEET_BYTES,
    MAX_UPLOAD_BYTES,
    MIN_CELL_XML,
    SITE_LIMITS,
    Limits,
    check_cells,
    check_columns,
    check_depth,
    check_features,
    check_rows,
    check_size,
    check_time,
    check_vertices,
    read_zip,
    time_budget,
    verify_zip,
)

HEADER_SCAN_ROWS = 30
_CHECK_EVERY = 4096  # rows or features between two looks at the upload's time budget
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
SUPPORTED_ZH = "CSV、Excel(.xlsx)、GeoJSON、压缩的 Shapefile(.zip)或 GeoPackage(.gpkg)"


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


def source_name(source: Source, filename: str | None = None) -> str:
    """The name a file is shown by in messages: ``filename``, else the path's or upload's."""
    if filename:
        return filename
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "upload"
    if hasattr(source, "read") and not isinstance(source, (str, Path)):
        return Path(str(getattr(source, "name", "upload"))).name
    return Path(source).name


def load_source(
    source: Source, *, filename: str | None = None, limit: int = MAX_UPLOAD_BYTES
) -> tuple[bytes, str, Path | None]:
    """Bytes, display name and path (None for uploads) of a path, bytes or file-like object.

    The size is checked before the content is read where possible.
    """
    name = source_name(source, filename)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        check_size(len(data), name, limit=limit)
        return data, name, None
    if hasattr(source, "read") and not isinstance(source, (str, Path)):
        size = getattr(source, "size", None)
        if isinstance(size, int):
            check_size(size, name, limit=limit)
        data = source.read(limit + 1)  # type: ignore[call-arg]
        check_size(len(data), name, limit=limit)
        return bytes(data), name, None
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: file not found.", zh=f"{path}: 找不到文件。")
    if path.is_dir():
        raise InputError(
            f"{path}: is a folder; give a file ({SUPPORTED}).",
            zh=f"{path}: 是文件夹, 请给出文件({SUPPORTED_ZH})。",
        )
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
            "'CSV UTF-8' in Excel or WPS.",
            zh=f"{name}: 文本编码既不是 UTF-8 也不是 GBK/GB18030; 请在 Excel 或 WPS 中另存为"
            "“CSV UTF-8”。",
        )
    try:
        return raw.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(
            f"{name}: cannot decode the text as {encoding} ({exc}).",
            zh=f"{name}: 无法按 {encoding} 解码文本({exc})。",
        ) from exc


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
        raise InputError(f"{name}: the file is empty.", zh=f"{name}: 文件是空的。")
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
        if i % _CHECK_EVERY == 0:
            check_time()
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


def _used_width(cells: Sequence[Any]) -> int:
    """Cells up to the last one holding something (Excel pads rows with empty cells)."""
    for k in range(len(cells) - 1, -1, -1):
        value = cells[k]
        if value is not None and str(value).strip():
            return k + 1
    return 0


def _bounded_rows(
    rows: Iterable[Sequence[Any]],
    name: str,
    *,
    every_row: bool,
    cell: Callable[[Any], str] | None = None,
) -> list[list[str]]:
    """The rows (each cell through ``cell`` when given), refused as soon as one is past a limit.

    Columns: the cells used in the first rows, where the header is (CSV: a wider data row is
    rejected on its own later), or in ``every_row`` (XLSX: every column is kept), checked before
    the row is converted. Rows: the non-empty ones, above the header rows' allowance. Cells:
    those up to the last one used in each row (Excel's trailing empty cells are dropped later).
    """
    out: list[list[str]] = []
    filled = cells = 0
    for i, raw in enumerate(rows):
        if len(raw) > MAX_COLUMNS and (every_row or i <= HEADER_SCAN_ROWS):
            check_columns(_used_width(raw), name, row=i + 1)
        row = [cell(v) for v in raw] if cell is not None else list(raw)
        used = _used_width(row)
        if used:
            filled += 1
            cells += used
            if filled > MAX_ROWS + HEADER_SCAN_ROWS:
                check_rows(filled - HEADER_SCAN_ROWS, name)
            if cells > MAX_CELLS:
                check_cells(cells, name)
        if i % _CHECK_EVERY == 0:
            check_time()
        out.append(row)
    return out


def read_csv_bytes(data: bytes, name: str) -> RawTable:
    """CSV/TSV text in any common encoding; row numbers as Excel shows them."""
    text, encoding = decode_text(data, name)
    text = text.lstrip("\ufeff")
    hint = re.match(r"sep=(.)\r?\n", text)  # Excel's separator line; Excel hides it
    if hint:
        text = text[hint.end() :]
    # A cell may be as long as the file (the byte limit bounds it), not only the csv module's
    # default of 128 K characters; the limit is process-wide, so it is only ever raised.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        delim = hint.group(1) if hint else _delimiter(text.splitlines()[:40])
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=True)
        rows = _bounded_rows(reader, name, every_row=False)
    except csv.Error as exc:
        raise InputError(
            f"{name}: cannot be read as CSV ({exc}).", zh=f"{name}: 无法按 CSV 读取({exc})。"
        ) from exc
    table = _table_from_rows(rows, name, "csv", unquote="'" in text)
    table.notes[:0] = _encoding_note(name, encoding)
    if delim != ",":
        table.notes.append(f"{name}: columns separated by {delim!r}")
    return table


def _check_shared_strings(data: bytes, name: str) -> None:
    """Refuse a workbook whose shared texts would cost more to open than its cells can use."""
    texts, size, sheets = shared_strings(data)
    usable = sheets // MIN_CELL_XML + 1000
    if texts > min(MAX_SHARED_STRINGS, usable) or size > MAX_SHARED_STRINGS_BYTES:
        raise InputError(
            f"{name}: the workbook holds {texts:,} shared texts ({size / 2**20:.0f} MB), more "
            f"than its sheets can use (at most {min(MAX_SHARED_STRINGS, usable):,}) or than "
            f"the limit of {MAX_SHARED_STRINGS_BYTES // 2**20} MB; open it in Excel or WPS and "
            "save it again.",
            zh=f"{name}: 工作簿含 {texts:,} 个共享文本({size / 2**20:.0f} MB), 超过其工作表能用到的"
            f"数量(最多 {min(MAX_SHARED_STRINGS, usable):,} 个)或 "
            f"{MAX_SHARED_STRINGS_BYTES // 2**20} MB 上限; 请用 Excel 或 WPS 打开后重新保存。",
        )


def read_xlsx_bytes(data: bytes, name: str, *, sheet: str | int | None = None) -> RawTable:
    """An XLSX workbook: the sheet asked for (name or 1-based number), else the first visible
    sheet (of the first :data:`MAX_SHEETS_READ`) with a recognisable header, found from each
    sheet's first rows. Cached values only: formulas are never evaluated.
    """
    verify_zip(data, name)  # the same member, size and ratio limits as any archive
    unsized = unsized_sheet_bytes(data)
    if unsized > MAX_UNSIZED_SHEET_BYTES:
        limit = MAX_UNSIZED_SHEET_BYTES // 2**20
        raise InputError(
            f"{name}: its sheets do not state their size and hold {unsized / 2**20:.0f} MB of "
            f"XML, more than the limit of {limit} MB read to find it out; open the workbook in "
            "Excel or WPS and save it again.",
            zh=f"{name}: 工作表未注明范围, 共 {unsized / 2**20:.0f} MB XML, 超过为确定范围而读取的 "
            f"{limit} MB 上限; 请用 Excel 或 WPS 打开后重新保存。",
        )
    _check_shared_strings(data, name)
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged or encrypted files
        raise InputError(
            f"{name}: cannot be opened as an Excel workbook ({type(exc).__name__}); "
            "is it password-protected or damaged?",
            zh=f"{name}: 无法作为 Excel 工作簿打开({type(exc).__name__}), 是否有密码保护或已损坏?",
        ) from exc
    try:
        names = book.sheetnames
        chosen = _pick_sheet(names, sheet, name) if sheet is not None else _find_sheet(book, name)
        rows = _sheet_rows(book[chosen], name)
    finally:
        book.close()
    table = _table_from_rows(rows, name, "xlsx", strict_width=False)
    if len(names) > 1:
        table.notes.insert(0, f"{name}: sheet '{chosen}' read (sheets: {', '.join(names)})")
    return table


def _find_sheet(book: Any, name: str) -> str:
    """The first visible sheet whose first rows hold a header naming a ``name`` column, else the
    first with anything in them; only the first :data:`MAX_SHEETS_READ` are looked at (a
    workbook of hundreds of sheets is refused when none of them has the header)."""
    visible = [
        n for n in book.sheetnames if getattr(book[n], "sheet_state", "visible") == "visible"
    ]
    fallback = None
    for candidate in visible[:MAX_SHEETS_READ]:
        head = _sheet_rows(book[candidate], name, limit=HEADER_SCAN_ROWS)
        if any(header_score(r)[0] for r in head):
            return candidate
        if fallback is None and any(any(c for c in r) for r in head):
            fallback = candidate
    if len(visible) > MAX_SHEETS_READ:
        raise InputError(
            f"{name}: none of the first {MAX_SHEETS_READ} of its {len(visible)} sheets has a "
            f"header with a name column (名称), and at most {MAX_SHEETS_READ} sheets are looked "
            "at; move the registry to the first sheet or name its sheet.",
            zh=f"{name}: 共 {len(visible)} 个工作表, 前 {MAX_SHEETS_READ} 个中没有带“名称”"
            f"列的表头, 而最多只查看 {MAX_SHEETS_READ} 个工作表; "
            "请把名录放在第一个工作表, 或指定工作表。",
        )
    if fallback is None:
        raise InputError(f"{name}: every sheet is empty.", zh=f"{name}: 所有工作表都是空的。")
    return fallback


def _pick_sheet(names: list[str], sheet: str | int, name: str) -> str:
    """A sheet by name, else by its number counted from 1."""
    if str(sheet) in names:
        return str(sheet)
    if isinstance(sheet, int) or str(sheet).isdigit():
        number = int(sheet)
        if 1 <= number <= len(names):
            return names[number - 1]
    raise InputError(
        f"{name}: no sheet '{sheet}'. Sheets: {', '.join(names)}",
        zh=f"{name}: 没有工作表“{sheet}”。工作表: {', '.join(names)}",
    )


def _sheet_rows(ws: Any, name: str, *, limit: int | None = None) -> list[list[str]]:
    """The sheet's cells as text (its first ``limit`` rows when given), within the limits."""
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # a wrong <dimension> tag must not cut rows off
    try:
        rows = ws.iter_rows(min_row=1, min_col=1, max_row=limit, values_only=True)
        return _bounded_rows(rows, name, every_row=True, cell=cell_text)
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many types for damaged sheets (a 5,000-digit
        # number is a ValueError): one sentence, never a traceback
        raise InputError(
            f"{name}: the sheet '{ws.title}' cannot be read ({type(exc).__name__}: {exc}); "
            "is the workbook damaged?",
            zh=f"{name}: 工作表“{ws.title}”无法读取({type(exc).__name__}: {exc}), "
            "工作簿是否已损坏?",
        ) from exc


# --- GeoJSON and JSON -------------------------------------------------------------------------


def _geojson_crs(doc: dict, name: str) -> str | None:
    """The legacy ``crs`` member of pre-RFC 7946 GeoJSON (e.g. EPSG:4490 or a GK zone)."""
    member = doc.get("crs")
    if not isinstance(member, dict):
        return None
    props = member.get("properties")
    label = props.get("name") if isinstance(props, dict) else None
    if not label:
        return None
    try:
        return parse_crs(str(label))
    except InputError as exc:
        raise InputError(
            f"{name}: the GeoJSON crs member '{label}' is not understood.",
            zh=f"{name}: 无法识别 GeoJSON 的 crs 成员“{label}”。",
        ) from exc


def _parse_json(data: bytes, name: str, *, limits: Limits) -> tuple[Any, str]:
    """The parsed document and its encoding, after its nesting depth and positions were counted
    (refused past :data:`MAX_JSON_DEPTH` or the vertex limit, before anything is built)."""
    text, encoding = decode_text(data, name)
    depth, positions = json_shape(data if encoding in ("utf-8", "utf-8-sig") else text.encode())
    check_depth(depth, name)
    check_vertices(positions, name, limits=limits)
    check_time()
    try:
        return json.loads(text), encoding
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not valid GeoJSON ({exc.msg}, line {exc.lineno}).",
            zh=f"{name}: 不是有效的 GeoJSON({exc.msg}, 第 {exc.lineno} 行)。",
        ) from exc
    except (RecursionError, ValueError) as exc:  # nesting the count missed; a 5,000-digit number
        raise InputError(
            f"{name}: not valid GeoJSON ({exc}).", zh=f"{name}: 不是有效的 GeoJSON({exc})。"
        ) from exc


def _check_keys(objects: Iterable[Any], name: str) -> None:
    """Refuse records (or feature properties) with more distinct keys than columns allowed,
    or more values than cells allowed."""
    keys: set[str] = set()
    values = 0
    for obj in objects:
        if isinstance(obj, dict):
            keys.update(obj)
            values += len(obj)
    check_columns(len(keys), name)
    check_cells(values, name)


def _json_records(doc: list, name: str, encoding: str) -> RawTable:
    """A JSON list of records: one row per object."""
    if not all(isinstance(r, dict) for r in doc):
        raise InputError(
            f"{name}: a JSON list must hold one object per site.",
            zh=f"{name}: JSON 列表中每个站点须是一个对象。",
        )
    check_rows(len(doc), name)
    _check_keys(doc, name)
    records = [{k: cell_text(v) for k, v in r.items()} for r in doc]
    frame = pd.DataFrame.from_records(records).fillna("").astype(object)
    frame.index = pd.Index(np.arange(1, len(frame) + 1), dtype="int64")
    return RawTable(frame, name, "json", notes=_encoding_note(name, encoding))


def read_json_bytes(data: bytes, name: str, *, limits: Limits = SITE_LIMITS) -> RawTable:
    """GeoJSON FeatureCollection / Feature, or a JSON list of records; row = feature number."""
    import shapely.geometry

    doc, encoding = _parse_json(data, name, limits=limits)
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    bad: list[dict] = []
    if isinstance(doc, list):
        return _json_records(doc, name, encoding)
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InputError(
            f"{name}: a GeoJSON FeatureCollection with features is needed.",
            zh=f"{name}: 需要含要素(features)的 GeoJSON FeatureCollection。",
        )
    check_features(len(features), name, limits=limits)
    _check_keys((f.get("properties") for f in features if isinstance(f, dict)), name)
    crs = _geojson_crs(doc, name)
    records, geoms = [], []
    for i, feat in enumerate(features, start=1):
        if i % _CHECK_EVERY == 0:
            check_time()
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
    """Field names and records of a .dbf (the part whose encoding matters), without the binary
    parts of the field descriptors: a field 200 characters wide is a byte 0xC8 there, which is
    no text in any encoding (it made every .cpg look wrong)."""
    if len(dbf) <= 32:
        return b""
    header = int.from_bytes(dbf[8:10], "little")
    if not 33 <= header <= len(dbf):
        return dbf[32:]
    names = b" ".join(dbf[k : k + 11].rstrip(b"\0") for k in range(32, header - 1, 32))
    return names + b" " + dbf[header:]


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
    if detected in ("utf-8", "utf-8-sig") or sample.isascii():
        return "utf-8", notes
    label = "GBK/GB18030" if detected == "gb18030" else detected
    if cpg is None:
        notes.append(f"{name}: no .cpg file; attribute encoding {label} detected")
    return detected, notes


def _shape_members(members: dict[str, bytes], name: str, want: str | None) -> tuple[str, dict]:
    """The .shp (and its sibling files) to read from an archive's members."""
    shp = sorted(m for m in members if m.lower().endswith(".shp"))
    if not shp:
        raise InputError(
            f"{name}: no .shp file in the archive.", zh=f"{name}: 压缩包中没有 .shp 文件。"
        )
    if want is not None:
        matches = [m for m in shp if PurePosixPath(m).stem == str(want)]
        if not matches:
            layers = ", ".join(PurePosixPath(m).stem for m in shp)
            raise InputError(
                f"{name}: no shapefile '{want}'. Shapefiles: {layers}",
                zh=f"{name}: 没有名为“{want}”的 Shapefile。Shapefile: {layers}",
            )
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
        shp = PurePosixPath(chosen).name
        raise InputError(
            f"{name}: the shapefile {shp} has no .dbf file.",
            zh=f"{name}: Shapefile {shp} 缺少 .dbf 文件。",
        )
    return chosen, parts


def _check_shapefile(parts: dict[str, bytes], name: str, *, limits: Limits) -> None:
    """Features, vertices and fields of a shapefile from its headers, refused past the limits
    before a byte of it is written or parsed."""
    records, fields = dbf_counts(parts[".dbf"])
    check_columns(fields, name)
    check_features(records, name, limits=limits)
    check_cells(records * fields, name)
    shapes, vertices = shp_counts(parts.get(".shp", b""), cap=limits.features)
    check_features(shapes, name, limits=limits, at_least=True)
    check_vertices(vertices, name, limits=limits)


def _prj_notes(parts: dict[str, bytes], name: str) -> list[str]:
    """Notes on the ``.prj``; one that names no coordinate system that can be converted (garbled
    text, an unknown projection, a local system) is removed from ``parts``.

    The file is then read as one without a ``.prj`` (the system recognised from the values:
    degrees, or CGCS2000 Gauss-Krüger near Xining, else refused with a request to name it),
    and the note says so: refusing a file whose coordinates are plainly usable over a broken
    side file would help no one, and guessing without saying would hide a wrong guess.
    """
    if ".prj" not in parts:
        return [f"{name}: no .prj file; the coordinate system is guessed from the values"]
    _label, problem = checked_crs_label(parts[".prj"].decode("utf-8", "replace").strip())
    if problem is None:
        return []
    del parts[".prj"]
    return [
        f"{name}: the .prj file is not a coordinate system that can be converted ({problem}); "
        "it was ignored and the coordinate system is guessed from the values"
    ]


def _read_shapefile(
    members: dict[str, bytes], name: str, *, layer: str | None = None, limits: Limits
) -> tuple[gpd.GeoDataFrame, list[str]]:
    import pyogrio

    chosen, parts = _shape_members(members, name, layer)
    _check_shapefile(parts, name, limits=limits)
    notes = []
    others = [m for m in members if m.lower().endswith(".shp") and m != chosen]
    if others:
        notes.append(f"{name}: shapefile {chosen} read (also in the archive: {', '.join(others)})")
    encoding, enc_notes = shapefile_encoding(
        {"layer" + k: v for k, v in parts.items()}, "layer", name
    )
    notes += enc_notes + _prj_notes(parts, name)
    if ".shx" not in parts:
        notes.append(f"{name}: no .shx index file; rebuilt from the .shp")
    # Fixed safe names, never the member's.
    with _on_disk({"layer" + ext: content for ext, content in parts.items()}, name) as tmp:
        before = pyogrio.get_gdal_config_option("SHAPE_RESTORE_SHX")
        pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": "YES"})
        try:
            gdf = _pyogrio_read(tmp / "layer.shp", name, encoding=encoding)
        finally:
            pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": before})
    return gdf, notes


@contextlib.contextmanager
def _on_disk(files: dict[str, bytes], name: str) -> Iterator[Path]:
    """A temporary folder holding ``files`` (GDAL reads paths), removed afterwards. A disk that
    is full or refuses the write is one sentence, not a traceback."""
    try:
        tmp = tempfile.TemporaryDirectory()
    except OSError as exc:
        raise _disk_error(name, exc) from exc
    with tmp as folder:
        try:
            for file_name, content in files.items():
                Path(folder, file_name).write_bytes(content)
        except OSError as exc:
            raise _disk_error(name, exc) from exc
        yield Path(folder)


def _disk_error(name: str, exc: OSError) -> InputError:
    reason = exc.strerror or type(exc).__name__
    return InputError(
        f"{name}: not read, the server could not write the temporary copy it reads from "
        f"({reason}; is its disk full?). Try again later or tell the administrator.",
        zh=f"{name}: 未能读取, 服务器无法写入读取所需的临时文件({reason}; 磁盘是否已满?)。"
        "请稍后再试, 或告知管理员。",
    )


def _pyogrio_read(path: Path, name: str, **kwargs: Any) -> gpd.GeoDataFrame:
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(path, **kwargs)
    except Exception as exc:  # GDAL errors come in several types
        raise InputError(
            f"{name}: cannot be read ({exc}).", zh=f"{name}: 无法读取({exc})。"
        ) from exc


def _gdal_layer(layers: Any, name: str, *, layer: str | None, prefer: str | None) -> str:
    """The layer asked for, else the first whose geometry type suits (else the first)."""
    names = [str(row[0]) for row in layers]
    if not names:
        raise InputError(f"{name}: holds no layer.", zh=f"{name}: 不含任何图层。")
    if layer is not None:
        if str(layer) not in names:
            raise InputError(
                f"{name}: no layer '{layer}'. Layers: {', '.join(names)}",
                zh=f"{name}: 没有图层“{layer}”。图层: {', '.join(names)}",
            )
        return str(layer)
    if prefer:
        for lname, gtype in layers:
            if gtype and prefer in str(gtype).lower():
                return str(lname)
    return names[0]


def _read_gdal_bytes(
    data: bytes, name: str, suffix: str, *, layer: str | None, prefer: str | None, limits: Limits
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """GeoPackage / KML / FlatGeobuf through GDAL; the layer asked for, else the first layer
    whose geometry type suits (points for sites, polygons for boundaries). Features and fields
    from the layer's metadata before reading; vertices counted before anything is built on
    the geometry GDAL read."""
    import pyogrio

    with _on_disk({"data" + suffix: data}, name) as tmp:
        path = tmp / ("data" + suffix)
        try:
            layers = pyogrio.list_layers(path)
            chosen = _gdal_layer(layers, name, layer=layer, prefer=prefer)
            info = pyogrio.read_info(path, layer=chosen, force_feature_count=True)
        except InputError:
            raise
        except Exception as exc:  # damaged file
            raise InputError(
                f"{name}: cannot be read ({exc}).", zh=f"{name}: 无法读取({exc})。"
            ) from exc
        check_columns(len(info["fields"]), name)
        check_features(int(info["features"]), name, limits=limits)
        check_cells(int(info["features"]) * len(info["fields"]), name)
        check_time()
        gdf = _pyogrio_read(path, name, layer=chosen)
    check_vertices(int(shapely.get_num_coordinates(gdf.geometry.array).sum()), name, limits=limits)
    names = [str(row[0]) for row in layers]
    notes = (
        [f"{name}: layer '{chosen}' read (layers: {', '.join(names)})"] if len(names) > 1 else []
    )
    return gdf, notes


def _vector_table(gdf: gpd.GeoDataFrame, name: str, kind: str, notes: list[str]) -> RawTable:
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    cells = {}
    for col in attrs.columns:
        cells[col] = [cell_text(v) for v in attrs[col].tolist()]
        check_time()
    frame = pd.DataFrame(cells, dtype=object)
    index = pd.Index(np.arange(1, len(gdf) + 1), dtype="int64")
    frame.index = index
    geometry = gpd.GeoSeries(gdf.geometry.to_numpy(), index=index)
    crs = None
    if gdf.crs is not None:
        crs, problem = checked_crs_label(gdf.crs)
        if problem is not None:
            notes.append(
                f"{name}: the file's coordinate system cannot be converted ({problem}); it was "
                "ignored and the coordinate system is guessed from the values"
            )
    return RawTable(frame, name, kind, geometry=geometry, crs=crs, notes=notes)


# --- dispatch ---------------------------------------------------------------------------------


def read_table(
    source: Source,
    *,
    filename: str | None = None,
    sheet: str | int | None = None,
    limits: Limits = SITE_LIMITS,
    prefer_geometry: str | None = "point",
) -> RawTable:
    """Read any supported file into a :class:`RawTable`.

    ``source`` is a path, bytes (then ``filename`` tells the format) or a file-like object with
    ``read()`` and ``name`` (an upload). ``sheet`` picks an XLSX sheet, a GeoPackage layer or a
    shapefile in a zip. ``prefer_geometry`` picks the first GeoPackage layer of that type.
    ``limits``: what reading may cost (:data:`~layers.safety.BOUNDARY_LIMITS` for township
    boundaries); the time budget starts here unless the caller started it.
    """
    data, name, path = load_source(source, filename=filename, limit=limits.bytes)
    kind = _sniff_kind(data, name)
    with time_budget(name, seconds=limits.seconds):
        if path is not None and kind == ".shp":
            members = {
                p.name: p.read_bytes()
                for p in path.parent.glob(path.stem + ".*")
                if p.suffix.lower() in SHAPE_PARTS
            }
            gdf, notes = _read_shapefile(members, name, layer=path.stem, limits=limits)
            return _vector_table(gdf, name, "shapefile", notes)
        return _dispatch(
            data, name, kind, sheet=sheet, prefer=prefer_geometry, depth=0, limits=limits
        )


def _dispatch(
    data: bytes,
    name: str,
    kind: str,
    *,
    sheet: Any,
    prefer: str | None,
    depth: int,
    limits: Limits,
) -> RawTable:
    readers: dict[str, Callable[[], RawTable]] = {
        **{s: lambda: read_csv_bytes(data, name) for s in TABLE_SUFFIXES},
        **{s: lambda: read_xlsx_bytes(data, name, sheet=sheet) for s in EXCEL_SUFFIXES},
        **{s: lambda: read_json_bytes(data, name, limits=limits) for s in JSON_SUFFIXES},
    }
    if kind in readers:
        return readers[kind]()
    if kind in VECTOR_SUFFIXES:
        gdf, notes = _read_gdal_bytes(data, name, kind, layer=sheet, prefer=prefer, limits=limits)
        return _vector_table(gdf, name, kind.lstrip("."), notes)
    if kind == ".zip":
        return _read_archive(data, name, sheet=sheet, prefer=prefer, depth=depth, limits=limits)
    if kind == ".shp":
        raise InputError(
            f"{name}: a shapefile is several files (.shp, .shx, .dbf, .prj, .cpg); "
            "upload them together as one .zip.",
            zh=f"{name}: Shapefile 由多个文件组成(.shp、.shx、.dbf、.prj、.cpg), "
            "请把它们一起压缩成一个 .zip 上传。",
        )
    if kind in OLD_FORMATS:
        raise InputError(
            f"{name}: unsupported file type '{kind}' ({OLD_FORMATS[kind]}). Open it in Excel or "
            "WPS and save it as .xlsx or CSV.",
            zh=f"{name}: 不支持的文件类型“{kind}”({OLD_FORMATS[kind]})。"
            "请用 Excel 或 WPS 打开, 另存为 .xlsx 或 CSV。",
        )
    raise InputError(
        f"{name}: unsupported file type '{kind}'. Use {SUPPORTED}.",
        zh=f"{name}: 不支持的文件类型“{kind}”。请使用 {SUPPORTED_ZH}。",
    )


def _read_archive(
    data: bytes, name: str, *, sheet: Any, prefer: str | None, depth: int, limits: Limits
) -> RawTable:
    """A zip: its shapefile, else the one data file in it (within the same byte limit as the
    file itself: a zipped 300 MB CSV is not a way around it)."""
    members = read_zip(data, name)
    if any(m.lower().endswith(".shp") for m in members):
        gdf, notes = _read_shapefile(members, name, layer=sheet, limits=limits)
        return _vector_table(gdf, name, "shapefile", notes)
    inner = [
        m
        for m in members
        if PurePosixPath(m.lower()).suffix
        in (*TABLE_SUFFIXES, *EXCEL_SUFFIXES, *JSON_SUFFIXES, *VECTOR_SUFFIXES)
    ]
    if depth == 0 and len(inner) == 1:
        member = inner[0]
        check_size(len(members[member]), f"{name} ({member})", limit=limits.bytes)
        table = _dispatch(
            members[member],
            name,
            PurePosixPath(member.lower()).suffix,
            sheet=sheet,
            prefer=prefer,
            depth=1,
            limits=limits,
        )
        table.notes.insert(0, f"{name}: read {member} from the archive")
        return table
    found = ", ".join(members) or "nothing"
    raise InputError(
        f"{name}: the archive must hold one shapefile or one data file; it holds {found}.",
        zh=f"{name}: 压缩包内须只有一个 Shapefile 或一个数据文件; 实际内容: {found}。",
    )
