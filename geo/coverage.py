"""Coverage metrics per county or township and layer.

For each unit and layer: the number of sites; sites per 100 km²; sites per 100,000 residents
(counties: 2020 census; township population is not published); for a county, the share of its
ordinary townships with at least one site; where sites name their village, the share of villages
served; and for township seats, the distance in km to the nearest site of the layer (UTM 47N,
never degrees).

Counts are conserved: every site with a county is counted in exactly one county, and in exactly
one township row. Sites whose township is unknown are counted in a per-county row
``<county code>000`` ("乡镇未知"), so township totals always equal county totals.

The metrics are computed once, from :class:`CoverageParts`: counts per unit and kind, the
townships and villages served, and each township seat's nearest site. Parts of disjoint sets of
sites merge (sums, unions, minima), so the in-memory path (:func:`summarize`), the SQL path
(GROUP BY and KNN in PostGIS) and the Dask path (a partition at a time) all end in
:func:`finish`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    Computed as the SQL and Dask paths compute it, from :class:`CoverageParts`: one place for
    the metrics, whichever path reduced the sites.
    """
    parts = parts_from_sites(sites, units.township_seats, layers=layers)
    return finish(units, parts, level=level, layers=layers)


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


# -- partial aggregates: what the metrics need from sites, mergeable across partitions --

COUNT_KEYS = ["layer", "county_code", "township_code", "is_sample", "approx"]


@dataclass
class CoverageParts:
    """What coverage needs from a set of assigned sites; parts of disjoint sets merge."""

    counts: pd.DataFrame = field(  # COUNT_KEYS + n
        default_factory=lambda: pd.DataFrame(columns=[*COUNT_KEYS, "n"])
    )
    served_townships: pd.DataFrame = field(  # layer, township_code (distinct)
        default_factory=lambda: pd.DataFrame(columns=["layer", "township_code"])
    )
    served_villages: pd.DataFrame = field(  # layer, village, township_code (distinct)
        default_factory=lambda: pd.DataFrame(columns=["layer", "village", "township_code"])
    )
    nearest_m: pd.DataFrame = field(  # layer, seat code, metres to the nearest site in a county
        default_factory=lambda: pd.DataFrame(columns=["layer", "code", "metres"])
    )


def _codes(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str)


def parts_from_sites(
    sites: pd.DataFrame, seats: pd.DataFrame, *, layers: list[str] | None = None
) -> CoverageParts:
    """Parts of assigned sites (columns of :func:`geo.assign.assign_sites`)."""
    layers = layers or list(LAYERS)
    s = sites[sites["layer"].isin(layers)]
    frame = pd.DataFrame(
        {
            "layer": s["layer"].astype(str).to_numpy(),
            "county_code": _codes(s["county_code"]).to_numpy(),
            "township_code": _codes(s["township_code"]).to_numpy(),
            "is_sample": s["is_sample"].astype(bool).to_numpy(),
            "approx": s["location_precision"].ne("exact").to_numpy(),
        }
    )
    counts = frame.groupby(COUNT_KEYS, as_index=False).size().rename(columns={"size": "n"})
    served_t = frame.loc[frame["township_code"] != "", ["layer", "township_code"]]
    village = _codes(s["village"]).to_numpy()
    served_v = pd.DataFrame(
        {"layer": frame["layer"], "village": village, "township_code": frame["township_code"]}
    )
    served_v = served_v[served_v["village"] != ""]
    nearest = []
    for key in layers:
        layer_sites = s[(s["layer"] == key) & (_codes(s["county_code"]) != "")]
        metres = nearest_metres(seats, layer_sites["lon"], layer_sites["lat"])
        if metres is not None:
            nearest.append(pd.DataFrame({"layer": key, "code": seats["code"], "metres": metres}))
    return CoverageParts(
        counts=counts,
        served_townships=served_t.drop_duplicates().reset_index(drop=True),
        served_villages=served_v.drop_duplicates().reset_index(drop=True),
        nearest_m=pd.concat(nearest, ignore_index=True) if nearest else CoverageParts().nearest_m,
    )


