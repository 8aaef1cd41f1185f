"""Assign every site to exactly one county and at most one township.

Steps (each a small function): resolve what the row *states* (county, township, village by code,
name, short name or historic alias) → place rows without coordinates at their township seat or
county seat → locate every point in the county and township polygons → reconcile stated and
located units, flagging every disagreement.

Rules, deterministic and documented:

* A point on a shared border (covered by several polygons) goes to the unit with the smallest
  code, and is flagged ``on_border``.
* County: the polygon wins (county boundaries are real). A stated county that disagrees is
  flagged ``county_mismatch``; the stated value stays in the ``county`` column.
* Township: with official polygons the polygon wins; with approximate zones the stated township
  wins (a zone is only a guess). Either way a disagreement is flagged ``township_mismatch``.
* A point outside Xining gets no county, the flag ``outside_city`` and its distance to the city
  in km; it is reported, never silently dropped.
* A row only known to be in Xining (``location_precision = city``) gets no county and the flag
  ``city_only``: it counts toward city-wide targets, not toward any county.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from base.crs import PROJECTED, WGS84
from geo.boundaries import Units

# Point-in-polygon at scale (measured in bench/). Every point is tested exactly with
# ``shapely.intersects_xy`` on prepared polygons (covers: boundary points count), against the
# polygons whose bounding box holds it. With many points a grid first settles those that lie
# well inside one polygon (or outside all) without any test; see :func:`_interior_grid`.
_GRID_MIN_POINTS = 20_000  # below this the grid costs more than it saves
_GRID_MAX_CELLS = 1 << 22  # 4M cells: ~100 MB of temporary arrays at most
_GRID_MAX_BAND = 0.35  # skip the grid when borders would cover more of it than this
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon


def locate(
    x: np.ndarray, y: np.ndarray, polygons: gpd.GeoSeries, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``polygons`` of the unit covering each point (-1 if none), and a border mask.

    Points covered by more than one polygon (shared borders, or overlaps in user files) go to
    the polygon with the smallest code; the mask marks them. Vectorised: 10⁶ points take well
    under a second (``bench/``), and no point geometry is ever built.
    """
    n = len(x)
    result = np.full(n, -1, dtype=np.int64)
    border = np.zeros(n, dtype=bool)
    every = np.asarray(polygons.to_numpy(), dtype=object)
    valid = ~(shapely.is_missing(every) | shapely.is_empty(every))
    if n == 0 or not valid.any():
        return result, border
    poly_idx = np.flatnonzero(valid)
    geoms = every[poly_idx]
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    everywhere = bool(finite.all())
    if not everywhere:
        x, y = x[finite], y[finite]
    local, pt, poly = _cover(x, y, geoms)
    hits = np.bincount(pt, minlength=len(x))
    multi = hits[pt] > 1
    local[pt[~multi]] = poly[~multi]
    if multi.any():
        code_order = np.argsort(np.asarray(codes)[poly_idx], kind="stable")
        rank = np.empty(len(geoms), dtype=np.int64)
        rank[code_order] = np.arange(len(geoms))
        mp, mq = pt[multi], poly[multi]
        order = np.lexsort((rank[mq], mp))  # by point, then by code
        mp, mq = mp[order], mq[order]
        first = np.ones(len(mp), dtype=bool)
        first[1:] = mp[1:] != mp[:-1]
        local[mp[first]] = mq[first]
    if len(poly_idx) < len(polygons):
        local = np.where(local >= 0, poly_idx[np.maximum(local, 0)], -1)
    if everywhere:
        return local, hits > 1
    result[finite] = local
    border[finite] = hits > 1
    return result, border


