"""MapSpec → static map images: PNG for slides, PDF and SVG for print. No streamlit.

The interactive map (maps.render) and these images draw the same :class:`~maps.render.MapSpec`,
computed once by ``viewmodel.views.build_view``: same units, class colours, legend rows, labels,
site glyphs and caveats. Drawing happens in UTM 47N (EPSG:32647), so the scale bar is in true
metres and the north arrow is turned by the grid convergence at the map centre.

Chinese text is set in Noto Sans CJK SC, shipped by the PyPI package ``noto-cjk-sans-otc``
(installed with requirements.txt, nothing fetched at run time). The font file is registered
with matplotlib's font manager and every text names that file and face, so a missing font is an
error, never a silent fallback to empty boxes.

Only ``matplotlib.figure.Figure`` is used (no pyplot, no global rcParams changes), so renders
are safe in Streamlit's script threads.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import font_manager, ft2font
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.patheffects import withStroke
from shapely.geometry import box

from layers.schema import APPROXIMATE, LAYERS
from viewmodel.i18n import t
from viewmodel.mapspec import MapSpec

UTM = "EPSG:32647"  # UTM zone 47N: metres, for the scale bar (never degrees)
CJK_FAMILY = "Noto Sans CJK SC"
FORMATS = ("png", "pdf", "svg")
SLIDE_INCHES = (12.8, 7.2)  # a 16:9 slide; PNG pixel sizes set the dpi on this canvas
SIZES: dict[str, tuple[int, int]] = {"1080p": (1920, 1080), "4k": (3840, 2160)}
DEFAULT_SIZE = SIZES["1080p"]
PAPERS: dict[str, tuple[float, float]] = {  # landscape, inches
    "a4": (11.69, 8.27),
    "a3": (16.54, 11.69),
    "slide": SLIDE_INCHES,
}
MIN_PIXELS, MAX_PIXELS = (640, 360), (7680, 4320)
ASPECT_RANGE = (1.2, 2.5)  # width / height of a static map image
MANY_SITES = 1500  # above this many sites, markers are plain dots (no glyphs, not spread)

INK = "#1b1b1b"
MUTED = "#555555"
FRAME = "#8a8a8a"
STAR = "#c00000"
CREATOR = "Xining county innovation map (maps.static)"


# ---------------------------------------------------------------- font -----------------------


@lru_cache(maxsize=1)
def cjk_font_path() -> font_manager.FontPath:
    """The bundled CJK font file and the face index of Noto Sans CJK SC, registered once.

    Raises ``RuntimeError`` if the font package is missing: images without Chinese glyphs
    (rows of empty boxes) are worse than no image.
    """
    try:
        import noto_cjk_sans_otc
    except ImportError as exc:  # pragma: no cover - guarded by requirements.txt
        raise RuntimeError(
            "The CJK font package 'noto-cjk-sans-otc' is not installed: run scripts/setup.sh"
        ) from exc
    path = Path(str(noto_cjk_sans_otc.FONT_PATH)).resolve()
    if not path.is_file():  # pragma: no cover
        raise RuntimeError(f"CJK font file missing: {path}")
    font_manager.fontManager.addfont(str(path))
    for entry in font_manager.fontManager.ttflist:
        if entry.name == CJK_FAMILY and Path(entry.fname).resolve() == path:
            return font_manager.FontPath(str(path), entry.index)
    raise RuntimeError(f"{CJK_FAMILY} not found in {path}")  # pragma: no cover


def font(size: float) -> font_manager.FontProperties:
    """Noto Sans CJK SC at ``size`` points, selected by file and face (no fallback)."""
    return font_manager.FontProperties(fname=cjk_font_path(), size=size)


@lru_cache(maxsize=1)
def _metrics_font() -> ft2font.FT2Font:
    """A private FT2Font of the CJK face at 100 pt (for advance widths)."""
    path = cjk_font_path()
    face = ft2font.FT2Font(path.path, face_index=path.face_index)
    face.set_size(100, 72)
    return face


_METRICS_LOCK = threading.Lock()


@lru_cache(maxsize=8192)
def _advance(ch: str) -> float:
    """Advance width of one character at 1 pt."""
    with _METRICS_LOCK:
        glyph = _metrics_font().load_char(ord(ch), flags=ft2font.LoadFlags.NO_HINTING)
    return glyph.linearHoriAdvance / 65536 / 100


def text_width(text: str, size: float) -> float:
    """Width of ``text`` in points when set in the CJK font at ``size`` (sum of advances)."""
    return size * sum(_advance(ch) for ch in str(text))


_NO_LINE_START = set("，。、；：？！）》」』】〕,.;:?!)]%％·…")


def _tokens(text: str) -> list[str]:
    """Break points: every CJK character, latin words with their trailing space."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) < 0x2E80 and not ch.isspace():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        if ch.isspace():
            if out:
                out[-1] += " "
        elif out and ch in _NO_LINE_START:
            out[-1] += ch
        else:
            out.append(ch)
    if word:
        out.append(word)
    # closing punctuation never starts a line
    merged: list[str] = []
    for tok in out:
        if merged and tok[0] in _NO_LINE_START:
            merged[-1] += tok
        else:
            merged.append(tok)
    return merged


