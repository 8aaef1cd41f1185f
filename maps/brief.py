"""County briefs: one A4 page per county (and one for the whole city) as a PDF. No streamlit.

Each page is drawn from the same computed view the dashboard shows
(``viewmodel.views.build_view``): the city page from the county-level coverage view, a county
page from that county's township view. A page holds the map (townships and sites, legend), the
plan's targets for that scope as status-coloured boxes with the real-site count per layer, a
table of its sites by layer, and the data caveats in plain words.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Rectangle

from base.errors import InputError
from geo.attainment import Plan, attainment_by_year
from geo.boundaries import CITY_CODE, CITY_NAME, Units
from geo.classify import STATUS_COLORS, STATUS_LABELS
from layers.schema import APPROXIMATE, LAYERS, LEVEL_RANK
from maps import static
from maps.static import BRIEF_STYLE, INK, MUTED, font, map_panel, wrap
from viewmodel.i18n import t
from viewmodel.views import DEFAULT_YEAR, View, ViewState, build_view, plan_marks

A4_PORTRAIT = (8.27, 11.69)  # inches
MARGIN_IN = 0.5
CITY_WORDS = {"all", "city", "全市", "西宁", "西宁市", CITY_CODE}


def resolve_scopes(units: Units, items: str | Sequence[str] | None) -> list[str]:
    """Page scopes for a request: ``None``/"all" → the city and every county; otherwise the
    named counties (code, full name, short name or alias) and "city"/"630100" for the city.

    Raises :class:`base.errors.InputError` naming what is unknown.
    """
    every = [CITY_CODE, *units.counties["code"]]
    if items is None:
        return every
    if isinstance(items, str):
        items = [p for p in items.replace("，", ",").split(",")]
    items = [str(i).strip() for i in items if str(i).strip()]
    if not items or any(i.lower() == "all" for i in items):
        return every
    out: list[str] = []
    unknown: list[str] = []
    for item in items:
        code = CITY_CODE if item.lower() in CITY_WORDS else units.resolve_county(item)
        if code is None:
            unknown.append(item)
        elif code not in out:
            out.append(code)
    if unknown:
        names = "、".join(units.counties["name"])
        raise InputError(
            f"Unknown county: {', '.join(unknown)}. Use 'all', 'city', a code or a name ({names})."
        )
    return out


def brief_state(code: str, *, lang: str, year: int, layer: str) -> ViewState:
    """The dashboard view a page is drawn from."""
    if code == CITY_CODE:
        return ViewState(mode="coverage", level="county", layer=layer, lang=lang, year=year)
    return ViewState(
        mode="coverage", level="township", county=code, layer=layer, lang=lang, year=year
    )


# ---------------------------------------------------------------- page content ---------------


@dataclass
class Kpi:
    label: str
    value: str
    status: str  # met / behind / no_data, or "layer:<key>"
    foot: str
    trend: str = ""  # the value each year of the plan's period, e.g. "2018→2023: 0 0 1 1 2 2"


def _num(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:g}"


def trends(progress: pd.DataFrame | None, code: str) -> dict[str, str]:
    """Target → its values over the plan's years for scope ``code`` ("—" where none)."""
    if progress is None or progress.empty:
        return {}
    rows = progress[progress["scope_code"] == code].sort_values("year")
    out = {}
    for target, group in rows.groupby("target_id", sort=False):
        years = group["year"].tolist()
        values = " ".join(_num(v) for v in group["actual"])
        out[str(target)] = f"{years[0]}→{years[-1]}: {values}"
    return out


