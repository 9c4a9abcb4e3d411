import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.geo import (
    Datum,
    InvalidCoordinate,
    convert,
    gcj02_to_wgs84,
    haversine_m,
    validate_lat_lon,
    wgs84_to_gcj02,
)


def test_wgs84_to_gcj02_matches_the_published_reference_value_for_tiananmen():
    # The reference pair every open implementation of the transform publishes.
    shifted = wgs84_to_gcj02(39.915, 116.404)
    assert shifted.lat == pytest.approx(39.91640428150164, abs=1e-9)
    assert shifted.lon == pytest.approx(116.41024449916938, abs=1e-9)


def test_gcj02_to_wgs84_inverts_the_reference_value_to_the_centimetre():
    back = gcj02_to_wgs84(39.91640428150164, 116.41024449916938)
    assert haversine_m(back.lat, back.lon, 39.915, 116.404) < 0.01


def test_the_offset_in_shigatse_is_hundreds_of_metres():
    shifted = wgs84_to_gcj02(29.267, 88.881)
    assert 100 < haversine_m(29.267, 88.881, shifted.lat, shifted.lon) < 1000


def test_points_outside_china_are_not_shifted():
    kathmandu = (27.7172, 85.3240)
    # Kathmandu lies inside the rough China rectangle, so it is shifted; Tokyo is outside it.
    tokyo = convert(35.68, 139.76, source=Datum.WGS84, target=Datum.GCJ02)
    assert (tokyo.lat, tokyo.lon) == (35.68, 139.76)
    assert convert(*kathmandu, source=Datum.WGS84, target=Datum.WGS84).lat == kathmandu[0]


@given(
    lat=st.floats(min_value=18.0, max_value=53.0),
    lon=st.floats(min_value=74.0, max_value=134.0),
)
def test_round_trip_through_gcj02_returns_within_a_centimetre(lat, lon):
    there = wgs84_to_gcj02(lat, lon)
    back = gcj02_to_wgs84(there.lat, there.lon)
    assert haversine_m(lat, lon, back.lat, back.lon) < 0.01


@pytest.mark.parametrize(
    ("lat", "lon", "problem"),
    [
        (math.nan, 88.0, "finite"),
        (29.0, math.inf, "finite"),
        (-math.inf, 88.0, "finite"),
        (90.0001, 88.0, "latitude"),
        (-91, 88.0, "latitude"),
        (29.0, 180.5, "longitude"),
        (29.0, -181, "longitude"),
        ("north", 88.0, "numbers"),
    ],
)
def test_impossible_coordinates_are_refused_with_the_reason(lat, lon, problem):
    with pytest.raises(InvalidCoordinate, match=problem):
        validate_lat_lon(lat, lon)


def test_haversine_knows_a_degree_of_latitude_is_about_111_km():
    assert haversine_m(29.0, 88.0, 30.0, 88.0) == pytest.approx(111_195, rel=1e-3)
