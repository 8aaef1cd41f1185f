"""Assignment: each site to exactly one county and at most one township, with flags."""

import numpy as np

from geo.assign import assign_sites
from geo.coverage import summarize, totals_check
from layers.schema import LAYERS
from tests.conftest import make_sites


def test_point_on_shared_county_border_is_counted_once_by_smallest_code(toy_units):
    sites = make_sites([{"name": "界上", "lon": 101.5, "lat": 36.7}])
    out = assign_sites(sites, toy_units)
    assert out["county_code"].tolist() == ["630901"]
    assert "on_border" in out["flags"].iloc[0]


def test_point_on_four_way_corner_goes_to_one_township(toy_units):
    sites = make_sites([{"name": "角", "lon": 101.5, "lat": 36.5}])
    out = assign_sites(sites, toy_units)
    assert out["county_code"].iloc[0] == "630901"
    assert out["township_code"].iloc[0] == "630901100"


def test_outside_the_city_is_reported_with_distance_not_dropped(toy_units):
    sites = make_sites([{"name": "城外", "lon": 102.2, "lat": 36.5}])
    out = assign_sites(sites, toy_units)
    assert len(out) == 1
    assert out["county_code"].iloc[0] == ""
    assert "outside_city" in out["flags"].iloc[0]
    assert 15 < out["outside_km"].iloc[0] < 20  # 0.2° of longitude at 36.5°N ≈ 17.9 km


def test_stated_county_disagreeing_with_point_is_flagged(toy_units):
    sites = make_sites([{"name": "错县", "county": "乙区", "lon": 101.2, "lat": 36.2}])
    out = assign_sites(sites, toy_units)
    assert out["county_code"].iloc[0] == "630901"  # the polygon wins
    assert "county_mismatch" in out["flags"].iloc[0]


def test_stated_township_disagreeing_with_official_polygon(toy_units):
    sites = make_sites([{"name": "错乡", "township": "北乡", "lon": 101.2, "lat": 36.2}])
    out = assign_sites(sites, toy_units)
    assert out["township_code"].iloc[0] == "630901100"
    assert "township_mismatch" in out["flags"].iloc[0]


def test_alias_and_seat_placement(toy_units):
    sites = make_sites(
        [
            {"name": "旧名", "county": "甲旧县"},
            {"name": "有乡", "county": "乙", "township": "东镇"},
            {"name": "有村", "village": "三村"},
        ]
    )
    out = assign_sites(sites, toy_units).set_index("name")
    assert out.at["旧名", "county_code"] == "630901"
    assert out.at["旧名", "location_precision"] == "county_seat"
    assert out.at["旧名", "township_code"] == ""  # a county seat says nothing of the township
    assert out.at["有乡", "location_precision"] == "township_seat"
    assert (out.at["有乡", "lon"], out.at["有乡", "lat"]) == (101.75, 36.25)
    assert out.at["有村", "township_code"] == "630901101"


def test_unknown_names_are_flagged(toy_units):
    sites = make_sites([{"name": "无名县", "county": "不存在县", "lon": 101.2, "lat": 36.2}])
    out = assign_sites(sites, toy_units)
    assert "unknown_county" in out["flags"].iloc[0]
    assert out["county_code"].iloc[0] == "630901"


def test_conservation_on_fixture_with_border_points(toy_units):
    rng = np.random.default_rng(7)
    pts = [
        {"name": f"p{i}", "lon": x, "lat": y}
        for i, (x, y) in enumerate(
            zip(rng.uniform(100.9, 102.1, 400), rng.uniform(35.9, 37.1, 400), strict=False)
        )
    ]
    # exact borders and corners, many times
    pts += [{"name": f"b{i}", "lon": 101.5, "lat": 36.0 + i / 20} for i in range(21)]
    pts += [{"name": f"h{i}", "lon": 101.0 + i / 20, "lat": 36.5} for i in range(21)]
    out = assign_sites(make_sites(pts), toy_units)
    inside = out["county_code"] != ""
    county = summarize(toy_units, out, level="county", layers=["incubator"])
    township = summarize(toy_units, out, level="township", layers=["incubator"])
    assert county["n_incubator"].sum() == township["n_incubator"].sum() == inside.sum()
    assert (out.loc[inside, "township_code"] != "").all()
    outside = out[~inside]
    assert outside["flags"].str.contains("outside_city").all()
    assert len(out) == len(pts)


