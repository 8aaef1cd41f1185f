"""Read and validate site registries: good rows kept, every bad row reported with a reason.

A registry is any file :mod:`layers.readers` reads (CSV, XLSX, GeoJSON, zipped Shapefile,
GeoPackage) with headers in the canonical schema (:mod:`layers.schema`) or their Chinese and
English aliases (:mod:`layers.columns`). Each row is either accepted (normalised: WGS84 lon/lat,
controlled subtype and level keys) or rejected with its row number, column and a reason a planner
understands. ``accepted + rejected == rows read``, always; fully empty rows are not rows.

Row numbers are what the user sees: the spreadsheet row for CSV/XLSX (the header is row 1 unless
title rows come first), the feature number (from 1) for GeoJSON, Shapefile and GeoPackage.

Coordinates: the geometry of a GeoJSON/Shapefile/GeoPackage feature is in the file's own system
(``.prj``, GeoPackage, GeoJSON ``crs`` member; RFC 7946 GeoJSON is WGS84) unless ``crs=`` declares
another; ``lon``/``lat`` columns are in the row's ``source_crs``, else the system their header
names ("百度经度"), else ``crs=``, else WGS84. Metres with no declared system are recognised as
CGCS2000 Gauss-Krüger when that puts them near Xining (with a warning).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError

from base.crs import WGS84
from base.errors import InputError
from base.settings import MAX_SITE_YEAR, MIN_SITE_YEAR, SITES_DIR
from layers.columns import ADDRESS, HEADER_ALIASES, LONLAT, ColumnMap, map_columns
from layers.coords import (
    clean_series,
    from_wgs84_any,
    guess_gauss_kruger,
    looks_projected,
    map_unique,
    near_xining,
    parse_coordinates,
    parse_crs,
    split_pairs,
    to_wgs84_any,
)
from layers.readers import RawTable, Source, read_table, source_name
from layers.safety import MAX_ROWS, MAX_UPLOAD_BYTES, SITE_LIMITS, check_time, time_budget
from layers.schema import (
    APPROXIMATE,
    ASSIGN_COLUMNS,
    COLUMNS,
    LAYERS,
    LEVELS,
    PRECISION,
    STATUS,
    SUBTYPE_WORDS,
)

__all__ = [
    "HEADER_ALIASES",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "REJECT_COLUMNS",
    "SiteLoad",
    "bundled_files",
    "combine",
    "duplicate_key",
    "load_bundled",
    "read_sites",
    "registry_frame",
    "validate_table",
]

MAX_FILE_BYTES = MAX_UPLOAD_BYTES
REJECT_COLUMNS = ["file", "row", "column", "reason", "value"]
_FREE_TEXT = ("subtype_note", "source", "note")  # kept as written, never matched
RESERVED = ("file", "row")  # the product's own bookkeeping columns

_LAYER_WORDS: dict[str, str] = {}
for _key, _layer in LAYERS.items():
    _LAYER_WORDS[_key] = _key
    _LAYER_WORDS[_layer.zh] = _key
    _LAYER_WORDS[_layer.en.lower()] = _key
_LAYER_WORDS.update(
    {
        "parks": "park",
        "incubators": "incubator",
        "poverty": "poverty_demo",
        "园区": "park",
        "孵化": "incubator",
        "孵化器": "incubator",
        "电商": "ecommerce",
        "电子商务": "ecommerce",
        "扶贫": "poverty_demo",
        "科技扶贫": "poverty_demo",
    }
)

_LEVEL_WORDS: dict[str, str] = {k: k for k in LEVELS}
_LEVEL_WORDS.update({zh: k for k, (zh, _en) in LEVELS.items()})
_LEVEL_WORDS.update({en.lower(): k for k, (_zh, en) in LEVELS.items()})
_LEVEL_WORDS.update({"国家": "national", "省": "provincial", "市": "municipal", "县": "county"})
_LEVEL_WORDS.update({"区级": "county", "县区级": "county", "省部级": "provincial"})
_LEVEL_CONTAINS = ("国家级", "省级", "市级", "县级", "区级", "national", "provincial", "municipal")

_STATUS_WORDS: dict[str, str] = {k: k for k in STATUS}
_STATUS_WORDS.update({zh: k for k, (zh, _en) in STATUS.items()})
_STATUS_WORDS.update(
    {
        w: "built"
        for w in ("建成", "已建", "已认定", "运营", "运营中", "在运营", "正常", "existing", "open")
    }
)
_STATUS_WORDS.update({w: "planned" for w in ("规划", "拟建", "在建", "筹建", "计划", "plan")})

_PRECISION_WORDS: dict[str, str] = {k: k for k in PRECISION}
_PRECISION_WORDS.update({zh: k for k, (zh, _en) in PRECISION.items()})
_PRECISION_WORDS.update({"精确": "exact", "村": "village", "乡镇驻地": "township_seat"})
_PRECISION_WORDS.update({"县区驻地": "county_seat", "全市": "city", "仅知位于西宁": "city"})

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_TOTAL_WORDS = ("合计", "总计", "小计")
_TOTAL = r"^\s*(合\s*计|总\s*计|小\s*计|(sub)?total\s*:?\s*\d*\s*$|sum\s*:?\s*\d*\s*$)"
_CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")


@dataclass
class SiteLoad:
    """Result of reading registries: accepted sites, rejected rows and warnings (all reported).

    ``notes`` holds row-level warnings (a fix or an assumption, the row is kept) in the same
    columns as ``rejects``; ``warnings`` is the readable list of everything worth saying.
    """

    sites: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    notes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))

    @property
    def ok(self) -> bool:
        return self.rejects.empty


# --- vocabularies ---------------------------------------------------------------------------


@cache
def _subtype_words(layer: str) -> dict[str, str]:
    words = {}
    for key, (zh, en) in LAYERS[layer].subtypes.items():
        words[key] = key
        words[zh] = key
        words[en.lower()] = key
        for part in zh.split("/"):
            words[part] = key
        for word in SUBTYPE_WORDS.get(key, ()):
            words[word.lower()] = key
    return words


@cache
def _subtype_of(layer: str, text: str) -> str:
    """Subtype key for ``text`` in ``layer``: exact word, else the longest word it contains."""
    words = _subtype_words(layer)
    low = text.lower().replace(" ", "")
    if low in words:
        return words[low]
    found = sorted(
        ((len(w), k) for w, k in words.items() if len(w) >= 2 and w in low), reverse=True
    )
    if not found:
        return ""
    best_len = found[0][0]
    keys = {k for n, k in found if n == best_len}
    return keys.pop() if len(keys) == 1 else ""


@cache
def _layers_of_subtype(text: str) -> tuple[str, ...]:
    return tuple(k for k in LAYERS if _subtype_of(k, text))


@cache
def _layer_of(text: str) -> str:
    low = text.lower().replace(" ", "")
    if low in _LAYER_WORDS:
        return _LAYER_WORDS[low]
    by_subtype = _layers_of_subtype(text)
    return by_subtype[0] if len(by_subtype) == 1 else ""


@cache
def _level_of(text: str) -> str:
    low = text.lower().replace(" ", "")
    if low in _LEVEL_WORDS:
        return _LEVEL_WORDS[low]
    hits = {_LEVEL_WORDS[w] for w in _LEVEL_CONTAINS if w in low}
    return hits.pop() if len(hits) == 1 else ""


@cache
def _level_in(text: str) -> str:
    """A level named inside other text ("省级众创空间" → provincial), if exactly one."""
    low = text.lower()
    hits = {_LEVEL_WORDS[w] for w in _LEVEL_CONTAINS if w in low}
    return hits.pop() if len(hits) == 1 else ""


@cache
def _year_of(text: str) -> int | None:
    """A 4-digit year anywhere in the text ("2019年5月", "2019-05-01", "二〇一九")."""
    found = _YEAR.findall(text.translate(_CHINESE_DIGITS))
    return int(found[0]) if len(found) >= 1 and len(set(found)) == 1 else None


def _choices(layer: str) -> str:
    return ", ".join(f"{zh} ({key})" for key, (zh, _en) in LAYERS[layer].subtypes.items())


# --- the validation run ---------------------------------------------------------------------


class _Run:
    """Checks applied in order; each row keeps the first reason it fails."""

    def __init__(self, frame: pd.DataFrame, filename: str) -> None:
        self.frame = frame
        self.filename = filename
        self.n = len(frame)
        self.rows = frame.index.to_numpy()
        self.reason = np.full(self.n, None, dtype=object)
        self.column = np.full(self.n, "", dtype=object)
        self.value = np.full(self.n, "", dtype=object)
        self.notes: list[dict] = []
        self.file_notes: list[str] = []  # file-level remarks made along the way

    def text(self, column: str) -> pd.Series:
        if column in self.frame.columns:
            return clean_series(self.frame[column])
        return pd.Series([""] * self.n, index=self.frame.index, dtype=object)

    @property
    def ok(self) -> np.ndarray:
        return pd.isna(self.reason)

    def fail(self, mask: np.ndarray, column: str, reason: object, value: object = "") -> None:
        """Reject rows in ``mask`` not rejected yet; ``reason``/``value`` scalar or per row."""
        mask = np.asarray(mask, dtype=bool) & self.ok
        if not mask.any():
            return
        self.reason[mask] = _pick(reason, mask)
        self.column[mask] = column
        self.value[mask] = _pick(value, mask)

    def note(self, mask: np.ndarray, column: str, reason: str, value: object = "") -> None:
        mask = np.asarray(mask, dtype=bool)
        values = _pick(value, mask) if mask.any() else []
        for row, val in zip(self.rows[mask], np.broadcast_to(values, (int(mask.sum()),))):
            self.notes.append(
                {
                    "file": self.filename,
                    "row": int(row),
                    "column": column,
                    "reason": reason,
                    "value": val,
                }
            )


def _raw(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column's text as written (stripped only), "" when the column is absent."""
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    values = frame[column].to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    out[:] = [v.strip() if isinstance(v, str) else ("" if v is None else str(v)) for v in values]
    return pd.Series(out, index=frame.index, dtype=object)


