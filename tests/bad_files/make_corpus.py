"""Build the corpus of bad files (and its README table) that tests/test_bad_files.py checks.

Run from the repository root: ``.venv/bin/python tests/bad_files/make_corpus.py``. The output is
committed; the script makes it reproducible (fixed zip dates and workbook times). Every file is
small and carries one main fault; the README table says what the product must make of it:
how many rows are accepted, which rows are rejected (row, column, reason) and which warnings
appear, or the error for files that cannot be used at all.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import shapely
from shapely.geometry import LineString, Point, Polygon, box, mapping

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from base.crs import wgs84_to_bd09, wgs84_to_gcj02  # noqa: E402
from geo.loader import load_units  # noqa: E402

ZIP_DATE = (2024, 1, 1, 0, 0, 0)
BOOK_TIME = dt.datetime(2024, 1, 1)

# WGS84 points inside Xining (county and township seats).
CHENGBEI = (101.764277, 36.65009)
CHENGDONG = (101.801831, 36.599867)
DUOBA = (101.527407, 36.659343)
QIAOTOU = (101.681587, 36.927729)
HUANGYUAN = (101.254568, 36.682464)


@dataclass
class Case:
    """One corpus file and what must come of it."""

    file: str
    fault: str
    accepted: int | None = None  # None: the file is refused as a whole
    rejected: list[str] = field(default_factory=list)  # "ROW COLUMN: reason prefix"
    warnings: list[str] = field(default_factory=list)  # substrings of SiteLoad/report warnings
    error: str = ""
    options: str = ""  # keyword=value passed to read_sites


@dataclass
class BoundaryCase:
    file: str
    fault: str
    expect: dict[str, int] = field(default_factory=dict)  # report kind → number of rows
    error: str = ""
    options: str = ""


CASES: list[Case] = []
BOUNDARY_CASES: list[BoundaryCase] = []


def write(name: str, data: bytes | str, *, encoding: str = "utf-8") -> None:
    raw = data.encode(encoding) if isinstance(data, str) else data
    (HERE / name).write_bytes(raw)


class _GbkName(zipfile.ZipInfo):
    """A member name stored as GBK bytes without the UTF-8 flag, as Chinese Windows zip tools
    (WinRAR, 7-Zip, the Explorer) write it."""

    def _encodeFilenameFlags(self):  # zipfile calls it by this name
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def zip_bytes(members: dict[str, bytes], *, gbk_names: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            cls = _GbkName if gbk_names else zipfile.ZipInfo
            info = cls(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)
    return buf.getvalue()


def shapefile_members(gdf: gpd.GeoDataFrame, stem: str, *, encoding: str) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.shp"
        pyogrio.write_dataframe(gdf, path, encoding=encoding)
        return {f"{stem}{p.suffix}": p.read_bytes() for p in sorted(Path(tmp).iterdir())}


def book_bytes(book: openpyxl.Workbook) -> bytes:
    """Workbook bytes with fixed times (document properties and zip entries)."""
    book.properties.created = BOOK_TIME
    book.properties.modified = BOOK_TIME
    buf = io.BytesIO()
    book.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    core = members["docProps/core.xml"].decode("utf-8")  # openpyxl stamps "modified" on save
    core = re.sub(r"(<dcterms:modified[^>]*>)[^<]*", r"\g<1>2024-01-01T00:00:00Z", core)
    members["docProps/core.xml"] = core.encode("utf-8")
    return zip_bytes(members)


def gpkg_bytes(path: Path) -> bytes:
    """GeoPackage bytes with fixed change times, vacuumed (small and reproducible)."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE gpkg_contents SET last_change = '2024-01-01T00:00:00.000Z'")
        db.commit()
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    db.close()
    return path.read_bytes()


def csv_case(name: str, fault: str, text: str, *, encoding: str = "utf-8", **kw) -> None:
    write(name, text, encoding=encoding)
    CASES.append(Case(name, fault, **kw))


# --- readers and encodings -------------------------------------------------------------------


