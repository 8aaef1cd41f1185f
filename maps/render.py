"""GeoDataFrames → folium.Map: choropleth, labels, site layers, legend, notes. No streamlit.

Everything that reaches the page as text is HTML-escaped here (site names may come from a
planner's upload). Leaflet assets are served locally (maps.offline.localize), so the map draws
with no internet; tiles are optional (viewmodel.basemaps).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement, Template
from folium.plugins import MarkerCluster

from base.crs import GCJ02, WGS84, wgs84_to_gcj02
from layers.schema import APPROXIMATE, LAYERS, LEVELS, PRECISION, Layer
from maps.offline import localize
from viewmodel.basemaps import Basemap, tile_url
from viewmodel.mapspec import MapSpec

CLUSTER_THRESHOLD = 300  # sites per layer above which markers are clustered
LARGE_LAYER_THRESHOLD = 2_000  # ... above which they are circles with lazy popups (_add_sites)
MAX_ZOOM = 18


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
    if meeting:  # st_folium sizes #map_div in px; let it follow the iframe instead
        css += "<style>#map_div {height: 100vh !important;}</style>\n"
    for k, v in sizes.items():
        css = css.replace("{{" + k + "}}", str(v))
    return css


class _MapTweaks(MacroElement):
    """Metric-only scale bar and a plain 'Leaflet' attribution prefix (no flag icon)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.attributionControl.setPrefix('Leaflet');
L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MapTweaks"


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


