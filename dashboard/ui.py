"""Streamlit page: widgets, layout and display of computed views (no geometry code here).

Every widget has a stable key; most are bound to the URL (``bind="query-params"``), so a link
reopens the same view. Data is loaded and computed once and cached; the map returns only the
click it needs, so panning never reruns the script.
"""

from __future__ import annotations

import html
import os
from dataclasses import replace
from datetime import date
from functools import partial

import altair as alt
import geopandas as gpd
import pandas as pd
import streamlit as st

from base.errors import StoreError
from dashboard import upload
from dashboard.figures import figures_tab
from dashboard.map_component import MapPayload, map_payload, show_map
from dashboard.progress import progress_tab
from dashboard.secrets import secret
from dashboard.store_status import store_ready
from geo.attainment import Plan, attainment, attainment_by_year
from geo.backends import get_backend
from geo.boundaries import Units
from geo.classify import SCHEMES, STATUS_COLORS
from geo.export import to_csv, to_geojson, to_gpkg, to_xlsx
from geo.loader import load_plan, load_sites, load_units
from geo.report import sites_for_export
from layers.schema import LAYERS
from maps.brief import county_briefs
from maps.offline import standalone_html
from maps.qgis import view_project
from maps.render import build_map
from maps.static import render_view
from viewmodel.basemaps import available
from viewmodel.i18n import t
from viewmodel.views import (
    METRICS,
    UNIT_LEVELS,
    View,
    ViewState,
    build_view,
    map_targets,
    metric_label,
    metric_options,
    plan_marks,
    provenance,
)

# Session-state / query-parameter keys, one place.
K_LANG, K_MEETING, K_MODE, K_LEVEL, K_LAYER = "lang", "meeting", "mode", "level", "layer"
K_METRIC, K_TARGET, K_SHOW, K_SAMPLES, K_YEAR = "metric", "target", "show", "samples", "year"
K_COUNTY, K_SCHEME, K_K, K_BASEMAP = "county", "scheme", "k", "basemap"
K_MAP, K_BACK = "map", "back"
BIND = "query-params"
YEARS = list(range(2010, date.today().year + 1))


@st.cache_resource(show_spinner=False)
def get_units() -> Units:
    return load_units()


def store_revision() -> str:
    """The layers' current versions: a colleague's save (on any app server sharing the database)
    changes it, so cached data older than 15 s is not shown as current."""
    versions = upload.layer_versions()
    layers = ".".join(str(versions[k]) for k in sorted(versions))
    return f"v{layers}.f{figures_version()}"


@st.cache_data(show_spinner=False, ttl=15)
def figures_version() -> int:
    """The reported figures' version, asked of the store at most every 15 s."""
    return get_backend().load_actuals().version


@st.cache_data(show_spinner=False)
def get_sites(data_key: str, _units: Units) -> gpd.GeoDataFrame:
    """All bundled sites, samples included (views filter them), assigned once per units."""
    return load_sites(_units, include_samples=True).assigned


@st.cache_data(show_spinner=False)
def get_plan(data_key: str) -> Plan:
    """The plan's tables from the store, read again when the store's revision changes."""
    return load_plan()


@st.cache_data(show_spinner=False, max_entries=64)
def get_view(
    state: ViewState, basemap_key: str, data_key: str, _units: Units, _sites: gpd.GeoDataFrame
) -> View:
    plan = get_plan(data_key)
    counties, towns = plan_marks(plan)
    basemap = available().get(state.basemap)
    return build_view(
        _units,
        _sites,
        state,
        plan=plan,
        basemap=basemap,
        basemap_key=basemap_key,
        pilot_counties=counties,
        pilot_towns=towns,
    )


