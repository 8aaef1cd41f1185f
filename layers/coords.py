"""Coordinates as planners type them: decimal or degrees-minutes-seconds, full-width, swapped.

Everything here is pure parsing and conversion (no file reading, no validation policy):

* :func:`clean_text` normalises full-width characters (NFKC) and placeholders ("-", "无", "#N/A").
* :func:`parse_coordinates` turns a column of text into floats, vectorised, with a mask of cells
  that hold something but not a coordinate (``101°45'30"E``, ``东经101度45分``, ``１０１．７５``
  and ``101.75E`` all parse).
* :func:`split_pairs` reads one cell holding both values (``101.75,36.62`` from a map picker).
* :func:`parse_crs` reads a coordinate-system label (WGS84, CGCS2000, GCJ-02, BD-09, EPSG codes,
  names and WKT from a ``.prj``); :func:`to_wgs84_any` / :func:`from_wgs84_any` convert.
* :func:`guess_gauss_kruger` recognises CGCS2000 Gauss-Krüger metres near Xining when a file
  does not say its system (a shapefile without ``.prj``, a CSV of x/y).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from base.crs import (
    BD09,
    CGCS2000,
    GCJ02,
    WGS84,
    normalize_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from base.errors import InputError

# A generous box around Xining (the city spans 100.87–101.91 °E, 36.23–37.47 °N): a point that
# lands here only after swapping its two values was swapped in the file.
NEAR_XINING = (99.0, 35.0, 104.0, 39.0)

# Cell values that mean "nothing here" in Chinese office exports.
PLACEHOLDERS = frozenset(
    {"-", "--", "—", "——", "/", "\\", "无", "暂无", "空", "null", "none", "nan", "n/a", "na"}
    | {"#n/a", "#na", "待定", "不详", "?", "？"}
)

_GEOGRAPHIC = {WGS84, CGCS2000, GCJ02, BD09}


def clean_text(value: object) -> str:
    """NFKC-normalised, stripped text; placeholders and missing values become ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, float) and np.isnan(value):
            return ""
        value = str(value)
    text = (value if value.isascii() else unicodedata.normalize("NFKC", value)).strip()
    return "" if len(text) <= 4 and text.lower() in PLACEHOLDERS else text