def _pick(value: object, mask: np.ndarray) -> object:
    if isinstance(value, np.ndarray | pd.Series | list):
        return np.asarray(value, dtype=object)[mask]
    return value


def read_sites(
    source: Source,
    *,
    layer: str | None = None,
    filename: str | None = None,
    crs: str | None = None,
    sheet: str | int | None = None,
) -> SiteLoad:
    """Read one registry file (path, bytes + ``filename``, or an upload object) and validate it.

    ``layer`` fills rows that name none (e.g. a per-layer file); ``crs`` declares the file's
    coordinate system (a row's ``source_crs`` still wins); ``sheet`` picks an XLSX sheet or a
    GeoPackage layer (default: the first sheet with a recognisable header).
    """
    if layer is not None and layer not in LAYERS:
        raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
    declared = parse_crs(crs) if crs else None
    # One time budget for reading and validating (layers.safety).
    with time_budget(source_name(source, filename), seconds=SITE_LIMITS.seconds):
        table = read_table(source, filename=filename, sheet=sheet)
        return validate_table(table, layer=layer, crs=declared)


def validate_table(
    table: RawTable, *, layer: str | None = None, crs: str | None = None
) -> SiteLoad:
    """Validate a :class:`RawTable` (see :func:`read_sites`)."""
    name = table.filename
    cmap = map_columns(table.frame.columns)
    total = len(table.frame) + len(table.bad_rows)
    _check_table(table, cmap, total=total)
    lonlat_header = next((h for h, c in cmap.rename.items() if c == LONLAT), None)
    rename = {h: c for h, c in cmap.rename.items() if c != LONLAT}
    extra = [h for h in cmap.extra if h not in RESERVED]
    if lonlat_header:
        extra.append(lonlat_header)
    file_notes = _column_notes(table, cmap)

    frame = table.frame.rename(columns=rename)
    run = _Run(frame, name)
    raw_name = _raw(frame, "name")
    get = {c: run.text(c) for c in COLUMNS if c not in _FREE_TEXT}

    _fail_totals(run, get)
    run.fail(get["name"].eq("").to_numpy(), "name", "missing name")
    layer_key = _layer_keys(run, get, layer=layer, notes=file_notes)
    subtype, subtype_note = _subtypes(run, get, layer_key)
    level = _levels(run, get, notes=file_notes)
    year = _years(run, get)
    is_sample = _sample_flags(run, get)

    # Coordinates.
    check_time()
    lon, lat, source_crs = _coordinates(run, table, get, frame, lonlat_header, cmap.crs, crs)
    file_notes += run.file_notes

    status = _statuses(run, get)
    has_point = np.isfinite(lon)
    precision = _precisions(run, get, has_point=has_point)
    _fail_duplicates(run, get, layer_key=layer_key, raw_name=raw_name)
    check_time()

    # Accepted rows, canonical columns first, unknown columns carried along.
    ok = run.ok
    sites = pd.DataFrame({c: get[c].to_numpy()[ok] if c in get else "" for c in COLUMNS})
    sites["name"] = raw_name.to_numpy()[ok]
    # Free text is kept as written (no NFKC).
    sites["subtype_note"] = subtype_note.to_numpy()[ok]
    for col in ("source", "note"):
        sites[col] = _raw(frame, col).to_numpy()[ok]
    sites["layer"] = layer_key.to_numpy()[ok]
    sites["subtype"] = subtype.to_numpy()[ok]
    sites["level"] = level.to_numpy()[ok]
    sites["lon"] = lon[ok]
    sites["lat"] = lat[ok]
    sites["source_crs"] = np.where(has_point, source_crs, "")[ok]
    sites["year"] = pd.array(year.to_numpy()[ok], dtype="Int64")
    sites["is_sample"] = is_sample.to_numpy()[ok]
    sites["status"] = status.to_numpy()[ok]
    sites["location_precision"] = precision[ok]
    sites["file"] = name
    sites["row"] = run.rows[ok]
    if ADDRESS in frame.columns:
        sites[ADDRESS] = _raw(frame, ADDRESS).to_numpy()[ok]
    sites = _with_extra(sites, frame, extra, ok)
    sites["lon"] = sites["lon"].astype(float)
    sites["lat"] = sites["lat"].astype(float)
    sites["is_sample"] = sites["is_sample"].astype(bool)
    sites["row"] = sites["row"].astype("int64")

    rejects = _rejects(run, table)
    notes = pd.DataFrame(run.notes, columns=REJECT_COLUMNS)
    warnings = file_notes + _grouped(notes)
    return SiteLoad(sites=sites, rejects=rejects, warnings=warnings, rows_read=total, notes=notes)


