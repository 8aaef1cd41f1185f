"""Approximate township zones from seat points.

No open township boundary set exists for Xining. Within a county, the zone of a township is the
area closer to its seat than to any other seat of that county (a Voronoi cell measured in metres),
clipped to the county. Zones tile the county with no gap or overlap, but they are *not* legal
boundaries: every zone carries ``geometry_source = "approx_seat_voronoi"``.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from base.crs import PROJECTED, WGS84

APPROX_SOURCE = "approx_seat_voronoi"
MIN_SEAT_SHARE = 0.75


def eligible_counties(
    register: pd.DataFrame, seats: pd.DataFrame, *, min_share: float = MIN_SEAT_SHARE
) -> pd.DataFrame:
    """Seat coverage of ordinary (non-statistical) units per county, and whether zones are drawn.

    Zones are only drawn where at least ``min_share`` of the ordinary units have a seat: elsewhere
    the township level is shown as missing rather than guessed.
    """
    ordinary = register[~register["is_statistical"]]
    with_seat = ordinary["code"].isin(seats["code"])
    out = (
        ordinary.assign(has_seat=with_seat)
        .groupby("county_code")
        .agg(n_units=("code", "size"), n_with_seat=("has_seat", "sum"))
        .reset_index()
    )
    out["share"] = out["n_with_seat"] / out["n_units"]
    out["eligible"] = out["share"] >= min_share
    return out


def build_zones(
    counties: gpd.GeoDataFrame,
    register: pd.DataFrame,
    seats: pd.DataFrame,
    *,
    min_share: float = MIN_SEAT_SHARE,
) -> gpd.GeoDataFrame:
    """Voronoi zones of ordinary-unit seats, per eligible county, clipped to the county (WGS84).

    ``counties`` needs ``code`` and geometry; ``register`` needs ``code``, ``county_code``,
    ``is_statistical``; ``seats`` needs ``code``, ``lon``, ``lat`` (WGS84).
    """
    coverage = eligible_counties(register, seats, min_share=min_share)
    eligible = set(coverage.loc[coverage["eligible"], "county_code"])
    ordinary = register.loc[~register["is_statistical"], ["code", "name", "county_code"]]
    located = ordinary.merge(seats[["code", "lon", "lat"]], on="code", how="inner")
    counties_wgs = counties.to_crs(WGS84).set_index("code")

    rows: list[dict] = []
    for county_code in sorted(eligible):
        units = located[located["county_code"] == county_code].sort_values("code")
        county_geom = counties_wgs.loc[county_code, "geometry"]
        pts = gpd.GeoSeries(
            shapely.points(units["lon"].to_numpy(), units["lat"].to_numpy()), crs=WGS84
        )
        pts_m = pts.to_crs(PROJECTED)
        envelope_m = gpd.GeoSeries([county_geom], crs=WGS84).to_crs(PROJECTED).iloc[0].envelope
        cells_m = shapely.voronoi_polygons(
            shapely.multipoints(pts_m.to_numpy()), extend_to=envelope_m.buffer(10_000)
        )
        cells_m = list(shapely.get_parts(cells_m))
        cells = gpd.GeoSeries(cells_m, crs=PROJECTED).to_crs(WGS84)
        # voronoi_polygons does not keep input order: match each cell to the seat it contains.
        seat_of_cell = {}
        for i, cell in enumerate(cells_m):
            hits = [j for j, p in enumerate(pts_m) if cell.contains(p)]
            if len(hits) != 1:
                raise ValueError(
                    f"Voronoi cell {i} of county {county_code} holds {len(hits)} seats"
                )
            seat_of_cell[hits[0]] = cells.iloc[i]
        for j, unit in enumerate(units.itertuples(index=False)):
            zone = shapely.intersection(seat_of_cell[j], county_geom)
            zone = shapely.make_valid(zone)
            rows.append(
                {
                    "code": unit.code,
                    "name": unit.name,
                    "county_code": county_code,
                    "geometry_source": APPROX_SOURCE,
                    "geometry": zone,
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