def wrap(text: str, width_pt: float, size: float, *, max_lines: int | None = None) -> list[str]:
    """Greedy line breaking of Chinese and English text to ``width_pt`` points."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        line = ""
        for tok in _tokens(para):
            trial = line + tok
            if line and text_width(trial.rstrip(), size) > width_pt:
                lines.append(line.rstrip())
                line = tok.lstrip()
            else:
                line = trial
        lines.append(line.rstrip())
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "…", size) > width_pt:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


# ---------------------------------------------------------------- style ----------------------


@dataclass(frozen=True)
class Style:
    """Sizes in points for one canvas (``scale`` also multiplies line widths and gaps)."""

    scale: float = 1.0
    title: float = 26
    subtitle: float = 15
    meta: float = 12
    legend_title: float = 13.5
    legend: float = 12.5
    note: float = 11
    label: float = 13
    marker: float = 15  # site marker diameter
    footer: float = 9.5

    def scaled(self, factor: float) -> Style:
        """Every size times ``factor`` (a larger or smaller page with the same layout)."""
        values = {f.name: getattr(self, f.name) * factor for f in fields(self)}
        return replace(self, **values)


BRIEF_STYLE = Style(
    scale=1.0,
    title=18,
    subtitle=10,
    meta=9,
    legend_title=9.5,
    legend=8.8,
    note=8,
    label=9,
    marker=11,
    footer=7,
)


# ---------------------------------------------------------------- map ------------------------


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


def inset_extent(spec: MapSpec, *, share: float = 0.05) -> tuple[float, float, float, float] | None:
    """Projected extent of the small urban districts, when a city-wide map needs an inset.

    Counties (the units of a county map, or the outline of a township map) smaller than
    ``share`` of the city's area are unreadable at city scale; if two or more exist and not all
    counties are small, the map gets an enlarged inset of them.
    """
    counties = spec.outline if spec.outline is not None else spec.units
    if counties is None or len(counties) < 3:
        return None
    counties = counties[counties.geometry.notna() & ~counties.geometry.is_empty].to_crs(UTM)
    area = counties.area
    small = counties[area < share * area.sum()]
    if len(small) < 2 or len(small) == len(counties):
        return None
    return tuple(float(v) for v in small.total_bounds)


def _halo(width: float = 3.0) -> list:
    return [withStroke(linewidth=width, foreground="white")]


def _draw_units(ax: Axes, spec: MapSpec, style: Style) -> None:
    units = spec.units[spec.units.geometry.notna() & ~spec.units.geometry.is_empty]
    units = units.to_crs(UTM)
    outline = spec.outline.to_crs(UTM) if spec.outline is not None else None
    if units.empty and outline is not None and not outline.empty:
        outline.plot(ax=ax, color="#f1f1ee", edgecolor="none", zorder=1)
    if units.empty:
        return
    units.plot(ax=ax, color=list(units["fill"]), edgecolor="none", zorder=1)
    approx = units["geometry_source"].astype(str).str.startswith("approx")
    bold = units["code"].isin(list(spec.bold_codes))
    lw = style.scale
    if (~approx).any():
        units[~approx].boundary.plot(ax=ax, color="#333333", linewidth=0.9 * lw, zorder=2)
    if approx.any():
        units[approx].boundary.plot(
            ax=ax, color=MUTED, linewidth=0.7 * lw, linestyle=(0, (4, 3)), zorder=2
        )
    if bold.any():
        units[bold].boundary.plot(ax=ax, color="#222222", linewidth=3.0 * lw, zorder=3)


def _draw_outline(ax: Axes, spec: MapSpec, style: Style) -> None:
    if spec.outline is None or spec.outline.empty:
        return
    spec.outline.to_crs(UTM).boundary.plot(
        ax=ax, color="#111111", linewidth=2.0 * style.scale, zorder=3
    )


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


def _in_extent(x: float, y: float, extent: Sequence[float] | None) -> bool:
    return extent is not None and extent[0] <= x <= extent[2] and extent[1] <= y <= extent[3]


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


def _project_points(points: Sequence[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    if not points:
        return []
    pts = gpd.GeoSeries(gpd.points_from_xy([p[0] for p in points], [p[1] for p in points]))
    pts = pts.set_crs("EPSG:4326").to_crs(UTM)
    return [(float(g.x), float(g.y), p[2]) for g, p in zip(pts, points, strict=True)]


def _overlaps(b: Sequence[float], boxes: Sequence[Sequence[float]]) -> bool:
    return any(b[0] < p[2] and p[0] < b[2] and b[1] < p[3] and p[1] < b[3] for p in boxes)


def place_labels(
    labels: Sequence[tuple[float, float, str]],
    *,
    m_per_pt: float,
    size: float,
    obstacles: Sequence[Sequence[float]] = (),
) -> list[tuple[float, float, str]]:
    """Move labels off earlier labels and, where possible, off markers (greedy).

    Tries the anchor, then above/below, left/right and further out: the first spot clear of
    labels and ``obstacles`` (marker boxes) wins, else the first clear of labels, else the
    anchor. Positions in metres; text boxes measured in points.
    """
    placed: list[tuple[float, float, float, float]] = []
    out = []
    h = size * 1.25 * m_per_pt
    for x, y, text in labels:
        w = (text_width(text, size) + size * 0.5) * m_per_pt
        tries = [(0, 0), (0, h), (0, -h), (w * 0.6, 0), (-w * 0.6, 0), (0, 2 * h), (0, -2 * h)]
        tries += [(w * 0.6, h), (-w * 0.6, -h), (w * 0.6, -h), (-w * 0.6, h)]
        boxes = [
            (x + dx - w / 2, y + dy - h / 2, x + dx + w / 2, y + dy + h / 2) for dx, dy in tries
        ]
        free = [i for i, b in enumerate(boxes) if not _overlaps(b, placed)]
        clear = [i for i in free if not _overlaps(boxes[i], obstacles)]
        pick = clear[0] if clear else (free[0] if free else 0)
        placed.append(boxes[pick])
        out.append((x + tries[pick][0], y + tries[pick][1], text))
    return out


def _draw_labels(
    ax: Axes,
    spec: MapSpec,
    style: Style,
    *,
    hide_in: Sequence[float] | None = None,
    obstacles: Sequence[Sequence[float]] = (),
) -> list[tuple[float, float, str]]:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    pts = [
        p
        for p in _project_points(spec.labels)
        if _in_extent(p[0], p[1], (x0, y0, x1, y1)) and not _in_extent(p[0], p[1], hide_in)
    ]
    pts = place_labels(pts, m_per_pt=_m_per_pt(ax), size=style.label, obstacles=obstacles)
    for x, y, text in pts:
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            color=INK,
            parse_math=False,
            fontproperties=font(style.label),
            path_effects=_halo(3.2 * style.scale),
            zorder=8,
            clip_on=True,
        )
    return pts


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


def _centre_lonlat(bounds_m: Sequence[float]) -> tuple[float, float]:
    c = gpd.GeoSeries(
        gpd.points_from_xy([(bounds_m[0] + bounds_m[2]) / 2], [(bounds_m[1] + bounds_m[3]) / 2]),
        crs=UTM,
    ).to_crs("EPSG:4326")
    return float(c.iloc[0].x), float(c.iloc[0].y)


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


def _inset_caption(lang: str) -> str:
    return "城区放大" if lang != "en" else "Urban districts, enlarged"


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


# ---------------------------------------------------------------- legend ---------------------


def _legend_texts(lang: str) -> dict[str, str]:
    zh = lang != "en"
    return {
        "hollow": "空心: 位置近似(驻地)" if zh else "Hollow: approximate location (seat)",
        "dashed": "虚线: 示例数据" if zh else "Dashed: sample record",
        "star": "创新驱动试点镇" if zh else "Pilot town",
        "bold": "粗边框: 试点县区" if zh else "Thick outline: pilot county",
        "zones": "虚线边界: 近似乡镇范围" if zh else "Dashed border: approximate township zone",
        "notes": "说明" if zh else "Notes",
    }


class _Column:
    """Rows stacked downwards in an axes used as a panel, measured in points from its top."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        ax.set_axis_off()
        pos = ax.get_position()
        self.w_pt = pos.width * ax.figure.get_figwidth() * 72
        self.h_pt = pos.height * ax.figure.get_figheight() * 72
        self.y = 0.0  # points below the top

    def xy(self, x_pt: float, y_pt: float) -> tuple[float, float]:
        return x_pt / self.w_pt, 1 - y_pt / self.h_pt

    def text(self, x_pt: float, text: str, size: float, *, line: float = 1.0, **kw) -> None:
        """``text`` on the current row (whose height is ``size * line * 1.3``)."""
        x, y = self.xy(x_pt, self.y + size * 0.65 * line + size * 0.15)
        kw.setdefault("color", INK)
        self.ax.text(
            x,
            y,
            text,
            transform=self.ax.transAxes,
            va="center_baseline",
            ha="left",
            parse_math=False,
            fontproperties=font(size),
            **kw,
        )

    def lines(self, x_pt: float, text: str, size: float, *, gap: float = 1.36, **kw) -> None:
        for line in wrap(text, self.w_pt - x_pt - 2, size):
            self.text(x_pt, line, size, **kw)
            self.y += size * gap


