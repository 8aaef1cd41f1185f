"""Legends and the rendered folium map (asserting on its HTML, like geopandas' explore tests)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from base.crs import wgs84_to_gcj02
from geo.classify import MISSING_COLOR, SEQUENTIAL, classify, status_classes
from geo.loader import load_plan
from maps.offline import external_urls
from maps.render import build_map
from viewmodel.basemaps import Basemap, available, custom_from_env, tile_url
from viewmodel.views import ViewState, build_view

XSS = "<img src=x onerror=alert(1)>"


def decoded(page: str) -> str:
    """Page text with JSON \\uXXXX escapes decoded (folium writes some text through tojson)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def test_missing_values_get_grey_never_the_darkest():
    cl = classify([1, 5, 9, np.nan, 20], scheme="natural_breaks", k=3)
    colors = cl.color_of()
    assert colors[3] == MISSING_COLOR
    assert MISSING_COLOR not in cl.colors
    assert cl.legend()[-1] == (MISSING_COLOR, "无数据")
    assert colors[4] == cl.colors[-1] != MISSING_COLOR


def test_zero_heavy_counts_get_a_zero_class_and_quantiles_still_work():
    values = [0] * 40 + [1, 1, 2, 3, 8]
    cl = classify(values, scheme="quantiles", k=5)
    assert cl.labels[0] == "0"
    assert (cl.index[:40] == 0).all()
    assert len(set(cl.index[40:])) >= 2  # positives spread over classes
    assert len(cl.labels) == len(set(cl.labels))  # no duplicate bins


@pytest.mark.parametrize("scheme", ["natural_breaks", "quantiles", "equal_interval"])
def test_every_scheme_orders_colours_light_to_dark(scheme):
    rng = np.random.default_rng(3)
    values = rng.gamma(2, 3, 60)
    cl = classify(values, scheme=scheme, k=5)
    order = [SEQUENTIAL.index(c) for c in cl.colors]
    assert order == sorted(order)
    # a larger value never gets a lighter class
    idx = cl.index[np.argsort(values)]
    assert (np.diff(idx) >= 0).all()


def test_status_bands_are_fixed():
    cl = status_classes(["met", "behind", None])
    assert cl.labels == ["已达标", "未达标"]
    assert cl.color_of()[2] == MISSING_COLOR


@pytest.fixture(scope="module")
def xss_sites(bundled):
    sites = bundled.assigned.copy()
    idx = sites.index[sites.geometry.notna()][0]
    sites.loc[idx, "name"] = XSS
    sites.loc[idx, "source"] = '"><script>alert(2)</script>'
    return sites


def test_site_text_is_escaped_in_tooltips_and_popups(units, xss_sites):
    view = build_view(units, xss_sites, ViewState(), plan=load_plan())
    page = build_map(view.spec).get_root().render()
    assert XSS not in page
    assert "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_map_uses_only_local_assets_and_marks_approximations(units, bundled):
    view = build_view(units, bundled.assigned, ViewState(level="township"), plan=load_plan())
    page = decoded(build_map(view.spec).get_root().render())
    assert external_urls(page) == []
    assert "/app/static/vendor/leaflet-1.9.4/leaflet.js" in page
    assert "近似范围" in page  # note on the map
    assert '"dashArray": "5 4"' in page  # approximate zones drawn dashed
    assert "xn-site approx" in page and "xn-site approx sample" in page


def test_pilot_counties_and_towns_are_marked(units, bundled):
    _, d, _ = load_plan()
    pc = tuple(d.loc[d["designation"] == "pilot_county", "county_code"])
    pt = tuple(d.loc[d["designation"] == "pilot_town", "township_code"])
    view = build_view(
        units, bundled.assigned, ViewState(), plan=load_plan(), pilot_counties=pc, pilot_towns=pt
    )
    page = build_map(view.spec).get_root().render()
    assert page.count("xn-star") >= 8
    assert '"weight": 3.5' in page  # thick outline of pilot counties
    plain = (
        build_map(build_view(units, bundled.assigned, ViewState(), plan=load_plan()).spec)
        .get_root()
        .render()
    )
    assert '"weight": 3.5' not in plain


def test_gcj02_basemap_shifts_the_data_onto_the_tiles(units, bundled):
    amap_like = Basemap(
        "gcj",
        "高德风格",
        "Amap-style",
        url="http://tiles.local/{z}/{x}/{y}.png",
        attribution="t",
        crs="GCJ-02",
    )
    plain = build_view(units, bundled.assigned, ViewState(show=()), plan=load_plan())
    shifted = build_view(
        units, bundled.assigned, ViewState(show=()), plan=load_plan(), basemap=amap_like
    )
    a = build_map(plain.spec).get_root().render()
    b = build_map(shifted.spec).get_root().render()
    assert "http://tiles.local/{z}/{x}/{y}.png" in b
    first = r'"coordinates": \[\[\[\[([0-9.]+), ([0-9.]+)\]'
    x0, y0 = map(float, re.search(first, a).groups())
    x1, y1 = map(float, re.search(first, b).groups())
    gx, gy = wgs84_to_gcj02(x0, y0)
    assert abs(x1 - float(gx)) < 1e-5 and abs(y1 - float(gy)) < 1e-5  # same vertex, shifted
    assert abs(x1 - x0) > 1e-3  # by a visible amount (~170 m here)


def test_basemaps_are_opt_in_and_keys_required():
    assert list(available(env={}))[:1] == ["none"]
    with pytest.raises(ValueError, match="API key"):
        tile_url(available(env={})["tianditu"])
    custom = custom_from_env(
        {"XINING_TILES_URL": "http://gis.intranet/{z}/{x}/{y}.png", "XINING_TILES_CRS": "gcj02"}
    )
    assert custom is not None and custom.crs == "GCJ-02"
    assert custom_from_env({}) is None
