"""The demo city: counts, CRS, validity, a gap- and overlap-free cadastre, determinism, speed."""

import hashlib
import time

import numpy as np
import pytest
import rasterio
import shapely
from django.db import connection

from layers.democity.city import generate
from layers.democity.store import dem_path, store

SIZE = 0.3
LAYERS = {"parcels", "buildings", "roads", "villages", "districts", "rivers", "flood_zones", "facilities",
          "wifi_hotspots", "wifi_usage", "air_sensors", "air_readings", "address_points", "hotline_cases"}


@pytest.fixture(scope="module")
def city():
    return generate(seed=7, size=SIZE)


@pytest.fixture(scope="module")
def stored(city, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        counts = store(city, progress=lambda _msg: None)
        yield counts
        execute("DROP SCHEMA layerdata CASCADE")


def query(sql, params=()):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def execute(sql):
    with connection.cursor() as cur:
        cur.execute(sql)


def digest(city) -> str:
    h = hashlib.sha256()
    for name, layer in sorted(city.layers.items()):
        h.update(name.encode())
        for col, (pgtype, values) in layer.columns.items():
            h.update(f"{col}:{pgtype}:{list(values)!r}".encode())
        if layer.geoms is not None:
            for wkb in shapely.to_wkb(layer.geoms):
                h.update(wkb)
    h.update(city.terrain.elevation.tobytes())
    return h.hexdigest()


def test_every_layer_is_there_with_plausible_counts(city):
    assert set(city.layers) == LAYERS
    n = {name: len(layer) for name, layer in city.layers.items()}
    assert 20_000 * SIZE * 0.85 < n["parcels"] < 20_000 * SIZE * 1.15
    assert 0.4 * n["parcels"] < n["buildings"] < n["parcels"]
    assert n["districts"] >= 3 and n["villages"] >= 3 * n["districts"]
    assert n["wifi_usage"] == 90 * n["wifi_hotspots"]
    assert n["flood_zones"] >= 3
    kinds = set(city.layers["facilities"].columns["kind"][1])
    assert kinds == {"school", "park", "library", "sports_centre"}
    pop = np.asarray(city.layers["villages"].columns["population"][1])
    assert pop.sum() == sum(city.layers["districts"].columns["population"][1])
    assert 150_000 * SIZE < pop.sum() < 600_000 * SIZE  # a mid-sized Taiwanese city: ~10k people per km²


def test_parcel_count_scales_with_size():
    small = len(generate(seed=7, size=0.1).layers["parcels"])
    assert len(generate(seed=7, size=0.4).layers["parcels"]) / small == pytest.approx(4, rel=0.15)


def test_same_seed_same_city_other_seed_other_city(city):
    assert digest(generate(seed=7, size=SIZE)) == digest(city)
    assert digest(generate(seed=8, size=SIZE)) != digest(city)


def test_stored_in_twd97_with_spatial_indexes(stored, city):
    for name, layer in city.layers.items():
        assert stored[name] == len(layer)
        if layer.geometry_type:
            assert query("SELECT Find_SRID('layerdata', %s, 'geom')", [name]) == [(3826,)]
            assert query("SELECT count(*) FROM pg_indexes WHERE schemaname = 'layerdata' AND tablename = %s"
                         " AND indexdef LIKE '%%USING gist (geom)%%'", [name]) == [(1,)]
    # inside Taoyuan City, as lon/lat
    (lon, lat), = query("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_Centroid("
                        "ST_Extent(geom)::geometry), 3826), 4326) c FROM layerdata.parcels) s")
    assert 121.1 < lon < 121.4 and 24.85 < lat < 25.1


def test_all_stored_geometries_are_valid(stored, city):
    for name, layer in city.layers.items():
        if layer.geometry_type:
            assert query(f"SELECT count(*) FROM layerdata.{name} WHERE NOT ST_IsValid(geom)") == [(0,)], name


def test_parcels_tile_the_city_without_gaps_or_overlaps(stored):
    overlaps = query("SELECT count(*) FROM layerdata.parcels a JOIN layerdata.parcels b"
                     " ON a.fid < b.fid AND a.geom && b.geom AND ST_Overlaps(a.geom, b.geom)")
    assert overlaps == [(0,)]
    (area_sum, union_area, parts, holes), = query(
        "SELECT sum(ST_Area(geom)), ST_Area(ST_Union(geom)), ST_NumGeometries(ST_Union(geom)),"
        " ST_NumInteriorRings(ST_GeometryN(ST_Union(geom), 1)) FROM layerdata.parcels")
    assert area_sum == pytest.approx(union_area, rel=1e-9)
    assert (parts, holes) == (1, 0)


def test_buildings_stand_inside_their_parcels_and_parcels_in_villages(stored):
    assert query("SELECT count(*) FROM layerdata.buildings b JOIN layerdata.parcels p ON p.parcel_id = b.parcel_id"
                 " WHERE NOT ST_Within(b.geom, p.geom)") == [(0,)]
    # every parcel lies in exactly one village (by its interior point)
    assert query("SELECT count(*) FROM (SELECT p.fid FROM layerdata.parcels p JOIN layerdata.villages v"
                 " ON ST_Intersects(v.geom, ST_PointOnSurface(p.geom)) GROUP BY p.fid HAVING count(*) <> 1) x"
                 ) == [(0,)]
    assert query("SELECT count(*) FROM layerdata.parcels") == query(
        "SELECT count(*) FROM layerdata.parcels p JOIN layerdata.villages v"
        " ON ST_Intersects(v.geom, ST_PointOnSurface(p.geom)) AND v.name = p.village")


def test_dem_geotiff(stored):
    with rasterio.open(dem_path()) as dem:
        assert dem.crs.to_epsg() == 3826
        assert dem.res == (20.0, 20.0)
        assert dem.overviews(1)[:3] == [2, 4, 8] and len(dem.overviews(1)) == 4
        assert dem.profile["tiled"] and dem.profile["compress"] == "deflate"
        band = dem.read(1)
        assert 0 < band.min() < band.max() < 300
        parcels_box = query("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
                            " FROM (SELECT ST_Extent(geom) e FROM layerdata.parcels) s")[0]
        west, south, east, north = dem.bounds
        assert west < parcels_box[0] and south < parcels_box[1] and east > parcels_box[2] and north > parcels_box[3]


def test_rivers_through_the_city_run_inside_flood_zones(city):
    zones = shapely.union_all(city.layers["flood_zones"].geoms)
    city_box = shapely.box(*shapely.total_bounds(city.layers["parcels"].geoms))
    rivers = shapely.union_all(city.layers["rivers"].geoms).intersection(city_box)
    assert rivers.length > 1000
    assert rivers.intersection(zones).length / rivers.length > 0.95
    classes = set(city.layers["flood_zones"].columns["depth_class"][1])
    assert {"0.3–0.5 m", "1.0–2.0 m"} <= classes


@pytest.mark.django_db(transaction=True)
def test_size_one_generates_and_loads_in_under_a_minute():
    start = time.perf_counter()
    city = generate(seed=2026, size=1)
    store(city, schema="layerdata_size1", progress=lambda _m: None)
    elapsed = time.perf_counter() - start
    try:
        assert 17_000 < query("SELECT count(*) FROM layerdata_size1.parcels")[0][0] < 23_000
        assert elapsed < 60, f"size 1 took {elapsed:.1f} s"
    finally:
        execute("DROP SCHEMA layerdata_size1 CASCADE")
