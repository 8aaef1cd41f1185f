"""Column headers from users' files → canonical columns, with the coordinate system a header
may declare ("百度经度", "lng_gcj02", "经度(WGS84)").

Headers are compared after NFKC normalisation (full-width letters and brackets), lower-casing
and removing spaces, bracketed units and separators. Unknown columns are kept as they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from base.crs import BD09, CGCS2000, GCJ02, WGS84
from layers.schema import COLUMNS

# Pseudo-columns: one cell holding both coordinates ("101.75,36.62"), and a postal address
# (where county, township and village are looked for when their own columns are empty).
LONLAT = "lonlat"
ADDRESS = "address"

_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("编号", "站点编号", "序列号", "identifier"),
    "name": (
        "名称",
        "站点名称",
        "园区名称",
        "单位名称",
        "机构名称",
        "载体名称",
        "空间名称",
        "平台名称",
        "项目名称",
        "基地名称",
        "服务站名称",
        "站点",
        "名字",
        "site",
        "sitename",
        "title",
    ),
    "layer": ("图层", "类别", "大类", "图层名称"),
    "subtype": (
        "类型",
        "子类",
        "type",
        "category",
        "种类",
        "载体类型",
        "站点类型",
        "园区类型",
        "细类",
    ),
    "subtype_note": ("类型说明", "类型备注"),
    "level": ("级别", "等级", "认定级别", "层级", "grade"),
    "county": (
        "县区",
        "区县",
        "县",
        "区",
        "所在县区",
        "所在区县",
        "所属县区",
        "所属区县",
        "县市区",
        "district",
    ),
    "township": (
        "乡镇",
        "乡镇街道",
        "街道",
        "乡",
        "镇",
        "所在乡镇",
        "所属乡镇",
        "乡镇名称",
        "town",
        "street",
    ),
    "village": ("村", "村社区", "行政村", "所在村", "村名", "村委会", "社区", "community"),
    "lon": ("经度", "lng", "long", "longitude", "x", "x坐标", "横坐标", "东经", "经度e", "lone"),
    "lat": ("纬度", "latitude", "y", "y坐标", "纵坐标", "北纬", "纬度n", "latn"),
    "source_crs": (
        "坐标系",
        "坐标系统",
        "坐标类型",
        "crs",
        "srs",
        "epsg",
        "coordinatesystem",
        "coordsys",
    ),
    "year": (
        "年份",
        "认定年份",
        "年度",
        "认定年度",
        "成立年份",
        "建成年份",
        "批准年份",
        "认定时间",
        "成立时间",
        "建成时间",
        "建立时间",
    ),
    "source": ("来源", "数据来源", "资料来源", "出处", "依据"),
    "location_precision": ("定位精度", "位置精度", "precision"),
    "is_sample": ("是否示例", "示例", "sample"),
    "status": ("状态", "建设状态"),
    "note": ("备注", "说明", "notes", "remark", "remarks", "comment"),
    LONLAT: (
        "经纬度",
        "坐标",
        "经纬度坐标",
        "位置坐标",
        "lnglat",
        "lonlat",
        "coordinates",
        "坐标点",
        "location",
    ),
    ADDRESS: ("地址", "详细地址", "所在地", "地点", "位置", "所在地址", "通讯地址", "addr"),
}

HEADER_ALIASES: dict[str, str] = {
    alias: column for column, aliases in _ALIASES.items() for alias in aliases
}
HEADER_ALIASES.update({c: c for c in (*COLUMNS, LONLAT, ADDRESS)})

# Words in a header that declare the coordinate system of that column.
_CRS_WORDS: tuple[tuple[str, str], ...] = (
    ("bd09ll", BD09),
    ("bd09", BD09),
    ("百度", BD09),
    ("baidu", BD09),
    ("gcj02", GCJ02),
    ("gcj", GCJ02),
    ("高德", GCJ02),
    ("腾讯", GCJ02),
    ("火星", GCJ02),
    ("amap", GCJ02),
    ("wgs84", WGS84),
    ("wgs", WGS84),
    ("gps", WGS84),
    ("cgcs2000", CGCS2000),
    ("cgcs", CGCS2000),
    ("天地图", CGCS2000),
    ("bd", BD09),
)
_BRACKETS = re.compile(r"\(.*?\)|\[.*?\]|<.*?>|【.*?】")
_SEPARATORS = re.compile(r"[\s_\-/\\.:·、]+")


def header_key(header: object) -> str:
    """Comparable form of a header: NFKC, lower-case, no spaces."""
    return unicodedata.normalize("NFKC", str(header)).strip().lower().replace(" ", "")


def _crs_word(text: str) -> tuple[str, str | None]:
    for word, crs in _CRS_WORDS:
        if word in text:
            if word == "bd" and not re.search(r"(^|[_\-\s])bd([_\-\s]|$)", text):
                continue
            return text.replace(word, "", 1), crs
    return text, None


def canonical_of(header: object) -> tuple[str | None, str | None]:
    """Canonical column for one header and the coordinate system it declares (or None)."""
    key = header_key(header)
    if key in HEADER_ALIASES:
        return HEADER_ALIASES[key], None
    inside = " ".join(_BRACKETS.findall(key))
    base = _BRACKETS.sub("", key)
    base, crs = _crs_word(base)
    if crs is None and inside:
        _rest, crs = _crs_word(inside)
    base = _SEPARATORS.sub("", base)
    for candidate in (base, base.removesuffix("坐标") if base != "坐标" else base):
        target = HEADER_ALIASES.get(candidate)
        if target:
            declares = crs if target in ("lon", "lat", LONLAT) else None
            return target, declares
    return None, None


@dataclass
class ColumnMap:
    """How a file's headers map to canonical columns."""

    rename: dict[str, str] = field(default_factory=dict)  # original header → canonical
    crs: dict[str, str] = field(default_factory=dict)  # canonical coordinate column → CRS
    extra: list[str] = field(default_factory=list)  # headers kept as they are


def map_columns(headers: Iterable[object]) -> ColumnMap:
    """Map headers to canonical columns; the first header claiming a column wins."""
    out = ColumnMap()
    for header in headers:
        target, crs = canonical_of(header)
        if target and target not in out.rename.values():
            out.rename[str(header)] = target
            if crs:
                out.crs[target] = crs
        else:
            out.extra.append(str(header))
    return out


def header_score(cells: Iterable[object]) -> tuple[bool, int]:
    """Whether a row of cells looks like a header: (has a name column, number of known columns)."""
    targets = {canonical_of(c)[0] for c in cells if str(c).strip()}
    targets.discard(None)
    return "name" in targets, len(targets)
