"""The map must draw with no internet: every asset comes from static/vendor.

Builds a map with each folium element the dashboard uses, localizes it and checks the
rendered page loads nothing from outside, that the vendored files match MANIFEST.json,
that standalone_html() is self-contained, that an un-vendored plugin is refused, and that
localizing one map leaves folium's classes (and so other maps) alone. The ``browser``
tests open the pages in headless Chromium with every non-local request aborted.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import importlib.util
import json
import re
import struct
import sys
import threading
import zlib
from base64 import b64encode
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import branca.colormap
import folium
import folium.plugins
import pytest
from branca.element import MacroElement
from folium.template import Template

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from maps.offline import (  # noqa: E402
    ASSET_BASE_URL,
    FAST_MARKER_CALLBACK,
    external_urls,
    localize,
    standalone_html,
)

VENDOR = ROOT / "static" / "vendor"
MANIFEST = json.loads((VENDOR / "MANIFEST.json").read_text(encoding="utf-8"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Host names of the CDNs folium/branca/streamlit-folium link by default. This test is
# the one place allowed to name them: it asserts they never appear.
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "netdna.bootstrapcdn.com",
    "unpkg.com",
    "d3js.org",
    "registry.npmjs.org",
)

CENTER = [36.62, 101.78]
POLYGON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Test county", "value": 42},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[101.6, 36.5], [101.95, 36.5], [101.95, 36.75], [101.6, 36.75], [101.6, 36.5]]
                ],
            },
        }
    ],
}
CIRCLES = [(36.58, 101.70), (36.66, 101.86), (36.70, 101.66)]

_LEGEND = """
{% macro html(this, kwargs) %}
<div id="test-legend" style="position:fixed;bottom:20px;left:20px;z-index:9999;
     background:#fff;padding:6px;border:1px solid #888">Legend: <b>{{ this.label }}</b></div>
{% endmacro %}
"""


class Legend(MacroElement):
    """HTML legend (how the dashboard draws legends instead of branca colormaps)."""

    _template = Template(_LEGEND)

    def __init__(self, label: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.label = label


def _png_1x1(rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    raw = b"\x00" + bytes(rgb)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# A tile layer that needs no tile server: every tile is the same light-grey pixel.
BLANK_TILE = "data:image/png;base64," + b64encode(_png_1x1((236, 236, 230))).decode()


def build_map(*, with_popup: bool = False, with_tiles: bool = True) -> folium.Map:
    """A map with every element type the dashboard uses."""
    m = folium.Map(location=CENTER, zoom_start=10, tiles=None)
    m.options["max_zoom"] = 18
    if with_tiles:
        folium.TileLayer(tiles=BLANK_TILE, attr="offline", name="Blank", max_zoom=18).add_to(m)

    areas = folium.FeatureGroup(name="Areas").add_to(m)
    folium.GeoJson(
        POLYGON,
        name="Counties",
        style_function=lambda _f: {"color": "#d33", "fillColor": "#f88", "weight": 2},
        tooltip=folium.GeoJsonTooltip(fields=["name", "value"], aliases=["County", "Value"]),
        popup=folium.GeoJsonPopup(fields=["name", "value"]),
    ).add_to(areas)

    sites = folium.FeatureGroup(name="Sites").add_to(m)
    for i, (lat, lon) in enumerate(CIRCLES):
        folium.CircleMarker(
            [lat, lon],
            radius=9,
            color="#136",
            fill=True,
            fill_opacity=0.8,
            tooltip=f"Site {i}",
            popup=f"<b>Site popup {i}</b>" if with_popup else None,
        ).add_to(sites)
    folium.Marker([36.56, 101.5], tooltip="default icon").add_to(sites)
    folium.Marker(
        [36.64, 101.78],
        icon=folium.DivIcon(html='<div class="test-label">Xining</div>', icon_size=(60, 18)),
    ).add_to(sites)

    cluster = folium.plugins.MarkerCluster(name="Cluster").add_to(m)
    for i in range(6):
        folium.Marker([36.55 + i * 0.002, 101.9 + i * 0.002]).add_to(cluster)
    folium.plugins.FastMarkerCluster(
        [[36.75 + i * 0.001, 101.6 + i * 0.001] for i in range(30)],
        name="Fast",
        callback=FAST_MARKER_CALLBACK,
    ).add_to(m)

    m.get_root().html.add_child(folium.Element('<div id="test-element">plain element</div>'))
    Legend("offline").add_to(m)
    folium.LayerControl().add_to(m)
    return m


def local_asset_paths(html: str, base_url: str = ASSET_BASE_URL) -> list[str]:
    """Paths (relative to static/vendor) that the page links under ``base_url``."""
    pattern = re.compile(r'(?:src|href)="' + re.escape(base_url) + r'/([^"]+)"')
    return pattern.findall(html)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------- tests


def test_default_folium_map_is_caught_by_external_urls() -> None:
    html = folium.Map(location=CENTER).get_root().render()
    urls = external_urls(html)
    for _, url in folium.Map.default_js + folium.Map.default_css:
        assert url in urls
    assert any("{z}" in u for u in urls), "default tile URL template must be reported"


def test_localized_map_loads_nothing_from_outside() -> None:
    html = localize(build_map()).get_root().render()
    assert external_urls(html) == []
    paths = local_asset_paths(html)
    assert paths == list(dict.fromkeys(paths)), "each asset linked once"
    assert "leaflet-1.9.4/leaflet.js" in paths
    assert "leaflet-1.9.4/leaflet.css" in paths
    assert "leaflet.markercluster-1.5.3/leaflet.markercluster.js" in paths
    # set before any marker is made: Leaflet's own guess fails in st_folium
    assert f'L.Icon.Default.imagePath = "{ASSET_BASE_URL}/leaflet-1.9.4/images/";' in html
    assert html.index("L.Icon.Default.imagePath") < html.index("L.marker(")
    # nothing on this map needs jQuery, Bootstrap or awesome-markers
    assert not any(p.startswith("jquery") for p in paths)
    assert not re.search(r"bootstrap|awesome|glyphicon|fontawesome", html, re.IGNORECASE)


def test_popup_brings_local_jquery_only() -> None:
    html = localize(build_map(with_popup=True)).get_root().render()
    assert external_urls(html) == []
    paths = local_asset_paths(html)
    assert paths == list(dict.fromkeys(paths)), "each asset linked once"
    assert f'<script src="{ASSET_BASE_URL}/jquery-3.7.1/jquery.min.js">' in html
    assert paths.index("leaflet-1.9.4/leaflet.js") < paths.index("jquery-3.7.1/jquery.min.js")


@pytest.mark.parametrize("with_popup", [False, True])
def test_linked_assets_exist_and_match_manifest(with_popup: bool) -> None:
    html = localize(build_map(with_popup=with_popup)).get_root().render()
    paths = local_asset_paths(html)
    assert paths
    for rel in paths:
        assert rel in MANIFEST["files"], rel
        assert (VENDOR / rel).is_file(), rel
        assert sha256(VENDOR / rel) == MANIFEST["files"][rel]["sha256"], rel


def test_manifest_matches_vendored_files() -> None:
    on_disk = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    }
    assert on_disk == set(MANIFEST["files"])
    for rel, entry in MANIFEST["files"].items():
        assert sha256(VENDOR / rel) == entry["sha256"], rel
        assert entry["package"] in MANIFEST["packages"]
        assert entry["license"] and entry["version"]
    for info in MANIFEST["packages"].values():
        assert (VENDOR / info["dir"] / "LICENSE").is_file()
    for image in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png", "layers.png"):
        assert (VENDOR / "leaflet-1.9.4" / "images" / image).is_file()


def test_vendor_script_pins_match_manifest() -> None:
    spec = importlib.util.spec_from_file_location(
        "vendor_assets", ROOT / "scripts" / "vendor_assets.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.verify() == []
    assert {n: s["version"] for n, s in module.PACKAGES.items()} == {
        n: p["version"] for n, p in MANIFEST["packages"].items()
    }


def test_standalone_html_is_self_contained() -> None:
    html = standalone_html(build_map(with_popup=True))
    assert "/app/static" not in html
    assert external_urls(html) == []
    assert "Leaflet 1.9.4" in html
    assert "L.map(" in html
    assert "L.MarkerClusterGroup" in html
    assert "jQuery v3.7.1" in html
    assert "url(images/" not in html
    assert 'url("data:image/png;base64,' in html
    assert "L.Icon.Default.mergeOptions" in html
    assert 'L.Icon.Default.imagePath = "";' in html
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*stylesheet", html)


def test_localize_is_idempotent_and_clears_an_earlier_render() -> None:
    m = build_map(with_popup=True)
    assert external_urls(m.get_root().render())  # rendered once with CDN links
    localize(m)
    first = m.get_root().render()
    assert external_urls(first) == []
    localize(m)
    assert local_asset_paths(m.get_root().render()) == local_asset_paths(first)


def test_localize_with_custom_base_url() -> None:
    html = localize(build_map(), base_url="/assets/vendor/").get_root().render()
    assert external_urls(html) == []
    assert "/assets/vendor/leaflet-1.9.4/leaflet.js" in html
    assert ASSET_BASE_URL not in html


def test_unvendored_plugin_is_refused() -> None:
    m = build_map()
    folium.plugins.Fullscreen().add_to(m)
    url = folium.plugins.Fullscreen.default_js[0][1]
    with pytest.raises(ValueError, match="Fullscreen") as info:
        localize(m)
    assert url in str(info.value)


@pytest.mark.parametrize(
    "add",
    [
        lambda m: folium.Marker(CENTER, icon=folium.Icon(color="red")).add_to(m),
        lambda m: branca.colormap.LinearColormap(["white", "red"], vmin=0, vmax=1).add_to(m),
        lambda m: folium.plugins.MiniMap().add_to(m),
        lambda m: folium.plugins.FastMarkerCluster([CENTER]).add_to(m),
    ],
    ids=["awesome-icon", "branca-colormap", "minimap", "fast-cluster-default-callback"],
)
def test_elements_needing_cdn_assets_are_refused(add) -> None:
    m = build_map()
    add(m)
    with pytest.raises(ValueError):
        localize(m)


def test_marker_cluster_without_max_zoom_is_refused() -> None:
    m = build_map(with_tiles=False)
    del m.options["max_zoom"]
    with pytest.raises(ValueError, match="max_zoom"):
        localize(m)
    m.options["max_zoom"] = 18
    localize(m)


def test_localize_leaves_folium_classes_and_other_maps_alone() -> None:
    classes = [folium.Map, folium.plugins.MarkerCluster, folium.plugins.FastMarkerCluster]
    before = {
        cls: (copy.deepcopy(cls.default_js), copy.deepcopy(cls.default_css)) for cls in classes
    }

    localize(build_map(with_popup=True))
    standalone_html(build_map())

    for cls in classes:
        assert (cls.default_js, cls.default_css) == before[cls], cls.__name__
    other = folium.Map(location=CENTER, tiles=None)
    cluster = folium.plugins.MarkerCluster().add_to(other)
    assert other.default_js == folium.Map.default_js == before[folium.Map][0]
    assert other.default_css == folium.Map.default_css
    assert cluster.default_js == folium.plugins.MarkerCluster.default_js
    assert all(re.match(r"https?://", url) for _, url in other.default_js)
    urls = external_urls(other.get_root().render())
    assert next(u for _, u in folium.Map.default_js) in urls


def test_external_urls_finds_each_kind() -> None:
    html = """<html><head>
    <script src="https://a.example/x.js"></script>
    <link rel="stylesheet" href="//b.example/y.css"/>
    <style>@import "https://c.example/z.css"; .k{background:url('https://d.example/i.png')}</style>
    <script src="/app/static/vendor/local.js"></script>
    </head><body style="background-image:url(https://e.example/bg.png)">
    <img src="http://f.example/a.png" srcset="https://g.example/a2.png 2x, local.png 1x">
    <a href="https://not-loaded.example/">link</a>
    <script>
      L.tileLayer("https://t.example/{z}/{x}/{y}.png", {}).addTo(m);
      var icon = L.divIcon({"html": "\\u003cimg src=\\"https://h.example/h.png\\"\\u003e"});
    </script></body></html>"""
    urls = external_urls(html)
    assert len(urls) == len(set(urls))
    assert set(urls) == {
        "https://a.example/x.js",
        "//b.example/y.css",
        "https://d.example/i.png",
        "https://c.example/z.css",
        "https://e.example/bg.png",
        "http://f.example/a.png",
        "https://g.example/a2.png",
        "https://t.example/{z}/{x}/{y}.png",
        "https://h.example/h.png",
    }


def test_no_cdn_host_names_in_our_files_or_output() -> None:
    texts = {
        "localized": localize(build_map(with_popup=True)).get_root().render(),
        "standalone": standalone_html(build_map(with_popup=True)),
    }
    for path in [
        ROOT / "maps" / "offline.py",
        ROOT / "scripts" / "vendor_assets.py",
        ROOT / ".streamlit" / "config.toml",
        VENDOR / "MANIFEST.json",
    ]:
        texts[str(path)] = path.read_text(encoding="utf-8")
    for name, text in texts.items():
        for host in CDN_HOSTS:
            assert host not in text, (name, host)


def test_offline_module_does_not_import_streamlit() -> None:
    source = (ROOT / "maps" / "offline.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+streamlit", source, re.MULTILINE)


def test_streamlit_config_enables_static_serving() -> None:
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["enableStaticServing"] is True
    assert ASSET_BASE_URL.startswith("/app/static/")
    assert (ROOT / "static" / ASSET_BASE_URL.removeprefix("/app/static/")).is_dir()


# ------------------------------------------------------------------------ browser tests


def _playwright():
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


def _inspect_page(page) -> dict:
    """Wait for the map, then read what it drew."""
    page.wait_for_selector("path.leaflet-interactive", state="attached", timeout=15_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.leaflet-marker-icon, img.leaflet-marker-shadow')]"
        ".every(i => i.complete)",
        timeout=15_000,
    )
    return page.evaluate(
        """() => ({
        paths: document.querySelectorAll('path.leaflet-interactive').length,
        clusters: document.querySelectorAll('.marker-cluster').length,
        divIcons: document.querySelectorAll('.test-label').length,
        markerImgs: [...document.querySelectorAll('img.leaflet-marker-icon')]
            .map(i => i.naturalWidth),
        shadowImgs: [...document.querySelectorAll('img.leaflet-marker-shadow')]
            .map(i => i.naturalWidth),
        layerToggleBg: getComputedStyle(document.querySelector(
            '.leaflet-control-layers-toggle')).backgroundImage.slice(0, 120),
        legend: !!document.querySelector('#test-legend'),
        tiles: [...document.querySelectorAll('img.leaflet-tile')]
            .filter(i => i.complete && i.naturalWidth > 0).length,
    })"""
    )


def _check_drawn(info: dict) -> None:
    assert info["paths"] == 1 + len(CIRCLES), info  # the polygon + the circle markers
    assert info["clusters"] >= 1, info
    assert info["divIcons"] == 1, info
    assert info["markerImgs"] and all(w > 0 for w in info["markerImgs"]), info
    assert info["shadowImgs"] and all(w > 0 for w in info["shadowImgs"]), info
    assert info["legend"], info
    assert info["tiles"] > 0, info


def _open_popups(page) -> tuple[str, str]:
    """Click the polygon (GeoJsonPopup) then a circle marker (folium.Popup, jQuery)."""
    polygon = page.locator("path.leaflet-interactive").first
    box = polygon.bounding_box()
    assert box
    polygon.click(position={"x": 12, "y": box["height"] - 12})  # a corner, clear of markers
    page.wait_for_selector(".leaflet-popup-content >> text=Test county", timeout=5_000)
    geo = page.inner_text(".leaflet-popup-content")
    page.click(".leaflet-popup-close-button")
    page.wait_for_selector(".leaflet-popup", state="detached", timeout=5_000)
    page.locator("path.leaflet-interactive").nth(1).click()
    page.wait_for_selector(".leaflet-popup-content >> text=Site popup", timeout=5_000)
    site = page.inner_text(".leaflet-popup-content")
    return geo, site


@pytest.mark.browser
def test_standalone_html_draws_in_chromium_offline(tmp_path: Path) -> None:
    sync_api = _playwright()
    out = tmp_path / "map.html"
    out.write_text(standalone_html(build_map(with_popup=True)), encoding="utf-8")

    blocked: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort()

            page.route("**/*", route)
            page.goto(out.as_uri())
            info = _inspect_page(page)
            page.screenshot(path="/tmp/offline_check.png")
            geo, site = _open_popups(page)
        finally:
            browser.close()
    print("standalone:", info)
    assert blocked == []
    assert errors == []
    _check_drawn(info)
    assert info["layerToggleBg"].startswith('url("data:image/png'), info
    assert "Test county" in geo
    assert "Site popup" in site


class _StaticAppHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``/app/static/...`` from ``static/`` (like Streamlit) and ``/map.html``."""

    page = b""

    def do_GET(self) -> None:
        if self.path == "/map.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(self.page)
            return
        if not self.path.startswith("/app/static/"):
            self.send_error(404)
            return
        self.path = self.path.removeprefix("/app/static")
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def static_server() -> Iterator[tuple[str, type[_StaticAppHandler]]]:
    handler = type("Handler", (_StaticAppHandler,), {})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(ROOT / "static"))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_served_map_draws_in_chromium_offline(static_server) -> None:
    """The page as Streamlit serves it: assets fetched from /app/static/vendor."""
    sync_api = _playwright()
    origin, handler = static_server
    handler.page = localize(build_map(with_popup=True)).get_root().render().encode()

    blocked: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r) -> None:
                url = r.request.url
                if url.startswith((origin + "/", "data:")):
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort()

            page.route("**/*", route)
            page.goto(origin + "/map.html")
            info = _inspect_page(page)
            page.screenshot(path="/tmp/offline_check_served.png")
            geo, site = _open_popups(page)
        finally:
            browser.close()
    print("served:", info)
    assert blocked == []
    assert errors == []
    _check_drawn(info)
    assert "/app/static/vendor/leaflet-1.9.4/images/layers.png" in info["layerToggleBg"]
    assert "Test county" in geo
    assert "Site popup" in site
