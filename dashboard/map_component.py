"""Show a folium map through streamlit-folium's component, rendering it once per view.

``st_folium`` renders the whole folium map (every element's Jinja template, twice) on each
call, so on every rerun of the page, however the map was cached; and it rewrites the element
ids of the map it is given, so one ``folium.Map`` cannot be given to it twice (the second page
draws a blank map: "geo_json_<hash> is not defined"). :func:`map_payload` does the rendering
part of ``st_folium`` once, on a copy of the map; :func:`show_map` sends the stored result to
the same component, with the same arguments and key, on every rerun.

Written against streamlit-folium 0.27.4 (pinned in requirements.txt);
tests/test_speed_invariants.py checks that the component receives exactly what ``st_folium``
itself would send.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import folium
import streamlit as st
import streamlit_folium as sf


@dataclass(frozen=True)
class MapPayload:
    """What ``st_folium`` derives from a map by rendering it."""

    script: str
    header: str
    html: str
    map_id: str
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]
    bounds: list
    zoom: Any


def map_payload(m: folium.Map) -> MapPayload:
    """Render ``m`` (a copy: the map itself stays usable) the way ``st_folium`` does."""
    m = copy.deepcopy(m)
    m.get_root().render()
    m.render()
    html = sf._get_html(m)
    header = sf._get_header(m)
    script = sf._get_map_string(m)
    css: list[str] = []
    js: list[str] = []
    stack: list[Any] = [m]
    while stack:  # depth-first, children in order, as st_folium's walk
        el = stack.pop()
        if isinstance(el, folium.elements.JSCSSMixin):
            css.extend(href for _, href in getattr(el, "default_css", []))
            js.extend(src for _, src in getattr(el, "default_js", []))
        stack.extend(reversed(list(getattr(el, "_children", {}).values())))
    return MapPayload(
        script=script,
        header=header,
        html=html,
        map_id=sf.get_full_id(m),
        css_links=tuple(dict.fromkeys(css)),
        js_links=tuple(dict.fromkeys(js)),
        bounds=m.get_bounds(),
        zoom=m.options.get("zoom"),
    )


def show_map(
    payload: MapPayload,
    *,
    key: str,
    height: int,
    returned_objects: Iterable[str],
    on_change: Callable[[], None] | None = None,
) -> Any:
    """``st_folium(m, key=..., height=..., use_container_width=True, returned_objects=...,
    on_change=...)`` for the map whose payload this is, without rendering it again."""
    returned = list(returned_objects)
    (south, west), (north, east) = payload.bounds
    defaults = {
        "last_clicked": None,
        "last_object_clicked": None,
        "last_object_clicked_count": None,
        "last_object_clicked_tooltip": None,
        "last_object_clicked_popup": None,
        "all_drawings": None,
        "last_active_drawing": None,
        "bounds": {
            "_southWest": {"lat": south, "lng": west},
            "_northEast": {"lat": north, "lng": east},
        },
        "zoom": payload.zoom,
        "last_circle_radius": None,
        "last_circle_polygon": None,
        "selected_layers": None,
        "selected_tags": None,
        "last_geocoder_result": None,
    }
    hash_key = sf.generate_js_hash(payload.script, key, False)

    def _on_change() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})
        if on_change is not None:
            on_change()

    return sf._component_func(
        script=payload.script,
        header=payload.header,
        html=payload.html,
        id=payload.map_id,
        key=hash_key,
        height=height,
        width=None,
        returned_objects=returned,
        default={k: v for k, v in defaults.items() if k in returned},
        zoom=None,
        center=None,
        feature_group=None,
        return_on_hover=False,
        layer_control=None,
        pixelated=False,
        css_links=list(payload.css_links),
        js_links=list(payload.js_links),
        on_change=_on_change,
        wrap_longitude=False,
    )


__all__ = ["MapPayload", "map_payload", "show_map"]
