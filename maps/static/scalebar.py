"""Scale bar (true metres of UTM 47N, round lengths) and the north arrow, turned by the grid
convergence."""

from __future__ import annotations

import math

import geopandas as gpd
from matplotlib.axes import Axes
from matplotlib.patches import Polygon, Rectangle

from maps.static.extent import _m_per_pt
from maps.static.fonts import font, text_width
from maps.static.style import INK, UTM, Style, _halo


def nice_length_m(span_m: float, fraction: float = 0.22) -> float:
    """A round scale-bar length (1, 2, 4 or 5 × 10^k metres) near ``fraction`` of the span.

    Its half (the middle tick) is round too: 0.5, 1, 2 or 2.5 × 10^k.
    """
    target = span_m * fraction
    k = 10 ** math.floor(math.log10(target))
    best = k
    for m in (1, 2, 4, 5, 10):
        if m * k <= target:
            best = m * k
    return float(best)


def draw_scale_bar(ax: Axes, style: Style) -> tuple[float, float, float]:
    """Scale bar in the lower left corner, in metres of UTM 47N. Returns (x0, y0, length_m)."""
    x0, x1 = ax.get_xlim()
    y0, _ = ax.get_ylim()
    mpp = _m_per_pt(ax)
    length = nice_length_m(x1 - x0)
    left = x0 + 16 * style.scale * mpp
    bottom = y0 + 14 * style.scale * mpp
    height = 5.0 * style.scale * mpp
    fs = style.legend * 0.85
    pad = 6 * style.scale * mpp
    last = f"{length / 1000:g} km"
    ax.add_patch(
        Rectangle(
            (left - pad, bottom - pad),
            length + 2 * pad + text_width(last, fs) * 0.5 * mpp,
            height + 2 * pad + fs * 1.4 * mpp,
            facecolor="white",
            edgecolor="none",
            alpha=0.85,
            zorder=9,
        )
    )
    seg = length / 4
    for i in range(4):
        ax.add_patch(
            Rectangle(
                (left + i * seg, bottom),
                seg,
                height,
                facecolor=INK if i % 2 == 0 else "white",
                edgecolor=INK,
                linewidth=0.7 * style.scale,
                zorder=10,
            )
        )
    ticks = (0, length / 2, length) if length / mpp > 60 * style.scale else (0, length)
    for tick in ticks:
        ax.text(
            left + tick,
            bottom + height + 2.5 * style.scale * mpp,
            last if tick == length else f"{tick / 1000:g}",
            ha="center",
            va="bottom",
            color=INK,
            parse_math=False,
            fontproperties=font(fs),
            zorder=11,
        )
    return left, bottom, length


def north_angle_deg(center_lonlat: tuple[float, float]) -> float:
    """Angle (degrees, counter-clockwise from grid up) of true north at a point in UTM 47N."""
    lon, lat = center_lonlat
    pts = gpd.GeoSeries(gpd.points_from_xy([lon, lon], [lat, lat + 0.05]), crs="EPSG:4326")
    a, b = pts.to_crs(UTM)
    return math.degrees(math.atan2(-(b.x - a.x), b.y - a.y))


def draw_north_arrow(ax: Axes, style: Style, angle_deg: float) -> None:
    """A two-tone north arrow in the upper right corner, turned to true north."""
    _, x1 = ax.get_xlim()
    _, y1 = ax.get_ylim()
    mpp = _m_per_pt(ax)
    size = 30 * style.scale * mpp
    cx = x1 - 28 * style.scale * mpp
    cy = y1 - 50 * style.scale * mpp
    a = math.radians(angle_deg)

    def rot(px: float, py: float) -> tuple[float, float]:
        return (
            cx + px * math.cos(a) - py * math.sin(a),
            cy + px * math.sin(a) + py * math.cos(a),
        )

    tip, tail = (0.0, size * 0.6), (0.0, -size * 0.4)
    left, right = (-size * 0.3, -size * 0.55), (size * 0.3, -size * 0.55)
    lw = 0.9 * style.scale
    for side, face in ((left, INK), (right, "white")):
        ax.add_patch(
            Polygon(
                [rot(*tip), rot(*side), rot(*tail)], closed=True, fc=face, ec=INK, lw=lw, zorder=10
            )
        )
    nx, ny = rot(0, size * 0.6 + 11 * style.scale * mpp)
    ax.text(
        nx,
        ny,
        "N",
        ha="center",
        va="center",
        color=INK,
        parse_math=False,
        fontproperties=font(style.legend * 1.15),
        path_effects=_halo(2.5 * style.scale),
        rotation=angle_deg,
        zorder=11,
    )
