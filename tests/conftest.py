"""Shared fixtures: the bundled data, a small synthetic city with shared borders, and each
backend (the embedded SQLite store, and PostGIS when a server is reachable:
``scripts/postgres.sh start`` makes a throwaway one on 127.0.0.1:54329; without one the PostGIS
cases are skipped, unless ``XINING_REQUIRE_POSTGIS=1`` (set in CI), where an unreachable server is
an error)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.backends.embedded import DATA_DIR_ENV, EmbeddedBackend
from geo.backends.files import BundledFiles
from geo.backends.postgis import PostGISBackend
from geo.boundaries import Units
from geo.loader import load_sites, load_units
from layers.schema import COLUMNS

DEFAULT_URL = "postgresql://xining@127.0.0.1:54329/xining_test"


def pytest_configure(config) -> None:
    """Saves made through the app or the command lines in tests go to a throwaway store, never
    to the checkout's ``var/`` (subprocesses inherit the setting)."""
    if not os.environ.get(DATA_DIR_ENV):
        os.environ[DATA_DIR_ENV] = tempfile.mkdtemp(prefix="xining-test-store-")


def _database_url() -> str:
    url = os.environ.get("XINING_TEST_DATABASE_URL", DEFAULT_URL)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        message = (
            f"no PostgreSQL at {url} ({type(exc).__name__}: {str(exc).strip()[:200]}); "
            "start one with scripts/postgres.sh start"
        )
        if os.environ.get("XINING_REQUIRE_POSTGIS") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return url


@pytest.fixture(scope="session")
def pg_url() -> str:
    return _database_url()


def _fresh(url: str, *, parts=("boundaries", "plan", "registries")):
    db = PostGISBackend(url, schema=f"xining_test_{uuid.uuid4().hex[:10]}")
    db.init()
    db.load_from(BundledFiles(), parts=parts)
    return db


@pytest.fixture(scope="session")
def pg(pg_url):
    """A schema loaded with the bundled data, read-only for the tests that use it."""
    db = _fresh(pg_url)
    yield db
    db.drop()


@pytest.fixture()
def pg_scratch(pg_url):
    """A schema of its own for a test that writes registries."""
    db = _fresh(pg_url, parts=("registries",))
    yield db
    db.drop()


def _embedded(tmp_path: Path) -> EmbeddedBackend:
    """An embedded store of its own in ``tmp_path``, seeded from the bundled files (which it
    only reads)."""
    return EmbeddedBackend(tmp_path / "store" / "xining.sqlite")


@pytest.fixture(params=["embedded", "postgis"])
def backend(request, tmp_path):
    """Each backend over the same bundled data (embedded: a store of its own in tmp)."""
    if request.param == "embedded":
        return _embedded(tmp_path)
    return request.getfixturevalue("pg")


@pytest.fixture(params=["embedded", "postgis"])
def writable(request, tmp_path):
    """Each backend, free to save registries (embedded: a store of its own; PostGIS: a schema
    of its own)."""
    if request.param == "embedded":
        return _embedded(tmp_path)
    return request.getfixturevalue("pg_scratch")


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
