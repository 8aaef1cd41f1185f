"""Bring your own data: readers, coordinates, headers, limits (the corpus covers the faults)."""

from __future__ import annotations

import builtins
import io
import math
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from base.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from base.errors import InputError
from geo.export import registry_csv
from layers.columns import canonical_of
from layers.coords import guess_gauss_kruger, parse_coordinate, parse_coordinates, parse_crs
from layers.registry import read_sites
from layers.safety import MAX_UPLOAD_BYTES, MAX_ZIP_MEMBERS, read_zip

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("101.75", 101.75),
        ("１０１．７５", 101.75),
        ("101°45'", 101.75),
        ("101°45′00″E", 101.75),
        ("东经101度45分", 101.75),
        ("101:45:00", 101.75),
        ("101 45 00", 101.75),
        ("101°45.0'", 101.75),
        ("101.75E", 101.75),
        ("E101.75", 101.75),
        ("36°30'S", -36.5),
        ("-36.5", -36.5),
        ("4,050,123.5", 4050123.5),
        ("", math.nan),
        ("无", math.nan),
        ("-", math.nan),
    ],
)
def test_coordinate_spellings(text, value):
    got = parse_coordinate(text)
    assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "101.7.5", "101°75′", "101.5°30′", "#VALUE!", "nan1"])
def test_not_coordinates(text):
    with pytest.raises(ValueError):
        parse_coordinate(text)


def test_parse_coordinates_is_vectorised_and_marks_bad_cells():
    values, bad = parse_coordinates(pd.Series(["101.5", "", "101°30′", "x", None]))
    assert values[0] == 101.5 and values[2] == 101.5
    assert np.isnan(values[1]) and np.isnan(values[3]) and np.isnan(values[4])
    assert bad.tolist() == [False, False, False, True, False]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("WGS84", "EPSG:4326"),
        ("wgs-84", "EPSG:4326"),
        ("CGCS2000", "EPSG:4490"),
        ("国家2000坐标系", "EPSG:4490"),
        ("高德", "GCJ-02"),
        ("GCJ02坐标系", "GCJ-02"),
        ("百度坐标", "BD-09"),
        ("bd09ll", "BD-09"),
        ("EPSG:4543", "EPSG:4543"),
        ("CGCS2000_3_Degree_GK_CM_102E", "EPSG:4543"),
        ("CGCS2000 / 3-degree Gauss-Kruger zone 34", "EPSG:4522"),
        ("2000国家大地坐标系 3度带 34带", "EPSG:4522"),
        ("2000国家大地坐标系 3度带 中央经线102", "EPSG:4543"),
    ],
)
def test_crs_labels(text, label):
    assert parse_crs(text) == label


def test_unknown_crs_is_explained():
    with pytest.raises(InputError, match="Unknown coordinate system 'Mars'"):
        parse_crs("Mars")


def test_prj_wkt_is_understood():
    from pyproj import CRS

    assert parse_crs(CRS(4543).to_wkt("WKT1_ESRI")) == "EPSG:4543"


def test_gauss_kruger_is_recognised_with_or_without_zone_and_swapped():
    from pyproj import Transformer

    for epsg in (4522, 4543):
        t = Transformer.from_crs(4326, epsg, always_xy=True)
        x, y = t.transform([101.76, 101.53], [36.65, 36.66])
        assert guess_gauss_kruger(x, y) == (f"EPSG:{epsg}", False)
        assert guess_gauss_kruger(y, x) == (f"EPSG:{epsg}", True)
    assert guess_gauss_kruger([500000.0], [5000000.0]) == (None, False)  # not near Xining


@pytest.mark.parametrize(
    ("header", "column", "crs"),
    [
        ("名称", "name", None),
        ("站点名称", "name", None),
        ("ＮＡＭＥ", "name", None),
        ("区县", "county", None),
        ("县（区）", "county", None),
        ("乡镇/街道", "township", None),
        ("经度", "lon", None),
        ("Lng", "lon", None),
        ("百度经度", "lon", "BD-09"),
        ("经度(GCJ-02)", "lon", "GCJ-02"),
        ("lat_wgs84", "lat", "EPSG:4326"),
        ("bd_lat", "lat", "BD-09"),
        ("经纬度", "lonlat", None),
        ("认定年份", "year", None),
        ("联系人", None, None),
    ],
)
def test_header_aliases(header, column, crs):
    assert canonical_of(header) == (column, crs)


def test_bytes_upload_and_file_like_upload():
    data = "名称,图层,县区\n站,ecommerce,城北区\n".encode("gbk")
    assert read_sites(data, filename="up.csv").sites["name"].tolist() == ["站"]

    class Upload(io.BytesIO):  # what Streamlit's file_uploader hands over
        name = "上传.csv"
        size = len(data)

    load = read_sites(Upload(data))
    assert load.sites["file"].tolist() == ["上传.csv"]
    assert load.sites["row"].tolist() == [2]


def test_upload_size_is_bounded(tmp_path):
    big = b"name,layer\n" + b"x" * MAX_UPLOAD_BYTES
    with pytest.raises(InputError, match=r"larger than the 20 MB limit"):
        read_sites(big, filename="big.csv")
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    with pytest.raises(InputError, match="larger than"):
        read_sites(path)


