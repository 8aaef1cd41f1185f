"""Correctness of the fast paths (no timings here; those are in bench/, ``python -m bench``).

* ``locate``: the grid that settles points well inside a unit, and the bucketed exact test,
  give what ``geopandas.sjoin`` gives (covers, smallest code on shared borders), on the real
  units, on tricky geometries and on a country-like tessellation.
* ``assign_sites`` (vectorised) gives what the documented per-row rules give.
* Simplified units for the map stay a coverage: no gaps, no overlaps, shared borders kept.
* Large site layers: compact, escaped, counted like the legend.
* The map sent to the page from cache is exactly what ``st_folium`` would send.
"""

from __future__ import annotations

import copy
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

import geo.assign as assign_mod
from bench.synth import country_points, country_polygons
from dashboard.map_component import map_payload, show_map
from geo.assign import assign_sites, locate
from geo.loader import load_plan
from layers.schema import COLUMNS, LAYERS
from maps.render import LARGE_LAYER_THRESHOLD, build_map
from viewmodel.views import ViewState, build_view, simplified

# --------------------------------------------------------------------------- locate


def _sjoin_reference(x, y, polygons: gpd.GeoSeries, codes) -> tuple[np.ndarray, np.ndarray]:
    """Per point: index of the covering polygon with the smallest code (-1), and >1 cover."""
    n = len(x)
    ok = np.isfinite(x) & np.isfinite(y)
    pts = gpd.GeoDataFrame(
        {"i": np.flatnonzero(ok)}, geometry=gpd.points_from_xy(x[ok], y[ok]), crs=4326
    )
    keep = ~(polygons.isna().to_numpy() | polygons.is_empty.to_numpy())
    polys = gpd.GeoDataFrame(
        {"poly": np.flatnonzero(keep), "code": np.asarray(codes)[keep]},
        geometry=polygons[keep].to_numpy(),
        crs=4326,
    )
    j = gpd.sjoin(polys, pts, predicate="covers")
    pt = pts["i"].to_numpy()[j["index_right"].to_numpy()]
    j = pd.DataFrame({"pt": pt, "code": j["code"].to_numpy(), "poly": j["poly"].to_numpy()})
    j = j.sort_values(["pt", "code", "poly"], kind="stable")
    first = j.drop_duplicates("pt")
    out = np.full(n, -1)
    out[first["pt"].to_numpy()] = first["poly"].to_numpy()
    border = np.bincount(j["pt"].to_numpy(), minlength=n) > 1
    return out, border


def _border_points(polygons: gpd.GeoSeries) -> np.ndarray:
    """Every vertex and edge midpoint (points exactly on unit borders)."""
    rings = shapely.get_rings(shapely.get_parts(polygons.dropna().to_numpy()))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return np.concatenate([coords, (coords[:-1][same] + coords[1:][same]) / 2])


def _both_paths(monkeypatch, x, y, polygons, codes):
    """locate with the grid forced on, and with it off (exact test for every point)."""
    monkeypatch.setattr(assign_mod, "_GRID_MIN_POINTS", 0)
    grid = locate(x, y, polygons, codes)
    monkeypatch.setattr(assign_mod, "_GRID_MIN_POINTS", 10**12)
    exact = locate(x, y, polygons, codes)
    return grid, exact