def attainment_kpis(
    view: View, code: str, lang: str, *, progress: pd.DataFrame | None = None
) -> tuple[list[Kpi], list[str]]:
    """Boxes for the targets of this scope, and the indicators with no published data.

    A box for every target measured from the map or the plan's designations, or with data; the
    reported targets without any published figure are listed by name instead. ``progress``
    (:func:`geo.attainment.attainment_by_year`) adds each target's values year by year.
    """
    rows = view.attainment[view.attainment["scope_code"] == code]
    trend = trends(progress, code)
    boxes: list[Kpi] = []
    missing: list[str] = []
    labels = STATUS_LABELS["en" if lang == "en" else "zh"]
    for _, r in rows.iterrows():
        label = r["indicator_en"] if lang == "en" else r["indicator_zh"]
        if r["measure"] == "reported" and r["status"] == "no_data":
            missing.append(str(label))
            continue
        unit = str(r["unit"] or "")
        if lang == "en" and unit != "%":
            unit = ""
        value = f"{_num(r['actual'])} / {_num(r['target'])}{(' ' + unit) if unit else ''}"
        status = str(r["status"])
        boxes.append(Kpi(str(label), value, status, labels[status], trend.get(r["target_id"], "")))
    return boxes, missing


def site_counts(view: View) -> pd.DataFrame:
    """Per layer: all, real, approximate, not mapped, planned and sample sites of the view."""
    s = view.sites
    out = []
    for key in LAYERS:
        part = s[s["layer"] == key]
        sample = part["is_sample"].astype(bool)
        real = part[~sample]
        out.append(
            {
                "layer": key,
                "n": len(part),
                "real": len(real),
                "approx": int(real["location_precision"].isin(APPROXIMATE).sum()),
                "unmapped": int((real["location_precision"] == "city").sum()),
                "planned": int((real["status"] == "planned").sum()),
                "sample": int(sample.sum()),
                "names": _names(real),
            }
        )
    return pd.DataFrame(out)


def _names(real: pd.DataFrame, *, limit: int = 3) -> list[str]:
    if real.empty:
        return []
    rank = real["level"].map(LEVEL_RANK).fillna(len(LEVEL_RANK))
    ordered = real.assign(_rank=rank).sort_values(["_rank", "name"])
    return [str(n) for n in ordered["name"].head(limit)] + (
        [f"+{len(real) - limit}"] if len(real) > limit else []
    )


def layer_kpis(counts: pd.DataFrame, lang: str) -> list[Kpi]:
    zh = lang != "en"
    boxes = []
    for row in counts.itertuples(index=False):
        layer = LAYERS[row.layer]
        foot = []
        if row.sample:
            foot.append(f"另有示例 {row.sample}" if zh else f"+{row.sample} sample")
        if row.approx:
            foot.append(f"近似位置 {row.approx}" if zh else f"{row.approx} approx.")
        label = (layer.zh + " (真实站点)") if zh else f"{layer.en} (real sites)"
        boxes.append(Kpi(label, f"{row.real}", f"layer:{row.layer}", " · ".join(foot)))
    return boxes


# Caveats that depend on how many sites of a kind a page shows: (count column, zh, en).
_COUNT_CAVEATS: tuple[tuple[str, str, str], ...] = (
    (
        "approx",
        "{n} 个真实站点没有精确坐标,画在所在乡镇或县区的驻地(空心标记),位置只是大致的。",
        "{n} real sites have no coordinates and are drawn at their township or county seat "
        "(hollow markers): their position is approximate.",
    ),
    (
        "sample",
        "{n} 个标有【示例】的站点是演示用的示例数据(虚线标记),不是真实站点,"
        "不计入任何统计和目标完成情况。",
        "{n} sites marked 【示例】 are sample records for demonstration (dashed markers), not "
        "real sites; no count or target includes them.",
    ),
    (
        "unmapped",
        "另有 {n} 个站点只知道位于西宁市,没有画在图上,只计入全市数字。",
        "{n} more sites are only known to be in Xining: not on the map, counted city-wide only.",
    ),
    (
        "planned",
        "{n} 个站点仍在规划中,不计入目标完成情况。",
        "{n} sites are planned, not confirmed built: no target counts them.",
    ),
)


