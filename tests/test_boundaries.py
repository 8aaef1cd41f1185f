"""Bundled boundaries: counts, names and aliases, and the approximate township zones."""

import numpy as np
import pytest
import shapely

from base.crs import PROJECTED
from geo.zones import APPROX_SOURCE


def test_bundled_counts(units):
    assert len(units.counties) == 7
    assert len(units.townships) == 80
    assert len(units.villages) == 1100
    assert len(units.township_seats) == 55
    assert int(units.counties["pop_2020"].sum()) == 2_467_965
    assert units.townships["is_statistical"].sum() == 4


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("湟中县", "630106"),
        ("湟中区", "630106"),
        ("630122", "630106"),
        ("湟中", "630106"),
        ("大通县", "630121"),
        ("大通回族土族自治县", "630121"),
        ("大通", "630121"),
        ("630123", "630123"),
        ("城西区", "630104"),
        ("630104000000", "630104"),
        ("北京", None),
        ("", None),
    ],
)
def test_county_aliases_resolve(units, text, code):
    assert units.resolve_county(text) == code


def test_township_names_codes_and_aliases(units):
    assert units.resolve_township("景阳镇") == ["630121106"]
    assert units.resolve_township("景阳") == ["630121106"]
    assert units.resolve_township("630122107") == ["630106106"]  # 2016 code of 拦隆口镇
    assert units.resolve_township("日月乡") == ["630123201"]  # pre-2023 name
    assert units.resolve_township("城关镇") == ["630121101", "630123100"]  # ambiguous
    assert units.resolve_township("城关镇", county_code="630123") == ["630123100"]


def test_zones_only_where_three_quarters_of_units_have_seats(units):
    zoned = units.townships[units.townships.geometry.notna()]
    assert set(zoned["county_code"]) == {"630106", "630121", "630123"}
    assert (zoned["geometry_source"] == APPROX_SOURCE).all()
    unzoned = units.townships[units.townships.geometry.isna()]
    assert (unzoned["geometry_source"] == "none").all()
    assert len(unzoned) == 80 - len(zoned)  # the register keeps units without a zone


@pytest.mark.parametrize("county", ["630106", "630121", "630123"])
def test_zones_tile_their_county_without_gap_or_overlap(units, county):
    zones = units.townships[units.townships["county_code"] == county].dropna(subset=["geometry"])
    zones_m = zones.to_crs(PROJECTED).geometry
    county_m = units.counties[units.counties["code"] == county].to_crs(PROJECTED).geometry.iloc[0]
    union = shapely.union_all(zones_m.to_numpy())
    tolerance = county_m.area * 1e-7  # about 10 m² on 100 km²: float noise, not slivers
    assert shapely.symmetric_difference(union, county_m).area < tolerance  # no gap
    assert abs(zones_m.area.sum() - county_m.area) < tolerance  # no overlap: parts sum to whole


def test_every_seat_lies_in_its_own_zone_and_county(units):
    seats = units.township_seats.set_index("code")
    for row in units.townships.dropna(subset=["geometry"]).itertuples():
        point = shapely.Point(seats.at[row.code, "lon"], seats.at[row.code, "lat"])
        assert row.geometry.covers(point), row.name
    counties = units.counties.set_index("code")
    for s in units.township_seats.itertuples():
        assert counties.at[s.county_code, "geometry"].covers(shapely.Point(s.lon, s.lat)), s.name


def test_areas_are_computed_in_metres(units):
    area = units.counties.set_index("name")["area_km2"]
    assert area["湟中区"] == pytest.approx(2438.39, rel=0.01)
    assert np.isclose(units.counties["area_km2"].sum(), 7596.32, rtol=0.01)
