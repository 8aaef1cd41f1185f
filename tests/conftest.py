"""Shared fixtures: the bundled data, and a small synthetic city with shared borders."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.boundaries import Units, load_units
from geo.pipeline import load_sites
from layers.schema import COLUMNS


@pytest.fixture(scope="session")
def units() -> Units:
    return load_units()


@pytest.fixture(scope="session")
def bundled(units):
    return load_sites(units, include_samples=True)


@pytest.fixture()
def toy_units() -> Units:
    """Two counties side by side at x=101.5 (A: 630901 west, B: 630902 east), each with two
    townships split at y=36.5, all with official polygons; one seat per township."""
    counties = gpd.GeoDataFrame(
        {
            "code": ["630901", "630902"],
            "name": ["甲县", "乙区"],
            "short_name": ["甲", "乙"],
            "aliases": ["甲旧县", ""],
            "pop_2020": [100_000, 50_000],
        },
        geometry=[box(101.0, 36.0, 101.5, 37.0), box(101.5, 36.0, 102.0, 37.0)],
        crs="EPSG:4326",
    )
    townships = gpd.GeoDataFrame(
        {
            "code": ["630901100", "630901101", "630902100", "630902101"],
            "name": ["南镇", "北乡", "东镇", "城关镇"],
            "county_code": ["630901", "630901", "630902", "630902"],
            "geometry_source": "official",
            "n_villages": [2, 1, 1, 1],
        },
        geometry=[
            box(101.0, 36.0, 101.5, 36.5),
            box(101.0, 36.5, 101.5, 37.0),
            box(101.5, 36.0, 102.0, 36.5),
            box(101.5, 36.5, 102.0, 37.0),
        ],
        crs="EPSG:4326",
    )
    seats = pd.DataFrame(
        {
            "code": ["630901100", "630901101", "630902100", "630902101"],
            "name": ["南镇", "北乡", "东镇", "城关镇"],
            "lon": [101.25, 101.25, 101.75, 101.75],
            "lat": [36.25, 36.75, 36.25, 36.75],
        }
    )
    county_seats = pd.DataFrame(
        {
            "code": ["630901", "630902"],
            "name": ["甲县", "乙区"],
            "lon": [101.2, 101.8],
            "lat": [36.2, 36.8],
        }
    )
    villages = pd.DataFrame(
        {
            "code": [
                "630901100200",
                "630901100201",
                "630901101200",
                "630902100200",
                "630902101200",
            ],
            "name": ["一村", "二村", "三村", "四村", "五村"],
            "kind": "village(村委会)",
            "township_code": ["630901100", "630901100", "630901101", "630902100", "630902101"],
            "county_code": ["630901", "630901", "630901", "630902", "630902"],
        }
    )
    return Units.from_frames(
        counties, townships, villages=villages, township_seats=seats, county_seats=county_seats
    )


def make_sites(rows: list[dict]) -> pd.DataFrame:
    """Canonical site rows with defaults, as read_sites would return them."""
    base = {c: "" for c in COLUMNS}
    base.update(
        layer="incubator",
        lon=float("nan"),
        lat=float("nan"),
        is_sample=False,
        status="built",
        year=None,
        file="fixture.csv",
    )
    out = [{**base, "id": f"T{i}", "row": i + 2, **r} for i, r in enumerate(rows)]
    frame = pd.DataFrame(out)
    frame["lon"] = frame["lon"].astype(float)
    frame["lat"] = frame["lat"].astype(float)
    return frame