def caveats(view: View, code: str, counts: pd.DataFrame, lang: str) -> list[str]:
    """The data caveats of a page, in plain words."""
    zh = lang != "en"
    out: list[str] = []
    units = view.spec.units
    approx_zones = units["geometry_source"].astype(str).str.startswith("approx").any()
    if approx_zones:
        out.append(
            "乡镇范围是按乡镇驻地划出的近似区域(虚线边界),不是法定行政界线。"
            if zh
            else "Township areas are approximate zones drawn around township seats (dashed "
            "borders), not legal boundaries."
        )
    if code != CITY_CODE and units.empty:
        out.append(
            "本县区暂无乡镇边界数据,地图只画出县区轮廓和站点。"
            if zh
            else "There are no township boundaries for this district: the map shows its outline "
            "and sites only."
        )
    for column, zh_text, en_text in _COUNT_CAVEATS:
        n = int(counts[column].sum())
        if n:
            out.append((zh_text if zh else en_text).format(n=n))
    out.append(
        "“无数据”表示没有找到公开的统计或报告,不等于 0。"
        if zh
        else '"No data" means no published figure was found; it does not mean zero.'
    )
    year = view.state.year
    out.append(
        f"目标来自宁政办〔2018〕132号,规划期 2018–2023 年;只计入认定年份不晚于 {year} 年的站点"
        "(无年份的站点也计入)。"
        if zh
        else f"Targets from 宁政办〔2018〕132号 (plan period 2018–2023); sites recognised by "
        f"{year} count (undated sites too)."
    )
    return out


# ---------------------------------------------------------------- drawing --------------------


class _Page:
    """A4 page with a cursor in inches from the top; ``dry`` pages only measure."""

    def __init__(self, *, dry: bool = False) -> None:
        self.fig = Figure(figsize=A4_PORTRAIT, facecolor="white")
        self.dry = dry
        self.w, self.h = A4_PORTRAIT
        self.y = MARGIN_IN * 0.8
        self.left = MARGIN_IN
        self.width = self.w - 2 * MARGIN_IN

    def fx(self, x_in: float) -> float:
        return x_in / self.w

    def fy(self, y_in: float) -> float:
        return 1 - y_in / self.h

    def add(self, artist) -> None:
        if not self.dry:
            self.fig.add_artist(artist)

    def text(self, x_in: float, y_in: float, text: str, size: float, **kw) -> None:
        if self.dry:
            return
        kw.setdefault("color", INK)
        kw.setdefault("va", "top")
        kw.setdefault("ha", "left")
        self.fig.text(
            self.fx(x_in), self.fy(y_in), text, parse_math=False, fontproperties=font(size), **kw
        )

    def hline(self, y_in: float, color: str = "#cccccc", width: float = 0.6) -> None:
        self.add(
            Line2D(
                [self.fx(self.left), self.fx(self.left + self.width)],
                [self.fy(y_in), self.fy(y_in)],
                color=color,
                linewidth=width,
            )
        )

    def heading(self, text: str, size: float = 11) -> None:
        self.y += 0.1
        self.text(self.left, self.y, text, size)
        self.y += size * 1.4 / 72
        self.hline(self.y)
        self.y += 0.07

    def box(self, x_in: float, y_in: float, w_in: float, h_in: float, **kw) -> None:
        self.add(
            FancyBboxPatch(
                (self.fx(x_in), self.fy(y_in + h_in)),
                w_in / self.w,
                h_in / self.h,
                boxstyle="round,pad=0,rounding_size=0.005",
                transform=self.fig.transFigure,
                **kw,
            )
        )

    def rect(self, x_in: float, y_in: float, w_in: float, h_in: float, **kw) -> None:
        self.add(
            Rectangle(
                (self.fx(x_in), self.fy(y_in + h_in)),
                w_in / self.w,
                h_in / self.h,
                transform=self.fig.transFigure,
                **kw,
            )
        )


