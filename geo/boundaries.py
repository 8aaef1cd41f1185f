"""Administrative units: counties, township register, seats, zones, and name/code resolution.

Counties are real polygons. Townships are a register of 80 units (codes and names real); their
geometry is an approximate seat-based zone (see :mod:`geo.zones`) in three counties, or an
official polygon when a user loads one, or nothing. The register keeps units without geometry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from base.crs import PROJECTED, WGS84

CITY_CODE = "630100"
CITY_NAME = "西宁市"

# Suffixes dropped to form the short name of a township ("景阳镇" → "景阳").
_TOWNSHIP_SUFFIX = re.compile(r"(藏族乡|回族乡|土族乡|民族乡|街道办事处|街道|办事处|镇|乡)$")
_SPACE = re.compile(r"[\s\u3000]+")


def _clean(text: object) -> str:
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    return _SPACE.sub("", str(text)).strip()


def township_short_name(name: str) -> str:
    """Short form of a township name used for matching ("大堡子镇" → "大堡子")."""
    return _TOWNSHIP_SUFFIX.sub("", _clean(name)) or _clean(name)


@dataclass(frozen=True)
class Units:
    """The administrative units the product knows, as validated frames (WGS84)."""

    counties: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame  # all 80 register units; geometry None where no polygon
    villages: pd.DataFrame
    township_seats: pd.DataFrame
    county_seats: pd.DataFrame
    _county_keys: dict[str, str] = field(repr=False, default_factory=dict)

    @classmethod
    def from_frames(
        cls,
        counties: gpd.GeoDataFrame,
        townships: pd.DataFrame,
        *,
        villages: pd.DataFrame | None = None,
        township_seats: pd.DataFrame | None = None,
        county_seats: pd.DataFrame | None = None,
    ) -> Units:
        """Build units from frames (bundled files, a user's boundaries, or test fixtures).

        ``townships`` may carry geometry; missing optional columns get neutral defaults.
        """
        counties = counties.copy()
        counties[counties.geometry.name] = as_multipolygons(counties.geometry.to_numpy())
        for col, default in (
            ("short_name", ""),
            ("aliases", ""),
            ("pop_2020", np.nan),
            ("geometry_source", "official"),
        ):
            if col not in counties:
                counties[col] = default
        if "area_km2" not in counties:
            counties["area_km2"] = (counties.to_crs(PROJECTED).area / 1e6).round(2)
        tw = townships.copy()
        defaults = (
            ("is_statistical", False),
            ("n_villages", 0),
            ("code_2016", ""),
            ("aliases", ""),
            ("type", ""),
            ("geometry_source", "none"),
        )
        for col, default in defaults:
            if col not in tw:
                tw[col] = default
        if "county_name" not in tw:
            tw["county_name"] = tw["county_code"].map(counties.set_index("code")["name"])
        tw["short_name"] = tw["name"].map(township_short_name)
        tw["aliases_list"] = tw["aliases"].map(lambda s: [a for a in str(s).split(";") if a])
        if "geometry" not in tw:
            tw["geometry"] = None
        tw = gpd.GeoDataFrame(tw, geometry="geometry", crs=WGS84)
        empty_pts = pd.DataFrame(columns=["code", "name", "lon", "lat"])
        return cls(
            counties=counties,
            townships=_with_area(tw),
            villages=villages
            if villages is not None
            else pd.DataFrame(
                columns=[
                    "code",
                    "name",
                    "kind",
                    "township_code",
                    "township_name",
                    "county_code",
                    "county_name",
                ]
            ),
            township_seats=township_seats if township_seats is not None else empty_pts,
            county_seats=county_seats if county_seats is not None else empty_pts,
            _county_keys=_county_keys(counties),
        )

    def county_name(self, code: str) -> str:
        return str(self.counties.set_index("code").at[code, "name"])

    def resolve_county(self, text: object) -> str | None:
        """County code for a code, full name, short name or historic alias; None if unknown."""
        key = _clean(text)
        if not key:
            return None
        if key.endswith(".0"):
            key = key[:-2]
        if key.isdigit() and len(key) > 6:
            key = key[:6]
        return self._county_keys.get(key)

    def resolve_township(self, text: object, *, county_code: str | None = None) -> list[str]:
        """Township codes matching a code, name, short name or alias (2016 codes included).

        Several codes come back when a name is ambiguous without its county (城关镇 exists in
        大通 and in 湟源); pass ``county_code`` to narrow the match.
        """
        key = _clean(text)
        if not key:
            return []
        reg = self.townships
        if key.isdigit():
            code9 = key[:9]
            hits = reg.loc[(reg["code"] == code9) | (reg["code_2016"] == code9), "code"]
        else:
            short = township_short_name(key)
            hits = reg.loc[
                (reg["name"] == key)
                | (reg["aliases_list"].apply(lambda a: key in a))
                | (reg["short_name"] == short),
                "code",
            ]
        codes = sorted(set(hits))
        if county_code:
            codes = [c for c in codes if c.startswith(county_code)]
        return codes

    def with_township_polygons(
        self, polygons: gpd.GeoDataFrame, *, geometry_source: str = "official"
    ) -> Units:
        """A copy whose townships take ``polygons`` (``code`` + geometry) where they have one."""
        polys = polygons.to_crs(WGS84).set_index("code")["geometry"]
        tw = self.townships.copy()
        has = tw["code"].isin(polys.index)
        tw.loc[has, "geometry"] = tw.loc[has, "code"].map(polys).to_numpy()
        tw.loc[has, "geometry_source"] = geometry_source
        tw = gpd.GeoDataFrame(tw, geometry="geometry", crs=WGS84)
        return Units(
            self.counties,
            _with_area(tw),
            self.villages,
            self.township_seats,
            self.county_seats,
            self._county_keys,
        )


def as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Polygons as one-part MultiPolygons (None and other types untouched): a layer of units
    has one geometry type, as GeoPackage, PostGIS and QGIS expect."""
    out = np.array(geoms, dtype=object)
    for i, geom in enumerate(out):
        if geom is not None and geom.geom_type == "Polygon":
            out[i] = shapely.MultiPolygon([geom])
    return out


def _with_area(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out[out.geometry.name] = as_multipolygons(out.geometry.to_numpy())
    area = out.geometry.to_crs(PROJECTED).area / 1e6
    out["area_km2"] = area.where(out.geometry.notna()).round(2)
    return out


def _county_keys(counties: pd.DataFrame) -> dict[str, str]:
    keys: dict[str, str] = {}
    for row in counties.itertuples(index=False):
        names = [row.code, row.name, row.short_name, *str(row.aliases or "").split(";")]
        for name in names:
            name = _clean(name)
            if name:
                keys[name] = row.code
        # "湟中" also written "湟中县"/"湟中区"; "大通" as "大通县".
        keys[row.short_name + "县"] = row.code
        keys[row.short_name + "区"] = row.code
    return keys
