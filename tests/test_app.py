"""The Streamlit page driven by widget keys (AppTest): each control changes what is shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.secrets import MESSAGES, SecretsFileError, secret
from geo.loader import load_plan
from maps.offline import external_urls

APP = Path(__file__).resolve().parents[1] / "app.py"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture()
def app() -> AppTest:
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def map_args(at: AppTest) -> dict:
    comps = at.get("component_instance")
    assert len(comps) == 1
    return json.loads(comps[0].proto.json_args)


def map_text(at: AppTest) -> str:
    """The map's script, HTML and header, with JSON \\uXXXX escapes decoded."""
    args = map_args(at)
    text = args["script"] + args["html"] + args["header"]
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def n_polygons(at: AppTest) -> int:
    """Unit features in the map script (each carries a fill colour property)."""
    return len(re.findall(r'"fill": "#', map_args(at)["script"]))


def test_first_page_shows_the_county_map_offline(app):
    text = map_text(app)
    assert "西宁市县域创新驱动发展监测图" in app.markdown[0].value + app.markdown[
        1
    ].value + "".join(m.value for m in app.markdown)
    assert n_polygons(app) == 7
    for name in ("湟中区", "湟源县", "城北区"):
        assert name in text
    args = map_args(app)
    assert all(
        link.startswith("/app/static/vendor/") for link in args["js_links"] + args["css_links"]
    )
    assert external_urls(args["header"] + args["html"]) == []
    assert "openstreetmap" not in text and "tianditu" not in text  # no basemap by default
    # samples are on by default, and the page says so
    assert any("示例数据" in w.value for w in app.warning)


def test_language_switch_translates_labels(app):
    app.sidebar.radio(key="lang").set_value("en").run()
    page = "".join(m.value for m in app.markdown)
    assert "Xining county innovation monitoring map" in page
    assert "Number of sites" in map_text(app)


def test_township_level_marks_approximate_zones(app):
    app.sidebar.radio(key="level").set_value("township").run()
    text = map_text(app)
    assert "近似范围" in text and "非法定界线" in text
    assert n_polygons(app) == 42 + 4  # zones of three counties + four counties without zones


def test_choosing_a_county_drills_down_and_back_returns(app):
    app.sidebar.selectbox(key="county").set_value("630121").run()
    assert n_polygons(app) == 20  # 大通's township zones
    assert "景阳镇" in map_text(app)
    app.button(key="back").click().run()
    assert n_polygons(app) == 7
    assert app.sidebar.selectbox(key="county").value == ""


def test_metric_layer_scheme_and_classes(app):
    before = map_text(app)
    app.sidebar.selectbox(key="layer").set_value("ecommerce").run()
    app.sidebar.selectbox(key="metric").set_value("per100k").run()
    text = map_text(app)
    assert "农村电商站点: 每十万常住人口站点数" in text and text != before
    app.sidebar.selectbox(key="scheme").set_value("quantiles").run()
    app.sidebar.slider(key="k").set_value(3).run()
    legend_rows = re.findall(r'class=\\"sw\\"', map_text(app))
    assert 1 <= len(legend_rows) <= 4  # at most 3 classes + missing


def test_attainment_mode_colours_counties_by_status(app):
    app.sidebar.radio(key="mode").set_value("attainment").run()
    app.sidebar.selectbox(key="target").set_value("incubator_full_coverage").run()
    text = map_text(app)
    assert "已达标" in text and "未达标" in text
    assert "#1a9850" in text and "#f46d43" in text  # met / behind fills
    assert n_polygons(app) == 7


def test_samples_toggle_removes_samples_and_banner(app):
    assert "【示例】" in map_text(app)
    app.sidebar.toggle(key="samples").set_value(False).run()
    assert "【示例】" not in map_text(app)
    assert not any("示例数据" in w.value for w in app.warning)


def test_layer_toggles_and_counts(app):
    app.sidebar.multiselect(key="show").set_value(["park"]).run()
    text = map_text(app)
    assert "科技园区 (17)" in text  # 17 real parks with a county are mapped
    assert "农村电商站点 (" not in text


