"""Official township boundaries replace the approximate zones (the issue's acceptance test)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from geo.coverage import summarize
from geo.loader import load_sites
from geo.official import OFFICIAL_SOURCE, load_township_boundaries

ROOT = Path(__file__).resolve().parents[1]


def official_zip(units, *, epsg: int = 4543, cpg: bool = False) -> bytes:
    """The approximate zones as an office would send them: a zipped CGCS2000 Gauss-Krüger
    shapefile with 12-digit codes (XZQDM) and GBK names (XZQMC), no .cpg."""
    zones = units.townships[units.townships.geometry.notna()]
    gdf = gpd.GeoDataFrame(
        {"XZQDM": zones["code"] + "000", "XZQMC": zones["name"], "BZ": "自然资源局"},
        geometry=zones.geometry.to_numpy(),
        crs=4326,
    ).to_crs(epsg)
    with tempfile.TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(gdf, Path(tmp) / "乡镇界线.shp", encoding="GBK")
        if not cpg:
            os.remove(Path(tmp) / "乡镇界线.cpg")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(Path(tmp).iterdir()):
                zf.write(p, f"乡镇界线/{p.name}")
    return buf.getvalue()


@pytest.fixture(scope="module")
def loaded(units):
    return load_township_boundaries(official_zip(units), filename="乡镇界线.zip", units=units)


def test_zipped_gk_gbk_shapefile_replaces_the_zones_with_the_same_counts(units, loaded):
    new, report = loaded
    zones = units.townships[units.townships.geometry.notna()]
    counts = report["kind"].value_counts()
    assert counts["matched"] == len(zones) == 42
    assert counts.get("unmatched_feature", 0) == 0
    assert counts["unit_without_polygon"] == len(units.townships) - 42
    assert len(new.townships) == len(units.townships) == 80
    official = new.townships[new.townships["geometry_source"].eq(OFFICIAL_SOURCE)]
    assert set(official["code"]) == set(zones["code"])
    # Reprojected back to WGS84: the same areas (to 0.01 km²) and names decoded from GBK.
    pd.testing.assert_series_equal(
        official.set_index("code")["area_km2"].sort_index(),
        zones.set_index("code")["area_km2"].sort_index(),
        atol=0.011,
    )
    matched = report[report["kind"].eq("matched")]
    assert matched["detail"].str.startswith("by code 6301").all()
    assert (report["kind"].eq("note") & report["detail"].str.contains("GBK")).any()
    gaps = report[report["kind"].eq("gap")]
    assert len(gaps) == 3 and gaps["area_km2"].lt(0.5).all()  # zones tile their county


def test_sites_are_counted_the_same_on_official_polygons(units, loaded):
    """County totals are unchanged; per township only sites whose stated township disagrees
    with the polygon move (the documented rule: official polygons win, zones do not)."""
    new, _report = loaded
    before = load_sites(units, include_samples=True).assigned
    after = load_sites(new, include_samples=True).assigned
    assert (before["county_code"] == after["county_code"]).all()
    moved = before["township_code"] != after["township_code"]
    assert before.loc[moved, "flags"].str.contains("township_mismatch").all()
    assert moved.sum() <= 1
    sb = summarize(units, before, level="county").set_index("code")
    sa = summarize(new, after, level="county").set_index("code")
    cols = [c for c in sb.columns if c.startswith("n_")]
    pd.testing.assert_frame_equal(sb[cols], sa[cols])
    tb = summarize(units, before, level="township")
    ta = summarize(new, after, level="township")
    assert len(ta) == len(tb) == 87
    assert ta["n_incubator"].sum() == tb["n_incubator"].sum()
    assert set(ta.loc[ta["geometry_source"].eq("official"), "code"]) == set(
        tb.loc[tb["geometry_source"].str.startswith("approx"), "code"]
    )


def test_partial_coverage_cuts_zones_back(units):
    zones = units.townships[units.townships["county_code"].eq("630123")].dropna(subset="geometry")
    part = zones.iloc[:3]
    gdf = gpd.GeoDataFrame({"name": part["name"]}, geometry=part.geometry.to_numpy(), crs=4326)
    data = gdf.to_json().encode()
    new, report = load_township_boundaries(data, filename="part.geojson", units=units)
    tw = new.townships.set_index("code")
    assert (tw.loc[part["code"], "geometry_source"] == "official").all()
    rest = tw.loc[list(set(zones["code"]) - set(part["code"]))]
    off = gpd.GeoSeries(tw.loc[part["code"], "geometry"].to_numpy(), crs=4326).union_all()
    for geom in rest["geometry"].dropna():
        assert geom.intersection(off).area < 1e-9  # no zone overlaps an official polygon
    assert report["detail"].str.contains("cut back").any()


def test_cli_summarize_with_boundaries(units, tmp_path):
    src = tmp_path / "towns.zip"
    src.write_bytes(official_zip(units, epsg=4522, cpg=True))
    out = tmp_path / "t.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "summarize",
            "--level",
            "township",
            "--boundaries",
            str(src),
            "-o",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "boundaries: 42 township(s) matched" in proc.stderr
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert (back["geometry_source"] == "official").sum() == 42


def test_cli_unmatched_boundary_features_exit_1(tmp_path):
    src = ROOT / "tests/bad_files/towns_unmatched.geojson"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "attainment",
            "--boundaries",
            str(src),
            "-o",
            str(tmp_path / "a.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "unmatched_feature: feature 2 630199999 火星乡" in proc.stderr
