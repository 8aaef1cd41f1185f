"""The reported-figures tab through the app (AppTest): the fill-in workbook downloads, an
uploaded table is checked row by row in the page's language, saved as a new version, and the
attainment map and table show the figure with its year and source; undo goes back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from base.settings import PLAN_DIR
from dashboard.figures import _as_table, _counties, _editable, _scope_names
from geo.attainment import attainment
from geo.backends._figures import figures_frame
from geo.backends.embedded import EmbeddedBackend, store_path
from geo.backends.saving import save_figures
from geo.loader import load_plan, load_units
from layers.actuals import read_actuals, read_indicators
from tests.conftest import _embedded

ROOT = Path(__file__).resolve().parents[1]
MET = "#1a9850"  # geo.classify.STATUS_COLORS["met"]

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.both_stores]

TABLE = (
    "指标,县区,年份,数值,来源,备注\n"
    "具备基本科学素质的公民比例,大通,2020年,8.1%,大通县科协《2020年公民科学素质调查》,\n"
    "具备基本科学素质的公民比例,湟源县,2030,7.5,湟源县科协,\n"  # a year after the plan
    "高新技术企业占科技型企业比重,西宁市,2020,21,统计公报,\n"  # derived: not typed in
)


@pytest.fixture()
def app(tmp_path, monkeypatch) -> AppTest:
    store = _embedded(tmp_path)
    monkeypatch.delenv("XINING_DATABASE_URL", raising=False)
    monkeypatch.setenv("XINING_DATA_DIR", str(store.path.parent))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    yield at
    st.cache_data.clear()
    st.cache_resource.clear()


def _fills(at: AppTest) -> dict[str, str]:
    """County code → fill colour on the map (from the GeoJSON features in the map's script)."""
    [comp] = at.get("component_instance")
    script = json.loads(comp.proto.json_args)["script"]
    out = {}
    for m in re.finditer(r'"code": "(\d{6})".{0,2000}?"fill": "(#[0-9a-fA-F]{6})"', script):
        out.setdefault(m.group(1), m.group(2).lower())
    return out


def _attainment_map(at: AppTest, target: str) -> AppTest:
    at.sidebar.radio(key="mode").set_value("attainment").run()
    at.sidebar.selectbox(key="target").set_value(target).run()
    return at


def test_an_uploaded_figure_is_checked_saved_and_colours_its_county(app):
    before = _fills(_attainment_map(app, "science_literacy"))
    assert before["630121"] != MET  # 大通: no figure yet
    app.file_uploader(key="figures_upload").upload("科协数据.csv", TABLE.encode("gbk"), "text/csv")
    app.run()
    assert not app.exception, app.exception
    [summary] = [w.value for w in app.warning if "读取" in w.value]
    assert "采用 1 行" in summary and "未采用 2 行" in summary
    reasons = " ".join(
        " ".join(map(str, df.value.iloc[:, -1])) for df in app.dataframe if "原因" in df.value
    )
    assert "2030" in reasons and "计算" in reasons  # the year, and the derived share
    app.button(key="figures_upload_save").click().run()
    assert not app.exception, app.exception
    assert any("已保存为第 2 版" in s.value for s in app.success)
    after = _fills(app)
    assert after["630121"] == MET  # 8.1 % ≥ 7 %
    assert after["630123"] == before["630123"]  # 湟源's row was refused: still no data
    [table] = [d.value for d in app.dataframe if "year_text" in d.value.columns]
    [row] = table[
        table["indicator"].str.contains("科学素质") & table["scope_name"].str.startswith("大通")
    ].itertuples()
    assert row.actual == pytest.approx(8.1) and "已达标" in row.status_text
    assert row.year_text == "2020（早于所选年份）"  # the slider is at this year
    assert row.source_text.startswith("2020年 大通县科协《2020年公民科学素质调查》（未署名 ")
    assert row.source_text.endswith(" 填报）")  # when it was entered


def test_the_template_downloads_and_the_history_undoes(app):
    [download] = [b for b in app.get("download_button") if "填报模板" in b.proto.label]
    assert download.proto.label.startswith("下载填报模板")
    app.file_uploader(key="figures_upload").upload("a.csv", TABLE.encode("utf-8"), "text/csv")
    app.run()
    app.button(key="figures_upload_save").click().run()
    app.button(key="figures_undo").click().run()
    assert not app.exception, app.exception
    assert any("已恢复到第 1 版的内容" in s.value for s in app.success)
    assert _fills(_attainment_map(app, "science_literacy"))["630121"] != MET


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_table_as_edited_reads_back_to_the_same_figures(lang):
    """What the editor shows (names in the page's language) is checked by the reader and
    comes back as the same codes and numbers."""
    units = load_units()
    plan = load_plan()
    indicators = read_indicators(PLAN_DIR / "indicators.csv", targets=plan.targets)
    stored = figures_frame(
        [
            {
                "target_id": "science_literacy",
                "period": 2020,
                "scope_code": "630121",
                "value": 8.1,
                "source": "大通县科协",
                "note": "",
                "entered_by": "甲",
                "entered_at": "2026-12-01T08:00:00+00:00",
            },
            {
                "target_id": "st_enterprises",
                "period": 2021,
                "scope_code": "630100",
                "value": 90.0,
                "source": "统计公报",
                "note": "初步数",
                "entered_by": "",
                "entered_at": "",
            },
        ]
    )
    edited = _editable(stored, indicators, _scope_names(units), lang)
    load = read_actuals(
        _as_table(edited), filename="t.csv", indicators=indicators, counties=_counties(units)
    )
    assert load.rejects.empty, load.rejects
    got = load.frame[["target_id", "period", "scope_code", "value", "source", "note"]]
    want = stored[["target_id", "period", "scope_code", "value", "source", "note"]]
    assert got.astype(str).to_numpy().tolist() == want.astype(str).to_numpy().tolist()


def test_progress_by_year_shows_the_figure_from_its_year_and_gaps_before(app):
    app.file_uploader(key="figures_upload").upload("科协.csv", TABLE.encode("gbk"), "text/csv")
    app.run()
    app.button(key="figures_upload_save").click().run()
    app.selectbox(key="progress_target").set_value("science_literacy").run()
    assert not app.exception, app.exception
    [table] = [d.value for d in app.dataframe if 2018 in list(d.value.columns)]
    datong = table.loc[next(i for i in table.index if str(i).startswith("大通"))]
    assert datong.tolist() == ["—", "—", "8.1", "8.1", "8.1", "8.1"]  # no data before 2020
    assert (table.drop(index=datong.name) == "—").all().all()  # other counties: no data, not 0


def _city(units, sites, year: int) -> pd.Series:
    table = attainment(units, sites, load_plan(), as_of=year)
    city = table[
        (table["scope_code"] == "630100") & table["measure"].isin(["count", "designation"])
    ]
    return city.set_index("target_id")["actual"]


def test_kpi_cards_show_the_change_since_the_year_before(app, units, bundled):
    # the first year in which a city-wide count of the bundled data changed
    year = next(
        y
        for y in range(2011, 2026)
        if not _city(units, bundled.assigned, y).equals(_city(units, bundled.assigned, y - 1))
    )
    now, prev = _city(units, bundled.assigned, year), _city(units, bundled.assigned, year - 1)
    app.sidebar.select_slider(key="year").set_value(year).run()
    assert not app.exception, app.exception
    cards = [m.value for m in app.markdown if 'class="xn-kpi"' in m.value]
    names = load_plan().targets.set_index("target_id")["indicator_zh"]
    for target in now.index:
        [card] = [c for c in cards if f">{names[target]} ·" in c]
        if pd.isna(now[target]) or pd.isna(prev[target]):
            assert "较上年" not in card  # no figure: no change to tell
        elif now[target] == prev[target]:
            assert "较上年 持平" in card
        else:
            assert f"较上年 {now[target] - prev[target]:+g}" in card


def test_saving_the_table_after_a_colleagues_save_is_a_conflict_and_writes_nothing(app):
    app.text_input(key="figures_by").input("王工")
    app.run()  # the table was opened at the bundled figures' version 1
    store = EmbeddedBackend(store_path())
    colleague = figures_frame(
        [
            {
                "target_id": "st_enterprises",
                "period": 2020,
                "scope_code": "630100",
                "value": 85.0,
                "source": "公报",
                "note": "",
                "entered_by": "",
                "entered_at": "",
            },
        ]
    )
    assert save_figures(store, colleague, base_version=1, saved_by="[李工](x)").version == 2
    app.button(key="figures_save").click().run()
    assert not app.exception, app.exception
    [error] = [e.value for e in app.error if "未保存" in e.value]
    assert "第 2 版" in error and "第 1 版" in error and r"\[李工\]\(x\)" in error
    assert store.load_actuals().version == 2  # nothing written over the colleague's save
    app.button(key="figures_reload").click().run()
    assert any("当前为第 2 版" in c.value for c in app.caption)
