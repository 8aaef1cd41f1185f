"""Reported figures: the fill-in workbook, filled and read back, and long tables from offices.

Every row read is accepted, rejected (row, column, reason in Chinese and English) or empty, and
``rows_read == accepted + rejected + empty``. The expected figures and reasons below are written
out by hand from data/plan/indicators.csv and targets.csv, not computed by the reader's code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from base.errors import InputError
from base.settings import PLAN_DIR
from geo.cli import main
from layers.actuals import ACTUAL_COLUMNS, ActualsLoad, read_actuals, read_indicators
from layers.actuals import template_workbook as make_template

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice is not installed (Debian: apt-get install libreoffice-calc-nogui)",
)

pytestmark = pytest.mark.store_free

SHEETS = [
    "说明",
    "（三）发展目标",
    "（四）加大科技创新投入",
    "（五）加强创新载体建设",
    "（六）充分利用“互联网”",
    "（九）引导创新人才活动",
    "（十一）推动科技扶贫",
]
SEVEN = ["城东区", "城中区", "城西区", "城北区", "湟中区", "大通回族土族自治县", "湟源县"]
THREE = ["湟中区", "大通回族土族自治县", "湟源县"]
YEARS = [2018, 2019, 2020, 2021, 2022, 2023]
# indicator → (scopes with rows, years with rows), as the brief and indicators.csv say
TEMPLATE_ROWS = {
    "national_innovative_county": (["西宁市", *SEVEN], YEARS),
    "national_innovative_town": (["西宁市", *SEVEN], YEARS),
    "science_literacy": (SEVEN, YEARS),  # per county (each)
    "fiscal_st_input": (SEVEN, [2015, 2016, 2017, *YEARS]),  # growth from 2015 (the base)
    "st_enterprises": (["西宁市", *SEVEN], YEARS),
    "high_tech_enterprises": (["西宁市", *SEVEN], YEARS),
    "core_parks_per_core_area": (["西宁市", *SEVEN], YEARS),
    "regional_brand_per_county": (THREE, YEARS),
    "ecommerce_talents": (["西宁市", *THREE], YEARS),
    "st_personnel_grassroots_per_year": (["西宁市", *THREE], YEARS),
    "new_varieties_technologies": (["西宁市", *THREE], YEARS),
    "st_personnel_dispatched": (["西宁市", *THREE], YEARS),
    "commissioner_poor_village_coverage": (["西宁市", *SEVEN], YEARS),
}
N_ROWS = sum(len(s) * len(y) for s, y in TEMPLATE_ROWS.values())
HEADER = [
    "指标编号",
    "指标",
    "县区",
    "年份",
    "数值",
    "单位",
    "来源（报告名称或文号）",
    "日期",
    "备注",
]


@pytest.fixture(scope="module")
def indicators() -> pd.DataFrame:
    return read_indicators(PLAN_DIR / "indicators.csv")


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    return pd.read_csv(PLAN_DIR / "targets.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def counties(units) -> pd.DataFrame:
    return pd.DataFrame(units.counties[["code", "name", "short_name", "aliases"]])


@pytest.fixture(scope="module")
def template(indicators, targets, counties) -> bytes:
    return make_template(indicators, targets, counties)


def _read(data: bytes, filename: str, indicators, counties) -> ActualsLoad:
    load = read_actuals(data, filename=filename, indicators=indicators, counties=counties)
    assert load.rows_read == len(load.frame) + len(load.rejects) + load.empty  # no row lost
    return load


def _header_row(ws) -> int:
    return next(r for r in range(1, 40) if ws.cell(r, 1).value == "指标编号")


def _locate(book) -> dict[tuple[str, str, int], tuple[str, int]]:
    """(indicator id, 县区, 年份) → (sheet, row) of every template row."""
    where = {}
    for ws in book.worksheets[1:]:
        for r in range(_header_row(ws) + 1, ws.max_row + 1):
            key = (ws.cell(r, 1).value, ws.cell(r, 3).value, ws.cell(r, 4).value)
            where[key] = (ws.title, r)
    return where


def _fill(book, where, key, value, source="", *, date=None, note=None, **cells) -> int:
    """Fill the template row of ``key``; ``cells`` overwrite other columns (county=, year=)."""
    sheet, r = where[key]
    ws = book[sheet]
    ws.cell(r, 5).value = value
    ws.cell(r, 7).value = source or None
    ws.cell(r, 8).value = date
    ws.cell(r, 9).value = note
    for name, new in cells.items():
        ws.cell(r, {"county": 3, "year": 4, "unit": 6}[name]).value = new
    return r


def _saved(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _open(template: bytes):
    book = openpyxl.load_workbook(io.BytesIO(template))
    return book, _locate(book)


# --- the template ---------------------------------------------------------------------------


def test_template_has_the_sheets_and_a_row_per_indicator_scope_and_year(template):
    book, where = _open(template)
    assert book.sheetnames == SHEETS
    assert all(len(name) <= 31 for name in book.sheetnames)
    expected = {
        (ident, scope, year)
        for ident, (scopes, years) in TEMPLATE_ROWS.items()
        for scope in scopes
        for year in years
    }
    assert set(where) == expected and len(where) == N_ROWS == 493 + 2 * len(SEVEN)
    ids = {key[0] for key in where}
    assert "high_tech_share" not in ids and "fiscal_st_input_growth" not in ids  # derived
    for ws in book.worksheets[1:]:
        assert [c.value for c in ws[_header_row(ws)]] == HEADER


def test_template_shows_the_clause_and_target_on_top(template):
    book = openpyxl.load_workbook(io.BytesIO(template))
    ws = book["（五）加强创新载体建设"]
    top = [ws.cell(r, 2).value for r in range(1, _header_row(ws))]
    assert "（五）縣域科技型企業總量達到82家 — 目标 ≥ 82 家，2020年，全市合计" in top
    assert "（五）縣域高新技術企業總量達到16家 — 目标 ≥ 16 家，2020年，全市合计" in top
    share = next(line for line in top if line and "占科技型企業20%" in line)
    assert share.startswith("（五）占科技型企業20% — 目标 ≥ 20%，2020年，全市合计【计算得出")
    assert "“县域高新技术企业总量” ÷ “县域科技型企业总量”" in share
    ws = book["（三）发展目标"]
    top = [ws.cell(r, 2).value for r in range(1, _header_row(ws))]
    assert "（三）具備基本科學素質的公民比例達到7%以上 — 目标 ≥ 7%，2020年，各县区分别" in top
    ws = book["（四）加大科技创新投入"]
    top = " ".join(str(ws.cell(r, 2).value) for r in range(1, _header_row(ws)))
    assert "2015年（“十三五”前一年）为基数年" in top and "年均增幅由系统计算" in top
    readme = [c.value for c in book["说明"]["A"] if c.value]
    assert any("计算得出的指标" in line for line in readme)
    assert {"high_tech_share", "fiscal_st_input_growth"} <= set(readme)


def test_template_data_validations_units_and_locks(template):
    book = openpyxl.load_workbook(io.BytesIO(template))
    ws = book["（五）加强创新载体建设"]
    first = _header_row(ws) + 1
    validations = ws.data_validations.dataValidation
    by_type: dict[str, list] = {}
    for dv in validations:
        by_type.setdefault(dv.type, []).append(dv)
    # 数值: whole numbers >= 0 for the enterprise counts (one block per indicator, in column E)
    wholes = by_type["whole"]
    assert {str(dv.sqref) for dv in wholes} >= {f"E{first}:E{first + 47}"}
    assert all(dv.operator == "greaterThanOrEqual" and dv.formula1 == "0" for dv in wholes)
    decimals = by_type["decimal"]  # core parks per core area: not whole (integer=false)
    assert [str(dv.sqref)[0] for dv in decimals] == ["E"]
    # 年份: a list of the years; 来源: required, with a prompt
    years = by_type["list"]
    assert any(dv.formula1 == '"2018,2019,2020,2021,2022,2023"' for dv in years)
    sources = by_type["textLength"]
    assert sources and all(dv.prompt == "必填：报告名称或文号" for dv in sources)
    assert all(str(dv.sqref).startswith("G") for dv in sources)
    sci = book["（三）发展目标"]
    ranges = {
        (dv.type, dv.operator, dv.formula1, dv.formula2)
        for dv in sci.data_validations.dataValidation
    }
    assert ("decimal", "between", "0", "100") in ranges  # science literacy, %
    assert ("whole", "between", "0", "7") in ranges  # national innovative counties
    fiscal = book["（四）加大科技创新投入"]
    assert any(
        dv.type == "list" and dv.formula1 == '"2015,2016,2017,2018,2019,2020,2021,2022,2023"'
        for dv in fiscal.data_validations.dataValidation
    )
    # 单位 fixed, locked and greyed; 数值 and 来源 open; the sheet protected; ids hidden
    assert ws.protection.sheet
    unit, value, source = ws.cell(first, 6), ws.cell(first, 5), ws.cell(first, 7)
    assert (
        unit.value == "家" and unit.protection.locked and unit.fill.fgColor.rgb.endswith("EEEEEE")
    )
    assert not value.protection.locked and not source.protection.locked
    assert ws.column_dimensions["A"].hidden


def test_blank_template_reads_back_all_empty(template, indicators, counties):
    load = _read(template, "填报模板.xlsx", indicators, counties)
    assert (load.rows_read, len(load.frame), len(load.rejects), load.empty) == (
        N_ROWS,
        0,
        0,
        N_ROWS,
    )


# --- filled templates -----------------------------------------------------------------------


def test_filled_template_reads_back_row_by_row(template, indicators, counties):
    book, where = _open(template)
    report = "西宁市2020年科技统计公报"
    rows = {
        "st": _fill(book, where, ("st_enterprises", "西宁市", 2020), 82, report),
        "ht": _fill(book, where, ("high_tech_enterprises", "西宁市", 2020), 16, report),
        "ht_cb": _fill(book, where, ("high_tech_enterprises", "城北区", 2020), 5, report),
        "sci": _fill(
            book,
            where,
            ("science_literacy", "城北区", 2020),
            7.5,
            "宁科协〔2021〕3号",
            date=dt.datetime(2021, 4, 30),
            note="抽样调查",
        ),
        "f17": _fill(book, where, ("fiscal_st_input", "湟中区", 2017), 1200, "湟中区财政决算"),
        "f18": _fill(book, where, ("fiscal_st_input", "湟中区", 2018), 1500.5, "湟中区财政决算"),
        "brand": _fill(book, where, ("regional_brand_per_county", "湟源县", 2023), 1, "湟源县报告"),
        "com": _fill(
            book, where, ("commissioner_poor_village_coverage", "西宁市", 2023), 100, "市科技局"
        ),
    }
    load = _read(_saved(book), "filled.xlsx", indicators, counties)
    expected = pd.DataFrame(
        [
            (
                "science_literacy",
                2020,
                "630105",
                7.5,
                "宁科协〔2021〕3号",
                "日期 2021-04-30; 抽样调查",
                "（三）发展目标",
                rows["sci"],
            ),
            (
                "fiscal_st_input",
                2017,
                "630106",
                1200.0,
                "湟中区财政决算",
                "",
                "（四）加大科技创新投入",
                rows["f17"],
            ),
            (
                "fiscal_st_input",
                2018,
                "630106",
                1500.5,
                "湟中区财政决算",
                "",
                "（四）加大科技创新投入",
                rows["f18"],
            ),
            (
                "st_enterprises",
                2020,
                "630100",
                82.0,
                report,
                "",
                "（五）加强创新载体建设",
                rows["st"],
            ),
            (
                "high_tech_enterprises",
                2020,
                "630100",
                16.0,
                report,
                "",
                "（五）加强创新载体建设",
                rows["ht"],
            ),
            (
                "high_tech_enterprises",
                2020,
                "630105",
                5.0,
                report,
                "",
                "（五）加强创新载体建设",
                rows["ht_cb"],
            ),
            (
                "regional_brand_per_county",
                2023,
                "630123",
                1.0,
                "湟源县报告",
                "",
                "（六）充分利用“互联网”",
                rows["brand"],
            ),
            (
                "commissioner_poor_village_coverage",
                2023,
                "630100",
                100.0,
                "市科技局",
                "",
                "（十一）推动科技扶贫",
                rows["com"],
            ),
        ],
        columns=[*ACTUAL_COLUMNS, "sheet", "row"],
    )
    pd.testing.assert_frame_equal(load.frame, expected, check_dtype=False)
    assert load.frame["period"].dtype == "int64" and load.frame["value"].dtype == "float64"
    assert load.rejects.empty
    assert (load.rows_read, load.empty) == (N_ROWS, N_ROWS - 8)


def test_every_template_row_filled_is_accepted(template, indicators, counties):
    """Whatever a planner fills in within the workbook's own validation reads back accepted."""
    book, where = _open(template)
    for key in where:
        _fill(book, where, key, 1, "测试报告")
    load = _read(_saved(book), "all.xlsx", indicators, counties)
    assert load.rejects.empty
    assert (len(load.frame), load.empty) == (N_ROWS, 0)
    assert set(zip(load.frame["target_id"], load.frame["period"])) == {
        (ident, year) for ident, (_s, years) in TEMPLATE_ROWS.items() for year in years
    }


