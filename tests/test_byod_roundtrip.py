"""Round trips: what the product exports reads back to the same sites and assignments."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.assign import assign_sites
from geo.export import registry_csv, to_geojson, to_xlsx
from geo.loader import load_plan, load_sites
from geo.report import report_csv, sites_for_export, validation_report
from layers.registry import read_sites, registry_frame
from maps.render import build_map
from viewmodel.views import ViewState, build_view

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests/bad_files"
SAME = ["name", "layer", "subtype", "level", "county", "township", "village", "year", "status"]
PLACE = ["county_code", "township_code", "assign_method"]


def _messy(units):
    """Sites from several messy corpus files (GCJ-02, BD-09, DMS, GK metres, seats only)."""
    files = [
        "per_row_crs.csv",
        "dms_coordinates.csv",
        "gauss_kruger_metres.csv",
        "utf8_bom_chinese_headers.csv",
        "points_gbk_no_cpg.zip",
        "registry.xlsx",
    ]
    loads = [read_sites(CORPUS / f) for f in files]
    sites = pd.concat([load.sites for load in loads], ignore_index=True)
    sites["name"] = sites["name"] + "·" + sites["file"]  # unique across files
    return sites


def _same_sites(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    pd.testing.assert_frame_equal(a[SAME].astype(str), b[SAME].astype(str))
    assert np.allclose(a["lon"], b["lon"], atol=1e-7, equal_nan=True)
    assert np.allclose(a["lat"], b["lat"], atol=1e-7, equal_nan=True)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_registry_export_reads_back_the_same(units, fmt):
    sites = _messy(units)
    if fmt == "csv":
        data, name = registry_csv(sites), "registry.csv"
    else:
        data, name = to_xlsx(registry_frame(sites), sheet="名录"), "registry.xlsx"
    back = read_sites(data, filename=name)
    assert back.rejects.empty and len(back.sites) == len(sites)
    _same_sites(sites, back.sites)
    a, b = assign_sites(sites, units), assign_sites(back.sites, units)
    pd.testing.assert_frame_equal(a[PLACE].reset_index(drop=True), b[PLACE].reset_index(drop=True))
    # The published system is kept: GCJ-02 rows are written as GCJ-02 again.
    frame = registry_frame(sites)
    assert {"GCJ-02", "BD-09", "EPSG:4522"} <= set(frame["source_crs"])


def test_assign_output_reads_back_to_the_same_places(units, tmp_path):
    src = tmp_path / "mine.csv"
    src.write_bytes((CORPUS / "per_row_crs.csv").read_bytes())
    (tmp_path / "more.csv").write_bytes((CORPUS / "utf8_bom_chinese_headers.csv").read_bytes())
    out = tmp_path / "assigned.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo",
            "assign",
            "--sites",
            str(src),
            str(tmp_path / "more.csv"),
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
    first = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    again = read_sites(out)
    assert again.rejects.empty and len(again.sites) == len(first)
    second = assign_sites(again.sites, units)
    for col in ("county_code", "township_code"):
        assert first[col].fillna("").tolist() == second[col].fillna("").tolist()
    assert np.allclose(first["lon"].astype(float), second["lon"], atol=1e-6)
    assert (first["source_crs"] == "WGS84").all()
    assert set(first["published_crs"]) >= {"GCJ-02", "BD-09"}


def test_geojson_export_reads_back_to_the_same_points(units):
    sites = _messy(units)
    assigned = assign_sites(sites, units)
    data = to_geojson(sites_for_export(assigned))
    back = read_sites(data, filename="sites.geojson")
    assert back.rejects.empty and len(back.sites) == len(sites)
    again = assign_sites(back.sites, units)
    pd.testing.assert_frame_equal(
        assigned[["county_code", "township_code"]].reset_index(drop=True),
        again[["county_code", "township_code"]].reset_index(drop=True),
    )
    placed = assigned.geometry.notna().to_numpy()
    assert np.allclose(
        assigned["lon"].to_numpy()[placed], again["lon"].to_numpy()[placed], atol=1e-6
    )


def test_report_csv_neutralises_formulas_and_opens_in_excel(units):
    load = read_sites(CORPUS / "formula_injection.csv")
    sites = load_sites(units, loads=[load])
    names = set(sites.assigned["name"])
    assert '=HYPERLINK("http://example.invalid","点我")' in names  # kept as text
    exported = pd.read_csv(io.BytesIO(registry_csv(load.sites)), dtype=str, encoding="utf-8-sig")
    assert all(not str(v).startswith(("=", "+", "-", "@")) for v in exported["name"])
    back = read_sites(registry_csv(load.sites), filename="again.csv")
    assert set(back.sites["name"]) == set(load.sites["name"])  # our own quoting reads back
    report = validation_report(load, sites.assigned)
    assert report_csv(report).startswith(b"\xef\xbb\xbf")


def test_uploaded_names_reach_the_map_escaped(units):
    load = read_sites(CORPUS / "formula_injection.csv")
    sites = load_sites(units, loads=[load])
    view = build_view(
        units,
        sites.assigned,
        ViewState(layer="ecommerce", show=("ecommerce",)),
        plan=load_plan(),
    )
    page = build_map(view.spec).get_root().render()
    plain = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    assert "<script>alert(1)</script>" not in plain
    assert "&lt;script&gt;alert(1)&lt;/script&gt;站" in plain
