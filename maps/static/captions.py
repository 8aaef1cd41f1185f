"""The words around a map: title, subtitle and data date of a view, the source line.

Shared by the slide images and the county brief (maps.brief).
"""

from __future__ import annotations

from datetime import date

from viewmodel.i18n import t


def data_date_text(year: int | None, lang: str = "zh", *, made: date | None = None) -> str:
    """ "站点数据截至 2026 年 · 制图 2026-11-27": the view's as-of year and the drawing date."""
    made = made or date.today()
    if lang == "en":
        head = f"Sites as of {year}" if year else "All sites"
        return f"{head} · drawn {made.isoformat()}"
    head = f"站点数据截至 {year} 年" if year else "全部站点"
    return f"{head} · 制图 {made.isoformat()}"


def source_text(lang: str = "zh") -> str:
    """The data source line, with the projection the image is drawn in."""

    proj = "Projection: UTM 47N (EPSG:32647)" if lang == "en" else "投影: UTM 47N (EPSG:32647)"
    return f"{t('source_line', lang)} · {proj}"


def view_titles(view, *, county_name: str = "") -> tuple[str, str, str]:
    """(title, subtitle, data date) for a ``viewmodel.views.View``, in the view's language."""

    state = view.state
    lang = state.lang
    title = t("title", lang)
    if state.county:
        if not county_name and "county_name" in view.units and len(view.units):
            county_name = str(view.units["county_name"].iloc[0])
        title = f"{title} · {county_name or state.county}"
    if state.mode == "attainment":
        subtitle = view.spec.legend_title
    else:
        level = t(f"level_{state.level}", lang)
        by = f"by {level.lower()}" if lang == "en" else f"按{level}"
        subtitle = f"{view.spec.legend_title} ({by})"
    return title, subtitle, data_date_text(state.year, lang)