def test_bad_workbook_is_reported_row_by_row(template, indicators, counties):
    book, where = _open(template)
    good = [
        _fill(book, where, ("st_enterprises", "西宁市", 2020), 82, "统计公报"),
        _fill(book, where, ("science_literacy", "城北区", 2020), 7.5, "科协报告"),
        _fill(book, where, ("ecommerce_talents", "西宁市", 2023), 520, "商务局"),
    ]
    bad = {
        "text": _fill(book, where, ("st_enterprises", "城东区", 2020), "约80", "统计公报"),
        "county": _fill(
            book, where, ("high_tech_enterprises", "城西区", 2020), 3, "统计公报", county="海东市"
        ),
        "year": _fill(book, where, ("st_enterprises", "城中区", 2023), 9, "统计公报", year=2030),
        "source": _fill(book, where, ("high_tech_enterprises", "西宁市", 2020), 16),
        "dup": _fill(book, where, ("st_enterprises", "西宁市", 2021), 85, "统计公报", year=2020),
        "over": _fill(book, where, ("science_literacy", "城东区", 2020), 105, "科协报告"),
        "whole": _fill(book, where, ("high_tech_enterprises", "城北区", 2021), 4.5, "统计公报"),
        "scope": _fill(
            book, where, ("regional_brand_per_county", "湟中区", 2020), 1, "报告", county="城东区"
        ),
    }
    ws = book["（五）加强创新载体建设"]
    derived = ws.max_row + 1
    for j, value in enumerate(
        ["high_tech_share", "高新技术企业占科技型企业比重", "西宁市", 2020, 19.5, "%", "统计公报"],
        start=1,
    ):
        ws.cell(derived, j).value = value
    load = _read(_saved(book), "bad.xlsx", indicators, counties)

    assert sorted(load.frame["row"]) == sorted(good)
    assert list(load.frame["value"]) == [7.5, 82.0, 520.0]  # in sheet order
    got = {
        int(r.row): (r.sheet, r.column, str(r.value), r.reason_zh)
        for r in load.rejects.itertuples(index=False)
    }
    s3, s5, s6 = "（三）发展目标", "（五）加强创新载体建设", "（六）充分利用“互联网”"
    first_st = good[0]
    assert got == {
        bad["text"]: (
            s5,
            "数值",
            "约80",
            "数值“约80”不是数字(只填数字, 如 82、7.5、1,234; 不要写“约”“N/A”等文字)",
        ),
        bad["county"]: (s5, "县区", "海东市", "未知县区“海东市”"),
        bad["year"]: (
            s5,
            "年份",
            "2030",
            "年份 2030 不在 2015–2023 年之内(方案实施期 2018-09-14 至 2023-09-13, "
            "2015–2017 年仅作增长的基数)",
        ),
        bad["source"]: (s5, "来源（报告名称或文号）", "", "来源为空: 请填写报告名称或文号"),
        bad["dup"]: (s5, "年份", "2020", f"与第 {first_st} 行重复(同一指标、县区和年份)"),
        bad["over"]: (
            s3,
            "数值",
            "105",
            "数值 105 超出“具备基本科学素质的公民比例”的允许范围 0–100 %",
        ),
        bad["whole"]: (s5, "数值", "4.5", "“县域高新技术企业总量”须为整数, 4.5 不是"),
        bad["scope"]: (
            s6,
            "县区",
            "城东区",
            "城东区不在“区域公用品牌”的填报范围内"
            "(范围: 西宁市、湟中区、大通回族土族自治县、湟源县)",
        ),
        derived: (
            s5,
            "指标编号",
            "high_tech_share",
            "“高新技术企业占科技型企业比重”是由“县域高新技术企业总量”和“县域科技型企业总量”计算的"
            "比重, 不直接填写; 请改填“县域高新技术企业总量”和“县域科技型企业总量”",
        ),
    }
    en = dict(zip(load.rejects["row"], load.rejects["reason_en"]))
    assert en[derived] == (
        "High-tech share of S&T enterprises (high_tech_share) is computed (share) from "
        "high_tech_enterprises, st_enterprises; enter those instead"
    )
    assert en[bad["year"]].startswith("the year 2030 is outside 2015-2023")
    assert en[bad["dup"]] == f"duplicate of row {first_st} (same indicator, county and year)"
    assert (load.rows_read, load.empty) == (N_ROWS + 1, N_ROWS - len(good) - len(bad))