def test_conservation_on_bundled_data(units, bundled):
    check = totals_check(units, bundled.assigned)
    assert check["sites_in_city"] == check["county_total"] == check["township_total"]
    assert check["sites_in_city"] > 100  # real + sample sites with a county
    # every site either has a county or is reported as city-only / outside / unplaced
    a = bundled.assigned
    no_county = a[a["county_code"] == ""]
    assert no_county["flags"].str.contains("city_only|outside_city|unplaced").all()
    per_layer = summarize(units, a, level="county")
    for key in LAYERS:
        assert per_layer[f"n_{key}"].sum() == ((a["layer"] == key) & (a["county_code"] != "")).sum()


def test_every_bundled_site_is_read_and_sourced(bundled):
    load = bundled.load
    assert load.rejects.empty
    assert len(load.sites) == load.rows_read
    assert (load.sites["source"] != "").all()
    samples = load.sites[load.sites["is_sample"]]
    assert samples["name"].str.startswith("【示例】").all()
    assert samples["file"].eq("ecommerce.csv").sum() + samples["file"].eq(
        "poverty_demo.csv"
    ).sum() == len(samples)
    real = load.sites[~load.sites["is_sample"]]
    assert len(real) == 34
    assert not real["name"].str.contains("示例").any()


def test_approximate_locations_say_so(bundled):
    a = bundled.assigned
    placed = a[a["assign_method"].str.startswith("seat:")]
    assert len(placed) > 0
    assert placed["location_precision"].isin(["township_seat", "county_seat"]).all()
    exact = a[a["location_precision"] == "exact"]
    assert (exact["assign_method"] == "point").all()


_THREADS_SCRIPT = """
import sys, threading
import numpy as np, shapely, geopandas as gpd
from geo.assign import locate
from geo.backends.files import load_units_from_files

units = load_units_from_files()
wkb = shapely.to_wkb(units.townships.geometry.dropna().to_numpy())
codes = np.arange(len(wkb)).astype(str)
rng = np.random.default_rng(0)
x, y = rng.uniform(101.2, 101.9, 500), rng.uniform(36.4, 37.2, 500)
expected = locate(x, y, gpd.GeoSeries(shapely.from_wkb(wkb)), codes)
for _ in range(int(sys.argv[1])):
    shared = gpd.GeoSeries(shapely.from_wkb(wkb))  # new polygons each round, used by all threads
    start, results = threading.Barrier(4), []
    def work():
        start.wait()
        results.append(locate(x, y, shared, codes))
    threads = [threading.Thread(target=work) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 4
    assert all((r[0] == expected[0]).all() and (r[1] == expected[1]).all() for r in results)
print("ok")
"""


def test_threads_sharing_the_units_assign_safely():
    """Streamlit sessions and Dask threads share the cached units: four threads locating points
    in the same polygons at once, round after round, give the single-thread answer (sharing
    prepared GEOS polygons between threads used to corrupt memory and abort the process, so
    this runs in a process of its own)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", _THREADS_SCRIPT, "200"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def _reversed_codes(units):
    """The toy units with the larger code first in every table: "first polygon" and
    "smallest code" now disagree, as they do in real registers."""
    counties = units.counties.iloc[::-1].reset_index(drop=True)
    townships = units.townships.iloc[::-1].reset_index(drop=True)
    return type(units).from_frames(
        counties,
        townships,
        villages=units.villages,
        township_seats=units.township_seats,
        county_seats=units.county_seats,
    )


def test_border_point_goes_to_the_smallest_code_not_the_first_polygon(toy_units):
    units = _reversed_codes(toy_units)
    assert units.counties["code"].tolist() == ["630902", "630901"]  # larger code first
    sites = make_sites(
        [
            {"name": "县界", "lon": 101.5, "lat": 36.7},  # county border
            {"name": "乡界", "lon": 101.25, "lat": 36.5},  # township border inside 甲县
            {"name": "四角", "lon": 101.5, "lat": 36.5},  # corner of all four
        ]
    )
    out = assign_sites(sites, units)
    assert out["county_code"].tolist() == ["630901", "630901", "630901"]
    assert out["township_code"].tolist() == ["630901101", "630901100", "630901100"]
    assert all("on_border" in f for f in out["flags"])
