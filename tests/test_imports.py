"""Importing files of every supported format, made by the tests, through the real pipeline and PostGIS."""

from pathlib import Path

import importfiles as files
import pytest
import rasterio
from django.db import connection

from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db


def run_import(path: Path, name: str | None = None, **options) -> Job:
    job = jobs.create(path, name or path.name, {"mode": "upsert", **options})
    return run_job(job.pk)


def rows(sql, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def assert_ok(job: Job) -> list[Layer]:
    assert job.status == "succeeded", job.errors
    assert job.progress == 100
    return list(job.layers.order_by("slug"))


def places_in_twd97(table: str) -> dict[str, tuple[float, float]]:
    return {name: (x, y) for name, x, y in rows(f'SELECT name, ST_X(geom), ST_Y(geom) FROM layerdata."{table}"')}


def expected_twd97() -> dict[str, tuple[float, float]]:
    from geo.crs import transformer

    tf = transformer(4326, 3826)
    return {name: tf.transform(lon, lat) for name, lon, lat, _r in files.PLACES}


def assert_places(table: str, tolerance: float = 0.01):
    got, want = places_in_twd97(table), expected_twd97()
    assert set(got) == set(want)
    for name, (x, y) in want.items():
        assert got[name] == pytest.approx((x, y), abs=tolerance), name


def test_zipped_utf8_shapefile(tmp_path):
    files.shapefile(tmp_path / "shp", "places")
    job = run_import(files.zip_folder(tmp_path / "shp", tmp_path / "places.zip"))
    [layer] = assert_ok(job)
    assert (layer.slug, layer.feature_count, layer.geometry_type, layer.srid) == ("places", 3, "Point", 3826)
    assert layer.source_crs == "EPSG:4326"
    assert_places("places")
    assert rows("SELECT Find_SRID('layerdata', 'places', 'geom')") == [(3826,)]
    assert rows("SELECT count(*) FROM pg_indexes WHERE schemaname = 'layerdata' AND tablename = 'places'"
                " AND indexdef LIKE '%USING gist (geom)%'") == [(1,)]
    assert [a["name"] for a in layer.attributes] == ["name", "rank"]
    assert layer.extent.contains(layer.extent.centroid) and 121.2 < layer.extent.centroid.x < 121.32


def test_big5_shapefile_without_cpg_is_detected(tmp_path):
    shp = files.shapefile(tmp_path, "big5", encoding="cp950", keep_cpg=False)
    job = run_import(shp)
    assert_ok(job)
    assert any("cp950" in m for m in job.message_texts())
    assert sorted(n for (n,) in rows("SELECT name FROM layerdata.big5")) == sorted(p[0] for p in files.PLACES)


def test_loose_shapefile_parts_in_a_batch_folder_use_the_cpg(tmp_path):
    shp = files.shapefile(tmp_path, "utf8")
    assert (tmp_path / "utf8.cpg").exists()
    job = run_import(shp)
    assert_ok(job)
    assert any(".cpg" in m for m in job.message_texts())
    assert_places("utf8")


def test_twd67_shapefile_is_reprojected_to_twd97(tmp_path):
    from geo.crs import transform

    geoms, fields = files.places_lonlat()
    # PROJ has a TWD67→TWD97 transformation but only a ballpark one from WGS84 to TWD67: go through TWD97
    twd67 = transform(transform(geoms, 4326, 3826), 3826, 3828)
    files.shapefile(tmp_path, "twd67", crs="EPSG:3828", geoms=twd67, fields=fields)
    assert_ok(run_import(tmp_path / "twd67.shp"))
    assert_places("twd67", tolerance=0.05)
    assert Layer.objects.get(slug="twd67").source_crs == "EPSG:3828"


def test_geopackage_imports_every_layer_and_repairs(tmp_path):
    job = run_import(files.geopackage(tmp_path / "城市.gpkg"), "城市.gpkg")
    places, zones = assert_ok(job)
    assert places.feature_count == 3 and zones.feature_count == 2
    assert zones.geometry_type == "MultiPolygon"  # the repaired bow-tie became two triangles
    assert job.counts["repaired"] == 1
    assert any("1 invalid geometry was repaired" in m for m in job.message_texts())
    assert rows(f'SELECT count(*) FROM layerdata."{zones.table_name}" WHERE NOT ST_IsValid(geom)') == [(0,)]
    assert rows(f'SELECT zone FROM layerdata."{zones.table_name}" ORDER BY fid') == [("甲",), ("乙",)]


def test_geojson(tmp_path):
    geoms, fields = files.places_lonlat()
    path = files.write_vector(tmp_path / "places.geojson", geoms, fields, "EPSG:4326", "GeoJSON")
    assert_ok(run_import(path))
    assert_places("places")


def test_kml_and_kmz(tmp_path):
    kml = files.kml(tmp_path / "places.kml")
    assert_ok(run_import(kml))
    assert_places("places", tolerance=0.05)
    job = run_import(files.kmz(tmp_path / "visits.kmz", kml))
    [layer] = assert_ok(job)
    assert layer.feature_count == 3


def test_csv_lonlat_utf8_with_bom_and_cr_line_ends(tmp_path):
    data = files.csv_bytes(["名稱", "經度", "緯度", "等級"], [[n, lon, lat, r] for n, lon, lat, r in files.PLACES],
                           encoding="utf-8-sig", newline="\r")
    (tmp_path / "sites.csv").write_bytes(data)
    [layer] = assert_ok(run_import(tmp_path / "sites.csv"))
    assert [a["label"] for a in layer.attributes] == ["名稱", "等級"]
    assert [a["type"] for a in layer.attributes] == ["text", "bigint"]
    name_col = layer.attributes[0]["name"]
    got = {n for (n,) in rows(f'SELECT "{name_col}" FROM layerdata.sites')}
    assert got == {p[0] for p in files.PLACES}


def test_csv_twd97_columns_in_big5_with_a_title_row(tmp_path):
    want = expected_twd97()
    data = files.csv_bytes(["name", "X坐標", "Y坐標"], [[n, f"{x:.3f}", f"{y:.3f}"] for n, (x, y) in want.items()],
                           encoding="cp950", title="桃園地標,,")
    (tmp_path / "地標.csv").write_bytes(data)
    job = run_import(tmp_path / "地標.csv")
    [layer] = assert_ok(job)
    assert any("TWD97 TM2" in m for m in job.message_texts()) and any("title row" in m for m in job.message_texts())
    assert layer.slug == "di-biao" and layer.title_zh == "地標"  # readable: Hanyu Pinyin
    assert_places(layer.table_name)


def test_csv_wkt_column(tmp_path):
    want = expected_twd97()
    data = files.csv_bytes(["name", "WKT"], [[n, f'"POINT ({x} {y})"'] for n, (x, y) in want.items()])
    (tmp_path / "wkt.csv").write_bytes(data)
    assert_ok(run_import(tmp_path / "wkt.csv"))
    assert_places("wkt")


def test_geotiff_becomes_a_cloud_optimized_geotiff_in_twd97(tmp_path, settings):
    job = run_import(files.geotiff(tmp_path / "dem.tif"))
    [layer] = assert_ok(job)
    assert layer.kind == "raster" and layer.source_crs == "EPSG:4326"
    with rasterio.open(Path(settings.MEDIA_ROOT) / layer.raster_path) as cog:
        assert cog.crs.to_epsg() == 3826
        assert cog.profile["tiled"] and cog.overviews(1) is not None
        assert "LAYOUT" in cog.tags(ns="IMAGE_STRUCTURE") or cog.profile["compress"] == "deflate"
        # the value at Taoyuan station's pixel survives the reprojection (bilinear, within a cell's gradient)
        from geo.crs import transformer

        x, y = transformer(4326, 3826).transform(121.2105, 24.9895)
        value = next(cog.sample([(x, y)]))[0]
        assert value == pytest.approx(10 * 40 + 10, abs=45)


def test_reimport_is_a_new_version_and_restore_brings_the_old_back(tmp_path, settings,
                                                                   django_capture_on_commit_callbacks):
    """… and each of them removes the cached tiles of the version served before (issue 21: the tile cache)."""
    from conftest import tile_of
    from rest_framework.test import APIClient

    settings.TILE_CACHE, settings.TILE_CACHE_DIR = True, tmp_path / "tile-cache"
    geoms, fields = files.places_lonlat()
    (tmp_path / "v1").mkdir()
    first = files.write_vector(tmp_path / "v1" / "sites.geojson", geoms, fields, "EPSG:4326", "GeoJSON")
    assert_ok(run_import(first))
    Layer.objects.filter(slug="sites").update(visibility="public")
    z = max(Layer.objects.get(slug="sites").min_zoom, 13)
    x, y = tile_of(*files.PLACES[2][1:3], z)  # the place the second version leaves out

    def tile() -> tuple[int, bytes, set]:
        answer = APIClient().get(f"/tiles/sites/{z}/{x}/{y}.mvt")
        return answer.status_code, answer.content, set(settings.TILE_CACHE_DIR.rglob("*.mvt"))

    status, v1_tile, v1_files = tile()
    assert status == 200 and len(v1_files) == 1
    (tmp_path / "v2").mkdir()
    second = files.write_vector(tmp_path / "v2" / "sites.geojson", geoms[:2], {k: v[:2] for k, v in fields.items()},
                                "EPSG:4326", "GeoJSON")
    with django_capture_on_commit_callbacks() as queued:
        assert_ok(run_import(second, layer="sites"))
    run_tile_cache_callbacks(queued)
    layer = Layer.objects.get(slug="sites")
    assert layer.feature_count == 2 and layer.current_version.number == 2
    assert rows("SELECT count(*) FROM layerdata.sites") == [(2,)]
    assert rows("SELECT count(*) FROM layerversions.sites__v1") == [(3,)]
    assert not any(path.exists() for path in v1_files)  # re-imported: the old version's tiles went
    status, v2_tile, v2_files = tile()
    assert status == 204 and len(v2_files) == 1  # the place is gone from the tile, kept empty

    from layers import catalog

    with django_capture_on_commit_callbacks() as queued:
        restored = catalog.restore(layer, layer.versions.get(number=1), None)
    run_tile_cache_callbacks(queued)
    layer.refresh_from_db()
    assert restored.number == 3 and layer.current_version == restored
    assert rows("SELECT count(*) FROM layerdata.sites") == [(3,)] and layer.feature_count == 3
    assert rows("SELECT count(*) FROM layerversions.sites__v2") == [(2,)]
    assert not any(path.exists() for path in v2_files)  # restored: version 2's tiles went
    assert tile()[:2] == (200, v1_tile)  # the first version's tile again


def run_tile_cache_callbacks(queued) -> None:
    """What the tile cache does once a change commits (publishing's callbacks, slower, are other tests' part)."""
    ran = [callback() for callback in queued if callback.__code__.co_filename.endswith("tilecache.py")]
    assert ran


def test_fast_path_falls_back_for_null_and_multi_geometries(tmp_path):
    """A GeoPackage already in TWD97 is copied as it is, unless a geometry needs care: then it is cleaned."""
    import numpy as np
    import shapely

    squares = np.array([shapely.box(280_000, 2_765_000, 280_100, 2_765_100), None,
                        shapely.box(281_000, 2_765_000, 281_100, 2_765_100)], dtype=object)
    path = files.write_vector(tmp_path / "lots.gpkg", squares, {"n": np.array([1, 2, 3])}, "EPSG:3826", "GPKG")
    job = run_import(path)
    [layer] = assert_ok(job)
    assert layer.feature_count == 2 and job.counts["dropped"] == 1
    assert rows("SELECT n FROM layerdata.lots ORDER BY fid") == [(1,), (3,)]
    clean = files.write_vector(tmp_path / "clean.gpkg", squares[[0, 2]], {"n": np.array([1, 3])}, "EPSG:3826",
                               "GPKG")
    job = run_import(clean)
    [layer] = assert_ok(job)
    assert layer.feature_count == 2 and job.counts.get("dropped", 0) == 0
    assert layer.native_extent == [280_000, 2_765_000, 281_100, 2_765_100]


def test_booleans_with_nulls_and_array_attributes(tmp_path):
    import json

    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.3, 25.0]},
         "properties": {"ok": True, "tags": ["公園", "廁所"]}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.31, 25.01]},
         "properties": {"ok": None, "tags": None}}]}
    (tmp_path / "flags.geojson").write_text(json.dumps(doc, ensure_ascii=False))
    [layer] = assert_ok(run_import(tmp_path / "flags.geojson"))
    assert {a["name"]: a["type"] for a in layer.attributes} == {"ok": "boolean", "tags": "text"}
    assert rows("SELECT ok, tags FROM layerdata.flags ORDER BY fid") == [(True, '["公園", "廁所"]'), (None, None)]


def test_csv_with_a_nul_byte_is_refused_by_line(tmp_path):
    (tmp_path / "odd.csv").write_bytes(b"name,lon,lat\na,121.3,25.0\nb\x00,121.3,25.0\n")
    job = run_import(tmp_path / "odd.csv")
    assert job.status == "failed" and "line 3 holds a NUL character" in job.errors[0]["message"]
