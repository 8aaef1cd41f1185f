"""Reading registries: good rows kept, each bad row reported with row number and reason."""

import math

import pytest

from base.crs import gcj02_to_wgs84
from base.errors import InputError
from layers.registry import read_sites

HEADER = "name,layer,subtype,level,county,township,lon,lat,source_crs,year,is_sample\n"


def write(tmp_path, text, name="sites.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_bad_rows_are_reported_and_good_rows_kept(tmp_path):
    rows = [
        "好站,incubator,maker_space,provincial,湟中区,,101.6,36.5,WGS84,2019,false",  # 2 ok
        ",incubator,,,湟中区,,,,,,",  # 3 missing name
        "无层,,,,湟中区,,,,,,",  # 4 missing layer
        "怪层,rocket,,,湟中区,,,,,,",  # 5 unknown layer
        "怪类,incubator,spaceship,,湟中区,,,,,,",  # 6 unknown subtype
        "坏坐标,incubator,,,,,abc,36.5,,,",  # 7 unparseable
        "无处,incubator,,,,,,,,,",  # 8 no location
        "好站,incubator,maker_space,,湟中区,,,,,,",  # 9 duplicate of 2
        "古站,incubator,,,湟中区,,,,,1850,",  # 10 year out of range
        "怪级,incubator,,galactic,湟中区,,,,,,",  # 11 level
        "坏系,incubator,,,,,101.6,36.5,Mars,,",  # 12 crs
    ]
    load = read_sites(write(tmp_path, HEADER + "\n".join(rows) + "\n"))
    assert load.rows_read == 11
    assert len(load.sites) + len(load.rejects) == load.rows_read
    assert load.sites["name"].tolist() == ["好站"]
    reasons = dict(zip(load.rejects["row"], load.rejects["reason"], strict=False))
    assert reasons[3] == "missing name"
    assert reasons[4].startswith("missing layer")
    assert reasons[5].startswith("unknown layer")
    assert reasons[6].startswith("unknown subtype")
    assert reasons[7] == "unparseable coordinate"
    assert reasons[8].startswith("no location at all")
    assert reasons[9] == "duplicate of row 2"
    assert reasons[10].startswith("year out of range")
    assert reasons[11].startswith("unknown level")
    assert "coordinate system" in reasons[12]


def test_chinese_values_and_gcj02_coordinates(tmp_path):
    text = HEADER + "站,孵化载体,众创空间,省级,湟中,,101.60,36.50,GCJ-02,2020,否\n"
    load = read_sites(write(tmp_path, text, encoding="gb18030"))
    site = load.sites.iloc[0]
    assert (site["layer"], site["subtype"], site["level"]) == (
        "incubator",
        "maker_space",
        "provincial",
    )
    lon, lat = gcj02_to_wgs84(101.60, 36.50)
    assert math.isclose(site["lon"], float(lon)) and math.isclose(site["lat"], float(lat))
    assert site["source_crs"] == "GCJ-02" and site["location_precision"] == "exact"


def test_swapped_latitude_longitude_is_fixed_with_warning(tmp_path):
    load = read_sites(write(tmp_path, HEADER + "反,incubator,,,,,36.6,101.7,,,\n"))
    assert (load.sites["lon"].iloc[0], load.sites["lat"].iloc[0]) == (101.7, 36.6)
    assert "swapped" in load.warnings[0]


def test_chinese_headers_and_bom(tmp_path):
    text = "名称,图层,县区,经度,纬度\n站,incubator,城北区,101.75,36.66\n"
    load = read_sites(write(tmp_path, text, encoding="utf-8-sig"))
    assert load.sites["name"].tolist() == ["站"] and load.sites["county"].iloc[0] == "城北区"


def test_geojson_points_are_wgs84(tmp_path):
    doc = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"点","layer":"park"},"geometry":{"type":"Point","coordinates":[101.7,36.6]}},'
        '{"type":"Feature","properties":{"layer":"park"},"geometry":null}]}'
    )
    load = read_sites(write(tmp_path, doc, name="s.geojson"))
    assert load.sites["lon"].iloc[0] == 101.7
    assert load.rejects["row"].tolist() == [2]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("not,a\nregistry,file\n", "x.csv", "no name column"),
        ("{oops", "x.geojson", "not valid GeoJSON"),
        ("whatever", "x.shp.zip.exe", "unsupported file type"),
    ],
)
def test_unusable_files_raise_clear_errors(tmp_path, content, name, message):
    with pytest.raises(InputError, match=message):
        read_sites(write(tmp_path, content, name=name))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_sites(tmp_path / "nope.csv")


def test_same_name_at_different_places_is_not_a_duplicate(tmp_path):
    """Branches of one chain ("邮政服务点") in different villages, townships or counties are
    separate sites; only the same name at the same place is a duplicate."""
    header = "name,layer,county,township,village\n"
    rows = [
        "邮政服务点,ecommerce,湟中区,多巴镇,毛家台村",  # 2
        "邮政服务点,ecommerce,湟中区,多巴镇,双寨村",  # 3 other village
        "邮政服务点,ecommerce,湟中区,鲁沙尔镇,",  # 4 other township
        "邮政服务点,ecommerce,大通回族土族自治县,,",  # 5 other county
        "邮政服务点,ecommerce,湟中区,多巴镇,毛家台村",  # 6 same place as row 2
    ]
    load = read_sites(write(tmp_path, header + "\n".join(rows) + "\n"))
    assert load.sites["row"].tolist() == [2, 3, 4, 5]
    assert load.rejects["row"].tolist() == [6]
    assert load.rejects["reason"].tolist() == ["duplicate of row 2"]
