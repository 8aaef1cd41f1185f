"""Upload panel: a planner's own registry and official township boundaries (Streamlit).

Reading, validation and matching live in layers/ and geo/ (the same code as the command line);
this module only takes the files, shows the report, and keeps the results in session state.
Everything is keyed by the files' content hash, so caches stay correct.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from base.errors import InputError
from geo.backends import DISPLAY_TZ, get_backend
from geo.backends.saving import SaveOutcome, save_layers, undo_last
from geo.boundaries import Units
from geo.loader import load_sites
from geo.official import load_township_boundaries
from geo.pipeline import Sites
from geo.report import report_csv, report_summary, validation_report
from layers.registry import SiteLoad, combine, read_sites
from layers.safety import MAX_BOUNDARY_BYTES, MAX_UPLOAD_BYTES, markdown_text
from layers.schema import LAYERS

K_SITES_UP, K_BOUNDS_UP = "upload_sites", "upload_boundaries"
K_SAVE, K_SAVED_BY, K_RELOAD = "save_upload", "saved_by", "reload_versions"
K_HISTORY, K_UNDO, K_UNDONE = "history_layer", "undo_save", "undo_outcome"
K_BASES = "base_versions"  # session state: upload key → the layer versions it was checked against
TYPES = ["csv", "txt", "xlsx", "geojson", "json", "zip", "gpkg"]

TEXT = {
    "upload": ("上传自己的数据", "Upload your own data"),
    "sites": (
        "站点名录(CSV/XLSX/GeoJSON/Shapefile zip/GPKG)",
        "Site registry (CSV/XLSX/GeoJSON/zipped Shapefile/GPKG)",
    ),
    "bounds": (
        "官方乡镇界线(Shapefile zip/GPKG/GeoJSON)",
        "Official township boundaries (zipped Shapefile/GPKG/GeoJSON)",
    ),
    "summary": (
        "读取 {rows_read} 行: 采用 {accepted} 行, 未采用 {rejected} 行",
        "Read {rows_read} rows: {accepted} used, {rejected} not used",
    ),
    "report": ("下载检查报告(CSV)", "Download the check report (CSV)"),
    "save": ("设为该图层默认名录", "Make this the default registry of its layers"),
    "saved_by": ("保存人(记入修改历史)", "Your name (kept in the edit history)"),
    "saved": (
        "{layer}: 已保存为第 {version} 版, 第 {previous} 版留在修改历史中",
        "{layer}: saved as version {version}; version {previous} stays in the edit history",
    ),
    "unchanged": (
        "{layer}: 与当前第 {version} 版相同, 无需保存",
        "{layer}: same as the current version {version}; nothing to save",
    ),
    "conflict": (
        "{layer}: 未保存。{who}在你检查这份文件之后保存了第 {current} 版{when}"
        "(你依据的是第 {expected} 版), 本次什么也没有写入。",
        "{layer}: not saved. {who} saved version {current}{when} after you checked this file "
        "against version {expected}; nothing was written.",
    ),
    "someone": ("同事", "A colleague"),
    "history": ("修改历史与撤销", "Edit history and undo"),
    "history_layer": ("图层", "Layer"),
    "undo": ("撤销该图层最近一次保存", "Undo the latest save of this layer"),
    "undone": (
        "{layer}: 已恢复到第 {restored} 版的内容(记为第 {version} 版, 可再撤销)",
        "{layer}: back to the content of version {restored} (saved as version {version}; "
        "this can be undone too)",
    ),
    "not_saved": ("{layer}: 未保存。{error}", "{layer}: not saved. {error}"),
    "reload": (
        "改为以最新版本为准(替换同事的修改)",
        "Check against the latest version instead (replaces the colleague's edit)",
    ),
    "bounds_ok": ("已用官方界线替换 {n} 个乡镇的近似范围", "Official polygons replace {n} zones"),
    "too_big": ("文件过大", "File too large"),
}


def _t(key: str, lang: str, **fmt: object) -> str:
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**fmt)


@dataclass
class Uploaded:
    """What the planner uploaded, already read (empty when nothing was uploaded)."""

    key: str = ""  # content hash of everything uploaded ('' = bundled data only)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    boundaries: tuple[str, bytes] | None = None


def _digest(parts: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode("utf-8"))
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


@st.cache_resource(show_spinner=False, max_entries=8)
def official_units(key: str, _units: Units, name: str, data: bytes) -> tuple[Units, pd.DataFrame]:
    return load_township_boundaries(data, units=_units, filename=name)


@st.cache_data(show_spinner=False, max_entries=8)
def uploaded_sites(
    key: str, _units: Units, files: tuple[tuple[str, bytes], ...]
) -> tuple[Sites, pd.DataFrame, SiteLoad]:
    """All sites (uploaded layers replace bundled ones) and the report of the uploads alone."""
    loads = [read_sites(data, filename=name) for name, data in files]
    sites = load_sites(_units, loads=loads, include_samples=True)
    user = combine(loads)
    mine = sites.assigned[sites.assigned["file"].isin([name for name, _ in files])]
    return sites, validation_report(user, mine), user


def panel(lang: str) -> Uploaded:
    """Sidebar expander with both uploaders; returns what was uploaded."""
    out = Uploaded()
    with st.sidebar.expander(_t("upload", lang)):
        files = st.file_uploader(
            _t("sites", lang),
            type=TYPES,
            accept_multiple_files=True,
            key=K_SITES_UP,
            max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        )
        bounds = st.file_uploader(
            _t("bounds", lang),
            type=["zip", "gpkg", "geojson", "json"],
            key=K_BOUNDS_UP,
            max_upload_size=MAX_BOUNDARY_BYTES // 2**20,
        )
    parts = [(f.name, f.getvalue()) for f in files or []]
    out.files = parts
    if bounds is not None:
        out.boundaries = (bounds.name, bounds.getvalue())
    everything = parts + ([out.boundaries] if out.boundaries else [])
    out.key = _digest(everything) if everything else ""
    return out


def apply(up: Uploaded, units: Units, lang: str) -> tuple[Units, Sites | None]:
    """Units with official polygons and the uploaded sites; reports shown in the sidebar."""
    box = st.sidebar
    if up.boundaries:
        name, data = up.boundaries
        try:
            units, report = official_units(up.key, units, name, data)
        except InputError as exc:  # names the file and, past a limit, the limit
            box.error(markdown_text(exc.text(lang)))
        else:
            matched = int((report["kind"] == "matched").sum())
            box.success(_t("bounds_ok", lang, n=matched))
            problems = report[report["kind"] != "matched"]
            if not problems.empty:
                box.dataframe(problems, hide_index=True, key="bounds_report")
    if not up.files:
        return units, None
    try:
        sites, report, user_load = uploaded_sites(up.key, units, tuple(up.files))
    except InputError as exc:
        box.error(markdown_text(exc.text(lang)))
        return units, None
    summary = report_summary(user_load, report)
    box.info(_t("summary", lang, **summary))
    rejected = report[report["outcome"] == "rejected"] if "outcome" in report else report
    if not rejected.empty:
        box.dataframe(
            rejected[["file", "row", "column", "reason"]], hide_index=True, key="upload_report"
        )
    box.download_button(
        _t("report", lang),
        report_csv(report),
        "check_report.csv",
        "text/csv",
        key="dl_upload_report",
        on_click="ignore",
    )
    _save_controls(up.key, user_load.sites, lang)
    return units, sites


def _save_controls(key: str, user: pd.DataFrame, lang: str) -> None:
    """ "Save as default" with the versions this upload was checked against (optimistic locking).

    The versions are remembered when the upload first arrives; if a colleague saves one of the
    layers afterwards, the save of that layer is refused with who and when, until the planner
    chooses to check against the latest version.
    """
    box = st.sidebar
    backend = get_backend()
    bases = st.session_state.setdefault(K_BASES, {})
    if key not in bases:
        bases[key] = backend.registry_versions()
    by = box.text_input(_t("saved_by", lang), key=K_SAVED_BY, max_chars=60)
    if not box.button(_t("save", lang), key=K_SAVE):
        return
    outcomes = save_layers(
        backend,
        user,
        base_versions=bases[key],
        saved_by=by.strip(),
        message="dashboard upload: " + ", ".join(sorted(set(user["file"].astype(str)))),
    )
    for out in outcomes:
        _show_outcome(out, lang)
        if out.saved:
            bases[key][out.layer] = out.version  # a second click is then "unchanged"
    if any(out.conflict is not None for out in outcomes):
        box.button(_t("reload", lang), key=K_RELOAD, on_click=bases.pop, args=(key, None))
    if any(out.saved and out.version != out.previous for out in outcomes):
        st.cache_data.clear()


@st.cache_data(show_spinner=False, ttl=15)
def layer_versions() -> dict[str, int]:
    """The current version of each layer, asked of the store at most every 15 s (every rerun
    needs it: the page keys its data by it, the history panel shows it)."""
    return get_backend().registry_versions()


def history_panel(lang: str) -> None:
    """Sidebar expander: a layer's saved versions, and undo of its latest save.

    Undo restores the version before the latest one as a new version (nothing is deleted), with
    the version shown here as the expected one: a colleague's save in between is not undone
    blindly but reported.
    """
    with st.sidebar.expander(_t("history", lang)):
        layer = st.selectbox(
            _t("history_layer", lang),
            list(LAYERS),
            format_func=lambda k: LAYERS[k].en if lang == "en" else LAYERS[k].zh,
            key=K_HISTORY,
        )
        current = layer_versions()[layer]
        st.dataframe(
            history_table(_history(layer, current), lang), hide_index=True, key="history_table"
        )
        st.button(
            _t("undo", lang),
            key=K_UNDO,
            disabled=current <= 1,
            on_click=_undo,
            args=(layer, current),
        )
        done: SaveOutcome | None = st.session_state.pop(K_UNDONE, None)
        if done is not None:
            _show_outcome(done, lang, restored=True)


@st.cache_data(show_spinner=False, ttl=15, max_entries=16)
def _history(layer: str, version: int) -> pd.DataFrame:
    """The layer's versions (cached per current version: reruns do not re-read them)."""
    return get_backend().history(layer)