# --- long tables ----------------------------------------------------------------------------

LONG_ROWS = [
    ["指标", "县区", "年份", "数值", "来源", "备注"],
    ["县域科技型企业总量", "城北", "2020年", "12", "城北区统计年报", ""],
    ["具备基本科学素质的公民比例(%)", "湟中县", "2020 年", "7.5%", "湟中区科协", "县改区前名称"],
    ["high_tech_enterprises", "西宁市", "2020年", "１６", "西宁统计公报", ""],
    ["县域科技型企业总量", "全市", "2019年", "1,234", "西宁统计公报", ""],
    ["电子商务实用人才培养", "大通县", "2023", "约80", "大通县商务局", ""],
    ["电子商务实用人才培养", "湟源", "2023", "N/A", "湟源县商务局", ""],
    ["财政科技投入", "630123", "2016", "800", "湟源县财政局", "基数"],
    ["高新技术企业数", "城北区", "2020", "3", "报告", ""],
    ["县域科技型企业总量", "城北区", "2020", "", "", "未公布"],
]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_long_table_csv_in_office_encodings(indicators, counties, encoding):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(LONG_ROWS)
    data = buffer.getvalue().encode(encoding)
    load = _read(data, "科技统计.csv", indicators, counties)
    expected = pd.DataFrame(
        [
            ("st_enterprises", 2020, "630105", 12.0, "城北区统计年报", "", "", 2),
            ("science_literacy", 2020, "630106", 7.5, "湟中区科协", "县改区前名称", "", 3),
            ("high_tech_enterprises", 2020, "630100", 16.0, "西宁统计公报", "", "", 4),
            ("st_enterprises", 2019, "630100", 1234.0, "西宁统计公报", "", "", 5),
            ("fiscal_st_input", 2016, "630123", 800.0, "湟源县财政局", "基数", "", 8),
        ],
        columns=[*ACTUAL_COLUMNS, "sheet", "row"],
    )
    pd.testing.assert_frame_equal(load.frame, expected, check_dtype=False)
    assert list(zip(load.rejects["row"], load.rejects["column"], load.rejects["reason_zh"])) == [
        (6, "数值", "数值“约80”不是数字(只填数字, 如 82、7.5、1,234; 不要写“约”“N/A”等文字)"),
        (7, "数值", "数值“N/A”不是数字(只填数字, 如 82、7.5、1,234; 不要写“约”“N/A”等文字)"),
        (9, "指标", "未知指标“高新技术企业数”"),
    ]
    assert (load.rows_read, load.empty) == (9, 1)


