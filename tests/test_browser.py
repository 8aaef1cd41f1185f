"""The dashboard in a real headless Chromium: offline page load, drill-down, meeting mode, XSS.

One Streamlit server (``streamlit run app.py``) per module on a free port and one Chromium
(Debian's /usr/bin/chromium). The map lives in the streamlit-folium component iframe; tests
find the frame whose document has ``.leaflet-container``. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from shapely.geometry import Point

from tests.browser_support import (
    ARTIFACTS,
    CHROMIUM,
    StreamlitServer,
    launch_chromium,
    map_frame,
    streamlit_server,
)

if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

from geo.boundaries import Units  # noqa: E402
from geo.loader import load_plan, load_sites, load_units  # noqa: E402
from maps.offline import standalone_html  # noqa: E402
from maps.render import build_map  # noqa: E402
from viewmodel.i18n import t  # noqa: E402
from viewmodel.views import ViewState, build_view, filter_year  # noqa: E402

pytestmark = pytest.mark.browser

DATONG = "630121"
CJK = re.compile(r"[\u4e00-\u9fff]")
XSS_ALERT = "<img src=x onerror=alert(1)>"
XSS_PROBE = '<img src=x onerror="window.__xss=1">'
MAP_TIMEOUT = 60_000  # ms: generous waits (2 shared cores); the cold start bound is 30 s

# Unit polygons, and site DivIcons on the map (the legend repeats the .xn-site swatch).
N_PATHS_JS = "() => document.querySelectorAll('path.leaflet-interactive').length"
N_MARKERS_JS = "() => document.querySelectorAll('.leaflet-marker-pane .xn-site').length"


# --------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Expected:
    units: Units
    sites: gpd.GeoDataFrame  # all bundled sites, samples included, assigned
    n_counties: int
    n_markers: int  # site markers of the default view
    n_datong_zones: int


@pytest.fixture(scope="module")
def expected() -> Expected:
    units = load_units()
    sites = load_sites(units, include_samples=True).assigned
    # The default view as dashboard/ui.py builds it: all layers shown, samples toggle on,
    # year slider at the current year (YEARS[-1]); views.build_view filters the same way.
    default = ViewState()
    shown = filter_year(sites, date.today().year)
    if not default.samples:
        shown = shown[~shown["is_sample"].astype(bool)]
    shown = shown[shown["layer"].isin(default.show)]
    drawable = shown[shown.geometry.notna() & ~shown.geometry.is_empty]
    towns = units.townships
    n_zones = int((towns["county_code"].eq(DATONG) & towns.geometry.notna()).sum())
    return Expected(units, sites, len(units.counties), len(drawable), n_zones)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[StreamlitServer]:
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with streamlit_server(log) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    pw = sync_api.sync_playwright().start()
    b = launch_chromium(pw)
    try:
        yield b
    finally:
        b.close()
        pw.stop()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@dataclass
class Session:
    """A browser page (pages share the module's context), with every request it made and
    the page errors since it last opened the app."""

    page: object
    server: StreamlitServer
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, query: str = "") -> None:
        self.errors.clear()
        self.page.goto(self.server.url + "/" + query)

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the local server (data:/blob:/about: stay in the page)."""
        out = []
        for url in self.requests:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc == self.server.host:
                continue
            out.append(url)
        return out

    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.page.url).query)


@pytest.fixture(scope="module")
def context(browser) -> Iterator[object]:
    """One browser context for the module: its HTTP cache spares each page from fetching
    Streamlit's ~150 script files again (Streamlit sessions are per page anyway)."""
    ctx = browser.new_context(locale="zh-CN")
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def make_session(context, server) -> Iterator:
    pages = []

    def make(width: int = 1600, height: int = 1000) -> Session:
        page = context.new_page()
        pages.append(page)
        page.set_viewport_size({"width": width, "height": height})
        page.set_default_timeout(MAP_TIMEOUT)
        s = Session(page, server)
        page.on("request", lambda r: s.requests.append(r.url))
        page.on("pageerror", lambda e: s.errors.append(str(e)))
        return s

    try:
        yield make
    finally:
        for page in pages:
            page.close()


# ---------------------------------------------------------------------------- helpers


