"""GCJ-02 / BD-09 conversions against published reference pairs, and CRS handling."""

import numpy as np
import prcoords
import pytest
from pyproj import Geod

from base.crs import (
    BD09,
    GCJ02,
    WGS84,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalize_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from base.errors import InputError
from layers.coords import parse_crs

GEOD = Geod(ellps="WGS84")
# Published in wandergis/coordtransform test/app.js for the input (116.404, 39.915): the forward
# formulas only (its inverses are one-step approximations, no reference for ours).
REFERENCE = [
    (gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
    (wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
]
# An independent implementation (PyPI prcoords, public domain; its "bored" inverses iterate).
INDEPENDENT = [
    (wgs84_to_gcj02, prcoords.wgs_gcj, 0.001),
    (gcj02_to_bd09, prcoords.gcj_bd, 0.001),
    (wgs84_to_bd09, prcoords.wgs_bd, 0.001),
    (gcj02_to_wgs84, prcoords.gcj_wgs_bored, 0.02),
    (bd09_to_gcj02, prcoords.bd_gcj_bored, 0.02),
    (bd09_to_wgs84, prcoords.bd_wgs_bored, 0.02),
]


def metres(a, b) -> float:
    return GEOD.inv(float(a[0]), float(a[1]), float(b[0]), float(b[1]))[2]


@pytest.mark.parametrize(("func", "expected"), REFERENCE, ids=lambda v: getattr(v, "__name__", ""))
def test_published_reference_pairs_within_one_metre(func, expected):
    assert metres(func(116.404, 39.915), expected) < 1.0


@pytest.mark.parametrize(
    ("ours", "theirs", "metres_at_most"), INDEPENDENT, ids=lambda v: getattr(v, "__name__", "")
)
def test_conversions_agree_with_an_independent_implementation_over_xining(
    ours, theirs, metres_at_most
):
    rng = np.random.default_rng(7)
    lon = rng.uniform(100.8, 102.1, 300)
    lat = rng.uniform(36.2, 37.5, 300)
    x, y = ours(lon, lat)
    ref = [theirs(prcoords.Coords(b, a)) for a, b in zip(lon, lat, strict=True)]
    err = [metres((a, b), (r.lon, r.lat)) for a, b, r in zip(x, y, ref, strict=True)]
    assert max(err) < metres_at_most


def test_round_trips_over_xining_are_sub_centimetre():
    rng = np.random.default_rng(1)
    lon = rng.uniform(100.8, 102.1, 500)
    lat = rng.uniform(36.2, 37.3, 500)
    for fwd, inv in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        back = inv(*fwd(lon, lat))
        err = [metres((a, b), (c, d)) for a, b, c, d in zip(lon, lat, *back, strict=True)]
        assert max(err) < 0.01


def test_gcj_offset_in_xining_is_over_a_hundred_metres():
    # The offset is why a GCJ-02 file read as WGS84 lands in the wrong place.
    lon, lat = 101.778, 36.617
    assert 100 < metres((lon, lat), wgs84_to_gcj02(lon, lat)) < 800  # 173 m here


def test_township_seat_reference_pairs(units):
    # The shared seats carry the published GCJ-02 value next to an independently converted
    # WGS84 value; our inverse agrees within a few metres (their single-step inverse is coarser).
    seats = units.township_seats[units.township_seats["source_crs"] == "GCJ-02"]
    lon, lat = gcj02_to_wgs84(seats["source_lon"].astype(float), seats["source_lat"].astype(float))
    err = [metres(p, q) for p, q in zip(zip(lon, lat), zip(seats["lon"], seats["lat"]))]
    assert len(err) >= 50 and max(err) < 5.0


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("WGS84", WGS84),
        ("wgs-84", WGS84),
        ("GCJ02", GCJ02),
        ("高德", GCJ02),
        ("火星坐标", GCJ02),
        ("bd09", BD09),
        ("百度", BD09),
        ("EPSG:4490", "EPSG:4490"),
        ("CGCS2000", "EPSG:4490"),
        ("epsg:4547", "EPSG:4547"),
        ("", WGS84),
    ],
)
def test_normalize_crs_accepts_common_spellings(label, expected):
    assert normalize_crs(label) == expected


def test_unknown_crs_is_a_clear_error():
    with pytest.raises(InputError, match="Unknown coordinate system"):
        normalize_crs("Beijing54-ish")


def test_projected_cgcs2000_gauss_kruger_input():
    # CGCS2000 / 3-degree Gauss-Kruger CM 102E (EPSG:4543) round trip through pyproj.
    from pyproj import Transformer

    x, y = Transformer.from_crs(WGS84, "EPSG:4543", always_xy=True).transform(101.75, 36.62)
    lon, lat = to_wgs84([x], [y], "EPSG:4543")
    assert metres((lon[0], lat[0]), (101.75, 36.62)) < 0.01


def test_a_2000_datum_of_another_body_is_not_cgcs2000():
    """ "2000" in a name is not enough: ESRI's GCS_Mars_2000 must not pass for CGCS2000 (sites
    would be silently read as Chinese national coordinates); an unlabelled CGCS2000 .prj is."""

    with pytest.raises(InputError, match="another body than the Earth"):
        parse_crs("Mars-2000")
    prj = (
        'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",'
        'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
        'UNIT["Degree",0.0174532925199433]]'
    )
    assert parse_crs(prj) == "EPSG:4490"