@pytest.mark.parametrize("level", ["county", "township"])
def test_locate_fast_paths_equal_sjoin_on_the_real_units(units, level, monkeypatch):
    frame = units.counties if level == "county" else units.townships
    frame = frame.reset_index(drop=True)
    rng = np.random.default_rng(11)
    b = units.counties.total_bounds
    border = _border_points(frame.geometry)
    x = np.concatenate([rng.uniform(b[0] - 0.05, b[2] + 0.05, 30_000), border[:, 0], [np.nan]])
    y = np.concatenate([rng.uniform(b[1] - 0.05, b[3] + 0.05, 30_000), border[:, 1], [1.0]])
    codes = frame["code"].to_numpy()
    want_idx, want_border = _sjoin_reference(x, y, frame.geometry, codes)
    (g_idx, g_border), (e_idx, e_border) = _both_paths(monkeypatch, x, y, frame.geometry, codes)
    assert want_border[30_000:-1].sum() > 100  # the border rule is really exercised
    np.testing.assert_array_equal(g_idx, want_idx)
    np.testing.assert_array_equal(e_idx, want_idx)
    np.testing.assert_array_equal(g_border, want_border)
    np.testing.assert_array_equal(e_border, want_border)
    counts = pd.Series(codes[g_idx[g_idx >= 0]]).value_counts().sort_index()
    want = pd.Series(codes[want_idx[want_idx >= 0]]).value_counts().sort_index()
    pd.testing.assert_series_equal(counts, want)


def test_locate_fast_paths_on_tricky_geometries(monkeypatch):
    """Overlaps (codes out of order), holes, multipolygons, an invalid bow-tie, gaps, None."""
    square = box(0, 0, 10, 10)
    hole = Polygon(square.exterior.coords, [box(2, 2, 4, 4).exterior.coords])
    polygons = gpd.GeoSeries(
        [
            hole,  # 0: a hole at (2..4, 2..4)
            box(5, 5, 15, 15),  # 1: overlaps 0 and 2
            None,
            shapely.MultiPolygon([box(20, 0, 22, 2), box(24, 0, 26, 2)]),  # 3
            Polygon([(30, 0), (34, 4), (34, 0), (30, 4)]),  # 4: invalid bow-tie
            box(3, 3, 3.5, 3.5),  # 5: inside the hole of 0
            Polygon(),  # 6: empty
            box(10, 0, 15, 5),  # 7: shares x=10 with 0
        ]
    )
    codes = np.array(["630105", "630101", "630100", "630104", "630103", "630109", "", "630102"])
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 36, 40_000)
    y = rng.uniform(-2, 16, 40_000)
    border = _border_points(polygons[~polygons.is_empty])
    x = np.concatenate([x, border[:, 0], [np.nan, np.inf]])
    y = np.concatenate([y, border[:, 1], [0.0, 0.0]])
    want_idx, want_border = _sjoin_reference(x, y, polygons, codes)
    (g_idx, g_border), (e_idx, e_border) = _both_paths(monkeypatch, x, y, polygons, codes)
    np.testing.assert_array_equal(g_idx, want_idx)
    np.testing.assert_array_equal(e_idx, want_idx)
    np.testing.assert_array_equal(g_border, want_border)
    np.testing.assert_array_equal(e_border, want_border)
    # spot checks of the rules themselves
    (idx, brd), _ = _both_paths(
        monkeypatch,
        np.array([3.0, 7.0, 10.0, 3.2, 25.0]),
        np.array([3.0, 7.0, 2.0, 3.2, 1.0]),
        polygons,
        codes,
    )
    assert idx.tolist() == [5, 1, 7, 5, 3]  # hole → 5; overlap → smallest code; border → 7
    assert brd.tolist() == [False, True, True, False, False]


def test_locate_matches_sjoin_on_a_country_like_tessellation(monkeypatch):
    polygons = gpd.GeoSeries(country_polygons(1_500))
    codes = np.array([f"{i:06d}" for i in range(len(polygons))])
    x, y = country_points(40_000)
    border = _border_points(polygons)[::7]
    x, y = np.concatenate([x, border[:, 0]]), np.concatenate([y, border[:, 1]])
    want_idx, want_border = _sjoin_reference(x, y, polygons, codes)
    (g_idx, g_border), (e_idx, e_border) = _both_paths(monkeypatch, x, y, polygons, codes)
    np.testing.assert_array_equal(g_idx, want_idx)
    np.testing.assert_array_equal(e_idx, want_idx)
    np.testing.assert_array_equal(g_border | e_border, want_border)


# --------------------------------------------------------------------------- assign_sites