def test_long_table_with_english_headers_and_store_columns(indicators, counties):
    text = (
        "indicator,county,year,value,source,note\n"
        "st_enterprises,630102,2020,30,Xining yearbook,\n"
        "science_literacy,Chengbei,2020,8,CAST survey,\n"
        "target_id,scope_code,period,value,source,note\n"
    )
    load = _read(text.encode(), "figures.csv", indicators, counties)
    assert list(load.frame["scope_code"]) == ["630102"]
    assert list(load.rejects["reason_en"]) == [
        "unknown county 'Chengbei'",
        "unknown indicator 'target_id'",  # a header repeated lower down is a row, rejected
    ]
    # the seed file's own columns (target_id, period, scope_code, …): its 29 rows have no value
    seed = _read((PLAN_DIR / "reported_actuals.csv").read_bytes(), "seed.csv", indicators, counties)
    assert (seed.rows_read, len(seed.frame), len(seed.rejects), seed.empty) == (29, 0, 0, 29)


def test_long_table_xlsx_with_date_cells_for_years(indicators, counties):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["数据来源说明: 市统计局"])  # a title row above the header
    ws.append(["指标", "县区", "年份", "数值", "来源", "备注"])
    ws.append(["县域科技型企业总量", "城东区", dt.datetime(2020, 12, 31), 10, "年报", ""])
    ws.append(["县域科技型企业总量", "城中区", dt.date(2019, 1, 1), 11, "年报", ""])
    ws.append(["县域科技型企业总量", "城西区", 43831, 12, "年报", ""])  # serial 43831 = 2020-01-01
    ws.append(["县域科技型企业总量", "城北区", "2021-06-30", 13, "年报", ""])
    ws.append(["县域科技型企业总量", "湟中区", "2022年6月", 14, "年报", ""])
    ws.append(["县域科技型企业总量", "湟源县", dt.datetime(2031, 1, 1), 15, "年报", ""])
    load = _read(_saved(book), "年报.xlsx", indicators, counties)
    assert list(zip(load.frame["scope_code"], load.frame["period"], load.frame["row"])) == [
        ("630102", 2020, 3),
        ("630103", 2019, 4),
        ("630104", 2020, 5),
        ("630105", 2021, 6),
        ("630106", 2022, 7),
    ]
    assert list(zip(load.rejects["row"], load.rejects["value"])) == [(8, "2031-01-01")]
    assert load.rejects["reason_zh"][0].startswith("年份 2031 不在 2015–2023 年之内")