def _ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``concatenate([arange(s, s + c) for s, c in ...])`` and the run each item comes from."""
    run = np.repeat(np.arange(len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    return starts[run] + (np.arange(len(run)) - offsets[run]), run


# A prepared polygon builds its GEOS indexes lazily, on first use, in place; two threads using
# the same prepared polygons at once corrupt memory and abort the process (reproduced here with
# 4 threads on the township zones). Streamlit sessions share the cached units and Dask's
# threaded scheduler shares them between partitions, so each thread prepares and queries its own
# copies, made once per thread and polygon set. An entry holds the originals too, so their ids
# (the key) cannot be reused while it lives.
_THREAD = threading.local()
_PRIVATE_SETS = 4  # polygon sets kept per thread (counties, townships, a user's file, ...)


def _private(geoms: np.ndarray) -> np.ndarray:
    """This thread's prepared copies of ``geoms`` (same order, same coordinates)."""
    cache: dict = getattr(_THREAD, "copies", None) or {}
    _THREAD.copies = cache
    key = tuple(map(id, geoms))
    entry = cache.pop(key, None)
    if entry is None:
        copies = shapely.from_wkb(shapely.to_wkb(geoms, flavor="iso", include_srid=False))
        shapely.prepare(copies)
        entry = (geoms.copy(), copies)
        while len(cache) >= _PRIVATE_SETS:
            cache.pop(next(iter(cache)))
    cache[key] = entry  # most recent last
    return entry[1]


