"""One benchmark case per process: ``python -m bench.cases CASE [options]`` prints one JSON line.

Each case runs in a fresh interpreter so its memory figures are its own, and imports the project
modules it measures inside its function (not at the top): a case that assigns points must not
also load the dashboard, DuckDB or Playwright into the process it measures. ``peak_rss_mb`` is the
process high-water mark (``getrusage``), ``traced_peak_mb`` the peak of Python/numpy
allocations (``tracemalloc``) during one extra, untimed run of the measured call only.
Times are wall-clock seconds, median of the repetitions (each on freshly parsed polygons,
so preparing them is always part of the time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
LOG = subprocess.DEVNULL
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # no name resolves but the loopback: nothing can leave the machine, no routing in Python
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

warnings.filterwarnings("ignore")


# ----------------------------------------------------------------------------- helpers


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Callable[[], object], reps: int, setup: Callable[[], None] | None = None):
    """Median and all times of ``reps`` runs of ``fn`` (``setup`` before each, untimed)."""
    times, out = [], None
    for _ in range(reps):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def _traced_peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _fresh(geoms: np.ndarray) -> np.ndarray:
    """The same polygons as new, unprepared objects."""
    return shapely.from_wkb(shapely.to_wkb(geoms))


def _smallest_code(pt: np.ndarray, code: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the smallest code among the pairs (``''`` if none) and whether >1 matched."""
    order = np.lexsort((code, pt))
    pt, code = pt[order], code[order]
    first = np.ones(len(pt), dtype=bool)
    first[1:] = pt[1:] != pt[:-1]
    out = np.full(n, "", dtype=object)
    out[pt[first]] = code[first]
    return out, np.bincount(pt, minlength=n) > 1


def _counts(codes: np.ndarray) -> dict[str, int]:
    s = pd.Series(codes)
    return {str(k): int(v) for k, v in s[s != ""].value_counts().sort_index().items()}


# ----------------------------------------------------------------------------- assignment


def _levels(units) -> list[tuple[str, np.ndarray, np.ndarray]]:
    c = units.counties.reset_index(drop=True)
    t = units.townships.dropna(subset=["geometry"]).reset_index(drop=True)
    return [
        ("county", c.geometry.to_numpy(), c["code"].to_numpy(dtype=object)),
        ("township", t.geometry.to_numpy(), t["code"].to_numpy(dtype=object)),
    ]


def _product(x, y, levels) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from geo.assign import locate

    out = {}
    for name, geoms, codes in levels:
        idx, border = locate(x, y, gpd.GeoSeries(geoms), codes)
        out[name] = (np.where(idx >= 0, codes[np.maximum(idx, 0)], ""), border)
    return out


def _sjoin(points: np.ndarray, levels, *, reduce: bool):
    """geopandas.sjoin in its fast orientation for boundary-inclusive matches: polygons on
    the left with ``covers`` (the index is built on the points, each polygon is prepared)."""
    n = len(points)
    out = {}
    for name, geoms, codes in levels:
        pts = gpd.GeoDataFrame(geometry=gpd.GeoSeries(points, crs=4326))
        polys = gpd.GeoDataFrame({"code": codes}, geometry=gpd.GeoSeries(geoms, crs=4326))
        j = gpd.sjoin(polys, pts, predicate="covers")
        if reduce:
            out[name] = _smallest_code(
                j["index_right"].to_numpy(), j["code"].to_numpy(dtype=object), n
            )
    return out