def test_a_row_the_csv_reader_could_not_split_is_a_rejection(indicators, counties):
    text = (
        "指标,县区,年份,数值,来源\n"
        "st_enterprises,城东区,2020,1,000,年报\n"  # an unquoted thousands separator
        "st_enterprises,城中区,2020,5,年报\n"
    )
    load = _read(text.encode(), "x.csv", indicators, counties)
    assert list(load.frame["row"]) == [3]
    assert list(load.rejects["row"]) == [2]
    assert load.rejects["reason_zh"][0] == "该行的单元格数多于表头的列数(值中含未加引号的逗号?)"


def test_unusable_files_are_one_error(indicators, counties):
    with pytest.raises(InputError, match="指标") as caught:
        read_actuals(b"a,b\n1,2\n", filename="x.csv", indicators=indicators, counties=counties)
    assert "没有找到数据表" in caught.value.text("zh")
    book = openpyxl.Workbook()  # an empty first sheet, the figures on the second
    book.create_sheet("数据").append(["指标", "县区", "年份", "数值", "来源"])
    book["数据"].append(["st_enterprises", "城东区", 2020, 3, "年报"])
    load = _read(_saved(book), "second.xlsx", indicators, counties)
    assert list(zip(load.frame["sheet"], load.frame["row"])) == [("数据", 2)]
    for _ in range(30):
        book.create_sheet()
    with pytest.raises(InputError, match="of its 32 sheets"):  # the readers' own limit
        read_actuals(_saved(book), filename="many.xlsx", indicators=indicators, counties=counties)
    with pytest.raises(InputError, match="empty"):
        read_actuals(b"", filename="empty.csv", indicators=indicators, counties=counties)
    titled = "2020年数据\n指标,县区,年份,数值,来源\nst_enterprises,城东区,2020,1,年报\n"
    with pytest.raises(InputError, match="first row of a CSV"):
        read_actuals(titled.encode(), filename="t.csv", indicators=indicators, counties=counties)


