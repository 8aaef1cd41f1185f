"""The map of a view, fully computed: what every renderer draws (folium, static images, briefs).

The view model (:func:`viewmodel.views.build_view`) fills it; the renderers only draw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd

from viewmodel.basemaps import Basemap


@dataclass
class MapSpec:
    """Everything the map shows, already computed (the UI passes results in, never logic)."""

    units: gpd.GeoDataFrame  # code, name, fill, value_text, geometry_source, geometry (WGS84)
    legend: list[tuple[str, str]]  # (colour, label)
    legend_title: str
    sites: gpd.GeoDataFrame | None = None  # assigned sites to draw
    outline: gpd.GeoDataFrame | None = None  # county outlines over a township view
    labels: list[tuple[float, float, str]] = field(default_factory=list)
    highlights: list[tuple[float, float, str]] = field(default_factory=list)  # pilot towns
    bold_codes: Sequence[str] = ()  # units outlined thickly (pilot counties)
    notes: list[str] = field(default_factory=list)  # caveats printed on the map
    bounds: tuple[float, float, float, float] | None = None
    meeting: bool = False
    lang: str = "zh"
    basemap: Basemap | None = None
    basemap_key: str = ""
    tooltip_fields: list[tuple[str, str]] = field(default_factory=list)  # (column, label)
