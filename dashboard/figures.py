"""The reported figures on the page: correct or add them in a table, fill in the workbook and
upload it, see who entered what, and undo the latest save.

Every figure goes through the same checks as a workbook from the command line
(:func:`layers.actuals.read_actuals`: indicator, county, year, number, source, duplicates, no
derived indicator typed in) before it is saved, as a new version, with the version the planner
started from: a colleague's save in between is a conflict, and nothing is written.
"""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from base.errors import InputError, StoreError
from base.settings import PLAN_DIR
from dashboard.upload import history_table
from geo.attainment import Plan
from geo.backends import get_backend
from geo.backends.saving import SaveOutcome, merge_figures, save_figures, undo_figures
from geo.boundaries import CITY_CODE, CITY_NAME, Units
from geo.export import to_csv
from layers.actuals import read_actuals, read_indicators, template_workbook
from layers.safety import markdown_text

K_SNAPSHOT = "figures_snapshot"  # session state: (version, frame) the editor started from
K_EDITOR, K_SAVE, K_BY, K_RELOAD = "figures_editor", "figures_save", "figures_by", "figures_reload"
K_UPLOAD, K_UPLOAD_SAVE, K_UNDO = "figures_upload", "figures_upload_save", "figures_undo"
K_OUTCOME, K_UNDONE = "figures_outcome", "figures_undone"

TEXT = {
    "intro": (
        "各县区和全市的统计数据（科学素质、科技型企业、财政科技投入等）。派生指标（高新技术"
        "企业占比、财政科技投入增幅）由其组成数据计算，不直接填写。",
        "Statistics reported for the counties and the city (science literacy, S&T enterprises, "
        "fiscal S&T input, …). Derived indicators (the high-tech share, the growth of fiscal "
        "S&T input) are computed from their components, not typed in.",
    ),
    "version": ("当前为第 {version} 版{who}", "Version {version}{who}"),
    "by_at": ("（{who}，{when}）", " ({who}, {when})"),
    "indicator": ("指标", "Indicator"),
    "scope": ("县区", "County"),
    "year": ("年份", "Year"),
    "value": ("数值", "Value"),
    "source": ("来源（报告名称或文号）", "Source (report or document number)"),
    "note": ("备注", "Note"),
    "entered_by": ("填报人", "Entered by"),
    "entered_at": ("填报时间", "Entered at"),
    "saved_by": ("保存人（记入修改历史）", "Your name (kept in the edit history)"),
    "save": ("保存表格为新版本", "Save the table as a new version"),
    "template": ("下载填报模板（Excel）", "Download the fill-in workbook (Excel)"),
    "upload": ("上传填好的模板或数据表", "Upload the filled workbook or a table"),
    "upload_save": (
        "保存上传的数据（同指标同县区同年份的数值被替换）",
        "Save the uploaded figures (they replace the same indicator, county and year)",
    ),
    "summary": (
        "读取 {rows_read} 行：采用 {accepted} 行，未采用 {rejected} 行，空白 {empty} 行",
        "Read {rows_read} rows: {accepted} used, {rejected} not used, {empty} blank",
    ),
    "rejects": (
        "以下各行未采用，请修改后重新上传或保存",
        "These rows were not used: fix them and try again",
    ),
    "saved": (
        "已保存为第 {version} 版，第 {previous} 版留在修改历史中",
        "Saved as version {version}; version {previous} stays in the edit history",
    ),
    "unchanged": (
        "与当前第 {version} 版相同，无需保存",
        "Same as the current version {version}; nothing to save",
    ),
    "conflict": (
        "未保存。{who}在你打开表格之后保存了第 {current} 版{when}（你依据的是第 {expected} 版），"
        "本次什么也没有写入。",
        "Not saved. {who} saved version {current}{when} after you opened the table (you "
        "started from version {expected}); nothing was written.",
    ),
    "someone": ("同事", "A colleague"),
    "unsigned": ("未署名", "unsigned"),
    "reload": (
        "载入最新版本（放弃本页未保存的修改）",
        "Load the latest version (drops your unsaved edits)",
    ),
    "not_saved": ("未保存。{error}", "Not saved. {error}"),
    "history": ("修改历史", "Edit history"),
    "undo": ("撤销最近一次保存", "Undo the latest save"),
    "undone": (
        "已恢复到第 {restored} 版的内容（记为第 {version} 版，可再撤销）",
        "Back to the content of version {restored} (saved as version {version})",
    ),
    "row": ("行", "Row"),
    "column": ("列", "Column"),
    "cell": ("内容", "Value"),
    "reason": ("原因", "Reason"),
}


