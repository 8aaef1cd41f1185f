"""Reported figures as planners enter them: the fill-in workbook, and reading it back.

15 of the plan's targets are statistics a bureau reports (science literacy, S&T enterprises,
fiscal S&T input, …). ``data/plan/indicators.csv`` names what is entered (its vocabulary, with
unit, allowed range and whether a whole number) and which indicators are derived from others
(computed, never typed in). :func:`template_workbook` writes the XLSX planners fill in;
:func:`read_actuals` reads it, or any long table (指标, 县区, 年份, 数值, 来源, 备注) in CSV or
XLSX, into the canonical figures frame (:data:`ACTUAL_COLUMNS`).

No row is lost: each row read is accepted, rejected (row, column, and the reason in Chinese and
English) or empty (a template row left blank), and ``rows_read == accepted + rejected + empty``.
Numbers are read, never guessed: "约80" or "N/A" is rejected, not taken as 80 or 0.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.styles import Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from base.cells import neutralise
from base.errors import InputError
from layers.readers import EXCEL_SUFFIXES, RawTable, read_table
from layers.safety import MAX_SHEETS_READ, SITE_LIMITS, time_budget

ACTUAL_COLUMNS = ("target_id", "period", "scope_code", "value", "source", "note")
REJECT_COLUMNS = ("sheet", "row", "column", "value", "reason_zh", "reason_en")
CITY_CODE = "630100"
CITY_NAME = "西宁市"
FIRST_YEAR, LAST_YEAR = 2015, 2023  # the plan ran 2018-09-14 to 2023-09-13; 2015-17: baselines
TEMPLATE_YEARS = tuple(range(2018, 2024))
BASE_YEAR = 2015  # the base of the 13th Five-Year Plan, for indicators whose growth is computed
_HEADER_SCAN_ROWS = 30

# The plan's section headings (seed lines 16, 24-31), in simplified characters: sheet names.
_CLAUSE_TITLES = {
    "(三)": "发展目标",
    "(四)": "加大科技创新投入",
    "(五)": "加强创新载体建设",
    "(六)": "充分利用“互联网”",
    "(七)": "加大金融支持",
    "(八)": "创建创新示范县区和乡镇",
    "(九)": "引导创新人才活动",
    "(十)": "优化创新创业环境",
    "(十一)": "推动科技扶贫",
    "(十二)": "加强科学普及",
}
_COMPARATORS = {">=": "≥", "=": "=", "<=": "≤", ">": ">", "<": "<"}
_DERIVATIONS = {"share": ("比重", "share"), "growth": ("逐年增幅", "year-on-year growth")}

# Canonical fields of a figures table and the headers that name them (compared after NFKC,
# lower-casing and removing spaces and bracketed text: "来源（报告名称或文号）" is 来源).
_FIELDS: dict[str, tuple[str, ...]] = {
    "indicator_id": ("指标编号", "指标代码", "indicator_id", "target_id"),
    "indicator": ("指标", "指标名称", "indicator"),
    "county": (
        "县区",
        "区县",
        "县市区",
        "地区",
        "范围",
        "county",
        "district",
        "scope",
        "scope_code",
    ),
    "year": ("年份", "年度", "year", "period"),
    "value": ("数值", "数据", "值", "value"),
    "unit": ("单位", "unit"),
    "source": ("来源", "数据来源", "资料来源", "source"),
    "date": ("日期", "报告日期", "发布日期", "date"),
    "note": ("备注", "说明", "note", "notes", "remark"),
}
_LABELS = {  # how a field is named in messages when the file has no column for it
    "indicator_id": "指标编号",
    "indicator": "指标",
    "county": "县区",
    "year": "年份",
    "value": "数值",
    "unit": "单位",
    "source": "来源",
}
_TEMPLATE_HEADERS = (
    ("indicator_id", "指标编号", 4),
    ("indicator", "指标", 34),
    ("county", "县区", 18),
    ("year", "年份", 8),
    ("value", "数值", 12),
    ("unit", "单位", 8),
    ("source", "来源（报告名称或文号）", 40),
    ("date", "日期", 12),
    ("note", "备注", 30),
)
_INPUT_FIELDS = ("county", "year", "value", "source", "date", "note")  # unlocked cells
_BRACKETED = re.compile(r"\(.*?\)|\[.*?\]|【.*?】|〔.*?〕|<.*?>")
_BRACKETS = re.compile(r"[()\[\]【】〔〕<>]")
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_YEAR_ONLY = re.compile(r"(\d{4})(?:年度|年)?")
_ISO_DATE = re.compile(
    r"(\d{4})[-/.]\d{1,2}(?:[-/.]\d{1,2})?(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_CHINESE_DATE = re.compile(r"(\d{4})年\d{1,2}月(?:\d{1,2}日)?")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")  # Excel's day number (1927-2173) of a date
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# 数值 of a % indicator shows "7.5%" for 7.5; "7.5%" typed into it (which Excel stores as 0.075)
# shows "0.08%", visibly wrong, where Excel's own percent format would show "7.50%".
_VALUE_FORMATS = {"%": '0.0#"%"'}
_GREY = PatternFill("solid", fgColor="EEEEEE")
_HEAD = PatternFill("solid", fgColor="DDEBF7")


@dataclass
class ActualsLoad:
    """Figures read from one file: accepted rows (:data:`ACTUAL_COLUMNS` + ``sheet``, ``row``),
    rejected rows (:data:`REJECT_COLUMNS`), rows read, and template rows left blank."""

    frame: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    empty: int


# --- indicators -----------------------------------------------------------------------------


def _text(value: object) -> str:
    """A cell or field as stripped text ("" for None and NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _bound(text: object) -> float:
    """A min/max of indicators.csv; NaN where there is no bound."""
    return float(_text(text)) if _text(text) else math.nan


def read_indicators(path: Path | str, *, targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """``indicators.csv`` with each indicator's scope: ``scope_codes`` (';'-joined, the city
    630100 first, then the ``scope_counties`` of its ``scope_of`` target), and that target's
    ``clause`` and ``aggregate``; ``min``/``max`` as floats (NaN: no bound), ``integer`` as
    bool. ``targets`` defaults to the ``targets.csv`` beside ``path``."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if targets is None:
        targets = pd.read_csv(path.with_name("targets.csv"), dtype=str, keep_default_na=False)
    by_id = targets.astype({"target_id": str}).set_index("target_id")
    unknown = sorted(set(frame["scope_of"]) - set(by_id.index))
    if unknown:
        raise InputError(
            f"{path.name}: scope_of names targets not in targets.csv: {unknown}",
            zh=f"{path.name}: scope_of 中的目标不在 targets.csv 中: {unknown}",
        )
    counties = frame["scope_of"].map(by_id["scope_counties"].map(_text))
    frame["scope_codes"] = [
        ";".join([CITY_CODE, *(c for c in s.split(";") if c)]) for s in counties
    ]
    frame["clause"] = frame["scope_of"].map(by_id["clause"].map(_text))
    frame["aggregate"] = frame["scope_of"].map(by_id["aggregate"].map(_text))
    frame["min"] = frame["min"].map(_bound)
    frame["max"] = frame["max"].map(_bound)
    frame["integer"] = frame["integer"].str.strip().str.lower().eq("true")
    return frame


def _growth_inputs(indicators: pd.DataFrame) -> set[str]:
    """Indicators whose year-on-year growth is computed (they need the year before too)."""
    growth = indicators[indicators["derivation"].eq("growth")]
    return {i for inputs in growth["inputs"] for i in inputs.split(";") if i}


def _template_scope(spec: pd.Series) -> list[str]:
    """Scopes the template has rows for: each county; the city first unless per county."""
    codes = [c for c in spec["scope_codes"].split(";") if c]
    return [c for c in codes if c != CITY_CODE] if spec["aggregate"] == "each" else codes


# --- matching names -------------------------------------------------------------------------


def _key(text: object) -> str:
    """Comparable form: NFKC (full-width letters, digits and brackets), lower case, no spaces."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", _text(text))).lower()


