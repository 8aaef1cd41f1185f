"""Coverage metrics per county or township and layer.

For each unit and layer: the number of sites; sites per 100 km²; sites per 100,000 residents
(counties: 2020 census; township population is not published); for a county, the share of its
ordinary townships with at least one site; where sites name their village, the share of villages
served; and for township seats, the distance in km to the nearest site of the layer (UTM 47N,
never degrees).

Counts are conserved: every site with a county is counted in exactly one county, and in exactly
one township row. Sites whose township is unknown are counted in a per-county row
``<county code>000`` ("乡镇未知"), so township totals always equal county totals.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from base.crs import PROJECTED, WGS84
from geo.boundaries import Units
from layers.schema import LAYERS

LEVELS = ("county", "township")
UNKNOWN_TOWNSHIP_SUFFIX = "000"


# The coverage metrics by name: (zh, en, column template per level, is a share). The map,
# the tables and the QGIS project name them with these words.
METRICS: dict[str, tuple[str, str, dict[str, str], bool]] = {
    "count": ("站点数量", "Number of sites", {"county": "n_{l}", "township": "n_{l}"}, False),
    "per100km2": (
        "每百平方公里站点数",
        "Sites per 100 km²",
        {"county": "per100km2_{l}", "township": "per100km2_{l}"},
        False,
    ),
    "per100k": (
        "每十万常住人口站点数",
        "Sites per 100,000 residents",
        {"county": "per100k_{l}"},
        False,
    ),
    "share_townships": (
        "有站点的乡镇比例",
        "Share of townships with a site",
        {"county": "share_townships_{l}"},
        True,
    ),
    "share_villages": (
        "已服务村比例",
        "Share of villages served",
        {"county": "share_villages_{l}", "township": "share_villages_{l}"},
        True,
    ),
    "nearest_km": (
        "乡镇驻地到最近站点距离(公里)",
        "Distance from township seat to nearest site (km)",
        {"county": "max_nearest_km_{l}", "township": "nearest_km_{l}"},
        False,
    ),
}


def _unit_frame(units: Units, level: str) -> gpd.GeoDataFrame:
    if level == "county":
        c = units.counties
        out = gpd.GeoDataFrame(
            {
                "code": c["code"],
                "name": c["name"],
                "level": "county",
                "county_code": c["code"],
                "county_name": c["name"],
                "geometry_source": c["geometry_source"],
                "area_km2": c["area_km2"].astype(float),
                "pop_2020": c["pop_2020"].astype(float),
                "n_villages": c["code"].map(
                    units.townships.groupby("county_code")["n_villages"].sum()
                ),
            },
            geometry=c.geometry.to_numpy(),
            crs=WGS84,
        )
        return out
    if level != "township":
        raise ValueError(f"level must be one of {LEVELS}, not '{level}'")
    t = units.townships
    out = gpd.GeoDataFrame(
        {
            "code": t["code"],
            "name": t["name"],
            "level": "township",
            "county_code": t["county_code"],
            "county_name": t["county_name"],
            "type": t["type"],
            "geometry_source": t["geometry_source"],
            "area_km2": t["area_km2"],
            "pop_2020": np.nan,
            "n_villages": t["n_villages"].astype(float),
        },
        geometry=t.geometry.to_numpy(),
        crs=WGS84,
    )
    unknown = units.counties[["code", "name"]].copy()
    extra = gpd.GeoDataFrame(
        {
            "code": unknown["code"] + UNKNOWN_TOWNSHIP_SUFFIX,
            "name": unknown["name"] + " 乡镇未知",
            "level": "township",
            "county_code": unknown["code"],
            "county_name": unknown["name"],
            "type": "unknown",
            "geometry_source": "none",
            "area_km2": np.nan,
            "pop_2020": np.nan,
            "n_villages": np.nan,
        },
        geometry=[None] * len(unknown),
        crs=WGS84,
    )
    return gpd.GeoDataFrame(pd.concat([out, extra], ignore_index=True), crs=WGS84)


def _site_unit(sites: pd.DataFrame, level: str) -> pd.Series:
    """The unit code each site counts in at ``level`` ('' for sites with no county)."""
    if level == "county":
        return sites["county_code"].fillna("")
    code = sites["township_code"].fillna("")
    county = sites["county_code"].fillna("")
    return code.where(code != "", county.where(county == "", county + UNKNOWN_TOWNSHIP_SUFFIX))


def _nearest_km(seats: pd.DataFrame, sites: pd.DataFrame) -> pd.Series:
    """Distance (km) from each seat to the nearest mapped site, computed in UTM 47N."""
    pts = sites.dropna(subset=["lon", "lat"])
    if pts.empty or seats.empty:
        return pd.Series(np.nan, index=seats["code"])
    to_m = gpd.GeoSeries(shapely.points(pts["lon"], pts["lat"]), crs=WGS84).to_crs(PROJECTED)
    seat_m = gpd.GeoSeries(shapely.points(seats["lon"], seats["lat"]), crs=WGS84).to_crs(PROJECTED)
    tree = shapely.STRtree(to_m.to_numpy())
    _, dist = tree.query_nearest(seat_m.to_numpy(), return_distance=True, all_matches=False)
    return pd.Series(np.round(dist / 1000, 2), index=seats["code"].to_numpy())


def summarize(
    units: Units,
    sites: pd.DataFrame,
    *,
    level: str = "county",
    layers: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """One row per unit with coverage fields for each layer (``sites`` from assign_sites).

    Columns per layer ``L``: ``n_L`` (all sites), ``n_L_sample`` (of which sample records),
    ``n_L_approx`` (placed at a seat), ``per100km2_L``, ``per100k_L`` (counties), and
    ``share_townships_L`` (counties), ``share_villages_L``, ``nearest_km_L`` (township seats;
    for counties the largest distance over its township seats: ``max_nearest_km_L``).
    """
    layers = layers or list(LAYERS)
    out = _unit_frame(units, level)
    seats = units.township_seats
    register = units.townships
    ordinary = register[~register["is_statistical"]]
    villages = units.villages
    for key in layers:
        layer_sites = sites[sites["layer"] == key]
        unit_of = _site_unit(layer_sites, level)
        counts = unit_of[unit_of != ""].value_counts()
        samples = unit_of[(unit_of != "") & layer_sites["is_sample"].astype(bool)].value_counts()
        approx = unit_of[
            (unit_of != "") & layer_sites["location_precision"].ne("exact")
        ].value_counts()
        n = out["code"].map(counts).fillna(0).astype(int)
        out[f"n_{key}"] = n
        out[f"n_{key}_sample"] = out["code"].map(samples).fillna(0).astype(int)
        out[f"n_{key}_approx"] = out["code"].map(approx).fillna(0).astype(int)
        out[f"per100km2_{key}"] = n / out["area_km2"] * 100
        if level == "county":
            out[f"per100k_{key}"] = n / out["pop_2020"] * 1e5
            served = set(layer_sites["township_code"].dropna()) - {""}
            share = ordinary.assign(served=ordinary["code"].isin(served)).groupby("county_code")
            out[f"share_townships_{key}"] = out["code"].map(share["served"].mean()).round(3)

        # Villages served: sites naming a village of the register.
        named = layer_sites[layer_sites["village"].fillna("") != ""]
        served_v = villages.merge(
            named[["village", "township_code"]].drop_duplicates(),
            left_on=["name", "township_code"],
            right_on=["village", "township_code"],
            how="inner",
        )
        v_unit = served_v["township_code"] if level == "township" else served_v["county_code"]
        n_served = out["code"].map(v_unit.value_counts()).fillna(0)
        out[f"share_villages_{key}"] = (n_served / out["n_villages"]).round(3)

        nearest = _nearest_km(seats, layer_sites[layer_sites["county_code"] != ""])
        if level == "township":
            out[f"nearest_km_{key}"] = out["code"].map(nearest)
        else:
            by_county = nearest.groupby(nearest.index.str[:6]).max()
            out[f"max_nearest_km_{key}"] = out["code"].map(by_county)
    return out


def totals_check(units: Units, sites: pd.DataFrame) -> dict[str, int]:
    """Counts that must agree: sites in the city, county total, township total (per all layers)."""
    county = summarize(units, sites, level="county")
    township = summarize(units, sites, level="township")
    n_cols = [f"n_{k}" for k in LAYERS]
    return {
        "sites_in_city": int((sites["county_code"].fillna("") != "").sum()),
        "county_total": int(county[n_cols].to_numpy().sum()),
        "township_total": int(township[n_cols].to_numpy().sum()),
    }