def _with_extra(
    sites: pd.DataFrame, frame: pd.DataFrame, extra: list[str], ok: np.ndarray
) -> pd.DataFrame:
    """``sites`` with the file's unknown columns carried along (accepted rows), in one
    concatenation: a column added at a time copies the frame each time (quadratic)."""
    carried = {
        col: frame[col].astype(object).where(frame[col].notna(), "").to_numpy()[ok] for col in extra
    }
    for col in [c for c in carried if c in sites.columns]:  # a header named like our own
        sites[col] = carried.pop(col)
    if not carried:
        return sites
    return pd.concat([sites, pd.DataFrame(carried, index=sites.index)], axis=1)


def _check_table(table: RawTable, cmap: ColumnMap, *, total: int) -> None:
    """Refuse a file that is too long or has no name column: nothing of it can be used."""
    name = table.filename
    if total > MAX_ROWS:
        raise InputError(
            f"{name}: {total} rows is more than the {MAX_ROWS:,} limit.",
            zh=f"{name}: 共 {total} 行, 超过 {MAX_ROWS:,} 行的上限。",
        )
    if "name" not in cmap.rename.values():
        raise InputError(
            f"{name}: no name column (名称). Columns found: {list(table.frame.columns)}",
            zh=f"{name}: 没有“名称”列。现有的列: {list(table.frame.columns)}",
        )


def _column_notes(table: RawTable, cmap: ColumnMap) -> list[str]:
    """File-level notes so far: the reader's, then how columns were read (bookkeeping columns
    replaced, coordinate systems named by headers), for the report."""
    name = table.filename
    file_notes = list(table.notes)
    dropped = [h for h in cmap.extra if h in RESERVED]
    if dropped:
        file_notes.append(
            f"{name}: column(s) {', '.join(dropped)} replaced by this file's own name and rows"
        )
    for col, crs_name in cmap.crs.items():
        header = next(h for h, c in cmap.rename.items() if c == col)
        file_notes.append(f"{name}: column '{header}' read as {crs_name} coordinates")
    return file_notes