def _key_forms(text: object) -> list[str]:
    """The key, without bracketed text, and without brackets ("国家创新型县（市、区）")."""
    key = _key(text)
    return list(dict.fromkeys([key, _BRACKETED.sub("", key), _BRACKETS.sub("", key)]))


_FIELD_OF = {_BRACKETED.sub("", _key(h)): f for f, headers in _FIELDS.items() for h in headers}


@dataclass(frozen=True)
class _Vocabulary:
    """What a row may name: indicators (by id, Chinese or English name) and scopes (by code
    or name)."""

    specs: dict[str, dict]
    names: dict[str, str | None]  # key form → indicator id (None: two indicators share it)
    scopes: dict[str, str]  # key → county code, or 630100
    labels: dict[str, str]  # code → name shown in messages

    @classmethod
    def build(cls, indicators: pd.DataFrame, counties: pd.DataFrame) -> _Vocabulary:
        specs = {r["indicator_id"]: r for r in indicators.to_dict("records")}
        names: dict[str, str | None] = {}
        for ident, spec in specs.items():
            words = (ident, spec["indicator_zh"], spec.get("indicator_en", ""))
            for form in {f for w in words if _text(w) for f in _key_forms(w)}:
                names[form] = ident if names.get(form, ident) == ident else None
        city = (CITY_CODE, CITY_NAME, "西宁", "全市", "Xining", "Xining City", "city")
        scopes = {_key(w): CITY_CODE for w in city}
        labels = {CITY_CODE: CITY_NAME}
        for row in counties.itertuples(index=False):
            code, short = _text(row.code), _text(row.short_name)
            labels[code] = _text(row.name)
            words = [code, row.name, short, *_text(row.aliases).split(";")]
            words += [short + "县", short + "区"] if short else []
            scopes.update({_key(w): code for w in words if _key(w)})
        return cls(specs, names, scopes, labels)

    def indicator(self, text: str) -> str | None:
        for form in _key_forms(text):
            if form in self.names:
                return self.names[form]
        return None

    def scope(self, text: str) -> str | None:
        key = _key(text).removesuffix(".0")
        if key.isdigit() and len(key) > 6:
            key = key[:6]  # a 12-digit statistical code
        return self.scopes.get(key)

    def scope_names(self, codes: Iterable[str]) -> str:
        return "、".join(self.labels.get(c, c) for c in codes)


# --- reading --------------------------------------------------------------------------------


class _Rejected(Exception):
    """A row's first failing check: the field and the reason in Chinese and English."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field, self.zh, self.en = field, zh, en


@dataclass
class _Table:
    """One sheet's figures: a column per field found (index = row numbers), and the headers."""

    sheet: str
    cells: pd.DataFrame
    headers: dict[str, str]  # field → the file's header for it
    bad_rows: list[dict]  # rows the reader could not split into the header's columns


