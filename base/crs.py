"""Coordinate systems: names, checks, and the Chinese web-map offsets.

Chinese registries carry coordinates in three geographic systems: WGS84 (GPS, OpenStreetMap),
GCJ-02 (Amap, Tencent; an obfuscated offset of a few hundred metres) and BD-09 (Baidu, a further
offset of GCJ-02). CGCS2000 (EPSG:4490) agrees with WGS84 to well under a metre here. The product
stores WGS84 (EPSG:4326) only; distances and areas are computed in UTM zone 47N (EPSG:32647),
which covers Xining (101–102°E) with negligible scale error.

GCJ-02 and BD-09 are not EPSG systems, so PROJ cannot convert them: the forward formulas are
public, and the inverses here iterate the forward formula to sub-centimetre agreement.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from base.errors import InputError

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"
PROJECTED = "EPSG:32647"  # UTM 47N: metres, for distances and areas

GCJ02 = "GCJ-02"
BD09 = "BD-09"

# Accepted spellings → canonical name. Compared after lower-casing and removing spaces,
# hyphens and underscores.
_ALIASES: dict[str, str] = {
    "wgs84": WGS84,
    "wgs1984": WGS84,
    "epsg4326": WGS84,
    "4326": WGS84,
    "gps": WGS84,
    "cgcs2000": CGCS2000,
    "epsg4490": CGCS2000,
    "4490": CGCS2000,
    "2000国家大地坐标系": CGCS2000,
    "国家2000": CGCS2000,
    "gcj02": GCJ02,
    "gcj": GCJ02,
    "火星坐标": GCJ02,
    "火星坐标系": GCJ02,
    "高德": GCJ02,
    "amap": GCJ02,
    "腾讯": GCJ02,
    "bd09": BD09,
    "bd09ll": BD09,
    "baidu": BD09,
    "百度": BD09,
}

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def normalize_crs(name: str | None, *, default: str = WGS84) -> str:
    """Return the canonical name for a coordinate-system label from a user file.

    Empty means ``default``. ``EPSG:nnnn`` codes other than the geographic ones are returned as
    they are (projected input, e.g. a CGCS2000 Gauss-Krüger zone) so pyproj can handle them.
    """
    if name is None:
        return default
    text = str(name).strip()
    if not text or text.lower() == "nan":
        return default
    key = text.lower().replace(" ", "").replace("-", "").replace("_", "").replace(":", "")
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("epsg") and key[4:].isdigit():
        return f"EPSG:{key[4:]}"
    raise InputError(
        f"Unknown coordinate system '{text}'. Use WGS84, CGCS2000, GCJ-02, BD-09 or an EPSG code."
    )


def _out_of_china(lon: NDArray, lat: NDArray) -> NDArray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    """GCJ-02 offset (degrees) at a WGS84 position."""
    x = lon - 105.0
    y = lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = ~_out_of_china(lon, lat)
    return dlon * inside, dlat * inside


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Forward GCJ-02 offset (the published formula)."""
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, lon: NDArray, lat: NDArray, lon0: NDArray, lat0: NDArray):
    """Solve forward(x, y) = (lon, lat) by fixed-point iteration from (lon0, lat0).

    The offsets vary slowly, so each step removes nearly all the remaining error; the loop
    stops when every point agrees to 1e-10 degrees (~1 cm).
    """
    x, y = lon0.copy(), lat0.copy()
    for _ in range(30):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(np.concatenate([np.ravel(ex), np.ravel(ey)])), initial=0) < 1e-10:
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Invert GCJ-02 by iterating the forward formula (error < 1 cm)."""
    glon, glat = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, glon, glat, glon, glat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Baidu's published BD-09 transform of GCJ-02."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Invert BD-09 by iterating :func:`gcj02_to_bd09` (error < 1 cm)."""
    blon, blat = _arrays(lon, lat)
    return _invert(gcj02_to_bd09, blon, blat, blon - 0.0065, blat - 0.006)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """BD-09 → GCJ-02 → WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """WGS84 → GCJ-02 → BD-09 (used by tests and by exports for Baidu users)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[NDArray, NDArray]:
    """Convert coordinates in ``crs`` (any name :func:`normalize_crs` accepts) to WGS84 lon/lat."""
    name = normalize_crs(crs)
    lon, lat = _arrays(lon, lat)
    if name in (WGS84, CGCS2000):
        return lon, lat
    if name == GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if name == BD09:
        return bd09_to_wgs84(lon, lat)
    from pyproj import Transformer

    try:
        transformer = Transformer.from_crs(name, WGS84, always_xy=True)
    except Exception as exc:  # pyproj raises CRSError and friends
        raise InputError(f"Coordinate system {name} is not known to PROJ: {exc}") from exc
    x, y = transformer.transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
