"""Serving the demo city's layers: features, vector tiles, TileJSON, usage — with permissions on every path."""


import mapbox_vector_tile
import pytest
from conftest import committed_demo_city, tile_of
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from layers.models import Layer
from layers.serving import usage

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=11, size=0.2) as demo:
        yield demo


@pytest.fixture
def clerk(city):
    user = User.objects.create_user("clerk", password="pw")
    user.groups.add(Group.objects.get(name="地政局"))
    return user


def client(user=None) -> APIClient:
    c = APIClient()
    if user:
        c.force_login(user)  # a session, as the viewer has: tiles are plain views
    return c


def city_centre() -> tuple[float, float]:
    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_Centroid("
                    "ST_Extent(geom))::geometry, 3826), 4326) c FROM layerdata.parcels) s")
        return cur.fetchone()


def centre_tile(z: int) -> tuple[int, int, int]:
    return (z, *tile_of(*city_centre(), z))


def test_features_are_geojson_with_paging(city):
    resp = client().get("/api/v1/layers/roads/features/?limit=5&properties=name,width_m")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/geo+json"
    body = resp.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 5
    assert body["numberMatched"] == len(city.layers["roads"])
    feature = body["features"][0]
    assert set(feature["properties"]) == {"name", "width_m"} and feature["geometry"]["type"] == "LineString"
    lon, lat = feature["geometry"]["coordinates"][0]
    assert 121 < lon < 121.6 and 24.7 < lat < 25.2
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    second = client().get(nxt).json()
    assert {f["id"] for f in second["features"]}.isdisjoint({f["id"] for f in body["features"]})


def test_filters_sort_crs_and_bbox(city):
    c = client()
    wide = c.get("/api/v1/layers/roads/features/?road_class=arterial&sort=-width_m,fid&limit=1000").json()
    assert wide["numberMatched"] == sum(1 for v in city.layers["roads"].columns["road_class"][1] if v == "arterial")
    widths = [f["properties"]["width_m"] for f in wide["features"]]
    assert widths == sorted(widths, reverse=True)
    some = c.get("/api/v1/layers/roads/features/?road_class__in=arterial,collector&width_m__gte=20").json()
    assert all(f["properties"]["width_m"] >= 20 for f in some["features"])
    like = c.get("/api/v1/layers/roads/features/?name__like=%25路%25&limit=3").json()
    assert all("路" in f["properties"]["name"] for f in like["features"])
    tm2 = c.get("/api/v1/layers/roads/features/?crs=3826&limit=1").json()
    x, y = tm2["features"][0]["geometry"]["coordinates"][0]
    assert 250_000 < x < 310_000 and 2_740_000 < y < 2_790_000 and tm2["crs"].endswith("/3826")
    everything = c.get("/api/v1/layers/roads/features/?limit=1").json()["numberMatched"]
    west, south = city_centre()
    boxed = c.get(f"/api/v1/layers/roads/features/?bbox={west},{south},{west + 0.01},{south + 0.01}&limit=1").json()
    assert 0 < boxed["numberMatched"] < everything


