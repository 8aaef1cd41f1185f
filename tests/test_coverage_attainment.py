"""Coverage metrics and attainment on fixtures with known answers and on bundled data."""

import numpy as np
import pandas as pd
import pytest

from base.errors import InputError
from geo.assign import assign_sites
from geo.attainment import COMPARATORS, TARGET_COLUMNS, Plan, attainment
from geo.backends.files import load_plan_from_files
from geo.coverage import summarize
from geo.loader import load_plan
from tests.conftest import make_sites


def test_counts_densities_and_shares(toy_units):
    sites = make_sites(
        [
            {"name": "a", "lon": 101.25, "lat": 36.25, "village": "一村"},
            {"name": "b", "lon": 101.26, "lat": 36.26},
            {"name": "c", "lon": 101.75, "lat": 36.75},
        ]
    )
    out = assign_sites(sites, toy_units)
    county = summarize(toy_units, out, level="county", layers=["incubator"]).set_index("code")
    assert county.at["630901", "n_incubator"] == 2
    assert county.at["630901", "per100k_incubator"] == pytest.approx(2.0)
    area = county.at["630901", "area_km2"]
    assert county.at["630901", "per100km2_incubator"] == pytest.approx(2 / area * 100, rel=1e-3)
    assert county.at["630901", "share_townships_incubator"] == 0.5  # 南镇 yes, 北乡 no
    assert county.at["630901", "share_villages_incubator"] == pytest.approx(1 / 3, abs=1e-3)
    town = summarize(toy_units, out, level="township", layers=["incubator"]).set_index("code")
    assert town.at["630901100", "share_villages_incubator"] == 0.5


def test_nearest_site_distance_is_in_kilometres_on_the_ground(toy_units):
    # One site 0.1° of latitude north of 南镇's seat: 11.1 km, whatever the longitude scale.
    out = assign_sites(make_sites([{"name": "n", "lon": 101.25, "lat": 36.35}]), toy_units)
    town = summarize(toy_units, out, level="township", layers=["incubator"]).set_index("code")
    assert town.at["630901100", "nearest_km_incubator"] == pytest.approx(11.09, abs=0.05)
    # 东镇's seat is 0.5° east, 0.1° south: about 45.6 km, not 0.51 "degrees"
    assert town.at["630902100", "nearest_km_incubator"] == pytest.approx(45.9, abs=1.0)


def test_unknown_township_row_keeps_totals(toy_units):
    frame = toy_units.townships.copy()
    frame.loc[frame["county_code"] == "630902", "geometry"] = None
    units = type(toy_units).from_frames(
        toy_units.counties,
        frame,
        township_seats=toy_units.township_seats,
        county_seats=toy_units.county_seats,
    )
    out = assign_sites(make_sites([{"name": "x", "lon": 101.8, "lat": 36.2}]), units)
    town = summarize(units, out, level="township", layers=["incubator"]).set_index("code")
    assert town.at["630902000", "n_incubator"] == 1
    assert "township_unknown" in out["flags"].iloc[0]


def test_every_plan_target_is_in_the_table():
    targets, designations, reported = load_plan()
    assert targets["target_id"].is_unique
    values = dict(zip(targets["target_id"], targets["value"], strict=False))
    expected = {
        "pilot_counties": 3,
        "pilot_towns": 8,
        "ecommerce_village_stations": 80,
        "ecommerce_county_centre": 1,
        "maker_spaces": 10,
        "sci_poverty_demo_sites": 16,
        "industry_poverty_projects": 20,
        "science_literacy": 7,
        "st_enterprises": 82,
        "high_tech_enterprises": 16,
        "municipal_agri_sci_parks": 30,
        "provincial_agri_sci_parks": 15,
        "ecommerce_talents": 500,
        "st_personnel_dispatched": 300,
        "new_varieties_technologies": 30,
        "fiscal_st_input_growth": 20,
        "incubator_full_coverage": 1,
    }
    for key, value in expected.items():
        assert values[key] == value, key
    assert (designations["designation"] == "pilot_town").sum() == 8
    assert (designations["designation"] == "pilot_county").sum() == 3
    # "no data" is visible: no reported value of zero without a source
    assert not ((reported["value"] == "0") & (reported["source"] == "")).any()


def test_attainment_statuses_and_sample_exclusion(units, bundled):
    table = attainment(units, bundled.assigned, load_plan())
    assert set(table["status"]) <= {"met", "behind", "no_data"}
    rows = table.set_index(["target_id", "scope_code"])
    # 60 sample village stations are on the map, but attainment counts real sites only
    assert rows.loc[("ecommerce_village_stations", "630100"), "actual"] == 0
    assert rows.loc[("ecommerce_village_stations", "630100"), "status"] == "behind"
    # reported statistics with no report are "no data", never zero
    lit = table[table["target_id"] == "science_literacy"]
    assert lit["actual"].isna().all() and (lit["status"] == "no_data").all()
    # each-county targets: one row per county plus a city roll-up of counties meeting it
    inc = table[table["target_id"] == "incubator_full_coverage"]
    assert len(inc) == 8
    per = inc[inc["scope_code"] != "630100"]
    roll = inc[inc["scope_code"] == "630100"].iloc[0]
    assert roll["actual"] == (per["status"] == "met").sum() and roll["target"] == 7
    assert rows.loc[("pilot_towns", "630100"), "status"] == "met"