def _symbol_rows(spec: MapSpec) -> list[tuple[str, dict]]:
    texts = _legend_texts(spec.lang)
    rows: list[tuple[str, dict]] = []
    sites = spec.sites
    if sites is not None and not sites.empty:
        drawn = sites[sites.geometry.notna() & ~sites.geometry.is_empty]
        for key, layer in LAYERS.items():
            n = int((drawn["layer"] == key).sum())
            if n:
                name = layer.zh if spec.lang != "en" else layer.en
                rows.append((f"{name} ({n})", {"layer": key, "approx": False, "sample": False}))
        if drawn["location_precision"].isin(APPROXIMATE).any():
            rows.append((texts["hollow"], {"layer": "park", "approx": True, "sample": False}))
        if drawn["is_sample"].astype(bool).any():
            rows.append((texts["dashed"], {"layer": "ecommerce", "approx": True, "sample": True}))
    if spec.highlights:
        rows.append((texts["star"], {"star": True}))
    if len(spec.bold_codes):
        rows.append((texts["bold"], {"line": (3.0, "solid")}))
    if spec.units["geometry_source"].astype(str).str.startswith("approx").any():
        rows.append((texts["zones"], {"line": (0.9, (0, (4, 3)))}))
    return rows


def draw_legend(col: _Column, spec: MapSpec, style: Style) -> None:
    """The map's legend: class colours, then site layers and symbols (the interactive map's
    rows, with the number of sites per layer)."""
    ax = col.ax
    fs = style.legend
    step = fs * 1.65
    col.lines(0, spec.legend_title, style.legend_title)
    col.y += fs * 0.25
    if not spec.legend:
        empty = (
            "无乡镇边界数据,仅显示县区轮廓"
            if spec.lang != "en"
            else "No unit boundaries: outline only"
        )
        col.lines(0, empty, style.note, color=MUTED)
    sw_w, sw_h = fs * 2.0, fs * 1.1
    for color, label in spec.legend:
        x, y = col.xy(0, col.y + (step + sw_h) / 2)
        ax.add_patch(
            Rectangle(
                (x, y),
                sw_w / col.w_pt,
                sw_h / col.h_pt,
                transform=ax.transAxes,
                facecolor=color,
                edgecolor="#777777",
                linewidth=0.7 * style.scale,
            )
        )
        col.text(sw_w + fs * 0.6, label, fs, line=step / (fs * 1.3))
        col.y += step
    rows = _symbol_rows(spec)
    if rows:
        col.y += fs * 0.45
        _, y = col.xy(0, col.y)
        ax.add_line(
            Line2D([0, 0.95], [y, y], transform=ax.transAxes, color="#bbbbbb", lw=0.8 * style.scale)
        )
        col.y += fs * 0.45
    for label, sym in rows:
        cx, cy = col.xy(sw_w / 2, col.y + step / 2)
        if "layer" in sym:
            draw_site_markers(
                ax,
                [cx],
                [cy],
                sym["layer"],
                approx=sym["approx"],
                sample=sym["sample"],
                size=style.marker,
                transform=ax.transAxes,
            )
        elif "star" in sym:
            ax.scatter(
                [cx],
                [cy],
                s=(style.marker * 1.35) ** 2,
                marker="*",
                c=STAR,
                edgecolors="white",
                transform=ax.transAxes,
            )
        else:
            width, dash = sym["line"]
            ax.add_line(
                Line2D(
                    [0, sw_w / col.w_pt],
                    [cy, cy],
                    transform=ax.transAxes,
                    color="#222222",
                    linewidth=width * style.scale,
                    linestyle=dash,
                )
            )
        col.text(sw_w + fs * 0.6, label, fs, line=step / (fs * 1.3))
        col.y += step