HISTORY_HEADERS = {
    "version": ("版本", "Version"),
    "saved_at": ("保存时间(UTC+8)", "Saved at (UTC+8)"),
    "saved_by": ("保存人", "Saved by"),
    "n_rows": ("行数", "Rows"),
    "n_added": ("新增", "Added"),
    "n_removed": ("删除", "Removed"),
    "message": ("说明", "Note"),
}


def history_table(
    log: pd.DataFrame, lang: str, *, rows: tuple[str, str] = HISTORY_HEADERS["n_rows"]
) -> pd.DataFrame:
    """Newest version first, times on the planners' clock, headers in the page's language
    (``rows``: what the row count is called, e.g. figures rather than sites)."""
    out = log.sort_values("version", ascending=False).reset_index(drop=True)
    times = pd.to_datetime(out["saved_at"], utc=True, errors="coerce")
    out["saved_at"] = times.dt.tz_convert(DISPLAY_TZ).dt.strftime("%Y-%m-%d %H:%M").fillna("")
    out = out.fillna("")
    index = 1 if lang == "en" else 0
    headers = {**HISTORY_HEADERS, "n_rows": rows}
    return out.rename(columns={k: v[index] for k, v in headers.items()})


def _undo(layer: str, shown: int) -> None:
    """Button callback: undo with the version the planner saw as the expected one."""
    try:
        outcome = undo_last(get_backend(), layer, expected_version=shown)
    except InputError as exc:
        outcome = SaveOutcome(layer, 0, error=str(exc))
    st.session_state[K_UNDONE] = outcome
    if outcome.saved:
        st.cache_data.clear()
    elif outcome.conflict is not None:
        layer_versions.clear()  # show the colleague's version next


def _show_outcome(out: SaveOutcome, lang: str, *, restored: bool = False) -> None:
    box = st.sidebar
    name = LAYERS[out.layer].en if lang == "en" else LAYERS[out.layer].zh
    if out.saved and out.version == out.previous:
        box.info(_t("unchanged", lang, layer=name, version=out.version))
    elif out.saved and restored:
        box.success(_t("undone", lang, layer=name, restored=out.restored, version=out.version))
    elif out.saved:
        box.success(_t("saved", lang, layer=name, version=out.version, previous=out.previous))
    elif out.conflict is not None:
        c = out.conflict
        who = markdown_text(c.saved_by) if c.saved_by else _t("someone", lang)
        when = (f"({c.clock})" if lang == "zh" else f" at {c.clock}") if c.clock else ""
        fmt = {"current": c.current, "expected": c.expected}
        box.error(_t("conflict", lang, layer=name, who=who, when=when, **fmt))
    else:
        why = out.reason.text(lang) if out.reason is not None else out.error
        box.error(_t("not_saved", lang, layer=name, error=markdown_text(why)))
