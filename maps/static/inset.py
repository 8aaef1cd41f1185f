"""The urban inset: which small districts of a city-wide map get an enlarged inset, and its
caption."""

from __future__ import annotations

from maps.static.style import UTM
from viewmodel.mapspec import MapSpec


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


def _inset_caption(lang: str) -> str:
    return "城区放大" if lang != "en" else "Urban districts, enlarged"