def _fail_totals(run: _Run, get: dict[str, pd.Series]) -> None:
    """Reject total rows at the bottom of office tables ("合计 25个"): they are not sites."""
    for col in ("name", "county", "township", "village", "id"):
        is_total = get[col].str.match(_TOTAL, case=False).to_numpy()
        run.fail(is_total, col, f"a total row ({'/'.join(_TOTAL_WORDS)}), not a site", get[col])


def _layer_keys(
    run: _Run, get: dict[str, pd.Series], *, layer: str | None, notes: list[str]
) -> pd.Series:
    """Layer key per row: the layer column, else ``layer``, else the one layer the type fits
    (noted in ``notes``); rows with an unknown or no layer are rejected."""
    layer_text, subtype_text = get["layer"], get["subtype"]
    layer_key = map_unique(layer_text, _layer_of)
    if layer is not None:
        layer_key = layer_key.where(layer_text.ne(""), layer)
    inferred = layer_text.eq("") & layer_key.eq("") & subtype_text.ne("")
    if inferred.any():
        layer_key = layer_key.where(~inferred, map_unique(subtype_text, _layer_of))
        n_inf = int((inferred & layer_key.ne("")).sum())
        if n_inf:
            notes.append(f"{run.filename}: layer taken from the type column for {n_inf} row(s)")
    run.fail(
        (layer_text.ne("") & layer_key.eq("")).to_numpy(),
        "layer",
        "unknown layer '" + layer_text + f"'; use one of {', '.join(LAYERS)}",
        layer_text.to_numpy(),
    )
    choices = f"use one of {', '.join(LAYERS)} (or 孵化载体, 科技园区 …)"
    untold = (layer_key.eq("") & subtype_text.ne("")).to_numpy()
    run.fail(
        untold,
        "layer",
        "missing layer, and the type '" + subtype_text + "' fits no layer; " + choices,
        subtype_text.to_numpy(),
    )
    run.fail(layer_key.eq("").to_numpy(), "layer", f"missing layer; {choices}")
    return layer_key


