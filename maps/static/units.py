"""The map's areas: unit fills in their class colours, unit and county boundaries (dashed where
a township zone is approximate, bold for pilot counties)."""

from __future__ import annotations

from matplotlib.axes import Axes

from maps.static.style import MUTED, UTM, Style
from viewmodel.mapspec import MapSpec


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
