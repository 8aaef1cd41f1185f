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

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import Units
from geo.crs import PROJECTED, WGS84

ASSIGN_COLUMNS = (
    "county_code",
    "county_name",
    "township_code",
    "township_name",
    "township_geometry_source",
    "assign_method",
    "township_method",
    "flags",
    "outside_km",
)


def locate(
    x: np.ndarray, y: np.ndarray, polygons: gpd.GeoSeries, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``polygons`` of the unit covering each point (-1 if none), and a border mask.

    Points covered by more than one polygon (shared borders, or overlaps in user files) go to
    the polygon with the smallest code.
    """
    n = len(x)
    result = np.full(n, -1, dtype=np.int64)
    border = np.zeros(n, dtype=bool)
    valid = polygons.notna().to_numpy() & ~polygons.is_empty.to_numpy()
    if n == 0 or not valid.any():
        return result, border
    poly_idx = np.flatnonzero(valid)
    geoms = polygons.to_numpy()[poly_idx]
    tree = shapely.STRtree(geoms)
    finite = np.isfinite(x) & np.isfinite(y)
    pts = shapely.points(x[finite], y[finite])
    hits = tree.query(pts, predicate="intersects")
    if hits.size == 0:
        return result, border
    pt = np.flatnonzero(finite)[hits[0]]
    poly = poly_idx[hits[1]]
    order = np.lexsort((np.asarray(codes)[poly], pt))  # by point, then by code
    pt, poly = pt[order], poly[order]
    first = np.ones(len(pt), dtype=bool)
    first[1:] = pt[1:] != pt[:-1]
    result[pt[first]] = poly[first]
    counts = np.bincount(pt, minlength=n)
    border = counts > 1
    return result, border


def _resolve_stated(sites: pd.DataFrame, units: Units) -> pd.DataFrame:
    """Codes for the county, township and village each row states (empty when unknown)."""
    county_codes, township_codes, notes = [], [], []
    villages = units.villages
    for rec in sites.itertuples(index=False):
        flags = []
        cc = units.resolve_county(rec.county) if rec.county else None
        if rec.county and cc is None:
            flags.append("unknown_county")
        tc = ""
        if rec.township:
            found = units.resolve_township(rec.township, county_code=cc)
            if len(found) == 1:
                tc = found[0]
            elif len(found) > 1:
                flags.append("ambiguous_township")
            else:
                flags.append("unknown_township")
        if not tc and rec.village:
            vil = villages[villages["name"] == rec.village]
            if cc:
                vil = vil[vil["county_code"] == cc]
            if vil["township_code"].nunique() == 1:
                tc = vil["township_code"].iloc[0]
        if tc and not cc:
            cc = tc[:6]
        county_codes.append(cc or "")
        township_codes.append(tc)
        notes.append(flags)
    out = sites.copy()
    out["stated_county_code"] = county_codes
    out["stated_township_code"] = township_codes
    out["flag_list"] = notes
    return out


def _place(sites: pd.DataFrame, units: Units) -> pd.DataFrame:
    """Put rows without coordinates at their township seat, else their county seat."""
    out = sites.copy()
    seats = units.township_seats.set_index("code")[["lon", "lat"]]
    cseats = units.county_seats.set_index("code")[["lon", "lat"]]
    missing = out["lon"].isna()
    for idx in out.index[missing]:
        tc, cc = out.at[idx, "stated_township_code"], out.at[idx, "stated_county_code"]
        if tc and tc in seats.index:
            out.loc[idx, ["lon", "lat"]] = seats.loc[tc].to_numpy()
            out.at[idx, "location_precision"] = "township_seat"
        elif cc:
            out.loc[idx, ["lon", "lat"]] = cseats.loc[cc].to_numpy()
            out.at[idx, "location_precision"] = "county_seat"
        elif out.at[idx, "location_precision"] != "city":
            out.at[idx, "flag_list"] = [*out.at[idx, "flag_list"], "unplaced"]
    return out


def _distance_to_city_km(x: np.ndarray, y: np.ndarray, units: Units) -> np.ndarray:
    city = gpd.GeoSeries([units.counties.union_all()], crs=WGS84).to_crs(PROJECTED).iloc[0]
    pts = gpd.GeoSeries(shapely.points(x, y), crs=WGS84).to_crs(PROJECTED)
    return np.round(pts.distance(city).to_numpy() / 1000, 2)


def assign_sites(sites: pd.DataFrame, units: Units) -> gpd.GeoDataFrame:
    """Sites (canonical columns, WGS84 lon/lat or NaN) with their county and township.

    Returns a GeoDataFrame in WGS84 with the input columns plus :data:`ASSIGN_COLUMNS`,
    ``location_precision`` filled for placed rows, and point geometry (None where unplaced).
    """
    work = _place(_resolve_stated(sites.reset_index(drop=True), units), units)
    x = work["lon"].to_numpy(dtype=float)
    y = work["lat"].to_numpy(dtype=float)

    counties = units.counties.reset_index(drop=True)
    c_idx, c_border = locate(x, y, counties.geometry, counties["code"].to_numpy())
    tw = units.townships.reset_index(drop=True)
    t_idx, t_border = locate(x, y, tw.geometry, tw["code"].to_numpy())

    county_code = np.where(c_idx >= 0, counties["code"].to_numpy()[np.maximum(c_idx, 0)], "")
    located_tc = np.where(t_idx >= 0, tw["code"].to_numpy()[np.maximum(t_idx, 0)], "")
    t_source = tw.set_index("code")["geometry_source"]

    has_point = np.isfinite(x) & np.isfinite(y)
    outside = has_point & (c_idx < 0)
    outside_km = np.full(len(work), np.nan)
    if outside.any():
        outside_km[outside] = _distance_to_city_km(x[outside], y[outside], units)

    township_code, township_method, flags_out = [], [], []
    for i, rec in enumerate(work.itertuples(index=False)):
        flags = list(rec.flag_list)
        cc = county_code[i]
        stated_cc, stated_tc = rec.stated_county_code, rec.stated_township_code
        if c_border[i] or t_border[i]:
            flags.append("on_border")
        if outside[i]:
            flags.append("outside_city")
        if rec.location_precision == "city" and not has_point[i]:
            flags.append("city_only")
        if cc and stated_cc and stated_cc != cc:
            flags.append("county_mismatch")
        tc, method = "", "none"
        loc_tc = located_tc[i] if located_tc[i].startswith(cc or "-") else ""
        if rec.location_precision == "county_seat":
            loc_tc = ""  # a point put at the county seat says nothing about its township
        if cc:
            stated_ok = bool(stated_tc) and stated_tc.startswith(cc)
            if stated_tc and not stated_ok:
                flags.append("township_not_in_county")
            if loc_tc and stated_ok and loc_tc != stated_tc:
                flags.append("township_mismatch")
                if t_source.get(loc_tc) == "official":
                    tc, method = loc_tc, "polygon"
                else:
                    tc, method = stated_tc, "stated"
            elif loc_tc:
                tc, method = loc_tc, "polygon"
            elif stated_ok:
                tc, method = stated_tc, "stated"
            else:
                flags.append("township_unknown")
        township_code.append(tc)
        township_method.append(method)
        flags_out.append(";".join(dict.fromkeys(flags)))

    names_c = counties.set_index("code")["name"]
    names_t = tw.set_index("code")["name"]
    out = work.drop(columns=["flag_list"])
    out["county_code"] = county_code
    out["county_name"] = [names_c.get(c, "") for c in county_code]
    out["township_code"] = township_code
    out["township_name"] = [names_t.get(t, "") for t in township_code]
    out["township_geometry_source"] = [
        t_source.get(t, "") if m == "polygon" else ("" if not t else "none")
        for t, m in zip(township_code, township_method, strict=True)
    ]
    out["assign_method"] = np.select(
        [
            out["location_precision"].eq("exact").to_numpy(),
            out["location_precision"].isin(["township_seat", "county_seat", "village"]).to_numpy(),
            out["location_precision"].eq("city").to_numpy(),
        ],
        ["point", "seat:" + out["location_precision"].astype(str), "city_only"],
        default="unplaced",
    )
    out["township_method"] = township_method
    out["flags"] = flags_out
    out["outside_km"] = outside_km
    geometry = [
        shapely.Point(a, b) if ok else None for a, b, ok in zip(x, y, has_point, strict=True)
    ]
    return gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84)


def problems(assigned: pd.DataFrame) -> pd.DataFrame:
    """Rows a planner must look at: outside the city, unplaced, or stated places that disagree."""
    serious = ("outside_city", "unplaced", "county_mismatch", "unknown_county", "unknown_township")
    mask = assigned["flags"].apply(lambda f: any(s in f.split(";") for s in serious))
    return assigned.loc[mask]