KPI_PER_ROW = 5
KPI_H, KPI_GAP = 0.61, 0.07


def _draw_kpis(page: _Page, boxes: list[Kpi]) -> None:
    per_row = KPI_PER_ROW
    bw = (page.width - KPI_GAP * (per_row - 1)) / per_row
    bh = KPI_H
    for i, box in enumerate(boxes):
        r, c = divmod(i, per_row)
        x = page.left + c * (bw + KPI_GAP)
        y = page.y + r * (bh + KPI_GAP)
        if box.status.startswith("layer:"):
            color = LAYERS[box.status.split(":", 1)[1]].color
            page.box(x, y, bw, bh, facecolor="#f6f6f6", edgecolor="#d0d0d0", linewidth=0.6)
            page.rect(x, y, 0.06, bh, facecolor=color, edgecolor="none")
            fg, sub = INK, MUTED
        else:
            page.box(x, y, bw, bh, facecolor=STATUS_COLORS[box.status], edgecolor="none")
            fg = sub = "white" if box.status != "no_data" else INK
        inner = x + 0.11
        page.text(inner, y + 0.05, box.value, 12.5, color=fg)
        for j, line in enumerate(wrap(box.label, (bw - 0.16) * 72, 6.6, max_lines=2)):
            page.text(inner, y + 0.29 + j * 0.112, line, 6.6, color=fg)
        if box.foot:
            foot = wrap(box.foot, (bw - 0.2) * 72, 6.2, max_lines=1)[0]
            page.text(x + bw - 0.07, y + 0.035, foot, 6.2, color=sub, ha="right")
        if box.trend:
            trend = wrap(box.trend, (bw - 0.16) * 72, 5.6, max_lines=1)[0]
            page.text(inner, y + 0.505, trend, 5.6, color=sub)
    rows = (len(boxes) + per_row - 1) // per_row
    page.y += rows * (bh + KPI_GAP)


TABLE_ROW_H, TABLE_HEAD_H = 0.3, 0.24


def _draw_table(page: _Page, counts: pd.DataFrame, lang: str) -> None:
    zh = lang != "en"
    heads = (
        ["图层", "真实", "位置近似", "未上图", "规划中", "示例", "主要站点(真实)"]
        if zh
        else ["Layer", "Real", "Approx.", "Unmapped", "Planned", "Sample", "Main sites (real)"]
    )
    widths = [1.5, 0.45, 0.62, 0.6, 0.55, 0.45]
    widths.append(page.width - sum(widths))
    fs = 7.6
    x0 = page.left
    page.rect(x0, page.y, page.width, TABLE_HEAD_H, facecolor="#eeeeee", edgecolor="none")
    x = x0
    for head, w in zip(heads, widths):
        page.text(
            x + 0.06, page.y + TABLE_HEAD_H / 2, head, fs, va="center_baseline", color="#333333"
        )
        x += w
    page.y += TABLE_HEAD_H
    for row in counts.itertuples(index=False):
        layer = LAYERS[row.layer]
        names = [n for n in row.names if not n.startswith("+")]
        more = next((n[1:] for n in row.names if n.startswith("+")), "")
        if names:
            text = "、".join(_clip(n, 18) for n in names) if zh else "; ".join(names)
            if more:
                text += f" 等(另 {more} 个)" if zh else f" and {more} more"
        elif row.sample:
            text = "仅有示例数据" if zh else "sample records only"
        else:
            text = "—"
        cells = [layer.zh if zh else layer.en, row.real, row.approx, row.unmapped]
        cells += [row.planned, row.sample]
        mid = page.y + TABLE_ROW_H / 2
        page.rect(x0, mid - 0.09, 0.05, 0.18, facecolor=layer.color, edgecolor="none")
        x = x0
        for j, (cell, w) in enumerate(zip(cells, widths)):
            pad = 0.11 if j == 0 else 0.06
            lines = wrap(f"{cell}", (w - pad - 0.04) * 72, fs, max_lines=2)
            for k, line in enumerate(lines):
                dy = (k - (len(lines) - 1) / 2) * fs * 1.3 / 72
                page.text(x + pad, mid + dy, line, fs, va="center_baseline")
            x += w
        lines = wrap(text, (widths[-1] - 0.1) * 72, 6.8, max_lines=2)
        for k, line in enumerate(lines):
            dy = (k - (len(lines) - 1) / 2) * 0.115
            page.text(x + 0.06, mid + dy, line, 6.8, va="center_baseline", color="#333333")
        page.y += TABLE_ROW_H
        page.hline(page.y, color="#dddddd", width=0.5)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


