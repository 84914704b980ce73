"""The search box's kinds (coordinates, addresses, places, layers, features) and visibility, the geocoder's match
levels on the demo city's and the real Taoyuan address points, TGOS through a local stand-in, and batch
geocoding of a CSV on import."""

import csv
import http.server
import json
import re
import threading

import pytest
from conftest import SHARED_DATA, committed_demo_city
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from layers.geocoding import index, tgos
from layers.geocoding.geocoder import Geocoder
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

pytestmark = pytest.mark.django_db
REAL_ADDRESSES = SHARED_DATA / "real" / "address-points" / "taoyuan_6801300_fuxing.csv"


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=5, size=0.2) as demo:
        yield demo


def client(user=None, language="zh-hant") -> APIClient:
    c = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user:
        c.force_login(user)
    return c


def rows(query, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def demo_geocoder():
    return Geocoder(index.address_layers(Layer.objects.all()))


def test_demo_address_points_match_exactly_and_by_nearest_number(city):
    (district, village, road, number, lon, lat), = rows(
        "SELECT district, village, road, number, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326)) "
        "FROM layerdata.address_points WHERE lane IS NULL AND number LIKE '%%1號' AND number NOT LIKE '%%之%%' "
        "ORDER BY address_id LIMIT 1 OFFSET 20")
    geocoder = demo_geocoder()
    exact = geocoder.geocode(f"桃園市{district}{road}{number}")
    assert exact.level == "exact" and exact.score == 1.0
    assert (exact.lon, exact.lat) == pytest.approx((lon, lat), abs=1e-7)
    # full-width digits and the village give the same point
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert geocoder.geocode(f"{district}{village}{road}{wide}").fid == exact.fid
    # a number far beyond the road's end: the nearest one on the same (odd) side
    n = int(number.removesuffix("號"))
    (highest,), = rows("SELECT max(substring(number from '^[0-9]+')::int) FROM layerdata.address_points "
                       "WHERE road = %s AND lane IS NULL", [road])
    beyond = highest + (1 if highest % 2 == 0 else 2) + 40
    near = geocoder.geocode(f"{road}{beyond}號")
    assert near.level == "nearest_number" and 0.5 <= near.score < 1.0
    assert int(re.search(r"(\d+)(?:之\d+)?號$", near.label)[1]) % 2 == beyond % 2
    assert n % 2 == 1
    # road only, village only, district only
    assert geocoder.geocode(f"{district}{road}").level == "road"
    assert geocoder.geocode(f"{district}{village}").level == "village"
    assert geocoder.geocode(f"{district}").level == "district"
    assert geocoder.geocode("火星市不存在路1號") is None


def test_demo_lane_numbers(city):
    (road, lane, number), = rows("SELECT road, lane, number FROM layerdata.address_points WHERE lane IS NOT NULL "
                                 "ORDER BY address_id LIMIT 1")
    found = demo_geocoder().geocode(f"{road}{lane}{number}")
    assert found.level == "exact" and f"{lane}{number}" in found.label


def test_search_groups_every_kind_and_hides_restricted_layers(city):
    (road, number), = rows("SELECT road, number FROM layerdata.address_points WHERE lane IS NULL "
                           "ORDER BY address_id LIMIT 1 OFFSET 7")
    answer = client().get("/api/v1/search/", {"q": f"{road}{number}"}).json()
    assert answer["groups"]["addresses"][0]["level"] == "exact"
    assert answer["groups"]["addresses"][0]["layer"] == "address-points"
    village = rows("SELECT name FROM layerdata.villages ORDER BY fid LIMIT 1")[0][0]
    places = client().get("/api/v1/search/", {"q": village}).json()["groups"]["places"]
    assert places[0]["value"] == village and places[0]["kind"] == "place"
    found = client().get("/api/v1/search/", {"q": "350 毫米"}).json()["groups"]["layers"]  # in the abstract
    assert found[0]["layer"] == "flood-zones" and found[0]["matched"] == "abstract"
    by_keyword = client().get("/api/v1/search/", {"q": "門牌"}).json()["groups"]["layers"]
    assert "address-points" in [h["layer"] for h in by_keyword]
    coordinate = client().get("/api/v1/search/", {"q": "121.3,24.99"}).json()["groups"]["coordinates"][0]
    assert coordinate["read_as"] == "lonlat" and coordinate["x"] == pytest.approx(280_263, abs=50)
    # an address layer made restricted answers nothing to others: neither as a layer nor as addresses
    Layer.objects.filter(slug="address-points").update(visibility="restricted")
    try:
        hidden = client(User.objects.create_user("outsider")).get("/api/v1/search/", {"q": f"{road}{number}"}).json()
        assert hidden["groups"]["addresses"] == [] and "地址" in hidden["note"]
        assert "address-points" not in [h["layer"] for h in client().get(
            "/api/v1/search/", {"q": "門牌"}).json()["groups"]["layers"]]
        assert client().get("/api/v1/geocode/", {"address": f"{road}{number}"}).status_code == 404
    finally:
        Layer.objects.filter(slug="address-points").update(visibility="public")


def test_a_layer_is_found_as_soon_as_it_is_edited(city):
    layer = Layer.objects.get(slug="rivers")
    layer.keywords = [*layer.keywords, "藍帶水岸"]
    layer.save()
    assert [h["layer"] for h in client().get("/api/v1/search/", {"q": "藍帶水岸"}).json()["groups"]["layers"]] == [
        "rivers"]


@pytest.mark.parametrize("typed,language,says", [
    ("0,0", "zh-hant", "不在臺灣範圍內"),
    ("0,0", "en", "outside Taiwan"),
    ("12 34 56", "en", "not coordinates"),
    ("25°N", "zh-hant", "不是可讀的坐標"),
])
def test_bad_coordinates_answer_400_in_the_users_language(city, typed, language, says):
    response = client(language=language).get("/api/v1/search/", {"q": typed})
    assert response.status_code == 400 and says in response.json()["detail"]


def test_an_address_that_matches_nothing_says_what_was_expected(city):
    for language, says in (("zh-hant", "請寫出路街與門牌號"), ("en", "road and door number")):
        answer = client(language=language).get("/api/v1/search/", {"q": "火星市不存在路1號"}).json()
        assert answer["groups"]["addresses"] == [] and says in answer["note"]
        missing = client(language=language).get("/api/v1/geocode/", {"address": "火星市不存在路1號"})
        assert missing.status_code == 404 and says in missing.json()["detail"]
    assert client(language="en").get("/api/v1/search/", {"q": "qqzzxx"}).json()["note"].startswith("Nothing")


class FakeTgos(http.server.BaseHTTPRequestHandler):
    """Answers QueryAddr as TGOS documents it: XML whose <string> holds the JSON."""

    asked = []

    def do_GET(self):  # noqa: N802 - the http.server name
        FakeTgos.asked.append(self.path)
        body = {"Info": [{"IsSuccess": "True", "OutTotal": "1", "OutMatchType": "完全比對"}],
                "AddressList": [{"FULL_ADDR": "臺北市中正區建國里4鄰重慶南路一段122號", "COUNTY": "臺北市",
                                 "TOWN": "中正區", "ROAD": "重慶南路", "SECTION": "1", "NUMBER": "122號",
                                 "X": 121.512458, "Y": 25.039966}]}
        xml = ('<?xml version="1.0" encoding="utf-8"?>\n<string xmlns="http://tempuri.org/">'
               + json.dumps(body, ensure_ascii=False) + "</string>")
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.end_headers()
        self.wfile.write(xml.encode())

    def log_message(self, *args):
        pass


def test_tgos_is_asked_only_with_keys_and_its_answer_is_read(city, settings):
    server = http.server.HTTPServer(("127.0.0.1", 0), FakeTgos)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.TGOS_URL = f"http://127.0.0.1:{server.server_port}/addrws/v40/QueryAddr.asmx/QueryAddr"
        assert tgos.geocode("臺北市中正區重慶南路一段122號") is None and not FakeTgos.asked  # no keys: never asked
        settings.TGOS_APP_ID, settings.TGOS_API_KEY = "app", "key"
        answer = client().get("/api/v1/search/", {"q": "臺北市中正區重慶南路一段122號"}).json()
        hit = answer["groups"]["addresses"][0]
        assert hit["provider"] == "tgos" and hit["level"] == "exact"
        assert (hit["lon"], hit["lat"]) == (121.512458, 25.039966)
        assert "oAPPId=app" in FakeTgos.asked[-1] and "oResultDataType=JSON" in FakeTgos.asked[-1]
        settings.TGOS_URL = "http://127.0.0.1:9/unreachable"  # TGOS down: the search still answers
        assert client().get("/api/v1/search/", {"q": "臺北市中正區重慶南路一段122號"}).status_code == 200
    finally:
        server.shutdown()


def test_batch_geocoding_on_csv_import_keeps_levels_and_lists_the_unmatched(city, tmp_path):
    picked = rows("SELECT district, road, number FROM layerdata.address_points WHERE lane IS NULL "
                  "ORDER BY address_id LIMIT 3")
    lines = [["ref", "地址"]] + [[f"A{i}", f"{d}{r}{n}"] for i, (d, r, n) in enumerate(picked)]
    lines += [["B1", f"{picked[0][1]}99999號"], ["C1", "火星市不存在路1號"], ["C2", ""]]
    path = tmp_path / "cases.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(lines)
    job = run_job(jobs.create(path, path.name, {"mode": "upsert"}).pk)
    assert job.status == "succeeded", job.errors
    layer = job.layers.get()
    assert layer.feature_count == 4 and layer.geometry_type == "Point"
    levels = dict(rows(f'SELECT ref, geocode_level FROM layerdata.{layer.table_name}'))
    assert levels == {"A0": "exact", "A1": "exact", "A2": "exact", "B1": "nearest_number"}
    report = " ".join(job.message_texts())
    assert "6: 火星市不存在路1號" in report and "7: —" in report and "6, 7" in report
    assert "without geometry: imported as a table" not in report  # the reader's note no longer holds


@pytest.mark.skipif(not REAL_ADDRESSES.exists(), reason="../shared/data/real/address-points is not present")
def test_real_taoyuan_door_numbers(city):
    job = run_job(jobs.create(REAL_ADDRESSES, REAL_ADDRESSES.name,
                              {"mode": "upsert", "keywords": ["門牌"], "visibility": "public"}).pk)
    assert job.status == "succeeded", job.errors
    layer = job.layers.get()
    assert index.is_address_layer(layer) and index.ensure(layer) == 3518
    with REAL_ADDRESSES.open(encoding="utf-8-sig") as f:
        records = list(csv.DictReader(f))
    typed = [f"桃園市復興區{r['village']}{r['street'] or r['area']}{r['lane']}{r['alley']}{r['number']}"
             for r in records]
    geocoder = Geocoder([layer])
    found = geocoder.geocode_many(typed)
    exact = sum(1 for m in found if m and m.level == "exact")
    assert exact / len(typed) > 0.97, exact
    first = found[0]
    assert (first.x, first.y) == pytest.approx((float(records[0]["x"]), float(records[0]["y"])), abs=0.01)
    # 武崙路120巷 holds 2, 6, 8 號: 4號 is not there; the nearest even number is
    near = geocoder.geocode("桃園市復興區三光里武崙路一百二十巷四號")
    assert near.level == "nearest_number" and near.label.endswith(("120巷2號", "120巷6號"))
    assert geocoder.geocode("復興區三光里武崙路120巷2號").level == "exact"
    assert geocoder.geocode("三光里").level == "village"
