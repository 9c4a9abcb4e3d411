"""Datums and distances.

Telegram sends WGS-84 coordinates; WeChat location messages and most Chinese map providers use
GCJ-02, an obfuscated datum that moves points by up to several hundred metres inside China. The
transform below is the published WGS-84 → GCJ-02 algorithm (the Krasovsky-ellipsoid formula used by
every open implementation); its inverse has no closed form, so we iterate to sub-centimetre error.
Outside China GCJ-02 is defined to equal WGS-84.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), for haversine distances

# Krasovsky 1940 ellipsoid, as the GCJ-02 algorithm uses it.
_KRASOVSKY_A = 6_378_245.0
_KRASOVSKY_EE = 0.00669342162296594323


class Datum(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


class InvalidCoordinate(ValueError):
    """A latitude/longitude pair that is not a point on Earth."""


@dataclass(frozen=True, slots=True)
class LatLon:
    lat: float
    lon: float


def validate_lat_lon(lat: float, lon: float) -> LatLon:
    """Refuse NaN, infinities and out-of-range values with a message naming the problem."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError) as exc:
        raise InvalidCoordinate(f"coordinates must be numbers, got {lat!r}, {lon!r}") from exc
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        raise InvalidCoordinate("coordinates must be finite numbers (no NaN or infinity)")
    if not -90.0 <= lat_f <= 90.0:
        raise InvalidCoordinate(f"latitude {lat_f} is outside -90..90")
    if not -180.0 <= lon_f <= 180.0:
        raise InvalidCoordinate(f"longitude {lon_f} is outside -180..180")
    return LatLon(lat_f, lon_f)


def outside_china(lat: float, lon: float) -> bool:
    """The rectangle every GCJ-02 implementation uses; outside it the offset is not applied."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    d_lat = _transform_lat(lon - 105.0, lat - 35.0)
    d_lon = _transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / (
        (_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi
    )
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    if outside_china(lat, lon):
        return LatLon(lat, lon)
    d_lat, d_lon = _gcj_offset(lat, lon)
    return LatLon(lat + d_lat, lon + d_lon)


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    """Invert the forward transform by fixed-point iteration (converges to < 1e-9° in a few steps)."""
    if outside_china(lat, lon):
        return LatLon(lat, lon)
    w_lat, w_lon = lat, lon
    for _ in range(30):
        forward = wgs84_to_gcj02(w_lat, w_lon)
        err_lat, err_lon = forward.lat - lat, forward.lon - lon
        if abs(err_lat) < 1e-10 and abs(err_lon) < 1e-10:
            break
        w_lat -= err_lat
        w_lon -= err_lon
    return LatLon(w_lat, w_lon)


def convert(lat: float, lon: float, *, source: Datum, target: Datum) -> LatLon:
    if source == target:
        return LatLon(lat, lon)
    if source == Datum.WGS84:
        return wgs84_to_gcj02(lat, lon)
    return gcj02_to_wgs84(lat, lon)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_p = p2 - p1
    d_l = math.radians(lon2 - lon1)
    a = math.sin(d_p / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_l / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
