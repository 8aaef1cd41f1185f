"""Progress over time: attainment year by year, from sites' years and reported figures."""

from __future__ import annotations

import pandas as pd

from geo.attainment import Plan, attainment_by_year
from geo.loader import load_plan
from maps.brief import trends


def test_progress_follows_the_figures_year_by_year(units, bundled):
    targets, designations, _ = load_plan()
    figures = pd.DataFrame(
        {
            "target_id": ["science_literacy"] * 3,
            "period": [2018, 2019, 2021],
            "scope_code": ["630121"] * 3,
            "value": [5.0, 6.5, 7.2],
            "source": ["a", "b", "c"],
            "note": [""] * 3,
        }
    )
    table = attainment_by_year(units, bundled.assigned, Plan(targets, designations, figures))
    datong = table[(table["target_id"] == "science_literacy") & (table["scope_code"] == "630121")]
    by_year = datong.set_index("year")
    assert by_year["actual"].to_dict() == {
        2018: 5.0,
        2019: 6.5,
        2020: 6.5,
        2021: 7.2,
        2022: 7.2,
        2023: 7.2,
    }
    assert by_year["status"].tolist() == ["behind"] * 3 + ["met"] * 3
    assert by_year["stale"].tolist() == [False, False, True, False, True, True]
    other = table[(table["target_id"] == "science_literacy") & (table["scope_code"] == "630102")]
    assert other["status"].eq("no_data").all() and other["actual"].isna().all()  # never 0


def test_site_counts_grow_with_the_sites_years(units, bundled):
    targets, designations, reported = load_plan()
    table = attainment_by_year(units, bundled.assigned, Plan(targets, designations, reported))
    for target in ("provincial_agri_sci_parks", "municipal_agri_sci_parks", "maker_spaces"):
        series = table[(table["target_id"] == target) & (table["scope_code"] == "630100")]
        counts = series.set_index("year")["actual"]
        assert counts.index.tolist() == list(range(2018, 2024))
        assert counts.is_monotonic_increasing, target  # a site counts from its year on


def test_the_brief_boxes_carry_each_targets_values_year_by_year():
    progress = pd.DataFrame(
        {
            "target_id": ["t"] * 3 + ["u"] * 3,
            "scope_code": ["630121"] * 6,
            "year": [2018, 2019, 2020] * 2,
            "actual": [0.0, 1.0, 2.5, float("nan"), 7.0, 7.0],
        }
    )
    assert trends(progress, "630121") == {"t": "2018→2020: 0 1 2.5", "u": "2018→2020: — 7 7"}
    assert trends(progress, "630102") == {}
