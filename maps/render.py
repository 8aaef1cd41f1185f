"""GeoDataFrames → folium.Map: choropleth, labels, site layers, legend, notes. No streamlit.

Everything that reaches the page as text is HTML-escaped here (site names may come from a
planner's upload). Leaflet assets are served locally (maps.offline.localize), so the map draws
with no internet; tiles are optional (maps.basemaps).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement, Template
from folium.plugins import MarkerCluster

from geo.crs import GCJ02, WGS84, wgs84_to_gcj02
from layers.schema import APPROXIMATE, LAYERS, LEVELS, PRECISION
from maps.basemaps import Basemap, tile_url
from maps.offline import localize

CLUSTER_THRESHOLD = 300  # sites per layer above which markers are clustered
MAX_ZOOM = 18


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


def _esc(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def _to_display_crs(gdf: gpd.GeoDataFrame, basemap: Basemap | None) -> gpd.GeoDataFrame:
    """Shift WGS84 data onto GCJ-02 tiles when the basemap is drawn in GCJ-02."""
    if basemap is None or basemap.crs != GCJ02 or gdf is None or gdf.empty:
        return gdf
    out = gdf.copy()

    def shift(coords: np.ndarray) -> np.ndarray:
        x, y = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    out.geometry = shapely.transform(out.geometry.to_numpy(), shift)
    return out


def _props_frame(gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> gpd.GeoDataFrame:
    """Only the properties the map uses, with text escaped and numbers kept."""
    out = gpd.GeoDataFrame(geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    for col in columns:
        values = gdf[col] if col in gdf else pd.Series([""] * len(gdf))
        out[col] = [
            _esc(v) if not isinstance(v, (int, float, np.number)) or isinstance(v, bool) else v
            for v in values
        ]
    return out


_CSS = """
<style>
.xn-legend, .xn-note {background: rgba(255,255,255,.94); border-radius: 6px; padding: 8px 10px;
  box-shadow: 0 1px 4px rgba(0,0,0,.35); font-family: "Noto Sans CJK SC", "Microsoft YaHei",
  "PingFang SC", sans-serif; color: #222; line-height: 1.35;}
.xn-legend {font-size: {{SIZE}}px;}
.xn-legend .sw {display:inline-block; width: 1.4em; height: 1em; margin-right: .4em;
  vertical-align: -0.15em; border: 1px solid #777;}
.xn-legend .ttl {font-weight: 700; margin-bottom: 4px;}
.xn-note {font-size: {{NOTE}}px; max-width: 26em;}
.xn-label {font-size: {{LABEL}}px; font-weight: 700; color: #1b1b1b; white-space: nowrap;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; pointer-events: none;
  transform: translate(-50%, -50%); display: inline-block;}
.xn-site {width: {{ICON}}px; height: {{ICON}}px; border-radius: 50%; border: 2px solid;
  box-sizing: border-box; font-size: {{GLYPH}}px; line-height: {{ICONL}}px; text-align: center;
  color: #fff; font-weight: 700; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
  box-shadow: 0 0 2px rgba(0,0,0,.5);}
.xn-site.approx {background: #fff !important;}
.xn-site.sample {border-style: dashed; opacity: .8;}
.xn-star {font-size: {{STAR}}px; color: #c00000; text-shadow: 0 0 2px #fff, 0 0 2px #fff;
  transform: translate(-50%, -60%); display: inline-block; pointer-events: none;}
.leaflet-tooltip, .leaflet-popup-content {font-size: {{TIP}}px;}
</style>
"""


def _css(meeting: bool) -> str:
    sizes = (
        {
            "SIZE": 22,
            "NOTE": 17,
            "LABEL": 22,
            "ICON": 30,
            "GLYPH": 16,
            "ICONL": 26,
            "STAR": 26,
            "TIP": 18,
        }
        if meeting
        else {
            "SIZE": 14,
            "NOTE": 12,
            "LABEL": 14,
            "ICON": 22,
            "GLYPH": 12,
            "ICONL": 18,
            "STAR": 18,
            "TIP": 13,
        }
    )
    css = _CSS
    for k, v in sizes.items():
        css = css.replace("{{" + k + "}}", str(v))
    return css


class _Corner(MacroElement):
    """Fixed HTML box in a map corner (legend, notes); stays visible inside st_folium."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function() {
  var ctl = L.control({position: {{ this.position|tojson }}});
  ctl.onAdd = function() {
    var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
    div.innerHTML = {{ this.html|tojson }};
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  ctl.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
"""
    )

    def __init__(self, html_text: str, *, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "Corner"
        self.html = html_text
        self.position = position
        self.css_class = css_class


def _legend_html(spec: MapSpec) -> str:
    rows = "".join(
        f'<div><span class="sw" style="background:{_esc(c)}"></span>{_esc(label)}</div>'
        for c, label in spec.legend
    )
    return f'<div class="ttl">{_esc(spec.legend_title)}</div>{rows}'


def _site_legend_html(sites: gpd.GeoDataFrame, lang: str) -> str:
    sites = sites[sites.geometry.notna() & ~sites.geometry.is_empty]
    parts = []
    for key, layer in LAYERS.items():
        n = int((sites["layer"] == key).sum())
        if n == 0:
            continue
        name = layer.zh if lang == "zh" else layer.en
        parts.append(
            f'<div><span class="xn-site" style="display:inline-block;background:{layer.color};'
            f'border-color:{layer.color};vertical-align:middle">{layer.glyph}</span> '
            f"{_esc(name)} ({n})</div>"
        )
    if (sites["location_precision"].isin(APPROXIMATE)).any():
        txt = "空心: 位置近似(驻地)" if lang == "zh" else "Hollow: approximate location (seat)"
        parts.append(f"<div>{_esc(txt)}</div>")
    if sites["is_sample"].astype(bool).any():
        txt = "虚线: 示例数据" if lang == "zh" else "Dashed: sample record"
        parts.append(f"<div>{_esc(txt)}</div>")
    return "".join(parts)


def _add_units(m: folium.Map, spec: MapSpec, units: gpd.GeoDataFrame) -> None:
    fields = [c for c, _ in spec.tooltip_fields]
    props = _props_frame(units, ["code", "name", "fill", "geometry_source", *fields])
    props["bold"] = units["code"].isin(list(spec.bold_codes)).to_numpy()
    approx = units["geometry_source"].astype(str).str.startswith("approx").to_numpy()
    props["approx"] = approx

    def style(feature: dict) -> dict:
        p = feature["properties"]
        return {
            "fillColor": p["fill"],
            "fillOpacity": 0.78,
            "color": "#222" if p["bold"] else ("#555" if p["approx"] else "#333"),
            "weight": 3.5 if p["bold"] else (1 if p["approx"] else 1.4),
            "dashArray": "5 4" if p["approx"] else None,
        }

    tooltip = folium.GeoJsonTooltip(
        fields=["name", *fields],
        aliases=["", *[label for _, label in spec.tooltip_fields]],
        sticky=True,
        labels=True,
    )
    folium.GeoJson(
        props.to_json(drop_id=True),
        name="units",
        style_function=style,
        highlight_function=lambda f: {"weight": 4, "color": "#000"},
        tooltip=tooltip,
        control=False,
    ).add_to(m)


def _add_outline(m: folium.Map, outline: gpd.GeoDataFrame) -> None:
    geo = gpd.GeoDataFrame(geometry=outline.geometry.boundary.to_numpy(), crs=outline.crs)
    folium.GeoJson(
        geo.to_json(drop_id=True),
        name="outline",
        style_function=lambda f: {"color": "#111", "weight": 2.6, "fill": False},
        interactive=False,
        control=False,
    ).add_to(m)


def _popup_html(row: pd.Series, lang: str) -> str:
    layer = LAYERS[row["layer"]]
    sub = layer.subtypes.get(row.get("subtype", ""), ("", ""))
    precision = PRECISION.get(row.get("location_precision", ""), ("", ""))
    level = LEVELS.get(row.get("level", ""), ("", ""))
    zh = lang == "zh"
    items = [
        ("图层" if zh else "Layer", layer.zh if zh else layer.en),
        ("类型" if zh else "Subtype", sub[0] if zh else sub[1]),
        ("级别" if zh else "Level", level[0] if zh else level[1]),
        ("县区" if zh else "County", row.get("county_name", "")),
        ("乡镇" if zh else "Township", row.get("township_name", "")),
        ("村" if zh else "Village", row.get("village", "")),
        ("年份" if zh else "Year", "" if pd.isna(row.get("year")) else row.get("year")),
        ("位置" if zh else "Location", precision[0] if zh else precision[1]),
        ("来源" if zh else "Source", row.get("source", "")),
    ]
    head = f"<b>{_esc(row['name'])}</b>"
    if bool(row.get("is_sample")):
        head += " <span style='color:#b00'>【示例数据 sample】</span>"
    if row.get("status") == "planned":
        head += " <span style='color:#b60'>(规划中 planned)</span>"
    body = "".join(f"<div>{_esc(k)}: {_esc(v)}</div>" for k, v in items if _esc(v))
    return f"{head}{body}"


def _add_sites(m: folium.Map, sites: gpd.GeoDataFrame, spec: MapSpec) -> None:
    drawable = sites[sites.geometry.notna() & ~sites.geometry.is_empty]
    for key, layer in LAYERS.items():
        part = drawable[drawable["layer"] == key]
        if part.empty:
            continue
        name = f"{layer.zh if spec.lang == 'zh' else layer.en} ({len(part)})"
        group = folium.FeatureGroup(name=name, show=True)
        group.add_to(m)
        parent: folium.map.Layer = group
        if len(part) > CLUSTER_THRESHOLD:
            parent = MarkerCluster(options={"disableClusteringAtZoom": 15})
            parent.add_to(group)
        for row in part.itertuples(index=False):
            rec = row._asdict()
            classes = ["xn-site"]
            if rec.get("location_precision") in APPROXIMATE:
                classes.append("approx")
            if bool(rec.get("is_sample")):
                classes.append("sample")
            color = layer.color
            glyph_color = color if "approx" in classes else "#fff"
            icon = folium.DivIcon(
                html=(
                    f'<div class="{" ".join(classes)}" style="background:{color};'
                    f'border-color:{color};color:{glyph_color}">{layer.glyph}</div>'
                ),
                icon_size=(30, 30) if spec.meeting else (22, 22),
                icon_anchor=(15, 15) if spec.meeting else (11, 11),
                class_name="xn-site-wrap",
            )
            geom = rec["geometry"]
            folium.Marker(
                location=[geom.y, geom.x],
                icon=icon,
                tooltip=folium.Tooltip(_esc(rec["name"])),
                popup=folium.Popup(_popup_html(pd.Series(rec), spec.lang), max_width=360),
            ).add_to(parent)


def _add_labels(m: folium.Map, labels: Sequence[tuple[float, float, str]], css: str) -> None:
    """Text labels in their own pane above the site markers, never catching clicks."""
    if not labels:
        return
    pane = f"{css}-pane"
    folium.map.CustomPane(pane, z_index=650, pointer_events=False).add_to(m)
    for lon, lat, text in labels:
        folium.Marker(
            location=[lat, lon],
            icon=folium.DivIcon(html=f'<div class="{css}">{_esc(text)}</div>', icon_size=(0, 0)),
            interactive=False,
            pane=pane,
        ).add_to(m)


def build_map(spec: MapSpec) -> folium.Map:
    """A folium map of the spec, using only locally served assets."""
    units = _to_display_crs(spec.units.to_crs(WGS84), spec.basemap)
    bounds = spec.bounds or tuple(units.total_bounds)
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        zoom_start=9,
        tiles=None,
        prefer_canvas=False,  # SVG: few polygons; markers are DivIcons
        control_scale=True,
        max_zoom=MAX_ZOOM,
        zoom_snap=0.25,
    )
    m.options["max_zoom"] = MAX_ZOOM
    if spec.basemap is not None and spec.basemap.key != "none":
        folium.TileLayer(
            tiles=tile_url(spec.basemap, key=spec.basemap_key),
            attr=_esc(spec.basemap.attribution),
            name=spec.basemap.zh if spec.lang == "zh" else spec.basemap.en,
            max_zoom=spec.basemap.max_zoom,
            subdomains=spec.basemap.subdomains,
            overlay=False,
        ).add_to(m)
    m.get_root().header.add_child(Element(_css(spec.meeting)))
    _add_units(m, spec, units)
    if spec.outline is not None and not spec.outline.empty:
        _add_outline(m, _to_display_crs(spec.outline.to_crs(WGS84), spec.basemap))
    labels = [(lo, la, t) for lo, la, t in _shift_points(spec.labels, spec.basemap)]
    _add_labels(m, labels, "xn-label")
    stars = [(lo, la, "★") for lo, la, _ in _shift_points(spec.highlights, spec.basemap)]
    _add_labels(m, stars, "xn-star")
    legend = _legend_html(spec)
    if spec.sites is not None and not spec.sites.empty:
        sites = _to_display_crs(spec.sites, spec.basemap)
        _add_sites(m, sites, spec)
        legend += '<hr style="margin:6px 0">' + _site_legend_html(sites, spec.lang)
    if spec.highlights:
        txt = "★ 创新驱动试点镇" if spec.lang == "zh" else "★ Pilot town"
        legend += f"<div>{_esc(txt)}</div>"
    if spec.bold_codes:
        txt = "粗边框: 试点县区" if spec.lang == "zh" else "Thick outline: pilot county"
        legend += f"<div>{_esc(txt)}</div>"
    _Corner(legend, position="bottomright", css_class="xn-legend").add_to(m)
    if spec.notes:
        notes = "".join(f"<div>{_esc(n)}</div>" for n in spec.notes)
        _Corner(notes, position="bottomleft", css_class="xn-note").add_to(m)
    if spec.sites is not None and not spec.sites.empty:
        folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return localize(m)


def _shift_points(
    points: Sequence[tuple[float, float, str]], basemap: Basemap | None
) -> list[tuple[float, float, str]]:
    if basemap is None or basemap.crs != GCJ02 or not points:
        return list(points)
    lon, lat = wgs84_to_gcj02([p[0] for p in points], [p[1] for p in points])
    return [(float(a), float(b), p[2]) for a, b, p in zip(lon, lat, points, strict=True)]


def simplify_units(units: gpd.GeoDataFrame, *, tolerance: float = 0.0005) -> gpd.GeoDataFrame:
    """Simplify a polygon coverage for display, keeping shared borders gap-free.

    ``simplify_coverage`` moves shared edges together so neighbours neither gap nor overlap;
    coordinates are then rounded to 5 decimals (~1 m), which the screen cannot show anyway.
    Units without geometry pass through untouched.
    """
    out = units.copy()
    has = out.geometry.notna() & ~out.geometry.is_empty
    if has.any():
        geoms = out.geometry[has]
        simplified = shapely.coverage_simplify(geoms.to_numpy(), tolerance)
        simplified = shapely.set_precision(simplified, 1e-5, mode="pointwise")
        out.loc[has, out.geometry.name] = simplified
    return out


__all__ = ["MapSpec", "build_map", "simplify_units"]