def _field_positions(cells: Iterable[object]) -> dict[str, int]:
    """Field → position of the first header naming it."""
    out: dict[str, int] = {}
    for j, cell in enumerate(cells):
        field = _FIELD_OF.get(_BRACKETED.sub("", _key(cell)))
        if field and field not in out:
            out[field] = j
    return out


def _is_header(positions: dict[str, int]) -> bool:
    """Whether a row names the columns a figure needs: indicator, county, year and value."""
    names_indicator = "indicator" in positions or "indicator_id" in positions
    return names_indicator and {"county", "year", "value"} <= positions.keys()


_YEAR_HEADER = re.compile(r"^(\d{4})(?:年度|年)?(?:数值|数据|值)?$")


def _year_columns(cells: Iterable[object]) -> dict[int, int]:
    """Position → year of every header that is a year of the plan's period ("2020", "2020年")
    in a wide table, as statistical communiqués print figures (a column per year)."""
    out = {}
    for j, cell in enumerate(cells):
        m = _YEAR_HEADER.match(_key(cell))
        if m and FIRST_YEAR - 5 <= int(m.group(1)) <= LAST_YEAR + 10:
            out[j] = int(m.group(1))
    return out


def _is_wide_header(cells: list[object]) -> bool:
    """An indicator column and at least one year column, and no 年份/数值 columns."""
    positions = _field_positions(cells)
    names_indicator = "indicator" in positions or "indicator_id" in positions
    long = "year" in positions or "value" in positions
    return names_indicator and not long and bool(_year_columns(cells))


def _header_row(frame: pd.DataFrame) -> tuple[int, list[object]] | None:
    """(first data row, header cells): the frame's own header, else one of its first rows."""
    header = list(frame.columns)
    if _is_header(_field_positions(header)) or _is_wide_header(header):
        return 0, header
    first = frame.head(_HEADER_SCAN_ROWS).itertuples(index=False)
    for i, row in enumerate(first):
        cells = list(row)
        if _is_header(_field_positions(cells)) or _is_wide_header(cells):
            return i + 1, cells
    return None


def _wide(body: pd.DataFrame, header: list[object], filename: str) -> tuple[pd.DataFrame, dict]:
    """A wide table as long rows: one row per indicator (and county) and year column, with the
    year from the header. No county column: the figures are the city's; no source column:
    the file itself (its name) is the source, as for a communiqué."""
    positions = _field_positions(header)
    years = _year_columns(header)
    rows, index = [], []
    for i in range(len(body)):
        base = {f: _text(body.iat[i, j]) for f, j in positions.items()}
        base.setdefault("county", CITY_NAME)
        if not base.get("source"):
            base["source"] = PurePosixPath(filename).stem
        for j, year in years.items():
            rows.append({**base, "year": str(year), "value": _text(body.iat[i, j])})
            index.append(body.index[i])
    fields = [*positions, "county", "source", "year", "value"]
    cells = pd.DataFrame(rows, index=index, columns=list(dict.fromkeys(fields))).fillna("")
    headers = {f: str(header[j]).strip() for f, j in positions.items()}
    headers |= {"year": "年份(表头)", "value": "数值(各年份列)"}
    headers.setdefault("county", "县区")
    headers.setdefault("source", "来源")
    return cells, headers


def _table(raw: RawTable, sheet: str) -> _Table | None:
    """The figures in ``raw``: its header, else a header among its first rows (a template
    sheet has the plan's clause and target above it); a wide table (a column per year) is read
    as one figure per year cell. None when it has no header."""
    frame = raw.frame
    found = _header_row(frame)
    if found is not None and found[0] > 0 and raw.bad_rows:
        found = None
    if found is None:
        if raw.bad_rows:  # a CSV read with a title row as header: its rows were not split
            raise InputError(
                f"{raw.filename}: the header (指标, 县区, 年份, 数值) must be the first row of a "
                "CSV; delete the rows above it, or upload the workbook itself.",
                zh=f"{raw.filename}: CSV 的第一行须是表头(指标、县区、年份、数值); "
                "请删去表头上方的行, 或直接上传工作簿。",
            )
        return None
    start, header = found
    body = frame.iloc[start:]
    if _is_wide_header(header):
        cells, headers = _wide(body, header, raw.filename)
        return _Table(sheet, cells, headers, raw.bad_rows)
    positions = _field_positions(header)
    cells = pd.DataFrame({f: body.iloc[:, j].map(_text) for f, j in positions.items()})
    headers = {f: str(header[j]).strip() for f, j in positions.items()}
    return _Table(sheet, cells, headers, raw.bad_rows)