@st.cache_data(show_spinner=False, max_entries=8)
def get_progress(data_key: str, _units: Units, _sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """Attainment year by year over the plan's period (once per data)."""
    return attainment_by_year(_units, _sites, get_plan(data_key))


@st.cache_data(show_spinner=False, max_entries=16)
def get_attainment(data_key: str, year: int, _units: Units, _sites: gpd.GeoDataFrame):
    """Attainment as of ``year`` (the KPI cards compare with the year before)."""
    return attainment(_units, _sites, get_plan(data_key), as_of=year)


@st.cache_resource(show_spinner=False, max_entries=32)
def get_map(state: ViewState, basemap_key: str, data_key: str, _view: View):
    return build_map(_view.spec)


@st.cache_resource(show_spinner=False, max_entries=32)
def get_map_payload(state: ViewState, basemap_key: str, data_key: str, _view: View) -> MapPayload:
    """The map as st_folium sends it, rendered once per view (a rerun only replays it)."""
    return map_payload(get_map(state, basemap_key, data_key, _view))


def _basemap_key(name: str) -> str:
    provider = available().get(name)
    if provider is None or not provider.needs_key:
        return ""
    return os.environ.get(provider.needs_key, "") or secret(provider.needs_key) or ""


def _css(meeting: bool) -> None:
    base = """
    <style>
    .xn-title {font-size: 2.0rem; font-weight: 800; margin: 0 0 .1rem 0;}
    .xn-sub {color: #555; margin-bottom: .6rem;}
    .xn-kpi {border-radius: 8px; padding: .55rem .7rem; color: #fff; min-height: 5.4rem;}
    .xn-kpi .v {font-size: 1.55rem; font-weight: 800;}
    .xn-kpi .l {font-size: .92rem; line-height: 1.2;}
    .xn-kpi .d {font-size: .85rem; opacity: .95; margin-top: .15rem;}
    .xn-source {color:#666; font-size:.8rem;}
    </style>
    """
    st.markdown(base, unsafe_allow_html=True)
    if meeting:
        st.markdown(
            """
            <style>
            [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
            header[data-testid="stHeader"] {display: none !important;}
            .block-container {padding-top: .6rem; max-width: 100% !important;}
            .xn-title {font-size: 2.9rem;}
            .xn-sub {font-size: 1.3rem;}
            .xn-kpi .v {font-size: 2.2rem;} .xn-kpi .l {font-size: 1.2rem;}
            /* the map fills the screen below the title, whatever the screen's height */
            iframe[title="streamlit_folium.st_folium"] {
              height: max(420px, calc(100vh - 10rem)) !important;}
            </style>
            """,
            unsafe_allow_html=True,
        )


def _fmt_layer(key: str, lang: str) -> str:
    layer = LAYERS[key]
    return layer.en if lang == "en" else layer.zh


def _controls(units: Units, lang: str, targets: list[str], attain: pd.DataFrame) -> None:
    """Sidebar widgets; their values live in session state and the URL."""
    sb = st.sidebar
    sb.header(t("controls", lang))
    mode = sb.radio(
        t("mode", lang),
        ["coverage", "attainment"],
        format_func=lambda m: t(f"mode_{m}", lang),
        key=K_MODE,
        bind=BIND,
        horizontal=True,
    )
    if mode == "coverage":
        sb.radio(
            t("level", lang),
            list(UNIT_LEVELS),
            format_func=lambda v: t(f"level_{v}", lang),
            key=K_LEVEL,
            bind=BIND,
            horizontal=True,
        )
        sb.selectbox(
            t("layer", lang),
            list(LAYERS),
            format_func=partial(_fmt_layer, lang=lang),
            index=list(LAYERS).index(ViewState().layer),
            key=K_LAYER,
            bind=BIND,
        )
        level = "township" if st.session_state.get(K_COUNTY) else st.session_state.get(K_LEVEL)
        sb.selectbox(
            t("metric", lang),
            metric_options(level or "county"),
            format_func=lambda m: metric_label(m, lang),
            key=K_METRIC,
            bind=BIND,
        )
        sb.selectbox(
            t("scheme", lang),
            list(SCHEMES),
            format_func=lambda s: SCHEMES[s][1] if lang == "en" else SCHEMES[s][0],
            key=K_SCHEME,
            bind=BIND,
        )
        sb.slider(t("classes", lang), 3, 7, 5, key=K_K, bind=BIND)
    else:
        names = attain.drop_duplicates("target_id").set_index("target_id")
        col = "indicator_en" if lang == "en" else "indicator_zh"
        sb.selectbox(
            t("target", lang),
            targets,
            format_func=lambda x: f"{names.at[x, 'clause']} {names.at[x, col]}",
            index=targets.index(ViewState().target) if ViewState().target in targets else 0,
            key=K_TARGET,
            bind=BIND,
        )
    counties = ["", *units.counties["code"]]
    cnames = units.counties.set_index("code")["name"]
    sb.selectbox(
        t("county", lang),
        counties,
        format_func=lambda c: t("all_city", lang) if not c else cnames[c],
        key=K_COUNTY,
        on_change=_county_changed,
        bind=BIND,
        disabled=mode == "attainment",
    )
    sb.multiselect(
        t("show_layers", lang),
        list(LAYERS),
        default=list(LAYERS),
        format_func=partial(_fmt_layer, lang=lang),
        key=K_SHOW,
        bind=BIND,
    )
    sb.toggle(t("samples", lang), value=True, key=K_SAMPLES, bind=BIND)
    sb.select_slider(
        t("year", lang), YEARS, value=YEARS[-1], key=K_YEAR, bind=BIND, help=t("year_help", lang)
    )
    bases = available()
    sb.selectbox(
        t("basemap", lang),
        list(bases),
        format_func=lambda b: bases[b].en if lang == "en" else bases[b].zh,
        key=K_BASEMAP,
        bind=BIND,
    )


def _heal_select_state(lang: str, attain: pd.DataFrame) -> None:
    """Turn stale option labels in session state back into option keys.

    Streamlit sends a select widget's value to and from the browser (and the URL) as its
    ``format_func`` label; when the label is no longer an option, because the language
    changed, ``deserialize`` keeps the raw label as the value ('无底图(离线)' as basemap:
    KeyError; '科技园区' in ``show``: no sites). Labels of either language map back here,
    before the widgets are made.
    """
    both = ("zh", "en")
    names = attain.drop_duplicates("target_id")
    tables: dict[str, dict[str, str]] = {
        K_MODE: {t(f"mode_{m}", x): m for m in ("coverage", "attainment") for x in both},
        K_LEVEL: {t(f"level_{v}", x): v for v in UNIT_LEVELS for x in both},
        K_LAYER: {_fmt_layer(k, x): k for k in LAYERS for x in both},
        K_SHOW: {_fmt_layer(k, x): k for k in LAYERS for x in both},
        K_METRIC: {metric_label(m, x): m for m in METRICS for x in both},
        K_SCHEME: {pair[i]: key for key, pair in SCHEMES.items() for i in (0, 1)},
        K_BASEMAP: {getattr(b, x): k for k, b in available().items() for x in both},
        K_COUNTY: {t("all_city", x): "" for x in both},
        K_TARGET: {
            f"{r.clause} {getattr(r, 'indicator_' + x)}": r.target_id
            for r in names.itertuples()
            for x in both
        },
    }
    state = st.session_state
    for key, table in tables.items():
        if key not in state:
            continue
        value = state[key]
        if isinstance(value, list):
            healed = [table.get(v, v) if isinstance(v, str) else v for v in value]
        else:
            healed = table.get(value, value) if isinstance(value, str) else value
        if healed != value:
            state[key] = healed


def _state_from_session(lang: str, meeting: bool) -> ViewState:
    s = st.session_state
    default = ViewState()
    return ViewState(
        mode=s.get(K_MODE) or default.mode,
        level=s.get(K_LEVEL) or default.level,
        metric=s.get(K_METRIC) or default.metric,
        layer=s.get(K_LAYER) or default.layer,
        show=tuple(s.get(K_SHOW, default.show)),
        samples=bool(s.get(K_SAMPLES, default.samples)),
        target=s.get(K_TARGET) or default.target,
        county=s.get(K_COUNTY) or "",
        year=int(s.get(K_YEAR) or default.year),
        scheme=s.get(K_SCHEME) or default.scheme,
        k=int(s.get(K_K) or default.k),
        basemap=s.get(K_BASEMAP) or default.basemap,
        lang=lang,
        meeting=meeting,
    ).normalized()


def _change(now: float, before: float | None, lang: str) -> str:
    """ "较上年 +2" / "较上年 持平" (nothing when either year has no figure)."""
    if before is None or pd.isna(before) or pd.isna(now):
        return ""
    diff = float(now) - float(before)
    text = t("unchanged", lang) if diff == 0 else f"{diff:+g}"
    return f'<div class="d">{html.escape(t("since_last_year", lang))} {html.escape(text)}</div>'


def _kpis(view: View, lang: str, meeting: bool, previous: pd.DataFrame | None = None) -> None:
    city = view.attainment[view.attainment["scope_code"] == "630100"]
    city = city[city["measure"].isin(["count", "designation"])]
    before = {}
    if previous is not None:
        prev = previous[previous["scope_code"] == "630100"]
        before = dict(zip(prev["target_id"], prev["actual"], strict=True))
    st.subheader(t("kpi", lang))
    per_row = 4 if meeting else 5
    rows = [city.iloc[i : i + per_row] for i in range(0, len(city), per_row)]
    for chunk in rows:
        cols = st.columns(per_row)
        for col, (_, r) in zip(cols, chunk.iterrows(), strict=False):
            label = r["indicator_en"] if lang == "en" else r["indicator_zh"]
            actual = "—" if pd.isna(r["actual"]) else f"{r['actual']:g}"
            color = STATUS_COLORS[r["status"]]
            status = t(f"status_{r['status']}", lang)
            change = _change(r["actual"], before.get(r["target_id"]), lang)
            col.markdown(
                f'<div class="xn-kpi" style="background:{color}">'
                f'<div class="v">{html.escape(actual)} / {r["target"]:g}</div>'
                f'<div class="l">{html.escape(str(label))} · {html.escape(status)}</div>'
                f"{change}</div>",
                unsafe_allow_html=True,
            )


def _attainment_table(view: View, lang: str) -> None:
    a = view.attainment.copy()
    a["indicator"] = a["indicator_en"] if lang == "en" else a["indicator_zh"]
    a["progress"] = a["ratio"].clip(upper=1.0)
    a["status_text"] = a["status"].map({"met": "✅ ", "behind": "⚠️ ", "no_data": "⬜ "}) + (
        a["status_zh"] if lang == "zh" else a["status"]
    )
    older = a["stale"].map({True: f"（{t('older', lang)}）", False: ""})
    years = a["actual_year"].astype("string").fillna("")
    a["year_text"] = (years + older.where(years != "", "")).astype(str)
    a["source_text"] = [provenance(r, lang) for _, r in a.iterrows()]
    show = a[
        [
            "clause",
            "indicator",
            "scope_name",
            "actual",
            "target",
            "progress",
            "status_text",
            "year_text",
            "source_text",
        ]
    ]
    st.dataframe(
        show,
        hide_index=True,
        width="stretch",
        column_config={
            "clause": t("clause", lang),
            "indicator": t("indicator", lang),
            "scope_name": t("scope", lang),
            "actual": st.column_config.NumberColumn(t("actual", lang), format="%g"),
            "target": st.column_config.NumberColumn(t("target_value", lang), format="%g"),
            "progress": st.column_config.ProgressColumn(
                t("progress", lang), min_value=0.0, max_value=1.0, format="percent"
            ),
            "status_text": t("status", lang),
            "year_text": t("data_year", lang),
            "source_text": t("actual_source", lang),
        },
        key="attainment_table",
    )


def _coverage_table(view: View, lang: str) -> None:
    u = pd.DataFrame(view.units.drop(columns="geometry"))
    cols = ["name", "county_name", *[f"n_{k}" for k in LAYERS]]
    extra = [c for c in (view.value_column,) if c in u and c not in cols]
    labels = {f"n_{k}": _fmt_layer(k, lang) for k in LAYERS}
    labels.update({"name": t("name", lang), "county_name": t("county", lang)})
    st.dataframe(
        u[cols + extra],
        hide_index=True,
        width="stretch",
        column_config=labels,
        key="coverage_table",
    )


def _chart(view: View, lang: str) -> None:
    s = view.sites[view.sites["county_name"] != ""]
    if s.empty:
        return
    data = s.groupby(["county_name", "layer"]).size().reset_index(name="n")
    data["layer_name"] = data["layer"].map(partial(_fmt_layer, lang=lang))
    colors = alt.Scale(
        domain=[_fmt_layer(k, lang) for k in LAYERS], range=[v.color for v in LAYERS.values()]
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("county_name:N", title=t("county", lang), sort="-y"),
            y=alt.Y("sum(n):Q", title=t("chart", lang)),
            color=alt.Color("layer_name:N", scale=colors, title=t("layer", lang)),
            tooltip=["county_name", "layer_name", "n"],
        )
    )
    st.altair_chart(chart, width="stretch")