CAVEAT_FS = 7.8


def _draw_caveats(page: _Page, notes: list[str]) -> None:
    fs = CAVEAT_FS
    for note in notes:
        page.text(page.left, page.y, "•", fs, color=MUTED)
        for line in wrap(note, (page.width - 0.2) * 72, fs):
            page.text(page.left + 0.15, page.y, line, fs, color="#333333")
            page.y += fs * 1.42 / 72
        page.y += 0.035


def _lower(
    page: _Page,
    view: View,
    code: str,
    counts: pd.DataFrame,
    progress: pd.DataFrame | None = None,
) -> None:
    """Targets, layer counts, the table and the caveats, from ``page.y`` down."""
    lang = view.state.lang
    zh = lang != "en"
    boxes, missing = attainment_kpis(view, code, lang, progress=progress)
    page.heading("规划目标完成情况与站点数量" if zh else "Plan targets and sites")
    _draw_kpis(page, boxes)
    _draw_kpis(page, layer_kpis(counts, lang))
    if missing:
        head = "无公开数据的目标: " if zh else "Targets without published data: "
        sep = "、" if zh else "; "
        for line in wrap(head + sep.join(missing), page.width * 72, 7.2, max_lines=3):
            page.text(page.left, page.y, line, 7.2, color=MUTED)
            page.y += 7.2 * 1.4 / 72
    page.heading("各图层站点" if zh else "Sites by layer")
    _draw_table(page, counts, lang)
    page.heading("数据说明" if zh else "About the data")
    _draw_caveats(page, caveats(view, code, counts, lang))


def _footer(page: _Page, lang: str) -> float:
    """Source line at the bottom; returns the top of the footer (inches from the top)."""
    size = 6.5
    src = wrap(static.source_text(lang), page.width * 72, size)
    top = page.h - MARGIN_IN * 0.6 - len(src) * size * 1.35 / 72
    y = top
    for line in src:
        page.text(page.left, y, line, size, color=MUTED)
        y += size * 1.35 / 72
    return top - 0.08


def brief_page(
    view: View,
    code: str,
    *,
    name: str,
    page_no: int,
    pages: int,
    progress: pd.DataFrame | None = None,
) -> tuple[Figure, dict]:
    """One A4 page for ``code`` (a county, or the city) drawn from its computed view.

    The lower half (targets, table, caveats) is measured first; the map gets the rest of the
    page. Returns the figure and layout facts (``overflow_in``: how far the content runs into
    the footer, 0 on a clean page; ``map_h_in``; ``map``: the map's drawing facts).
    """
    lang = view.state.lang
    zh = lang != "en"
    counts = site_counts(view)
    page = _Page()
    head = "县域创新驱动发展简报" if zh else "County innovation brief"
    page.text(page.left, page.y, f"{head} · {name}", 18)
    page.text(
        page.left + page.width, page.y + 0.05, f"{page_no} / {pages}", 9, color=MUTED, ha="right"
    )
    page.y += 0.36
    page.text(page.left, page.y, t("subtitle", lang), 8.2, color="#444444")
    page.text(
        page.left + page.width,
        page.y,
        static.data_date_text(view.state.year, lang),
        8.2,
        color=MUTED,
        ha="right",
    )
    page.y += 0.24
    footer_top = _footer(page, lang)
    probe = _Page(dry=True)
    probe.y = 0.0
    _lower(probe, view, code, counts, progress)
    map_h = min(4.8, footer_top - page.y - probe.y - 0.1)
    rect = (page.fx(page.left), page.fy(page.y + map_h), page.width / page.w, map_h / page.h)
    facts = map_panel(
        page.fig, view.spec, BRIEF_STYLE, rect, notes=False, legend_in=(2.2, 2.6), gap_in=0.18
    )
    page.y += map_h + 0.05
    _lower(page, view, code, counts, progress)
    overflow = max(0.0, page.y - footer_top)
    return page.fig, {"overflow_in": overflow, "map_h_in": map_h, "map": facts}