def _filled_sheets(data: bytes) -> list[str]:
    """Names of the workbook's sheets that hold any cell (an empty sheet is no table), once
    :func:`~layers.readers.read_table` has checked the file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return [ws.title for ws in book.worksheets if _has_cells(ws)]
    finally:
        book.close()


def _has_cells(ws: Any) -> bool:
    """Whether a sheet holds any value (stops at the first)."""
    try:
        ws.reset_dimensions()  # a wrong <dimension> tag must not hide rows
        return any(_text(v) for row in ws.iter_rows(values_only=True) for v in row)
    except Exception:  # a damaged sheet: read_table says what is wrong with it
        return True


def _tables(data: bytes, filename: str) -> list[_Table]:
    """Every sheet (XLSX) or the table (CSV and others) holding figures, read by
    :func:`layers.readers.read_table` within one time budget; :class:`InputError` when none
    does, or when the file cannot be read at all."""
    with time_budget(filename, seconds=SITE_LIMITS.seconds):
        first = read_table(data, filename=filename)  # the file's own checks come first
        if PurePosixPath(filename.lower()).suffix in EXCEL_SUFFIXES:
            sheets = _filled_sheets(data)
            if len(sheets) > MAX_SHEETS_READ:  # each sheet is read on its own: bounded work
                raise InputError(
                    f"{filename}: {len(sheets)} sheets hold data, more than the "
                    f"{MAX_SHEETS_READ} read; put the figures in fewer sheets.",
                    zh=f"{filename}: 有 {len(sheets)} 个工作表含数据, 超过读取上限 "
                    f"{MAX_SHEETS_READ} 个; 请把数据放在较少的工作表中。",
                )
            raws = [read_table(data, filename=filename, sheet=s) for s in sheets]
        else:
            sheets, raws = [""], [first]
        tables = [t for s, raw in zip(sheets, raws) if (t := _table(raw, s)) is not None]
    if not tables:
        raise InputError(
            f"{filename}: no table of figures found: the columns 指标 (indicator), 县区 (county), "
            "年份 (year) and 数值 (value) are needed.",
            zh=f"{filename}: 没有找到数据表: 需要“指标”“县区”“年份”“数值”四列。",
        )
    return tables


def _number(text: str, *, unit: str) -> float:
    """A number as written in a cell ("7.5", "7.5%", "1,234", full-width digits, "82家" when
    the indicator's unit is 家); :class:`_Rejected` for anything else."""
    key = _key(text)
    percent = key.endswith("%")
    suffix = "%" if percent else _key(unit)
    if suffix and key.endswith(suffix):
        key = key[: -len(suffix)]
    if _GROUPED.fullmatch(key):
        key = key.replace(",", "")
    if not _NUMBER.fullmatch(key) or not math.isfinite(float(key)):
        raise _Rejected(
            "value",
            f"数值“{text}”不是数字(只填数字, 如 82、7.5、1,234; 不要写“约”“N/A”等文字)",
            f"the value '{text}' is not a number (write digits only, e.g. 82, 7.5, 1,234)",
        )
    if percent and unit != "%":
        raise _Rejected(
            "value",
            f"数值“{text}”带 %, 但该指标的单位是“{unit}”",
            f"the value '{text}' is a percentage but the indicator's unit is {unit}",
        )
    return float(key)


def _year(text: str) -> int:
    """The year of a cell: 2020, "2020年", a date ("2020-06-30", "2020年6月") or Excel's day
    number of a date; :class:`_Rejected` when it names none or one outside 2016-2023."""
    key = _key(text)
    if not key:
        raise _Rejected("year", "年份为空", "no year")
    match = next(
        (m for p in (_YEAR_ONLY, _ISO_DATE, _CHINESE_DATE) if (m := p.fullmatch(key))), None
    )
    if match is not None:
        year = int(match.group(1))
    elif _SERIAL.fullmatch(key):
        year = (_EXCEL_EPOCH + dt.timedelta(days=int(float(key)))).year
    else:
        raise _Rejected(
            "year", f"年份“{text}”不是年份(如 2020)", f"the year '{text}' is not a year (e.g. 2020)"
        )
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _Rejected(
            "year",
            f"年份 {year} 不在 {FIRST_YEAR}–{LAST_YEAR} 年之内(方案实施期 2018-09-14 至 "
            f"2023-09-13, {FIRST_YEAR}–2017 年仅作增长的基数)",
            f"the year {year} is outside {FIRST_YEAR}-{LAST_YEAR} (the plan ran 2018-09-14 to "
            f"2023-09-13; {FIRST_YEAR}-2017 only as baselines for growth)",
        )
    return year


def _indicator(row: dict[str, str], vocab: _Vocabulary) -> dict:
    """The indicator a row names (by 指标编号, else 指标), never a derived one."""
    given = row.get("indicator_id") or row.get("indicator", "")
    ident = vocab.indicator(given)
    if not given:
        raise _Rejected("indicator", "指标为空", "no indicator")
    if ident is None:
        field = "indicator_id" if row.get("indicator_id") else "indicator"
        raise _Rejected(field, f"未知指标“{given}”", f"unknown indicator '{given}'")
    named = row.get("indicator", "")
    if row.get("indicator_id") and named and vocab.indicator(named) != ident:
        raise _Rejected(
            "indicator",
            f"指标“{named}”与指标编号“{row['indicator_id']}”不一致",
            f"the indicator '{named}' does not match the indicator id '{row['indicator_id']}'",
        )
    spec = vocab.specs[ident]
    if spec["derivation"]:
        _derived(spec, vocab, field="indicator_id" if row.get("indicator_id") else "indicator")
    return spec


def _derived(spec: dict, vocab: _Vocabulary, *, field: str) -> None:
    """Reject a derived indicator typed in, naming the inputs to enter instead."""
    inputs = [i for i in spec["inputs"].split(";") if i]
    names_zh = "和".join(f"“{vocab.specs[i]['indicator_zh']}”" for i in inputs if i in vocab.specs)
    how_zh, how_en = _DERIVATIONS.get(spec["derivation"], (spec["derivation"],) * 2)
    raise _Rejected(
        field,
        f"“{spec['indicator_zh']}”是由{names_zh}计算的{how_zh}, 不直接填写; 请改填{names_zh}",
        f"{spec['indicator_en']} ({spec['indicator_id']}) is computed ({how_en}) from "
        f"{', '.join(inputs)}; enter those instead",
    )


def _scope(row: dict[str, str], spec: dict, vocab: _Vocabulary) -> str:
    """The county code (or 630100) a row is for, within the indicator's scope."""
    given = row.get("county", "")
    code = vocab.scope(given)
    if not given:
        raise _Rejected("county", "县区为空(全市填“西宁市”)", "no county (西宁市 for the city)")
    if code is None:
        raise _Rejected("county", f"未知县区“{given}”", f"unknown county '{given}'")
    allowed = [c for c in spec["scope_codes"].split(";") if c]
    if code not in allowed:
        raise _Rejected(
            "county",
            f"{vocab.labels.get(code, code)}不在“{spec['indicator_zh']}”的填报范围内"
            f"(范围: {vocab.scope_names(allowed)})",
            f"{given} ({code}) is outside the scope of {spec['indicator_id']} "
            f"({', '.join(allowed)})",
        )
    return code


def _value(row: dict[str, str], spec: dict) -> float:
    """The row's value in the indicator's unit, whole where it must be, within its range."""
    unit, zh = spec["unit"], spec["indicator_zh"]
    written = row.get("unit", "")
    if written and _key(written) != _key(unit):
        raise _Rejected(
            "unit",
            f"单位“{written}”与“{zh}”的单位“{unit}”不符",
            f"the unit '{written}' is not the indicator's unit '{unit}'",
        )
    value = _number(row["value"], unit=unit)
    if spec["integer"] and not value.is_integer():
        raise _Rejected(
            "value", f"“{zh}”须为整数, {value:g} 不是", f"{spec['indicator_id']} is a whole number"
        )
    low, high = spec["min"], spec["max"]
    if (not math.isnan(low) and value < low) or (not math.isnan(high) and value > high):
        shown = _range_text(spec)
        raise _Rejected(
            "value",
            f"数值 {value:g} 超出“{zh}”的允许范围 {shown} {unit}",
            f"the value {value:g} is outside the range of {spec['indicator_id']} ({shown} {unit})",
        )
    return value


def _figure(row: dict[str, str], vocab: _Vocabulary) -> dict:
    """One figure from a row with a value; :class:`_Rejected` with the first reason it fails."""
    spec = _indicator(row, vocab)
    code = _scope(row, spec, vocab)
    year = _year(row.get("year", ""))
    value = _value(row, spec)
    source = row.get("source", "")
    if not source:
        raise _Rejected(
            "source",
            "来源为空: 请填写报告名称或文号",
            "no source: give the report's name or document number",
        )
    date, note = row.get("date", ""), row.get("note", "")
    if date:
        note = f"日期 {date}" + (f"; {note}" if note else "")
    return {
        "target_id": spec["indicator_id"],
        "period": year,
        "scope_code": code,
        "value": value,
        "source": source,
        "note": note,
    }


@dataclass
class _Outcome:
    """The rows of a file as they are classified."""

    accepted: list[dict]
    rejected: list[dict]
    empty: int = 0

    def reject(self, table: _Table, row: int, field: str, zh: str, en: str) -> None:
        label = table.headers.get(field) or _LABELS.get(field, field)
        value = table.cells.at[row, field] if field in table.cells else ""
        self.rejected.append(
            {
                "sheet": table.sheet,
                "row": row,
                "column": label,
                "value": value,
                "reason_zh": zh,
                "reason_en": en,
            }
        )


def _rows(table: _Table) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, field → text) of each row of ``table``."""
    for row, cells in zip(table.cells.index, table.cells.to_dict("records")):
        yield int(row), cells


def _classify(table: _Table, vocab: _Vocabulary, out: _Outcome, seen: dict) -> None:
    """Each row of ``table`` accepted, rejected or counted empty (``seen``: figure key → the
    sheet and row that first gave it)."""
    for bad in table.bad_rows:
        out.rejected.append(
            {
                "sheet": table.sheet,
                "row": bad["row"],
                "column": bad.get("column", ""),
                "value": bad.get("value", ""),
                "reason_zh": "该行的单元格数多于表头的列数(值中含未加引号的逗号?)",
                "reason_en": bad["reason"],
            }
        )
    for row, cells in _rows(table):
        if not cells.get("value"):
            if cells.get("source"):
                out.reject(
                    table,
                    row,
                    "value",
                    f"数值为空, 但填写了来源“{cells['source']}”: 请填写数值, 或删去来源",
                    "no value, but a source is given: enter the value or remove the source",
                )
            else:
                out.empty += 1
            continue
        try:
            figure = _figure(cells, vocab)
        except _Rejected as exc:
            out.reject(table, row, exc.field, exc.zh, exc.en)
            continue
        key = (figure["target_id"], figure["scope_code"], figure["period"])
        if key in seen:
            sheet, first = seen[key]
            where_zh = f"工作表“{sheet}”" if sheet != table.sheet else ""
            where_en = f" of sheet '{sheet}'" if sheet != table.sheet else ""
            out.reject(
                table,
                row,
                "year",
                f"与{where_zh}第 {first} 行重复(同一指标、县区和年份)",
                f"duplicate of row {first}{where_en} (same indicator, county and year)",
            )
            continue
        seen[key] = (table.sheet, row)
        out.accepted.append({**figure, "sheet": table.sheet, "row": row})


def read_actuals(
    data: bytes, *, filename: str, indicators: pd.DataFrame, counties: pd.DataFrame
) -> ActualsLoad:
    """Read a filled template or a long table of figures (see the module docstring).

    ``indicators``: :func:`read_indicators`; ``counties``: code, name, short_name, aliases
    (';'-separated historic names), as ``geo.boundaries.Units.counties``. A file that cannot
    be used at all (no such columns, damaged, too large) is an :class:`InputError`.
    """
    vocab = _Vocabulary.build(indicators, counties)
    out = _Outcome([], [])
    seen: dict[tuple, tuple[str, int]] = {}
    tables = _tables(data, filename)
    for table in tables:
        _classify(table, vocab, out, seen)
    rows_read = sum(len(t.cells) + len(t.bad_rows) for t in tables)
    frame = pd.DataFrame(out.accepted, columns=[*ACTUAL_COLUMNS, "sheet", "row"])
    frame = frame.astype({"period": "int64", "value": "float64", "row": "int64"})
    rejects = pd.DataFrame(out.rejected, columns=list(REJECT_COLUMNS))
    rejects = rejects.astype({"row": "int64"})
    return ActualsLoad(frame=frame, rejects=rejects, rows_read=rows_read, empty=out.empty)


# --- the fill-in workbook -------------------------------------------------------------------


def _clause(clause: str) -> str:
    """ "(五)" as printed in the seed → "（五）" as a Chinese sheet shows it."""
    return clause.replace("(", "（").replace(")", "）")


def _scope_words(target: pd.Series, short: dict[str, str]) -> str:
    """Who the target binds: "全市合计", "各县区分别", "湟中、大通、湟源合计"."""
    codes = [c for c in _text(target["scope_counties"]).split(";") if c]
    every = len(codes) == len(short)
    if target["aggregate"] == "each":
        return "各县区分别" if every else "、".join(short.get(c, c) for c in codes) + "分别"
    return "全市合计" if every else "、".join(short.get(c, c) for c in codes) + "合计"


def _target_line(target: pd.Series, short: dict[str, str]) -> str:
    """ "（五）縣域科技型企業總量達到82家 — 目标 ≥ 82 家，2020年，全市合计"."""
    comparator = _COMPARATORS.get(target["comparator"], target["comparator"])
    value = f"{float(target['value']):g}" + ("" if target["unit"] == "%" else " ")
    per_year = "（每年）" if _text(target["per_year"]).lower() == "true" else ""
    return (
        f"{_clause(target['clause'])}{target['quote']} — 目标 {comparator} {value}"
        f"{target['unit']}，{target['deadline']}年{per_year}，{_scope_words(target, short)}"
    )


def _how(spec: pd.Series, zh_of: dict[str, str]) -> str:
    """How a derived indicator is computed, in Chinese."""
    inputs = [zh_of.get(i, i) for i in spec["inputs"].split(";") if i]
    if spec["derivation"] == "share" and len(inputs) == 2:
        return f"100 × “{inputs[0]}” ÷ “{inputs[1]}”（同一年份、同一县区）"
    if spec["derivation"] == "growth" and len(inputs) == 1:
        return f"100 ×（当年“{inputs[0]}” ÷ 上一年“{inputs[0]}” − 1）；期间年均增幅取几何平均"
    return f"由{'、'.join(inputs)}计算"


def _range_text(spec: pd.Series | dict) -> str:
    """The allowed range as shown to planners: "0–100", "≥ 0", "不限"."""
    low, high = spec["min"], spec["max"]
    if math.isnan(low) and math.isnan(high):
        return "不限"
    if math.isnan(high):
        return f"≥ {low:g}"
    return f"≤ {high:g}" if math.isnan(low) else f"{low:g}–{high:g}"


def _groups(indicators: pd.DataFrame, targets: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Indicators by the clause of their target, in the plan's order."""
    order = list(dict.fromkeys(targets["clause"]))
    clauses = sorted(set(indicators["clause"]), key=lambda c: order.index(c) if c in order else 99)
    return [(c, indicators[indicators["clause"] == c]) for c in clauses]