def _duckdb_connect():
    import duckdb
    import duckdb_extension_spatial

    ext = next(Path(duckdb_extension_spatial.__file__).parent.rglob("*.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    return con, duckdb.__version__, ext.name


def _duckdb(con, n: int, levels) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, _, _ in levels:
        rows = con.execute(
            f"SELECT p.id, min(g.code) AS code, count(*) AS n FROM pts p "
            f"JOIN polys_{name} g ON ST_Covers(g.geom, p.geom) GROUP BY p.id"
        ).fetchnumpy()
        codes = np.full(n, "", dtype=object)
        codes[rows["id"]] = rows["code"]
        border = np.zeros(n, dtype=bool)
        border[rows["id"]] = rows["n"] > 1
        out[name] = (codes, border)
    return out


def case_assign(n: int, reps: int, duck: bool, seed: int = 0) -> dict:
    """Xining: ``n`` sites to counties and township zones by the product, sjoin and DuckDB."""
    from bench.synth import xining_points
    from geo.loader import load_units

    units = load_units()
    levels = _levels(units)
    x, y = xining_points(units, n, seed)
    fresh: dict[str, list] = {"levels": levels}

    def refresh() -> None:
        fresh["levels"] = [(a, _fresh(g), c) for a, g, c in levels]

    res: dict = {"case": "assign", "n": n, "reps": reps}
    res["product_s"], res["product_runs"], prod = _timed(
        lambda: _product(x, y, fresh["levels"]), reps, refresh
    )
    refresh()
    res["product_traced_peak_mb"] = _traced_peak_mb(lambda: _product(x, y, fresh["levels"]))

    t0 = time.perf_counter()
    points = shapely.points(x, y)
    res["points_build_s"] = time.perf_counter() - t0
    res["sjoin_join_s"], res["sjoin_join_runs"], _ = _timed(
        lambda: _sjoin(points, fresh["levels"], reduce=False), reps, refresh
    )
    res["sjoin_total_s"], _, sj = _timed(
        lambda: _sjoin(points, fresh["levels"], reduce=True), 1, refresh
    )
    res["ratio_sjoin"] = res["sjoin_join_s"] / res["product_s"]

    checks = {}
    for name, _, _ in levels:
        pc, pb = prod[name]
        sc, sb = sj[name]
        checks[name] = {
            "assigned": int((pc != "").sum()),
            "on_border": int(pb.sum()),
            "counts_equal_sjoin": _counts(pc) == _counts(sc),
            "points_equal_sjoin": bool((pc == sc).all() and (pb == sb).all()),
        }
    if duck:
        con, version, ext = _duckdb_connect()
        res["duckdb"] = f"duckdb {version}, spatial extension loaded from {ext}"
        con.register("pts_df", pd.DataFrame({"id": np.arange(n), "x": x, "y": y}))
        for name, geoms, codes in levels:
            con.register(f"{name}_df", pd.DataFrame({"code": codes, "wkb": shapely.to_wkb(geoms)}))
            con.execute(
                f"CREATE TABLE polys_{name} AS SELECT code, ST_GeomFromWKB(wkb) AS geom "
                f"FROM {name}_df"
            )
        t0 = time.perf_counter()
        con.execute("CREATE TABLE pts AS SELECT id, ST_Point(x, y) AS geom FROM pts_df")
        res["duckdb_points_build_s"] = time.perf_counter() - t0
        res["duckdb_s"], res["duckdb_runs"], dk = _timed(
            lambda: _duckdb(con, n, levels), reps if n <= 10**4 else 1
        )
        res["ratio_duckdb"] = res["duckdb_s"] / res["product_s"]
        for name, _, _ in levels:
            pc, pb = prod[name]
            dc, db = dk[name]
            checks[name]["counts_equal_duckdb"] = _counts(pc) == _counts(dc)
            checks[name]["points_equal_duckdb"] = bool((pc == dc).all() and (pb == db).all())
    res["checks"] = checks
    res["counts_identical"] = all(
        v for c in checks.values() for k, v in c.items() if k.startswith("counts_equal")
    )
    res["peak_rss_mb"] = _peak_rss_mb()
    return res


def case_assign_sites(n: int, reps: int) -> dict:
    """The whole ``assign_sites`` (stated places, seat placement, both levels, flags)."""
    from bench.synth import xining_registry
    from geo.assign import assign_sites
    from geo.loader import load_units

    units = load_units()
    registry = xining_registry(units, n)
    res: dict = {"case": "assign_sites", "n": n, "reps": reps}
    res["seconds"], res["runs"], out = _timed(lambda: assign_sites(registry, units), reps)
    res["placed_at_seat"] = int(out["assign_method"].str.startswith("seat:").sum())
    res["in_city"] = int((out["county_code"] != "").sum())
    res["peak_rss_mb"] = _peak_rss_mb()
    return res


# ----------------------------------------------------------------------------- scaling


def case_scale(polygons: int, n: int, reps: int, sjoin: bool) -> dict:
    """Country-sized tessellation (``polygons`` Voronoi cells), ``n`` uniform points."""
    from bench.synth import country_points, country_polygons
    from geo.assign import locate

    t0 = time.perf_counter()
    geoms = country_polygons(polygons)
    build = time.perf_counter() - t0
    codes = np.array([f"{i:06d}" for i in range(len(geoms))], dtype=object)
    x, y = country_points(n)
    holder = {"g": geoms}

    def refresh() -> None:
        holder["g"] = _fresh(geoms)

    def run():
        return locate(x, y, gpd.GeoSeries(holder["g"]), codes)

    res: dict = {
        "case": "scale",
        "units": "country Voronoi",
        "polygons": len(geoms),
        "vertices": int(shapely.get_num_coordinates(geoms).sum()),
        "n": n,
        "reps": reps,
        "polygons_build_s": build,
    }
    res["product_s"], res["product_runs"], (idx, _) = _timed(run, reps, refresh)
    refresh()
    res["traced_peak_mb"] = _traced_peak_mb(run)
    res["assigned"] = int((idx >= 0).sum())
    if sjoin:
        points = shapely.points(x, y)
        lv = [("unit", geoms, codes)]
        res["sjoin_join_s"], _, _ = _timed(lambda: _sjoin(points, lv, reduce=False), 1, refresh)
        res["ratio_sjoin"] = res["sjoin_join_s"] / res["product_s"]
    res["peak_rss_mb"] = _peak_rss_mb()
    return res


def case_scale_xining(n: int, reps: int) -> dict:
    """The product path at 10⁷ sites over Xining (memory and linear time)."""
    from bench.synth import xining_points
    from geo.loader import load_units

    units = load_units()
    levels = _levels(units)
    x, y = xining_points(units, n, 3)
    holder = {"levels": levels}

    def refresh() -> None:
        holder["levels"] = [(a, _fresh(g), c) for a, g, c in levels]

    res: dict = {
        "case": "scale",
        "units": "Xining counties + township zones",
        "polygons": sum(len(g) for _, g, _ in levels),
        "vertices": int(sum(shapely.get_num_coordinates(g).sum() for _, g, _ in levels)),
        "n": n,
        "reps": reps,
    }
    res["product_s"], res["product_runs"], _ = _timed(
        lambda: _product(x, y, holder["levels"]), reps, refresh
    )
    refresh()
    res["traced_peak_mb"] = _traced_peak_mb(lambda: _product(x, y, holder["levels"]))
    res["peak_rss_mb"] = _peak_rss_mb()
    return res


# ----------------------------------------------------------------------------- map payload


def _payload_bytes(m) -> dict:
    from dashboard.map_component import map_payload

    t0 = time.perf_counter()
    page = m.get_root().render()
    render_s = time.perf_counter() - t0
    p = map_payload(m)
    return {
        "component_bytes": len((p.script + p.html + p.header).encode()),
        "page_bytes": len(page.encode()),
        "render_s": render_s,
    }


def _coverage_check(geoms: np.ndarray) -> dict:
    valid = shapely.is_valid(geoms).all()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(a, b, strict=True) if i < j]
    overlap = sum(shapely.area(shapely.intersection(geoms[i], geoms[j])) for i, j in pairs)
    union = shapely.union_all(geoms)
    holes = sum(len(p.interiors) for p in shapely.get_parts(union))
    return {
        "valid": bool(valid),
        "coverage_valid": bool(shapely.coverage_is_valid(geoms)),
        "overlap_area": float(overlap),
        "holes": int(holes),
        "vertices": int(shapely.get_num_coordinates(geoms).sum()),
    }


def case_payload(n_sites: int, browser: bool) -> dict:
    """Bytes and build time of the county view, the township view and a 10⁵-site map; the
    large map is then opened in headless Chromium (load, drag, zoom, a popup)."""
    from geo.assign import assign_sites
    from geo.loader import load_plan, load_sites, load_units
    from maps.offline import standalone_html
    from maps.render import build_map
    from viewmodel.views import ViewState, build_view, simplified

    units = load_units()
    plan = load_plan()
    bundled = load_sites(units, include_samples=True).assigned
    res: dict = {"case": "payload", "views": []}
    t0 = time.perf_counter()
    counties_s, towns_s = simplified(units)
    res["simplify_s"] = time.perf_counter() - t0
    res["coverage"] = {
        "county": _coverage_check(counties_s.geometry.to_numpy()),
        "township": _coverage_check(towns_s.geometry.to_numpy()),
    }
    for label, state, sites in (
        ("county view", ViewState(), bundled),
        ("township view", ViewState(level="township"), bundled),
    ):
        t0 = time.perf_counter()
        view = build_view(units, sites, state, plan=plan)
        t1 = time.perf_counter()
        m = build_map(view.spec)
        t2 = time.perf_counter()
        res["views"].append(
            {
                "view": label,
                "sites": int(len(view.spec.sites) if view.spec.sites is not None else 0),
                "build_view_s": t1 - t0,
                "build_map_s": t2 - t1,
                **_payload_bytes(m),
            }
        )
    from bench.synth import xining_registry

    registry = xining_registry(units, n_sites)
    t0 = time.perf_counter()
    extra = assign_sites(registry, units)
    assign_s = time.perf_counter() - t0
    big = pd.concat([bundled, extra], ignore_index=True)
    big = gpd.GeoDataFrame(big, geometry="geometry", crs=bundled.crs)
    t0 = time.perf_counter()
    view = build_view(units, big, ViewState(), plan=plan)
    t1 = time.perf_counter()
    m = build_map(view.spec)
    t2 = time.perf_counter()
    row = {
        "view": f"county view + {n_sites:,} sites",
        "sites": len(view.spec.sites),
        "assign_sites_s": assign_s,
        "build_view_s": t1 - t0,
        "build_map_s": t2 - t1,
        **_payload_bytes(m),
    }
    res["views"].append(row)
    if browser:
        part = view.spec.sites
        part = part[part["layer"] == "ecommerce"]
        part = part[part.geometry.notna() & ~part.geometry.is_empty]
        html = standalone_html(build_map(view.spec))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "map_large.html"
            path.write_text(html, encoding="utf-8")
            row["standalone_bytes"] = path.stat().st_size
            res["browser"] = _browse_large_map(path, part, view.spec.lang)
    res["peak_rss_mb"] = _peak_rss_mb()
    return res


def _browse_large_map(path: Path, part: gpd.GeoDataFrame, lang: str) -> dict:
    """Open the standalone large map offline; wait for clusters; drag; zoom in; hover and
    click a circle marker (tooltip = name, popup = what ``_popup_html`` shows)."""
    from playwright.sync_api import sync_playwright

    from maps.render import _popup_html

    out: dict = {"errors": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda e: out["errors"].append(str(e)))
            page.on(
                "console",
                lambda m: out["errors"].append(m.text) if m.type == "error" else None,
            )
            blocked: list[str] = []
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(("file:", "data:"))
                    else (blocked.append(route.request.url), route.abort())
                ),
            )
            t0 = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function(
                "() => document.querySelectorAll('.marker-cluster').length > 0", timeout=120_000
            )
            out["load_to_clusters_s"] = time.perf_counter() - t0
            key = "Object.keys(window).find(k => k.startsWith('map_') && window[k].getCenter)"
            center = f"(() => {{ const c = window[{key}].getCenter(); return [c.lat, c.lng]; }})()"
            before = page.evaluate(center)
            t0 = time.perf_counter()
            page.mouse.move(640, 400)
            page.mouse.down()
            for i in range(1, 21):
                page.mouse.move(640 - 15 * i, 400 - 8 * i)
            page.mouse.up()
            page.wait_for_timeout(300)
            out["drag_s"] = time.perf_counter() - t0
            after = page.evaluate(center)
            out["panned"] = before != after
            # zoom in where sites are dense: single circle markers, no clusters
            lat, lon = float(part.geometry.y.median()), float(part.geometry.x.median())
            page.evaluate(
                f"() => {{ window[{key}].setView([{lat}, {lon}], 16, {{animate: false}}); }}"
            )
            page.wait_for_timeout(1500)
            probe = page.evaluate(
                f"""() => {{
                const map = window[{key}], size = map.getSize(); let shown = 0, pick = null;
                map.eachLayer(l => {{ if (l instanceof L.CircleMarker) {{
                    shown++;
                    const p = map.latLngToContainerPoint(l.getLatLng());
                    if (!pick && p.x > 80 && p.y > 80 && p.x < size.x - 300 && p.y < size.y - 200)
                        pick = [p.x, p.y];
                }} }});
                return [shown, pick];
            }}"""
            )
            out["circle_markers_drawn_at_z16"] = probe[0]
            if probe[1]:
                box = page.locator(".leaflet-container").bounding_box()
                px, py = box["x"] + probe[1][0], box["y"] + probe[1][1]
                page.mouse.move(px, py)  # a real hover, then a real click
                page.wait_for_timeout(400)
                tip = page.locator(".leaflet-tooltip")
                tooltip = tip.inner_text() if tip.count() else ""
                page.mouse.click(px, py)
                page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
                page.screenshot(path=str(Path(tempfile.gettempdir()) / "bench_large_map.png"))
                row, text = page.evaluate(
                    f"""() => {{ const p = window[{key}]._popup;
                    return [p._source.options.xnRow,
                            document.querySelector('.leaflet-popup-content').textContent]; }}"""
                )
                expected = _popup_html(part.iloc[row], lang)
                same = page.evaluate(
                    """([html, got]) => { const t = document.createElement('template');
                    t.innerHTML = html; return t.content.textContent === got; }""",
                    [expected, text],
                )
                out["popup_equals_popup_html"] = bool(same)
                out["tooltip_is_name"] = tooltip == str(part.iloc[row]["name"])
            out["blocked_requests"] = blocked
        finally:
            browser.close()
    out["ok"] = (
        not out["errors"]
        and out.get("panned", False)
        and out.get("circle_markers_drawn_at_z16", 0) > 0
        and out.get("popup_equals_popup_html", False)
        and out.get("tooltip_is_name", False)
    )
    return out


