"""Spatial SQL in PostGIS where it pays: point-in-polygon, counts, nearest-site distances.

The rules stay in one place (:func:`geo.assign.assign_sites`: stated names, seat placement,
reconciliation, flags); only its point-in-polygon step runs in the database, against the stored,
GIST-indexed ``counties`` and ``townships`` (``ST_Covers``: a point on a border is covered by both
units, and goes to the smallest code, flagged ``on_border``, exactly as in memory). Coverage counts
are a ``GROUP BY`` and the distance from each township seat to its nearest site is a KNN query
(``ORDER BY a <-> b LIMIT 1`` on a GIST index) in UTM 47N (``ST_Transform(…, 32647)``), never
degrees. The SQL results merge into :class:`geo.coverage.CoverageParts`, so the final table
is built by the same code as the embedded one.
"""

from __future__ import annotations

import hashlib
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.assign import assign_sites
from geo.boundaries import Units
from geo.coverage import COUNT_KEYS, CoverageParts, finish
from layers.schema import LAYERS

PROJECTED_SRID = 32647
_TEMP_NAMES = itertools.count()
_COPY_BATCH = 50_000


def polygons_digest(codes, polygons) -> str:
    """Identity of a set of coded polygons (to recognise the stored tables)."""
    digest = hashlib.sha1(usedforsecurity=False)
    geoms = np.asarray(polygons, dtype=object)
    for code, geom in zip(np.asarray(codes), geoms, strict=True):
        digest.update(str(code).encode())
        if geom is not None and not shapely.is_empty(geom):
            digest.update(shapely.to_wkb(geom, byte_order=1))
        digest.update(b"|")
    return digest.hexdigest()


def _copy_points(conn, table: str, x: np.ndarray, y: np.ndarray) -> None:
    """Points with finite coordinates into an indexed temporary table (``i`` = position).

    One COPY of text written in bulk: ``repr`` of a float is its shortest exact form, so the
    database holds the very same doubles.
    """
    conn.execute(
        f"CREATE TEMP TABLE {table} (i integer, x double precision, y double precision, "
        "geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(x, y), 4326)) "
        "STORED) ON COMMIT DROP"
    )
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    with conn.cursor().copy(f"COPY {table} (i, x, y) FROM STDIN") as copy:
        for start in range(0, len(ok), _COPY_BATCH):
            part = ok[start : start + _COPY_BATCH]
            copy.write(
                "".join(
                    f"{i}\t{a!r}\t{b!r}\n"
                    for i, a, b in zip(part.tolist(), x[part].tolist(), y[part].tolist())
                )
            )
    conn.execute(f"CREATE INDEX ON {table} USING gist (geom)")
    conn.execute(f"ANALYZE {table}")


def _points_digest(x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(np.ascontiguousarray(x, dtype=float).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=float).tobytes())
    return digest.hexdigest()


