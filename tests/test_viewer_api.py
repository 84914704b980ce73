"""What the map viewer reads from the server: its page and embedded config, place search, terrain-RGB tiles."""

import json
import math
import re
import warnings

import numpy as np
import pytest
from conftest import committed_demo_city, tile_of
from django.contrib.auth.models import User
from django.db import connection
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rest_framework.test import APIClient

from layers.models import Layer
from layers.serving.rasters import encode_terrain_rgb

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=5, size=0.2) as demo:
        yield demo


def client(user=None, language="zh-hant") -> APIClient:
    c = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user:
        c.force_login(user)
    return c


def page_config(c) -> dict:
    text = c.get("/").content.decode()
    return json.loads(re.search(r'<script id="viewer-config" type="application/json">(.*?)</script>', text, re.S)[1])


def listed(c, query="") -> list[dict]:
    return c.get(f"/viewer/layers.json{query}").json()["layers"]


def test_page_embeds_only_the_layers_the_visitor_may_see(city):
    anonymous = {layer["slug"] for layer in listed(client())}
    assert "villages" in anonymous and "parcels" not in anonymous  # parcels are internal
    assert "wifi-usage" not in anonymous  # a table has nothing to draw
    # a small catalog's page holds every entry (its themes open at once); a large one's only the default layers'
    assert {layer["slug"] for layer in page_config(client())["layers"]} == anonymous
    viewer = client(User.objects.create_user("viewer", password="pw"))
    signed_in = page_config(viewer)
    assert "parcels" in {layer["slug"] for layer in listed(viewer)}
    buildings = next(layer for layer in signed_in["layers"] if layer["slug"] == "buildings")
    assert buildings["height_attribute"] == "height_m" and buildings["style"]["kind"] == "graduated"
    assert buildings["style"]["classes"][0]["color"].startswith("#")
    assert signed_in["terrain"]["slug"] == "demo-dem"
    # NLSC's national maps by default, the e-map first; the platform's own and none always
    assert [b["id"] for b in signed_in["basemaps"]] == ["nlsc-emap", "nlsc-photo", "nlsc-labels", "platform", "none"]


def test_the_tree_loads_lazily_and_the_page_does_not_grow_with_the_catalog(city):
    """The page holds the themes with their layer counts, not the catalog: /viewer/layers.json gives a theme's
    layers, named layers or a search's matches, each only of what the visitor may see (issue 21)."""
    anonymous, viewer = client(), client(User.objects.create_user("lazy", password="pw"))
    config = page_config(anonymous)
    counts = {theme["slug"]: theme["layers"] for theme in config["themes"]}
    everything = listed(anonymous)
    for slug, count in counts.items():
        in_theme = listed(anonymous, f"?theme={slug}")
        assert len(in_theme) == count and {e["theme"] for e in in_theme} <= {slug}, slug
    assert sum(counts.values()) + config["loose_layers"] == len(everything)
    assert config["layers_complete"] is False and page_config(viewer)["layers_complete"] is False
    parcels = Layer.objects.get(slug="parcels")  # internal: absent for the anonymous, even when named
    assert listed(anonymous, "?slug=parcels&slug=roads") == [e for e in everything if e["slug"] == "roads"]
    assert [e["slug"] for e in listed(viewer, "?slug=parcels")] == ["parcels"]
    assert "parcels" not in {e["slug"] for e in listed(anonymous, f"?theme={parcels.theme.slug}")}
    assert listed(anonymous, "?q=地籍") == [] and [e["slug"] for e in listed(viewer, "?q=地籍")] == ["parcels"]
    assert {e["slug"] for e in listed(anonymous, "?q=ROAD")} >= {"roads"}  # titles in either language, slugs
    assert all(theme["open"] for theme in config["themes"] if theme["layers"])  # small: open, entries embedded
    # 45 more public layers in one theme: that theme is closed and its entries are not in the page any more
    before = len(anonymous.get("/").content)
    roads = Layer.objects.get(slug="roads")
    for i in range(45):
        Layer.objects.create(slug=f"lazy-{i:02d}", title_zh=f"延遲 {i:02d}", kind="vector", visibility="public",
                             geometry_type=roads.geometry_type, theme=roads.theme, extent=roads.extent,
                             attributes=roads.attributes)
    try:
        grown = page_config(anonymous)
        assert len(anonymous.get("/").content) <= before
        closed = next(theme for theme in grown["themes"] if theme["slug"] == roads.theme.slug)
        assert not closed["open"] and closed["layers"] == counts[roads.theme.slug] + 45
        assert not {e["slug"] for e in grown["layers"]} & {"roads", "lazy-00"}
        assert len(listed(anonymous, f"?theme={roads.theme.slug}")) == counts[roads.theme.slug] + 45
    finally:
        Layer.objects.filter(slug__startswith="lazy-").delete()