# ----------------------------------------------------------------------------- the app


def case_rerun(reps: int) -> dict:
    """Server time of a rerun after a metric change (AppTest), views and maps cached."""
    from streamlit.testing.v1 import AppTest

    import dashboard.ui as ui

    script_s: list[float] = []
    original = ui.main

    def timed_main() -> None:
        t0 = time.perf_counter()
        try:
            original()
        finally:
            script_s.append(time.perf_counter() - t0)

    ui.main = timed_main
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    t0 = time.perf_counter()
    at.run()
    res: dict = {"case": "rerun", "first_run_s": time.perf_counter() - t0}
    assert not at.exception, at.exception
    at.selectbox(key="metric").set_value("per100km2")
    t0 = time.perf_counter()
    at.run()
    res["new_metric_rerun_s"] = time.perf_counter() - t0  # a view never computed before
    res["new_metric_script_s"] = script_s[-1]
    wall = []
    script_s.clear()
    for i in range(reps):
        at.selectbox(key="metric").set_value("count" if i % 2 == 0 else "per100km2")
        t0 = time.perf_counter()
        at.run()
        wall.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    res["cached_rerun_s"] = statistics.median(wall)
    res["cached_rerun_runs"] = wall
    res["cached_script_s"] = statistics.median(script_s)
    res["peak_rss_mb"] = _peak_rss_mb()
    return res


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(port: int) -> Iterator[subprocess.Popen]:
    exe = Path(sys.executable).parent / "streamlit"
    cmd = [str(exe), "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    cmd += ["--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=LOG, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def case_cold_start(reps: int) -> dict:
    """``streamlit run app.py`` spawned → first unit polygon painted in headless Chromium."""
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for _ in range(reps):
                port = _free_port()
                url = f"http://127.0.0.1:{port}"
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t0 = time.perf_counter()
                with _server(port):
                    while not _healthy(url):
                        time.sleep(0.02)
                    t_health = time.perf_counter() - t0
                    page.goto(url, wait_until="commit")
                    frame = _map_frame(page, 60)
                    frame.wait_for_selector("path.leaflet-interactive", timeout=60_000)
                    t_paint = time.perf_counter() - t0
                    n = frame.evaluate(
                        "() => document.querySelectorAll('path.leaflet-interactive').length"
                    )
                runs.append(
                    {"server_ready_s": t_health, "painted_s": t_paint, "paths": n, "errors": errors}
                )
                page.close()
        finally:
            browser.close()
    return {
        "case": "cold_start",
        "imports": _import_costs(),
        "runs": runs,
        "painted_s": statistics.median(r["painted_s"] for r in runs),
        "server_ready_s": statistics.median(r["server_ready_s"] for r in runs),
    }


def _import_costs() -> dict:
    """Wall time of importing the page's modules in a fresh interpreter, and the packages
    that take most of it (self times summed per top-level package, ``python -X importtime``).
    """
    code = "import time; t = time.perf_counter(); import dashboard.ui; "
    code += "print(time.perf_counter() - t)"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    packages: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        top = parts[2].strip().split(".")[0]
        packages[top] = packages.get(top, 0.0) + int(parts[0]) / 1e6
    try:
        total = float(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        total = None
    biggest = dict(sorted(packages.items(), key=lambda kv: -kv[1])[:8])
    return {"import_dashboard_ui_s": total, "biggest_s": biggest}


def _map_frame(page, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame is page.main_frame or frame.is_detached():
                continue
            with contextlib.suppress(Exception):
                if frame.evaluate("() => !!document.querySelector('.leaflet-container')"):
                    return frame
        page.wait_for_timeout(20)
    raise TimeoutError("no map frame")


# ----------------------------------------------------------------------------- main

CASES = {
    "assign": case_assign,
    "assign_sites": case_assign_sites,
    "scale": case_scale,
    "scale_xining": case_scale_xining,
    "payload": case_payload,
    "rerun": case_rerun,
    "cold_start": case_cold_start,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cases")
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--kwargs", default="{}", help="JSON keyword arguments of the case")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    result = CASES[args.case](**json.loads(args.kwargs))
    print("BENCH-RESULT " + json.dumps(result, default=float))


if __name__ == "__main__":
    main()