def _reference_assign(sites: pd.DataFrame, units) -> pd.DataFrame:
    """The documented rules, one row at a time (the code before vectorising)."""
    sites = sites.reset_index(drop=True)
    villages = units.villages
    stated_c, stated_t, flag_lists = [], [], []
    for rec in sites.itertuples(index=False):
        flags = []
        cc = units.resolve_county(rec.county) if rec.county else None
        if rec.county and cc is None:
            flags.append("unknown_county")
        tc = ""
        if rec.township:
            found = units.resolve_township(rec.township, county_code=cc)
            if len(found) == 1:
                tc = found[0]
            elif len(found) > 1:
                flags.append("ambiguous_township")
            else:
                flags.append("unknown_township")
        if not tc and rec.village:
            vil = villages[villages["name"] == rec.village]
            if cc:
                vil = vil[vil["county_code"] == cc]
            if vil["township_code"].nunique() == 1:
                tc = vil["township_code"].iloc[0]
        if tc and not cc:
            cc = tc[:6]
        stated_c.append(cc or "")
        stated_t.append(tc)
        flag_lists.append(flags)
    work = sites.copy()
    seats = units.township_seats.set_index("code")[["lon", "lat"]]
    cseats = units.county_seats.set_index("code")[["lon", "lat"]]
    precision = work["location_precision"].tolist()
    lon, lat = work["lon"].tolist(), work["lat"].tolist()
    for i in range(len(work)):
        if not np.isnan(lon[i]):
            continue
        if stated_t[i] and stated_t[i] in seats.index:
            lon[i], lat[i] = seats.loc[stated_t[i]]
            precision[i] = "township_seat"
        elif stated_c[i]:
            lon[i], lat[i] = cseats.loc[stated_c[i]]
            precision[i] = "county_seat"
        elif precision[i] != "city":
            flag_lists[i] = [*flag_lists[i], "unplaced"]
    x, y = np.array(lon, dtype=float), np.array(lat, dtype=float)
    counties = units.counties.reset_index(drop=True)
    tw = units.townships.reset_index(drop=True)
    c_idx, c_border = _sjoin_reference(x, y, counties.geometry, counties["code"].to_numpy())
    t_idx, t_border = _sjoin_reference(x, y, tw.geometry, tw["code"].to_numpy())
    source = dict(zip(tw["code"], tw["geometry_source"], strict=True))
    rows = []
    for i in range(len(work)):
        flags = list(flag_lists[i])
        has_point = np.isfinite(x[i]) and np.isfinite(y[i])
        cc = counties["code"].iloc[c_idx[i]] if c_idx[i] >= 0 else ""
        located = tw["code"].iloc[t_idx[i]] if t_idx[i] >= 0 else ""
        if c_border[i] or t_border[i]:
            flags.append("on_border")
        if has_point and c_idx[i] < 0:
            flags.append("outside_city")
        if precision[i] == "city" and not has_point:
            flags.append("city_only")
        if cc and stated_c[i] and stated_c[i] != cc:
            flags.append("county_mismatch")
        tc, method = "", "none"
        loc = located if located.startswith(cc or "-") else ""
        if precision[i] == "county_seat":
            loc = ""
        st = stated_t[i]
        if cc:
            ok = bool(st) and st.startswith(cc)
            if st and not ok:
                flags.append("township_not_in_county")
            if loc and ok and loc != st:
                flags.append("township_mismatch")
                tc, method = (loc, "polygon") if source.get(loc) == "official" else (st, "stated")
            elif loc:
                tc, method = loc, "polygon"
            elif ok:
                tc, method = st, "stated"
            else:
                flags.append("township_unknown")
        rows.append(
            {
                "lon": x[i],
                "lat": y[i],
                "location_precision": precision[i],
                "county_code": cc,
                "township_code": tc,
                "township_method": method,
                "flags": ";".join(dict.fromkeys(flags)),
            }
        )
    return pd.DataFrame(rows)