def readers() -> None:
    csv_case(
        "utf8_bom_chinese_headers.csv",
        "UTF-8 with BOM, Chinese headers, coordinates in GCJ-02; sites placed at seats",
        "名称,图层,类型,级别,县区,乡镇,经度,纬度,坐标系,认定年份,来源\n"
        f"城北众创空间,孵化载体,众创空间,省级,城北区,,{_gcj(CHENGBEI)},GCJ-02,2019,省科技厅\n"
        "多巴星创天地,孵化载体,星创天地,国家级,湟中区,多巴镇,,,,2018,科技部\n"
        "湟源孵化器,孵化载体,孵化器,,湟源县,,,,,2020,\n",
        encoding="utf-8-sig",
        accepted=3,
        warnings=["placed at the seat of 多巴镇", "placed at the county seat of 湟源县"],
    )
    csv_case(
        "gbk_title_rows.csv",
        "GBK (Excel on Chinese Windows), a title row and an empty row above the header",
        "西宁市众创空间名录（2019年）,,,,\n,,,,\n"
        "名称,类型,县区,经度,纬度\n"
        f"城北众创空间,众创空间,城北区,{CHENGBEI[0]},{CHENGBEI[1]}\n"
        f",众创空间,城东区,{CHENGDONG[0]},{CHENGDONG[1]}\n"
        "湟中众创空间,众创空间,湟中区,,\n",
        encoding="gbk",
        accepted=2,
        rejected=["5 name: missing name"],
        warnings=["GBK/GB18030", "header found on row 3"],
    )
    csv_case(
        "gb18030_only_characters.csv",
        "GB18030 with a character GBK cannot hold (𠮷)",
        "名称,类型,县区\n𠮷祥众创空间,众创空间,城北区\n",
        encoding="gb18030",
        accepted=1,
        warnings=["GBK/GB18030"],
    )
    write(
        "utf16_tab.txt",
        "名称\t类型\t县区\n大通众创空间\t众创空间\t大通县\n湟源星创天地\t星创天地\t湟源县\n",
        encoding="utf-16",
    )
    CASES.append(
        Case(
            "utf16_tab.txt",
            "Excel's 'Unicode text': UTF-16 with BOM, tab separated",
            accepted=2,
            warnings=["separated by '\\t'"],
        )
    )
    csv_case(
        "semicolon_separated.csv",
        "separated by semicolons (European Excel)",
        "name;layer;county;lon;lat\n"
        f"站一;ecommerce;城北区;{CHENGBEI[0]};{CHENGBEI[1]}\n站二;ecommerce;城东区;;\n",
        accepted=2,
        warnings=["separated by ';'"],
    )
    csv_case(
        "unquoted_comma.csv",
        "a name with a comma but no quotes shifts the row",
        "name,layer,county,note\n站一,ecommerce,城北区,\n湟中区,多巴镇电商站,ecommerce,湟中区,\n",
        accepted=1,
        rejected=["3 -: the row has 5 cells but the header has 4 columns"],
    )
    csv_case(
        "blank_rows_trailing_commas.csv",
        "empty rows and trailing commas; row numbers stay those Excel shows",
        "name,layer,county,,,\n站一,ecommerce,城北区,,,\n,,,,,\n站二,ecommerce,城东区,,,\n"
        ",ecommerce,城东区,,,\n",
        accepted=2,
        rejected=["5 name: missing name"],
        warnings=["1 empty row(s) skipped (rows 3)"],
    )
    csv_case(
        "excel_sep_line.csv",
        "Excel's 'sep=;' first line (Excel hides it: the header is row 1)",
        "sep=;\nname;layer;county\n站一;ecommerce;城北区\n;ecommerce;城北区\n",
        accepted=1,
        rejected=["3 name: missing name"],
    )
    csv_case(
        "multiline_quoted.csv",
        "a quoted note spanning two lines counts as one row",
        'name,layer,county,note\n站一,ecommerce,城北区,"第一行\n第二行"\n,ecommerce,城东区,\n',
        accepted=1,
        rejected=["3 name: missing name"],
    )
    # XLSX: a notes sheet first, title rows, a formula with no saved value, a date as the year.
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "说明"
    notes["A1"] = "本表由县科技局填报"
    ws = book.create_sheet("名录")
    ws.append(["西宁市星创天地名录"])
    ws.append(["（截至2020年底）"])
    ws.append(["序号", "名称", "类型", "县（区）", "乡镇（街道）", "经度", "纬度", "认定时间"])
    ws.append([1, "多巴星创天地", "星创天地", "湟中区", "多巴镇", DUOBA[0], DUOBA[1], 2018])
    ws.append([2, '=CONCAT("桥头","星创天地")', "星创天地", "大通县", "桥头镇", None, None, 2019])
    ws.append(
        [
            3,
            "湟源星创天地",
            "星创天地",
            "湟源县",
            None,
            "101°15′16″",
            "36°40′57″",
            dt.datetime(2020, 5, 1),
        ]
    )
    write("registry.xlsx", book_bytes(book))
    CASES.append(
        Case(
            "registry.xlsx",
            "XLSX: a notes sheet first, two title rows, a formula without a saved value (never "
            "evaluated), a date as the year, DMS text",
            accepted=2,
            rejected=["5 name: missing name"],
            warnings=["sheet '名录' read", "header found on row 3"],
        )
    )
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["名称", "类型", "坐标", None, "县区"])
    ws.append([None, None, "经度", "纬度", None])
    ws.merge_cells("A1:A2")
    ws.merge_cells("C1:D1")
    ws.append(["城北站", "众创空间", CHENGBEI[0], CHENGBEI[1], "城北区"])
    ws.append(["大通站", "众创空间", None, None, "大通县"])
    write("two_header_rows.xlsx", book_bytes(book))
    CASES.append(
        Case(
            "two_header_rows.xlsx",
            "two header rows: 坐标 merged over 经度 and 纬度",
            accepted=2,
            warnings=["two header rows (1 and 2) read as one"],
        )
    )
    book = openpyxl.Workbook()
    first = book.active
    first.title = "2019"
    first.append(["名称", "类型", "县区"])
    first.append(["旧站", "众创空间", "城北区"])
    second = book.create_sheet("2020")
    second.append(["名称", "类型", "县区"])
    second.append(["新站一", "众创空间", "城北区"])
    second.append(["新站二", "火箭", "城东区"])
    write("two_sheets.xlsx", book_bytes(book))
    CASES.append(
        Case(
            "two_sheets.xlsx",
            "two sheets with data; the second one is asked for",
            options="sheet=2020",
            accepted=1,
            rejected=["3 layer: missing layer, and the type '火箭' fits no layer"],
            warnings=["sheet '2020' read"],
        )
    )
    features = [
        _feature({"名称": "城北众创空间", "类型": "众创空间"}, Point(CHENGBEI)),
        _feature({"名称": "坏几何", "类型": "众创空间"}, {"type": "Point", "coordinates": []}),
        _feature({"名称": "无几何", "类型": "众创空间", "县区": "湟源县"}, None),
        _feature(
            {"名称": "园区范围", "图层": "park", "类型": "工业园区"},
            box(DUOBA[0] - 0.01, DUOBA[1] - 0.01, DUOBA[0] + 0.01, DUOBA[1] + 0.01),
        ),
        {"type": "Feature", "properties": None, "geometry": mapping(Point(CHENGDONG))},
        _feature(
            {"名称": "乱码几何", "类型": "众创空间"},
            {"type": "Polygon", "coordinates": [[["a", "b"]]]},
        ),
    ]
    write("points.geojson", json.dumps(_collection(features), ensure_ascii=False, indent=0))
    CASES.append(
        Case(
            "points.geojson",
            "GeoJSON: an empty point, a feature without geometry, an area, no properties, "
            "a geometry that is not GeoJSON",
            accepted=3,
            rejected=[
                "2 lon: no location at all",
                "5 name: missing name",
                "6 geometry: the geometry is not valid GeoJSON",
            ],
            warnings=["a point inside it is used", "placed at the county seat of 湟源县"],
        )
    )
    gk = gpd.GeoSeries([Point(CHENGBEI), Point(QIAOTOU)], crs=4326).to_crs(4543)
    doc = _collection(
        [
            _feature({"name": "北站", "layer": "incubator"}, gk.iloc[0]),
            _feature({"name": "桥站", "layer": "incubator"}, gk.iloc[1]),
        ]
    )
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4543"}}
    write("legacy_crs.geojson", json.dumps(doc, ensure_ascii=False))
    CASES.append(
        Case(
            "legacy_crs.geojson",
            "pre-2016 GeoJSON with a crs member: CGCS2000 Gauss-Krüger CM 102E metres",
            accepted=2,
        )
    )
    records = [
        {"name": "记录一", "layer": "ecommerce", "lng": str(CHENGBEI[0]), "lat": str(CHENGBEI[1])},
        {"name": "记录二", "layer": "ecommerce", "county": "城东区"},
        {"name": None, "layer": "ecommerce", "county": "城东区"},
    ]
    write("records.json", json.dumps(records, ensure_ascii=False))
    CASES.append(
        Case(
            "records.json",
            "a plain JSON list of records (not GeoJSON)",
            accepted=2,
            rejected=["3 name: missing name"],
        )
    )
    pts = gpd.GeoDataFrame(
        {
            "名称": ["多巴电商站", "桥头电商站", "城北电商站"],
            "类型": ["村级服务站", "乡镇服务站", "县级服务中心"],
            "图层": ["电商", "电商", "电商"],
        },
        geometry=[Point(DUOBA), Point(QIAOTOU), Point(CHENGBEI)],
        crs=4326,
    ).to_crs(4543)
    members = shapefile_members(pts, "电商站点", encoding="GBK")
    members.pop("电商站点.cpg")
    write("points_gbk_no_cpg.zip", zip_bytes(members))
    CASES.append(
        Case(
            "points_gbk_no_cpg.zip",
            "zipped Shapefile: GBK attributes and Chinese field names, no .cpg, "
            "CGCS2000 Gauss-Krüger .prj",
            accepted=3,
            warnings=["no .cpg file; attribute encoding GBK/GB18030 detected"],
        )
    )
    members = shapefile_members(pts.to_crs(4522), "sites", encoding="UTF-8")
    members.pop("sites.prj")
    write("points_no_prj.zip", zip_bytes(members))
    CASES.append(
        Case(
            "points_no_prj.zip",
            "zipped Shapefile without .prj: zone-prefixed Gauss-Krüger metres",
            accepted=3,
            warnings=["no .prj file", "read as EPSG:4522"],
        )
    )
    members = shapefile_members(pts, "站点", encoding="UTF-8")
    nested = {f"导出/站点/{k}": v for k, v in members.items()}
    nested["__MACOSX/导出/._站点.shp"] = b"\x00\x05\x16\x07"
    write("points_gbk_names_in_folder.zip", zip_bytes(nested, gbk_names=True))
    CASES.append(
        Case(
            "points_gbk_names_in_folder.zip",
            "zipped Shapefile in a sub-folder, GBK member names, macOS junk entries",
            accepted=3,
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.gpkg"
        area = gpd.GeoDataFrame(
            {"name": ["范围"]}, geometry=[box(101.5, 36.5, 101.6, 36.6)], crs=4326
        )
        pyogrio.write_dataframe(area, path, layer="范围")
        pyogrio.write_dataframe(pts.to_crs(4490), path, layer="站点", append=True)
        write("two_layers.gpkg", gpkg_bytes(path))
    CASES.append(
        Case(
            "two_layers.gpkg",
            "GeoPackage with an area layer first and the point layer second (CGCS2000)",
            accepted=3,
            warnings=["layer '站点' read"],
        )
    )


# --- coordinates ------------------------------------------------------------------------------


def coordinates() -> None:
    lon, lat = CHENGBEI
    csv_case(
        "no_location.csv",
        "a row with no coordinate, county, township or village",
        "name,layer,county,lon,lat\n站一,ecommerce,城北区,,\n站二,ecommerce,,,\n",
        accepted=1,
        rejected=["3 lon: no location at all"],
    )
    csv_case(
        "unparseable_coordinates.csv",
        "coordinates that are not numbers or DMS (text, two dots, Excel error, 75 minutes)",
        "name,layer,lon,lat\n"
        f"甲,ecommerce,abc,{lat}\n乙,ecommerce,101.7.5,{lat}\n丙,ecommerce,{lon},#VALUE!\n"
        f"丁,ecommerce,101°75′,{lat}\n戊,ecommerce,{lon},{lat}\n",
        accepted=1,
        rejected=[
            "2 lon: unparseable coordinate",
            "3 lon: unparseable coordinate",
            "4 lat: unparseable coordinate",
            "5 lon: unparseable coordinate",
        ],
    )
    csv_case(
        "half_coordinate.csv",
        "a longitude without a latitude, and the reverse",
        f"name,layer,county,lon,lat\n甲,ecommerce,城北区,{lon},\n乙,ecommerce,城北区,,{lat}\n",
        accepted=0,
        rejected=[
            "2 lat: longitude given without latitude",
            "3 lon: latitude given without longitude",
        ],
    )
    csv_case(
        "dms_coordinates.csv",
        "degrees-minutes-seconds in seven spellings",
        "name,layer,lon,lat\n"
        "一,ecommerce,101°45'51.4\"E,36°39'00.3\"N\n"
        "二,ecommerce,东经101度45分51秒,北纬36度39分0秒\n"
        "三,ecommerce,101:45:51.4,36:39:00.3\n"
        "四,ecommerce,E101°45′51″,N36°39′00″\n"
        "五,ecommerce,101.7643E,36.6501N\n"
        "六,ecommerce,101 45 51.4,36 39 00.3\n"
        "七,ecommerce,101°45.857',36°39.005'\n",
        accepted=7,
    )
    csv_case(
        "fullwidth_digits.csv",
        "full-width digits, points and codes (typed with a Chinese input method)",
        "名称,图层,县区,经度,纬度,年份\n"
        "全角站,ecommerce,城北区,１０１．７６４２７７,３６．６５００９,２０１９年\n"
        "代码站,ecommerce,６３０１０５,,,２０２０\n",
        accepted=2,
        warnings=["placed at the county seat of 城北区"],
    )
    csv_case(
        "swapped_lat_lon.csv",
        "latitude and longitude swapped",
        f"name,layer,lon,lat\n甲,ecommerce,{lat},{lon}\n乙,ecommerce,{DUOBA[1]},{DUOBA[0]}\n",
        accepted=2,
        warnings=["longitude and latitude swapped; fixed"],
    )
    g = wgs84_to_gcj02(*CHENGBEI)
    b = wgs84_to_bd09(*CHENGBEI)
    csv_case(
        "per_row_crs.csv",
        "coordinate system per row: GCJ-02, 高德, 百度, BD09, WGS84, EPSG:4490",
        "name,layer,lon,lat,source_crs\n"
        f"甲,ecommerce,{float(g[0]):.6f},{float(g[1]):.6f},GCJ-02\n"
        f"乙,ecommerce,{float(g[0]):.6f},{float(g[1]):.6f},高德\n"
        f"丙,ecommerce,{float(b[0]):.6f},{float(b[1]):.6f},百度\n"
        f"丁,ecommerce,{float(b[0]):.6f},{float(b[1]):.6f},BD09\n"
        f"戊,ecommerce,{lon},{lat},WGS84\n"
        f"己,ecommerce,{lon},{lat},EPSG:4490\n",
        accepted=6,
    )
    csv_case(
        "baidu_header.csv",
        "the header declares the system: 百度经度 / 百度纬度",
        f"名称,图层,百度经度,百度纬度\n甲,ecommerce,{float(b[0]):.6f},{float(b[1]):.6f}\n",
        accepted=1,
        warnings=["column '百度经度' read as BD-09 coordinates"],
    )
    csv_case(
        "declared_crs_gcj02.csv",
        "no system in the file; GCJ-02 declared for the file, one row says WGS84",
        "name,layer,lon,lat,source_crs\n"
        f"甲,ecommerce,{float(g[0]):.6f},{float(g[1]):.6f},\n乙,ecommerce,{lon},{lat},WGS84\n",
        options="crs=GCJ-02",
        accepted=2,
    )
    csv_case(
        "unknown_crs.csv",
        "a coordinate system nobody knows",
        f"name,layer,lon,lat,source_crs\n甲,ecommerce,{lon},{lat},Mars\n乙,ecommerce,{lon},{lat},\n",
        accepted=1,
        rejected=["2 source_crs: Unknown coordinate system 'Mars'"],
    )
    gk = gpd.GeoSeries([Point(CHENGBEI), Point(DUOBA)], crs=4326).to_crs(4522)
    x0, y0 = gk.iloc[0].x, gk.iloc[0].y
    x1, y1 = gk.iloc[1].x, gk.iloc[1].y
    csv_case(
        "gauss_kruger_metres.csv",
        "X/Y metres in CGCS2000 Gauss-Krüger zone 34, no system named; one row with X/Y "
        "swapped (surveyors write X for north)",
        f"名称,图层,X坐标,Y坐标\n甲,ecommerce,{x0:.2f},{y0:.2f}\n乙,ecommerce,{y1:.2f},{x1:.2f}\n",
        accepted=2,
        warnings=["coordinates in metres with no coordinate system", "swapped"],
    )
    csv_case(
        "projected_declared.csv",
        "metres with the system per row (EPSG:4543) and a Chinese name of the system",
        "name,layer,lon,lat,source_crs\n"
        + "".join(
            f"{n},ecommerce,{p.x:.2f},{p.y:.2f},{c}\n"
            for n, p, c in zip(
                ("甲", "乙"),
                gpd.GeoSeries([Point(CHENGBEI), Point(DUOBA)], crs=4326).to_crs(4543),
                ("EPSG:4543", "2000国家大地坐标系 3度带 中央经线102"),
                strict=True,
            )
        ),
        accepted=2,
    )
    csv_case(
        "outside_xining.csv",
        "points outside Xining (Beijing, Lanzhou): rejected with their distance",
        f"name,layer,lon,lat\n北京站,ecommerce,116.40,39.90\n兰州站,ecommerce,103.83,36.06\n"
        f"西宁站,ecommerce,{lon},{lat}\n",
        accepted=1,
        rejected=[
            "2 lon: outside Xining (",
            "3 lon: outside Xining (",
        ],
    )
    csv_case(
        "zero_placeholder.csv",
        "0,0 typed where the coordinate is unknown",
        "name,layer,township,lon,lat\n零站,ecommerce,多巴镇,0,0\n",
        accepted=1,
        warnings=["0, 0 is a placeholder", "placed at the seat of 多巴镇"],
    )
    csv_case(
        "combined_coordinates.csv",
        "one column 经纬度 with both values (map pickers), in either order or DMS",
        "名称,图层,经纬度\n"
        f'甲,ecommerce,"{lon},{lat}"\n'
        f'乙,ecommerce,"{lat}, {lon}"\n'
        "丙,ecommerce,36°39′N 101°45′E\n",
        accepted=3,
        warnings=["swapped"],
    )


# --- validation reasons -----------------------------------------------------------------------


def validation() -> None:
    csv_case(
        "unknown_layer.csv",
        "an unknown layer, and a row with neither layer nor a type that tells it",
        "name,layer,subtype,county\n甲,rocket,,城北区\n乙,,,城北区\n丙,incubator,,城北区\n",
        accepted=1,
        rejected=["2 layer: unknown layer 'rocket'", "3 layer: missing layer"],
    )
    csv_case(
        "unknown_subtype.csv",
        "a type that is not in the layer's vocabulary",
        "名称,图层,类型,县区\n甲,孵化载体,太空站,城北区\n乙,孵化载体,省级众创空间,城北区\n",
        accepted=1,
        rejected=["2 subtype: unknown subtype '太空站' for incubator"],
    )
    csv_case(
        "unknown_level.csv",
        "a level that is not national/provincial/municipal/county",
        "名称,图层,级别,县区\n甲,孵化载体,宇宙级,城北区\n乙,孵化载体,国家级（科技部认定）,城北区\n",
        accepted=1,
        rejected=["2 level: unknown level"],
    )
    csv_case(
        "duplicates.csv",
        "the same site twice (also with a full-width space in the name)",
        "名称,图层,县区\n青海众创空间,孵化载体,城北区\n湟中站,孵化载体,湟中区\n"
        "青海众创空间,孵化载体,城北区\n青海\u3000众创空间,孵化载体,城北区\n",
        accepted=2,
        rejected=["4 name: duplicate of row 2", "5 name: duplicate of row 2"],
    )
    csv_case(
        "year_problems.csv",
        "years out of range or not years; 2019年5月 and 二〇一九 are read",
        "名称,图层,县区,年份\n甲,孵化载体,城北区,1850\n乙,孵化载体,城北区,2099\n"
        "丙,孵化载体,城北区,去年\n丁,孵化载体,城北区,2019年5月\n戊,孵化载体,城北区,二〇一九\n",
        accepted=2,
        rejected=[
            "2 year: year out of range",
            "3 year: year out of range",
            "4 year: year is not a 4-digit year",
        ],
    )
    csv_case(
        "bad_flags.csv",
        "is_sample, status and location_precision with values outside their vocabulary",
        "name,layer,county,is_sample,status,location_precision\n"
        "甲,ecommerce,城北区,maybe,,\n乙,ecommerce,城北区,,拆除,\n丙,ecommerce,城北区,,,大概\n"
        "丁,ecommerce,城北区,否,规划中,\n",
        accepted=1,
        rejected=[
            "2 is_sample: is_sample must be true or false",
            "3 status: unknown status",
            "4 location_precision: unknown location precision",
        ],
    )
    csv_case(
        "unknown_places.csv",
        "no coordinate and a place that is not in Xining (or is ambiguous without its county)",
        "name,layer,county,township\n甲,ecommerce,,火星镇\n乙,ecommerce,朝阳区,\n"
        "丙,ecommerce,,城关镇\n丁,ecommerce,湟源县,城关镇\n",
        accepted=1,
        rejected=[
            "2 township: cannot place it: no coordinate, and township '火星镇' was not found",
            "3 county: cannot place it: no coordinate, and county '朝阳区' is not a county",
            "4 township: cannot place it: no coordinate, and township '城关镇' exists in more",
        ],
        warnings=["placed at the seat of 城关镇"],
    )
    csv_case(
        "village_only.csv",
        "only a village, written the short way (毛家台村 for 毛家台村委会)",
        "名称,图层,村\n毛家台电商站,电商,毛家台村\n",
        accepted=1,
        warnings=["village '毛家台村' read as 毛家台村委会", "placed at the seat of 田家寨镇"],
    )
    csv_case(
        "layer_from_type.csv",
        "no layer column: the layer comes from the type; a type that fits no layer",
        "名称,类型,县区\n甲,众创空间,城北区\n乙,村级服务站,城北区\n丙,服务,城北区\n",
        accepted=2,
        rejected=["4 layer: missing layer, and the type '服务' fits no layer"],
        warnings=["layer taken from the type column"],
    )
    csv_case(
        "total_row.csv",
        "a total row at the bottom of the table (合计)",
        "县区,站点名称,类型\n湟中区,多巴站,村级服务站\n合计,1个,\n",
        accepted=1,
        rejected=["3 county: a total row (合计/总计/小计), not a site"],
    )
    csv_case(
        "address_only.csv",
        "only a postal address: county, township and village read from it (not from Beijing)",
        "名称,地址,类型\n"
        "甲站,青海省西宁市湟中区田家寨镇毛家台村12号,村级服务站\n"
        "乙站,北京市朝阳区建国路,村级服务站\n",
        accepted=1,
        rejected=[
            "3 address: cannot place it: no coordinate, and the address '北京市朝阳区建国路'"
        ],
        warnings=["place read from the address: 湟中区 田家寨镇 毛家台村委会"],
    )
    csv_case(
        "prefixed_places.csv",
        "province and city before the county, county before the township",
        "名称,类型,县区,乡镇\n甲站,村级服务站,青海省西宁市湟中区,\n乙站,村级服务站,,湟中区多巴镇\n",
        accepted=2,
        warnings=[
            "county '青海省西宁市湟中区' read as 湟中区",
            "township '湟中区多巴镇' read as 多巴镇",
        ],
    )
    csv_case(
        "formula_injection.csv",
        "names Excel would run as formulas, and HTML: kept as text, neutralised on export",
        "name,layer,county\n"
        '"=HYPERLINK(""http://example.invalid"",""点我"")",ecommerce,城北区\n'
        "+86众创空间,ecommerce,城北区\n@SUM(A1),ecommerce,城北区\n-众创空间,ecommerce,城北区\n"
        "<script>alert(1)</script>站,ecommerce,城北区\n",
        accepted=5,
    )


# --- files refused as a whole ------------------------------------------------------------------


def refused() -> None:
    write("zip_slip.zip", zip_bytes({"../../evil.csv": b"name,layer\nx,park\n"}))
    CASES.append(Case("zip_slip.zip", "zip member climbing out of the folder", error="climbs out"))
    write("zip_absolute.zip", zip_bytes({"/tmp/evil.csv": b"name,layer\nx,park\n"}))
    CASES.append(
        Case("zip_absolute.zip", "zip member with an absolute path", error="absolute path")
    )
    write("zip_bomb.zip", zip_bytes({"sites.csv": b"0" * (3 * 2**20)}))
    CASES.append(Case("zip_bomb.zip", "3 MB of zeros in 3 KB: a zip bomb", error="a zip bomb"))
    write("old_excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    CASES.append(Case("old_excel.xls", "Excel 97-2003 .xls", error="save it as .xlsx or CSV"))
    csv_case(
        "no_name_column.csv",
        "no column that names the site",
        "地址,电话\n西宁,123\n",
        error="no name column",
    )
    csv_case("empty.csv", "an empty file", "", error="the file is empty")
    csv_case("broken.geojson", "JSON that does not parse", "{oops", error="not valid GeoJSON")
    write("lonely.shp", b"\x00\x00\x27\x0a" + b"\x00" * 96)
    CASES.append(Case("lonely.shp", "a .shp without its .dbf", error="has no .dbf file"))
    write("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    CASES.append(Case("image.png", "not a data file", error="unsupported file type '.png'"))


# --- township boundaries ----------------------------------------------------------------------


def boundaries() -> None:
    units = load_units()
    tw = units.townships
    hy = tw[tw["county_code"].eq("630123") & tw.geometry.notna()].sort_values("code")
    geoms = gpd.GeoSeries(hy.geometry.to_numpy(), crs=4326).simplify_coverage(0.004)
    towns = gpd.GeoDataFrame(
        {"XZQDM": (hy["code"] + "000").to_numpy(), "XZQMC": hy["name"].to_numpy()},
        geometry=geoms.to_numpy(),
        crs=4326,
    )
    n = len(towns)
    without = len(tw) - n

    members = shapefile_members(towns.to_crs(4543), "乡镇界", encoding="GBK")
    members.pop("乡镇界.cpg")
    write("towns_gk_gbk_no_cpg.zip", zip_bytes(members))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_gk_gbk_no_cpg.zip",
            "湟源's 9 townships: CGCS2000 Gauss-Krüger CM 102E, GBK attributes, no .cpg",
            {"matched": n, "unit_without_polygon": without, "gap": 1, "unmatched_feature": 0},
        )
    )
    members = shapefile_members(towns.to_crs(4522), "towns", encoding="UTF-8")
    members.pop("towns.prj")
    write("towns_no_prj.zip", zip_bytes(members))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_no_prj.zip",
            "no .prj: zone-prefixed Gauss-Krüger metres recognised",
            {"matched": n, "note": 2, "unmatched_feature": 0},
        )
    )
    first = towns.geometry.iloc[0]
    x0, y0, x1, y1 = first.bounds
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    feats = [
        _feature({"code": "630123100", "name": "城关镇"}, bowtie),
        _feature({"code": "630123101", "name": "大华镇"}, towns.geometry.iloc[1]),
    ]
    write("towns_invalid.geojson", json.dumps(_collection(feats), ensure_ascii=False))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_invalid.geojson",
            "a self-intersecting (bow-tie) polygon: repaired and reported",
            {"matched": 2, "repaired_geometry": 1},
        )
    )
    feats = [
        _feature({"code": "630123100", "name": "城关镇"}, towns.geometry.iloc[0]),
        _feature({"code": "630199999", "name": "火星乡"}, towns.geometry.iloc[1]),
        _feature({"name": "路"}, LineString([(101.2, 36.6), (101.3, 36.7)])),
        _feature({"name": "空"}, None),
    ]
    write("towns_unmatched.geojson", json.dumps(_collection(feats), ensure_ascii=False))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_unmatched.geojson",
            "a feature matching no township, a line, a feature without geometry",
            {"matched": 1, "unmatched_feature": 3},
        )
    )
    names = ["城关镇", "大华", "日月乡", "东峡乡"]  # ambiguous, short, historic, ambiguous short
    by_name = gpd.GeoDataFrame(
        {"乡镇名称": names},
        geometry=[
            towns.geometry[towns["XZQMC"].eq(full)].iloc[0]
            for full in ("城关镇", "大华镇", "日月藏族乡", "东峡乡")
        ],
        crs=4326,
    ).to_crs(4490)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.gpkg"
        pyogrio.write_dataframe(by_name, path, layer="乡镇")
        write("towns_by_name.gpkg", gpkg_bytes(path))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_by_name.gpkg",
            "names only: 城关镇 (two counties have one), a short name, a historic name (日月乡)",
            {"matched": 4, "unmatched_feature": 0},
        )
    )
    code16 = dict(zip(tw["code"], tw["code_2016"], strict=True))
    hz = tw[tw["county_code"].eq("630106") & tw.geometry.notna()].sort_values("code").head(3)
    hz_geoms = gpd.GeoSeries(hz.geometry.to_numpy(), crs=4326).simplify_coverage(0.004)
    feats = [
        _feature({"XZQDM": code16[c], "XZQMC": "（2016年）"}, g)
        for c, g in zip(hz["code"], hz_geoms, strict=True)
    ]
    write("towns_2016_codes.geojson", json.dumps(_collection(feats), ensure_ascii=False))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_2016_codes.geojson",
            "湟中 townships with their 2016 codes (湟中县 630122, before it became 湟中区)",
            {"matched": 3},
        )
    )
    grown = towns.geometry.iloc[0].buffer(0.01)
    feats = [
        _feature({"code": "630123100"}, grown),
        _feature({"code": "630123101"}, towns.geometry.iloc[1]),
    ]
    write("towns_overlap.geojson", json.dumps(_collection(feats), ensure_ascii=False))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_overlap.geojson",
            "two township polygons that overlap (one drawn too large)",
            {"matched": 2, "overlap": 2},
        )
    )
    feats = [_feature({}, g) for g in towns.geometry.iloc[:3]]
    write("towns_no_attributes.geojson", json.dumps(_collection(feats)))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_no_attributes.geojson",
            "polygons without any attribute: matched by the township seat inside",
            {"matched": 3},
        )
    )
    feats = [_feature({"name": "城关镇"}, Point(HUANGYUAN))]
    write("towns_points.geojson", json.dumps(_collection(feats), ensure_ascii=False))
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_points.geojson",
            "points instead of polygons",
            error="no feature matches a township",
        )
    )
    far = shapely.affinity.translate(towns.geometry.iloc[0], xoff=15, yoff=3)
    write(
        "towns_far_away.geojson",
        json.dumps(_collection([_feature({"code": "630123100"}, far)])),
    )
    BOUNDARY_CASES.append(
        BoundaryCase(
            "towns_far_away.geojson",
            "polygons far from Xining (wrong system)",
            error="nowhere near Xining",
        )
    )