def test_year_control_counts_only_sites_known_by_then(app):
    app.sidebar.multiselect(key="show").set_value(["ecommerce"]).run()
    now = re.search(r"农村电商站点 \((\d+)\)", map_text(app)).group(1)
    app.sidebar.select_slider(key="year").set_value(2016).run()
    then = re.search(r"农村电商站点 \((\d+)\)", map_text(app)).group(1)
    assert int(then) < int(now)


def test_meeting_mode_hides_controls_and_tables(app):
    app.sidebar.toggle(key="meeting").set_value(True).run()
    css = "".join(m.value for m in app.markdown)
    assert "stSidebar" in css and "display: none" in css
    assert len(app.tabs) == 0  # tables and downloads are hidden in meeting mode
    assert "font-size: 22px" in map_args(app)["header"]  # larger legend


def test_basemap_is_opt_in(app):
    app.sidebar.selectbox(key="basemap").set_value("osm").run()
    assert "tile.openstreetmap.org" in map_text(app)


def test_kpis_and_tables_present(app):
    cards = [m.value for m in app.markdown if 'class="xn-kpi"' in m.value]
    # one card per city-wide row of a target counted from the map or designated by the plan
    targets, _, _ = load_plan()
    expected = targets["measure"].isin(["count", "designation"]).sum()
    assert len(cards) == expected == 13
    village = next(c for c in cards if "村级" in c)
    assert "0 / 80" in village and "#f46d43" in village  # real stations only: behind
    assert [tab.label for tab in app.tabs] == [
        "规划目标完成情况",
        "各县区覆盖情况",
        "各县区站点数量(按图层)",
        "下载",
        "统计数据填报",
        "逐年进展",
    ]
    frames = app.dataframe
    assert len(frames) >= 2


def test_every_view_control_is_bound_to_the_url(app):
    # A link reopens the same view: each control mirrors a query parameter of its own name
    # (the real-browser test opens such links; AppTest does not feed URLs to bound widgets).
    widgets = [
        *app.sidebar.radio,
        *app.sidebar.selectbox,
        *app.sidebar.multiselect,
        *app.sidebar.toggle,
        *app.sidebar.slider,
        *app.sidebar.select_slider,
    ]
    bound = {w.proto.query_param_key for w in widgets}
    expected = {
        "lang",
        "meeting",
        "mode",
        "level",
        "layer",
        "metric",
        "scheme",
        "k",
        "county",
        "show",
        "samples",
        "year",
        "basemap",
    }
    assert expected <= bound
    app.sidebar.radio(key="mode").set_value("attainment").run()
    assert app.sidebar.selectbox(key="target").proto.query_param_key == "target"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_broken_secrets_file_is_one_sentence_not_a_silent_fall_back(tmp_path, monkeypatch, lang):
    """A malformed .streamlit/secrets.toml used to be taken for "no database" (the page then
    showed the bundled files as if they were the shared database's)."""
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        'XINING_DATABASE_URL = "postgresql://planner:s3cret-pw@gis-db/xining\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(st.secrets, "_secrets", None)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [MESSAGES[lang]]
    assert not at.get("component_instance")  # no map of the wrong data
    page = json.dumps([str(e) for e in at.main]) + json.dumps([str(e) for e in at.sidebar])
    assert "s3cret-pw" not in page and "gis-db" not in page


def test_no_secrets_file_means_the_bundled_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(st.secrets, "_secrets", None)
    assert secret("XINING_DATABASE_URL") is None


def test_an_unreadable_secrets_file_is_the_same_one_sentence(monkeypatch):
    class Unreadable:
        def get(self, *args, **kwargs):
            raise PermissionError(13, "Permission denied", ".streamlit/secrets.toml")

    monkeypatch.setattr(st, "secrets", Unreadable())
    with pytest.raises(SecretsFileError) as caught:
        secret("XINING_DATABASE_URL")
    assert str(caught.value) == MESSAGES["en"]