def nearest_metres(seats: pd.DataFrame, lon: pd.Series, lat: pd.Series) -> np.ndarray | None:
    """Metres (UTM 47N) from each seat to the nearest of the points; None without points."""
    ok = lon.notna().to_numpy() & lat.notna().to_numpy()
    if not ok.any() or seats.empty:
        return None
    pts = shapely.points(lon.to_numpy(dtype=float)[ok], lat.to_numpy(dtype=float)[ok])
    to_m = gpd.GeoSeries(pts, crs=WGS84).to_crs(PROJECTED)
    seat_m = gpd.GeoSeries(shapely.points(seats["lon"], seats["lat"]), crs=WGS84).to_crs(PROJECTED)
    tree = shapely.STRtree(to_m.to_numpy())
    _, dist = tree.query_nearest(seat_m.to_numpy(), return_distance=True, all_matches=False)
    return np.asarray(dist, dtype=float)


def merge(parts: list[CoverageParts]) -> CoverageParts:
    """Parts of the union of disjoint site sets."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return CoverageParts()

    def cat(name: str) -> pd.DataFrame:
        frames = [getattr(p, name) for p in parts if not getattr(p, name).empty]
        return pd.concat(frames, ignore_index=True) if frames else getattr(parts[0], name)

    counts = cat("counts")
    if not counts.empty:
        counts = counts.groupby(COUNT_KEYS, as_index=False)["n"].sum()
    nearest = cat("nearest_m")
    if not nearest.empty:
        nearest = nearest.groupby(["layer", "code"], as_index=False, sort=False)["metres"].min()
    return CoverageParts(
        counts=counts,
        served_townships=cat("served_townships").drop_duplicates().reset_index(drop=True),
        served_villages=cat("served_villages").drop_duplicates().reset_index(drop=True),
        nearest_m=nearest,
    )


def finish(
    units: Units, parts: CoverageParts, *, level: str = "county", layers: list[str] | None = None
) -> gpd.GeoDataFrame:
    """The table :func:`geo.coverage.summarize` returns, from merged parts."""
    layers = layers or list(LAYERS)
    out = _unit_frame(units, level)
    seats = units.township_seats
    ordinary = units.townships[~units.townships["is_statistical"]]
    villages = units.villages
    counts_all = parts.counts
    for key in layers:
        c = counts_all[counts_all["layer"] == key]
        unit_of = _site_unit(c, level) if not c.empty else pd.Series([], dtype=str)
        inside = (unit_of != "").to_numpy()
        n_by = c["n"].to_numpy(dtype=np.int64)
        counts = pd.Series(n_by[inside]).groupby(unit_of[inside].to_numpy()).sum()
        sample = inside & c["is_sample"].astype(bool).to_numpy()
        samples = pd.Series(n_by[sample]).groupby(unit_of[sample].to_numpy()).sum()
        approx = inside & c["approx"].astype(bool).to_numpy()
        approxes = pd.Series(n_by[approx]).groupby(unit_of[approx].to_numpy()).sum()
        n = out["code"].map(counts).fillna(0).astype(int)
        out[f"n_{key}"] = n
        out[f"n_{key}_sample"] = out["code"].map(samples).fillna(0).astype(int)
        out[f"n_{key}_approx"] = out["code"].map(approxes).fillna(0).astype(int)
        out[f"per100km2_{key}"] = n / out["area_km2"] * 100
        if level == "county":
            out[f"per100k_{key}"] = n / out["pop_2020"] * 1e5
            st = parts.served_townships
            served = set(st.loc[st["layer"] == key, "township_code"]) - {""}
            share = ordinary.assign(served=ordinary["code"].isin(served)).groupby("county_code")
            out[f"share_townships_{key}"] = out["code"].map(share["served"].mean()).round(3)

        sv = parts.served_villages
        named = sv.loc[sv["layer"] == key, ["village", "township_code"]].drop_duplicates()
        served_v = villages.merge(
            named,
            left_on=["name", "township_code"],
            right_on=["village", "township_code"],
            how="inner",
        )
        v_unit = served_v["township_code"] if level == "township" else served_v["county_code"]
        n_served = out["code"].map(v_unit.value_counts()).fillna(0)
        out[f"share_villages_{key}"] = (n_served / out["n_villages"]).round(3)

        nm = parts.nearest_m
        layer_near = nm[nm["layer"] == key]
        if layer_near.empty or seats.empty:
            nearest = pd.Series(np.nan, index=seats["code"])
        else:
            metres = seats["code"].map(layer_near.set_index("code")["metres"])
            nearest = pd.Series(
                np.round(metres.to_numpy(dtype=float) / 1000, 2), index=seats["code"].to_numpy()
            )
        if level == "township":
            out[f"nearest_km_{key}"] = out["code"].map(nearest)
        else:
            by_county = nearest.groupby(nearest.index.str[:6]).max()
            out[f"max_nearest_km_{key}"] = out["code"].map(by_county)
    return out