def _sheet_name(clause: str) -> str:
    """ "（五）加强创新载体建设": the clause and its heading, within Excel's 31 characters."""
    return (_clause(clause) + _CLAUSE_TITLES.get(clause, ""))[:31]


def _write_cell(ws: Worksheet, row: int, column: int, value: object, **style: object) -> None:
    """One cell with its style attributes; text that a spreadsheet would run is neutralised."""
    cell = ws.cell(row=row, column=column, value=neutralise(value))
    for name, setting in style.items():
        setattr(cell, name, setting)


_HOW_TO = (
    "填写方法",
    "1. 每个工作表对应方案的一条（如（五）），每行是一个指标、一个县区（或西宁市全市）、一个年份。",
    "2. 只填写“数值”“来源”“日期”“备注”四列；指标、单位已锁定，县区和年份已列好。",
    "3. 数值只填数字，不带单位和文字：82、7.5、1,234。百分比填百分数的数字，7.5 表示 7.5%。"
    "写“约80”“N/A”的行会被拒绝。",
    "4. “来源”必填：统计报告的名称或文号（如 西宁市2020年国民经济和社会发展统计公报）。",
    "5. 没有数据的行留空即可（不算错误）。同一指标、县区和年份只填一次。",
    "6. 年份可为 2016–2023 年（方案实施期 2018-09-14 至 2023-09-13；2016–2017 年只作增长的基数）。",
    "7. 计算得出的指标（见下）不填写，由系统根据其组成指标计算。",
    "8. 填好后检查：python -m geo actuals check 文件名.xlsx（逐行列出被拒绝的行及原因）。",
    "9. 工作表已保护（无密码），只为防止误改指标；需要时可在“审阅—撤销工作表保护”中取消。",
)