def map_unique(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``func`` over a column, called once per distinct value (fast on big files); object dtype."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [func(u) for u in uniques]
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def clean_series(values: pd.Series) -> pd.Series:
    """:func:`clean_text` over a column, computed once per distinct value."""
    return map_unique(values, clean_text)


# --- single coordinates --------------------------------------------------------------------

_HEMISPHERES = (
    ("北纬", 1),
    ("南纬", -1),
    ("东经", 1),
    ("西经", -1),
    ("北", 1),
    ("南", -1),
    ("东", 1),
    ("西", -1),
    ("N", 1),
    ("S", -1),
    ("E", 1),
    ("W", -1),
)
_SYMBOLS = str.maketrans(
    {
        "°": " ",
        "º": " ",
        "˚": " ",
        "度": " ",
        "'": " ",
        "′": " ",
        "’": " ",
        "‘": " ",
        "分": " ",
        '"': " ",
        "″": " ",
        "”": " ",
        "“": " ",
        "秒": " ",
        ":": " ",
        "d": " ",
        "m": " ",
        "s": " ",
        "。": ".",
        "−": "-",
        "–": "-",
    }
)
_DMS = re.compile(r"^\s*(-)?\s*(\d+(?:\.\d+)?)(?:\s+(\d+(?:\.\d+)?))?(?:\s+(\d+(?:\.\d+)?))?\s*$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_coordinate(text: str) -> float:
    """One coordinate from text: decimal, DMS or degrees-decimal-minutes, any hemisphere mark.

    Returns NaN for an empty cell; raises ``ValueError`` when the text is not a coordinate.
    """
    s = clean_text(text)
    if not s:
        return float("nan")
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if not np.isfinite(value):
            raise ValueError(text)
        return value
    sign = 1
    upper = s.upper()
    for mark, mark_sign in _HEMISPHERES:
        if upper.startswith(mark) or upper.endswith(mark):
            sign = mark_sign
            upper = upper[len(mark) :] if upper.startswith(mark) else upper[: -len(mark)]
            break
    match = _DMS.match(upper.lower().translate(_SYMBOLS))
    if not match:
        raise ValueError(text)
    neg, deg, minutes, seconds = match.groups()
    parts = [p for p in (deg, minutes, seconds) if p is not None]
    # Only the last part may carry decimals; minutes and seconds stay below 60.
    if any("." in p for p in parts[:-1]):
        raise ValueError(text)
    values = [float(p) for p in parts]
    if any(v >= 60 for v in values[1:]):
        raise ValueError(text)
    value = values[0] + sum(v / 60**i for i, v in enumerate(values[1:], start=1))
    if neg and sign < 0:
        raise ValueError(text)
    return -value if (neg or sign < 0) else value


def parse_coordinates(values: pd.Series) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Floats for a column of coordinate text (NaN where empty) and a mask of unparseable cells.

    Plain decimals take a vectorised path; only the rest are parsed one distinct value at a time.
    """
    text = values.astype(object).where(values.notna(), "").astype(str)
    fast = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    out = np.where(np.isfinite(fast), fast, np.nan)
    slow = ~np.isfinite(fast) & (text.str.strip() != "").to_numpy()
    bad = np.zeros(len(text), dtype=bool)
    if slow.any():
        lookup: dict[str, float] = {}
        for value in pd.unique(text[slow]):
            try:
                lookup[value] = parse_coordinate(value)
            except ValueError:
                lookup[value] = np.inf  # marker: present but unparseable
        parsed = text[slow].map(lookup).to_numpy(dtype=float)
        bad[slow] = np.isinf(parsed)
        out[slow] = np.where(np.isinf(parsed), np.nan, parsed)
    return out, bad


_PAIR_SPLIT = re.compile(r"\s*[,;，；、|]\s*")
_HEMI_SPLIT = re.compile(r"(?<=[NSEW北南东西])\s*(?=[-\d东西南北NSEW])", re.IGNORECASE)


def split_pairs(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split cells that hold "lon,lat" (or "36°37'N 101°45'E") into two text columns.

    A value marked N/S (北纬/南纬) is taken as the latitude whatever its position.
    """
    firsts, seconds = [], []
    for raw in values.astype(object):
        s = clean_text(raw)
        parts = [p for p in _PAIR_SPLIT.split(s) if p] if s else []
        if len(parts) != 2 and s:
            parts = [p for p in _HEMI_SPLIT.split(s) if p]
        if len(parts) != 2 and s:
            parts = s.split()
        if len(parts) != 2:
            firsts.append(s)
            seconds.append("" if not s else "?")
            continue
        a, b = parts
        if re.search(r"[NS]$|^[NS]|[北南]纬", a.strip(), re.IGNORECASE):
            a, b = b, a
        firsts.append(a)
        seconds.append(b)
    return pd.Series(firsts, index=values.index), pd.Series(seconds, index=values.index)


# --- coordinate systems ----------------------------------------------------------------------

_EXTRA_CRS: dict[str, str] = {
    "wgs": WGS84,
    "gps坐标": WGS84,
    "天地图": CGCS2000,
    "国家2000坐标系": CGCS2000,
    "2000坐标系": CGCS2000,
    "大地2000": CGCS2000,
    "国测局": GCJ02,
    "高德坐标": GCJ02,
    "高德地图": GCJ02,
    "腾讯坐标": GCJ02,
    "腾讯地图": GCJ02,
    "火星": GCJ02,
    "百度坐标": BD09,
    "百度地图": BD09,
    "bd": BD09,
}
_GK_CM = re.compile(r"(?:cm|中央经线|中央子午线)\s*(\d{2,3})", re.IGNORECASE)


def _chinese_gauss_kruger(text: str) -> str | None:
    """EPSG code for Chinese descriptions like "2000国家大地坐标系 3度带 34带" or "CM 102E"."""
    key = text.lower().replace(" ", "")
    if not any(w in key for w in ("2000", "cgcs", "高斯", "gauss", "gk")):
        return None
    three = bool(re.search(r"(3|三)(度|°|degree)", key))
    cm = _GK_CM.search(key)
    if cm:
        meridian = int(cm.group(1))
        if three and 75 <= meridian <= 135 and meridian % 3 == 0:
            return f"EPSG:{4534 + (meridian - 75) // 3}"
        if not three and 75 <= meridian <= 135 and (meridian - 75) % 6 == 0:
            return f"EPSG:{4502 + (meridian - 75) // 6}"
    zone = re.search(r"(\d{2})带|zone(\d{2})", key)
    if zone:
        number = int(zone.group(1) or zone.group(2))
        if three and 25 <= number <= 45:
            return f"EPSG:{4513 + number - 25}"
        if not three and 13 <= number <= 23:
            return f"EPSG:{4491 + number - 13}"
    return None


@cache
def parse_crs(text: str) -> str:
    """Canonical label for a coordinate-system name from a user: WGS84, CGCS2000, GCJ-02, BD-09
    or ``EPSG:nnnn`` (also from a CRS name or the WKT of a ``.prj``).

    Raises :class:`InputError` with a message a planner can act on.
    """
    raw = clean_text(text)
    try:
        return normalize_crs(raw)
    except InputError as first:
        key = raw.lower().replace(" ", "").replace("-", "").replace("_", "")
        for suffix in ("坐标系统", "坐标系", "坐标", "系"):
            if key.endswith(suffix) and len(key) > len(suffix):
                try:
                    return normalize_crs(key[: -len(suffix)])
                except InputError:
                    pass
        if key in _EXTRA_CRS:
            return _EXTRA_CRS[key]
        gk = _chinese_gauss_kruger(raw)
        if gk:
            return gk
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(raw)
        except CRSError:
            raise first from None
        ellipsoid = crs.ellipsoid
        if ellipsoid is not None and abs(ellipsoid.semi_major_metre - 6_378_137.0) > 50_000:
            raise InputError(
                f"'{raw}' is {crs.name}, a coordinate system of another body than the Earth. "
                "Use WGS84, CGCS2000, GCJ-02, BD-09 or an EPSG code."
            ) from None
        return crs_label(crs)


def _is_cgcs2000_like(crs) -> bool:
    """A geographic CGCS2000 without an EPSG code (as some .prj files write it): a Chinese 2000
    name on the Earth's CGCS2000 ellipsoid, not any "2000" (ESRI's GCS_Mars_2000 is one)."""
    name = crs.name.lower().replace("_", " ")
    ellipsoid = crs.ellipsoid
    return bool(
        crs.is_geographic
        and "2000" in name
        and ("china" in name or "cgcs" in name)
        and ellipsoid is not None
        and abs(ellipsoid.semi_major_metre - 6_378_137.0) < 1.0
    )


def crs_label(crs: object) -> str:
    """Label for a pyproj CRS: a canonical name or ``EPSG:n``; the WKT when it has no code."""
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is None and _is_cgcs2000_like(crs):
        return CGCS2000
    if epsg is None:
        return crs.to_wkt()
    return {4326: WGS84, 4490: CGCS2000}.get(epsg, f"EPSG:{epsg}")


def checked_crs_label(crs: object) -> tuple[str | None, str | None]:
    """(:func:`crs_label`, None) for a file's coordinate system that can be converted to WGS84,
    else (None, why not): PROJ cannot read it (a garbled ``.prj``), or cannot convert from it
    (an unknown projection, a local engineering system)."""
    from pyproj.exceptions import ProjError

    try:
        label = crs_label(crs)
        if label not in _GEOGRAPHIC:
            _transformer(label)
    except ProjError as exc:
        # "Invalid projection: <the whole .prj>: (Internal Proj Error: <why>)": only the why
        why = re.search(r"Internal Proj Error: (.*?)\)?$", str(exc))
        return None, why.group(1) if why else str(exc)
    return label, None


@cache
def _transformer(label: str, *, inverse: bool = False):
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(label)
    if inverse:
        return Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_wgs84_any(x: ArrayLike, y: ArrayLike, label: str) -> tuple[NDArray, NDArray]:
    """Convert x/y in ``label`` (from :func:`parse_crs`) to WGS84 lon/lat; inf where impossible."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if label in _GEOGRAPHIC:
        return to_wgs84(x, y, label)
    lon, lat = _transformer(label).transform(x, y, errcheck=False)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def from_wgs84_any(lon: ArrayLike, lat: ArrayLike, label: str) -> tuple[NDArray, NDArray]:
    """WGS84 lon/lat back to ``label`` (to write coordinates as they were published)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if label in (WGS84, CGCS2000):
        return lon, lat
    if label == GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if label == BD09:
        return wgs84_to_bd09(lon, lat)
    x, y = _transformer(label, inverse=True).transform(lon, lat, errcheck=False)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def near_xining(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Mask of WGS84 points inside the generous box around Xining (:data:`NEAR_XINING`)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x0, y0, x1, y1 = NEAR_XINING
    with np.errstate(invalid="ignore"):
        return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def looks_projected(x: ArrayLike, y: ArrayLike) -> NDArray[np.bool_]:
    """Mask of values too large to be degrees (metres of a projected system)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    with np.errstate(invalid="ignore"):
        return (np.abs(x) > 1000) & (np.abs(y) > 1000)


def _gk_candidates(x: float) -> list[str]:
    if 1e7 <= x < 1e8:  # easting carries the zone number in front
        zone = int(x // 1e6)
        if 25 <= zone <= 45:
            return [f"EPSG:{4513 + zone - 25}"]
        if 13 <= zone <= 23:
            return [f"EPSG:{4491 + zone - 13}"]
        return []
    if 0 < x < 1e6:
        # Xining lies in the 3° zone of CM 102E and the 6° zone of CM 99E; neighbours for safety.
        return ["EPSG:4543", "EPSG:4506", "EPSG:4542", "EPSG:4544"]
    return []


def guess_gauss_kruger(x: ArrayLike, y: ArrayLike) -> tuple[str | None, bool]:
    """A CGCS2000 Gauss-Krüger system that puts most of these metres near Xining, and whether
    most points have x and y swapped (Chinese surveying writes X for north).
    ``(None, False)`` when none fits.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    votes: dict[tuple[str, bool], int] = {}
    for east, north in zip(x[ok][:1000], y[ok][:1000], strict=True):
        for swapped, (e, n) in ((False, (east, north)), (True, (north, east))):
            fit = next(
                (lab for lab in _gk_candidates(e) if near_xining(*to_wgs84_any([e], [n], lab))[0]),
                None,
            )
            if fit:
                votes[(fit, swapped)] = votes.get((fit, swapped), 0) + 1
                break
    if not votes:
        return None, False
    label = max(
        {lab for lab, _s in votes},
        key=lambda lab: votes.get((lab, False), 0) + votes.get((lab, True), 0),
    )
    return label, votes.get((label, True), 0) > votes.get((label, False), 0)