def _script_json(value: object) -> str:
    """Compact JSON to inline in a <script>: UTF-8 as is, no '<' (nothing can close the tag)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class _SiteMarkers(MacroElement):
    """The markers of one site layer, made in the browser from compact rows.

    One element per layer instead of four folium elements per site: the page is a fraction
    of the size, and rendering it (every Streamlit rerun) costs one JSON dump. Every text is
    HTML-escaped in Python; the script only joins escaped strings with fixed labels.

    ``icons``: DivIcons (glyph; hollow = approximate, dashed = sample), each row
    ``[lat, lon, variant, tooltip html, popup html]``. Otherwise (very large layers) circle
    markers, drawn like the unit polygons and above them (so both stay clickable; the
    cluster keeps only those in view on the map), with one tooltip and one popup for the
    layer, filled on opening from columns: ``lat``/``lon``
    (integer steps of 1e-5° from an origin, ~1 m), ``name`` and ``combo``, where
    ``combos[combo]`` is ``[variant bits, value index per popup field]``.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function() {
  var parent = {{ this._parent.get_name() }};
  var cfg = {{ this.config }};
  var rows = {{ this.rows }};
  var made;
  {%- if this.icons %}
  var icons = cfg.icons.map(function(html) {
    return L.divIcon({html: html, iconSize: cfg.size, iconAnchor: cfg.anchor,
                      className: "xn-site-wrap"});
  });
  made = new Array(rows.length);
  for (var i = 0; i < rows.length; i++) {
    var r = rows[i];
    made[i] = L.marker([r[0], r[1]], {icon: icons[r[2]]})
      .bindTooltip(r[3], {sticky: true})
      .bindPopup(r[4], {maxWidth: 360});
  }
  {%- else %}
  var at = function(layer) { return layer.options.xnRow; };
  var tip = function(layer) { return rows.name[at(layer)]; };
  var popup = function(layer) {
    var i = at(layer), c = cfg.combos[rows.combo[i]];
    var h = "<b>" + rows.name[i] + "</b>";
    if (c[0] & 2) { h += cfg.sample; }
    if (c[0] & 4) { h += cfg.planned; }
    for (var k = 0; k < cfg.fields.length; k++) {
      var v = cfg.fields[k][1][c[k + 1]];
      if (v) { h += "<div>" + cfg.fields[k][0] + ": " + v + "</div>"; }
    }
    return h;
  };
  made = new Array(rows.name.length);
  for (var i = 0; i < made.length; i++) {
    var ll = [cfg.origin[0] + rows.lat[i] * cfg.step, cfg.origin[1] + rows.lon[i] * cfg.step];
    var style = cfg.styles[cfg.combos[rows.combo[i]][0] & 3];
    made[i] = L.circleMarker(ll, Object.assign({xnRow: i}, style));
  }
  // one tooltip and one popup for the layer, filled for the marker under the pointer
  parent.bindTooltip(tip, {sticky: true}).bindPopup(popup, {maxWidth: 360});
  {%- endif %}
  if (parent.addLayers) {
    parent.addLayers(made);
  } else {
    for (var j = 0; j < made.length; j++) { parent.addLayer(made[j]); }
  }
})();
{% endmacro %}
"""
    )

    def __init__(self, config: dict, rows: list | dict, *, icons: bool) -> None:
        super().__init__()
        self._name = "SiteMarkers"
        self.config = _script_json(config)
        self.rows = _script_json(rows)
        self.icons = icons


def _site_variants(part: pd.DataFrame) -> np.ndarray:
    """Bits per site: 1 approximate location, 2 sample record, 4 planned."""
    approx = part["location_precision"].isin(APPROXIMATE).to_numpy()
    sample = part["is_sample"].fillna(False).astype(bool).to_numpy()
    planned = (part["status"] == "planned").fillna(False).to_numpy(dtype=bool)
    return approx * 1 + sample * 2 + planned * 4


def _latlon(part: gpd.GeoDataFrame) -> tuple[list[float], list[float]]:
    """Marker positions rounded to 1e-6° (~0.1 m)."""
    xy = shapely.get_coordinates(part.geometry.to_numpy())
    return np.round(xy[:, 1], 6).tolist(), np.round(xy[:, 0], 6).tolist()


def _icon_markers(part: gpd.GeoDataFrame, layer: Layer, spec: MapSpec) -> _SiteMarkers:
    color = layer.color
    icons = []
    for bits in range(4):
        classes = ["xn-site", *(["approx"] if bits & 1 else []), *(["sample"] if bits & 2 else [])]
        glyph_color = color if bits & 1 else "#fff"
        icons.append(
            f'<div class="{" ".join(classes)}" style="background:{color};'
            f'border-color:{color};color:{glyph_color}">{layer.glyph}</div>'
        )
    config = {
        "icons": icons,
        "size": [30, 30] if spec.meeting else [22, 22],
        "anchor": [15, 15] if spec.meeting else [11, 11],
    }
    lat, lon = _latlon(part)
    variant = (_site_variants(part) & 3).tolist()
    rows = [
        [la, lo, v, _esc(rec["name"]), _popup_html(pd.Series(rec), spec.lang)]
        for la, lo, v, rec in zip(lat, lon, variant, part.to_dict("records"), strict=True)
    ]
    return _SiteMarkers(config, rows, icons=True)


def _circle_markers(part: gpd.GeoDataFrame, layer: Layer, spec: MapSpec) -> _SiteMarkers:
    """Circle markers; popups hold what :func:`_popup_html` shows, built on opening."""
    zh = spec.lang == "zh"

    def col(name: str) -> pd.Series:
        return part[name] if name in part else pd.Series([""] * len(part), index=part.index)

    def pick(table: dict, value: object) -> str:
        pair = table.get(value, ("", "")) if isinstance(value, str) else ("", "")
        return pair[0] if zh else pair[1]

    fields = [
        ("图层" if zh else "Layer", col("layer"), lambda v: layer.zh if zh else layer.en),
        ("类型" if zh else "Subtype", col("subtype"), lambda v: pick(layer.subtypes, v)),
        ("级别" if zh else "Level", col("level"), lambda v: pick(LEVELS, v)),
        ("县区" if zh else "County", col("county_name"), lambda v: v),
        ("乡镇" if zh else "Township", col("township_name"), lambda v: v),
        ("村" if zh else "Village", col("village"), lambda v: v),
        ("年份" if zh else "Year", col("year"), lambda v: "" if pd.isna(v) else v),
        ("位置" if zh else "Location", col("location_precision"), lambda v: pick(PRECISION, v)),
        ("来源" if zh else "Source", col("source"), lambda v: v),
    ]
    codes = [_site_variants(part)]
    values = []
    for label, series, show in fields:
        idx, uniques = pd.factorize(series, use_na_sentinel=False)
        codes.append(idx)
        values.append([_esc(label), [_esc(show(u)) for u in uniques]])
    combo_idx, combos = pd.factorize(pd.Series(list(zip(*codes, strict=True))))
    config = {
        "fields": values,
        "combos": [list(map(int, c)) for c in combos],
        "sample": " <span style='color:#b00'>【示例数据 sample】</span>",
        "planned": " <span style='color:#b60'>(规划中 planned)</span>",
        "styles": [
            {
                "radius": 7 if spec.meeting else 5,
                "color": "#fff" if bits == 0 else layer.color,
                "weight": 2 if bits & 1 else 1,
                "fillColor": "#fff" if bits & 1 else layer.color,
                "fillOpacity": 1 if bits & 1 else 0.9,
                "opacity": 0.8 if bits & 2 else 1,
                "dashArray": "3 2" if bits & 2 else None,
            }
            for bits in range(4)
        ],
    }
    xy = shapely.get_coordinates(part.geometry.to_numpy())
    origin = np.floor(xy.min(axis=0) * 1e5) / 1e5
    config["origin"] = [float(origin[1]), float(origin[0])]
    config["step"] = 1e-5
    steps = np.rint((xy - origin) * 1e5).astype(np.int64)
    rows = {
        "lat": steps[:, 1].tolist(),
        "lon": steps[:, 0].tolist(),
        "name": [_esc(v) for v in part["name"]],
        "combo": combo_idx.tolist(),
    }
    return _SiteMarkers(config, rows, icons=False)


def _add_sites(m: folium.Map, sites: gpd.GeoDataFrame, spec: MapSpec) -> None:
    """One layer (and layer-control entry) per site layer, counted as the legend counts.

    Up to ``CLUSTER_THRESHOLD`` sites per layer: DivIcon markers; up to
    ``LARGE_LAYER_THRESHOLD``: the same in a marker cluster; more: small circle markers in a
    marker cluster, popups built on opening (10⁵ sites stay a few MB and pan smoothly; see
    bench/RESULTS.md).
    """
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
            options = {"disableClusteringAtZoom": 15, "chunkedLoading": True}
            parent = MarkerCluster(options=options)
            parent.add_to(group)
        if len(part) > LARGE_LAYER_THRESHOLD:
            _circle_markers(part, layer, spec).add_to(parent)
        else:
            _icon_markers(part, layer, spec).add_to(parent)


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
        control_scale=False,  # metric-only scale added by _MapTweaks
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
    _MapTweaks().add_to(m)
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
        folium.LayerControl(collapsed=spec.meeting, position="topright").add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return localize(m)


def _shift_points(
    points: Sequence[tuple[float, float, str]], basemap: Basemap | None
) -> list[tuple[float, float, str]]:
    if basemap is None or basemap.crs != GCJ02 or not points:
        return list(points)
    lon, lat = wgs84_to_gcj02([p[0] for p in points], [p[1] for p in points])
    return [(float(a), float(b), p[2]) for a, b, p in zip(lon, lat, points, strict=True)]


__all__ = ["MapSpec", "build_map"]