# --- LibreOffice ----------------------------------------------------------------------------


@needs_libreoffice
def test_template_opens_in_libreoffice_and_its_resave_reads_back(
    template, indicators, counties, tmp_path
):
    book, where = _open(template)
    row = _fill(book, where, ("st_enterprises", "西宁市", 2020), 82, "统计公报")
    sci = _fill(book, where, ("science_literacy", "城北区", 2020), 7.5, "科协报告")
    src = tmp_path / "填报模板.xlsx"
    src.write_bytes(_saved(book))
    profile = (tmp_path / "profile").as_uri()
    base = [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to"]
    every_sheet = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    for target, out in ((every_sheet, "csv"), ("xlsx", "xlsx")):
        command = [*base, target, "--outdir", str(tmp_path / out), str(src)]
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    sheets = {p.stem.removeprefix("填报模板-"): p for p in (tmp_path / "csv").glob("*.csv")}
    assert set(sheets) == set(SHEETS)
    table = list(csv.reader(sheets["（五）加强创新载体建设"].read_text("utf-8").splitlines()))
    assert HEADER in table
    assert table[row - 1][:7] == [
        "st_enterprises",
        "县域科技型企业总量",
        "西宁市",
        "2020",
        "82",
        "家",
        "统计公报",
    ]
    table = list(csv.reader(sheets["（三）发展目标"].read_text("utf-8").splitlines()))
    assert table[sci - 1][2:6] == ["城北区", "2020", "7.5", "%"]  # the value, not as shown
    resaved = (tmp_path / "xlsx" / "填报模板.xlsx").read_bytes()
    load = _read(resaved, "resaved.xlsx", indicators, counties)
    assert list(zip(load.frame["target_id"], load.frame["value"], load.frame["row"])) == [
        ("science_literacy", 7.5, sci),
        ("st_enterprises", 82.0, row),
    ]
    assert load.rejects.empty and load.empty == N_ROWS - 2


# --- command line ---------------------------------------------------------------------------


def test_cli_template_then_check(tmp_path: Path, capsys, indicators, counties):
    out = tmp_path / "填报模板.xlsx"
    assert main(["actuals", "template", "-o", str(out)]) == 0
    assert "已写入" in capsys.readouterr().err
    assert main(["actuals", "check", str(out)]) == 0
    assert (
        capsys.readouterr().out.strip()
        == f"填报模板.xlsx: 读取 {N_ROWS} 行: 接受 0 行, 拒绝 0 行, 空白 {N_ROWS} 行"
    )

    book, where = _open(out.read_bytes())
    _fill(book, where, ("st_enterprises", "西宁市", 2020), 82, "统计公报")
    bad = _fill(book, where, ("st_enterprises", "城东区", 2020), "约80", "统计公报")
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(_saved(book))
    assert main(["actuals", "check", str(filled)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"filled.xlsx: 读取 {N_ROWS} 行: 接受 1 行, 拒绝 1 行, 空白 {N_ROWS - 2} 行"
    assert lines[1:] == [
        f"拒绝: 工作表“（五）加强创新载体建设”第 {bad} 行, 列“数值”: "
        "数值“约80”不是数字(只填数字, 如 82、7.5、1,234; 不要写“约”“N/A”等文字)"
    ]
    assert main(["actuals", "check", str(filled), "--lang", "en"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == f"filled.xlsx: {N_ROWS} rows read: 1 accepted, 1 rejected, {N_ROWS - 2} empty"
    )
    assert lines[1] == (
        f"rejected: sheet '（五）加强创新载体建设' row {bad}, column 数值: the value '约80' is not "
        "a number (write digits only, e.g. 82, 7.5, 1,234)"
    )


def test_cli_unusable_file_exits_2(tmp_path: Path, capsys):
    assert main(["actuals", "check", str(tmp_path / "missing.xlsx")]) == 2
    assert "错误: " in capsys.readouterr().err
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a workbook")
    assert main(["actuals", "check", str(damaged), "--lang", "en"]) == 2
    assert capsys.readouterr().err.startswith("error: damaged.xlsx")
    assert main(["actuals", "template", "-o", str(tmp_path / "模板.csv")]) == 2
    assert "填报模板须保存为 .xlsx" in capsys.readouterr().err
