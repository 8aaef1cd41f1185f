"""PostGIS backend: same data and same numbers as the embedded files, and no lost updates.

Needs a PostgreSQL server with PostGIS: ``scripts/postgres.sh start`` makes a throwaway one on
127.0.0.1:54329 (the default ``XINING_TEST_DATABASE_URL``). Without one these tests are skipped,
unless ``XINING_REQUIRE_POSTGIS=1`` (set in CI), where an unreachable server is an error.
Each session works in its own schema, dropped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from base.errors import InputError, StoreError
from geo.assign import assign_sites, locate
from geo.attainment import attainment
from geo.backends import Backend, ConflictError, get_backend, sql
from geo.backends.files import BundledFiles
from geo.backends.postgis import PostGISBackend
from geo.backends.sql import DbLocator, assign_sites_sql, summarize_sql
from geo.coverage import summarize, totals_check
from geo.loader import load_plan
from layers.registry import load_bundled
from layers.schema import LAYERS
from tests.conftest import make_sites

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.both_stores
NEAREST_TOL_KM = 0.01


# -- the store holds the same data ------------------------------------------------------------


def test_schema_srid_and_spatial_indexes(pg):
    with pg.connect(read_only=True) as conn:
        srids = dict(
            conn.execute(
                "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = %s",
                (pg.schema,),
            ).fetchall()
        )
        gist = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_indexes WHERE schemaname = %s AND indexdef ILIKE "
                "'%%USING gist%%'",
                (pg.schema,),
            ).fetchall()
        }
    tables = {"counties", "townships", "township_seats", "county_seats", "sites"}
    assert tables <= set(srids) and {srids[t] for t in tables} == {4326}
    assert tables <= gist


def test_units_plan_and_registries_equal_the_files(pg, units):
    db_units = pg.load_units()
    for name in ("counties", "townships", "villages", "township_seats", "county_seats"):
        a = pd.DataFrame(getattr(units, name)).reset_index(drop=True)
        b = pd.DataFrame(getattr(db_units, name)).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
    for a, b in zip(BundledFiles().load_plan(), pg.load_plan(), strict=True):
        pd.testing.assert_frame_equal(a, b)
    for samples in (True, False):
        files = load_bundled(include_samples=samples).sites
        pd.testing.assert_frame_equal(files, pg.load_bundled(include_samples=samples).sites)


def test_backend_selection_by_environment(monkeypatch, pg_url):
    monkeypatch.delenv("XINING_DATABASE_URL", raising=False)
    assert get_backend().name == "embedded" and isinstance(get_backend(), Backend)
    monkeypatch.setenv("XINING_DATABASE_URL", pg_url)
    monkeypatch.setenv("XINING_DATABASE_SCHEMA", "some_schema")
    chosen = get_backend()
    assert chosen.name == "postgis" and chosen.schema == "some_schema"
    assert isinstance(chosen, Backend)
    with pytest.raises(ValueError, match="schema name"):
        get_backend(pg_url, schema="bad; drop")


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(StoreError, match=r"does not answer.*nobody@127\.0\.0\.1:1/none"):
        PostGISBackend("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2).load_units()


# -- the core pipeline on both backends ---------------------------------------------------------


def test_assign_conservation_on_each_backend(backend):
    units = backend.load_units()
    assigned = assign_sites(backend.load_bundled(include_samples=True).sites, units)
    check = totals_check(units, assigned)
    assert check["sites_in_city"] == check["county_total"] == check["township_total"] > 100
    no_county = assigned[assigned["county_code"] == ""]
    assert no_county["flags"].str.contains("city_only|outside_city|unplaced").all()


def test_coverage_and_attainment_are_the_same_on_each_backend(backend, units):
    reference = assign_sites(load_bundled(include_samples=True).sites, units)
    b_units = backend.load_units()
    b_sites = assign_sites(backend.load_bundled(include_samples=True).sites, b_units)
    for level in ("county", "township"):
        pd.testing.assert_frame_equal(
            summarize(units, reference, level=level), summarize(b_units, b_sites, level=level)
        )
    targets, designations, _ = backend.load_plan()
    assert len(targets) > 10 and (designations["designation"] == "pilot_town").sum() == 8


def _run_cli(*args, env_extra: dict[str, str]):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINING_DATABASE")}
    env.update(PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "geo", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=180,
        env=env,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("summarize", "--level", "township", "--format", "csv"),
        ("summarize", "--level", "county", "--format", "geojson"),
        ("attainment", "--format", "json"),
    ],
)
def test_cli_reads_postgis_when_the_url_is_set(pg, pg_url, tmp_path, args):
    suffix = ".json" if "json" in args else (".geojson" if "geojson" in args else ".csv")
    outs = {}
    for mode, env in (
        ("files", {}),
        ("postgis", {"XINING_DATABASE_URL": pg_url, "XINING_DATABASE_SCHEMA": pg.schema}),
    ):
        out = tmp_path / f"{mode}{suffix}"
        proc = _run_cli(*args, "-o", str(out), env_extra=env)
        assert proc.returncode in (0, 1), proc.stderr.decode()
        outs[mode] = out.read_bytes()
    assert outs["files"] == outs["postgis"]


def test_cli_with_an_empty_schema_says_what_to_do(pg_url, tmp_path):
    empty = PostGISBackend(pg_url, schema=f"xining_empty_{uuid.uuid4().hex[:8]}")
    empty.init()
    try:
        proc = _run_cli(
            "summarize",
            "-o",
            str(tmp_path / "x.csv"),
            env_extra={"XINING_DATABASE_URL": pg_url, "XINING_DATABASE_SCHEMA": empty.schema},
        )
        assert proc.returncode == 2
        assert b"geo.db load" in proc.stderr
    finally:
        empty.drop()


# -- SQL computes the same numbers as the embedded code ----------------------------------------


def _dense_sites(units, n: int = 3000, seed: int = 11) -> pd.DataFrame:
    """Random points over Xining and around it, plus points exactly on shared county borders
    (vertices of one county that lie on another), seats, and rows without coordinates."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = units.counties.total_bounds
    rows = [
        {"name": f"r{i}", "lon": x, "lat": y, "layer": rng.choice(list(LAYERS))}
        for i, (x, y) in enumerate(
            zip(rng.uniform(x0 - 0.1, x1 + 0.1, n), rng.uniform(y0 - 0.1, y1 + 0.1, n))
        )
    ]
    geoms = units.counties.geometry.to_numpy()
    border = []
    for i, g in enumerate(geoms):
        coords = shapely.get_coordinates(g)
        others = shapely.union_all(np.delete(geoms, i))
        on = shapely.intersects_xy(others, coords[:, 0], coords[:, 1])
        border.extend(map(tuple, coords[on]))
    border = sorted(set(border))[:: max(1, len(set(border)) // 300)]
    assert len(border) > 50
    rows += [{"name": f"b{i}", "lon": x, "lat": y} for i, (x, y) in enumerate(border)]
    seats = units.township_seats
    rows += [
        {"name": f"s{i}", "lon": r.lon, "lat": r.lat, "layer": "ecommerce"}
        for i, r in enumerate(seats.itertuples())
    ]
    rows += [
        {"name": f"t{i}", "township": t, "layer": "poverty_demo", "is_sample": i % 2 == 0}
        for i, t in enumerate(units.townships["name"].head(40))
    ]
    rows += [{"name": f"c{i}", "county": c} for i, c in enumerate(units.counties["name"])]
    return make_sites(rows)


def _compare_summaries(a: pd.DataFrame, b: pd.DataFrame) -> None:
    near = [c for c in a.columns if "nearest_km" in c]
    rest = [c for c in a.columns if c not in near]
    pd.testing.assert_frame_equal(a[rest], b[rest])
    diff = (a[near].astype(float) - b[near].astype(float)).abs()
    assert (diff.fillna(0) <= NEAREST_TOL_KM + 1e-9).all().all()
    assert (a[near].isna() == b[near].isna()).all().all()


@pytest.mark.parametrize("data", ["bundled", "dense"])
def test_sql_assignment_coverage_and_attainment_equal_embedded(pg, units, data):
    db_units = pg.load_units()
    if data == "bundled":
        sites = pg.load_bundled(include_samples=True).sites
    else:
        sites = _dense_sites(db_units)
    embedded = assign_sites(sites, units)
    with pg.connect() as conn:
        locator = DbLocator(conn)
        assert set(locator.tables.values()) == {"counties", "townships"}
        in_sql = assign_sites_sql(conn, sites, db_units)
        pd.testing.assert_frame_equal(embedded, in_sql)
        assert embedded["flags"].str.contains("on_border").any() == (data == "dense")
        for level in ("county", "township"):
            _compare_summaries(
                summarize(units, embedded, level=level),
                summarize_sql(conn, db_units, in_sql, level=level),
            )
    mine = attainment(units, embedded, load_plan())
    theirs = attainment(db_units, in_sql, load_plan())
    pd.testing.assert_frame_equal(
        mine[["target_id", "scope_code", "status", "actual"]],
        theirs[["target_id", "scope_code", "status", "actual"]],
    )


def test_sql_locator_uses_the_stored_tables(pg, units):
    db_units = pg.load_units()
    sites = pg.load_registry("park").sites
    with pg.connect() as conn:
        locator = sql.DbLocator(conn)
        x = sites["lon"].fillna(101.7).to_numpy()
        y = sites["lat"].fillna(36.6).to_numpy()
        counties = db_units.counties.reset_index(drop=True)
        idx, border = locator(x, y, counties.geometry, counties["code"].to_numpy())
        assert locator.calls == ["counties"]

        ref_idx, ref_border = locate(x, y, counties.geometry, counties["code"].to_numpy())
        assert (idx == ref_idx).all() and (border == ref_border).all()


def test_sql_assignment_on_polygons_not_in_the_database(pg, toy_units):
    """User polygons held only in memory go through an indexed temporary table; border rule."""

    rng = np.random.default_rng(7)
    pts = [
        {"name": f"p{i}", "lon": x, "lat": y}
        for i, (x, y) in enumerate(
            zip(rng.uniform(100.9, 102.1, 300), rng.uniform(35.9, 37.1, 300))
        )
    ]
    pts += [{"name": f"b{i}", "lon": 101.5, "lat": 36.0 + i / 20} for i in range(21)]
    pts += [{"name": f"h{i}", "lon": 101.0 + i / 20, "lat": 36.5} for i in range(21)]
    sites = make_sites(pts)
    embedded = assign_sites(sites, toy_units)
    with pg.connect() as conn:
        in_sql = assign_sites_sql(conn, sites, toy_units)
        locator = DbLocator(conn)
        assert locator.tables  # the stored polygons' digests; the toy polygons match none
        rows = toy_units.counties.reset_index(drop=True)
        locator([101.5], [36.7], rows.geometry, rows["code"].to_numpy())
        assert locator.calls[0].startswith("_polys")
        pd.testing.assert_frame_equal(embedded, in_sql)
        assert in_sql["flags"].str.contains("on_border").sum() >= 40
        _compare_summaries(
            summarize(toy_units, embedded, level="township", layers=["incubator"]),
            summarize_sql(conn, toy_units, in_sql, level="township", layers=["incubator"]),
        )


# -- concurrent editing -------------------------------------------------------------------------


def _edited(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    out = frame.copy()
    out.loc[0, "note"] = f"edited by {name}"
    return out


def test_two_concurrent_writers_no_lost_update(writable):
    """Both planners load the same version and save at once: one wins, the other is told."""
    layer = "incubator"
    first = writable.load_registry(layer)
    second = writable.load_registry(layer)
    assert first.version == second.version
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def save(name: str, load) -> None:
        start.wait()
        try:
            results[name] = writable.save_registry(
                layer,
                _edited(load.sites, name),
                expected_version=load.version,
                saved_by=name,
            )
        except Exception as exc:  # the conflict, kept for the assertions below
            results[name] = exc

    threads = [
        threading.Thread(target=save, args=("张工", first)),
        threading.Thread(target=save, args=("李工", second)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wins = {k: v for k, v in results.items() if isinstance(v, int)}
    losses = {k: v for k, v in results.items() if isinstance(v, ConflictError)}
    assert len(wins) == 1 and len(losses) == 1, results
    (winner, version), (loser, error) = next(iter(wins.items())), next(iter(losses.items()))
    assert version == first.version + 1
    assert error.current == version and error.saved_by == winner
    assert f"Someone else ({winner}) saved layer 'incubator' at" in str(error)
    assert "reload and reapply your changes" in str(error)
    now = writable.load_registry(layer)
    assert now.version == version and now.sites.loc[0, "note"] == f"edited by {winner}"
    history = writable.history(layer)
    assert history["version"].tolist()[-1] == version
    assert (history["saved_by"] == loser).sum() == 0  # the conflicting save left no trace
    # the loser reloads, reapplies and saves: both edits are kept, nothing lost
    again = now.sites.copy()
    again.loc[1, "note"] = f"edited by {loser}"
    final = writable.save_registry(layer, again, expected_version=now.version, saved_by=loser)
    kept = writable.load_registry(layer).sites["note"].tolist()
    assert final == version + 1 and kept[:2] == [f"edited by {winner}", f"edited by {loser}"]


def test_history_keeps_every_version(writable):
    layer = "park"
    v1 = writable.load_registry(layer)
    added = pd.concat(
        [v1.sites, make_sites([{"name": "新园区", "layer": "park", "county": "湟源县"}])],
        ignore_index=True,
    )
    v2 = writable.save_registry(layer, added, expected_version=v1.version, message="add one")
    assert v2 == v1.version + 1
    assert writable.save_registry(layer, added, expected_version=v2) == v2  # unchanged: same
    dropped = writable.load_registry(layer).sites.iloc[1:]
    v3 = writable.save_registry(layer, dropped, expected_version=v2, message="drop first")
    history = writable.history(layer)
    assert history["version"].tolist()[-3:] == [v1.version, v2, v3]
    last = history.iloc[-1]
    assert (last["n_rows"], last["message"]) == (len(dropped), "drop first")
    old = writable.load_registry(layer, version=v1.version).sites
    cols = ["name", "county", "lon", "lat", "is_sample"]
    pd.testing.assert_frame_equal(old[cols], v1.sites[cols])
    assert writable.load_registry(layer, version=v2).sites["name"].iloc[-1] == "新园区"
    with pytest.raises(ConflictError):
        writable.save_registry(layer, added, expected_version=v2)


def test_a_failed_save_changes_nothing(pg_scratch):
    """A row the database refuses (CHECK constraint) rolls the whole save back."""
    import psycopg

    layer = "ecommerce"
    before = pg_scratch.load_registry(layer)
    bad = before.sites.copy()
    bad.loc[0, "note"] = "changed"
    bad.loc[len(bad) - 1, "status"] = "imaginary"
    with pytest.raises(psycopg.errors.CheckViolation):
        pg_scratch.save_registry(layer, bad, expected_version=before.version)
    after = pg_scratch.load_registry(layer)
    assert after.version == before.version
    pd.testing.assert_frame_equal(after.sites, before.sites)
    assert len(pg_scratch.history(layer)) == len(pg_scratch.history(layer).drop_duplicates())


def test_saving_checks_the_frame(writable):
    load = writable.load_registry("park")
    with pytest.raises(InputError, match="rows of layer"):
        writable.save_registry("incubator", load.sites, expected_version=load.version)
    with pytest.raises(InputError, match="missing columns"):
        writable.save_registry(
            "park", load.sites.drop(columns="name"), expected_version=load.version
        )


# -- command line: init, load, export ------------------------------------------------------------


def _db_cli(*args, url: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "geo.db", "--url", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_db_command_init_load_status_export_round_trip(pg_url, tmp_path, units):
    schema = f"xining_cli_{uuid.uuid4().hex[:8]}"
    try:
        proc = _db_cli("--schema", schema, "init", url=pg_url)
        assert proc.returncode == 0, proc.stderr
        proc = _db_cli("--schema", schema, "load", url=pg_url)
        assert proc.returncode == 0, proc.stderr
        assert "counties\t7" in proc.stdout
        again = _db_cli("--schema", schema, "load", url=pg_url)  # no change: no new version
        assert "version_park\t1" in again.stdout
        status = _db_cli("--schema", schema, "status", url=pg_url)
        assert "park\tversion 1\t19 rows" in status.stdout
        out = tmp_path / "export"
        proc = _db_cli("--schema", schema, "export", "-o", str(out), url=pg_url)
        assert proc.returncode == 0, proc.stderr
        exported = BundledFiles(out / "boundaries", out / "sites", out / "plan")
        back = exported.load_units()
        pd.testing.assert_frame_equal(
            pd.DataFrame(units.townships.drop(columns="geometry")),
            pd.DataFrame(back.townships.drop(columns="geometry")),
            check_dtype=False,
        )
        a = gpd.GeoSeries(units.counties.geometry.to_numpy())
        b = gpd.GeoSeries(back.counties.geometry.to_numpy())
        assert a.geom_equals_exact(b, tolerance=1e-9).all()
        for x, y in zip(BundledFiles().load_plan(), exported.load_plan(), strict=True):
            pd.testing.assert_frame_equal(x, y)
        mine, theirs = load_bundled().sites, exported.load_bundled().sites
        pd.testing.assert_frame_equal(  # file: the label of where a row was read
            mine.drop(columns=["lon", "lat", "file"]), theirs.drop(columns=["lon", "lat", "file"])
        )
        assert np.allclose(mine[["lon", "lat"]], theirs[["lon", "lat"]], atol=1e-7, equal_nan=True)
    finally:
        PostGISBackend(pg_url, schema=schema).drop()


def test_db_command_without_url_exits_2(monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "XINING_DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "geo.db", "init"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2 and "XINING_DATABASE_URL" in proc.stderr