def draw_notes(
    col: _Column,
    spec: MapSpec,
    style: Style,
    *,
    notes: Sequence[str] | None = None,
    shrink: float = 1.0,
    dry: bool = False,
) -> float:
    """The caveats printed with the map, as a bulleted list under a heading.

    Returns the height in points; ``dry`` only measures (nothing drawn, the column unmoved).
    """
    notes = list(spec.notes if notes is None else notes)
    if not notes:
        return 0.0
    start = col.y
    head, fs = style.legend_title * shrink, style.note * shrink
    if not dry:
        col.text(0, _legend_texts(spec.lang)["notes"], head)
    col.y += head * 1.5
    for note in notes:
        if dry:
            col.y += len(wrap(note, col.w_pt - fs - 2, fs)) * fs * 1.38
        else:
            col.text(0, "•", fs, color=MUTED)
            col.lines(fs * 1.0, note, fs, gap=1.38, color="#333333")
        col.y += fs * 0.35
    used = col.y - start
    if dry:
        col.y = start
    return used


# ---------------------------------------------------------------- figure ---------------------


def data_date_text(year: int | None, lang: str = "zh", *, made: date | None = None) -> str:
    """ "站点数据截至 2026 年 · 制图 2026-11-27": the view's as-of year and the drawing date."""
    made = made or date.today()
    if lang == "en":
        head = f"Sites as of {year}" if year else "All sites"
        return f"{head} · drawn {made.isoformat()}"
    head = f"站点数据截至 {year} 年" if year else "全部站点"
    return f"{head} · 制图 {made.isoformat()}"