def wait_idle(page, timeout: float = MAP_TIMEOUT / 1000) -> None:
    """Wait until the Streamlit script run is over (the app root says "notRunning")."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout * 1000,
    )


def app_exception(page) -> str:
    """The text of the first exception box Streamlit shows, or ''."""
    box = page.locator('[data-testid="stException"]')
    return box.first.inner_text()[:600] if box.count() else ""


def wait_count(s: Session, js: str, n: int, timeout: float = MAP_TIMEOUT / 1000) -> object:
    """Poll ``js`` in the map frame (re-found each time: a rerun may remount the iframe)
    until it returns ``n``; returns the frame. Fails at once on a page error (a blank map:
    "geo_json_<hash> is not defined") or an exception shown by the app."""
    deadline = time.monotonic() + timeout
    wait_idle(s.page, timeout)
    last: object = None
    while time.monotonic() < deadline:
        assert not s.errors, f"page errors: {s.errors}"
        assert not (exc := app_exception(s.page)), f"app exception: {exc}"
        try:
            frame = map_frame(s.page, timeout=max(0.5, deadline - time.monotonic()))
            last = frame.evaluate(js)
            if last == n:
                return frame
        except AssertionError:
            raise
        except Exception as e:  # the frame navigated or detached mid-evaluation
            last = repr(e)
        s.page.wait_for_timeout(100)
    raise AssertionError(f"{js} = {last!r}, wanted {n} after {timeout}s")


def wait_map(s: Session, n_paths: int, n_markers: int | None = None) -> object:
    frame = wait_count(s, N_PATHS_JS, n_paths)
    if n_markers is not None:
        frame = wait_count(s, N_MARKERS_JS, n_markers)
    frame.wait_for_selector(".xn-legend", state="visible")
    return frame


def legend_geometry(page) -> dict:
    """The legend's box in the map iframe and on the screen, with both viewports."""
    frame = map_frame(page)
    inner = frame.evaluate(
        """() => {
        const el = document.querySelector('.xn-legend');
        const r = el.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                vw: window.innerWidth, vh: window.innerHeight, text: el.innerText};
    }"""
    )
    box = frame.frame_element().bounding_box()
    assert box, "map iframe has no box"
    vp = page.viewport_size
    inner["screen"] = {
        "left": box["x"] + inner["left"],
        "top": box["y"] + inner["top"],
        "right": box["x"] + inner["right"],
        "bottom": box["y"] + inner["bottom"],
        "vw": vp["width"],
        "vh": vp["height"],
    }
    return inner


def assert_inside(r: dict, what: str) -> None:
    assert r["right"] > r["left"] and r["bottom"] > r["top"], (what, r)
    assert r["left"] >= 0 and r["top"] >= 0, (what, r)
    assert r["right"] <= r["vw"] and r["bottom"] <= r["vh"], (what, r)


def shot(page, artifacts: Path, name: str) -> Path:
    path = artifacts / name
    page.screenshot(path=str(path))
    return path


def title_px(page) -> float:
    page.wait_for_selector(".xn-title", state="visible")
    return float(
        page.eval_on_selector(".xn-title", "e => parseFloat(getComputedStyle(e).fontSize)")
    )


def sidebar_shown(page) -> bool:
    return page.locator('[data-testid="stSidebar"]').is_visible()


def click_point_inside(frame, geom) -> dict:
    """Container pixel of a point inside ``geom`` where the topmost element (and its
    neighbours 6 px away) is a unit polygon, not a site marker, label or legend: the
    representative point first, then points of a grid inside the polygon, nearest first."""
    inner = geom.buffer(-0.01)
    inner = geom if inner.is_empty else inner
    rep = geom.representative_point()
    minx, miny, maxx, maxy = inner.bounds
    steps = 14
    grid = [
        (minx + (maxx - minx) * i / steps, miny + (maxy - miny) * j / steps)
        for i in range(1, steps)
        for j in range(1, steps)
    ]
    grid = [p for p in grid if inner.contains(Point(p))]
    grid.sort(key=lambda p: (p[0] - rep.x) ** 2 + (p[1] - rep.y) ** 2)
    hit = frame.evaluate(
        """(cands) => {
        const m = window.map;  // streamlit-folium keeps the Leaflet map here
        const box = m.getContainer().getBoundingClientRect();
        for (const [lon, lat] of cands) {
            const p = m.latLngToContainerPoint([lat, lon]);
            const x = box.left + p.x, y = box.top + p.y;
            if (x < 10 || y < 10 || x > innerWidth - 10 || y > innerHeight - 10) continue;
            const ok = [[0, 0], [6, 0], [-6, 0], [0, 6], [0, -6]].every(([dx, dy]) => {
                const el = document.elementFromPoint(x + dx, y + dy);
                return el && el.tagName.toLowerCase() === 'path'
                    && el.classList.contains('leaflet-interactive');
            });
            if (ok) return {x: p.x, y: p.y, lon, lat};
        }
        return null;
    }""",
        [(rep.x, rep.y), *grid],
    )
    assert hit, "no clickable pixel inside the county polygon"
    return hit


