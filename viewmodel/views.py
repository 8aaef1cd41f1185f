"""What the dashboard shows for a given state: tables and the map spec. Pure (no streamlit).

The UI gathers a :class:`ViewState` from widgets and the URL, calls these functions, and only
displays what comes back, so the same view can be tested, exported and rendered elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.attainment import Plan, attainment
from geo.boundaries import Units
from geo.classify import SCHEMES, Classes, classify, status_classes
from geo.coverage import METRICS, summarize
from geo.simplify import simplify_units
from layers.schema import APPROXIMATE, LAYERS
from viewmodel.basemaps import Basemap
from viewmodel.i18n import t
from viewmodel.mapspec import MapSpec

MODES = ("coverage", "attainment")
UNIT_LEVELS = ("county", "township")

DEFAULT_YEAR = 2026


@dataclass(frozen=True)
class ViewState:
    """Everything that defines a view; mirrored in the URL query string."""

    mode: str = "coverage"
    level: str = "county"
    metric: str = "count"
    layer: str = "incubator"
    show: tuple[str, ...] = tuple(LAYERS)
    samples: bool = True
    target: str = "incubator_full_coverage"
    county: str = ""
    year: int = DEFAULT_YEAR
    scheme: str = "natural_breaks"
    k: int = 5
    basemap: str = "none"
    lang: str = "zh"
    meeting: bool = False

    def normalized(self) -> ViewState:
        """Replace impossible combinations with the nearest valid view."""
        s = self
        if s.mode not in MODES:
            s = replace(s, mode="coverage")
        if s.level not in UNIT_LEVELS:
            s = replace(s, level="county")
        if s.county:
            s = replace(s, level="township")
        if s.mode == "attainment":
            s = replace(s, level="county", county="")
        if s.layer not in LAYERS:
            s = replace(s, layer="incubator")
        if s.metric not in METRICS or s.level not in METRICS[s.metric][2]:
            s = replace(s, metric="count")
        if s.scheme not in SCHEMES:
            s = replace(s, scheme="natural_breaks")
        s = replace(s, k=int(min(7, max(2, s.k))), show=tuple(x for x in s.show if x in LAYERS))
        return s


@dataclass
class View:
    """Computed results for one state."""

    state: ViewState
    units: gpd.GeoDataFrame  # the units of the view with their metrics (full geometry)
    sites: gpd.GeoDataFrame  # sites of the view (year filter, county focus), assigned
    attainment: pd.DataFrame
    spec: MapSpec
    value_column: str
    has_samples: bool
    n_city_only: int
    notes: list[str] = field(default_factory=list)


def metric_label(metric: str, lang: str) -> str:
    zh, en, *_ = METRICS[metric]
    return en if lang == "en" else zh


def metric_options(level: str) -> list[str]:
    return [k for k, v in METRICS.items() if level in v[2]]


def filter_year(sites: pd.DataFrame, year: int | None) -> pd.DataFrame:
    """Sites known by ``year``: year ≤ Y, or undated (their existence is sourced)."""
    if year is None:
        return sites
    y = pd.to_numeric(sites["year"], errors="coerce")
    return sites[y.isna() | (y <= year)]


def plan_marks(plan: Plan) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Pilot counties and pilot towns designated by the plan (bold outlines, stars)."""
    d = plan.designations
    counties = tuple(d.loc[d["designation"] == "pilot_county", "county_code"])
    towns = tuple(d.loc[d["designation"] == "pilot_town", "township_code"])
    return counties, towns


def map_targets(table: pd.DataFrame) -> list[str]:
    """Targets that have one row per county, so they can colour a county map."""
    per_county = table[table["scope_code"] != "630100"]
    return list(dict.fromkeys(per_county["target_id"]))


_SIMPLIFIED: dict[int, tuple[Units, gpd.GeoDataFrame, gpd.GeoDataFrame]] = {}


def simplified(units: Units) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """County and township geometry simplified for display (computed once per Units)."""
    hit = _SIMPLIFIED.get(id(units))
    if hit is None or hit[0] is not units:
        counties = simplify_units(units.counties[["code", "geometry"]])
        towns = units.townships[["code", "geometry"]]
        towns = simplify_units(towns[towns.geometry.notna()])
        hit = (units, counties, towns)
        _SIMPLIFIED[id(units)] = hit
    return hit[1], hit[2]


