"""Progress over time: how far the city and each county got, year by year, against the target.

One target at a time: a line per county (small multiples for targets every county must reach)
from 2018 to 2023, the target as a horizontal line and the deadline as a vertical one; points
coloured by status. A year without a figure is a gap, never 0; a figure carried over from an
earlier year is drawn hollow and named in the table.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from geo.classify import STATUS_COLORS
from viewmodel.i18n import t
from viewmodel.views import provenance

K_PROGRESS = "progress_target"


def _labels(progress: pd.DataFrame, lang: str) -> dict[str, str]:
    col = "indicator_en" if lang == "en" else "indicator_zh"
    first = progress.drop_duplicates("target_id")
    return {r["target_id"]: f"{r['clause']} {r[col]}" for _, r in first.iterrows()}


def _chart(rows: pd.DataFrame, lang: str) -> alt.TopLevelMixin:
    data = rows.assign(
        source_text=[provenance(r, lang) for _, r in rows.iterrows()],
        status_text=rows["status"].map(lambda s: t(f"status_{s}", lang)),
        carried=rows["stale"].map({True: t("carried", lang), False: ""}),
    )
    status = alt.Scale(
        domain=[t(f"status_{s}", lang) for s in STATUS_COLORS],
        range=list(STATUS_COLORS.values()),
    )
    base = alt.Chart(data).encode(x=alt.X("year:O", title=t("year", lang)))
    line = base.mark_line(color="#555").encode(y=alt.Y("actual:Q", title=t("actual", lang)))
    points = base.mark_point(size=90, filled=True).encode(
        y="actual:Q",
        color=alt.Color("status_text:N", scale=status, title=t("status", lang)),
        shape=alt.Shape("carried:N", title="", legend=None),
        tooltip=[
            alt.Tooltip("scope_name:N", title=t("scope", lang)),
            alt.Tooltip("year:O", title=t("year", lang)),
            alt.Tooltip("actual:Q", title=t("actual", lang), format="g"),
            alt.Tooltip("target:Q", title=t("target_value", lang), format="g"),
            alt.Tooltip("status_text:N", title=t("status", lang)),
            alt.Tooltip("actual_year:O", title=t("data_year", lang)),
            alt.Tooltip("source_text:N", title=t("actual_source", lang)),
        ],
    )
    # rules drawn across the whole panel: their own charts on the same data (facets need it)
    goal = alt.Chart(data).mark_rule(strokeDash=[6, 4], color="#1a9850").encode(y="target:Q")
    deadline = alt.Chart(data).mark_rule(color="#888").encode(x=alt.X("deadline:O"))
    layered = alt.layer(line, points, goal, deadline).properties(width=230, height=150)
    if data["scope_name"].nunique() > 1:
        return layered.facet(facet=alt.Facet("scope_name:N", title=None), columns=4).resolve_scale(
            y="independent"
        )
    return layered.properties(width=600, height=260)


def progress_tab(progress: pd.DataFrame, lang: str, *, target: str) -> None:
    """The selected target's progress, 2018–2023, as a chart and a table."""
    labels = _labels(progress, lang)
    ids = list(labels)
    chosen = st.selectbox(
        t("target", lang),
        ids,
        index=ids.index(target) if target in ids else 0,
        format_func=labels.__getitem__,
        key=K_PROGRESS,
    )
    rows = progress[progress["target_id"] == chosen].copy()
    counties = rows[rows["scope_code"] != "630100"]
    if not counties.empty:  # targets per county: the counties, not the count of those meeting it
        rows = counties
    rows["deadline"] = pd.to_numeric(rows["deadline"], errors="coerce").astype("Int64")
    st.caption(t("progress_note", lang))
    st.altair_chart(_chart(rows, lang), width="stretch")
    table = rows.pivot_table(
        index="scope_name", columns="year", values="actual", aggfunc="first", dropna=False
    )
    shown = table.map(lambda v: "—" if pd.isna(v) else f"{v:g}")
    shown.index.name = t("scope", lang)
    st.dataframe(shown, key="progress_table")
