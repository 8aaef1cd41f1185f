"""Optional tile basemaps, chosen from data, never required.

The boundaries are the basemap by default (``none``): the map draws with no internet. Tile layers
are opt-in: OpenStreetMap, Tianditu (key from the environment or Streamlit secrets: the caller
passes it in), or any custom XYZ URL for an intranet tile server (``XINING_TILES_URL``).

A provider drawn in GCJ-02 (Amap-style tiles) would misalign WGS84 data by a few hundred metres:
such a provider says ``crs = "GCJ-02"`` and the map shifts the data onto it (see maps.render).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from base.crs import GCJ02, WGS84


@dataclass(frozen=True)
class Basemap:
    key: str
    zh: str
    en: str
    url: str = ""
    attribution: str = ""
    crs: str = WGS84  # the datum the tiles are drawn in
    needs_key: str = ""  # name of the setting holding an API key, if any
    max_zoom: int = 18
    subdomains: str = "abc"


PROVIDERS: dict[str, Basemap] = {
    b.key: b
    for b in (
        Basemap("none", "无底图(离线)", "None (offline)"),
        Basemap(
            "osm",
            "OpenStreetMap",
            "OpenStreetMap",
            url="https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
            attribution="© OpenStreetMap contributors",
            max_zoom=19,
        ),
        Basemap(
            "tianditu",
            "天地图矢量",
            "Tianditu vector",
            url="https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
            "&TILECOL={x}&tk={key}",
            attribution="© 天地图 Tianditu",
            needs_key="TIANDITU_KEY",
            subdomains="01234567",
        ),
    )
}


def custom_from_env(env: dict[str, str] | None = None) -> Basemap | None:
    """An intranet XYZ server from ``XINING_TILES_URL`` (+ ``_CRS``, ``_ATTRIBUTION``), if set."""
    env = dict(os.environ) if env is None else env
    url = env.get("XINING_TILES_URL", "").strip()
    if not url:
        return None
    crs = env.get("XINING_TILES_CRS", WGS84).strip() or WGS84
    if crs.upper().replace("-", "").replace("_", "") == "GCJ02":
        crs = GCJ02
    return Basemap(
        "custom",
        "自定义瓦片",
        "Custom tiles",
        url=url,
        attribution=env.get("XINING_TILES_ATTRIBUTION", "custom tiles"),
        crs=crs,
    )


def available(env: dict[str, str] | None = None) -> dict[str, Basemap]:
    """Providers offered in the UI: the built-ins plus a configured custom server."""
    out = dict(PROVIDERS)
    custom = custom_from_env(env)
    if custom:
        out["custom"] = custom
    return out


def tile_url(basemap: Basemap, *, key: str = "") -> str:
    """The URL template with the API key filled in; raises if a required key is missing."""
    if basemap.needs_key and not key:
        raise ValueError(f"{basemap.en} needs an API key in {basemap.needs_key}.")
    return basemap.url.replace("{key}", key)