def test_nlsc_basemaps_with_their_attribution_a_mirror_and_the_citys_own(city, settings):
    settings.NLSC_WMTS_URL = "http://mirror.example:8080/wmts"
    settings.VIEWER_BASEMAPS = [{"id": "city-ortho", "name_zh": "本市正射影像", "name_en": "City orthophoto",
                                 "type": "wmts", "url": "https://wmts.example.gov.tw/wmts", "layer": "ORTHO"}]
    settings.VIEWER_DEFAULT_BASEMAP = "nlsc-photo"
    zh, en = page_config(client())["basemaps"], page_config(client(language="en"))["basemaps"]
    assert [b["id"] for b in zh] == ["nlsc-photo", "nlsc-emap", "nlsc-labels", "city-ortho", "platform", "none"]
    photo, emap, labels, ortho, platform, _none = zh
    assert emap["url"] == "http://mirror.example:8080/wmts/EMAP/default/GoogleMapsCompatible/{z}/{y}/{x}"
    assert (emap["name"], en[1]["name"]) == ("臺灣通用電子地圖", "Taiwan e-Map")
    assert emap["attribution"] == "資料來源：內政部國土測繪中心"
    assert en[1]["attribution"] == "Source: National Land Surveying and Mapping Center"
    assert labels["overlay"] and not photo["overlay"] and labels["url"].endswith("/EMAP2/default/"
                                                                                "GoogleMapsCompatible/{z}/{y}/{x}")
    assert "LAYER=ORTHO" in ortho["url"] and "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in ortho["url"]
    # thumbnails: each basemap's tile at the centre of the map's first view, the platform's drawn by MapServer
    w, s, e, n = page_config(client())["initial_bbox"]
    x, y = tile_of((w + e) / 2, (s + n) / 2, 13)
    assert emap["thumbnail"] == f"http://mirror.example:8080/wmts/EMAP/default/GoogleMapsCompatible/13/{y}/{x}"
    assert platform["thumbnail"] == f"/basemap/13/{x}/{y}.png" and platform["url"] == "/basemap/{z}/{x}/{y}.png"
    assert [layer["slug"] for layer in platform["layers"]] == ["districts", "rivers", "roads"]  # the 3D view's
    settings.NLSC_BASEMAPS = []
    settings.VIEWER_DEFAULT_BASEMAP = "no-such-map"  # falls back to the platform's own
    assert [b["id"] for b in page_config(client())["basemaps"]] == ["platform", "city-ortho", "none"]


def test_page_has_no_cdn_and_speaks_both_languages(city):
    zh = client().get("/").content.decode()
    assert '<html lang="zh-hant">' in zh and "圖層目錄" in zh
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', zh)
    en = client(language="en")
    config = page_config(en)
    assert '<html lang="en">' in en.get("/").content.decode()
    assert config["lang"] == "en" and config["strings"]["zoom_to_layer"] == "Zoom to layer"
    # every string of the page's script is translated (坪 stays: it is the unit's name)
    untranslated = {k: v for k, v in config["strings"].items() if re.search(r"[\u4e00-\u9fff]", v.replace("坪", ""))}
    assert not untranslated