# ------------------------------------------------------------------- streamlit tests


def test_first_and_next_visit_draw_the_map_offline(make_session, server, expected, artifacts):
    """Cold start: the first page load after the server starts (empty Streamlit caches).
    Then a second visitor gets the same view again (a map rendered twice once drew blank)."""
    s = make_session(1600, 1000)
    page = s.page
    t0 = time.monotonic()
    s.open()
    frame = wait_map(s, expected.n_counties, expected.n_markers)
    painted = time.monotonic()
    cold, load = painted - server.started_at, painted - t0
    print(
        f"\ncold start (server spawn -> map painted): {cold:.1f}s; server healthy after "
        f"{server.healthy_at - server.started_at:.1f}s; page open -> map painted: {load:.1f}s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    # every request the page makes has been made once the script is idle and the images are in
    # (a wait for "networkidle" also waits on long-lived connections it does not control)
    wait_idle(page)
    frame.wait_for_function("() => [...document.images].every(i => i.complete)")
    page.wait_for_timeout(1000)

    assert s.foreign_requests() == []
    assert any("/app/static/vendor/leaflet-1.9.4/leaflet.js" in u for u in s.requests)
    assert frame.evaluate(N_PATHS_JS) == expected.n_counties == 7
    assert frame.evaluate(N_MARKERS_JS) == expected.n_markers
    assert frame.evaluate("() => document.querySelectorAll('img.leaflet-tile').length") == 0

    legend = legend_geometry(page)
    assert_inside(legend, "legend in the map iframe")
    assert_inside(legend["screen"], "legend on the screen")
    assert frame.locator(".xn-legend").is_visible()
    assert CJK.search(legend["text"]), legend["text"]
    assert page.locator(".xn-title").inner_text().strip() == t("title", "zh")
    assert s.errors == []
    shot(page, artifacts, "01_first_load_1600x1000.png")
    assert cold < 30, f"cold start {cold:.1f}s"

    second = make_session(1280, 800)
    t0 = time.monotonic()
    second.open()
    wait_map(second, expected.n_counties, expected.n_markers)
    print(f"next visitor: page open -> map painted: {time.monotonic() - t0:.1f}s")
    assert second.errors == [] and second.foreign_requests() == []


def test_click_county_drills_down_and_back(make_session, expected, artifacts):
    s = make_session(1600, 1000)
    page = s.page
    s.open()
    frame = wait_map(s, expected.n_counties, expected.n_markers)
    back = page.get_by_role("button", name=t("back", "zh"))
    assert back.count() == 0
    assert "county" not in s.query()

    county = expected.units.counties.set_index("code").geometry[DATONG]
    hit = click_point_inside(frame, county)
    frame.locator(".leaflet-container").click(position={"x": hit["x"], "y": hit["y"]})

    back.wait_for(state="visible")
    page.wait_for_url(re.compile(r"[?&]county="))
    frame = wait_count(s, N_PATHS_JS, expected.n_datong_zones)
    assert expected.n_datong_zones == 20
    n_sites = frame.evaluate(N_MARKERS_JS)
    assert 0 < n_sites < expected.n_markers
    frame.wait_for_selector(".xn-legend", state="visible")
    print(f"\ndrill-down URL: {urllib.parse.unquote(page.url)} ({n_sites} sites)")
    page.mouse.move(2, 2)  # off the map: no hover highlight or sticky tooltip in the shot
    frame.wait_for_selector(".leaflet-tooltip", state="detached")
    shot(page, artifacts, "02_drilldown_datong_1600x1000.png")

    # the URL is a link to this view: it opens the same drill-down in a new page
    other = make_session(1280, 800)
    other.page.goto(page.url)
    other.page.get_by_role("button", name=t("back", "zh")).wait_for(state="visible")
    wait_count(other, N_PATHS_JS, expected.n_datong_zones)

    back.click()
    page.wait_for_url(lambda url: "county=" not in url)
    wait_map(s, expected.n_counties, expected.n_markers)
    assert back.count() == 0
    assert s.foreign_requests() == [] and other.foreign_requests() == []
    assert s.errors == [] and other.errors == []


def enter_meeting_mode(s: Session) -> float:
    """Open the page, read the normal title size, then turn meeting mode on with the
    sidebar toggle as a user does; returns the normal title size (px)."""
    page = s.page
    s.open()
    wait_idle(page)
    normal = title_px(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.is_visible()
    sidebar.get_by_text(t("meeting", "zh"), exact=True).click()
    sidebar.wait_for(state="hidden")
    page.wait_for_url(re.compile(r"[?&]meeting=true"))
    page.wait_for_function(
        "px => { const e = document.querySelector('.xn-title');"
        " return !!e && parseFloat(getComputedStyle(e).fontSize) > px; }",
        arg=normal,
    )
    return normal


@pytest.mark.parametrize(
    "size",
    [
        (1920, 1080),
        (1280, 720),
    ],
    ids=["1920x1080", "1280x720"],
)
def test_meeting_mode_is_large_and_clean(make_session, expected, artifacts, size):
    width, height = size
    s = make_session(width, height)
    page = s.page
    normal_title = enter_meeting_mode(s)
    wait_map(s, expected.n_counties, expected.n_markers)
    meeting_title = title_px(page)
    assert meeting_title >= normal_title * 1.3
    assert not sidebar_shown(page)
    assert not page.locator('header[data-testid="stHeader"]').is_visible()
    assert page.locator(".xn-title").inner_text().strip() == t("title", "zh")

    legend = legend_geometry(page)
    print(
        f"\n{width}x{height}: title {normal_title:g}px -> meeting {meeting_title:g}px; "
        f"legend on screen {legend['screen']}"
    )
    assert_inside(legend, "legend in the map iframe")
    assert CJK.search(legend["text"])
    assert s.foreign_requests() == []
    shot(page, artifacts, f"03_meeting_{width}x{height}.png")
    assert_inside(legend["screen"], f"legend on a {width}x{height} screen without scrolling")


def test_meeting_mode_in_english_from_a_link(make_session, expected, artifacts):
    s = make_session(1920, 1080)
    page = s.page
    s.open("?meeting=true&lang=en")
    wait_map(s, expected.n_counties, expected.n_markers)
    assert page.locator(".xn-title").inner_text().strip() == t("title", "en")
    assert title_px(page) >= 32 * 1.3  # normal mode: 2rem = 32 px
    assert not sidebar_shown(page)
    legend = legend_geometry(page)
    assert_inside(legend, "legend in the map iframe")
    assert_inside(legend["screen"], "legend on the screen")
    assert "Number of sites" in legend["text"], legend["text"]
    shot(page, artifacts, "04_meeting_en_1920x1080.png")
    assert s.foreign_requests() == []


def test_county_code_link_opens_the_drill_down(make_session, expected):
    s = make_session(1280, 800)
    s.open(f"?county={DATONG}")
    wait_idle(s.page)
    # the back button is drawn by the run that applies the link: wait for it, do not poll once
    s.page.get_by_role("button", name=t("back", "zh")).wait_for(state="visible", timeout=60_000)
    wait_count(s, N_PATHS_JS, expected.n_datong_zones)


def test_language_switch_there_and_back_keeps_the_map(make_session, expected):
    s = make_session(1600, 1000)
    page = s.page
    s.open()
    wait_map(s, expected.n_counties, expected.n_markers)
    sidebar = page.locator('[data-testid="stSidebar"]')
    for label, lang in (("English", "en"), ("中文", "zh"), ("English", "en")):
        sidebar.get_by_text(label, exact=True).click()
        page.wait_for_function(
            "t => document.querySelector('.xn-title')?.innerText.trim() === t"
            " || !!document.querySelector('[data-testid=\"stException\"]')",
            arg=t("title", lang),
        )
        assert not (exc := app_exception(page)), f"after switching to {label}: {exc}"
        wait_map(s, expected.n_counties, expected.n_markers)
    sidebar.get_by_text(t("meeting", "en"), exact=True).click()
    sidebar.wait_for(state="hidden")
    wait_map(s, expected.n_counties, expected.n_markers)  # no site may go missing
    assert page.locator(".xn-title").inner_text().strip() == t("title", "en")


# ------------------------------------------------------------- standalone map (file://)


def standalone_map(units: Units, sites: gpd.GeoDataFrame) -> str:
    """The map download of dashboard/ui.py (standalone_html(build_map(view.spec))) for the
    default ViewState, as of this year."""
    plan = load_plan()
    d = plan.designations
    view = build_view(
        units,
        sites,
        ViewState(year=date.today().year),
        plan=plan,
        pilot_counties=tuple(d.loc[d["designation"] == "pilot_county", "county_code"]),
        pilot_towns=tuple(d.loc[d["designation"] == "pilot_town", "township_code"]),
    )
    return standalone_html(build_map(view.spec))


def open_offline(browser, path: Path, width: int = 1400, height: int = 900):
    """Open ``path`` from file:// with every non-file request aborted."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    log: dict[str, list[str]] = {"blocked": [], "errors": [], "dialogs": []}

    def route(r) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            log["blocked"].append(r.request.url)
            r.abort()

    def dialog(d) -> None:
        log["dialogs"].append(f"{d.type}: {d.message}")
        d.dismiss()

    page.route("**/*", route)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("dialog", dialog)
    page.goto(path.as_uri())
    return context, page, log


def isolated_rows(sites: gpd.GeoDataFrame, n: int, min_deg: float = 0.03) -> list:
    """Index labels of ``n`` drawable sites with no other site within ``min_deg`` degrees,
    so a click on their marker cannot land on a neighbour."""
    drawable = sites[sites.geometry.notna() & ~sites.geometry.is_empty]
    xy = list(zip(drawable.geometry.x, drawable.geometry.y))
    out = []
    for idx, (x, y) in zip(drawable.index, xy):
        if sum(1 for a, b in xy if abs(a - x) < min_deg and abs(b - y) < min_deg) == 1:
            out.append(idx)
        if len(out) == n:
            return out
    raise AssertionError(f"fewer than {n} isolated sites")


def _wait_open(page, read: str, part: str, opener: str) -> None:
    """Wait for the hover/click to open ``part``; on a loaded machine a hover can be missed,
    so after 5 s Leaflet opens the same tooltip/popup itself (same content, same rendering)."""
    try:
        page.wait_for_function(f"() => ({read})('{part}')", timeout=5_000)
    except PlaywrightTimeout:
        page.evaluate(f"() => window.__target.{opener}()")
        page.wait_for_function(f"() => ({read})('{part}')")


def open_marker(page, name: str) -> dict:
    """Hover, then click, the site marker whose tooltip reads ``name`` (as text); returns
    the text of that marker's tooltip and popup and how many <img> they hold. The popup
    stays open."""
    handle = page.evaluate_handle(
        """(needle) => {
        const key = Object.keys(window).find(k => k.startsWith('map_') && window[k].eachLayer);
        let found = null;
        window[key].eachLayer(l => {
            const tip = l.getTooltip && l.getTooltip();
            if (found || !tip || !l._icon) return;
            const tpl = document.createElement('template');
            const c = tip.getContent();
            tpl.innerHTML = typeof c === 'string' ? c : c.outerHTML;
            if (tpl.content.textContent.includes(needle)) found = l;
        });
        if (!found) return null;
        found.setZIndexOffset(100000);  // above any marker that overlaps it
        window.__target = found;
        return found._icon;
    }""",
        name,
    )
    icon = handle.as_element()
    assert icon is not None, f"no marker with tooltip {name!r}"
    if page.locator(".leaflet-popup").count():  # an open popup could cover the marker
        page.locator(".leaflet-popup-close-button").click()
        page.wait_for_selector(".leaflet-popup", state="detached")
    read = """(part) => {
        const layer = window.__target;
        const obj = part === 'tooltip' ? layer.getTooltip() : layer.getPopup();
        if (!obj || !obj.isOpen()) return null;
        const el = obj.getElement();
        const box = el.getBoundingClientRect();
        return {text: el.innerText, imgs: el.querySelectorAll('img').length,
                visible: box.width > 0 && box.height > 0};
    }"""
    icon.scroll_into_view_if_needed()
    icon.hover()
    _wait_open(page, read, "tooltip", "openTooltip")
    tooltip = page.evaluate(read, "tooltip")
    icon.click()
    _wait_open(page, read, "popup", "openPopup")
    popup = page.evaluate(read, "popup")
    assert tooltip["visible"] and popup["visible"], (tooltip, popup)
    return {
        "tooltip": tooltip["text"],
        "tooltip_imgs": tooltip["imgs"],
        "popup": popup["text"],
        "popup_imgs": popup["imgs"],
    }


def test_site_names_cannot_run_script_in_the_offline_map(browser, expected, tmp_path, artifacts):
    sites = expected.sites.copy()
    a, b = isolated_rows(sites, 2)
    sites.loc[a, "name"] = XSS_PROBE
    sites.loc[b, "name"] = XSS_ALERT
    out = tmp_path / "xss.html"
    out.write_text(standalone_map(expected.units, sites), encoding="utf-8")

    context, page, log = open_offline(browser, out)
    try:
        page.wait_for_selector("path.leaflet-interactive", state="attached")
        seen = {name: open_marker(page, name) for name in (XSS_PROBE, XSS_ALERT)}
        page.wait_for_timeout(300)  # time for an injected onerror to fire
        xss = page.evaluate("() => typeof window.__xss")
        shot(page, artifacts, "05_xss_popup_offline.png")  # the alert payload's popup
    finally:
        context.close()
    assert log["dialogs"] == []
    assert xss == "undefined"
    for name, got in seen.items():
        assert name in got["popup"], (name, got)  # the literal text, shown as text
        assert name in got["tooltip"], (name, got)
        assert got["popup_imgs"] == 0 and got["tooltip_imgs"] == 0, (name, got)
    assert log["blocked"] == []
    assert log["errors"] == []


def test_site_names_with_js_template_characters_stay_text(browser, expected, tmp_path):
    """folium's Tooltip/Popup templates put their HTML in JS template literals: '${...}'
    in a site name ran as script and a backtick or backslash blanked the whole map."""
    names = ["${window.__xss=2}", "a`b", "C:\\users\\x"]
    sites = expected.sites.copy()
    for row, name in zip(isolated_rows(sites, len(names)), names):
        sites.loc[row, "name"] = name
    out = tmp_path / "template.html"
    out.write_text(standalone_map(expected.units, sites), encoding="utf-8")

    context, page, log = open_offline(browser, out)
    try:
        page.wait_for_load_state("load")  # the map script has run (or thrown) by now
        state = page.evaluate(f"() => [typeof window.__xss, ({N_PATHS_JS})()]")
        assert log["errors"] == []
        assert state == ["undefined", expected.n_counties]
        for name in names:
            got = open_marker(page, name)
            assert name in got["popup"] and name in got["tooltip"], (name, got)
    finally:
        context.close()
    assert log["dialogs"] == []


def test_offline_standalone_map_draws_counties(browser, expected, tmp_path, artifacts):
    out = tmp_path / "xining_map.html"
    out.write_text(standalone_map(expected.units, expected.sites), encoding="utf-8")

    context, page, log = open_offline(browser, out)
    try:
        page.wait_for_function(f"() => ({N_PATHS_JS})() === {expected.n_counties}")
        page.wait_for_function(f"() => ({N_MARKERS_JS})() === {expected.n_markers}")
        page.wait_for_selector(".xn-legend", state="visible")
        legend = page.inner_text(".xn-legend")
        shot(page, artifacts, "06_offline_standalone.png")
    finally:
        context.close()
    assert log["blocked"] == []
    assert log["errors"] == []
    assert CJK.search(legend)
