"""Site markers and pilot-town stars: glyph discs per layer, sites at one place spread on rings,
plain dots when there are thousands."""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from layers.schema import APPROXIMATE, LAYERS
from maps.static.extent import _m_per_pt, _project_points
from maps.static.fonts import font
from maps.static.style import STAR, UTM, Style
from viewmodel.mapspec import MapSpec

MANY_SITES = 1500  # above this many sites, markers are plain dots (no glyphs, not spread)


def _ring_offsets(n: int, reserve_centre: bool) -> list[tuple[float, float]]:
    """Offsets (in marker spacings) for ``n`` markers at one place: centre, then hex rings."""
    out: list[tuple[float, float]] = [] if reserve_centre else [(0.0, 0.0)]
    ring = 1
    while len(out) < n:
        count = 6 * ring
        for i in range(count):
            a = math.pi / 2 + 2 * math.pi * i / count
            out.append((ring * math.cos(a), ring * math.sin(a)))
        ring += 1
    return out[:n]


def site_positions(
    sites: gpd.GeoDataFrame, *, spacing_m: float, reserved: Sequence[tuple[float, float]] = ()
) -> np.ndarray:
    """Drawing positions (projected) for sites; sites at one place are spread around it.

    Most sites sit at a township or county seat, so many share one point; stacked markers would
    hide all but one. ``reserved`` places (pilot-town stars) keep their centre free.
    """
    xy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
    out = xy.copy()
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(xy):
        groups.setdefault((round(x), round(y)), []).append(i)
    res = np.array(reserved, dtype=float).reshape(-1, 2)
    for members in groups.values():
        x, y = xy[members[0]]
        near_star = bool(len(res)) and float(np.min(np.hypot(*(res - (x, y)).T))) < spacing_m
        if len(members) == 1 and not near_star:
            continue
        for i, (dx, dy) in zip(members, _ring_offsets(len(members), near_star)):
            out[i] = (x + dx * spacing_m, y + dy * spacing_m)
    return out


def draw_site_markers(
    ax: Axes,
    xs: Sequence[float],
    ys: Sequence[float],
    layer: str,
    *,
    approx: bool,
    sample: bool,
    size: float,
    transform=None,
    zorder: float = 5,
    glyphs: bool = True,
) -> None:
    """Site markers of one kind: discs in the layer colour with its glyph; hollow when the
    location is approximate, dashed edge for sample records (the interactive map's marks)."""
    lay = LAYERS[layer]
    kw = {"transform": transform} if transform is not None else {}
    ax.scatter(
        xs,
        ys,
        s=size**2,
        c="white" if approx else lay.color,
        edgecolors=lay.color,
        linewidths=max(1.1, size * 0.1),
        linestyles=[(0, (2.0, 1.3))] if sample else "solid",
        alpha=0.85 if sample else 1.0,
        zorder=zorder,
        **kw,
    )
    if not glyphs:
        return
    glyph = font(size * 0.56)
    for x, y in zip(xs, ys):
        ax.text(
            x,
            y,
            lay.glyph,
            ha="center",
            va="center_baseline",
            color=lay.color if approx else "white",
            parse_math=False,
            fontproperties=glyph,
            zorder=zorder + 0.1,
            clip_on=True,
            **kw,
        )


def _draw_sites(ax: Axes, spec: MapSpec, style: Style, stars_m: np.ndarray) -> np.ndarray:
    """Draw the sites; returns the drawn marker centres (n × 2, metres)."""
    none = np.empty((0, 2))
    if spec.sites is None or spec.sites.empty:
        return none
    sites = spec.sites[spec.sites.geometry.notna() & ~spec.sites.geometry.is_empty]
    if sites.empty:
        return none
    sites = sites.to_crs(UTM)
    many = len(sites) > MANY_SITES  # thousands: small plain dots, no glyphs, no spreading
    size = style.marker * (0.45 if many else 1.0)
    if many:
        pos = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
    else:
        spacing = style.marker * 1.06 * _m_per_pt(ax)
        pos = site_positions(sites, spacing_m=spacing, reserved=[tuple(p) for p in stars_m])
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    inside = (pos[:, 0] >= x0) & (pos[:, 0] <= x1) & (pos[:, 1] >= y0) & (pos[:, 1] <= y1)
    kinds = pd.DataFrame(
        {
            "layer": sites["layer"].to_numpy(),
            "approx": sites["location_precision"].isin(APPROXIMATE).to_numpy(),
            "sample": sites["is_sample"].fillna(False).astype(bool).to_numpy(),
            "x": pos[:, 0],
            "y": pos[:, 1],
        }
    )[inside]
    # samples first (underneath), then real sites; layers in their fixed order
    for sample in (True, False):
        for layer in LAYERS:
            for approx in (True, False):
                part = kinds[
                    (kinds["sample"] == sample)
                    & (kinds["layer"] == layer)
                    & (kinds["approx"] == approx)
                ]
                if part.empty:
                    continue
                draw_site_markers(
                    ax,
                    part["x"].to_numpy(),
                    part["y"].to_numpy(),
                    layer,
                    approx=approx,
                    sample=sample,
                    size=size,
                    zorder=5 if sample else 5.5,
                    glyphs=not many,
                )
    return pos[inside]


def _star_points(spec: MapSpec) -> np.ndarray:
    pts = _project_points(spec.highlights)
    return np.array([(x, y) for x, y, _ in pts], dtype=float).reshape(-1, 2)


def _draw_stars(ax: Axes, stars: np.ndarray, style: Style) -> None:
    if not len(stars):
        return
    ax.scatter(
        stars[:, 0],
        stars[:, 1],
        s=(style.marker * 1.35) ** 2,
        marker="*",
        c=STAR,
        edgecolors="white",
        linewidths=1.0 * style.scale,
        zorder=7,
    )
