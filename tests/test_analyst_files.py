"""Analysts' files as GDAL 3.6 and QGIS 3.22 (Debian stable) open them, not as our readers do.

``ogrinfo`` and GDAL's GeoPackage validator come from Debian's ``gdal-bin`` / ``python3-gdal``,
QGIS from ``python3-qgis`` (tests/qgis_probe.py runs in Debian's Python). They are installed by
``scripts/setup.sh --dev``; without them these tests skip, except in CI.
"""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from geo.classify import classify
from geo.coverage import summarize
from geo.db.cli import build_parser as build_db_parser
from geo.export import to_csv, to_geojson, to_gpkg
from geo.loader import load_plan
from geo.report import sites_for_export
from layers.schema import LAYERS
from maps.qgis import view_project
from tests.qgis_support import DEBIAN_PYTHON, VALIDATE_GPKG, needs_gdal, needs_qgis, ogrinfo, qgis
from viewmodel.views import ViewState, build_view

ROOT = Path(__file__).resolve().parents[1]


def python_m(module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` from the repository, as a user runs the command line."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def township_table(units, bundled):
    return summarize(units, bundled.assigned, level="township")


@pytest.fixture(scope="module")
def county_table(units, bundled):
    return summarize(units, bundled.assigned, level="county")


@pytest.fixture(scope="module")
def files(tmp_path_factory, township_table, county_table, bundled):
    out = tmp_path_factory.mktemp("analyst")
    (out / "towns.gpkg").write_bytes(to_gpkg(township_table, layer="township_coverage"))
    (out / "towns.geojson").write_bytes(to_geojson(township_table, layer="township_coverage"))
    (out / "counties.gpkg").write_bytes(to_gpkg(county_table, layer="county_coverage"))
    (out / "counties.geojson").write_bytes(to_geojson(county_table, layer="county_coverage"))
    sites = sites_for_export(bundled.assigned)
    mapped = sites[sites.geometry.notna()]
    (out / "sites.gpkg").write_bytes(to_gpkg(mapped, layer="sites"))
    (out / "sites.geojson").write_bytes(to_geojson(mapped, layer="sites"))
    (out / "towns.csv").write_bytes(to_csv(township_table))
    (out / "sites.csv").write_bytes(to_csv(sites))
    return out


# ------------------------------------------------------------------ integers stay integers


def test_counts_population_and_years_are_integers_in_csv(files, township_table):
    text = (files / "towns.csv").read_bytes().decode("utf-8-sig")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert table["n_villages"].str.fullmatch(r"\d*").all()  # 3, never 3.0
    assert (table["n_villages"] == "").sum() == 7  # the seven "乡镇未知" rows: unknown, not 0
    assert (table["pop_2020"] == "").all()  # no township population exists: empty, not 0
    sites = pd.read_csv(files / "sites.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert sites["year"].str.fullmatch(r"(19|20)\d\d|").all()  # 2015, never 2015.0
    assert sites["year"].ne("").sum() >= 20


@needs_gdal
def test_gdal_36_reads_integer_fields(files):
    info = ogrinfo(files / "towns.gpkg").stdout
    assert "n_villages: Integer64" in info
    assert "pop_2020: Integer64" in info  # all unknown, still a number field (not String)
    assert "n_incubator: Integer64" in info
    assert "area_km2: Real" in info
    counties = ogrinfo(files / "counties.gpkg").stdout
    assert "pop_2020: Integer64" in counties
    sites = ogrinfo(files / "sites.gpkg").stdout
    assert "year: Integer64" in sites


def test_geojson_writes_whole_numbers_without_a_decimal_point(files):
    doc = json.loads((files / "towns.geojson").read_text(encoding="utf-8"))
    values = [f["properties"]["n_villages"] for f in doc["features"]]
    assert all(v is None or type(v) is int for v in values)
    assert doc["name"] == "township_coverage"  # the layer QGIS shows, not a temporary name


# ------------------------------------------------------------ GeoPackage GDAL 3.6 accepts


@needs_gdal
@pytest.mark.parametrize("name", ["towns.gpkg", "counties.gpkg", "sites.gpkg"])
def test_gdal_36_opens_the_geopackage_without_a_warning_and_validates_it(files, name):
    run = ogrinfo(files / name)
    assert run.returncode == 0
    assert "Warning" not in run.stderr and "partially supported" not in run.stdout + run.stderr
    check = subprocess.run(
        [str(DEBIAN_PYTHON), str(VALIDATE_GPKG), str(files / name)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@needs_gdal
def test_layer_names_mean_something(files):
    assert "Layer name: township_coverage" in ogrinfo(files / "towns.gpkg").stdout
    assert "Layer name: township_coverage" in ogrinfo(files / "towns.geojson").stdout
    assert "Layer name: sites" in ogrinfo(files / "sites.geojson").stdout
    assert "Geometry: Multi Polygon" in ogrinfo(files / "towns.gpkg").stdout


# ------------------------------------------------------------ a clean coverage after rounding


def _overlaps_and_gaps(path: Path) -> tuple[int, float, float]:
    """Overlapping pairs, their largest area (m²), and the holes inside the union (m²)."""
    frame = gpd.read_file(path)
    frame = frame[frame.geometry.notna()].to_crs(32647).reset_index(drop=True)
    geoms = frame.geometry.to_numpy()
    pairs, worst = 0, 0.0
    tree = gpd.GeoSeries(geoms).sindex
    for i, j in itertools.combinations(range(len(geoms)), 2):
        if j not in tree.query(geoms[i]):
            continue
        area = geoms[i].intersection(geoms[j]).area
        if area > 1e-4:  # 1 cm²
            pairs, worst = pairs + 1, max(worst, area)
    union = gpd.GeoSeries(geoms).union_all()
    parts = getattr(union, "geoms", [union])
    holes = sum(sum(abs(type(p)(r).area) for r in p.interiors) for p in parts)
    return pairs, worst, holes


@pytest.mark.parametrize("name", ["towns.geojson", "towns.gpkg", "counties.geojson"])
def test_units_are_a_clean_coverage_after_rounding(files, name):
    pairs, worst, holes = _overlaps_and_gaps(files / name)
    assert pairs == 0, f"{pairs} overlapping pairs, the largest {worst:.2f} m²"
    assert holes < 1.0  # m², the whole city


def test_rounding_does_not_move_units_or_change_counts(files, township_table):
    back = gpd.read_file(files / "towns.geojson")
    assert len(back) == len(township_table) == 87
    ours = township_table.set_index("code")
    theirs = back.set_index("code")
    assert (theirs["n_incubator"] == ours["n_incubator"]).all()
    has = ours.geometry.notna()
    a = ours[has].to_crs(32647).area
    b = theirs.loc[a.index].to_crs(32647).area
    assert np.allclose(a, b, rtol=1e-4)  # snapping to 0.1 m changes areas by < 0.01 %


# ------------------------------------------------------------------ QGIS opens the files


@needs_qgis
def test_qgis_opens_the_exports_with_the_right_types_and_counts(files, township_table, bundled):
    towns = qgis("layer", "ogr", f"{files / 'towns.gpkg'}|layername=township_coverage")
    assert towns["valid"] and towns["features"] == len(township_table)
    assert towns["wkb_type"] == "MultiPolygon" and towns["crs"] == "EPSG:4326"
    assert towns["fields"]["n_villages"] == "Integer64"
    assert towns["invalid_geometries"] == 0
    assert towns["null_geometries"] == int(township_table.geometry.isna().sum())
    geojson = qgis("layer", "ogr", str(files / "towns.geojson"))
    assert geojson["valid"] and geojson["features"] == len(township_table)
    sites = qgis("layer", "ogr", f"{files / 'sites.gpkg'}|layername=sites")
    mapped = bundled.assigned["geometry"].notna().sum()
    assert sites["valid"] and sites["features"] == mapped and sites["wkb_type"] == "Point"
    assert sites["fields"]["year"] == "Integer64"


def test_the_cli_writes_the_same_integer_fields(tmp_path):
    out = tmp_path / "towns.gpkg"
    run = python_m("geo", "summarize", "--level", "township", "-o", str(out))
    assert run.returncode in (0, 1), run.stderr
    info = gpd.read_file(out, layer="township_coverage")
    assert len(info) == 87


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "postgresql://a@h/db", "--schema", "s1", "status"],
        ["status", "--url", "postgresql://a@h/db", "--schema", "s1"],
        ["--url", "postgresql://a@h/db", "status", "--schema", "s1"],
    ],
)
def test_db_command_takes_url_and_schema_before_or_after_the_command(argv):
    args = build_db_parser().parse_args(argv)
    assert (args.url, args.schema, args.command) == ("postgresql://a@h/db", "s1", "status")


def test_db_command_with_url_after_init_is_not_an_argument_error():
    run = python_m("geo.db", "init", "--url", "postgresql://nobody@127.0.0.1:1/x")
    assert "unrecognized arguments" not in run.stderr
    assert run.returncode == 2 and "does not answer" in run.stderr  # the store, not the words


# ------------------------------------------------------------------ the QGIS project


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    out = tmp_path_factory.mktemp("qgis") / "西宁创新地图.qgz"
    run = python_m("geo", "qgis", "-o", str(out))
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return out


def test_qgis_command_writes_the_project_and_its_geopackage_side_by_side(project):
    assert project.is_file() and project.with_suffix(".gpkg").is_file()
    layers = pyogrio_layers(project.with_suffix(".gpkg"))
    assert layers == {"units", "townships", "park", "incubator", "poverty_demo", "ecommerce"}


def pyogrio_layers(path: Path) -> set[str]:
    return {name for name, _ in pyogrio.list_layers(path)}


@needs_qgis
def test_qgis_opens_the_project_with_every_layer_valid_and_the_products_counts(
    project, units, bundled, county_table
):
    facts = qgis("project", str(project))
    assert facts["read"] and facts["crs"] == "EPSG:4326"
    by_name = {layer["name"]: layer for layer in facts["layers"]}
    assert all(layer["valid"] for layer in facts["layers"]), facts["layers"]
    real = bundled.assigned[~bundled.assigned["is_sample"].astype(bool)]
    mapped = real[real.geometry.notna()]
    for key, spec in LAYERS.items():
        layer = by_name[spec.zh]
        assert layer["features"] == int((mapped["layer"] == key).sum())
        assert layer["renderer"] == "categorizedSymbol"
        assert [c["label"] for c in layer["categories"]] == ["精确坐标", "近似位置"]
        assert layer["categories"][0]["color"] == spec.color.lower()  # the map's colour
    towns = by_name["乡镇（街道）"]
    assert towns["features"] == int(units.townships.geometry.notna().sum())
    assert towns["labels"] and towns["label_field"] == "name"
    counties = by_name["孵化载体：站点数量"]  # the map's legend title
    assert counties["features"] == 7 and counties["wkb_type"] == "MultiPolygon"
    assert counties["labels"] and counties["renderer_field"] == "legend_class"
    # tree order: sites on top, the choropleth at the bottom
    assert facts["layers"][-1]["name"] == "孵化载体：站点数量"


@needs_qgis
def test_qgis_colours_each_county_with_the_maps_class(project, units, bundled):
    counts = summarize(units, bundled.assigned[~bundled.assigned["is_sample"]], level="county")
    classes = classify(counts["n_incubator"], lang="zh")
    expected = dict(zip(counts["code"], classes.color_of(), strict=True))
    facts = qgis("project", str(project))
    categories = {c["label"]: c["color"] for c in facts["layers"][-1]["categories"]}
    assert list(categories) == [label for _, label in classes.legend()]
    written = gpd.read_file(project.with_suffix(".gpkg"), layer="units")
    for code, label in zip(written["code"], written["legend_class"], strict=True):
        assert categories[label] == expected[code].lower()


@needs_qgis
def test_dashboard_download_of_a_township_view_opens_in_qgis(tmp_path, units, bundled):
    view = build_view(
        units,
        bundled.assigned,
        ViewState(level="township", county="630121", layer="ecommerce", lang="en"),
        plan=load_plan(),
    )
    files = view_project(view, townships=None, name="datong")
    with zipfile.ZipFile(io.BytesIO(files.zip())) as archive:
        archive.extractall(tmp_path)
    facts = qgis("project", str(tmp_path / "datong.qgz"))
    assert all(layer["valid"] for layer in facts["layers"])
    choropleth = facts["layers"][-1]
    assert choropleth["name"] == view.spec.legend_title
    assert choropleth["features"] == int(view.units.geometry.notna().sum()) == 20
    assert [c["label"] for c in choropleth["categories"]] == [lb for _, lb in view.spec.legend]
    mapped = view.sites[view.sites.geometry.notna()]
    expected = {LAYERS[k].en for k in set(mapped["layer"])} | {view.spec.legend_title}
    assert {layer["name"] for layer in facts["layers"]} == expected  # English words, no towns
    for layer in facts["layers"][:-1]:
        assert layer["features"] == int((mapped["layer"] == layer_key(layer["name"])).sum())


def layer_key(title: str) -> str:
    return next(k for k, spec in LAYERS.items() if title in (spec.zh, spec.en))


def test_qgis_project_in_english_has_an_english_title(tmp_path):
    out = tmp_path / "xining.qgz"
    run = python_m("geo", "qgis", "--lang", "en", "-o", str(out))
    assert run.returncode in (0, 1), run.stderr
    with zipfile.ZipFile(out) as archive:
        project = archive.read("xining.qgs").decode("utf-8")
    assert "<title>Xining county innovation map</title>" in project
    assert "Incubators: Number of sites" in project
    assert not list(tmp_path.glob(".*.part"))  # nothing half-written left behind