def test_sign_in_and_out_through_the_viewer(city):
    User.objects.create_user("planner", password="secret-pw")
    c = APIClient()
    assert c.post("/sign-in/", {"username": "planner", "password": "wrong"}).status_code == 302
    assert "planner" not in c.get("/").content.decode()
    c.post("/sign-in/", {"username": "planner", "password": "secret-pw"})
    assert "planner" in c.get("/").content.decode()
    c.post("/sign-out/")
    assert "parcels" not in {layer["slug"] for layer in page_config(c)["layers"]}


def test_search_finds_a_village_and_a_road_with_their_extent(city):
    with connection.cursor() as cur:
        cur.execute("SELECT name, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT name, "
                    "ST_Transform(geom, 4326) e FROM layerdata.villages ORDER BY fid LIMIT 1) v")
        village, *box = cur.fetchone()
        cur.execute("SELECT name, count(*) FROM layerdata.roads GROUP BY name ORDER BY count(*) DESC LIMIT 1")
        road, segments = cur.fetchone()
    hits = client().get("/api/v1/search/", {"q": village}).json()["results"]
    first = hits[0]
    assert (first["layer"], first["value"], first["count"]) == ("villages", village, 1)
    assert first["bbox"] == pytest.approx(box, abs=1e-9)
    road_hit = next(h for h in client().get("/api/v1/search/", {"q": road}).json()["results"] if h["value"] == road)
    assert road_hit["layer"] == "roads" and road_hit["count"] == segments


def test_search_respects_visibility_and_checks_its_input(city):
    section = Layer.objects.get(slug="parcels")
    section.tile_attributes = ["section"]
    section.save()
    with connection.cursor() as cur:
        cur.execute("SELECT section FROM layerdata.parcels LIMIT 1")
        (name,) = cur.fetchone()
    assert not [h for h in client().get("/api/v1/search/", {"q": name}).json()["results"] if h["layer"] == "parcels"]
    signed_in = client(User.objects.create_user("clerk", password="pw"))
    assert [h for h in signed_in.get("/api/v1/search/", {"q": name}).json()["results"] if h["layer"] == "parcels"]
    assert client().get("/api/v1/search/", {"q": ""}).status_code == 400
    assert client().get("/api/v1/search/", {"q": "%_%"}).json()["results"] == []  # wildcards are literal


def decode(png: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a map tile carries no georeference
        with MemoryFile(png) as memory, memory.open() as src:
            r, g, b = (band.astype(np.float64) for band in src.read())
    return -10000 + (r * 65536 + g * 256 + b) * 0.1


def test_terrain_rgb_encodes_the_dem_elevations(city):
    dem = Layer.objects.get(slug="demo-dem")
    west, south, east, north = dem.extent.extent
    lon, lat = (west + east) / 2, (south + north) / 2
    z = 14
    x, y = tile_of(lon, lat, z)
    resp = client().get(f"/tiles/demo-dem/terrain/{z}/{x}/{y}.png")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    heights = decode(resp.content)
    elevation = city.terrain.elevation
    assert heights.shape == (256, 256)
    assert elevation.min() - 0.1 <= heights.min() and heights.max() <= elevation.max() + 0.1
    # the pixel under the city centre has the DEM's elevation there (bilinear, so within a metre or two)
    n = 2**z
    px = int(((lon + 180) / 360 * n - x) * 256)
    py = int(((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - y) * 256)
    expected = client().get("/api/v1/layers/demo-dem/point/", {"lon": lon, "lat": lat}).json()["value"]
    assert heights[py, px] == pytest.approx(expected, abs=2.0)
    assert client().get(f"/tiles/demo-dem/terrain/{z}/0/0.png").status_code == 204  # outside the DEM


def test_terrain_rgb_round_trips_and_respects_visibility(city):
    values = np.array([[-12.3, 0.0, 8848.8, 1234.5]])
    r, g, b = encode_terrain_rgb(values).astype(np.float64)
    assert (-10000 + (r * 65536 + g * 256 + b) * 0.1) == pytest.approx(values, abs=0.05)
    Layer.objects.filter(slug="demo-dem").update(visibility=Layer.Visibility.RESTRICTED)
    assert client().get("/tiles/demo-dem/terrain/14/13720/7020.png").status_code == 404