@pytest.mark.parametrize("query, message", [
    ("nope=1", "unknown filter 'nope'"),
    ("width_m=wide", "not a valid double precision"),
    ("width_m__near=3", "unknown operator __near"),
    ("width_m__like=3", "LIKE needs a text attribute"),
    ("limit=100000", "limit must be between 1 and 10,000"),
    ("limit=x", "whole numbers"),
    ("crs=999999", "EPSG:999999 is not a CRS"),
    ("crs=web", "give an EPSG code"),
    ("bbox=1,2,3", "west,south,east,north"),
    ("properties=nope", "no attribute(s) nope"),
    ("sort=nope", "no attribute 'nope'"),
])
def test_bad_feature_queries_are_400_with_a_reason(city, query, message):
    resp = client().get(f"/api/v1/layers/roads/features/?{query}", HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 400
    assert message in resp.json()["detail"]


def test_a_bad_feature_query_is_answered_in_zh_hant_by_default(city):
    resp = client().get("/api/v1/layers/roads/features/?limit=100000")
    assert resp.status_code == 400 and resp.json()["detail"] == "limit 必須介於 1 到 10,000"


def test_one_feature(city):
    resp = client().get("/api/v1/layers/roads/features/1/?crs=3826")
    assert resp.status_code == 200 and resp.json()["id"] == 1
    assert client().get("/api/v1/layers/roads/features/999999/").status_code == 404


HIDDEN_PATHS = ["/api/v1/layers/parcels/", "/api/v1/layers/parcels/features/", "/api/v1/layers/parcels/features/1/",
                "/tiles/parcels/{z}/{x}/{y}.mvt", "/tiles/parcels.json", "/api/v1/layers/parcels/download/",
                "/api/v1/layers/parcels/download/?format=gpkg"]


@pytest.mark.parametrize("template", HIDDEN_PATHS)
def test_each_path_hides_layers_the_user_may_not_see(city, clerk, template):
    """parcels are internal: anonymous users get 404, as for a layer that does not exist; restricted to their
    agency, other signed-in users get 404 too."""
    z, x, y = centre_tile(14)
    path = template.format(z=z, x=x, y=y)
    assert client().get(path).status_code == 404
    assert client().get(path.replace("parcels", "no-such-layer")).status_code == 404
    assert client(clerk).get(path).status_code == 200
    Layer.objects.filter(slug="parcels").update(visibility="restricted")
    other = User.objects.create_user("other")
    assert client(other).get(path).status_code == 404
    assert client(clerk).get(path).status_code == 200  # the owner agency, 地政局
    Layer.objects.filter(slug="parcels").update(visibility="internal")


def test_search_results_hide_restricted_layers(city, clerk):
    Layer.objects.filter(slug="parcels").update(visibility="restricted")
    other = User.objects.create_user("other")
    assert "parcels" not in {e["slug"] for e in client(other).get("/api/v1/layers/?limit=100").json()["results"]}
    assert "parcels" in {e["slug"] for e in client(clerk).get("/api/v1/layers/?limit=100").json()["results"]}


def test_vector_tile_with_cache_headers(city, clerk):
    z, x, y = centre_tile(15)
    resp = client(clerk).get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(resp.content)
    parcels = decoded["parcels"]["features"]
    assert parcels and {"land_use", "parcel_no"} <= set(parcels[0]["properties"])
    assert resp["Cache-Control"].startswith("private") and resp["ETag"]
    again = client(clerk).get(f"/tiles/parcels/{z}/{x}/{y}.mvt", HTTP_IF_NONE_MATCH=resp["ETag"])
    assert again.status_code == 304 and again.content == b""
    layer = Layer.objects.get(slug="parcels")
    layer.save()  # metadata changed (as a re-import or restore changes the version): the ETag changes
    assert client(clerk).get(f"/tiles/parcels/{z}/{x}/{y}.mvt", HTTP_IF_NONE_MATCH=resp["ETag"]).status_code == 200
    public = client().get(f"/tiles/roads/{z}/{x}/{y}.mvt")
    assert public["Cache-Control"].startswith("public")


def test_overview_tiles_are_trimmed_and_simplified(city):
    z, x, y = centre_tile(12)
    resp = client().get(f"/tiles/roads/{z}/{x}/{y}.mvt")
    roads = mapbox_vector_tile.decode(resp.content)["roads"]["features"]
    assert roads and set(roads[0]["properties"]) <= {"name", "road_class", "width_m"}


def test_world_and_low_zoom_tiles_carry_every_feature(city):
    """Zoom 0 and 1 tiles are larger than TM2's area of use: they were empty when their corners alone were
    projected to find the features. (Points: lines and polygons smaller than a pixel are left out by design.)"""
    layer = Layer.objects.get(slug="facilities")
    Layer.objects.filter(pk=layer.pk).update(min_zoom=0)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM layerdata.facilities")
        (count,) = cur.fetchone()
    for z in range(0, 9):
        z, x, y = centre_tile(z)
        resp = client().get(f"/tiles/facilities/{z}/{x}/{y}.mvt")
        assert resp.status_code == 200, z
        assert len(mapbox_vector_tile.decode(resp.content)["facilities"]["features"]) == count, z


def test_tiles_below_min_zoom_are_empty_and_bad_tiles_400(city, clerk):
    layer = Layer.objects.get(slug="parcels")
    Layer.objects.filter(pk=layer.pk).update(min_zoom=14)
    z, x, y = centre_tile(10)
    assert client(clerk).get(f"/tiles/parcels/{z}/{x}/{y}.mvt").status_code == 204
    for path, message in [("/tiles/roads/23/0/0.mvt", "zoom 23 is out of range"),
                          ("/tiles/roads/3/8/0.mvt", "does not exist"), ("/tiles/roads/3/-1/0.mvt", "does not exist"),
                          ("/tiles/demo-dem/3/0/0.mvt", "raster layer")]:
        resp = client().get(path, HTTP_ACCEPT_LANGUAGE="en")
        assert resp.status_code == 400 and message in resp.json()["detail"], path


def test_tilejson(city):
    doc = client().get("/tiles/roads.json").json()
    assert doc["tiles"][0].endswith("/tiles/roads/{z}/{x}/{y}.mvt")
    assert doc["vector_layers"][0]["id"] == "roads" and "width_m" in doc["vector_layers"][0]["fields"]
    west, south, east, north = doc["bounds"]
    assert 121 < west < east < 121.6 and 24.7 < south < north < 25.2


def test_min_zoom_follows_density(city):
    from layers.serving.tiles import min_zoom_for

    assert Layer.objects.get(slug="districts").min_zoom == 0
    extent = [255_000, 2_745_000, 300_000, 2_782_000]
    size_50_parcels, size_5_parcels = min_zoom_for(960_000, extent), min_zoom_for(96_000, extent)
    assert size_50_parcels == size_5_parcels + 2  # ten times denser: about two zoom levels later (4× per level)
    assert 13 <= size_50_parcels <= 16


def test_requests_are_counted_and_flushed(city, clerk):
    usage._redis().delete(*usage._redis().keys("civgis:usage:*") or ["none"])
    for _ in range(3):
        client().get("/api/v1/layers/roads/features/?limit=1")
    client().get("/tiles/roads/14/0/0.mvt")
    client().get("/tiles/roads.json")
    admin = User.objects.create_superuser("root")
    months = client(admin).get("/api/v1/layers/roads/usage/").json()["months"]
    [counts] = months.values()
    assert counts == {"features": 3, "tile": 1, "metadata": 1}
    assert usage.flush() == 3
    assert client(admin).get("/api/v1/layers/roads/usage/").json()["months"] == months
    assert client(clerk).get("/api/v1/layers/roads/usage/").status_code == 403  # roads belong to 交通局


def download(c, path):
    resp = c.get(path)
    body = b"".join(resp.streaming_content) if resp.streaming else resp.content
    return resp, body


def test_download_geojson_and_csv_stream_the_filtered_subset(city):
    import csv
    import io
    import json

    resp, body = download(client(), "/api/v1/layers/roads/download/?road_class=arterial")
    assert resp.streaming and 'filename="roads.geojson"' in resp["Content-Disposition"]
    doc = json.loads(body)
    arterials = sum(1 for v in city.layers["roads"].columns["road_class"][1] if v == "arterial")
    assert len(doc["features"]) == arterials and {f["properties"]["road_class"] for f in doc["features"]} == {
        "arterial"}
    resp, body = download(client(), "/api/v1/layers/wifi-hotspots/download/?format=csv&coords=xy&crs=3826")
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["x", "y"] and len(rows) - 1 == len(city.layers["wifi_hotspots"])
    assert 250_000 < float(rows[1][-2]) < 310_000
    resp, body = download(client(), "/api/v1/layers/roads/download/?format=csv&limit=3")
    assert rows and body.decode("utf-8-sig").splitlines()[0].endswith(",wkt")


def test_download_geopackage_and_shapefile(city, tmp_path):
    import zipfile

    import pyogrio

    resp, body = download(client(), "/api/v1/layers/facilities/download/?format=gpkg&kind=library")
    (tmp_path / "f.gpkg").write_bytes(body)
    meta, _f, _g, fields = pyogrio.raw.read(tmp_path / "f.gpkg")
    libraries = sum(1 for k in city.layers["facilities"].columns["kind"][1] if k == "library")
    assert len(fields[0]) == libraries and meta["crs"] == "EPSG:3826"
    resp, body = download(client(), "/api/v1/layers/facilities/download/?format=shp&crs=4326")
    (tmp_path / "f.zip").write_bytes(body)
    with zipfile.ZipFile(tmp_path / "f.zip") as zf:
        names = set(zf.namelist())
        assert {"facilities.shp", "facilities.shx", "facilities.dbf", "facilities.prj", "facilities.cpg"} <= names
        zf.extractall(tmp_path / "shp")
    meta, _f, _g, fields = pyogrio.raw.read(tmp_path / "shp" / "facilities.shp")
    assert meta["crs"] == "EPSG:4326" and "圖書館" in "".join(str(v) for v in fields[meta["fields"].tolist().index(
        "kind_zh")])


def test_download_bad_input_and_hidden_layers(city):
    for query, message in [("format=xls", "use one of"), ("format=csv&coords=xy", "coords=xy is for point layers"),
                           ("nope=1", "unknown filter")]:
        resp = client().get(f"/api/v1/layers/roads/download/?{query}", HTTP_ACCEPT_LANGUAGE="en")
        assert resp.status_code == 400 and message in resp.json()["detail"], query
    assert client().get("/api/v1/layers/parcels/download/").status_code == 404


def test_raster_tiles_and_point_values(city, settings):
    import rasterio

    from layers.democity.store import dem_path

    z, x, y = centre_tile(13)
    resp = client().get(f"/tiles/demo-dem/{z}/{x}/{y}.png")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    from rasterio.io import MemoryFile

    with pytest.warns(rasterio.errors.NotGeoreferencedWarning), MemoryFile(resp.content) as memory, \
            memory.open() as png:
        assert (png.width, png.height, png.count) == (256, 256, 4)
        assert png.read(4).max() == 255  # opaque where the DEM is
    assert client().get("/tiles/demo-dem/3/0/0.png").status_code == 204  # far from Taiwan: nothing to draw
    lon, lat = city_centre()
    value = client().get(f"/api/v1/layers/demo-dem/point/?lon={lon}&lat={lat}").json()
    with rasterio.open(dem_path()) as dem:
        expected = next(dem.sample([(value["x"], value["y"])]))[0]
    assert value["inside"] and value["value"] == pytest.approx(float(expected))
    outside = client().get("/api/v1/layers/demo-dem/point/?lon=120.0&lat=22.0").json()
    assert outside["inside"] is False and outside["value"] is None
    for path, message in [("/api/v1/layers/demo-dem/point/?lon=abc&lat=1", "give lon and lat"),
                          ("/api/v1/layers/roads/point/?lon=121.3&lat=25", "not a raster")]:
        resp = client().get(path, HTTP_ACCEPT_LANGUAGE="en")
        assert resp.status_code == 400 and message in resp.json()["detail"]
    Layer.objects.filter(slug="demo-dem").update(visibility="internal")
    assert client().get(f"/tiles/demo-dem/{z}/{x}/{y}.png").status_code == 404
    assert client().get(f"/api/v1/layers/demo-dem/point/?lon={lon}&lat={lat}").status_code == 404


@pytest.mark.parametrize("query, message", [
    ("crs=%C2%B2", "give an EPSG code"),
    ("offset=99999999999999999999", "offset must be between"),
    ("name=a%00b", "NUL character"),
])
def test_more_bad_queries_are_400_not_500(city, query, message):
    resp = client().get(f"/api/v1/layers/roads/features/?{query}", HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 400 and message in resp.json()["detail"]


def test_raster_layers_have_no_features_and_search_refuses_nul(city):
    resp = client().get("/api/v1/layers/demo-dem/features/1/")
    assert resp.status_code == 400 and "'demo-dem' 是網格：請以圖磚或逐點讀取" in resp.json()["detail"]
    assert client().get("/api/v1/layers/?q=a%00").status_code == 400
    assert client().get("/media/rasters/demo_dem.tif").status_code == 404  # rasters only through checked views


def test_csv_with_labels_has_one_header_row_of_labels_and_units_in_the_request_language(city):
    import csv
    import io

    from layers import attribute_kinds

    path = "/api/v1/layers/villages/download/?format=csv&labels=1&properties=population,density_per_km2,households"
    rows = {}
    for language in ("zh-hant", "en"):
        body = b"".join(client().get(path, HTTP_ACCEPT_LANGUAGE=language).streaming_content)
        rows[language] = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows["zh-hant"][0] == ["人口數（人）", "人口密度（人/平方公里）", "戶數（戶）", "幾何（WKT，EPSG:4326）"]
    assert rows["en"][0] == ["Population (people)", "Population density (people/km²)", "Households",
                             "Geometry (WKT, EPSG:4326)"]
    # the data rows are the same as without labels: only the header is for people
    _resp, plain = download(client(), path.replace("&labels=1", ""))
    plain_rows = list(csv.reader(io.StringIO(plain.decode("utf-8-sig"))))
    assert plain_rows[0] == ["population", "density_per_km2", "households", "wkt"]
    assert plain_rows[1:] == rows["zh-hant"][1:] == rows["en"][1:]
    # every attribute of a layer gets a unique header, traced to its column where two labels are the same
    _resp, body = download(client(), "/api/v1/layers/buildings/download/?format=csv&labels=1&limit=1")
    header = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    attributes = [attribute_kinds.described(a) for a in Layer.objects.get(slug="buildings").attributes]
    assert len(set(header)) == len(header) == len(attributes) + 1
    for title, attribute in zip(header, attributes, strict=False):
        assert title.startswith(attribute_kinds.title_of(attribute)), (title, attribute["name"])


def test_geopackage_describes_its_columns_with_the_schema_extension(city, tmp_path):
    import sqlite3
    import subprocess

    _resp, body = download(client(), "/api/v1/layers/villages/download/?format=gpkg")
    gpkg = tmp_path / "v.gpkg"
    gpkg.write_bytes(body)
    table = Layer.objects.get(slug="villages").table_name
    with sqlite3.connect(gpkg) as db:
        described = {row[0]: row[1:] for row in db.execute(
            "SELECT column_name, name, title, description FROM gpkg_data_columns WHERE table_name = ?", [table])}
        extensions = set(db.execute("SELECT table_name, extension_name FROM gpkg_extensions"))
        columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
    assert described["population"] == ("人口數", "人口數（人）", "人口數（人）／Population (people) · kind: count · "
                                       "0 decimals")
    assert described["density_per_km2"][1] == "人口密度（人/平方公里）"
    assert set(described) <= columns and len(described) == len(Layer.objects.get(slug="villages").attributes)
    assert {("gpkg_data_columns", "gpkg_schema"), ("gpkg_data_column_constraints", "gpkg_schema")} <= extensions
    # GDAL reads the file as a valid GeoPackage, the table's own column names unchanged
    info = subprocess.run(["ogrinfo", "-so", "-al", str(gpkg)], capture_output=True, text=True, check=True)
    assert "population: Integer" in info.stdout and "ERROR" not in info.stderr


def test_html_map_popups_show_labels_units_and_formatted_values(city):
    import json
    import re

    resp = client().get("/api/v1/layers/villages/download/?format=html", HTTP_ACCEPT_LANGUAGE="en")
    page = resp.content.decode()
    aliases = json.loads(re.search(r"let aliases = (\[.*?\]);", page).group(1))
    assert "Population (people)" in aliases and "Population density (people/km²)" in aliases
    assert "population" not in aliases
    assert re.search(r'"_shown_\d+":\s*"\d{1,3}(,\d{3})+"', page)  # thousands separators in the popup values
    assert "Population density (people/km²) · " in page  # the legend says what its classes are of