def _t(key: str, lang: str, **fmt: object) -> str:
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**fmt)


def _counties(units: Units) -> pd.DataFrame:
    cols = ["code", "name", "short_name", "aliases"]
    return pd.DataFrame({c: units.counties.get(c, "") for c in cols})


def _scope_names(units: Units) -> dict[str, str]:
    names = dict(zip(units.counties["code"], units.counties["name"], strict=True))
    return {CITY_CODE: CITY_NAME, **names}


def _editable(frame: pd.DataFrame, indicators: pd.DataFrame, scopes: dict[str, str], lang: str):
    """The stored figures as the planner edits them: names instead of codes."""
    label = indicators.set_index("indicator_id")["indicator_en" if lang == "en" else "indicator_zh"]
    out = pd.DataFrame(
        {
            "indicator": frame["target_id"].map(label).fillna(frame["target_id"]),
            "scope": frame["scope_code"].map(scopes).fillna(frame["scope_code"]),
            "year": pd.to_numeric(frame["period"]).astype("Int64"),
            "value": frame["value"].astype(float),
            "source": frame["source"].astype(str),
            "note": frame["note"].astype(str),
            "entered_by": frame["entered_by"].astype(str),
            "entered_at": frame["entered_at"].astype(str).str[:16].str.replace("T", " "),
        }
    )
    return out.reset_index(drop=True)


def _as_table(edited: pd.DataFrame) -> bytes:
    """The edited rows as the long table the reader takes (Chinese headers; names resolved by
    the reader, which also checks every row)."""
    table = pd.DataFrame(
        {
            "指标": edited["indicator"],
            "县区": edited["scope"],
            "年份": edited["year"],
            "数值": edited["value"],
            "来源": edited["source"],
            "备注": edited["note"],
        }
    )
    return to_csv(table.dropna(how="all"))


def _rejects_table(rejects: pd.DataFrame, lang: str) -> pd.DataFrame:
    reason = "reason_en" if lang == "en" else "reason_zh"
    out = rejects[["row", "column", "value", reason]].copy()
    names = ["row", "column", "cell", "reason"]
    out.columns = [_t(k, lang) for k in names]
    return out


def _show(out: SaveOutcome, lang: str) -> None:
    if out.saved and out.version == out.previous:
        st.info(_t("unchanged", lang, version=out.version))
    elif out.saved:
        st.success(_t("saved", lang, version=out.version, previous=out.previous))
    elif out.conflict is not None:
        c = out.conflict
        who = markdown_text(c.saved_by) if c.saved_by else _t("someone", lang)
        when = (f"（{c.clock}）" if lang == "zh" else f" at {c.clock}") if c.clock else ""
        st.error(_t("conflict", lang, who=who, when=when, current=c.current, expected=c.expected))
        st.button(
            _t("reload", lang), key=K_RELOAD, on_click=st.session_state.pop, args=(K_SNAPSHOT, None)
        )
    else:
        why = out.reason.text(lang) if out.reason is not None else out.error
        st.error(_t("not_saved", lang, error=markdown_text(why)))


def _save(frame: pd.DataFrame, base: int, lang: str, *, message: str) -> None:
    by = st.session_state.get(K_BY, "").strip()
    out = save_figures(get_backend(), frame, base_version=base, saved_by=by, message=message)
    st.session_state[K_OUTCOME] = out
    if out.saved:
        st.session_state.pop(K_SNAPSHOT, None)
        st.session_state.pop(K_EDITOR, None)  # the table shows the saved version afresh
        if out.version != out.previous:
            st.cache_data.clear()
    st.rerun()  # the map, the tables and this tab show the saved figures


def _check(data: bytes, name: str, indicators: pd.DataFrame, units: Units):
    return read_actuals(data, filename=name, indicators=indicators, counties=_counties(units))


