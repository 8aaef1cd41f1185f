"""The shared database as an analyst opens it in QGIS: every mapped site on the map layer with
its assignment, typed geometry, a key QGIS finds by itself, coordinates as they were written.

Needs PostgreSQL + PostGIS (scripts/postgres.sh; CI starts one). QGIS checks run in Debian's
Python (tests/qgis_probe.py) and skip without python3-qgis, except in CI.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import psycopg
import pytest

from base.crs import gcj02_to_wgs84
from base.errors import InputError
from geo.backends import BundledFiles, ConflictError
from geo.backends.saving import save_layers
from geo.pipeline import assemble_sites
from tests.conftest import _fresh
from tests.qgis_support import needs_gdal, needs_qgis, qgis

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.both_stores  # picks its own database schemas: once per CI run


def _sql(db, query: str, params=()) -> list[tuple]:
    with psycopg.connect(db.url, options=f"-c search_path={db.schema},public") as conn:
        return conn.execute(query, params).fetchall()


def _qgis_uri(db, table: str) -> str:
    u = urlparse(db.url)
    return (
        f"dbname='{u.path.lstrip('/')}' host={u.hostname} port={u.port or 5432} "
        f'user=\'{u.username}\' table="{db.schema}"."{table}" (geom)'
    )


@pytest.fixture()
def db(pg_url):
    store = _fresh(pg_url)
    yield store
    store.drop()


def _product_assignment():
    files = BundledFiles()
    load = files.load_bundled(include_samples=True)
    return assemble_sites(files.load_units(), bundled=load, include_samples=True).assigned


def test_every_mapped_site_is_on_the_map_layer_with_the_products_assignment(pg):
    ours = _product_assignment()
    rows = _sql(
        pg,
        "SELECT layer, id, county_code, township_code, assign_method, location_precision, "
        "ST_X(geom), ST_Y(geom) FROM current_sites ORDER BY fid",
    )
    assert len(rows) == len(ours) == 120
    theirs = pd.DataFrame(
        rows, columns=["layer", "id", "db_county", "db_township", "method", "precision", "x", "y"]
    )
    assert theirs["x"].notna().sum() == ours.geometry.notna().sum() == 112  # was 1 of 120
    merged = theirs.merge(ours, on=["layer", "id"])
    assert (merged["db_county"] == merged["county_code"]).all()
    assert (merged["db_township"] == merged["township_code"]).all()
    assert (merged["method"] == merged["assign_method"]).all()
    assert (merged["precision"] == merged["location_precision"]).all()
    placed = merged[merged["x"].notna()]
    assert (placed["x"] - placed["geometry"].map(lambda g: g.x)).abs().max() < 1e-9


def test_geometry_columns_are_typed_with_srid_4326(pg):
    types = dict(
        _sql(
            pg,
            "SELECT f_table_name, type || ':' || srid FROM geometry_columns "
            "WHERE f_table_schema = %s",
            (pg.schema,),
        )
    )
    assert types["counties"] == types["townships"] == "MULTIPOLYGON:4326"
    assert types["current_sites"] == types["sites"] == "POINT:4326"


def test_coordinates_come_back_as_written_and_nothing_is_filled_in(pg, tmp_path):
    row = _sql(pg, "SELECT lon, lat, source_crs, location_precision FROM sites WHERE id = 'P003'")
    assert row == [(101.521459, 36.54116, "GCJ-02", "")]  # as in data/sites/parks.csv
    command = ["export", "-o", str(tmp_path), "--url", pg.url, "--schema", pg.schema]
    run = subprocess.run(  # --url and --schema after the command
        [sys.executable, "-m", "geo.db", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    for name in ("parks.csv", "incubators.csv", "poverty_demo.csv", "ecommerce.csv"):
        shipped = (ROOT / "data" / "sites" / name).read_text(encoding="utf-8").splitlines()
        back = (tmp_path / "sites" / name).read_text(encoding="utf-8-sig").splitlines()
        assert back == shipped, name  # every row and cell as the bundled registry has it


def test_a_save_updates_the_map_layer_in_the_same_transaction(db):
    load = db.load_registry("incubator")
    new = load.sites.iloc[:1].copy()
    new["id"], new["name"], new["county"], new["township"] = (
        "I900",
        "新的众创空间",
        "大通",
        "桥头镇",
    )
    new["lon"], new["lat"], new["location_precision"] = float("nan"), float("nan"), ""
    frame = pd.concat([load.sites, new], ignore_index=True)
    before = _sql(db, "SELECT count(*) FROM current_sites WHERE layer = 'incubator'")[0][0]
    outcome = save_layers(db, frame, base_versions=db.registry_versions())
    assert [o.saved for o in outcome] == [True]
    rows = _sql(
        db,
        "SELECT county_code, township_code, location_precision, geom IS NOT NULL "
        "FROM current_sites WHERE id = 'I900'",
    )
    assert rows == [("630121", "630121100", "township_seat", True)]  # placed at 桥头镇's seat
    after = _sql(db, "SELECT count(*) FROM current_sites WHERE layer = 'incubator'")[0][0]
    assert after == before + 1


def test_a_refused_save_leaves_the_map_layer_as_it_was(db):
    versions = db.registry_versions()
    load = db.load_registry("park")
    before = _sql(db, "SELECT fid, name FROM current_sites WHERE layer = 'park' ORDER BY fid")
    with pytest.raises(ConflictError):
        db.save_registry("park", load.sites.iloc[:3], expected_version=versions["park"] - 1)
    after = _sql(db, "SELECT fid, name FROM current_sites WHERE layer = 'park' ORDER BY fid")
    assert after == before


def test_a_schema_of_version_1_is_migrated_by_init(db):
    """Turn a fresh schema back into the version-1 layout, then run init again."""
    _downgrade_to_version_1(db)
    db.init()
    assert _sql(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]
    row = _sql(db, "SELECT lon, lat, location_precision FROM sites WHERE id = 'P003'")
    assert row == [(101.521459, 36.54116, "")]
    assert _sql(db, "SELECT count(*), count(geom) FROM current_sites") == [(120, 112)]
    pd.testing.assert_frame_equal(
        BundledFiles().load_bundled(include_samples=True).sites,
        db.load_bundled(include_samples=True).sites,
    )


@needs_qgis
def test_qgis_opens_the_database_layers_and_picks_their_keys_itself(pg):
    sites = qgis("layer", "postgres", _qgis_uri(pg, "current_sites"))
    assert sites["valid"] and sites["primary_key"] == ["fid"]
    assert sites["features"] == 120 and sites["features"] - sites["null_geometries"] == 112
    assert sites["wkb_type"] == "Point" and sites["crs"] == "EPSG:4326"
    for table, n in (("counties", 7), ("townships", 80)):
        layer = qgis("layer", "postgres", _qgis_uri(pg, table))
        assert layer["valid"] and layer["primary_key"] == ["code"] and layer["features"] == n
        assert layer["wkb_type"] == "MultiPolygon" and layer["invalid_geometries"] == 0


@needs_gdal
def test_gdal_36_reads_the_map_layer_from_the_database(pg):
    u = urlparse(pg.url)
    source = (
        f"PG:dbname={u.path.lstrip('/')} host={u.hostname} port={u.port or 5432} "
        f"user={u.username} schemas={pg.schema}"
    )
    run = subprocess.run(
        ["ogrinfo", "-ro", "-so", source, "current_sites"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Geometry: Point" in run.stdout and "Feature Count: 120" in run.stdout
    assert "FID Column = fid" in run.stdout and "county_code: String" in run.stdout


def _downgrade_to_version_1(db) -> None:
    """The version-1 layout: WGS84 lon/lat in ``sites`` (beside the published source_crs), a
    generated point, generic geometry columns, a view for current_sites."""
    with psycopg.connect(db.url, options=f"-c search_path={db.schema},public") as conn:
        for table in ("counties", "townships"):
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN geom TYPE geometry(Geometry, 4326)")
        conn.execute("DROP TABLE current_sites")
        conn.execute("ALTER TABLE sites DROP COLUMN geom")
        conn.execute(
            "UPDATE sites SET lon = 101.51956190432652, lat = 36.54133010911874, "
            "location_precision = 'exact' WHERE id = 'P003'"
        )
        conn.execute(
            "ALTER TABLE sites ADD COLUMN geom geometry(Point, 4326) GENERATED ALWAYS AS "
            "(CASE WHEN lon IS NULL OR lat IS NULL THEN NULL ELSE "
            "ST_SetSRID(ST_MakePoint(lon, lat), 4326) END) STORED"
        )
        conn.execute("CREATE VIEW current_sites AS SELECT * FROM sites WHERE valid_to IS NULL")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_an_unmigrated_schema_is_refused_with_a_message_not_read_as_moved_sites(db):
    _downgrade_to_version_1(db)
    fresh = type(db)(db.url, schema=db.schema)  # a new process, as the dashboard would be
    with pytest.raises(InputError, match=r"geo\.db init"):
        fresh.load_registry("park")
    frame = BundledFiles().load_registry("park").sites
    with pytest.raises(InputError, match=r"geo\.db init"):
        fresh.save_registry("park", frame, expected_version=1)


def test_a_schema_of_version_2_gains_the_figures_tables_by_init(db):
    with db.connect() as conn:
        conn.execute("DROP TABLE actuals, actuals_versions, actuals_heads")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    fresh = type(db)(db.url, schema=db.schema)
    with pytest.raises(InputError, match=r"geo\.db init"):
        fresh.load_plan()
    db.init()
    again = type(db)(db.url, schema=db.schema)
    assert again.load_actuals().version == 1 and again.load_plan().targets.shape[0] == 25
    assert _sql(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]


def test_a_layer_saved_again_unchanged_keeps_its_version(db):
    """GCJ-02 and BD-09 rows are stored as published and read back to exactly what was saved."""
    load = db.load_registry("park")
    moved = load.sites.copy()
    lon, lat = gcj02_to_wgs84([101.7123456789], [36.6234567891])
    moved.loc[0, ["lon", "lat", "source_crs"]] = [float(lon[0]), float(lat[0]), "GCJ-02"]
    version = db.save_registry("park", moved, expected_version=load.version)
    again = db.load_registry("park")
    assert db.save_registry("park", again.sites, expected_version=version) == version
    pd.testing.assert_frame_equal(again.sites[["lon", "lat"]], moved[["lon", "lat"]])


def test_refreshing_the_map_layer_while_saving_loses_nothing(db):
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            for _ in range(8):
                db.refresh_current(["park"])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=refresh)
    thread.start()
    for i in range(8):
        load = db.load_registry("park")
        frame = load.sites.copy()
        frame.loc[0, "note"] = f"第{i}次"
        db.save_registry("park", frame, expected_version=load.version)
    thread.join()
    assert errors == []
    rows = _sql(db, "SELECT note FROM current_sites WHERE layer = 'park' AND ord = 0")
    assert rows == [("第7次",)]
