"""A planner enters a figure in the app, in a real Chromium, and the county changes colour on
the attainment map: upload of a filled table in the reported-figures tab, check, save."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser_support import (
    ARTIFACTS,
    CHROMIUM,
    launch_chromium,
    map_frame,
    streamlit_server,
)

if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

from tests.test_browser import wait_idle  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]

MET = "#1a9850"  # geo.classify.STATUS_COLORS["met"]
N_MET_JS = (
    "() => [...document.querySelectorAll('path.leaflet-interactive')]"
    f".filter(p => (p.getAttribute('fill') || '').toLowerCase() === '{MET}').length"
)
TABLE = (
    "指标,县区,年份,数值,来源\n"
    "具备基本科学素质的公民比例,大通县,2020,8.1,大通县科协《2020年公民科学素质调查》\n"
)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Iterator[object]:
    """A server with a store of its own (the figure saved here stays here), and a page."""
    base = tmp_path_factory.mktemp("figures")
    with streamlit_server(
        base / "streamlit.log", env={"XINING_DATA_DIR": str(base / "var")}
    ) as srv:
        pw = sync_api.sync_playwright().start()
        browser = launch_chromium(pw)
        try:
            pg = browser.new_page(locale="zh-CN", viewport={"width": 1600, "height": 1000})
            pg.set_default_timeout(60_000)
            pg.goto(srv.url + "/")
            yield pg
        finally:
            browser.close()
            pw.stop()


def _met(page, want: int) -> int:
    """Counties filled "met" once the map shows ``want`` of them (or after 30 s: the last
    count), re-reading the map frame: a rerun remounts it."""
    count = -1
    for _ in range(150):
        wait_idle(page)
        try:
            count = map_frame(page).evaluate(N_MET_JS)
        except Exception:  # the frame was replaced while it was read
            count = -1
        if count == want:
            return count
        page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"figures_met_{want}.png"))
    return count


def test_a_figure_entered_in_the_app_turns_its_county_green(page, tmp_path):
    page.wait_for_selector(".xn-title")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("目标完成情况", exact=True).click()  # the attainment map
    wait_idle(page)
    sidebar.locator('[data-testid="stSelectbox"]', has_text="规划目标").click()
    page.get_by_role("option", name="具备基本科学素质的公民比例").click()
    assert _met(page, 0) == 0  # science literacy: no county has a figure yet
    page.get_by_role("tab", name="统计数据填报").click()
    page.get_by_text("上传填好的模板或数据表").first.click()  # open the expander
    table = tmp_path / "科协数据.csv"
    table.write_bytes(TABLE.encode("gbk"))  # as a county office's Excel saves it
    uploader = page.locator('[data-testid="stFileUploader"]', has_text="上传填好的模板")
    uploader.locator('input[type="file"]').set_input_files(str(table))
    page.get_by_text("采用 1 行").wait_for()
    page.get_by_role("button", name="保存上传的数据").click()
    page.get_by_text("已保存为第 2 版").wait_for()
    assert _met(page, 1) == 1  # 大通: 8.1 % ≥ 7 %, met
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "figures_entered.png"), full_page=True)