def _downloads(
    view: View,
    state: ViewState,
    *,
    basemap_key: str,
    data_key: str,
    units: Units,
    sites: gpd.GeoDataFrame,
    lang: str,
) -> None:
    """Download buttons; each file is made only when its button is pressed (no rerun)."""
    stem = f"xining_{state.mode}_{state.level}{'_' + state.county if state.county else ''}"
    table = view.units
    site_rows = sites_for_export(view.sites)
    mapped = site_rows[site_rows.geometry.notna()] if "geometry" in site_rows else site_rows
    plan = get_plan(data_key)
    counties, towns = plan_marks(plan)

    def html_map() -> bytes:
        return standalone_html(get_map(state, basemap_key, data_key, view)).encode("utf-8")

    def qgis_zip() -> bytes:
        towns = units.townships if state.level == "county" else None
        return view_project(view, townships=towns, name=stem).zip()

    briefs = partial(
        county_briefs,
        units,
        sites,
        counties=[state.county] if state.county else None,
        lang=lang,
        year=state.year,
        layer=state.layer,
        plan=plan,
        pilot_counties=counties,
        pilot_towns=towns,
    )
    columns = {
        t("dl_units", lang): [
            (
                "GeoJSON",
                partial(to_geojson, table, layer=stem),
                f"{stem}.geojson",
                "application/geo+json",
            ),
            (
                "GeoPackage",
                partial(to_gpkg, table, layer=stem),
                f"{stem}.gpkg",
                "application/geopackage+sqlite3",
            ),
            ("CSV (Excel)", partial(to_csv, table), f"{stem}.csv", "text/csv"),
            ("XLSX", partial(to_xlsx, table, sheet=state.level), f"{stem}.xlsx", None),
            (t("dl_qgis", lang), qgis_zip, f"{stem}_qgis.zip", "application/zip"),
        ],
        t("dl_sites", lang): [
            (
                "GeoJSON",
                partial(to_geojson, mapped, layer="xining_sites"),
                "xining_sites.geojson",
                "application/geo+json",
            ),
            ("CSV (Excel)", partial(to_csv, site_rows), "xining_sites.csv", "text/csv"),
        ],
        t("dl_map", lang): [
            ("HTML", html_map, f"{stem}.html", "text/html"),
            (
                "PNG 1920×1080",
                partial(render_view, view, fmt="png", size=(1920, 1080)),
                f"{stem}.png",
                "image/png",
            ),
            (
                "PNG 3840×2160",
                partial(render_view, view, fmt="png", size=(3840, 2160)),
                f"{stem}_4k.png",
                "image/png",
            ),
            ("PDF (A4)", partial(render_view, view, fmt="pdf"), f"{stem}.pdf", "application/pdf"),
            ("SVG", partial(render_view, view, fmt="svg"), f"{stem}.svg", "image/svg+xml"),
            (t("dl_brief", lang), briefs, "xining_briefs.pdf", "application/pdf"),
        ],
    }
    cols = st.columns(len(columns))
    for ci, (col, (title, buttons)) in enumerate(zip(cols, columns.items(), strict=True)):
        col.markdown(f"**{html.escape(title)}**")
        for i, (label, data, name, mime) in enumerate(buttons):
            col.download_button(
                label,
                data,
                name,
                mime,
                key=f"dl_{ci}_{i}",
                on_click="ignore",
            )


