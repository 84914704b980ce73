"""The real Taiwanese files in ../shared/data/real (see its SOURCES.md); skipped when they are not there."""

import pytest
from conftest import SHARED_DATA
from django.db import connection

from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

REAL = SHARED_DATA / "real"
pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not present")]


def run_import(relative: str, **options):
    path = REAL / relative
    if not path.exists():
        pytest.skip(f"{relative} is not present")
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", **options}).pk)
    assert job.status == "succeeded", job.errors
    return job, list(job.layers.all())


def one(sql, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def test_big5_mrt_routes_shapefile_without_cpg():
    job, [layer] = run_import("taipei-mrt/TpeMRTRoutes_TWD97.shp")
    assert layer.feature_count == 17 and layer.geometry_type == "MultiLineString"
    assert layer.source_crs == "EPSG:3826"
    assert any("cp950" in m for m in job.message_texts())
    assert one(f"SELECT count(*) FROM layerdata.{layer.table_name} WHERE routename = '淡水線'")[0] >= 1
    # already TWD97 TM2: coordinates are kept as they are (extent per SOURCES.md)
    xmin, ymin, xmax, ymax = layer.native_extent
    assert (xmin, ymin, xmax, ymax) == pytest.approx((291643, 2761257, 312638, 2784580), abs=1)


def test_big5_mrt_stations():
    _job, [layer] = run_import("taipei-mrt/TpeMRTStations_TWD97.shp")
    assert layer.feature_count == 111 and layer.geometry_type == "Point"
    assert one(f"SELECT count(*) FROM layerdata.{layer.table_name} WHERE name = '淡水站'")[0] == 1


def test_big5_csv_of_station_exits_with_a_title_row_and_twd97_columns():
    job, [layer] = run_import("taipei-mrt/大臺北地區捷運車站出入口.csv")
    assert layer.feature_count == 380
    assert any("title row" in m for m in job.message_texts())
    assert layer.title_zh == "大臺北地區捷運車站出入口"
    labels = [a["label"] for a in layer.attributes]
    assert "出入口名稱" in labels
    centre = "SELECT ST_Transform(ST_Centroid(ST_Collect(geom)), 4326) c FROM layerdata." + layer.table_name
    lon, lat = one(f"SELECT ST_X(c), ST_Y(c) FROM ({centre}) s")
    assert 121.4 < lon < 121.65 and 24.95 < lat < 25.15  # greater Taipei


def test_itaiwan_wifi_csv_with_cr_line_ends():
    _job, [layer] = run_import("tw-itaiwan-wifi/itaiwan_hotspotlist_20170221.csv")
    assert layer.feature_count == 10_136
    assert one(f"SELECT count(*) FROM layerdata.{layer.table_name} WHERE region = '桃園市'")[0] == 653


def test_taoyuan_districts_geojson():
    _job, [layer] = run_import("taoyuan-districts/taoyuan_towns_moi.json")
    assert layer.feature_count == 13
    names = {n for (n,) in _all(f"SELECT townname FROM layerdata.{layer.table_name}")}
    assert {"中壢區", "桃園區", "復興區"} <= names
    # the catalog's lon/lat box is the TM2 box's: it holds the file's own extent (SOURCES.md), barely larger
    west, south, east, north = layer.extent.extent
    assert west <= 120.982033 and south <= 24.586456 and east >= 121.479996 and north >= 25.123613
    assert (west, south, east, north) == pytest.approx((120.982033, 24.586456, 121.479996, 25.123613), abs=3e-3)
    # 桃園市 is ~1,221 km²
    area_km2 = one(f"SELECT sum(ST_Area(geom)) / 1e6 FROM layerdata.{layer.table_name}")[0]
    assert area_km2 == pytest.approx(1221, rel=0.02)


def test_topojson_without_crs_is_read_as_lonlat_and_says_so():
    job, [layer] = run_import("taoyuan-stat-areas/code2_68000.topo.json")
    assert layer.feature_count == 723
    assert any("read as lon/lat" in m for m in job.message_texts())


def test_county_geojson_in_twd97_geographic():
    _job, [layer] = run_import("taoyuan-stat-areas/county_20200820.geo.json")
    assert layer.feature_count == 22 and layer.source_crs == "EPSG:3824"
    assert one(f"SELECT count(*) FROM layerdata.{layer.table_name} WHERE countyname = '桃園市'")[0] == 1


def test_village_shapefile_in_twd97_2020_and_attribute_only_dbf():
    _job, [village] = run_import("tw-village-attrs-nlsc/Village_Sanhe.shp")
    assert village.feature_count == 1
    assert one(f"SELECT villname FROM layerdata.{village.table_name}")[0] == "三和村"
    _job, [table] = run_import("tw-village-attrs-nlsc/VILLAGE_NLSC_1120928.dbf")
    assert table.kind == Layer.Kind.TABLE and table.feature_count == 7953
    assert one(f"SELECT count(*) FROM layerdata.{table.table_name} WHERE countyname = '桃園市'")[0] == 516


def test_dem_geotiff_in_lonlat_becomes_a_twd97_cog(settings):
    import rasterio

    _job, [layer] = run_import("taipei-dem/aster_taipei_dem.tif")
    assert layer.kind == "raster"
    with rasterio.open(settings.MEDIA_ROOT / layer.raster_path) as dem:
        assert dem.crs.to_epsg() == 3826
        band = dem.read(1, masked=True)
        assert 0 <= float(band.min()) < 20 and 800 < float(band.max()) < 840  # SOURCES.md: 4–837 m


def test_census_csv_without_coordinates_becomes_a_table():
    job, [layer] = run_import("tw-villages-2010/census2013-03.csv")
    assert layer.kind == Layer.Kind.TABLE and layer.feature_count == 7839
    assert any("without geometry" in m for m in job.message_texts())
    total = one(f"SELECT sum(male + female) FROM layerdata.{layer.table_name} WHERE ivid LIKE 'TAO-%%'")[0]
    assert total == 2_033_634


def _all(sql):
    with connection.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()