def brief_figures(
    units: Units,
    sites: gpd.GeoDataFrame,
    *,
    counties: str | Sequence[str] | None = None,
    lang: str = "zh",
    year: int = DEFAULT_YEAR,
    layer: str = "incubator",
    plan: Plan,
    pilot_counties: Sequence[str] | None = None,
    pilot_towns: Sequence[str] | None = None,
):
    """Yield (scope code, Figure, layout facts) for each page, city first when asked for."""
    if layer not in LAYERS:
        raise InputError(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}")
    scopes = resolve_scopes(units, counties)
    if pilot_counties is None or pilot_towns is None:
        pc, pt = plan_marks(plan)
        pilot_counties = pc if pilot_counties is None else pilot_counties
        pilot_towns = pt if pilot_towns is None else pilot_towns
    names = units.counties.set_index("code")["name"]
    progress = attainment_by_year(units, sites, plan)
    for i, code in enumerate(scopes, start=1):
        state = brief_state(code, lang=lang, year=year, layer=layer)
        view = build_view(
            units,
            sites,
            state,
            plan=plan,
            pilot_counties=tuple(pilot_counties),
            pilot_towns=tuple(pilot_towns),
        )
        if code == CITY_CODE:
            name = CITY_NAME if lang != "en" else f"Xining ({CITY_NAME})"
        else:
            name = str(names[code])
        fig, facts = brief_page(
            view, code, name=name, page_no=i, pages=len(scopes), progress=progress
        )
        yield code, fig, facts


def county_briefs(
    units: Units,
    sites: gpd.GeoDataFrame,
    *,
    counties: str | Sequence[str] | None = None,
    lang: str = "zh",
    year: int = DEFAULT_YEAR,
    layer: str = "incubator",
    plan: Plan,
    pilot_counties: Sequence[str] | None = None,
    pilot_towns: Sequence[str] | None = None,
) -> bytes:
    """A PDF of county briefs: ``counties=None`` (or "all") gives the city page and one page per
    county (8 pages); otherwise the named scopes in order. ``sites`` are assigned sites with the
    sample records (as the app loads them); ``plan`` the plan's tables (``geo.loader.load_plan``);
    pilot marks default to the plan's designations."""
    buf = io.BytesIO()
    title = "西宁市县域创新驱动发展简报" if lang != "en" else "Xining county innovation briefs"
    meta = {"Title": title, "Creator": static.CREATOR, "CreationDate": None}
    with PdfPages(buf, metadata=meta) as pdf:
        for _, fig, _ in brief_figures(
            units,
            sites,
            counties=counties,
            lang=lang,
            year=year,
            layer=layer,
            plan=plan,
            pilot_counties=pilot_counties,
            pilot_towns=pilot_towns,
        ):
            pdf.savefig(fig, facecolor="white")
    return buf.getvalue()


__all__ = [
    "attainment_kpis",
    "brief_figures",
    "brief_page",
    "brief_state",
    "caveats",
    "county_briefs",
    "resolve_scopes",
    "site_counts",
    "trends",
]