def _list(ws: Worksheet, row: int, title: str, heads: tuple, rows: list[tuple]) -> int:
    """A titled table on the 说明 sheet from ``row``; the row after it."""
    _write_cell(ws, row, 1, title, font=Font(bold=True))
    for j, head in enumerate(heads, start=1):
        _write_cell(ws, row + 1, j, head, font=Font(bold=True), fill=_HEAD)
    for i, values in enumerate(rows, start=row + 2):
        for j, value in enumerate(values, start=1):
            _write_cell(ws, i, j, value)
    return row + 2 + len(rows)


def _readme(ws: Worksheet, indicators: pd.DataFrame, sheet_of: dict[str, str]) -> None:
    """The 说明 sheet: how to fill in, what each entered indicator allows, what is computed."""
    title = "西宁市推动县域创新驱动发展实施方案（宁政办〔2018〕132号）统计数据填报表"
    _write_cell(ws, 1, 1, title, font=Font(bold=True, size=14))
    for i, line in enumerate(_HOW_TO, start=3):
        _write_cell(ws, i, 1, line, font=Font(bold=i == 3))
    zh_of = dict(zip(indicators["indicator_id"], indicators["indicator_zh"]))
    entered = [
        (
            s["indicator_id"],
            s["indicator_zh"],
            s["unit"],
            _range_text(s),
            "是" if s["integer"] else "否",
            sheet_of.get(s["indicator_id"], ""),
        )
        for _, s in indicators[indicators["derivation"].eq("")].iterrows()
    ]
    heads = ("指标编号", "指标", "单位", "允许范围", "整数", "工作表")
    row = _list(ws, len(_HOW_TO) + 4, "填写的指标", heads, entered)
    computed = [
        (s["indicator_id"], s["indicator_zh"], s["unit"], _how(s, zh_of))
        for _, s in indicators[indicators["derivation"].ne("")].iterrows()
    ]
    heads = ("指标编号", "指标", "单位", "计算方法")
    _list(ws, row + 1, "计算得出的指标（不填写）", heads, computed)
    for letter, width in zip("ABCDEF", (40, 34, 8, 30, 6, 26)):
        ws.column_dimensions[letter].width = width


