"""Map extents in UTM 47N metres: projected bounds, padding, fitting axes limits, metres per
point of paper, and lon/lat points projected onto the map."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
from matplotlib.axes import Axes
from shapely.geometry import box

from maps.static.style import UTM
from viewmodel.mapspec import MapSpec


def _m_per_pt(ax: Axes) -> float:
    """Metres of map per point of paper (the axes have equal aspect)."""
    x0, x1 = ax.get_xlim()
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    return (x1 - x0) / width_pt


def _padded(bounds_m: Sequence[float], pad: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = bounds_m
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return x0 - w * pad, y0 - h * pad, x1 + w * pad, y1 + h * pad


def _ratio(bounds_m: Sequence[float]) -> float:
    x0, y0, x1, y1 = bounds_m
    return max(x1 - x0, 1.0) / max(y1 - y0, 1.0)


def _fit_limits(ax: Axes, bounds_m: Sequence[float]) -> None:
    """Axes limits covering ``bounds_m``, stretched to the axes' shape (equal aspect)."""
    x0, y0, x1, y1 = bounds_m
    pos = ax.get_position()
    box_ratio = (pos.width * ax.figure.get_figwidth()) / (pos.height * ax.figure.get_figheight())
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if w / h < box_ratio:
        w = h * box_ratio
    else:
        h = w / box_ratio
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")


def _projected_bounds(spec: MapSpec) -> tuple[float, float, float, float]:
    if spec.bounds is not None:
        frame = gpd.GeoSeries([box(*spec.bounds)], crs="EPSG:4326")
    else:
        frame = spec.units.geometry
    return tuple(float(v) for v in frame.to_crs(UTM).total_bounds)


def _in_extent(x: float, y: float, extent: Sequence[float] | None) -> bool:
    return extent is not None and extent[0] <= x <= extent[2] and extent[1] <= y <= extent[3]


def _project_points(points: Sequence[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    if not points:
        return []
    pts = gpd.GeoSeries(gpd.points_from_xy([p[0] for p in points], [p[1] for p in points]))
    pts = pts.set_crs("EPSG:4326").to_crs(UTM)
    return [(float(g.x), float(g.y), p[2]) for g, p in zip(pts, points, strict=True)]


def _centre_lonlat(bounds_m: Sequence[float]) -> tuple[float, float]:
    c = gpd.GeoSeries(
        gpd.points_from_xy([(bounds_m[0] + bounds_m[2]) / 2], [(bounds_m[1] + bounds_m[3]) / 2]),
        crs=UTM,
    ).to_crs("EPSG:4326")
    return float(c.iloc[0].x), float(c.iloc[0].y)