def _gcj(point: tuple[float, float]) -> str:
    lon, lat = wgs84_to_gcj02(*point)
    return f"{float(lon):.6f},{float(lat):.6f}"


def _feature(props: dict | None, geom: object) -> dict:
    if geom is not None and not isinstance(geom, dict):
        geom = json.loads(json.dumps(mapping(geom)))
        geom = _round(geom)
    return {"type": "Feature", "properties": props, "geometry": geom}


def _round(obj: object) -> object:
    if isinstance(obj, float):
        return round(obj, 6) if abs(obj) < 1000 else round(obj, 2)
    if isinstance(obj, list | tuple):
        return [_round(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


# --- README ------------------------------------------------------------------------------------

README_HEAD = """# Bad files: a corpus of messy registries and boundary files

Generated by `make_corpus.py` (run `.venv/bin/python tests/bad_files/make_corpus.py` from the
repository root); checked by `tests/test_bad_files.py`, which reads the tables below. Each file
is small and carries one main fault.

Site registries: `accepted` counts the rows that reach the map; `rejected` lists every other row
as `ROW COLUMN: start of the reason` (`-` when the whole row is broken); `warnings` are texts
that must appear among the warnings. `accepted + rejected = rows read` for every file. `options`
are passed to `read_sites`. A file refused as a whole shows `error` and the start of the message.

## Site registries

| file | fault | options | accepted | rejected | warnings |
|---|---|---|---|---|---|
"""

BOUNDARY_HEAD = """
## Township boundaries

`expect` gives the number of report rows of each kind (`matched`, `unmatched_feature`,
`unit_without_polygon`, `repaired_geometry`, `gap`, `overlap`, `note`); kinds not listed are
not checked.

| file | fault | options | expect |
|---|---|---|---|
"""


def _cell(items: list[str]) -> str:
    return "<br>".join(items).replace("|", "\\|")


def readme() -> str:
    lines = [README_HEAD]
    for c in CASES:
        if c.error:
            row = f"| `{c.file}` | {c.fault} | {c.options} | error | {c.error} | |"
        else:
            row = (
                f"| `{c.file}` | {c.fault} | {c.options} | {c.accepted} | "
                f"{_cell(c.rejected)} | {_cell(c.warnings)} |"
            )
        lines.append(row + "\n")
    lines.append(BOUNDARY_HEAD)
    for b in BOUNDARY_CASES:
        expect = (
            f"error: {b.error}" if b.error else _cell([f"{k}={v}" for k, v in b.expect.items()])
        )
        lines.append(f"| `{b.file}` | {b.fault} | {b.options} | {expect} |\n")
    return "".join(lines)


def main() -> None:
    for old in HERE.iterdir():
        if old.name not in ("make_corpus.py", "README.md", "__pycache__"):
            old.unlink()
    np.random.seed(2018)
    readers()
    coordinates()
    validation()
    refused()
    boundaries()
    (HERE / "README.md").write_text(readme(), encoding="utf-8")
    print(f"{len(CASES)} registry files, {len(BOUNDARY_CASES)} boundary files in {HERE}")


if __name__ == "__main__":
    main()