def _titles(
    group: pd.DataFrame, indicators: pd.DataFrame, targets: pd.DataFrame, short: dict[str, str]
) -> list[str]:
    """The lines above a sheet's table: each target of the clause, and how derived ones and
    their components are filled."""
    by_id = targets.set_index("target_id")
    zh_of = dict(zip(indicators["indicator_id"], indicators["indicator_zh"]))
    lines = []
    for scope_of in dict.fromkeys(group["scope_of"]):
        line = _target_line(by_id.loc[scope_of], short)
        derived = group[(group["scope_of"] == scope_of) & group["derivation"].ne("")]
        for _, spec in derived.iterrows():
            line += f"【计算得出，不填写：{_how(spec, zh_of)}】"
        lines.append(line)
    growth = _growth_inputs(indicators)
    for _, spec in group[group["indicator_id"].isin(growth)].iterrows():
        lines.append(
            f"请填写每年的“{spec['indicator_zh']}”（{spec['unit']}），年均增幅由系统计算；"
            f"{BASE_YEAR}年（“十三五”前一年）为基数年。"
        )
    return lines


def _validation(
    kind: str,
    *,
    prompt: str,
    error: str,
    operator: str | None = None,
    formulas: tuple[str, ...] = (),
) -> DataValidation:
    """An Excel data validation with its prompt (shown on entering the cell) and error."""
    return DataValidation(
        type=kind,
        operator=operator,
        formula1=formulas[0] if formulas else None,
        formula2=formulas[1] if len(formulas) > 1 else None,
        allow_blank=True,
        showInputMessage=True,
        showErrorMessage=True,
        promptTitle="填写说明",
        prompt=prompt,
        errorTitle="不符合要求",
        error=error,
    )


def _value_validation(spec: pd.Series) -> DataValidation:
    """Decimal (or whole number) within the indicator's min/max."""
    kind = "whole" if spec["integer"] else "decimal"
    low, high = spec["min"], spec["max"]
    if not math.isnan(low) and not math.isnan(high):
        operator, formulas = "between", (f"{low:g}", f"{high:g}")
    elif not math.isnan(low):
        operator, formulas = "greaterThanOrEqual", (f"{low:g}",)
    elif not math.isnan(high):
        operator, formulas = "lessThanOrEqual", (f"{high:g}",)
    else:
        operator, formulas = "between", ("-1E+15", "1E+15")
    whole = "整数，" if spec["integer"] else ""
    percent = "；百分比填数字，7.5 表示 7.5%" if spec["unit"] == "%" else ""
    text = (
        f"单位：{spec['unit']}；{whole}允许范围 {_range_text(spec)}{percent}。只填数字，不写文字。"
    )
    return _validation(kind, prompt=text, error=text, operator=operator, formulas=formulas)