def _on_map_click(units: Units) -> None:
    """Drill into a clicked county (the map returns only the clicked feature)."""
    result = st.session_state.get(K_MAP) or {}
    drawing = (result or {}).get("last_active_drawing") or {}
    code = str((drawing.get("properties") or {}).get("code", ""))
    if (
        len(code) == 6
        and code in set(units.counties["code"])
        and code != st.session_state.get(K_COUNTY)
    ):
        st.session_state[K_COUNTY] = code
        _county_changed()


def _county_changed() -> None:
    """A chosen county shows its townships; the whole city goes back to counties.

    A language switch also fires this (the widget's value arrives as the other language's
    label): only a real county code counts as choosing a county.
    """
    code = str(st.session_state.get(K_COUNTY) or "")
    if code.isdigit():
        st.session_state[K_LEVEL] = "township"
    elif code == "":
        st.session_state[K_LEVEL] = "county"


def _back() -> None:
    st.session_state[K_COUNTY] = ""
    _county_changed()


def _accept_code_links(units: Units) -> None:
    """Open links written with codes (?county=630121, ?lang=en, ?layer=incubator ...).

    Bound widgets read only their own ``format_func`` label from the URL and drop anything
    else, so a code is put into session state before the widget is made; the widget then
    writes its label back to the URL.
    """
    valid: dict[str, set[str]] = {
        K_LANG: {"zh", "en"},
        K_COUNTY: set(units.counties["code"]),
        K_MODE: {"coverage", "attainment"},
        K_LEVEL: set(UNIT_LEVELS),
        K_LAYER: set(LAYERS),
        K_METRIC: set(METRICS),
        K_SCHEME: set(SCHEMES),
        K_BASEMAP: set(available()),
    }
    state = st.session_state
    for key, codes in valid.items():
        value = st.query_params.get(key)
        if value in codes and state.get(key) != value:
            state[key] = value


