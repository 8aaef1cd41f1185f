"""Build data/boundaries/ from the reference data in ../shared/data (run once; outputs committed).

Usage: python scripts/build_data.py [--shared ../shared/data]

Every output keeps its source next to it (data/boundaries/PROVENANCE.md). The township zones are
derived here by project code (geo.zones), never drawn by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from base.crs import PROJECTED, WGS84, gcj02_to_wgs84  # noqa: E402
from geo.zones import build_zones, eligible_counties  # noqa: E402

OUT = ROOT / "data" / "boundaries"

# Short names and historic aliases of the seven county-level units. 湟中县 (630122) became
# 湟中区 (630106) in 2020 (State Council approval, reflected in the 2023 statistical codes).
COUNTY_NAMES = {
    "630102": ("城东区", "城东", ""),
    "630103": ("城中区", "城中", ""),
    "630104": ("城西区", "城西", ""),
    "630105": ("城北区", "城北", ""),
    "630106": ("湟中区", "湟中", "湟中县;630122"),
    "630121": ("大通回族土族自治县", "大通", "大通县;大通回族土族自治县"),
    "630123": ("湟源县", "湟源", ""),
}

# County centre points (Amap "center", i.e. the seat of the county government), GCJ-02, from
# github Vonng/adcode@b755d6e data/adcode/6301xx.csv, first row of each file (CC BY 4.0).
# 湟中: the 2016 row of 湟中县 (630122); the seat stayed in 鲁沙尔镇 after the 2020 change.
COUNTY_SEATS_GCJ02 = {
    "630102": (101.803717, 36.599744, "630102.csv row 630102000000"),
    "630103": (101.705298, 36.545652, "630103.csv row 630103000000"),
    "630104": (101.765843, 36.628304, "630104.csv row 630104000000"),
    "630105": (101.766228, 36.650038, "630105.csv row 630105000000"),
    "630106": (101.571667, 36.500879, "630122.csv row 630122000000 (湟中县, 2016)"),
    "630121": (101.685643, 36.926954, "630121.csv row 630121000000"),
    "630123": (101.256464, 36.682426, "630123.csv row 630123000000"),
}

# 2016 statistical codes of 湟中县's townships (github Vonng/adcode@b755d6e 630122.csv), used as
# aliases so that registries with old codes still resolve. Other counties kept their codes.
HUANGZHONG_2016 = {
    "康川街道": "630122001",
    "鲁沙尔镇": "630122100",
    "西堡镇": "630122101",
    "上新庄镇": "630122102",
    "田家寨镇": "630122103",
    "甘河滩镇": "630122104",
    "共和镇": "630122105",
    "多巴镇": "630122106",
    "拦隆口镇": "630122107",
    "上五庄镇": "630122108",
    "李家山镇": "630122109",
    "群加藏族乡": "630122200",
    "土门关乡": "630122201",
    "汉东回族乡": "630122202",
    "大才回族乡": "630122203",
    "海子沟乡": "630122204",
    "甘河工业园": "630122400",
}
# Names used in 2016 (before the ethnic-township names were recorded in full).
TOWNSHIP_OLD_NAMES = {
    "群加藏族乡": "群加乡",
    "汉东回族乡": "汉东乡",
    "大才回族乡": "大才乡",
    "日月藏族乡": "日月乡",
    "火车西站街道": "火车西站办事处",
}


def build_counties(shared: Path) -> gpd.GeoDataFrame:
    src = gpd.read_file(shared / "boundaries" / "counties.geojson")
    pop = pd.read_csv(shared / "boundaries" / "county_population_2020.csv", dtype={"adcode": str})
    src = src.rename(columns={"adcode": "code"})
    src["code"] = src["code"].astype(str)
    names = pd.DataFrame(
        [(c, n, s, a) for c, (n, s, a) in COUNTY_NAMES.items()],
        columns=["code", "name", "short_name", "aliases"],
    )
    out = names.merge(src[["code", "geometry"]], on="code", how="left")
    out = out.merge(
        pop[["adcode", "pop_2020_resident"]].rename(
            columns={"adcode": "code", "pop_2020_resident": "pop_2020"}
        ),
        on="code",
        how="left",
    )
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)
    gdf["area_km2"] = (gdf.to_crs(PROJECTED).area / 1e6).round(2)
    glon = [COUNTY_SEATS_GCJ02[c][0] for c in gdf["code"]]
    glat = [COUNTY_SEATS_GCJ02[c][1] for c in gdf["code"]]
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    gdf["seat_lon"] = np.round(wlon, 6)
    gdf["seat_lat"] = np.round(wlat, 6)
    gdf["level"] = "county"
    gdf["geometry_source"] = "amap_published_gcj02_to_wgs84"
    seat_pts = gpd.GeoSeries(gpd.points_from_xy(gdf["seat_lon"], gdf["seat_lat"]), crs=WGS84)
    inside = gdf.geometry.contains(seat_pts)
    if not inside.all():
        raise SystemExit(f"county seat outside its county: {list(gdf.loc[~inside, 'name'])}")
    return gdf[
        [
            "code",
            "name",
            "short_name",
            "aliases",
            "level",
            "area_km2",
            "pop_2020",
            "seat_lon",
            "seat_lat",
            "geometry_source",
            "geometry",
        ]
    ]


def build_county_seats(counties: gpd.GeoDataFrame) -> pd.DataFrame:
    rows = []
    for c in counties.itertuples():
        glon, glat, src = COUNTY_SEATS_GCJ02[c.code]
        rows.append(
            {
                "code": c.code,
                "name": c.name,
                "lon": c.seat_lon,
                "lat": c.seat_lat,
                "source_lon": glon,
                "source_lat": glat,
                "source_crs": "GCJ-02",
                "source": f"github Vonng/adcode@b755d6e data/adcode/{src} (CC BY 4.0; Amap centre)",
            }
        )
    return pd.DataFrame(rows)


def build_register(shared: Path) -> pd.DataFrame:
    reg = pd.read_csv(shared / "boundaries" / "township_register_2023.csv", dtype=str)
    out = pd.DataFrame(
        {
            "code": reg["code9_stats2023"],
            "code12": reg["code12_stats2023"],
            "name": reg["name"],
            "type": reg["type"].replace({"virtual_zone_400series_stats_only": "统计园区"}),
            "is_statistical": reg["type"].eq("virtual_zone_400series_stats_only"),
            "county_code": reg["county_adcode"],
            "county_name": reg["county_name"],
            "n_villages": reg["n_village_units_2023"].astype(int),
        }
    )
    out["code_2016"] = out["name"].map(HUANGZHONG_2016).where(out["county_code"] == "630106", "")
    out["code_2016"] = out["code_2016"].fillna("")
    out["aliases"] = out["name"].map(TOWNSHIP_OLD_NAMES).fillna("")
    return out


def build_seats(shared: Path, register: pd.DataFrame) -> pd.DataFrame:
    seats = pd.read_csv(shared / "boundaries" / "township_seats.csv", dtype={"code9": str})
    seats = seats.rename(columns={"code9": "code"})
    seats = seats.merge(register[["code", "county_code"]], on="code", how="left")
    if seats["county_code"].isna().any():
        raise SystemExit("a seat does not match the 2023 register")
    cols = ["code", "name", "county_code", "lon", "lat", "precision"]
    cols += ["source_lon", "source_lat", "source_crs", "source"]
    return seats[cols]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    counties = build_counties(args.shared)
    counties.to_file(OUT / "counties.geojson", driver="GeoJSON", WRITE_BBOX="NO")
    build_county_seats(counties).to_csv(OUT / "county_seats.csv", index=False)

    register = build_register(args.shared)
    register.to_csv(OUT / "townships.csv", index=False)
    seats = build_seats(args.shared, register)
    seats.to_csv(OUT / "township_seats.csv", index=False, float_format="%.6f")

    villages = pd.read_csv(args.shared / "boundaries" / "village_register_2023.csv", dtype=str)
    villages = villages.rename(
        columns={
            "code12": "code",
            "township_code9": "township_code",
            "county_adcode": "county_code",
        }
    )
    villages.to_csv(OUT / "villages.csv", index=False)

    zones = build_zones(counties, register, seats)
    zones = zones.merge(register[["code", "type"]], on="code", how="left")
    zones["area_km2"] = (zones.to_crs(PROJECTED).area / 1e6).round(2)
    zones.to_file(OUT / "township_zones.geojson", driver="GeoJSON", WRITE_BBOX="NO")
    coverage = eligible_counties(register, seats)
    print(coverage.to_string(index=False))
    print(f"counties {len(counties)}, townships {len(register)}, seats {len(seats)},")
    print(f"villages {len(villages)}, zones {len(zones)}")
    meta = {
        "zones_counties": sorted(coverage.loc[coverage["eligible"], "county_code"]),
        "n_zones": len(zones),
    }
    (OUT / "build_summary.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