def _table_rows(spec: pd.Series, labels: dict[str, str], growth: set[str]) -> list[dict]:
    """The template rows of one indicator: each scope × each year (2017 too for growth)."""
    base = tuple(range(BASE_YEAR, TEMPLATE_YEARS[0]))
    years = (base if spec["indicator_id"] in growth else ()) + TEMPLATE_YEARS
    return [
        {
            "indicator_id": spec["indicator_id"],
            "indicator": spec["indicator_zh"],
            "county": labels.get(code, code),
            "year": year,
            "unit": spec["unit"],
        }
        for code in _template_scope(spec)
        for year in years
    ]


def _block(
    ws: Worksheet, spec: pd.Series, first: int, rows: list[dict], labels: dict[str, str]
) -> None:
    """One indicator's rows from ``first``, with their data validations."""
    columns = {f: j for j, (f, _h, _w) in enumerate(_TEMPLATE_HEADERS, start=1)}
    value_format = "0" if spec["integer"] else _VALUE_FORMATS.get(spec["unit"], "General")
    formats = {"date": "yyyy-mm-dd", "value": value_format}
    for i, values in enumerate(rows):
        for field, j in columns.items():
            locked = field not in _INPUT_FIELDS
            style: dict[str, object] = {"protection": Protection(locked=locked)}
            if locked:
                style["fill"] = _GREY
            if field in formats:
                style["number_format"] = formats[field]
            _write_cell(ws, first + i, j, values.get(field), **style)
    last = first + len(rows) - 1
    letter = {f: get_column_letter(j) for f, j in columns.items()}
    years = sorted({r["year"] for r in rows})
    scopes = list(dict.fromkeys(labels.get(c, c) for c in _template_scope(spec)))
    checks = [
        ("value", _value_validation(spec)),
        (
            "year",
            _validation(
                "list",
                prompt="年份：从列表中选",
                error="年份不在列表中",
                formulas=('"' + ",".join(map(str, years)) + '"',),
            ),
        ),
        (
            "county",
            _validation(
                "list",
                prompt="县区：从列表中选",
                error="县区不在该指标的范围内",
                formulas=('"' + ",".join(scopes) + '"',),
            ),
        ),
        (
            "source",
            _validation(
                "textLength",
                prompt="必填：报告名称或文号",
                error="请填写来源",
                operator="greaterThan",
                formulas=("0",),
            ),
        ),
        (
            "date",
            _validation(
                "date",
                prompt="报告日期，如 2021-04-30（可空）",
                error="请填写日期",
                operator="greaterThanOrEqual",
                formulas=("DATE(2016,1,1)",),
            ),
        ),
    ]
    for field, check in checks:
        check.add(f"{letter[field]}{first}:{letter[field]}{last}")
        ws.add_data_validation(check)


def _group_sheet(
    ws: Worksheet,
    group: pd.DataFrame,
    *,
    indicators: pd.DataFrame,
    targets: pd.DataFrame,
    labels: dict[str, str],
    short: dict[str, str],
) -> None:
    """A clause's sheet: the plan's targets on top, then one row per indicator × scope × year
    for every indicator entered (derived ones are not rows: their inputs are)."""
    _write_cell(ws, 1, 2, f"{ws.title} — 统计数据填报", font=Font(bold=True, size=14))
    titles = _titles(group, indicators, targets, short)
    titles.append("只填“数值”“来源”“日期”“备注”；没有数据的行留空。百分比填数字（7.5 表示 7.5%）。")
    for i, line in enumerate(titles, start=2):
        _write_cell(ws, i, 2, line)
    header = len(titles) + 3
    for j, (_f, head, width) in enumerate(_TEMPLATE_HEADERS, start=1):
        _write_cell(ws, header, j, head, font=Font(bold=True), fill=_HEAD)
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.column_dimensions["A"].hidden = True
    growth = _growth_inputs(indicators)
    row = header + 1
    for _, spec in group[group["derivation"].eq("")].iterrows():
        rows = _table_rows(spec, labels, growth)
        _block(ws, spec, row, rows, labels)
        row += len(rows)
    ws.freeze_panes = f"C{header + 1}"
    ws.auto_filter.ref = f"A{header}:{get_column_letter(len(_TEMPLATE_HEADERS))}{row - 1}"
    ws.protection.sheet = True
    for allowed in ("autoFilter", "sort", "formatColumns", "formatRows"):
        setattr(ws.protection, allowed, False)


def template_workbook(
    indicators: pd.DataFrame, targets: pd.DataFrame, counties: pd.DataFrame
) -> bytes:
    """The XLSX planners fill in: a 说明 sheet, then one sheet per clause of the plan with its
    targets on top and a row per indicator, scope (the city and each county in scope; only
    counties for per-county targets) and year 2018-2023 (2017 too where growth is computed),
    with Excel data validation on 数值, 年份, 县区, 来源 and 日期. It reads back through
    :func:`read_actuals`. ``indicators``: :func:`read_indicators`; ``targets``: targets.csv."""
    labels = {CITY_CODE: CITY_NAME, **dict(zip(counties["code"].map(_text), counties["name"]))}
    short = dict(zip(counties["code"].map(_text), counties["short_name"].map(_text)))
    book = openpyxl.Workbook()
    readme = book.active
    readme.title = "说明"
    groups = [(c, g) for c, g in _groups(indicators, targets) if g["derivation"].eq("").any()]
    sheet_of = {}
    for clause, group in groups:
        ws = book.create_sheet(_sheet_name(clause))
        _group_sheet(ws, group, indicators=indicators, targets=targets, labels=labels, short=short)
        sheet_of.update(dict.fromkeys(group["indicator_id"], ws.title))
    _readme(readme, indicators, sheet_of)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