def _page_lang() -> str:
    """The page's language before the switch is drawn (session, then the link)."""
    lang = st.session_state.get(K_LANG) or st.query_params.get("lang", "zh")
    return lang if lang in ("zh", "en") else "zh"


def main() -> None:
    st.set_page_config(page_title="西宁县域创新地图", page_icon="🗺️", layout="wide")
    try:
        _page()
    except StoreError as exc:  # the store went away mid-run: one sentence, no traceback
        st.error(exc.text(_page_lang()))


def _page() -> None:
    units = get_units()
    _accept_code_links(units)
    lang = st.sidebar.radio(
        t("language", "zh"),
        ["zh", "en"],
        format_func=lambda x: "中文" if x == "zh" else "English",
        key=K_LANG,
        bind=BIND,
        horizontal=True,
    )
    meeting = st.sidebar.toggle(t("meeting", lang), key=K_MEETING, bind=BIND)
    _css(meeting)
    if not store_ready(lang):
        return
    up = upload.panel(lang)
    upload.history_panel(lang)
    units, uploaded = upload.apply(up, units, lang)
    data_key = f"{up.key}@{store_revision()}"
    sites = uploaded.assigned if uploaded is not None else get_sites(data_key, units)
    probe = get_view(ViewState(lang=lang), "", data_key, units, sites)
    targets = map_targets(probe.attainment)
    _heal_select_state(lang, probe.attainment)
    _controls(units, lang, targets, probe.attainment)
    state = _state_from_session(lang, meeting)
    basemap_key = _basemap_key(state.basemap)
    if available()[state.basemap].needs_key and not basemap_key:
        st.sidebar.warning(f"{available()[state.basemap].needs_key} ?")
        state = replace(state, basemap="none")
    view = get_view(state, basemap_key, data_key, units, sites)

    st.markdown(
        f'<div class="xn-title">{html.escape(t("title", lang))}</div>', unsafe_allow_html=True
    )
    st.markdown(
        f'<div class="xn-sub">{html.escape(t("subtitle", lang))}</div>', unsafe_allow_html=True
    )
    if view.has_samples and not meeting:  # in meeting mode the map's note box says it
        st.warning(t("sample_banner", lang), icon="⚠️")
    if state.county:
        st.button(t("back", lang), key=K_BACK, on_click=_back)
    elif state.mode == "coverage" and not meeting:
        st.caption(t("click_hint", lang))

    show_map(
        get_map_payload(state, basemap_key, data_key, view),
        key=K_MAP,
        height=780 if meeting else 620,
        returned_objects=["last_active_drawing"],
        on_change=partial(_on_map_click, units),
    )
    if meeting:
        # the sidebar is hidden: keep a visible way out of meeting mode
        st.toggle(
            t("meeting", lang),
            key="meeting_off",
            value=True,
            on_change=lambda: st.session_state.update({K_MEETING: False}),
        )
    st.markdown(
        f'<div class="xn-source">{html.escape(t("source_line", lang))}</div>',
        unsafe_allow_html=True,
    )
    _kpis(view, lang, meeting, get_attainment(data_key, state.year - 1, units, sites))
    if meeting:
        return
    tabs = st.tabs(
        [
            t("attainment_table", lang),
            t("coverage_table", lang),
            t("chart", lang),
            t("downloads", lang),
            t("figures_tab", lang),
            t("progress_tab", lang),
        ]
    )
    with tabs[0]:
        _attainment_table(view, lang)
    with tabs[1]:
        _coverage_table(view, lang)
    with tabs[2]:
        _chart(view, lang)
    with tabs[4]:
        figures_tab(units, get_plan(data_key), lang)
    with tabs[5]:
        progress_tab(get_progress(data_key, units, sites), lang, target=state.target)
    with tabs[3]:
        _downloads(
            view,
            state,
            basemap_key=basemap_key,
            data_key=data_key,
            units=units,
            sites=sites,
            lang=lang,
        )


__all__ = ["METRICS", "main"]