def _cover(
    x: np.ndarray, y: np.ndarray, geoms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which polygons cover each point (boundary included).

    Returns ``settled`` (per point: the one polygon whose interior holds it, -1 for none or
    not settled) and the (point, polygon) pairs of the exact test for the points not settled.
    """
    geoms = _private(geoms)
    bounds = shapely.bounds(geoms)
    grid = _interior_grid(geoms, bounds, len(x)) if len(x) >= _GRID_MIN_POINTS else None
    if grid is None:
        pt, poly = _exact_pairs(x, y, geoms, bounds)
        return np.full(len(x), -1, dtype=np.int64), pt, poly
    owner, x0, y0, side = grid  # owner has a ring of -1 cells around the grid
    ny, nx = owner.shape
    col = (x - x0) / side
    np.clip(col, 0, nx - 1, out=col)  # off the grid: onto the ring of -1
    row = (y - y0) / side
    np.clip(row, 0, ny - 1, out=row)
    cell = owner.ravel()[row.astype(np.int64) * nx + col.astype(np.int64)].astype(np.int64)
    rest = np.flatnonzero(cell == -2)
    cell[rest] = -1
    pt, poly = _exact_pairs(x[rest], y[rest], geoms, bounds)
    return cell, rest[pt], poly


def _exact_pairs(
    x: np.ndarray, y: np.ndarray, geoms: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs by the exact test, on candidates from a bucket grid over the bounding boxes.

    Buckets about a third of a typical box wide (finer with many points, at most ~4 per
    point): a point meets few boxes beyond those that hold it.
    """
    empty = np.empty(0, dtype=np.int64)
    if len(x) == 0:
        return empty, empty
    bx0, by0, bx1, by1 = (np.ascontiguousarray(bounds[:, i]) for i in range(4))
    x0, y0, x1, y1 = bx0.min(), by0.min(), bx1.max(), by1.max()
    fine = np.sqrt(len(x)) / 8
    gx = max(3 * (x1 - x0) / max(np.median(bx1 - bx0), 1e-12), fine, 1.0)
    gy = max(3 * (y1 - y0) / max(np.median(by1 - by0), 1e-12), fine, 1.0)
    shrink = max(np.sqrt(gx * gy / max(4 * len(x), 64)), 1.0)
    gx, gy = int(max(min(gx / shrink, 4096), 1)), int(max(min(gy / shrink, 4096), 1))
    w = (x1 - x0) / gx or 1.0
    h = (y1 - y0) / gy or 1.0
    idx = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    # The same monotone formula for points and boxes: a point in a box is in one of its buckets.
    bucket = np.minimum(((y[idx] - y0) / h).astype(np.int64), gy - 1) * gx + np.minimum(
        ((x[idx] - x0) / w).astype(np.int64), gx - 1
    )
    idx = idx[np.argsort(bucket, kind="stable")]
    start = np.zeros(gx * gy + 1, dtype=np.int64)
    np.cumsum(np.bincount(bucket, minlength=gx * gy), out=start[1:])
    c0 = np.minimum(((bx0 - x0) / w).astype(np.int64), gx - 1)
    c1 = np.minimum(((bx1 - x0) / w).astype(np.int64), gx - 1)
    r0 = np.minimum(((by0 - y0) / h).astype(np.int64), gy - 1)
    r1 = np.minimum(((by1 - y0) / h).astype(np.int64), gy - 1)
    rows, poly = _ranges(r0, r1 - r0 + 1)  # one run of buckets per box row
    lo = start[rows * gx + c0[poly]]
    hi = start[rows * gx + c1[poly] + 1]
    k, run = _ranges(lo, hi - lo)
    pt, pp = idx[k], poly[run]
    xp, yp = x[pt], y[pt]
    keep = (xp >= bx0[pp]) & (xp <= bx1[pp]) & (yp >= by0[pp]) & (yp <= by1[pp])
    pt, pp = pt[keep], pp[keep]
    hit = shapely.intersects_xy(geoms[pp], x[pt], y[pt])
    return pt[hit], pp[hit]


def _interior_grid(
    geoms: np.ndarray, bounds: np.ndarray, n_points: int
) -> tuple[np.ndarray, float, float, float] | None:
    """A grid whose cells say which polygon holds them whole, or None when not worth it.

    Per cell: ``i >= 0`` when polygon ``i`` alone covers the cell and no border comes within two
    cells of it, ``-1`` when no polygon covers it (same margin), ``-2`` otherwise (the exact test
    decides). Interiors come from an even-odd scanline through the cell centres; borders are
    sampled every half cell and widened by two cells, which covers every cell a border touches
    plus one cell against rounding. A cell centre that far from every border is classified
    exactly, and so is any point in that cell. Invalid or non-polygonal geometries are not
    rasterised: their bounding box is left to the exact test.
    """
    x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    ncell = int(np.clip(2 * n_points, 1 << 16, _GRID_MAX_CELLS))
    area = (x1 - x0) * (y1 - y0)
    if not area > 0:
        return None
    side = float(np.sqrt(area / ncell))
    perimeter = float(shapely.length(geoms).sum())
    if 5 * perimeter / side > _GRID_MAX_BAND * ncell:
        return None  # small polygons: nearly every cell would touch a border
    x0, y0 = x0 - 3 * side, y0 - 3 * side
    nx = int(np.ceil((x1 - x0) / side)) + 4
    ny = int(np.ceil((y1 - y0) / side)) + 4

    plain = np.isin(shapely.get_type_id(geoms), _POLYGONAL) & shapely.is_valid(geoms)
    which = np.flatnonzero(plain)
    parts, part_of = shapely.get_parts(geoms[which], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]  # edges inside one ring
    ax, ay = coords[:-1, 0][same], coords[:-1, 1][same]
    bx, by = coords[1:, 0][same], coords[1:, 1][same]
    edge_poly = which[part_of[ring_part[ring_of[:-1][same]]]]

    # Even-odd scanline: each edge crosses the row centres in [min y, max y) (half-open, from
    # one formula per vertex, so the two edges meeting at a vertex agree).
    lo = np.ceil((np.minimum(ay, by) - y0) / side - 0.5).astype(np.int64)
    hi = np.ceil((np.maximum(ay, by) - y0) / side - 0.5).astype(np.int64)
    row, e = _ranges(lo, hi - lo)
    yc = y0 + (row + 0.5) * side
    xc = ax[e] + (yc - ay[e]) / (by[e] - ay[e]) * (bx[e] - ax[e])
    poly = edge_poly[e]
    order = np.lexsort((xc, row, poly))
    xc, row, poly = xc[order], row[order], poly[order]
    if len(xc) % 2 or (poly[0::2] != poly[1::2]).any() or (row[0::2] != row[1::2]).any():
        return None  # unpaired crossings: cannot happen for valid polygons
    row, poly = row[0::2], poly[0::2]
    first = np.clip(np.ceil((xc[0::2] - x0) / side - 0.5), 0, nx).astype(np.int64)
    stop = np.clip(np.ceil((xc[1::2] - x0) / side - 0.5), 0, nx).astype(np.int64)
    width = nx + 1
    flat = np.concatenate([row * width + first, row * width + stop])
    count = np.zeros(ny * width, dtype=np.int32)
    np.add.at(count, flat, np.repeat(np.array([1, -1], dtype=np.int32), len(row)))
    ids = np.zeros(ny * width, dtype=np.int32)
    np.add.at(ids, flat, np.concatenate([poly + 1, -(poly + 1)]).astype(np.int32))
    count = np.cumsum(count.reshape(ny, width), axis=1, dtype=np.int32)[:, :nx]
    owner = np.cumsum(ids.reshape(ny, width), axis=1, dtype=np.int32)[:, :nx] - 1
    owner[count == 0] = -1
    owner[count > 1] = -2

    # Border band: samples every half cell along every edge of every geometry, widened by two.
    length = np.hypot(bx - ax, by - ay)
    steps = np.ceil(length / (side / 2)).astype(np.int64) + 1
    k, e = _ranges(np.zeros(len(steps), dtype=np.int64), steps)
    t = k / np.maximum(steps[e] - 1, 1)
    sx = ax[e] + t * (bx[e] - ax[e])
    sy = ay[e] + t * (by[e] - ay[e])
    band = np.zeros((ny, nx), dtype=bool)
    band[
        np.clip((sy - y0) // side, 0, ny - 1).astype(np.int64),
        np.clip((sx - x0) // side, 0, nx - 1).astype(np.int64),
    ] = True
    for _ in range(2):
        grown = band.copy()
        grown[1:] |= band[:-1]
        grown[:-1] |= band[1:]
        band = grown.copy()
        band[:, 1:] |= grown[:, :-1]
        band[:, :-1] |= grown[:, 1:]
    owner[band] = -2
    for b in bounds[~plain]:
        c0, c1 = int((b[0] - x0) // side) - 2, int((b[2] - x0) // side) + 3
        r0, r1 = int((b[1] - y0) // side) - 2, int((b[3] - y0) // side) + 3
        owner[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)] = -2
    owner = np.pad(owner, 1, constant_values=-1)  # points off the grid land on -1
    return owner, x0 - side, y0 - side, side


def _resolve_stated(sites: pd.DataFrame, units: Units) -> pd.DataFrame:
    """Codes for the county, township and village each row states (empty when unknown).

    Resolved once per distinct (county, township, village): registries repeat them a lot.
    """
    stated = zip(*(sites[c].to_numpy(dtype=object) for c in ("county", "township", "village")))
    which, distinct = pd.factorize(pd.Series(list(stated), dtype=object))
    resolved = [_resolve_one(*key, units) for key in distinct]
    out = sites.copy()
    out["stated_county_code"] = [resolved[k][0] for k in which]
    out["stated_township_code"] = [resolved[k][1] for k in which]
    out["flag_list"] = [list(resolved[k][2]) for k in which]
    return out


def _resolve_one(
    county: object, township: object, village: object, units: Units
) -> tuple[str, str, tuple[str, ...]]:
    flags = []
    cc = units.resolve_county(county) if county else None
    if county and cc is None:
        flags.append("unknown_county")
    tc = ""
    if township:
        found = units.resolve_township(township, county_code=cc)
        if len(found) == 1:
            tc = found[0]
        elif len(found) > 1:
            flags.append("ambiguous_township")
        else:
            flags.append("unknown_township")
    if not tc and village:
        villages = units.villages
        vil = villages[villages["name"] == village]
        if cc:
            vil = vil[vil["county_code"] == cc]
        if vil["township_code"].nunique() == 1:
            tc = vil["township_code"].iloc[0]
    if tc and not cc:
        cc = tc[:6]
    return cc or "", tc, tuple(flags)


def _place(sites: pd.DataFrame, units: Units) -> pd.DataFrame:
    """Put rows without coordinates at their township seat, else their county seat."""
    out = sites.copy()
    seats = units.township_seats.set_index("code")[["lon", "lat"]]
    cseats = units.county_seats.set_index("code")[["lon", "lat"]]
    missing = out["lon"].isna().to_numpy()
    if not missing.any():
        return out
    tc = out["stated_township_code"].to_numpy(dtype=object)
    cc = out["stated_county_code"].to_numpy(dtype=object)
    at_town = missing & (tc != "") & pd.Series(tc).isin(set(seats.index)).to_numpy()
    at_county = missing & ~at_town & (cc != "")
    unknown = set(cc[at_county]) - set(cseats.index)
    if unknown:
        raise KeyError(sorted(unknown)[0])  # as cseats.loc[code] did
    for mask, table, codes, precision in (
        (at_town, seats, tc, "township_seat"),
        (at_county, cseats, cc, "county_seat"),
    ):
        if mask.any():
            where = out.index[mask]
            xy = table.loc[codes[mask], ["lon", "lat"]].to_numpy()
            out.loc[where, "lon"] = xy[:, 0]
            out.loc[where, "lat"] = xy[:, 1]
            out.loc[where, "location_precision"] = precision
    lost = missing & ~at_town & ~at_county
    lost &= (out["location_precision"] != "city").to_numpy(dtype=bool)
    for idx in out.index[lost]:
        out.at[idx, "flag_list"] = [*out.at[idx, "flag_list"], "unplaced"]
    return out


def _distance_to_city_km(x: np.ndarray, y: np.ndarray, units: Units) -> np.ndarray:
    """Distance (km, UTM 47N) from points outside the city to it: to its nearest border
    segment, found with an index (the same number as the distance to the polygon)."""
    city = gpd.GeoSeries([units.counties.union_all()], crs=WGS84).to_crs(PROJECTED).iloc[0]
    coords, ring = shapely.get_coordinates(
        shapely.get_rings(shapely.get_parts(city)), return_index=True
    )
    same = ring[1:] == ring[:-1]
    edges = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    pts = gpd.GeoSeries(shapely.points(x, y), crs=WGS84).to_crs(PROJECTED).to_numpy()
    _, dist = shapely.STRtree(edges).query_nearest(pts, return_distance=True, all_matches=False)
    # projected straight edges can take in a point that lies just outside in degrees
    xy = shapely.get_coordinates(pts)
    dist[shapely.intersects_xy(city, xy[:, 0], xy[:, 1])] = 0.0
    return np.round(dist / 1000, 2)


_LATER_FLAGS = (
    "on_border",
    "outside_city",
    "city_only",
    "county_mismatch",
    "township_not_in_county",
    "township_mismatch",
    "township_unknown",
)


def _startswith(values: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
    return np.char.startswith(np.asarray(values, dtype=str), np.asarray(prefixes, dtype=str))


Locator = Callable[
    [np.ndarray, np.ndarray, gpd.GeoSeries, np.ndarray], tuple[np.ndarray, np.ndarray]
]


def assign_sites(
    sites: pd.DataFrame, units: Units, *, locator: Locator | None = None
) -> gpd.GeoDataFrame:
    """Sites (canonical columns, WGS84 lon/lat or NaN) with their county and township.

    Returns a GeoDataFrame in WGS84 with the input columns plus the assignment columns
    (:data:`layers.schema.ASSIGN_COLUMNS`), ``location_precision`` filled for placed rows, and
    point geometry (None where unplaced).
    Vectorised: 10⁵ sites take about a second (``bench/``).

    ``locator`` replaces the point-in-polygon step (same contract as :func:`locate`): the
    PostGIS backend runs it in the database; every other rule stays here.
    """
    locate_in = locator or locate
    work = _place(_resolve_stated(sites.reset_index(drop=True), units), units)
    x = work["lon"].to_numpy(dtype=float)
    y = work["lat"].to_numpy(dtype=float)

    counties = units.counties.reset_index(drop=True)
    c_idx, c_border = locate_in(x, y, counties.geometry, counties["code"].to_numpy())
    tw = units.townships.reset_index(drop=True)
    t_idx, t_border = locate_in(x, y, tw.geometry, tw["code"].to_numpy())

    county_code = np.where(c_idx >= 0, counties["code"].to_numpy()[np.maximum(c_idx, 0)], "")
    located_tc = np.where(t_idx >= 0, tw["code"].to_numpy()[np.maximum(t_idx, 0)], "")
    t_source = tw.set_index("code")["geometry_source"]

    has_point = np.isfinite(x) & np.isfinite(y)
    outside = has_point & (c_idx < 0)
    outside_km = np.full(len(work), np.nan)
    if outside.any():
        outside_km[outside] = _distance_to_city_km(x[outside], y[outside], units)

    precision = work["location_precision"].to_numpy(dtype=object)
    stated_cc = work["stated_county_code"].to_numpy(dtype=str)
    stated_tc = work["stated_township_code"].to_numpy(dtype=str)
    has_cc = county_code != ""
    # a located township outside the located county does not count, nor does a point put at
    # the county seat (it says nothing about its township)
    loc_tc = np.where(has_cc & _startswith(located_tc, county_code), located_tc, "")
    loc_tc[precision == "county_seat"] = ""
    has_loc = loc_tc != ""
    stated_ok = has_cc & (stated_tc != "") & _startswith(stated_tc, county_code)
    conflict = has_cc & has_loc & stated_ok & (loc_tc != stated_tc)
    official = pd.Series(loc_tc).map(t_source).eq("official").to_numpy()
    by_polygon = (conflict & official) | (has_cc & ~conflict & has_loc)
    by_stated = (conflict & ~official) | (has_cc & ~conflict & ~has_loc & stated_ok)
    township_code = np.where(by_polygon, loc_tc, np.where(by_stated, stated_tc, ""))
    township_method = np.where(by_polygon, "polygon", np.where(by_stated, "stated", "none"))
    later = (
        c_border | t_border,
        outside,
        (precision == "city") & ~has_point,
        has_cc & (stated_cc != "") & (stated_cc != county_code),
        has_cc & (stated_tc != "") & ~stated_ok,
        conflict,
        has_cc & ~conflict & ~has_loc & ~stated_ok,
    )
    which = np.zeros(len(work), dtype=np.int64)
    for bit, mask in enumerate(later):
        which |= mask.astype(np.int64) << bit
    table = np.array(
        [
            ";".join(f for bit, f in enumerate(_LATER_FLAGS) if combo >> bit & 1)
            for combo in range(1 << len(_LATER_FLAGS))
        ],
        dtype=object,
    )
    flags_out = table[which]
    for i, first in enumerate(work["flag_list"]):
        if first:  # flags from reading the stated places come first
            flags_out[i] = ";".join(
                dict.fromkeys([*first, *filter(None, table[which[i]].split(";"))])
            )

    names_c = counties.drop_duplicates("code").set_index("code")["name"]
    names_t = tw.drop_duplicates("code").set_index("code")["name"]
    out = work.drop(columns=["flag_list"])
    out["county_code"] = county_code
    out["county_name"] = pd.Series(county_code).map(names_c).fillna("").tolist()
    out["township_code"] = township_code.tolist()
    out["township_name"] = pd.Series(township_code).map(names_t).fillna("").tolist()
    out["township_geometry_source"] = np.where(
        township_method == "polygon",
        pd.Series(township_code).map(t_source).fillna("").to_numpy(dtype=object),
        np.where(township_code == "", "", "none"),
    ).tolist()
    out["assign_method"] = np.select(
        [
            out["location_precision"].eq("exact").to_numpy(),
            out["location_precision"].isin(["township_seat", "county_seat", "village"]).to_numpy(),
            out["location_precision"].eq("city").to_numpy(),
        ],
        ["point", "seat:" + out["location_precision"].astype(str), "city_only"],
        default="unplaced",
    )
    out["township_method"] = township_method.tolist()
    out["flags"] = flags_out.tolist()
    out["outside_km"] = outside_km
    geometry = np.full(len(work), None, dtype=object)
    geometry[has_point] = shapely.points(x[has_point], y[has_point])
    return gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84)


def problems(assigned: pd.DataFrame) -> pd.DataFrame:
    """Rows a planner must look at: outside the city, unplaced, or stated places that disagree."""
    serious = ("outside_city", "unplaced", "county_mismatch", "unknown_county", "unknown_township")
    mask = assigned["flags"].apply(lambda f: any(s in f.split(";") for s in serious))
    return assigned.loc[mask]