def source_text(lang: str = "zh") -> str:
    """The data source line, with the projection the image is drawn in."""

    proj = "Projection: UTM 47N (EPSG:32647)" if lang == "en" else "投影: UTM 47N (EPSG:32647)"
    return f"{t('source_line', lang)} · {proj}"


def check_size(size: tuple[int, int]) -> None:
    """Raise ValueError for a pixel size a slide image cannot have."""
    w, h = size
    if not (MIN_PIXELS[0] <= w <= MAX_PIXELS[0] and MIN_PIXELS[1] <= h <= MAX_PIXELS[1]):
        raise ValueError(
            f"Image size {w}x{h} is outside {MIN_PIXELS[0]}x{MIN_PIXELS[1]}"
            f"–{MAX_PIXELS[0]}x{MAX_PIXELS[1]} pixels."
        )
    if not ASPECT_RANGE[0] <= w / h <= ASPECT_RANGE[1]:
        raise ValueError(
            f"Image size {w}x{h} is not a landscape slide (width/height between "
            f"{ASPECT_RANGE[0]} and {ASPECT_RANGE[1]}, e.g. 1920x1080)."
        )


def _figure_size(fmt: str, size: tuple[int, int] | None, paper: str) -> tuple[float, float, float]:
    """(width in, height in, dpi) for a format; PNG pixel sizes come out exact."""
    if fmt == "png":
        w_px, h_px = size or DEFAULT_SIZE
        check_size((w_px, h_px))
        dpi = w_px / SLIDE_INCHES[0]
        # a hair over exact, so matplotlib's rounding down never loses a pixel row
        return SLIDE_INCHES[0], (h_px + 1e-3) / dpi, dpi
    if paper not in PAPERS:
        raise ValueError(f"Unknown paper '{paper}'. Use one of {', '.join(PAPERS)}.")
    w, h = PAPERS[paper]
    return w, h, 72.0


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


