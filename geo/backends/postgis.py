"""The shared backend: PostGIS (psycopg 3), for deployments with several planners and servers.

Everything lives in one schema (default ``xining``; ``XINING_DATABASE_SCHEMA``), geometry in SRID
4326 with GIST indexes, so QGIS and the department's own SQL can read it directly.

Registries are versioned with row validity ranges (a "temporal table"): a row of ``sites`` is
valid from the version that added it (``valid_from``) until the version that removed or changed
it (``valid_to``; NULL while current). ``registry_heads`` holds each layer's current version and is
the row a save locks (``SELECT … FOR UPDATE``); ``registry_versions`` logs every save. A save is
one transaction: lock the head, compare versions (optimistic locking: a planner saves with the
version they loaded), close the current rows that are not in the new frame, insert the new ones,
bump the head. Unchanged rows are not copied, so history costs only what changed, and any past
version can still be read (``load_registry(layer, version=N)``). A row's identity is a hash of its
content and its position in the layer, so a version reads back in the order it was saved.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from base.crs import WGS84
from base.errors import InputError, StoreError
from geo.attainment import TARGET_COLUMNS, Plan
from geo.backends import placed
from geo.backends._figures import (
    ACTUALS,
    STORED_COLUMNS,
    FiguresLoad,
    entry,
    figure_hash,
    figure_rows,
    figures_csv_frame,
    figures_frame,
)
from geo.backends._registry import (
    TEXT_COLUMNS,
    as_read,
    check_frame,
    frame_from_records,
    published,
    records,
    row_hash,
)
from geo.backends.files import registry_csv
from geo.backends.sql import polygons_digest
from geo.backends.store import (
    HISTORY_COLUMNS,
    RegistryLoad,
    connection_error,
    require_version,
    schema_name,
)
from geo.boundaries import Units, as_multipolygons
from layers.registry import SiteLoad, combine
from layers.schema import LAYERS, LEVELS, PRECISION, STATUS

SRID = 4326
# 2: lon/lat of ``sites`` as published (in source_crs) with a WGS84 point beside them, typed
# MultiPolygon units, and the ``current_sites`` table (placed.py) instead of a view.
# 3: the reported figures' tables (actuals, actuals_heads, actuals_versions).
SCHEMA_VERSION = 3

# Columns of the tabular files, in file order (all text in the files; types here where useful).
COUNTY_COLUMNS = {
    "code": "text PRIMARY KEY",
    "name": "text NOT NULL",
    "short_name": "text NOT NULL DEFAULT ''",
    "aliases": "text NOT NULL DEFAULT ''",
    "level": "text NOT NULL DEFAULT 'county'",
    "area_km2": "double precision",
    "pop_2020": "bigint",
    "seat_lon": "double precision",
    "seat_lat": "double precision",
    "geometry_source": "text NOT NULL DEFAULT 'official'",
}
TOWNSHIP_COLUMNS = {
    "code": "text PRIMARY KEY",
    "code12": "text NOT NULL DEFAULT ''",
    "name": "text NOT NULL",
    "type": "text NOT NULL DEFAULT ''",
    "is_statistical": "boolean NOT NULL DEFAULT false",
    "county_code": "text NOT NULL REFERENCES counties(code)",
    "county_name": "text NOT NULL DEFAULT ''",
    "n_villages": "integer NOT NULL DEFAULT 0",
    "code_2016": "text NOT NULL DEFAULT ''",
    "aliases": "text NOT NULL DEFAULT ''",
}
TEXT_TABLES = {
    "villages": [
        "code",
        "name",
        "kind",
        "township_code",
        "township_name",
        "county_code",
        "county_name",
    ],
    "targets": list(TARGET_COLUMNS),
    "designations": [
        "designation",
        "county_code",
        "county_name_plan",
        "township_code",
        "name_zh",
        "clause",
        "source_line",
        "quote",
        "layer",
        "note",
    ],
    "reported_actuals": ["target_id", "period", "scope_code", "value", "source", "note"],
}
SEAT_TABLES = {
    "township_seats": [
        "code",
        "name",
        "county_code",
        "precision",
        "source_lon",
        "source_lat",
        "source_crs",
        "source",
    ],
    "county_seats": ["code", "name", "source_lon", "source_lat", "source_crs", "source"],
}
PLAN_FILES = {
    "targets": "targets.csv",
    "designations": "designations.csv",
    "reported_actuals": "reported_actuals.csv",
}

SITE_TEXT = [c for c in TEXT_COLUMNS if c != "layer"]  # ``layer`` keys the table itself
SITE_COLUMNS = [*SITE_TEXT, "lon", "lat", "year", "is_sample", "source_file", "source_row"]


def _in(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _ddl(schema: str) -> list[str]:
    text_cols = ",\n".join(f"  \"{c}\" text NOT NULL DEFAULT ''" for c in SITE_TEXT)
    point = (
        "geometry(Point, 4326) GENERATED ALWAYS AS (CASE WHEN lon IS NULL OR lat IS NULL "
        "THEN NULL ELSE public.ST_SetSRID(public.ST_MakePoint(lon, lat), 4326) END) STORED"
    )
    stmts = [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        "CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public",
        f"SET search_path TO {schema}, public",
        "CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)",
        f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}') "
        "ON CONFLICT (key) DO NOTHING",
        "CREATE TABLE IF NOT EXISTS counties (\n"
        + ",\n".join(f"  {c} {t}" for c, t in COUNTY_COLUMNS.items())
        + ",\n  ord integer NOT NULL DEFAULT 0"
        + ",\n  geom geometry(MultiPolygon, 4326) NOT NULL)",
        "CREATE INDEX IF NOT EXISTS counties_geom_idx ON counties USING gist (geom)",
        "CREATE TABLE IF NOT EXISTS townships (\n"
        + ",\n".join(f"  {c} {t}" for c, t in TOWNSHIP_COLUMNS.items())
        + ",\n  geometry_source text NOT NULL DEFAULT 'none'"
        + ",\n  ord integer NOT NULL DEFAULT 0"
        + ",\n  geom geometry(MultiPolygon, 4326))",
        "CREATE INDEX IF NOT EXISTS townships_geom_idx ON townships USING gist (geom)",
    ]
    for table, cols in SEAT_TABLES.items():
        body = ",\n".join(
            f"  {c} text " + ("PRIMARY KEY" if c == "code" else "NOT NULL DEFAULT ''") for c in cols
        )
        stmts += [
            f"CREATE TABLE IF NOT EXISTS {table} (\n{body},\n"
            f"  lon double precision NOT NULL, lat double precision NOT NULL,\n"
            f"  ord integer NOT NULL DEFAULT 0,\n"
            f"  geom {point})",
            f"CREATE INDEX IF NOT EXISTS {table}_geom_idx ON {table} USING gist (geom)",
        ]
    for table, cols in TEXT_TABLES.items():
        body = ",\n".join(f"  {c} text NOT NULL DEFAULT ''" for c in cols)
        stmts.append(f"CREATE TABLE IF NOT EXISTS {table} (ord integer PRIMARY KEY,\n{body})")
    stmts += [
        "CREATE TABLE IF NOT EXISTS registry_heads (\n"
        f"  layer text PRIMARY KEY CHECK (layer IN ({_in(list(LAYERS))})),\n"
        "  version integer NOT NULL DEFAULT 0,\n"
        "  saved_at timestamptz,\n"
        "  saved_by text NOT NULL DEFAULT '')",
        "CREATE TABLE IF NOT EXISTS registry_versions (\n"
        "  layer text NOT NULL REFERENCES registry_heads(layer),\n"
        "  version integer NOT NULL,\n"
        "  saved_at timestamptz NOT NULL DEFAULT now(),\n"
        "  saved_by text NOT NULL DEFAULT '',\n"
        "  n_rows integer NOT NULL, n_added integer NOT NULL, n_removed integer NOT NULL,\n"
        "  message text NOT NULL DEFAULT '',\n"
        "  PRIMARY KEY (layer, version))",
        "CREATE TABLE IF NOT EXISTS sites (\n"
        "  uid bigserial PRIMARY KEY,\n"
        "  layer text NOT NULL REFERENCES registry_heads(layer),\n"
        "  ord integer NOT NULL,\n"
        "  row_hash text NOT NULL,\n"
        "  valid_from integer NOT NULL,\n"
        "  valid_to integer CHECK (valid_to IS NULL OR valid_to > valid_from),\n"
        f"{text_cols},\n"
        "  lon double precision, lat double precision, year integer,\n"
        "  is_sample boolean NOT NULL DEFAULT false,\n"
        "  source_file text NOT NULL DEFAULT '', source_row integer,\n"
        "  extra jsonb NOT NULL DEFAULT '{}',\n"
        "  geom geometry(Point, 4326),\n"
        "  CHECK (name <> ''),\n"
        f"  CHECK (status IN ({_in(list(STATUS))})),\n"
        f"  CHECK (level IN ({_in(['', *LEVELS])})),\n"
        f"  CHECK (location_precision IN ({_in(['', *PRECISION])})))",
        "CREATE INDEX IF NOT EXISTS sites_current_idx ON sites (layer, ord) WHERE valid_to IS NULL",
        "CREATE UNIQUE INDEX IF NOT EXISTS sites_current_hash_idx ON sites (layer, row_hash) "
        "WHERE valid_to IS NULL",
        "CREATE INDEX IF NOT EXISTS sites_versions_idx ON sites (layer, valid_from, valid_to)",
        "CREATE INDEX IF NOT EXISTS sites_geom_idx ON sites USING gist (geom)",
        # reported figures, versioned the same way (geo.backends._figures)
        "CREATE TABLE IF NOT EXISTS actuals_heads (\n"
        "  name text PRIMARY KEY CHECK (name = 'actuals'), version integer NOT NULL,\n"
        "  saved_at timestamptz, saved_by text NOT NULL DEFAULT '')",
        "CREATE TABLE IF NOT EXISTS actuals_versions (\n"
        "  version integer PRIMARY KEY, saved_at timestamptz, saved_by text NOT NULL DEFAULT '',\n"
        "  n_rows integer NOT NULL, n_added integer NOT NULL, n_removed integer NOT NULL,\n"
        "  message text NOT NULL DEFAULT '')",
        "CREATE TABLE IF NOT EXISTS actuals (\n"
        "  uid bigserial PRIMARY KEY, row_hash text NOT NULL, valid_from integer NOT NULL,\n"
        "  valid_to integer CHECK (valid_to IS NULL OR valid_to > valid_from),\n"
        "  target_id text NOT NULL, period integer NOT NULL, scope_code text NOT NULL,\n"
        "  value double precision NOT NULL, source text NOT NULL DEFAULT '',\n"
        "  note text NOT NULL DEFAULT '', entered_by text NOT NULL DEFAULT '',\n"
        "  entered_at text NOT NULL DEFAULT '')",
        "CREATE UNIQUE INDEX IF NOT EXISTS actuals_current_idx ON actuals "
        "(target_id, scope_code, period) WHERE valid_to IS NULL",
        placed.ddl(),
        "CREATE INDEX IF NOT EXISTS current_sites_geom_idx ON current_sites USING gist (geom)",
        # The digest of the stored polygons (geo.backends.sql.DbLocator recognises them by it)
        # is forgotten by any other change to the tables, e.g. an edit in QGIS.
        "CREATE OR REPLACE FUNCTION forget_polygon_digest() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM meta WHERE key = 'digest_' || TG_TABLE_NAME; RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER counties_changed AFTER INSERT OR UPDATE OR DELETE OR "
        "TRUNCATE ON counties FOR EACH STATEMENT EXECUTE FUNCTION forget_polygon_digest()",
        "CREATE OR REPLACE TRIGGER townships_changed AFTER INSERT OR UPDATE OR DELETE OR "
        "TRUNCATE ON townships FOR EACH STATEMENT EXECUTE FUNCTION forget_polygon_digest()",
        "INSERT INTO registry_heads (layer) VALUES "
        + ", ".join(f"('{k}')" for k in LAYERS)
        + " ON CONFLICT (layer) DO NOTHING",
    ]
    return stmts


def _geom_hex(geoms) -> list[str | None]:
    arr = np.asarray(geoms, dtype=object)
    out: list[str | None] = [None] * len(arr)
    ok = np.array([g is not None and not shapely.is_empty(g) for g in arr], dtype=bool)
    if ok.any():
        hexes = shapely.to_wkb(shapely.set_srid(arr[ok], SRID), hex=True, include_srid=True)
        for i, h in zip(np.flatnonzero(ok), hexes, strict=True):
            out[i] = h
    return out


def _from_wkb(values) -> np.ndarray:
    return np.array(
        [None if v is None else shapely.from_wkb(bytes(v)) for v in values], dtype=object
    )


class PostGISBackend:
    """Boundaries, versioned registries and plan tables in a PostGIS database."""

    name = "postgis"

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout: int = 10):
        self.url = url
        self.schema = schema_name(schema)
        self.connect_timeout = connect_timeout
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"PostGISBackend(schema={self.schema!r})"

    # -- connections ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator:
        """A connection in one transaction (committed on success, rolled back on error)."""
        import psycopg

        try:
            conn = psycopg.connect(
                self.url,
                connect_timeout=self.connect_timeout,
                options=f"-c search_path={self.schema},public",
                application_name="xining-map",
            )
        except psycopg.ProgrammingError as exc:  # the URL itself cannot be parsed
            raise connection_error(exc, self.url, malformed=True) from None
        except psycopg.Error as exc:
            raise connection_error(exc, self.url) from None
        try:
            if read_only:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                conn.read_only = True
            with conn.transaction():
                yield conn
        except psycopg.errors.UndefinedTable:  # a schema never set up, or a misspelt name
            raise StoreError(
                f"The database schema '{self.schema}' is not set up: run `python -m geo.db "
                "init` and `python -m geo.db load` once (or check XINING_DATABASE_SCHEMA).",
                zh=f"数据库中的结构 '{self.schema}' 尚未建立：请先运行一次 `python -m geo.db init` "
                "和 `python -m geo.db load`（或检查 XINING_DATABASE_SCHEMA）。",
            ) from None
        except psycopg.errors.InsufficientPrivilege:
            raise StoreError(
                f"The database user may not read or write the schema '{self.schema}': ask the "
                "administrator for the rights.",
                zh=f"数据库用户无权读写结构 '{self.schema}'，请联系管理员授权。",
            ) from None
        except psycopg.OperationalError as exc:  # the server went away mid-transaction
            raise connection_error(exc, self.url) from None
        finally:
            conn.close()

    def init(self) -> None:
        """Create the schema, tables and indexes (idempotent); needs PostGIS installed.

        A schema of an earlier version is migrated in the same transaction (and its
        ``current_sites`` filled right after)."""
        import psycopg

        with self.connect() as conn:
            try:
                migrated = self._migrate(conn)
                for stmt in _ddl(self.schema):
                    conn.execute(stmt)
            except psycopg.errors.FeatureNotSupported as exc:  # postgis not installed
                raise InputError(f"PostGIS is not available in this database: {exc}") from exc
            except psycopg.errors.InsufficientPrivilege as exc:
                raise InputError(
                    f"{exc}".strip() + " (ask the database administrator to run "
                    "CREATE EXTENSION postgis, or to grant CREATE on the database)"
                ) from exc

        if migrated:
            self.refresh_current()

    def _migrate(self, conn) -> bool:
        """Schema version 1 → 2 → 3 (see :data:`SCHEMA_VERSION`); True when something was
        migrated. 2 → 3 only adds the figures' tables, which the DDL that follows creates."""
        exists = conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.meta",)).fetchone()[0]
        if exists is None:
            return False
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) >= SCHEMA_VERSION:
            return False
        if int(row[0]) == 1:
            self._migrate_1_to_2(conn)
        conn.execute(
            "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )
        return True

    @staticmethod
    def _migrate_1_to_2(conn) -> None:
        """Typed MultiPolygon units; lon/lat of sites as published (see SCHEMA_VERSION)."""
        for table in ("counties", "townships"):
            conn.execute(
                f"ALTER TABLE {table} ALTER COLUMN geom TYPE geometry(MultiPolygon, 4326) "
                "USING public.ST_Multi(geom)"
            )
        conn.execute("ALTER TABLE sites ALTER COLUMN geom DROP EXPRESSION")
        stored = conn.execute(
            "SELECT uid, lon, lat, source_crs, location_precision FROM sites "
            "WHERE lon IS NOT NULL AND lat IS NOT NULL"
        ).fetchall()
        keys = ("uid", "lon", "lat", "source_crs", "location_precision")
        rows = published([dict(zip(keys, r, strict=True)) for r in stored])
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE sites SET lon = %s, lat = %s, location_precision = %s WHERE uid = %s",
                [(r["lon"], r["lat"], r["location_precision"], r["uid"]) for r in rows],
            )
        conn.execute("DROP VIEW IF EXISTS current_sites")

    def _stored_units(self) -> Units | None:
        """The stored units, or None while no boundaries are loaded (then ``current_sites``
        stays empty until they are: :meth:`replace_units` fills it)."""
        with self.connect(read_only=True) as conn:
            if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM counties)").fetchone()[0]:
                return None
        return self.load_units()

    def refresh_current(self, layers: Sequence[str] | None = None) -> None:
        """Rewrite ``current_sites`` for ``layers`` (all) from the stored registries and units."""
        units = self._stored_units()
        with self.connect() as conn:
            self._refresh_in(conn, units, list(layers or LAYERS))

    def _refresh_in(self, conn, units: Units | None, layers: list[str]) -> None:
        """Within ``conn``'s transaction, holding each layer's save lock (the head row, as
        ``save_registry`` takes it), so a save and a refresh never interleave."""
        conn.execute(
            "SELECT layer FROM registry_heads WHERE layer = ANY(%s) ORDER BY layer FOR UPDATE",
            (layers,),
        )
        for layer in layers:
            rows = as_read(self._rows(conn, layer, None, True))
            self._write_current(conn, units, layer, frame_from_records(rows))

    @staticmethod
    def _write_current(conn, units: Units | None, layer: str, frame: pd.DataFrame) -> None:
        conn.execute("DELETE FROM current_sites WHERE layer = %s", (layer,))
        if units is None:
            return
        cols = ", ".join(f'"{c}"' for c in placed.COLUMNS)
        with conn.cursor().copy(f"COPY current_sites ({cols}) FROM STDIN") as copy:
            for row in placed.current_rows(units, layer, frame):
                copy.write_row(row)

    def drop(self) -> None:
        """Remove the whole schema (tests and re-deployments)."""
        with self.connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    # -- loading the bundled (or any) files into the database ----------------------------------
    def load_from(self, files, *, parts: Sequence[str] = ("boundaries", "plan", "registries")):
        """Copy data from a :class:`~geo.backends.files.FileBackend` into the database.

        Boundaries and plan tables are replaced in one transaction; registries are saved as a new
        version of each layer (no new version when nothing changed). Returns a summary dict.
        """
        summary: dict[str, int] = {}
        if "boundaries" in parts:
            units = files.load_units()
            self.replace_units(units)
            summary["counties"] = len(units.counties)
            summary["townships"] = len(units.townships)
        if "plan" in parts:
            targets, designations, reported = files.load_plan()
            self.replace_plan(targets, designations, figures_csv_frame(reported))
            summary["targets"] = len(targets)
        if "registries" in parts:
            for layer in LAYERS:
                load = files.load_registry(layer)
                head = self.registry_version(layer)
                version = self.save_registry(
                    layer,
                    load.sites,
                    expected_version=head,
                    saved_by="geo.db load",
                    message=f"loaded from {files.sites_dir}",
                )
                summary[f"sites_{layer}"] = len(load.sites)
                summary[f"version_{layer}"] = version
        return summary

    def replace_units(self, units: Units) -> None:
        """Replace counties, townships, villages and seats with ``units`` in one transaction."""
        c = units.counties
        t = units.townships
        with self.connect() as conn:
            conn.execute(
                "TRUNCATE villages, township_seats, county_seats, townships, counties CASCADE"
            )
            cols = list(COUNTY_COLUMNS)
            with conn.cursor().copy(
                f"COPY counties ({', '.join(cols)}, ord, geom) FROM STDIN"
            ) as copy:
                geoms = _geom_hex(as_multipolygons(c.geometry.to_numpy()))
                for i, rec in enumerate(c.to_dict("records")):
                    row = [_typed(rec.get(k), COUNTY_COLUMNS[k]) for k in cols]
                    copy.write_row([*row, i, geoms[i]])
            cols = list(TOWNSHIP_COLUMNS)
            with conn.cursor().copy(
                f"COPY townships ({', '.join(cols)}, geometry_source, ord, geom) FROM STDIN"
            ) as copy:
                geoms = _geom_hex(as_multipolygons(t.geometry.to_numpy()))
                for i, rec in enumerate(t.to_dict("records")):
                    row = [_typed(rec.get(k), TOWNSHIP_COLUMNS[k]) for k in cols]
                    copy.write_row([*row, rec.get("geometry_source") or "none", i, geoms[i]])
            for table, frame in (
                ("township_seats", units.township_seats),
                ("county_seats", units.county_seats),
            ):
                cols = [k for k in SEAT_TABLES[table] if k in frame.columns]
                with conn.cursor().copy(
                    f"COPY {table} ({', '.join(cols)}, lon, lat, ord) FROM STDIN"
                ) as copy:
                    for i, rec in enumerate(frame.to_dict("records")):
                        copy.write_row(
                            [_text(rec.get(k)) for k in cols]
                            + [float(rec["lon"]), float(rec["lat"]), i]
                        )
            self._copy_text_table(conn, "villages", units.villages)
            for table, frame in (("counties", c), ("townships", t)):
                conn.execute(
                    "INSERT INTO meta VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (f"digest_{table}", polygons_digest(frame["code"], frame.geometry)),
                )
            # the sites' assignment depends on the units: redone in the same transaction
            self._refresh_in(conn, units, list(LAYERS))

    def replace_plan(
        self, targets: pd.DataFrame, designations: pd.DataFrame, reported: pd.DataFrame
    ) -> None:
        with self.connect() as conn:
            conn.execute("TRUNCATE targets, designations, reported_actuals")
            for table, frame in zip(
                ("targets", "designations", "reported_actuals"),
                (targets, designations, reported),
                strict=True,
            ):
                self._copy_text_table(conn, table, frame)

    @staticmethod
    def _copy_text_table(conn, table: str, frame: pd.DataFrame) -> None:
        cols = TEXT_TABLES[table]
        unknown = [c for c in frame.columns if c not in cols]
        if unknown:
            raise InputError(f"{table}: columns {unknown} have no place in the database table")
        present = [c for c in cols if c in frame.columns]
        with conn.cursor().copy(f"COPY {table} (ord, {', '.join(present)}) FROM STDIN") as copy:
            for i, rec in enumerate(frame.to_dict("records")):
                copy.write_row([i, *(_text(rec.get(c)) for c in present)])

    # -- reading -------------------------------------------------------------------------------
    def _frame(self, conn, sql: str, params=()) -> pd.DataFrame:
        cur = conn.execute(sql, params)
        names = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=names)

    def load_units(self) -> Units:
        cols = list(COUNTY_COLUMNS)
        with self.connect(read_only=True) as conn:
            counties = self._frame(
                conn,
                f"SELECT {', '.join(cols)}, ST_AsBinary(geom) AS wkb FROM counties "
                "ORDER BY ord, code",
            )
            townships = self._frame(
                conn,
                f"SELECT {', '.join(TOWNSHIP_COLUMNS)}, geometry_source, "
                "ST_AsBinary(geom) AS wkb FROM townships ORDER BY ord, code",
            )
            seats = {
                table: self._frame(
                    conn,
                    f"SELECT {', '.join(SEAT_TABLES[table])}, lon, lat FROM {table} "
                    "ORDER BY ord, code",
                )
                for table in SEAT_TABLES
            }
            villages = self._text_table(conn, "villages")
        if counties.empty:
            raise InputError(
                f"The database schema '{self.schema}' has no counties: run "
                "`python -m geo.db load` first."
            )
        geometry = _from_wkb(counties.pop("wkb"))
        for col in ("area_km2", "seat_lon", "seat_lat"):
            counties[col] = counties[col].astype(float)
        counties["pop_2020"] = pd.to_numeric(counties["pop_2020"])
        counties = gpd.GeoDataFrame(counties, geometry=geometry, crs=WGS84)
        geometry = _from_wkb(townships.pop("wkb"))
        townships["n_villages"] = townships["n_villages"].astype(int)
        townships["is_statistical"] = townships["is_statistical"].astype(bool)
        source = townships.pop("geometry_source")
        townships["geometry"] = geometry
        townships["geometry_source"] = source  # the column order of geo.boundaries.load_units
        seat_frames = {}
        for table, frame in seats.items():
            lead = ["code", "name", *(["county_code"] if "county_code" in frame else [])]
            rest = [c for c in frame.columns if c not in (*lead, "lon", "lat")]
            order = [*lead, "lon", "lat", *rest]  # the column order of the seat files
            frame = frame[order]
            frame[["lon", "lat"]] = frame[["lon", "lat"]].astype(float)
            seat_frames[table] = frame
        return Units.from_frames(
            counties,
            townships,
            villages=villages,
            township_seats=seat_frames["township_seats"],
            county_seats=seat_frames["county_seats"],
        )

    def _text_table(self, conn, table: str) -> pd.DataFrame:
        cols = TEXT_TABLES[table]
        frame = self._frame(conn, f"SELECT {', '.join(cols)} FROM {table} ORDER BY ord")
        if frame.empty:
            frame = pd.DataFrame(columns=cols)
        return frame.astype(str)

    def load_plan(self) -> Plan:
        with self.connect(read_only=True) as conn:
            frames = [self._text_table(conn, t) for t in ("targets", "designations")]
        if frames[0].empty:
            raise InputError(
                f"The database schema '{self.schema}' has no plan targets: run "
                "`python -m geo.db load` first."
            )
        frames[0]["value"] = pd.to_numeric(frames[0]["value"])
        return Plan(*frames, self.load_actuals().frame)

    # -- reported figures ----------------------------------------------------------------------
    def _seed_figures(self, conn) -> list[dict]:
        """The figures loaded from the bundled file (``reported_actuals``), before any save."""
        return figure_rows(self._text_table(conn, "reported_actuals"))

    def load_actuals(self, *, version: int | None = None) -> FiguresLoad:
        """The reported figures (current, or ``version``); the loaded file until first saved."""
        with self.connect(read_only=True) as conn:
            self._require_current_schema(conn)
            head = conn.execute("SELECT version, saved_at, saved_by FROM actuals_heads").fetchone()
            if head is None:
                if version not in (None, 1):
                    raise InputError(f"'{ACTUALS}' has no saved version {version}")
                return FiguresLoad(figures_frame(self._seed_figures(conn)), 1)
            current, saved_at, saved_by = head
            where, params = "valid_to IS NULL", ()
            if version is not None and version != current:
                logged = conn.execute(
                    "SELECT saved_at, saved_by FROM actuals_versions WHERE version = %s",
                    (version,),
                ).fetchone()
                if logged is None:
                    raise InputError(f"'{ACTUALS}' has no saved version {version}")
                (saved_at, saved_by), current = logged, version
            if version is not None:
                where = "valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"
                params = (version, version)
            cur = conn.execute(
                f"SELECT {', '.join(STORED_COLUMNS)} FROM actuals WHERE {where} "
                "ORDER BY target_id, scope_code, period",
                params,
            )
            rows = [dict(zip(STORED_COLUMNS, v, strict=True)) for v in cur.fetchall()]
        return FiguresLoad(figures_frame(rows), int(current), saved_at, saved_by or "")

    def actuals_history(self) -> pd.DataFrame:
        """Every saved version of the figures, oldest first (:data:`HISTORY_COLUMNS`)."""
        with self.connect(read_only=True) as conn:
            if conn.execute("SELECT 1 FROM actuals_heads").fetchone() is None:
                seeded = len(self._seed_figures(conn))
                shipped = [[1, None, "", seeded, seeded, 0, "shipped files"]]
                return pd.DataFrame(shipped, columns=HISTORY_COLUMNS)
            frame = self._frame(
                conn,
                f"SELECT {', '.join(HISTORY_COLUMNS)} FROM actuals_versions ORDER BY version",
            )
        return frame

    def save_actuals(
        self,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        """Replace the figures with ``frame`` in one transaction (the head row locked); return
        the new version. :class:`ConflictError` when the stored version is not
        ``expected_version``; unchanged figures keep the version."""
        rows = figure_rows(frame)
        with self.connect() as conn:
            self._require_current_schema(conn)
            conn.execute("LOCK TABLE actuals_heads IN SHARE ROW EXCLUSIVE MODE")
            head = conn.execute(
                "SELECT version, saved_at, saved_by FROM actuals_heads FOR UPDATE"
            ).fetchone()
            current, saved_at, last_by = head if head else (1, None, "")
            require_version(
                ACTUALS,
                expected=expected_version,
                current=current,
                saved_at=saved_at,
                saved_by=last_by,
            )
            if head is None:
                seeded = self._seed_figures(conn)
                if [figure_hash(r) for r in seeded] == [figure_hash(r) for r in rows]:
                    return int(current)
                conn.execute("INSERT INTO actuals_heads (name, version) VALUES ('actuals', 1)")
                _insert_figures(conn, seeded, version=1)
                conn.execute(
                    "INSERT INTO actuals_versions VALUES (1, NULL, '', %s, %s, 0, 'shipped files')",
                    (len(seeded), len(seeded)),
                )
            return _apply_figures(
                conn, rows, version=int(current) + 1, saved_by=saved_by, message=message
            )

    def registry_versions(self) -> dict[str, int]:
        with self.connect(read_only=True) as conn:
            rows = dict(conn.execute("SELECT layer, version FROM registry_heads").fetchall())
        return {layer: int(rows.get(layer, 0)) for layer in LAYERS}

    def registry_version(self, layer: str) -> int:
        with self.connect(read_only=True) as conn:
            row = conn.execute(
                "SELECT version FROM registry_heads WHERE layer = %s", (layer,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _require_current_schema(self, conn) -> None:
        """An older schema stores coordinates differently: reading it as this version would
        move sites, so it must be migrated first (``geo.db init`` does it)."""
        if self._schema_checked:
            return
        row = None
        if conn.execute("SELECT to_regclass('meta')").fetchone()[0] is not None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) < SCHEMA_VERSION:
            raise InputError(
                f"The database schema '{self.schema}' was made by an earlier version "
                f"(schema version {row[0]}): run `python -m geo.db init` once to migrate it."
            )
        self._schema_checked = True

    def _rows(self, conn, layer: str, version: int | None, include_samples: bool) -> list[dict]:
        self._require_current_schema(conn)
        cols = ", ".join(f'"{c}"' for c in SITE_COLUMNS)
        if version is None:
            where, params = "valid_to IS NULL", [layer]
        else:
            where = "valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"
            params = [layer, version, version]
        if not include_samples:
            where += " AND NOT is_sample"
        cur = conn.execute(
            f"SELECT {cols}, extra, public.ST_X(geom), public.ST_Y(geom) FROM sites "
            f"WHERE layer = %s AND {where} ORDER BY ord",
            params,
        )
        out = []
        for values in cur.fetchall():
            row = dict(zip([*SITE_COLUMNS, "extra", "wgs84_lon", "wgs84_lat"], values, strict=True))
            row["layer"] = layer
            row["file"] = row.pop("source_file")
            row["row"] = row.pop("source_row")
            out.append(row)
        return out

    def load_registry(
        self, layer: str, *, include_samples: bool = True, version: int | None = None
    ) -> RegistryLoad:
        if layer not in LAYERS:
            raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
        with self.connect(read_only=True) as conn:
            head = conn.execute(
                "SELECT version, saved_at, saved_by FROM registry_heads WHERE layer = %s",
                (layer,),
            ).fetchone()
            if head is None:
                raise InputError(f"Schema '{self.schema}' is not initialised: run geo.db init")
            current, saved_at, saved_by = head
            if version is not None and version != current:
                logged = conn.execute(
                    "SELECT saved_at, saved_by FROM registry_versions "
                    "WHERE layer = %s AND version = %s",
                    (layer, version),
                ).fetchone()
                if logged is None:
                    raise InputError(f"Layer '{layer}' has no saved version {version}")
                saved_at, saved_by = logged
                current = version
            rows = as_read(self._rows(conn, layer, version, include_samples))
        sites = frame_from_records(rows)
        return RegistryLoad(
            sites=sites,
            rows_read=len(sites),
            layer=layer,
            version=int(current),
            saved_at=saved_at,
            saved_by=saved_by or "",
        )

    def load_bundled(
        self, *, layers: list[str] | None = None, include_samples: bool = True
    ) -> SiteLoad:
        wanted = [k for k in LAYERS if k in (layers or list(LAYERS))]
        loads = [self.load_registry(k, include_samples=include_samples) for k in wanted]
        loads = [load for load in loads if not load.sites.empty] or loads
        return combine(loads)

    def history(self, layer: str) -> pd.DataFrame:
        with self.connect(read_only=True) as conn:
            frame = self._frame(
                conn,
                f"SELECT {', '.join(HISTORY_COLUMNS)} FROM registry_versions "
                "WHERE layer = %s ORDER BY version",
                (layer,),
            )
        return frame if not frame.empty else pd.DataFrame(columns=HISTORY_COLUMNS)

    # -- saving --------------------------------------------------------------------------------
    def save_registry(
        self,
        layer: str,
        frame: pd.DataFrame,
        *,
        expected_version: int,
        saved_by: str = "",
        message: str = "",
    ) -> int:
        from psycopg.types.json import Jsonb

        check_frame(layer, frame)
        rows = records(frame)
        hashes = [row_hash(i, r) for i, r in enumerate(rows)]
        stored = published(rows)  # what the table holds: lon/lat as published
        points = _geom_hex(
            [
                None if r["lon"] is None or r["lat"] is None else shapely.Point(r["lon"], r["lat"])
                for r in rows
            ]
        )
        units = self._stored_units()  # for current_sites, read before the save's lock is taken
        with self.connect() as conn:
            self._require_current_schema(conn)
            conn.execute(
                "INSERT INTO registry_heads (layer) VALUES (%s) ON CONFLICT DO NOTHING", (layer,)
            )
            current, saved_at, last_by = conn.execute(
                "SELECT version, saved_at, saved_by FROM registry_heads "
                "WHERE layer = %s FOR UPDATE",
                (layer,),
            ).fetchone()
            require_version(
                layer,
                expected=expected_version,
                current=current,
                saved_at=saved_at,
                saved_by=last_by,
            )
            version = current + 1
            conn.execute(
                "CREATE TEMP TABLE incoming (ord integer, row_hash text, "
                + ", ".join(f'"{c}" text' for c in SITE_TEXT)
                + ", lon double precision, lat double precision, year integer, "
                "is_sample boolean, source_file text, source_row integer, extra jsonb, "
                "geom geometry(Point, 4326)) ON COMMIT DROP"
            )
            cols = ", ".join(f'"{c}"' for c in SITE_COLUMNS)
            with conn.cursor().copy(
                f"COPY incoming (ord, row_hash, {cols}, extra, geom) FROM STDIN"
            ) as copy:
                for i, (row, digest) in enumerate(zip(stored, hashes, strict=True)):
                    copy.write_row(
                        [
                            i,
                            digest,
                            *(row[c] for c in SITE_TEXT),
                            row["lon"],
                            row["lat"],
                            row["year"],
                            row["is_sample"],
                            row["file"],
                            row["row"],
                            Jsonb(row["extra"]),
                            points[i],
                        ]
                    )
            removed = conn.execute(
                "UPDATE sites s SET valid_to = %s WHERE s.layer = %s AND s.valid_to IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.row_hash = s.row_hash)",
                (version, layer),
            ).rowcount
            added = conn.execute(
                f"INSERT INTO sites (layer, ord, row_hash, valid_from, {cols}, extra, geom) "
                f"SELECT %s, i.ord, i.row_hash, %s, "
                + ", ".join(f'i."{c}"' for c in SITE_COLUMNS)
                + ", i.extra, i.geom FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM sites s "
                "WHERE s.layer = %s AND s.valid_to IS NULL AND s.row_hash = i.row_hash)",
                (layer, version, layer),
            ).rowcount
            if added == 0 and removed == 0:
                return int(current)  # nothing changed: no new version (the block commits no-op)
            conn.execute(
                "UPDATE registry_heads SET version = %s, saved_at = now(), saved_by = %s "
                "WHERE layer = %s",
                (version, saved_by, layer),
            )
            conn.execute(
                "INSERT INTO registry_versions "
                "(layer, version, saved_at, saved_by, n_rows, n_added, n_removed, message) "
                "VALUES (%s, %s, now(), %s, %s, %s, %s, %s)",
                (layer, version, saved_by, len(rows), added, removed, message),
            )
            self._write_current(conn, units, layer, frame)
        return int(version)

    # -- export --------------------------------------------------------------------------------
    def export(self, directory: Path) -> list[Path]:
        """Write everything in the bundled layout (boundaries/, sites/, plan/) under directory."""
        directory = Path(directory)
        bdir, sdir, pdir = directory / "boundaries", directory / "sites", directory / "plan"
        for d in (bdir, sdir / "samples", pdir):
            d.mkdir(parents=True, exist_ok=True)
        units = self.load_units()
        counties = units.counties[[*COUNTY_COLUMNS, "geometry"]]
        counties.to_file(bdir / "counties.geojson", driver="GeoJSON", COORDINATE_PRECISION=15)
        tw = units.townships
        reg_cols = [c for c in TOWNSHIP_COLUMNS]
        register = pd.DataFrame(tw[reg_cols]).copy()
        register["is_statistical"] = register["is_statistical"].map(
            lambda v: "True" if v else "False"
        )
        _csv(register, bdir / "townships.csv")
        zones = tw[tw.geometry.notna()][
            ["code", "name", "county_code", "geometry_source", "type", "area_km2", "geometry"]
        ]
        zones.to_file(bdir / "township_zones.geojson", driver="GeoJSON", COORDINATE_PRECISION=15)
        _csv(units.villages, bdir / "villages.csv")
        for table, name in (("township_seats", "township_seats"), ("county_seats", "county_seats")):
            frame = getattr(units, name)
            lead = ["code", "name", *(["county_code"] if "county_code" in frame else [])]
            rest = [c for c in frame.columns if c not in (*lead, "lon", "lat")]
            order = [*lead, "lon", "lat", *rest]
            out = frame[order].copy()
            out["lon"] = out["lon"].map(repr)
            out["lat"] = out["lat"].map(repr)
            _csv(out, bdir / f"{table}.csv")
        targets, designations, reported = self.load_plan()
        for frame, table in (
            (targets, "targets"),
            (designations, "designations"),
            (reported, "reported_actuals"),
        ):
            out = frame.copy()
            if table == "targets":
                with self.connect(read_only=True) as conn:
                    out["value"] = self._text_table(conn, "targets")["value"]
            if table == "reported_actuals":  # the current figures, in the file's columns
                out = figures_csv_frame(out)
            _csv(out, pdir / PLAN_FILES[table])
        for layer, spec in LAYERS.items():
            rows = records(self.load_registry(layer).sites)
            real = [r for r in rows if not r["is_sample"]]
            samples = [r for r in rows if r["is_sample"]]
            (sdir / spec.file).write_bytes(registry_csv(real))
            if samples:
                (sdir / "samples" / spec.file).write_bytes(registry_csv(samples))
        return sorted(p for p in directory.rglob("*") if p.is_file())


def _insert_figures(conn, rows: list[dict], *, version: int) -> None:
    marks = ", ".join(["%s"] * (len(STORED_COLUMNS) + 2))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO actuals (row_hash, valid_from, {', '.join(STORED_COLUMNS)}) "
            f"VALUES ({marks})",
            [(figure_hash(r), version, *(r[c] for c in STORED_COLUMNS)) for r in rows],
        )


def _apply_figures(conn, rows: list[dict], *, version: int, saved_by: str, message: str) -> int:
    """Make ``rows`` the figures of ``version``; unchanged figures keep their entry."""
    current = {d for (d,) in conn.execute("SELECT row_hash FROM actuals WHERE valid_to IS NULL")}
    incoming = {figure_hash(r): r for r in rows}
    removed = sorted(current - set(incoming))
    added = [r for digest, r in incoming.items() if digest not in current]
    if not removed and not added:
        return version - 1
    at = datetime.now(UTC)
    conn.execute(
        "UPDATE actuals SET valid_to = %s WHERE valid_to IS NULL AND row_hash = ANY(%s)",
        (version, removed),
    )
    stamp = at.isoformat(timespec="seconds")
    _insert_figures(conn, [{**r, **entry(r, saved_by, stamp)} for r in added], version=version)
    conn.execute(
        "UPDATE actuals_heads SET version = %s, saved_at = %s, saved_by = %s",
        (version, at, saved_by),
    )
    conn.execute(
        "INSERT INTO actuals_versions VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (version, at, saved_by, len(rows), len(added), len(removed), message),
    )
    return version


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _typed(value: object, sql_type: str):
    """A frame value as the Python value COPY needs for a column of ``sql_type``."""
    missing = value is None or (isinstance(value, float | np.floating) and np.isnan(value))
    if sql_type.startswith("text"):
        return "" if missing else str(value)
    if missing:
        return None
    if sql_type.startswith("double"):
        return float(value)
    if sql_type.startswith(("bigint", "integer")):
        return int(value)
    if sql_type.startswith("boolean"):
        return bool(value)
    return value


__all__ = ["PostGISBackend"]
