"""The column beside the map: legend (class colours, site layers and symbols) and the notes
(caveats), stacked in points from the top of their own axes."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from layers.schema import APPROXIMATE, LAYERS
from maps.static.fonts import font, wrap
from maps.static.sites import draw_site_markers
from maps.static.style import INK, MUTED, STAR, Style
from viewmodel.mapspec import MapSpec


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
