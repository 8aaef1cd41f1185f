"""Figure assembly: one map in its axes (:func:`draw_map`), the map panel with inset, legend and
notes (:func:`map_panel`), and the landscape page with title and source (:func:`map_figure`).

Only ``matplotlib.figure.Figure`` (no pyplot, no rcParams), so it is safe in script threads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from maps.static.captions import source_text
from maps.static.extent import (
    _centre_lonlat,
    _fit_limits,
    _m_per_pt,
    _padded,
    _projected_bounds,
    _ratio,
)
from maps.static.fonts import font, text_width, wrap
from maps.static.inset import _inset_caption, inset_extent
from maps.static.labels import _draw_labels
from maps.static.legend import _Column, draw_legend, draw_notes
from maps.static.scalebar import draw_north_arrow, draw_scale_bar, north_angle_deg
from maps.static.sites import _draw_sites, _draw_stars, _star_points
from maps.static.style import FRAME, INK, MUTED, SLIDE_INCHES, UTM, Style, _halo
from maps.static.units import _draw_outline, _draw_units
from viewmodel.mapspec import MapSpec


def draw_map(
    ax: Axes,
    spec: MapSpec,
    style: Style,
    *,
    extent: Sequence[float] | None = None,
    north: bool = True,
    hide_labels_in: Sequence[float] | None = None,
    mark_extent: Sequence[float] | None = None,
    mark_label: str = "",
) -> dict:
    """Draw the spec's map into ``ax``: UTM 47N, equal aspect, north arrow and scale bar.

    ``extent`` (projected, padded already) overrides the spec's bounds (an inset). Labels inside
    ``hide_labels_in`` are left to an inset, whose extent ``mark_extent`` is outlined here.
    Returns facts used by tests and the brief: ``crs``, ``extent``, ``scale_bar_m``,
    ``north_deg``, ``n_sites_drawn``, ``labels``.
    """
    ax.set_facecolor("white")
    extent = tuple(extent) if extent is not None else _padded(_projected_bounds(spec), 0.04)
    _fit_limits(ax, extent)
    _draw_units(ax, spec, style)
    _draw_outline(ax, spec, style)
    _fit_limits(ax, extent)  # geopandas plotting moves the limits
    stars = _star_points(spec)
    drawn = _draw_sites(ax, spec, style, stars)
    _draw_stars(ax, stars, style)
    r = style.marker * 0.5 * _m_per_pt(ax)
    marks = [(x - r, y - r, x + r, y + r) for x, y in np.vstack([drawn, stars])]
    labels = _draw_labels(ax, spec, style, hide_in=hide_labels_in, obstacles=marks)
    if mark_extent is not None:
        mx0, my0, mx1, my1 = mark_extent
        ax.add_patch(
            Rectangle(
                (mx0, my0),
                mx1 - mx0,
                my1 - my0,
                fill=False,
                edgecolor=INK,
                linewidth=1.2 * style.scale,
                linestyle=(0, (4, 2)),
                zorder=9,
            )
        )
        if mark_label:
            ax.text(
                mx1,
                my0,
                mark_label,
                ha="left",
                va="top",
                color=INK,
                parse_math=False,
                fontproperties=font(style.label * 0.85),
                path_effects=_halo(2.5 * style.scale),
                zorder=9,
            )
    _fit_limits(ax, extent)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_color(FRAME)
        spine.set_linewidth(0.8 * style.scale)
    (xa, xb), (ya, yb) = ax.get_xlim(), ax.get_ylim()
    angle = north_angle_deg(_centre_lonlat((xa, ya, xb, yb)))
    if north:
        draw_north_arrow(ax, style, angle)
    _, _, length = draw_scale_bar(ax, style)
    return {
        "crs": UTM,
        "extent": (*ax.get_xlim(), *ax.get_ylim()),
        "scale_bar_m": length,
        "north_deg": angle,
        "n_sites_drawn": len(drawn),
        "labels": labels,
    }


def map_panel(
    fig: Figure,
    spec: MapSpec,
    style: Style,
    rect: tuple[float, float, float, float],
    *,
    notes: bool = True,
    legend_in: tuple[float, float] = (3.5, 4.6),
    gap_in: float = 0.25,
) -> dict:
    """Map, optional urban inset, legend and notes laid out inside ``rect`` (figure fraction).

    The map's axes take the map's own shape (no empty margins), the legend and notes get their
    own axes beside it, so nothing ever covers the map.
    """
    fw, fh = fig.get_figwidth(), fig.get_figheight()
    x, y, w, h = rect
    W, H = w * fw, h * fh
    s = style.scale
    gap = gap_in * s
    leg_min, leg_max = legend_in[0] * s, legend_in[1] * s
    extent = _padded(_projected_bounds(spec), 0.04)
    inset = inset_extent(spec)
    inset_w = inset_h = 0.0
    map_w = min(H * _ratio(extent), W - leg_min - gap)
    if inset is not None:
        inset = _padded(inset, 0.1)
        ir = _ratio(inset)
        map_w = min(H * _ratio(extent), W - leg_min - gap - (2.6 * s + gap))
        inset_w = min(W - map_w - leg_min - 2 * gap, H * (0.6 if notes else 0.9) * ir)
        inset_h = inset_w / ir
    middle = inset_w + gap if inset is not None else 0.0
    leg_w = min(leg_max, W - map_w - gap - middle)
    x += max(0.0, W - map_w - gap - middle - leg_w) / 2 / fw  # centre what is left over
    facts: dict = {}
    ax = fig.add_axes((x, y, map_w / fw, h))
    facts.update(
        draw_map(
            ax,
            spec,
            style,
            extent=extent,
            hide_labels_in=inset,
            mark_extent=inset,
            mark_label="",
        )
    )
    facts["map_axes"] = ax
    left = x + (map_w + gap) / fw
    note_ax = None
    if inset is not None:
        cap = style.legend_title * 1.6
        iax = fig.add_axes((left, y + h - (inset_h + cap / 72) / fh, inset_w / fw, inset_h / fh))
        facts["inset"] = draw_map(iax, spec, style, extent=inset, north=False)
        fig.text(
            left,
            y + h - (style.legend_title * 0.2) / 72 / fh,
            _inset_caption(spec.lang),
            ha="left",
            va="top",
            color=INK,
            parse_math=False,
            fontproperties=font(style.legend_title),
        )
        below = h - (inset_h + cap / 72 + 0.15 * s) / fh
        if notes and below > 0.05:
            note_ax = fig.add_axes((left, y, inset_w / fw, below))
        left += (inset_w + gap) / fw
    lax = fig.add_axes((left, y, leg_w / fw, h))
    col = _Column(lax)
    draw_legend(col, spec, style)
    facts["legend_overflow_pt"] = max(0.0, col.y - col.h_pt)
    facts["notes_overflow_pt"] = 0.0
    if notes and spec.notes:
        col.y += style.legend * 0.9
        spots = [_Column(note_ax)] if note_ax is not None else []
        spots.append(col)
        for shrink in (1.0, 0.92, 0.85, 0.78, 0.72):
            fits = [
                c
                for c in spots
                if c.y + draw_notes(c, spec, style, shrink=shrink, dry=True) <= c.h_pt
            ]
            if fits:
                draw_notes(fits[0], spec, style, shrink=shrink)
                break
        else:
            c = spots[0]
            need = draw_notes(c, spec, style, shrink=shrink)
            facts["notes_overflow_pt"] = max(0.0, c.y - c.h_pt)
            del need
    elif note_ax is not None:
        note_ax.set_axis_off()
    return facts


def map_figure(
    spec: MapSpec,
    *,
    title: str,
    subtitle: str = "",
    data_date: str = "",
    source: str | None = None,
    width_in: float = SLIDE_INCHES[0],
    height_in: float = SLIDE_INCHES[1],
) -> tuple[Figure, dict]:
    """A landscape figure: title and data date, map (+ urban inset), legend and notes beside
    it, the source line below. Sizes scale with the page width (a 12.8 in slide is 1:1)."""
    scale = width_in / SLIDE_INCHES[0]
    style = Style().scaled(scale)
    fig = Figure(figsize=(width_in, height_in), facecolor="white")
    h_pt = height_in * 72
    margin = 0.022
    top = 1 - 18 * scale / h_pt
    fig.text(
        margin,
        top,
        title,
        ha="left",
        va="top",
        color=INK,
        parse_math=False,
        fontproperties=font(style.title),
    )
    if subtitle:
        fig.text(
            margin,
            top - style.title * 1.32 / h_pt,
            subtitle,
            ha="left",
            va="top",
            color="#333333",
            parse_math=False,
            fontproperties=font(style.subtitle),
        )
    if data_date:
        room = width_in * 72 * (1 - 2 * margin) - text_width(title, style.title)
        on_title = room > text_width(data_date, style.meta) + 24 * scale
        line = 0.0 if on_title else style.title * 1.32 + (style.subtitle - style.meta) * 0.5
        fig.text(
            1 - margin,
            top - ((style.title - style.meta) * 0.5 if on_title else line) / h_pt,
            data_date,
            ha="right",
            va="top",
            color=MUTED,
            parse_math=False,
            fontproperties=font(style.meta),
        )
    header_pt = 18 * scale + style.title * 1.32 + (style.subtitle * 1.5 if subtitle else 0)
    source = source_text(spec.lang) if source is None else source
    foot = wrap(source, width_in * 72 * (1 - 2 * margin), style.footer) if source else []
    for i, line in enumerate(reversed(foot)):
        fig.text(
            margin,
            (10 * scale + i * style.footer * 1.35) / h_pt,
            line,
            ha="left",
            va="bottom",
            color=MUTED,
            parse_math=False,
            fontproperties=font(style.footer),
        )
    bottom = (10 * scale + len(foot) * style.footer * 1.35 + 8 * scale) / h_pt
    map_top = 1 - (header_pt + 12 * scale) / h_pt
    facts = map_panel(fig, spec, style, (margin, bottom, 1 - 2 * margin, map_top - bottom))
    return fig, facts