def _messy_registry(units, n: int, seed: int) -> pd.DataFrame:
    """Sites with and without points, on borders, outside, with stated places right,
    wrong, ambiguous (城关镇), unknown, or only a village."""
    rng = np.random.default_rng(seed)
    b = units.counties.total_bounds
    tw, cs = units.townships, units.counties
    frame = pd.DataFrame({c: [""] * n for c in COLUMNS})
    frame["name"] = [f"站{i}" for i in range(n)]
    frame["layer"] = "ecommerce"
    frame["is_sample"] = False
    frame["year"] = pd.array([None] * n, dtype="Int64")
    frame["location_precision"] = rng.choice(["exact", "village", "", "city"], n)
    frame["lon"] = rng.uniform(b[0] - 0.1, b[2] + 0.1, n)
    frame["lat"] = rng.uniform(b[1] - 0.1, b[3] + 0.1, n)
    on = _border_points(pd.concat([cs.geometry, tw.geometry]))
    at = rng.random(n) < 0.15
    pick = on[rng.integers(0, len(on), n)]
    frame.loc[at, "lon"], frame.loc[at, "lat"] = pick[at, 0], pick[at, 1]
    no_point = rng.random(n) < 0.4
    frame.loc[no_point, ["lon", "lat"]] = np.nan
    k = rng.integers(0, len(tw), n)
    kind = rng.integers(0, 6, n)
    names = tw["name"].to_numpy()[k]
    frame["township"] = np.select(
        [kind == 0, kind == 1, kind == 2], [names, "不存在乡", "城关镇"], default=""
    )
    right = tw["county_name"].to_numpy()[k]
    wrong = cs["name"].to_numpy()[rng.integers(0, len(cs), n)]
    frame["county"] = np.where(
        kind <= 2, np.where(rng.random(n) < 0.8, right, wrong), np.where(kind == 3, "乱县", "")
    )
    if len(units.villages):
        v = units.villages["name"].to_numpy()[rng.integers(0, len(units.villages), n)]
        frame["village"] = np.where(kind == 4, v, "")
    return frame


@pytest.mark.parametrize("which", ["bundled", "toy"])
def test_vectorised_assign_sites_follows_the_per_row_rules(which, units, toy_units):
    u = units if which == "bundled" else toy_units
    for seed in (1, 2):
        sites = _messy_registry(u, 500, seed)
        got = assign_sites(sites, u)
        want = _reference_assign(sites, u)
        for col in want.columns:
            left = got[col].to_numpy()
            right = want[col].to_numpy()
            if col in ("lon", "lat"):
                np.testing.assert_array_equal(left.astype(float), right.astype(float))
            else:
                assert left.tolist() == right.tolist(), col
        assert got["flags"].str.contains("on_border").sum() > 5


# --------------------------------------------------------------------------- simplification


def _neighbours(geoms: np.ndarray) -> dict[tuple[int, int], float]:
    """Pairs of units sharing a border, with its length."""
    out = {}
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            shared = shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[j]))
            length = shapely.length(shared)
            if length > 0:
                out[(i, j)] = length
    return out


