"""Coverage metrics and attainment on fixtures with known answers and on bundled data."""

import numpy as np
import pandas as pd
import pytest

from geo.assign import assign_sites
from geo.attainment import TARGET_COLUMNS, attainment
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