def _fmt_value(value: float, share: bool, lang: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return t("no_data", lang)
    if share:
        return f"{value * 100:.1f}%"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2f}"


def _classes(values: pd.Series, state: ViewState, share: bool) -> Classes:
    cl = classify(values, scheme=state.scheme, k=state.k, lang=state.lang)
    if share:
        labels = []
        for label in cl.labels:
            parts = label.split("–")
            labels.append("–".join(f"{float(p.replace(',', '')) * 100:.1f}%" for p in parts))
        cl = Classes(cl.index, cl.colors, labels, cl.missing_color, cl.missing_label)
    return cl


def provenance(row: Mapping[str, object], lang: str) -> str:
    """Where a row of the attainment table comes from, in ``lang``: the report and its year,
    who entered it and when; how a derived figure was computed; or that the map counted it."""
    kind = str(row.get("source_kind") or "none")
    if kind in ("sites", "counties_met", "designation", "none"):
        return t(f"src_{kind}", lang)
    year = row.get("actual_year")
    text = t(f"src_{kind}", lang, year=year, doc=row.get("source_doc") or "")
    by, at = str(row.get("entered_by") or ""), str(row.get("entered_at") or "")
    if by or at:
        who = by or ("未署名" if lang == "zh" else "unsigned")
        text += ("（" if lang == "zh" else " (") + t("src_entered", lang, by=who, at=at)
        text += "）" if lang == "zh" else ")"
    return text