def _editor(units: Units, indicators: pd.DataFrame, lang: str) -> None:
    snapshot = st.session_state.get(K_SNAPSHOT)
    if snapshot is None:
        stored = get_backend().load_actuals()
        snapshot = (stored.version, stored.frame, stored.saved_by, stored.saved_at)
        st.session_state[K_SNAPSHOT] = snapshot
    version, frame, saved_by, saved_at = snapshot
    who = ""
    if saved_by or saved_at:
        when = saved_at.strftime("%Y-%m-%d %H:%M") if saved_at is not None else ""
        who = _t("by_at", lang, who=saved_by or _t("unsigned", lang), when=when)
    st.caption(_t("version", lang, version=version, who=who))
    scopes = _scope_names(units)
    entered = indicators[indicators["derivation"].eq("")]
    names = entered["indicator_en" if lang == "en" else "indicator_zh"].tolist()
    edited = st.data_editor(
        _editable(frame, indicators, scopes, lang),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=K_EDITOR,
        column_config={
            "indicator": st.column_config.SelectboxColumn(
                _t("indicator", lang), options=names, required=True
            ),
            "scope": st.column_config.SelectboxColumn(
                _t("scope", lang), options=list(scopes.values()), required=True
            ),
            "year": st.column_config.NumberColumn(
                _t("year", lang), min_value=2016, max_value=2023, step=1, format="%d", required=True
            ),
            "value": st.column_config.NumberColumn(_t("value", lang), format="%g", required=True),
            "source": st.column_config.TextColumn(_t("source", lang), required=True),
            "note": st.column_config.TextColumn(_t("note", lang)),
            "entered_by": st.column_config.TextColumn(_t("entered_by", lang), disabled=True),
            "entered_at": st.column_config.TextColumn(_t("entered_at", lang), disabled=True),
        },
    )
    st.text_input(_t("saved_by", lang), key=K_BY, max_chars=60)
    if st.button(_t("save", lang), key=K_SAVE, type="primary"):
        load = _check(_as_table(edited), "table.csv", indicators, units)
        if not load.rejects.empty:
            st.warning(_t("rejects", lang))
            st.dataframe(_rejects_table(load.rejects, lang), hide_index=True)
            return
        _save(load.frame, version, lang, message="dashboard table")


def _uploads(units: Units, plan: Plan, indicators: pd.DataFrame, lang: str) -> None:
    counties = _counties(units)
    st.download_button(
        _t("template", lang),
        data=partial(template_workbook, indicators, plan.targets, counties),  # built on click
        file_name="统计数据填报模板.xlsx" if lang == "zh" else "reported_figures_template.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="figures_template",
        on_click="ignore",
    )
    up = st.file_uploader(_t("upload", lang), type=["xlsx", "csv"], key=K_UPLOAD)
    if up is None:
        return
    try:
        load = _check(up.getvalue(), up.name, indicators, units)
    except InputError as exc:
        st.error(markdown_text(f"{up.name}: {exc.text(lang)}"))
        return
    summary = {"rows_read": load.rows_read, "accepted": len(load.frame)}
    summary |= {"rejected": len(load.rejects), "empty": load.empty}
    (st.warning if len(load.rejects) else st.success)(_t("summary", lang, **summary))
    if not load.rejects.empty:
        st.dataframe(_rejects_table(load.rejects, lang), hide_index=True, key="figures_rejects")
    if not load.frame.empty and st.button(_t("upload_save", lang), key=K_UPLOAD_SAVE):
        stored = get_backend().load_actuals()
        merged = merge_figures(stored.frame, load.frame)
        _save(merged, stored.version, lang, message=f"dashboard upload: {up.name}")


def _history(lang: str) -> None:
    backend = get_backend()
    log = history_table(backend.actuals_history(), lang, rows=("数据条数", "Figures"))
    st.dataframe(log, hide_index=True, key="figures_history")
    version = int(backend.load_actuals().version)
    if st.button(_t("undo", lang), key=K_UNDO, disabled=version <= 1):
        try:
            out = undo_figures(backend, expected_version=version)
        except (InputError, StoreError) as exc:
            st.error(exc.text(lang))
            return
        if out.saved:
            st.session_state.pop(K_SNAPSHOT, None)
            st.session_state.pop(K_EDITOR, None)
            st.cache_data.clear()
            st.session_state[K_UNDONE] = out
        else:
            st.session_state[K_OUTCOME] = out
        st.rerun()


def figures_tab(units: Units, plan: Plan, lang: str) -> None:
    """The tab's content: the table to edit, the workbook, the history."""
    st.caption(_t("intro", lang))
    indicators = read_indicators(PLAN_DIR / "indicators.csv", targets=plan.targets)
    outcome: SaveOutcome | None = st.session_state.pop(K_OUTCOME, None)
    if outcome is not None:
        _show(outcome, lang)
    undone: SaveOutcome | None = st.session_state.pop(K_UNDONE, None)
    if undone is not None:
        st.success(_t("undone", lang, restored=undone.restored, version=undone.version))
    _editor(units, indicators, lang)
    with st.expander(_t("upload", lang)):
        _uploads(units, plan, indicators, lang)
    with st.expander(_t("history", lang)):
        _history(lang)
