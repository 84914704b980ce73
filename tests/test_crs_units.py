import math

import numpy as np
import pytest
import rasterio.warp
import shapely
from django.contrib.gis.geos import Point

from geo import crs, units


def test_ping_is_four_hundred_over_121_square_metres():
    assert units.convert_area(400 / 121, "ping") == pytest.approx(1.0)
    assert units.convert_area(1000, "ping") == pytest.approx(302.5)
    assert units.all_areas(1_000_000)["km2"] == pytest.approx(1.0)
    assert units.all_areas(1_000_000)["ha"] == pytest.approx(100.0)


def test_unknown_unit_is_named():
    with pytest.raises(units.UnknownUnitError, match="'acre'"):
        units.convert_area(1, "acre")


def test_geodesic_length_of_one_degree_of_latitude_at_taiwan():
    # meridian radius of curvature on GRS80 at 24°N, a(1-e²)/(1-e² sin²φ)^1.5, times 1° in radians
    a, e2 = 6_378_137.0, 0.00669438002290
    m = a * (1 - e2) / (1 - e2 * math.sin(math.radians(24)) ** 2) ** 1.5
    line = shapely.LineString([(121.0, 23.5), (121.0, 24.5)])
    assert units.geodesic_length(line) == pytest.approx(m * math.radians(1), abs=1.0)


def test_geodesic_area_matches_planar_tm2_closely_near_the_central_meridian():
    square = shapely.box(250_000, 2_650_000, 251_000, 2_651_000)  # 1 km² in TWD97 TM2
    lonlat = crs.transform(square, 3826, 4326)
    # TM2 scale factor 0.9999 on the central meridian: planar area is ~0.02 % smaller than the truth
    assert units.geodesic_area(lonlat) == pytest.approx(1_000_000 / 0.9999**2, rel=2e-4)


def test_twd97_tm2_origin_and_known_point():
    x, y = crs.transformer(4326, 3826).transform(121.0, 0.0)
    assert (x, y) == pytest.approx((250_000.0, 0.0), abs=1e-6)
    # along the central meridian TM2 distances are the ellipsoidal ones scaled by k0 = 0.9999
    _, y24 = crs.transformer(4326, 3826).transform(121.0, 24.0)
    _, y25 = crs.transformer(4326, 3826).transform(121.0, 25.0)
    meridian = units.geodesic_length(shapely.LineString([(121.0, 24.0), (121.0, 25.0)]))
    assert y25 - y24 == pytest.approx(0.9999 * meridian, abs=0.01)


def test_geodjango_rasterio_and_pyproj_agree_in_one_process():
    """System GDAL (GeoDjango) and the rasterio wheel's GDAL both load here and give the same answer."""
    lon, lat = 121.3, 24.99
    geos = Point(lon, lat, srid=4326)
    geos.transform(3826)
    xs, ys = rasterio.warp.transform("EPSG:4326", "EPSG:3826", [lon], [lat])
    px, py = crs.transformer(4326, 3826).transform(lon, lat)
    assert geos.x == pytest.approx(xs[0], abs=1e-3) == pytest.approx(px, abs=1e-3)
    assert geos.y == pytest.approx(ys[0], abs=1e-3) == pytest.approx(py, abs=1e-3)


def test_twd67_to_twd97_shift_is_the_expected_few_hundred_metres():
    # TWD67 TM2 coordinates sit ~828 m west and ~207 m south of TWD97 ones in northern Taiwan
    x67, y67 = crs.transformer(3826, 3828).transform(280_000.0, 2_765_000.0)
    assert math.hypot(280_000.0 - x67, 2_765_000.0 - y67) == pytest.approx(850, abs=60)


def test_transform_arrays_and_unknown_code():
    pts = shapely.points(np.array([[121.0, 24.0], [121.5, 25.0]]))
    out = crs.transform(pts, 4326, 3826)
    assert shapely.get_x(out)[0] == pytest.approx(250_000.0, abs=1e-6)
    with pytest.raises(crs.UnknownCRSError, match="EPSG:999999"):
        crs.transform(pts, 999999, 3826)