@pytest.mark.parametrize("level", ["county", "township"])
def test_simplified_units_have_no_gaps_and_no_overlaps(units, level):
    counties_s, towns_s = simplified(units)
    display = counties_s if level == "county" else towns_s
    original = units.counties if level == "county" else units.townships
    original = original[original.geometry.notna()].set_index("code").geometry
    display = display.set_index("code").geometry.reindex(original.index)
    geoms, before = display.to_numpy(), original.to_numpy()

    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)  # shared edges identical on both sides
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    overlap = sum(
        shapely.area(shapely.intersection(geoms[i], geoms[j])) for i, j in zip(a, b) if i < j
    )
    assert overlap == 0
    union = shapely.union_all(geoms)
    holes = [Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    # the seat-based zones come with microscopic slivers between neighbours (unnoded edges);
    # display keeps only real holes, and adds none
    real = [
        Polygon(r)
        for p in shapely.get_parts(shapely.union_all(before))
        for r in p.interiors
        if Polygon(r).area > 1e-6
    ]
    assert len(holes) == len(real)
    # every pair of neighbours still shares a border, of about the same length
    was, now = _neighbours(before), _neighbours(geoms)
    long_enough = {k: v for k, v in was.items() if v > 0.002}
    assert long_enough
    for pair, length in long_enough.items():
        assert now.get(pair, 0) > 0.8 * length, pair
    # simplified, on the display grid, and the area kept
    assert shapely.get_num_coordinates(geoms).sum() < shapely.get_num_coordinates(before).sum()
    xy = shapely.get_coordinates(geoms)
    np.testing.assert_allclose(xy, np.round(xy, 5), rtol=0, atol=1e-9)
    assert abs(union.area - shapely.union_all(before).area) < 1e-3 * union.area


def test_plain_simplify_would_open_gaps(units):
    """The checks above catch what ``simplify`` does to neighbours (so they mean something)."""
    towns = units.townships.dropna(subset=["geometry"]).geometry.to_numpy()
    assert not shapely.coverage_is_valid(shapely.simplify(towns, 0.0005))


# --------------------------------------------------------------------------- large layers


XSS = "<img src=x onerror=alert(1)>"


def test_large_site_layer_is_compact_escaped_and_counted(units, bundled):
    n = LARGE_LAYER_THRESHOLD + 500
    rng = np.random.default_rng(5)
    b = units.counties.total_bounds
    extra = bundled.assigned.iloc[[0] * n].copy()
    extra["layer"] = "ecommerce"
    extra["name"] = [f"{XSS}站{i}" for i in range(n)]
    extra["source"] = '"><script>alert(2)</script>'
    extra["geometry"] = shapely.points(rng.uniform(b[0], b[2], n), rng.uniform(b[1], b[3], n))
    sites = gpd.GeoDataFrame(
        pd.concat([bundled.assigned, extra], ignore_index=True), geometry="geometry", crs=4326
    )
    view = build_view(units, sites, ViewState(), plan=load_plan())
    page = build_map(view.spec).get_root().render()
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    drawn = view.spec.sites
    drawn = drawn[drawn.geometry.notna() & ~drawn.geometry.is_empty]
    for key, layer in LAYERS.items():
        count = int((drawn["layer"] == key).sum())
        if count:  # layer control and legend give the same count
            assert text.count(f"{layer.zh} ({count})") == 2, layer.zh
    assert XSS not in page and "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;站0" in page
    assert page.count("L.circleMarker(") == 1  # one loop for the large layer
    assert "xn-site approx sample" in page  # the small layers keep their DivIcons
    blob = re.search(r'var rows = (\{"lat".*?\});\n', page).group(1)
    rows = json.loads(blob)
    assert len(rows["lat"]) == len(rows["name"]) == int((drawn["layer"] == "ecommerce").sum())
    assert len(page.encode()) < 400 * n  # a few hundred bytes per site at most


# --------------------------------------------------------------------------- map payload


def test_cached_map_payload_is_what_st_folium_sends(units, bundled, monkeypatch):
    import streamlit_folium as sf

    m = build_map(
        build_view(units, bundled.assigned, ViewState(level="township"), plan=load_plan()).spec
    )
    sent: list[dict] = []
    monkeypatch.setattr(sf, "_component_func", lambda **kw: sent.append(kw))
    payload = map_payload(m)  # renders a copy: the map itself can be rendered again
    sf.st_folium(
        copy.deepcopy(m),
        key="map",
        height=620,
        use_container_width=True,
        returned_objects=["last_active_drawing"],
    )
    show_map(payload, key="map", height=620, returned_objects=["last_active_drawing"])
    show_map(payload, key="map", height=620, returned_objects=["last_active_drawing"])
    first, *again = ({k: v for k, v in kw.items() if k != "on_change"} for kw in sent)
    assert all(a == first for a in again)
    assert "湟中区" in first["script"] and first["js_links"]
