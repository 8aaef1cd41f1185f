"""Reported figures on both stores: saved as versions with who and when, derived indicators
computed (never typed), attainment by year with the figure's own year, undo, conflicts."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from base.errors import InputError
from base.settings import PLAN_DIR
from geo.attainment import Plan, attainment
from geo.backends import ConflictError
from geo.backends.files import load_indicators_from_files
from geo.backends.saving import save_figures, undo_figures
from geo.indicators import average_growth, derive
from layers.actuals import read_actuals, read_indicators, template_workbook
from tests.conftest import _embedded, _fresh

pytestmark = pytest.mark.both_stores


@pytest.fixture(params=["embedded", "postgis"])
def writable(request, tmp_path):
    """Each store with the plan's tables, free to save figures."""
    if request.param == "embedded":
        yield _embedded(tmp_path)
        return
    db = _fresh(request.getfixturevalue("pg_url"), parts=("plan",))
    yield db
    db.drop()


INDICATORS = load_indicators_from_files()
COLUMNS = ["target_id", "period", "scope_code", "value", "source", "note"]


def _figures(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame([(*r, "") for r in rows], columns=COLUMNS)


BULLETIN = "西宁市2020年国民经济和社会发展统计公报"


def _plan(store, units) -> Plan:
    targets, designations, reported = store.load_plan()
    return Plan(targets, designations, derive(reported, INDICATORS))


def _row(table: pd.DataFrame, target: str, scope: str = "630100") -> pd.Series:
    [row] = table[(table["target_id"] == target) & (table["scope_code"] == scope)].itertuples()
    return pd.Series(row._asdict())


def test_figures_saved_show_in_attainment_with_status_year_and_who(writable, units, bundled):
    base = writable.load_actuals().version
    figures = _figures(
        ("st_enterprises", 2019, "630100", 70, BULLETIN.replace("2020", "2019")),
        ("st_enterprises", 2020, "630100", 85, BULLETIN),
        ("high_tech_enterprises", 2020, "630100", 18, BULLETIN),
        ("science_literacy", 2020, "630121", 6.2, "大通县科协调查"),
    )
    out = save_figures(writable, figures, base_version=base, saved_by="统计局王工", message="m")
    assert out.saved and out.version == base + 1
    stored = writable.load_actuals()
    assert stored.version == base + 1 and stored.saved_by == "统计局王工"
    assert set(stored.frame["entered_by"]) == {"统计局王工"}
    table = attainment(units, bundled.assigned, _plan(writable, units))
    st_ent = _row(table, "st_enterprises")
    assert (st_ent["actual"], st_ent["status"], st_ent["actual_year"]) == (85.0, "met", 2020)
    assert BULLETIN in st_ent["actual_source"] and "统计局王工" in st_ent["actual_source"]
    # the share is computed from the two counts: 100 × 18 ÷ 85 = 21.18 % (≥ 20: met)
    share = _row(table, "high_tech_share")
    assert share["actual"] == pytest.approx(100 * 18 / 85)
    assert share["status"] == "met" and share["source_kind"] == "derived"
    assert share["actual_source"].startswith("derived 2020: 100 × 18 ÷ 85")
    literacy = _row(table, "science_literacy", "630121")
    assert (literacy["actual"], literacy["status"]) == (6.2, "behind")
    # a county with no figure stays "no data", never 0
    other = _row(table, "science_literacy", "630102")
    assert other["status"] == "no_data" and pd.isna(other["actual"])
    # as of 2019: the 2019 figure, and no share (no high-tech count that year)
    then = attainment(units, bundled.assigned, _plan(writable, units), as_of=2019)
    assert _row(then, "st_enterprises")[["actual", "status", "actual_year"]].tolist() == [
        70.0,
        "behind",
        2019,
    ]
    assert _row(then, "high_tech_share")["status"] == "no_data"
    # as of 2022: the 2020 figure, marked as older than the year asked for
    later = _row(
        attainment(units, bundled.assigned, _plan(writable, units), as_of=2022), "st_enterprises"
    )
    assert later["actual_year"] == 2020 and bool(later["stale"])


def test_growth_is_the_average_annual_growth_from_the_base_year(writable, units, bundled):
    amounts = {2015: 1000.0, 2016: 1250.0, 2017: 1400.0, 2018: 1750.0}
    figures = _figures(
        *[("fiscal_st_input", y, "630106", v, f"湟中区{y}年决算") for y, v in amounts.items()]
    )
    save_figures(writable, figures, base_version=writable.load_actuals().version)
    reported = writable.load_plan().reported
    derived = derive(reported, INDICATORS)
    growth = derived[derived["target_id"] == "fiscal_st_input_growth"].set_index("period")
    # hand-computed, from 2015's 1000: 25 %; √1.4 − 1 = 18.32 %; ∛1.75 − 1 = 20.51 %
    assert growth["value"].round(4).to_dict() == {2016: 25.0, 2017: 18.3216, 2018: 20.5071}
    assert growth.loc[2017, "derived_from"] == "fiscal_st_input 2015;fiscal_st_input 2017"
    assert "[25.0%, 12.0%, 25.0%]" in growth.loc[2018, "source"]  # each year's own growth
    average = average_growth(reported, "fiscal_st_input", "630106", start=2015, end=2018)
    assert average == pytest.approx(growth.loc[2018, "value"])
    table = attainment(units, bundled.assigned, _plan(writable, units), as_of=2017)
    row = _row(table, "fiscal_st_input_growth", "630106")
    assert (row["actual"], row["status"], row["actual_year"]) == (
        pytest.approx(18.3216, abs=1e-4),
        "behind",
        2017,
    )
    later = _row(
        attainment(units, bundled.assigned, _plan(writable, units), as_of=2020),
        "fiscal_st_input_growth",
        "630106",
    )
    assert later["status"] == "met" and later["actual_year"] == 2018


def test_a_reviewers_case_doubling_then_flat_is_judged_on_the_average(writable, units, bundled):
    """湟中 100, 200, 400, 420 (2017-2020): the last year alone grew 5 %, the average 61 %."""
    amounts = {2017: 100.0, 2018: 200.0, 2019: 400.0, 2020: 420.0}
    figures = _figures(*[("fiscal_st_input", y, "630106", v, "决算") for y, v in amounts.items()])
    save_figures(writable, figures, base_version=writable.load_actuals().version)
    row = _row(
        attainment(units, bundled.assigned, _plan(writable, units), as_of=2020),
        "fiscal_st_input_growth",
        "630106",
    )
    assert row["actual"] == pytest.approx(100 * (4.2 ** (1 / 3) - 1)) and row["status"] == "met"


def test_a_city_total_is_the_sum_of_every_countys_figure_when_the_city_has_none(
    writable, units, bundled
):
    three = {"630106": 120, "630121": 150, "630123": 90}  # 湟中, 大通, 湟源
    figures = _figures(
        *[("ecommerce_talents", 2021, code, n, f"{code} 商务局") for code, n in three.items()],
        ("ecommerce_talents", 2022, "630106", 200, "湟中区商务局"),  # one county only: no sum
    )
    save_figures(writable, figures, base_version=writable.load_actuals().version)
    row = _row(attainment(units, bundled.assigned, _plan(writable, units)), "ecommerce_talents")
    assert (row["actual"], row["actual_year"], row["status"]) == (360.0, 2021, "behind")
    assert "sum of the 3 counties" in row["actual_source"]


def test_unchanged_figures_keep_who_entered_them_and_undo_restores_the_previous(writable):
    base = writable.load_actuals().version
    first = _figures(("st_enterprises", 2020, "630100", 85, BULLETIN))
    save_figures(writable, first, base_version=base, saved_by="甲")
    both = _figures(
        ("st_enterprises", 2020, "630100", 85, BULLETIN),
        ("high_tech_enterprises", 2020, "630100", 18, BULLETIN),
    )
    out = save_figures(writable, both, base_version=base + 1, saved_by="乙")
    assert out.version == base + 2
    stored = writable.load_actuals().frame.set_index("target_id")
    assert stored.loc["st_enterprises", "entered_by"] == "甲"
    assert stored.loc["high_tech_enterprises", "entered_by"] == "乙"
    again = save_figures(writable, both, base_version=base + 2, saved_by="丙")
    assert again.version == base + 2  # nothing changed: no new version
    undone = undo_figures(writable, expected_version=base + 2, saved_by="乙")
    assert undone.saved and undone.version == base + 3
    assert writable.load_actuals().frame["target_id"].tolist() == ["st_enterprises"]
    history = writable.actuals_history()
    assert history["version"].tolist()[-3:] == [base + 1, base + 2, base + 3]
    assert history["message"].iloc[-1] == f"restored version {base + 1}"


def test_a_colleagues_save_in_between_is_a_conflict_and_nothing_is_written(writable):
    base = writable.load_actuals().version
    save_figures(
        writable,
        _figures(("st_enterprises", 2020, "630100", 85, BULLETIN)),
        base_version=base,
        saved_by="甲",
    )
    late = save_figures(
        writable,
        _figures(("st_enterprises", 2020, "630100", 99, "x")),
        base_version=base,
        saved_by="乙",
    )
    assert not late.saved and isinstance(late.conflict, ConflictError)
    assert late.conflict.saved_by == "甲"
    assert writable.load_actuals().frame["value"].tolist() == [85.0]
    stale = undo_figures(writable, expected_version=base)
    assert not stale.saved and stale.conflict is not None


def test_figures_given_twice_are_refused_whole(writable):
    base = writable.load_actuals().version
    twice = _figures(
        ("st_enterprises", 2020, "630100", 85, BULLETIN),
        ("st_enterprises", 2020, "630100", 86, BULLETIN),
    )
    out = save_figures(writable, twice, base_version=base)
    assert not out.saved and "重复" in out.reason.text("zh")
    assert writable.load_actuals().version == base


def test_nothing_to_undo_before_the_first_save(writable):
    assert writable.load_actuals().version == 1  # the bundled file
    with pytest.raises(InputError, match="no earlier version"):
        undo_figures(writable)


def test_the_fill_in_workbook_filled_in_loads_into_attainment(writable, units, bundled):
    """template → filled (as a clerk fills it in Excel) → checked → saved → attainment."""
    plan = writable.load_plan()
    indicators = read_indicators(PLAN_DIR / "indicators.csv", targets=plan.targets)
    counties = units.counties[["code", "name", "short_name", "aliases"]]
    book = openpyxl.load_workbook(io.BytesIO(template_workbook(indicators, plan.targets, counties)))
    filled = {
        ("st_enterprises", "西宁市", 2020): (85, BULLETIN),
        ("high_tech_enterprises", "西宁市", 2020): (15, BULLETIN),
        ("science_literacy", "大通回族土族自治县", 2021): (7.4, "大通县科协"),
    }
    for ws in book.worksheets[1:]:
        for r in range(1, ws.max_row + 1):
            key = (ws.cell(r, 1).value, ws.cell(r, 3).value, ws.cell(r, 4).value)
            if key in filled:
                ws.cell(r, 5).value, ws.cell(r, 7).value = filled.pop(key)
    assert not filled, f"rows not in the template: {filled}"
    out = io.BytesIO()
    book.save(out)
    load = read_actuals(
        out.getvalue(), filename="填报.xlsx", indicators=indicators, counties=counties
    )
    assert load.rejects.empty and len(load.frame) == 3 and load.empty > 400
    saved = save_figures(
        writable, load.frame, base_version=writable.load_actuals().version, saved_by="科技局"
    )
    assert saved.saved
    table = attainment(units, bundled.assigned, _plan(writable, units), as_of=2021)
    assert _row(table, "st_enterprises")[["actual", "status", "actual_year"]].tolist() == [
        85.0,
        "met",
        2020,
    ]
    share = _row(table, "high_tech_share")  # 100 × 15 ÷ 85 = 17.6 %: behind the 20 %
    assert share["actual"] == pytest.approx(1500 / 85) and share["status"] == "behind"
    literacy = _row(table, "science_literacy", "630121")
    assert (literacy["actual"], literacy["status"], literacy["entered_by"]) == (
        7.4,
        "met",
        "科技局",
    )


def test_a_city_percentage_is_never_the_sum_of_the_counties_percentages(writable, units, bundled):
    every = ["630102", "630103", "630104", "630105", "630106", "630121", "630123"]
    figures = _figures(
        *[("commissioner_poor_village_coverage", 2020, c, 50, "扶贫局") for c in every],
        *[("high_tech_enterprises", 2020, c, 1, "统计局") for c in every],
        *[("st_enterprises", 2020, c, 10, "统计局") for c in every],
    )
    save_figures(writable, figures, base_version=writable.load_actuals().version)
    table = attainment(units, bundled.assigned, _plan(writable, units))
    coverage = _row(table, "commissioner_poor_village_coverage")
    assert coverage["status"] == "no_data" and pd.isna(coverage["actual"])  # not 350 %
    assert _row(table, "st_enterprises")["actual"] == 70.0  # counts add up: 7 × 10
    share = _row(table, "high_tech_share")
    assert share["status"] == "no_data"  # not 7 × 10 %: the city's inputs were not reported


def test_undo_twice_steps_back_two_saves_and_keeps_who_entered_each_figure(writable):
    base = writable.load_actuals().version
    first = _figures(("st_enterprises", 2020, "630100", 85, BULLETIN))
    save_figures(writable, first, base_version=base, saved_by="甲")
    entered = writable.load_actuals().frame["entered_at"].iloc[0]
    second = _figures(("st_enterprises", 2020, "630100", 90, BULLETIN))
    save_figures(writable, second, base_version=base + 1, saved_by="乙")
    back = undo_figures(writable, saved_by="丙")
    assert back.restored == base + 1
    now = writable.load_actuals().frame
    assert now["value"].tolist() == [85.0]
    assert (now["entered_by"].iloc[0], now["entered_at"].iloc[0]) == ("甲", entered)  # kept
    further = undo_figures(writable, saved_by="丙")  # steps back again, not undoing the undo
    assert further.restored == base
    assert writable.load_actuals().frame.empty
