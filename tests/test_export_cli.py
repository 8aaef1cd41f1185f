"""Exports read back cleanly (QGIS, Excel) and the command line keeps its contract."""

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest

from geo.coverage import summarize
from geo.export import integer_columns, to_csv, to_geojson, to_gpkg, to_xlsx

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def county_table(units, bundled):
    return summarize(units, bundled.assigned, level="county")


def test_geojson_is_rfc7946_and_keeps_chinese(county_table, tmp_path):
    data = to_geojson(county_table)
    doc = json.loads(data)
    assert "crs" not in doc
    assert {f["properties"]["name"] for f in doc["features"]} >= {"湟中区", "大通回族土族自治县"}
    path = tmp_path / "c.geojson"
    path.write_bytes(data)
    back = pyogrio.read_dataframe(path)
    assert back.crs.to_epsg() == 4326 and len(back) == 7
    assert back["n_incubator"].sum() == county_table["n_incubator"].sum()
    x0, y0, x1, y1 = back.total_bounds
    assert 100 < x0 < x1 < 103 and 36 < y0 < y1 < 38  # lon/lat order


def test_geopackage_round_trip(county_table, tmp_path):
    path = tmp_path / "c.gpkg"
    path.write_bytes(to_gpkg(county_table, layer="county_coverage"))
    back = gpd.read_file(path, layer="county_coverage")
    assert back.crs.to_epsg() == 4326
    assert sorted(back["name"]) == sorted(county_table["name"])
    assert back.to_crs(3857).area.sum() == pytest.approx(
        county_table.to_crs(3857).area.sum(), rel=1e-6
    )


def test_csv_has_bom_and_neutralises_formulas(tmp_path):
    frame = pd.DataFrame(
        {"name": ['=HYPERLINK("x")', "+1", "湟源县", "@SUM(A1)"], "n": [1, -2, 3, 4]}
    )
    data = to_csv(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(
        tmp_path.joinpath("x.csv").open("wb").write(data) and tmp_path / "x.csv",
        encoding="utf-8-sig",
    )
    assert back["name"].tolist() == ['\'=HYPERLINK("x")', "'+1", "湟源县", "'@SUM(A1)"]
    assert back["n"].tolist() == [1, -2, 3, 4]  # numbers untouched


def test_xlsx_opens_with_chinese(county_table, tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(to_xlsx(county_table.drop(columns="geometry"), sheet="县区"))
    ws = openpyxl.load_workbook(path)["县区"]
    names = [ws.cell(row=r, column=2).value for r in range(2, 9)]
    assert "湟源县" in names


def run(*args, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "geo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_summarize_township_geojson(tmp_path):
    out = tmp_path / "t.geojson"
    proc = run(
        "summarize",
        "--level",
        "township",
        "--layer",
        "incubator",
        "ecommerce",
        "--format",
        "geojson",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    back = pyogrio.read_dataframe(out)
    assert len(back) == 80 + 7  # register units + one "township unknown" row per county
    assert {
        "code",
        "name",
        "level",
        "geometry_source",
        "n_incubator",
        "n_ecommerce",
        "nearest_km_incubator",
    } <= set(back.columns)


def test_cli_assign_with_bad_rows_exits_1_and_keeps_good_rows(tmp_path):
    src = tmp_path / "mine.csv"
    src.write_text(
        "name,layer,county,lon,lat,source_crs\n"
        "站甲,ecommerce,湟源县,,,\n"
        ",ecommerce,湟源县,,,\n"
        "远方,ecommerce,,116.4,39.9,WGS84\n",
        encoding="utf-8",
    )
    out = tmp_path / "a.csv"
    proc = run("assign", "--sites", str(src), "-o", str(out))
    assert proc.returncode == 1
    assert "row 3" in proc.stderr and "missing name" in proc.stderr
    assert "outside Xining" in proc.stderr
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert back["name"].tolist() == ["站甲", "远方"]
    assert back.loc[0, "county_code"] == "630123"
    assert {
        "county_code",
        "county_name",
        "township_code",
        "township_name",
        "assign_method",
        "flags",
    } <= set(back.columns)


def test_cli_sites_replace_the_bundled_layer(tmp_path):
    src = tmp_path / "inc.csv"
    src.write_text("name,layer,county\n新站,incubator,湟源县\n", encoding="utf-8")
    out = tmp_path / "c.csv"
    proc = run("summarize", "--sites", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    back = pd.read_csv(out, encoding="utf-8-sig", dtype={"code": str}).set_index("code")
    assert back["n_incubator"].sum() == 1 and back.at["630123", "n_incubator"] == 1
    assert back["n_park"].sum() > 0  # other layers stay bundled


def test_cli_attainment_json(tmp_path):
    out = tmp_path / "a.json"
    proc = run("attainment", "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert {r["status"] for r in rows} <= {"met", "behind", "no_data"}
    assert any(r["indicator_zh"] for r in rows)


@pytest.mark.parametrize(
    "args",
    [
        ("summarize", "-o", "x.unknown"),
        ("assign", "--sites", "nope.csv", "-o", "a.csv"),
        ("summarize", "--level", "village", "-o", "a.csv"),
        ("frobnicate",),
    ],
)
def test_cli_unusable_input_exits_2_with_message(tmp_path, args):
    proc = run(*args, cwd=tmp_path) if args[0] != "frobnicate" else run(*args)
    assert proc.returncode == 2
    assert proc.stderr.strip()


def test_cli_help_for_each_command():
    for cmd in ("summarize", "assign", "attainment"):
        proc = run(cmd, "--help")
        assert proc.returncode == 0 and "--output" in proc.stdout


def test_xlsx_never_holds_a_formula(tmp_path):
    """Excel runs a cell that starts like a formula: every such cell is written as text."""
    hostile = ['=HYPERLINK("http://x","点我")', "+1+1", "-2+3", "@SUM(A1)", "=1+1"]
    frame = pd.DataFrame({"name": hostile, "n": [1, 2, 3, 4, 5]})
    path = tmp_path / "h.xlsx"
    path.write_bytes(to_xlsx(frame, sheet="名录"))
    ws = openpyxl.load_workbook(path)["名录"]
    cells = [ws.cell(row=r, column=1) for r in range(2, 7)]
    assert [c.data_type for c in cells] == ["s"] * 5  # text, not "f" (formula)
    assert [c.value for c in cells] == ["'" + v for v in hostile]
    assert [ws.cell(row=r, column=2).value for r in range(2, 7)] == [1, 2, 3, 4, 5]


def test_integer_fields_come_only_from_number_columns():
    frame = pd.DataFrame(
        {
            "n_code": ["007", "008"],  # a user's text column that happens to look numeric
            "n_x": [1.0, float("nan")],
            "year": [2015.0, float("inf")],
            "n_big": [1e20, 2.0],
        }
    )
    out = integer_columns(frame)
    assert out["n_code"].tolist() == ["007", "008"]
    assert str(out["n_x"].dtype) == "Int64" and out["n_x"].isna().tolist() == [False, True]
    assert out["year"].dtype == float and out["n_big"].dtype == float  # inf and 1e20 stay
    text = to_csv(frame).decode("utf-8-sig").splitlines()
    assert text[1].startswith("007,1,") and text[2].startswith("008,,")