def save_figure(fig: Figure, fmt: str, *, dpi: float = 72.0, title: str = "") -> bytes:
    """Figure → bytes; metadata without dates, so the same map gives the same file."""
    buf = io.BytesIO()
    if fmt == "pdf":
        metadata = {"Title": title, "Creator": CREATOR, "CreationDate": None}
    elif fmt == "svg":
        metadata = {"Title": title, "Creator": CREATOR, "Date": None}
    else:
        metadata = {"Title": title, "Software": CREATOR}
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
    return buf.getvalue()


def render(
    spec: MapSpec,
    *,
    fmt: str = "png",
    title: str,
    subtitle: str = "",
    data_date: str = "",
    source: str | None = None,
    size: tuple[int, int] | None = None,
    paper: str = "a4",
) -> bytes:
    """The map of ``spec`` as PNG (``size`` pixels, default 1920×1080), PDF or SVG (``paper``)."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown image format '{fmt}'. Use one of {', '.join(FORMATS)}.")
    width, height, dpi = _figure_size(fmt, size, paper)
    fig, _ = map_figure(
        spec,
        title=title,
        subtitle=subtitle,
        data_date=data_date,
        source=source,
        width_in=width,
        height_in=height,
    )
    return save_figure(fig, fmt, dpi=dpi, title=title)


def render_png(spec: MapSpec, *, title: str, size: tuple[int, int] = DEFAULT_SIZE, **kw) -> bytes:
    """PNG of exactly ``size`` pixels (1920×1080 or 3840×2160 for slides)."""
    return render(spec, fmt="png", title=title, size=size, **kw)


def render_pdf(spec: MapSpec, *, title: str, paper: str = "a4", **kw) -> bytes:
    """One-page vector PDF (A4 landscape by default; text in the embedded CJK font)."""
    return render(spec, fmt="pdf", title=title, paper=paper, **kw)


def render_svg(spec: MapSpec, *, title: str, paper: str = "a4", **kw) -> bytes:
    """Vector SVG (text as outlines, so it looks the same on machines without the font)."""
    return render(spec, fmt="svg", title=title, paper=paper, **kw)


# ---------------------------------------------------------------- from a view ----------------


def view_titles(view, *, county_name: str = "") -> tuple[str, str, str]:
    """(title, subtitle, data date) for a ``viewmodel.views.View``, in the view's language."""

    state = view.state
    lang = state.lang
    title = t("title", lang)
    if state.county:
        if not county_name and "county_name" in view.units and len(view.units):
            county_name = str(view.units["county_name"].iloc[0])
        title = f"{title} · {county_name or state.county}"
    if state.mode == "attainment":
        subtitle = view.spec.legend_title
    else:
        level = t(f"level_{state.level}", lang)
        by = f"by {level.lower()}" if lang == "en" else f"按{level}"
        subtitle = f"{view.spec.legend_title} ({by})"
    return title, subtitle, data_date_text(state.year, lang)


def render_view(
    view,
    *,
    fmt: str = "png",
    size: tuple[int, int] | None = None,
    paper: str = "a4",
) -> bytes:
    """The static image of a computed dashboard view: what the app's download button serves."""
    title, subtitle, when = view_titles(view)
    return render(
        view.spec,
        fmt=fmt,
        title=title,
        subtitle=subtitle,
        data_date=when,
        size=size,
        paper=paper,
    )


__all__ = [
    "FORMATS",
    "PAPERS",
    "SIZES",
    "UTM",
    "Style",
    "check_size",
    "cjk_font_path",
    "data_date_text",
    "draw_legend",
    "draw_map",
    "draw_notes",
    "font",
    "map_figure",
    "map_panel",
    "nice_length_m",
    "north_angle_deg",
    "place_labels",
    "render",
    "render_pdf",
    "render_png",
    "render_svg",
    "render_view",
    "save_figure",
    "site_positions",
    "view_titles",
    "wrap",
]