def _subtypes(
    run: _Run, get: dict[str, pd.Series], layer_key: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Subtype key per row (from the type, or a subtype word in the layer cell) and the
    subtype note to keep (the source's wording when read from a synonym); unknown subtypes of
    a known layer are rejected."""
    layer_text, subtype_text = get["layer"], get["subtype"]
    # A layer cell that holds a subtype word ("众创空间") also gives the subtype.
    subtype_src = subtype_text.where(subtype_text.ne(""), layer_text.where(layer_key.ne("")))
    subtype_src = subtype_src.fillna("")
    pairs = layer_key.astype(str) + "\x1f" + subtype_src.astype(str)
    subtype = map_unique(pairs, lambda p: _subtype_of(*p.split("\x1f")) if p[0] != "\x1f" else "")
    subtype = subtype.where(subtype_src.ne(""), "")
    bad_sub = (subtype_text.ne("") & subtype.eq("") & layer_key.ne("")).to_numpy()
    if bad_sub.any():
        run.fail(
            bad_sub,
            "subtype",
            map_unique(
                pairs.where(bad_sub, ""),
                lambda p: (
                    "unknown subtype '{1}' for {0}; use one of ".format(*p.split("\x1f"))
                    + _choices(p.split("\x1f")[0])
                    if p
                    else ""
                ),
            ).to_numpy(),
            subtype_text.to_numpy(),
        )
    # The source's own wording is kept when the subtype was read from a synonym.
    note_given = _raw(run.frame, "subtype_note")
    subtype_note = note_given.where(
        note_given.ne("") | subtype_text.str.lower().eq(subtype), _raw(run.frame, "subtype")
    )
    return subtype, subtype_note


def _levels(run: _Run, get: dict[str, pd.Series], *, notes: list[str]) -> pd.Series:
    """Level key per row (unknown levels rejected); a level written into the type
    ("省级众创空间") is used when the level column says nothing (noted in ``notes``)."""
    subtype_text = get["subtype"]
    level = map_unique(get["level"], _level_of)
    run.fail(
        (get["level"].ne("") & level.eq("")).to_numpy(),
        "level",
        f"unknown level; use one of {', '.join(LEVELS)} (国家级/省级/市级/县级)",
        get["level"].to_numpy(),
    )

    # A level written into the type ("省级众创空间") when the level column says nothing.
    level_in_type = get["level"].eq("") & subtype_text.ne("")
    if level_in_type.any():
        from_type = map_unique(subtype_text.where(level_in_type, ""), _level_in)
        found = from_type.ne("")
        if found.any():
            level = level.where(~found, from_type)
            notes.append(f"{run.filename}: level taken from the type for {int(found.sum())} row(s)")
    return level


def _years(run: _Run, get: dict[str, pd.Series]) -> pd.Series:
    """Year per row (NaN where none); rejects text that is no year or one out of range."""
    year = pd.to_numeric(map_unique(get["year"], _year_of), errors="coerce")
    run.fail(
        (get["year"].ne("") & year.isna()).to_numpy(),
        "year",
        "year is not a 4-digit year",
        get["year"].to_numpy(),
    )
    out_of_range = year.notna() & ~year.between(MIN_SITE_YEAR, MAX_SITE_YEAR)
    run.fail(
        out_of_range.to_numpy(),
        "year",
        f"year out of range {MIN_SITE_YEAR}–{MAX_SITE_YEAR}",
        get["year"].to_numpy(),
    )
    return year


def _sample_flags(run: _Run, get: dict[str, pd.Series]) -> pd.Series:
    """Sample flag per row; rejects a flag that is neither true nor false."""
    low_sample = get["is_sample"].str.lower()
    is_sample = low_sample.isin(_TRUE)
    run.fail(
        (~is_sample & ~low_sample.isin(_FALSE)).to_numpy(),
        "is_sample",
        "is_sample must be true or false",
        get["is_sample"].to_numpy(),
    )
    return is_sample


def _statuses(run: _Run, get: dict[str, pd.Series]) -> pd.Series:
    """Status key per row ("built" when empty); rejects an unknown status."""
    status = map_unique(get["status"], lambda t: _STATUS_WORDS.get(t.lower().replace(" ", ""), "?"))
    status = status.where(get["status"].ne(""), "built")
    run.fail(
        status.eq("?").to_numpy(),
        "status",
        f"unknown status; use one of {', '.join(STATUS)} (已建成/规划中)",
        get["status"].to_numpy(),
    )
    return status


def _precisions(run: _Run, get: dict[str, pd.Series], *, has_point: np.ndarray) -> np.ndarray:
    """Location precision per row ("exact" for a point unless stated approximate); rejects an
    unknown precision, and rows with no location at all."""
    stated_precision = map_unique(
        get["location_precision"],
        lambda t: _PRECISION_WORDS.get(t.lower().replace(" ", ""), "?") if t else "",
    )
    run.fail(
        stated_precision.eq("?").to_numpy(),
        "location_precision",
        f"unknown location precision; use one of {', '.join(PRECISION)}",
        get["location_precision"].to_numpy(),
    )
    precision = np.where(
        has_point,
        np.where(stated_precision.isin(APPROXIMATE), stated_precision, "exact"),
        stated_precision,
    )
    address = run.text(ADDRESS)
    has_place = (
        get["county"].ne("") | get["township"].ne("") | get["village"].ne("") | address.ne("")
    ).to_numpy()
    run.fail(
        ~has_point & ~has_place & (precision != "city"),
        "lon",
        "no location at all (no coordinate, county, township, village or address)",
    )
    return precision


def _fail_duplicates(
    run: _Run, get: dict[str, pd.Series], *, layer_key: pd.Series, raw_name: pd.Series
) -> None:
    """Reject duplicates among the rows still accepted (same layer, name and stated place),
    each naming the row it repeats."""
    key = duplicate_key(
        layer_key, get["name"], get["county"], get["township"], get["village"]
    ).assign(row=run.rows)[run.ok]
    cols = list(DUPLICATE_KEY)
    dup = key.duplicated(cols, keep="first")
    if dup.any():
        first_row = key.groupby(cols, sort=False)["row"].transform("first")
        mask = np.zeros(run.n, dtype=bool)
        reasons = np.full(run.n, "", dtype=object)
        positions = key.index.to_numpy()[dup.to_numpy()]
        mask[positions] = True
        reasons[positions] = ["duplicate of row " + str(r) for r in first_row[dup]]
        run.fail(mask, "name", reasons, raw_name.to_numpy())


def _rejects(run: _Run, table: RawTable) -> pd.DataFrame:
    """Rejected rows, the reader's structural ones merged in by row number."""
    name = table.filename
    bad = ~run.ok
    rejects = pd.DataFrame(
        {
            "file": name,
            "row": run.rows[bad],
            "column": run.column[bad],
            "reason": run.reason[bad],
            "value": run.value[bad],
        },
        columns=REJECT_COLUMNS,
    )
    structural = pd.DataFrame([{"file": name, **b} for b in table.bad_rows], columns=REJECT_COLUMNS)
    if not structural.empty:
        rejects = pd.concat([structural, rejects], ignore_index=True)
        rejects = rejects.sort_values("row", kind="stable", ignore_index=True)
    rejects["value"] = rejects["value"].map(lambda v: "" if v is None or v is pd.NA else v)
    return rejects


def _grouped(notes: pd.DataFrame, *, show: int = 20) -> list[str]:
    """Row notes as readable lines, one per file and reason, listing the rows."""
    lines = []
    for (file, reason), group in notes.groupby(["file", "reason"], sort=False):
        rows = group["row"].tolist()
        if len(rows) == 1:
            lines.append(f"{file} row {rows[0]}: {reason}")
            continue
        shown = ", ".join(map(str, rows[:show])) + (
            f" … ({len(rows)} rows)" if len(rows) > show else ""
        )
        lines.append(f"{file} rows {shown}: {reason}")
    return lines


# --- coordinates ----------------------------------------------------------------------------


def _coordinates(
    run: _Run,
    table: RawTable,
    get: dict[str, pd.Series],
    frame: pd.DataFrame,
    lonlat_header: str | None,
    column_crs: dict[str, str],
    declared: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 lon/lat per row (NaN where none) and the system each came in; rejects bad ones."""
    lon_text, lat_text = get["lon"], get["lat"]
    # One cell with both values ("101.75,36.62"), or both typed into the longitude cell.
    pair_crs = None
    if lonlat_header is not None:
        lon_text, lat_text, pair_crs = _pair_column(
            run,
            frame[lonlat_header],
            lon_text,
            lat_text,
            header=lonlat_header,
            column_crs=column_crs,
        )
    lon_text, lat_text = _packed_cells(run, lon_text, lat_text)
    x, y = _parse_xy(run, lon_text, lat_text)

    # The system of each row's numbers.
    col_default = pair_crs or column_crs.get("lon") or column_crs.get("lat") or declared
    labels, defaulted = _row_systems(run, get["source_crs"], x, y, default=col_default)

    # Geometry (GeoJSON, Shapefile, GeoPackage) wins over attribute columns.
    if table.geometry is not None:
        x, y, defaulted = _geometry_points(
            run, table, x, y, labels=labels, defaulted=defaulted, declared=declared
        )

    has_xy = np.isfinite(x) & np.isfinite(y) & run.ok
    x, y, has_xy = _drop_zero_points(run, x, y, has_xy)

    # Metres with no declared system: CGCS2000 Gauss-Krüger if that lands near Xining.
    _guess_metres(
        run, table, x, y, labels=labels, metres=has_xy & defaulted & looks_projected(x, y)
    )

    lon, lat = _to_wgs84(x, y, labels, has_xy)
    _fix_swapped(run, x, y, lon=lon, lat=lat, labels=labels, has_xy=has_xy)
    _fail_off_earth(run, x, y, lon=lon, lat=lat, has_xy=has_xy)
    keep = has_xy & run.ok
    lon = np.where(keep, lon, np.nan)
    lat = np.where(keep, lat, np.nan)
    return lon, lat, labels


def _pair_column(
    run: _Run,
    column: pd.Series,
    lon_text: pd.Series,
    lat_text: pd.Series,
    *,
    header: str,
    column_crs: dict[str, str],
) -> tuple[pd.Series, pd.Series, str | None]:
    """Longitude and latitude text, filled from a one-cell "lon,lat" column where both are
    empty, and that column's coordinate system when it was used; other text in it is noted."""
    pair_crs = None
    both = clean_series(column)
    # Only cells that hold two numbers are coordinates; other text in the column is kept
    # (it is carried as it is) but not read as a place.
    pair_like = both.str.count(r"\d+(?:\.\d+)?") >= 2
    odd = (both.ne("") & ~pair_like).to_numpy()
    if odd.any():
        run.note(odd, header, "not a coordinate pair; ignored", both.to_numpy())
    use = lon_text.eq("") & lat_text.eq("") & both.ne("") & pair_like
    if use.any():
        first, second = split_pairs(both[use])
        lon_text, lat_text = lon_text.copy(), lat_text.copy()
        lon_text[use], lat_text[use] = first, second
        pair_crs = column_crs.get(LONLAT)
    return lon_text, lat_text, pair_crs


def _packed_cells(
    run: _Run, lon_text: pd.Series, lat_text: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Longitude and latitude text, split where both were typed into the longitude cell."""
    packed = lat_text.eq("") & lon_text.str.contains(r"\d[\s,;，；]+[-\d]", regex=True)
    if packed.any():
        first, second = split_pairs(lon_text[packed])
        lon_text, lat_text = lon_text.copy(), lat_text.copy()
        lon_text[packed], lat_text[packed] = first, second
        run.note(packed.to_numpy(), "lon", "longitude and latitude read from one cell")
    return lon_text, lat_text


def _parse_xy(run: _Run, lon_text: pd.Series, lat_text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """x, y numbers per row (NaN where none); rejects unparseable and half coordinates."""
    x, bad_x = parse_coordinates(lon_text)
    y, bad_y = parse_coordinates(lat_text)
    run.fail(bad_x, "lon", "unparseable coordinate", lon_text.to_numpy())
    run.fail(bad_y, "lat", "unparseable coordinate", lat_text.to_numpy())
    only_x = np.isfinite(x) & ~np.isfinite(y) & ~bad_y
    only_y = np.isfinite(y) & ~np.isfinite(x) & ~bad_x
    run.fail(only_x, "lat", "longitude given without latitude", lon_text.to_numpy())
    run.fail(only_y, "lon", "latitude given without longitude", lat_text.to_numpy())
    return x, y


def _row_systems(
    run: _Run, row_text: pd.Series, x: np.ndarray, y: np.ndarray, *, default: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate system label per row (the row's ``source_crs``, else ``default``, else
    WGS84) and which rows took the default; rejects an unknown system on a row with x, y."""
    labels = np.full(run.n, "", dtype=object)
    errors: dict[str, str] = {}
    for text in pd.unique(row_text[row_text.ne("")]):
        try:
            parse_crs(text)
        except InputError as exc:
            errors[text] = str(exc)
    has_xy = np.isfinite(x) & np.isfinite(y)
    row_bad = row_text.isin(list(errors)).to_numpy() & has_xy
    run.fail(row_bad, "source_crs", row_text.map(errors).to_numpy(), row_text.to_numpy())
    good_text = row_text.ne("").to_numpy() & ~row_bad
    labels[good_text] = [parse_crs(t) for t in row_text.to_numpy()[good_text]]
    defaulted = labels == ""
    labels[defaulted] = default or WGS84
    return labels, defaulted


def _geometry_points(
    run: _Run,
    table: RawTable,
    x: np.ndarray,
    y: np.ndarray,
    *,
    labels: np.ndarray,
    defaulted: np.ndarray,
    declared: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and which rows have no stated system, the file's geometry winning over attribute
    columns (``labels`` updated in place); attribute failures of those rows are undone."""
    gx, gy, kinds = _points_of(table.geometry.reindex(run.frame.index))
    has_geom = np.isfinite(gx) & np.isfinite(gy)
    area = has_geom & (kinds != "point")
    if area.any():
        run.note(area, "geometry", "not a single point: a point inside it is used")
    x = np.where(has_geom, gx, x)
    y = np.where(has_geom, gy, y)
    geom_crs = declared or table.crs
    if declared and table.crs and declared != table.crs:
        run.file_notes.append(
            f"{table.filename}: the file says {table.crs}; the declared {declared} is used"
        )
    labels[has_geom] = geom_crs or WGS84
    defaulted = np.where(has_geom, geom_crs is None, defaulted)
    # A failure on an attribute cell does not matter when the geometry is there.
    _unfail(run, has_geom, ("lon", "lat", "source_crs"))
    return x, y, defaulted


def _drop_zero_points(
    run: _Run, x: np.ndarray, y: np.ndarray, has_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and rows with coordinates, 0, 0 (a placeholder) taken as no coordinate (noted)."""
    zero = has_xy & (x == 0) & (y == 0)
    if zero.any():
        run.note(zero, "lon", "0, 0 is a placeholder: treated as no coordinate")
        x = np.where(zero, np.nan, x)
        y = np.where(zero, np.nan, y)
        has_xy &= ~zero
    return x, y, has_xy


def _guess_metres(
    run: _Run,
    table: RawTable,
    x: np.ndarray,
    y: np.ndarray,
    *,
    labels: np.ndarray,
    metres: np.ndarray,
) -> None:
    """Label metres with no declared system (``metres``) as CGCS2000 Gauss-Krüger when that
    lands near Xining (``labels`` updated in place), with a file note saying so."""
    if not metres.any():
        return
    guess, _swapped = guess_gauss_kruger(x[metres], y[metres])
    if guess:
        labels[metres] = guess
        run.file_notes.append(
            f"{table.filename}: coordinates in metres with no coordinate system; read as "
            f"{guess} ({_crs_name(guess)}); declare the system if this is wrong"
        )


def _to_wgs84(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, has_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon, lat of the rows with coordinates (NaN elsewhere), one system at a time."""
    lon = np.full(len(labels), np.nan)
    lat = np.full(len(labels), np.nan)
    for label in pd.unique(labels[has_xy]):
        m = has_xy & (labels == label)
        a, b = to_wgs84_any(x[m], y[m], label)
        lon[m], lat[m] = a, b
    return lon, lat


def _fix_swapped(
    run: _Run,
    x: np.ndarray,
    y: np.ndarray,
    *,
    lon: np.ndarray,
    lat: np.ndarray,
    labels: np.ndarray,
    has_xy: np.ndarray,
) -> None:
    """Swap back (in ``lon``, ``lat``, noted) values whose other order lands near Xining, or
    whose order as given is not on Earth while the other is."""
    with np.errstate(invalid="ignore"):
        off_earth = ~((np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    suspect = has_xy & (~near_xining(lon, lat) | off_earth)
    if not suspect.any():
        return
    for label in pd.unique(labels[suspect]):
        m = suspect & (labels == label)
        a, b = to_wgs84_any(y[m], x[m], label)
        with np.errstate(invalid="ignore"):
            better = near_xining(a, b) | (off_earth[m] & (np.abs(a) <= 180) & (np.abs(b) <= 90))
        idx = np.flatnonzero(m)[better]
        lon[idx], lat[idx] = a[better], b[better]
        fixed = np.zeros(run.n, dtype=bool)
        fixed[idx] = True
        run.note(fixed, "lon", "longitude and latitude swapped; fixed")


def _fail_off_earth(
    run: _Run,
    x: np.ndarray,
    y: np.ndarray,
    *,
    lon: np.ndarray,
    lat: np.ndarray,
    has_xy: np.ndarray,
) -> None:
    """Reject coordinates still off the globe, saying when they look like projected metres."""
    with np.errstate(invalid="ignore"):
        off_earth = has_xy & ~((np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if off_earth.any():
        projected = looks_projected(x, y)
        reason = np.where(
            projected,
            "coordinate looks like metres of a projected system: declare its coordinate "
            "system (e.g. EPSG:4543 for CGCS2000 Gauss-Krüger CM 102E)",
            "coordinate outside the globe (longitude −180…180, latitude −90…90)",
        )
        value = np.array([f"{a}, {b}" for a, b in zip(x, y)], dtype=object)
        run.fail(off_earth, "lon", reason, value)


def _unfail(run: _Run, mask: np.ndarray, columns: tuple[str, ...]) -> None:
    """Undo rejections of ``columns`` for rows in ``mask`` (their geometry supersedes them)."""
    undo = mask & ~run.ok & np.isin(run.column, columns)
    run.reason[undo] = None
    run.column[undo] = ""
    run.value[undo] = ""


def _points_of(geoms: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y of each geometry (a representative point for areas and lines) and its kind."""
    arr = np.asarray(geoms.to_numpy(), dtype=object)
    arr = np.array([g if g is not None and not (isinstance(g, float)) else None for g in arr])
    valid = np.array([g is not None and not g.is_empty for g in arr], dtype=bool)
    x = np.full(len(arr), np.nan)
    y = np.full(len(arr), np.nan)
    kinds = np.full(len(arr), "", dtype=object)
    if valid.any():
        g = arr[valid]
        types = shapely.get_type_id(g)
        pts = np.where(types == 0, g, shapely.point_on_surface(g))
        # A multipoint with one point is a point.
        single_multi = (types == 4) & (shapely.get_num_geometries(g) == 1)
        pts = np.where(single_multi, shapely.get_geometry(g, 0), pts)
        x[valid] = shapely.get_x(pts)
        y[valid] = shapely.get_y(pts)
        kinds[valid] = np.where((types == 0) | single_multi, "point", "area")
    return x, y, kinds


def _crs_name(label: str) -> str:
    try:
        return CRS.from_user_input(label).name
    except CRSError:  # a label PROJ does not name (GCJ-02, BD-09)
        return label


# --- combining, bundled files and writing back --------------------------------------------


def combine(loads: list[SiteLoad]) -> SiteLoad:
    """Concatenate several loads (e.g. one per layer file) keeping every report."""
    frames = [load.sites for load in loads if not load.sites.empty]
    sites = pd.concat(frames, ignore_index=True) if frames else loads[0].sites.iloc[0:0]
    rejects = pd.concat([load.rejects for load in loads], ignore_index=True)
    notes = [load.notes for load in loads if not load.notes.empty]
    notes_frame = (
        pd.concat(notes, ignore_index=True) if notes else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    warnings = [w for load in loads for w in load.warnings]
    return SiteLoad(sites, rejects, warnings, sum(load.rows_read for load in loads), notes_frame)


def bundled_files(
    *, include_samples: bool = True, sites_dir: Path = SITES_DIR
) -> dict[str, list[Path]]:
    """Registry files per layer in ``sites_dir`` (samples live in its ``samples/``)."""
    files: dict[str, list[Path]] = {}
    for key, layer in LAYERS.items():
        paths = [sites_dir / layer.file]
        sample = sites_dir / "samples" / layer.file
        if include_samples and sample.exists():
            paths.append(sample)
        files[key] = [p for p in paths if p.exists()]
    return files


def load_bundled(
    *, layers: list[str] | None = None, include_samples: bool = True, sites_dir: Path = SITES_DIR
) -> SiteLoad:
    """Read the registry files of ``layers`` (all by default) in ``sites_dir``.

    Only files: the configured store (files or PostGIS) is read through ``geo.loader``.
    """
    wanted = layers or list(LAYERS)
    loads = [
        read_sites(path, layer=key)
        for key, paths in bundled_files(
            include_samples=include_samples, sites_dir=sites_dir
        ).items()
        if key in wanted
        for path in paths
    ]
    if not loads:
        raise InputError(f"No registry files found under {sites_dir}.")
    return combine(loads)


def registry_frame(sites: pd.DataFrame, *, keep_extra: bool = True) -> pd.DataFrame:
    """Accepted sites as a registry file in the canonical schema, ready to write or download.

    Coordinates go back to the system they were published in (``source_crs``), so the file reads
    back to the same WGS84 points; a system that cannot be written back (a CRS without an EPSG
    code) is written as WGS84. Unknown columns follow the canonical ones; the product's
    assignment and bookkeeping columns are left out.
    """
    out = pd.DataFrame({c: sites.get(c, "") for c in COLUMNS}, index=sites.index)
    lon = pd.to_numeric(out["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(out["lat"], errors="coerce").to_numpy(dtype=float)
    crs = out["source_crs"].astype(str).replace({"nan": "", "None": ""}).to_numpy(dtype=object)
    has = np.isfinite(lon) & np.isfinite(lat)
    crs = np.where(has & (crs == ""), WGS84, crs)
    x, y = lon.copy(), lat.copy()
    for label in pd.unique(crs[has]):
        m = has & (crs == label)
        try:
            a, b = from_wgs84_any(lon[m], lat[m], parse_crs(str(label)))
        except (InputError, CRSError, ProjError):
            # a label that is no coordinate system, or one PROJ cannot write back to: the
            # coordinates are written as WGS84, and the label says so
            a, b = lon[m], lat[m]
            crs[m] = WGS84
        x[m], y[m] = a, b
    decimals = np.where(np.array([_is_projected_label(c) for c in crs], dtype=bool), 3, 8)
    out["lon"] = [_fmt(v, d) for v, d in zip(x, decimals)]
    out["lat"] = [_fmt(v, d) for v, d in zip(y, decimals)]
    out["source_crs"] = np.where(has, [_short_crs(c) for c in crs], "")
    years = pd.to_numeric(out["year"], errors="coerce")
    out["year"] = ["" if pd.isna(v) else str(int(v)) for v in years]
    out["is_sample"] = [
        "true" if str(v).strip().lower() in ("true", "1") else "false" for v in out["is_sample"]
    ]
    out = out.fillna("")
    if keep_extra:
        skip = set(COLUMNS) | set(ASSIGN_COLUMNS) | {"file", "row", "geometry", "published_crs"}
        for col in sites.columns:
            if col not in skip and not str(col).startswith("stated_"):
                out[col] = sites[col].fillna("") if sites[col].dtype == object else sites[col]
    return out.reset_index(drop=True)


DUPLICATE_KEY = ("layer", "name", "county", "township", "village")


def duplicate_key(
    layer: pd.Series, name: pd.Series, county: pd.Series, township: pd.Series, village: pd.Series
) -> pd.DataFrame:
    """What makes two rows of a file the same site (:data:`DUPLICATE_KEY`): layer, name without
    spaces, and stated place, all as cleaned text. The batch path (:mod:`geo.dask_path`) finds
    duplicates across blocks of a large file with the same key."""
    return pd.DataFrame(
        {
            "layer": np.asarray(layer, dtype=object),
            "name": clean_series(pd.Series(np.asarray(name, dtype=object)))
            .str.replace(r"\s+", "", regex=True)
            .to_numpy(),
            "county": np.asarray(county, dtype=object),
            "township": np.asarray(township, dtype=object),
            "village": np.asarray(village, dtype=object),
        }
    )


def _is_projected_label(label: object) -> bool:
    return (
        isinstance(label, str) and label.startswith("EPSG:") and label not in (WGS84, "EPSG:4490")
    )


def _short_crs(label: object) -> str:
    return {WGS84: "WGS84", "EPSG:4490": "CGCS2000"}.get(str(label), str(label))


def _fmt(value: float, decimals: int) -> str:
    if not np.isfinite(value):
        return ""
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")