def build_view(
    units: Units,
    sites: gpd.GeoDataFrame,
    state: ViewState,
    *,
    plan: Plan,
    basemap: Basemap | None = None,
    basemap_key: str = "",
    pilot_counties: tuple[str, ...] = (),
    pilot_towns: tuple[str, ...] = (),
) -> View:
    """Compute tables and the map spec for ``state`` from assigned ``sites`` and the ``plan``."""
    state = state.normalized()
    lang = state.lang
    dated = filter_year(sites, state.year)
    shown_sites = dated if state.samples else dated[~dated["is_sample"].astype(bool)]
    attain = attainment(units, dated, plan, as_of=state.year)
    counties_s, towns_s = simplified(units)
    notes: list[str] = []

    if state.mode == "attainment":
        table = summarize(units, shown_sites, level="county")
        rows = attain[(attain["target_id"] == state.target) & (attain["scope_code"] != "630100")]
        rows = rows.set_index("scope_code")
        table["status"] = table["code"].map(rows["status"]).fillna("no_data")
        table["actual"] = table["code"].map(rows["actual"])
        table["target"] = table["code"].map(rows["target"])
        where = {code: provenance(r, lang) for code, r in rows.iterrows()}
        table["value_text"] = [
            (f"{a:g} / {b:g}" if pd.notna(a) and pd.notna(b) else t("no_data", lang))
            + (f" · {where[c]}" if c in where else "")
            for a, b, c in zip(table["actual"], table["target"], table["code"], strict=True)
        ]
        cl = status_classes(table["status"].where(table["code"].isin(rows.index)), lang=lang)
        value_col = "status"
        spec_rows = rows.iloc[0] if not rows.empty else None
        title = (
            (spec_rows["indicator_en"] if lang == "en" else spec_rows["indicator_zh"])
            if (spec_rows is not None)
            else state.target
        )
        legend_title = f"{title} ({t('mode_attainment', lang)})"
        geo = counties_s.set_index("code").geometry
        draw = table.assign(geometry=table["code"].map(geo).to_numpy())
        outline = None
    else:
        metric = METRICS[state.metric]
        value_col = metric[2][state.level].format(l=state.layer)
        share = metric[3]
        table = summarize(units, shown_sites, level=state.level, layers=list(LAYERS))
        if state.level == "county":
            geo = counties_s.set_index("code").geometry
            draw = table.assign(geometry=table["code"].map(geo).to_numpy())
            outline = None
        else:
            table = table[table.geometry.notna()] if not state.county else table
            if state.county:
                table = table[table["county_code"] == state.county]
            geo = towns_s.set_index("code").geometry
            draw = table.assign(geometry=table["code"].map(geo).to_numpy())
            draw = draw[draw.geometry.notna()]
            outline = (
                counties_s if not state.county else counties_s[counties_s["code"] == state.county]
            )
            if (table["geometry_source"].astype(str).str.startswith("approx")).any():
                notes.append(t("approx_zones", lang))
            if not state.county:
                zoned = set(units.townships.dropna(subset=["geometry"])["county_code"])
                grey = units.counties.loc[~units.counties["code"].isin(zoned), ["code", "name"]]
                grey = grey.assign(
                    geometry=grey["code"].map(counties_s.set_index("code").geometry).to_numpy(),
                    geometry_source="none",
                    level="county",
                )
                grey[value_col] = np.nan
                draw = pd.concat([draw, grey], ignore_index=True)
                notes.append(t("no_township_geom", lang))
        cl = _classes(draw[value_col], state, share)
        draw["value_text"] = [_fmt_value(v, share, lang) for v in draw[value_col]]
        layer = LAYERS[state.layer]
        legend_title = (
            f"{layer.zh if lang == 'zh' else layer.en}: {metric_label(state.metric, lang)}"
        )

    draw = gpd.GeoDataFrame(draw, geometry="geometry", crs="EPSG:4326")
    draw["fill"] = cl.color_of()
    if state.county:
        view_sites = shown_sites[shown_sites["county_code"] == state.county]
    else:
        view_sites = shown_sites
    # sites outside Xining are reported in the upload check, not drawn or counted on the map
    map_sites = view_sites[view_sites["layer"].isin(state.show) & (view_sites["county_code"] != "")]
    if (map_sites["location_precision"].isin(APPROXIMATE)).any():
        notes.append(t("approx_sites", lang))
    n_city_only = int((shown_sites["location_precision"] == "city").sum())
    if n_city_only and not state.county:
        notes.append(t("city_only", lang, n=n_city_only))
    has_samples = bool(map_sites["is_sample"].astype(bool).any())
    if has_samples:
        notes.insert(0, t("sample_banner", lang))

    if state.county:
        focus = units.counties[units.counties["code"] == state.county]
        bounds = tuple(focus.total_bounds)
        label_src = draw[draw.geometry.notna()]
    else:
        bounds = tuple(units.counties.total_bounds)
        label_src = draw
    if state.level == "county" or state.county:
        label_src = label_src[label_src.geometry.notna()]
        pts = label_src.geometry.representative_point()
        names = label_src["code"].map(county_labels(units)).fillna(label_src["name"])
        labels = [(p.x, p.y, n) for p, n in zip(pts, names)]
    else:
        c = units.counties
        pts = c.geometry.representative_point()
        labels = [(p.x, p.y, n) for p, n in zip(pts, c["code"].map(county_labels(units)))]
    seats = units.township_seats.set_index("code")
    highlights = [
        (float(seats.at[c, "lon"]), float(seats.at[c, "lat"]), c)
        for c in pilot_towns
        if c in seats.index and (not state.county or c.startswith(state.county))
    ]
    bold = [c for c in pilot_counties if state.level == "county"]
    tooltip_label = t("status", lang) if value_col == "status" else metric_label(state.metric, lang)
    spec = MapSpec(
        units=draw[["code", "name", "fill", "value_text", "geometry_source", "geometry"]],
        legend=cl.legend(),
        legend_title=legend_title,
        sites=map_sites if not map_sites.empty else None,
        outline=outline,
        labels=labels,
        highlights=highlights,
        bold_codes=bold,
        notes=notes,
        bounds=bounds,
        meeting=state.meeting,
        lang=lang,
        basemap=basemap,
        basemap_key=basemap_key,
        tooltip_fields=[("value_text", tooltip_label)],
    )
    return View(
        state=state,
        units=gpd.GeoDataFrame(table, geometry="geometry", crs="EPSG:4326"),
        sites=view_sites,
        attainment=attain,
        spec=spec,
        value_column=value_col,
        has_samples=has_samples,
        n_city_only=n_city_only,
        notes=notes,
    )


LABEL_CHARS = 4  # a county name longer than this is labelled by its short name and level


def county_labels(units: Units) -> dict[str, str]:
    """Map label per county code: the name, or for a long one its short name with the last
    character of its name, the level (大通回族土族自治县 → 大通县): the map has little room."""
    c = units.counties
    return {
        code: name if len(name) <= LABEL_CHARS or not short else short + name[-1]
        for code, name, short in zip(c["code"], c["name"], c["short_name"], strict=True)
    }