def locate_sql(
    conn, x: np.ndarray, y: np.ndarray, table: str, *, points: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Code of the unit of ``table`` covering each point ('' if none), and a border mask.

    Smallest code wins where several units cover a point (compared byte-wise, as numpy does).
    ``points``: a table :func:`_copy_points` already filled with these points (else one is made).

    The join runs polygon by polygon (``LATERAL … OFFSET 0`` keeps it that way), each polygon
    probing the points' GIST index: PostGIS then prepares each polygon once and reuses it,
    instead of re-reading a 2,000-vertex county for every point. The predicate is ``ST_Covers``
    on the stored polygons themselves (no subdivision, which moves border points by rounding).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    codes = np.full(n, "", dtype=object)
    border = np.zeros(n, dtype=bool)
    if n == 0:
        return codes, border
    own = points is None
    if own:
        points = f"_pts{next(_TEMP_NAMES)}"
        _copy_points(conn, points, x, y)
    conn.execute("SET LOCAL jit = off")  # compiling costs more than these queries take
    rows = conn.execute(
        f'SELECT p.i, min(u.code COLLATE "C"), count(*) FROM {table} u '
        f"CROSS JOIN LATERAL (SELECT q.i FROM {points} q "
        "WHERE ST_Covers(u.geom, q.geom) OFFSET 0) p GROUP BY p.i"
    ).fetchall()
    if own:
        conn.execute(f"DROP TABLE {points}")
    if rows:
        idx = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        codes[idx] = [r[1] for r in rows]
        border[idx] = np.fromiter((r[2] > 1 for r in rows), dtype=bool, count=len(rows))
    return codes, border


class DbLocator:
    """:func:`geo.assign.locate` with the point-in-polygon done by PostGIS.

    Polygons that are the stored ``counties`` / ``townships`` (recognised by the digest kept in
    ``meta`` when they were loaded; any later edit of those tables drops it) are joined in place,
    with their GIST index; any other polygons (e.g. a user's township file held in memory) are
    first copied to an indexed temporary table. Either way the polygons joined are exactly the
    ones passed in.
    """

    def __init__(self, conn) -> None:
        self.conn = conn
        rows = conn.execute(
            "SELECT value, substr(key, 8) FROM meta WHERE starts_with(key, 'digest_')"
        ).fetchall()
        self.tables = dict(rows)
        self.calls: list[str] = []
        self._points: tuple[str, str] | None = None  # (digest, table) of the last points

    def _points_table(self, x: np.ndarray, y: np.ndarray) -> str:
        """The points in a temporary table, copied once for both levels of one assignment."""
        key = _points_digest(x, y)
        if self._points is None or self._points[0] != key:
            name = f"_pts{next(_TEMP_NAMES)}"
            _copy_points(self.conn, name, np.asarray(x, float), np.asarray(y, float))
            self._points = (key, name)
        return self._points[1]

    def _table_for(self, polygons: gpd.GeoSeries, codes: np.ndarray) -> str:
        table = self.tables.get(polygons_digest(codes, polygons))
        if table:
            return table
        name = f"_polys{next(_TEMP_NAMES)}"
        self.conn.execute(
            f"CREATE TEMP TABLE {name} (code text, geom geometry(Geometry, 4326)) ON COMMIT DROP"
        )
        geoms = polygons.to_numpy()
        with self.conn.cursor().copy(f"COPY {name} (code, geom) FROM STDIN") as copy:
            for code, geom in zip(codes, geoms, strict=True):
                if geom is not None and not shapely.is_empty(geom):
                    wkb = shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, include_srid=True)
                    copy.write_row((str(code), wkb))
        self.conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
        self.conn.execute(f"ANALYZE {name}")
        return name

    def __call__(
        self, x: np.ndarray, y: np.ndarray, polygons: gpd.GeoSeries, codes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        table = self._table_for(polygons, np.asarray(codes))
        self.calls.append(table)
        found, border = locate_sql(self.conn, x, y, table, points=self._points_table(x, y))
        position = {str(c): i for i, c in enumerate(np.asarray(codes))}
        result = np.fromiter(
            (position.get(c, -1) if c else -1 for c in found), dtype=np.int64, count=len(found)
        )
        return result, border


def assign_sites_sql(conn, sites: pd.DataFrame, units: Units) -> gpd.GeoDataFrame:
    """:func:`geo.assign.assign_sites` with the point-in-polygon joins run in PostGIS."""
    return assign_sites(sites, units, locator=DbLocator(conn))


def _copy_assigned(conn, assigned: pd.DataFrame) -> None:
    conn.execute(
        "CREATE TEMP TABLE _assigned (layer text, county_code text, township_code text, "
        "is_sample boolean, approx boolean, village text, lon double precision, "
        "lat double precision) ON COMMIT DROP"
    )
    frame = pd.DataFrame(
        {
            "layer": assigned["layer"].astype(str),
            "county_code": assigned["county_code"].fillna("").astype(str),
            "township_code": assigned["township_code"].fillna("").astype(str),
            "is_sample": assigned["is_sample"].astype(bool),
            "approx": assigned["location_precision"].ne("exact"),
            "village": assigned["village"].fillna("").astype(str),
            "lon": assigned["lon"].astype(float),
            "lat": assigned["lat"].astype(float),
        }
    )
    with conn.cursor().copy("COPY _assigned FROM STDIN") as copy:
        for rec in frame.itertuples(index=False):
            lon = None if np.isnan(rec.lon) else float(rec.lon)
            lat = None if np.isnan(rec.lat) else float(rec.lat)
            copy.write_row(
                (
                    rec.layer,
                    rec.county_code,
                    rec.township_code,
                    bool(rec.is_sample),
                    bool(rec.approx),
                    rec.village,
                    lon,
                    lat,
                )
            )
    conn.execute(
        "ALTER TABLE _assigned ADD COLUMN geom_m geometry(Point, 32647) GENERATED ALWAYS AS "
        "(CASE WHEN lon IS NULL OR lat IS NULL THEN NULL ELSE "
        f"ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), {PROJECTED_SRID}) END) STORED"
    )
    conn.execute("CREATE INDEX ON _assigned USING gist (geom_m)")
    conn.execute("ANALYZE _assigned")


def _copy_seats(conn, seats: pd.DataFrame) -> None:
    conn.execute(
        "CREATE TEMP TABLE _seats (ord integer, code text, lon double precision, "
        "lat double precision) ON COMMIT DROP"
    )
    with conn.cursor().copy("COPY _seats FROM STDIN") as copy:
        for i, rec in enumerate(seats[["code", "lon", "lat"]].itertuples(index=False)):
            copy.write_row((i, str(rec.code), float(rec.lon), float(rec.lat)))
    conn.execute(
        "ALTER TABLE _seats ADD COLUMN geom_m geometry(Point, 32647) GENERATED ALWAYS AS "
        f"(ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), {PROJECTED_SRID})) STORED"
    )


def coverage_parts_sql(
    conn,
    assigned: pd.DataFrame,
    seats: pd.DataFrame,
    *,
    layers: list[str] | None = None,
) -> CoverageParts:
    """Counts (GROUP BY), served units, and KNN nearest-site distances, computed in PostGIS.

    ``seats``: the township seats to measure from (``units.township_seats``).
    """
    layers = layers or list(LAYERS)
    _copy_assigned(conn, assigned[assigned["layer"].isin(layers)])
    _copy_seats(conn, seats)
    keys = ", ".join(COUNT_KEYS)
    counts = pd.DataFrame(
        conn.execute(
            f"SELECT {keys}, count(*) FROM _assigned GROUP BY {keys} ORDER BY {keys}"
        ).fetchall(),
        columns=[*COUNT_KEYS, "n"],
    )
    served_t = pd.DataFrame(
        conn.execute(
            "SELECT DISTINCT layer, township_code FROM _assigned WHERE township_code <> ''"
        ).fetchall(),
        columns=["layer", "township_code"],
    )
    served_v = pd.DataFrame(
        conn.execute(
            "SELECT DISTINCT layer, village, township_code FROM _assigned WHERE village <> ''"
        ).fetchall(),
        columns=["layer", "village", "township_code"],
    )
    nearest = pd.DataFrame(
        conn.execute(
            "SELECT l.layer, s.code, d.metres FROM _seats s "
            "CROSS JOIN (SELECT DISTINCT layer FROM _assigned WHERE county_code <> '' "
            "AND geom_m IS NOT NULL) l "
            "CROSS JOIN LATERAL (SELECT a.geom_m <-> s.geom_m AS metres FROM _assigned a "
            "WHERE a.layer = l.layer AND a.county_code <> '' AND a.geom_m IS NOT NULL "
            "ORDER BY a.geom_m <-> s.geom_m LIMIT 1) d "
            "ORDER BY l.layer, s.ord"
        ).fetchall(),
        columns=["layer", "code", "metres"],
    )
    conn.execute("DROP TABLE _assigned, _seats")
    return CoverageParts(
        counts=counts,
        served_townships=served_t,
        served_villages=served_v,
        nearest_m=nearest,
    )


def summarize_sql(
    conn,
    units: Units,
    assigned: pd.DataFrame,
    *,
    level: str = "county",
    layers: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """:func:`geo.coverage.summarize` with counts and nearest distances computed in PostGIS."""
    parts = coverage_parts_sql(conn, assigned, units.township_seats, layers=layers)
    return finish(units, parts, level=level, layers=layers)