def test_declared_crs_applies_unless_the_row_says_otherwise():
    g = wgs84_to_gcj02(101.76, 36.65)
    text = (
        "name,layer,lon,lat,source_crs\n"
        f"甲,ecommerce,{float(g[0])},{float(g[1])},\n"
        f"乙,ecommerce,{float(g[0])},{float(g[1])},WGS84\n"
    )
    load = read_sites(text.encode(), filename="d.csv", crs="GCJ-02")
    a, b = load.sites.iloc[0], load.sites.iloc[1]
    assert (a["lon"], a["lat"]) == pytest.approx((101.76, 36.65), abs=1e-8)
    assert a["source_crs"] == "GCJ-02" and b["source_crs"] == "EPSG:4326"
    assert (b["lon"], b["lat"]) == pytest.approx((float(g[0]), float(g[1])))


def test_header_declared_baidu_coordinates_are_converted():
    text = "名称,图层,百度经度,百度纬度\n甲,ecommerce,101.7707,36.6562\n"
    site = read_sites(text.encode(), filename="b.csv").sites.iloc[0]
    lon, lat = bd09_to_wgs84(101.7707, 36.6562)
    assert (site["lon"], site["lat"]) == pytest.approx((float(lon), float(lat)))


def test_unknown_columns_are_kept_and_go_to_exports():
    text = "名称,图层,县区,联系人,电话\n站,ecommerce,城北区,张三,0971-1234567\n"
    load = read_sites(text.encode(), filename="x.csv")
    assert load.sites[["联系人", "电话"]].iloc[0].tolist() == ["张三", "0971-1234567"]

    back = pd.read_csv(io.BytesIO(registry_csv(load.sites)), dtype=str, encoding="utf-8-sig")
    assert back.loc[0, "联系人"] == "张三"


def test_geometry_crs_of_a_file_beats_attribute_crs(tmp_path):
    """A GeoJSON exported by the product has WGS84 geometry but source_crs GCJ-02 properties."""
    doc = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"甲","layer":"park","source_crs":"GCJ-02","lon":1,"lat":2},'
        '"geometry":{"type":"Point","coordinates":[101.76,36.65]}}]}'
    )
    site = read_sites(doc.encode(), filename="x.geojson").sites.iloc[0]
    assert (site["lon"], site["lat"]) == (101.76, 36.65)


def test_zip_member_count_and_links_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(MAX_ZIP_MEMBERS + 1):
            zf.writestr(f"f{i}.txt", b"")
    with pytest.raises(InputError, match="at most"):
        read_zip(buf.getvalue(), "many.zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.csv")
        info.external_attr = (0o120777) << 16  # a symbolic link
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        read_zip(buf.getvalue(), "link.zip")


def test_zip_slip_writes_nothing_outside(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = (ROOT / "tests/bad_files/zip_slip.zip").read_bytes()
    with pytest.raises(InputError, match="climbs out"):
        read_sites(data, filename="evil.zip")
    assert not any(tmp_path.parent.parent.glob("evil.csv"))


class _Trap:
    """Unpickling this object creates a folder: proof that a reader ran a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


@pytest.mark.parametrize(
    "name",
    ["名录.pkl", "名录.pickle", "名录.csv", "名录.xlsx", "名录.json", "名录.zip", "名录.gpkg"],
)
def test_an_upload_that_is_a_pickle_never_runs(tmp_path, monkeypatch, name):
    """A pickle (here one that would create a folder when loaded) uploaded under any name is
    refused or read as text; it never runs, and its content never reaches eval or exec."""
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Trap(marker))
    if name.endswith(".zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr("名录.pkl", payload)
        payload = buf.getvalue()
    called: list[str] = []
    for module, attr in ((builtins, "eval"), (builtins, "exec"), (pd, "read_pickle")):
        real = getattr(module, attr)

        def spy(*args, _real=real, _name=attr, **kwargs):
            # libraries exec their own code now and then; the upload's content must never be
            if args and ("makedirs" in str(args[0]) or str(marker) in str(args[0])):
                called.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, attr, spy)
    try:
        load = read_sites(payload, filename=name)
    except InputError:
        load = None
    assert not marker.exists()
    assert called == []
    if load is not None:
        assert load.sites.empty  # nothing in it reads as a site


def test_xlsx_formulas_are_not_evaluated(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["名称", "图层", "县区"])
    ws.append(["=1+1", "ecommerce", "城北区"])
    buf = io.BytesIO()
    book.save(buf)
    load = read_sites(buf.getvalue(), filename="f.xlsx")
    assert load.rejects["reason"].tolist() == ["missing name"]  # no cached value, never computed


def test_gcj_row_in_bundled_style_file_is_converted_once():
    lon, lat = gcj02_to_wgs84(101.521459, 36.54116)
    text = "name,layer,lon,lat,source_crs\n甘河,park,101.521459,36.54116,GCJ-02\n"
    site = read_sites(text.encode(), filename="p.csv").sites.iloc[0]
    assert (site["lon"], site["lat"]) == pytest.approx((float(lon), float(lat)))