def test_attainment_counts_levels_subtypes_years_and_planned(toy_units, tmp_path):
    plan = tmp_path / "plan"
    plan.mkdir()
    cols = list(TARGET_COLUMNS)
    pd.DataFrame(
        [
            [
                "prov",
                "(x)",
                "1",
                "",
                "省级",
                "prov",
                ">=",
                "2",
                "个",
                "city",
                "630901;630902",
                "total",
                "false",
                "2020",
                "incubator",
                "maker_space",
                "provincial",
                "count",
                "",
            ]
        ],
        columns=cols,
    ).to_csv(plan / "targets.csv", index=False)
    pd.DataFrame(columns=["designation"]).to_csv(plan / "designations.csv", index=False)
    pd.DataFrame(columns=["target_id", "period", "scope_code", "value", "source", "note"]).to_csv(
        plan / "reported_actuals.csv", index=False
    )
    base = {"subtype": "maker_space", "lon": 101.2, "lat": 36.2}
    sites = make_sites(
        [
            {**base, "name": "国", "level": "national", "year": 2019},
            {**base, "name": "省", "level": "provincial", "year": 2021},
            {**base, "name": "市", "level": "municipal"},
            {**base, "name": "样", "level": "provincial", "is_sample": True},
            {**base, "name": "规", "level": "provincial", "status": "planned"},
            {**base, "name": "别", "level": "provincial", "subtype": "star_space"},
        ]
    )
    out = assign_sites(sites, toy_units)
    now = attainment(toy_units, out, load_plan_from_files(plan)).iloc[0]
    assert (now["actual"], now["status"], now["ratio"]) == (2.0, "met", 1.0)
    then = attainment(toy_units, out, load_plan_from_files(plan), as_of=2020).iloc[0]
    assert (then["actual"], then["status"]) == (1.0, "behind")
    assert np.isclose(then["ratio"], 0.5)


# ------------------------------------------------ who counts toward a city-wide target (#17)


def _plan(*, comparator=">=", value=2, scope="city", counties="630901;630902", aggregate="total"):
    """One count target on the toy counties (the columns of data/plan/targets.csv)."""
    row = dict.fromkeys(TARGET_COLUMNS, "")
    row.update(
        target_id="t",
        indicator_zh="众创空间",
        indicator_en="Maker spaces",
        comparator=comparator,
        value=float(value),
        unit="家",
        scope=scope,
        scope_counties=counties,
        aggregate=aggregate,
        layer="incubator",
        measure="count",
    )
    targets = pd.DataFrame([row], columns=list(TARGET_COLUMNS))
    empty = pd.DataFrame(columns=["designation", "county_code", "township_code"])
    reported = pd.DataFrame(columns=["target_id", "period", "scope_code", "value", "source"])
    return Plan(targets, empty, reported)


def _city_row(units, sites, plan) -> pd.Series:
    table = attainment(units, assign_sites(sites, units), plan)
    return table[table["scope_code"] == "630100"].iloc[0]


def test_sites_outside_xining_never_count_toward_a_city_wide_target(toy_units):
    inside = [{"name": f"在{i}", "lon": 101.25, "lat": 36.25} for i in range(1)]
    beijing = [{"name": f"京{i}", "lon": 116.40, "lat": 39.90} for i in range(5)]
    row = _city_row(toy_units, make_sites(inside + beijing), _plan(value=2))
    assert (row["actual"], row["status"]) == (1.0, "behind")  # five Beijing rows do not help


def test_unplaced_sites_never_count_toward_a_city_wide_target(toy_units):
    nowhere = [{"name": f"无{i}", "county": "不存在县"} for i in range(3)]
    row = _city_row(toy_units, make_sites(nowhere), _plan(value=1))
    assert (row["actual"], row["status"]) == (0.0, "behind")


def test_sites_known_only_to_be_in_xining_count_toward_a_city_wide_target(toy_units):
    city_only = [{"name": "市", "location_precision": "city"}]
    placed = [{"name": "县", "lon": 101.25, "lat": 36.25}]
    row = _city_row(toy_units, make_sites(city_only + placed), _plan(value=2))
    assert (row["actual"], row["status"]) == (2.0, "met")


@pytest.mark.parametrize(("comparator", "n", "status"), [("=", 4, "met"), ("=", 3, "met")])
def test_creating_more_than_the_plan_names_meets_an_equals_target(toy_units, comparator, n, status):
    """ "全市打造3个": with 4 the target is met, not missed for being exceeded."""
    sites = make_sites([{"name": f"s{i}", "lon": 101.25, "lat": 36.25} for i in range(n)])
    row = _city_row(toy_units, sites, _plan(comparator=comparator, value=3))
    assert row["status"] == status


def test_fewer_than_the_plan_names_is_behind_for_every_comparator(toy_units):
    sites = make_sites([{"name": f"s{i}", "lon": 101.25, "lat": 36.25} for i in range(2)])
    for comparator in COMPARATORS:
        assert _city_row(toy_units, sites, _plan(comparator=comparator, value=3))["status"] == (
            "behind"
        )


def test_a_county_that_exceeds_an_equals_target_counts_as_meeting_it(toy_units):
    sites = make_sites([{"name": f"s{i}", "lon": 101.25, "lat": 36.25} for i in range(2)])
    plan = _plan(comparator="=", value=1, scope="each_county", aggregate="each")
    table = attainment(toy_units, assign_sites(sites, toy_units), plan).set_index("scope_code")
    assert table.at["630901", "status"] == "met"  # 2 of "1" is met
    assert table.at["630902", "status"] == "behind"
    assert table.at["630100", "actual"] == 1.0  # one county of two meets it


def test_an_unknown_comparator_is_refused_not_guessed(toy_units):
    sites = make_sites([{"name": "s", "lon": 101.25, "lat": 36.25}])
    with pytest.raises(InputError, match="comparator"):
        _city_row(toy_units, sites, _plan(comparator=">"))
