"""City events (issue 22): event layers imported from hotline exports with column aliases (geocoded and unlocated
events counted, bad rows reported by problem and row, nothing written when nothing can be imported), a hotline
system's push with its token (duplicates update the case), counts and rates checked against independent SQL,
response-time medians and the week's changes hand-computed on a tiny dataset, and the demo city's planted
patterns present in its 1999 cases."""

import io
import json
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from conftest import SHARED_DATA, committed_demo_city
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from events.models import EventLayer, UnlocatedEvent
from layers.democity import hotline
from layers.models import Layer

pytestmark = pytest.mark.django_db
TPE = ZoneInfo("Asia/Taipei")
AGENCY = "研究發展考核委員會"


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    from accounts.models import ImportGrant

    with committed_demo_city(django_db_blocker, seed=2026, size=0.1) as made, django_db_blocker.unblock():
        ImportGrant.objects.get_or_create(group=None, user=None)
        User.objects.create_user("ev-officer").groups.add(Group.objects.get(name=AGENCY))
        User.objects.create_user("ev-other").groups.add(Group.objects.get_or_create(name="工務局")[0])
        try:
            yield made
        finally:
            User.objects.filter(username__startswith="ev-").delete()


def client(username=None) -> Client:
    c = Client()
    if username:
        c.force_login(User.objects.get(username=username))
    return c


def query(text, params=()):
    with connection.cursor() as cur:
        cur.execute(text, params)
        return cur.fetchall()


def addresses(n=3):
    """Door numbers of the demo city: (address, x, y)."""
    return query("SELECT address, ST_X(geom), ST_Y(geom) FROM layerdata.address_points ORDER BY address_id "
                 "LIMIT %s", [n])


def upload(c, csv_text: str, name="cases.csv", url="/api/v1/events/import/", **data):
    f = io.BytesIO(csv_text.encode("utf-8"))
    f.name = name
    return c.post(url, {"file": f, **data})


HEADER = "案件編號,受理日期,案件類別,案件地址,處理狀態,派工時間,結案時間,TWD97 X,TWD97 Y\n"


def test_import_with_aliases_geocodes_and_keeps_the_unlocated(city):
    (a1, x1, y1), (a2, _x2, _y2), (a3, _x3, _y3) = addresses()
    future = (datetime.now(TPE) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    text = (HEADER
            + f"A-1,2026-11-02 08:00,坑洞,{a1},已結案,2026-11-02 10:00,2026-11-03 08:00,{x1},{y1}\n"
            + f"A-2,115/11/02 09:30,路燈故障,{a2},處理中,2026-11-02 12:30,,,\n"  # 民國 date, address only
            + f"A-3,2026-11-03 07:00,道路積水,{a3},待派工,,,,\n"
            + "A-4,2026-11-03 08:00,道路積水,火星路999號,待派工,,,,\n"  # not in the city: unlocated, kept
            + "A-5,,坑洞,,待派工,,,,\n"  # no time
            + f"A-6,{future},坑洞,{a1},待派工,,,,\n")  # in the future
    resp = upload(client("ev-officer"), text, title="測試 1999", slug="ev-aliases")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["rows"] == 6 and body["located"] == 3 and body["imported"] == 3
    assert body["levels"] == {"coordinates": 1, "exact": 2}
    assert body["unlocated"]["count"] == 1 and body["unlocated"]["reasons"][0]["reason"] == "address_not_found"
    assert body["unlocated"]["reasons"][0]["rows"] == [5]
    problems = {p["problem"]: p for p in body["problems"]}
    assert problems["no_time"]["rows"] == [6] and problems["future_time"]["rows"] == [7]
    layer = Layer.objects.get(slug=body["layer"])
    assert layer.time_attribute == "reported_at" and layer.geometry_type == "Point" and layer.feature_count == 3
    rows = query(f"SELECT case_no, category, category_label, geocode_level, reported_at "
                 f"FROM layerdata.{layer.table_name} ORDER BY case_no")
    assert [r[:4] for r in rows] == [("A-1", "pothole", "道路坑洞", "coordinates"),
                                     ("A-2", "streetlight", "路燈故障", "exact"),
                                     ("A-3", "flooding", "道路積水", "exact")]
    assert rows[1][4] == datetime(2026, 11, 2, 9, 30, tzinfo=TPE)
    unlocated = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/unlocated/").json()
    assert unlocated["count"] == 1 and unlocated["results"][0]["case_no"] == "A-4"
    page = client("ev-officer").get(f"/events/?layer={layer.slug}").content.decode()
    assert "火星路999號" in page and "地址找不到位置" in page
    detail = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/").json()
    assert {c["code"] for c in detail["categories"]} == {"pothole", "streetlight", "flooding"}
    # a layer the caller may not see is a missing one
    layer.visibility = "restricted"
    layer.save()
    for path in ("", "unlocated/", "counts/", "response-times/", "changes/", "tokens/"):
        assert client("ev-other").get(f"/api/v1/events/layers/{layer.slug}/{path}").status_code == 404
    # importing into it: a known case updates, a new one is added, an unknown category is a problem
    more = (HEADER + f"A-1,2026-11-02 08:00,坑洞,{a1},已結案,2026-11-02 09:00,2026-11-02 20:00,{x1},{y1}\n"
            + f"A-7,2026-11-04 08:00,坑洞,{a1},待派工,,,{x1},{y1}\n"
            + f"A-8,2026-11-04 08:00,外星人,{a1},待派工,,,{x1},{y1}\n")
    resp = upload(client("ev-officer"), more, url=f"/api/v1/events/layers/{layer.slug}/import/")
    assert resp.status_code == 200, resp.content
    assert (resp.json()["added"], resp.json()["updated"]) == (1, 1)
    assert {p["problem"]: p["rows"] for p in resp.json()["problems"]} == {"unknown_category": [4]}
    assert query(f"SELECT count(*), max(closed_at) FROM layerdata.{layer.table_name}")[0] == (
        4, datetime(2026, 11, 2, 20, 0, tzinfo=TPE))
    assert upload(client("ev-other"), more, url=f"/api/v1/events/layers/{layer.slug}/import/").status_code == 404


def test_bad_input_answers_4xx_and_writes_nothing(city):
    layers, unlocated = Layer.objects.count(), UnlocatedEvent.objects.count()
    bad = HEADER + "B-1,,坑洞,,,,,,\nB-2,not a time,坑洞,,,,,,\nB-3,2099-01-01 00:00,坑洞,,,,,,\n"
    resp = upload(client("ev-officer"), bad, slug="ev-bad")
    assert resp.status_code == 400
    body = resp.json()
    assert body["imported"] == 0 and {p["problem"]: p["rows"] for p in body["problems"]} == {
        "no_time": [2, 3], "future_time": [4]}
    assert "Traceback" not in resp.content.decode() and "/tmp" not in resp.content.decode()
    resp = upload(client("ev-officer"), "PK\x03\x04 not a workbook", name="cases.xlsx")
    assert resp.status_code == 400 and resp.json()["file"] == "cases.xlsx"
    resp = upload(client("ev-officer"), "a,b,c\n1,2,3\n")
    assert resp.status_code == 400 and "案件" in resp.json()["message"]
    assert upload(client(), bad).status_code in (401, 403)
    assert Layer.objects.count() == layers and UnlocatedEvent.objects.count() == unlocated


def tiny_layer(user="ev-officer") -> Layer:
    """Six cases in two districts' villages with hand-set lifecycle times."""
    pts = query("SELECT DISTINCT ON (district) district, ST_X(geom), ST_Y(geom) FROM layerdata.address_points "
                "ORDER BY district, address_id LIMIT 2")
    (d1, x1, y1), (d2, x2, y2) = pts
    rows = [  # case, reported, category, dispatched after h, closed after h, place
        ("T-1", "2026-11-02 08:00", "坑洞", 2, 10, (x1, y1)),
        ("T-2", "2026-11-03 08:00", "坑洞", 4, 30, (x1, y1)),
        ("T-3", "2026-11-04 08:00", "坑洞", 9, None, (x2, y2)),
        ("T-4", "2026-10-27 08:00", "路燈故障", 1, 5, (x1, y1)),
        ("T-5", "2026-10-20 08:00", "路燈故障", 3, 8, (x2, y2)),
        ("T-6", "2026-11-05 08:00", "路燈故障", None, None, (x2, y2)),
    ]
    lines = [HEADER]
    for case, when, cat, disp, close, (x, y) in rows:
        t = datetime.fromisoformat(when)
        d = (t + timedelta(hours=disp)).strftime("%Y-%m-%d %H:%M") if disp is not None else ""
        c = (t + timedelta(hours=close)).strftime("%Y-%m-%d %H:%M") if close is not None else ""
        lines.append(f"{case},{when},{cat},,x,{d},{c},{x},{y}\n")
    resp = upload(client(user), "".join(lines), name="tiny.csv", slug="ev-tiny")
    assert resp.status_code == 201, resp.content
    return Layer.objects.get(slug=resp.json()["layer"])


def test_counts_and_rates_match_independent_sql(city):
    layer = tiny_layer()
    got = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/counts/?by=village&period=all").json()
    expected = query(f"SELECT v.fid::text, e.category, count(*), v.population FROM layerdata.villages v "
                     f"JOIN layerdata.{layer.table_name} e ON ST_Contains(v.geom, e.geom) GROUP BY 1, 2, 4")
    assert sorted((r["area"], r["category"], r["count"]) for r in got["results"]) == sorted(e[:3] for e in expected)
    for r in got["results"]:
        pop = next(e[3] for e in expected if e[0] == r["area"])
        assert r["population"] == pop and r["rate_per_1000"] == round(r["count"] / pop * 1000, 3)
    assert got["population"]["source"] in ("layer", "statistics") and got["units"]["rate_per_1000"] == "件/千人"
    weekly = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/counts/?by=district&period=week"
                                      "&category=streetlight").json()
    assert sorted(r["period"] for r in weekly["results"]) == ["2026-10-19", "2026-10-26", "2026-11-02"]
    grid = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/counts/?by=grid&cell=1000").json()
    cells = query(f"SELECT floor(ST_X(geom)/1000)::int, floor(ST_Y(geom)/1000)::int, count(*) "
                  f"FROM layerdata.{layer.table_name} GROUP BY 1, 2")
    assert sum(r["count"] for r in grid["results"]) == 6
    assert {tuple(map(int, r["area"].split(","))) for r in grid["results"]} == {(i, j) for i, j, _n in cells}
    assert client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/counts/?by=grid&cell=1").status_code == 400
    assert client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/counts/?areas=nope").status_code == 404


def test_response_times_and_this_weeks_changes_by_hand(city):
    layer = tiny_layer()
    got = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/response-times/?by=district").json()
    pothole = next(r for r in got["by_category"] if r["category"] == "pothole")
    assert pothole["count"] == 3 and pothole["dispatch_median_h"] == 4.0 and pothole["close_median_h"] == 20.0
    assert pothole["dispatch_p90_h"] == pytest.approx(statistics.quantiles([2, 4, 9], n=10, method="inclusive")[-1])
    light = next(r for r in got["by_category"] if r["category"] == "streetlight")
    assert light["dispatched"] == 2 and light["dispatch_median_h"] == 2.0 and light["close_median_h"] == 6.5
    assert got["worst"][0]["close_median_h"] == max(r["close_median_h"] for r in got["by_area"]
                                                   if r["close_median_h"] is not None)
    week = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/changes/").json()
    assert week["week"] == "2026-11-02"  # the latest case's week (Monday)
    districts = {r[0] for r in query("SELECT name FROM layerdata.districts")}
    assert {r["district"] for r in week["results"]} <= districts  # the file has none: from the boundaries
    potholes = [r for r in week["results"] if r["category"] == "pothole"]
    assert sum(r["this_week"] for r in potholes) == 3 and all(r["mean_before"] == 0 for r in potholes)
    lights = {(r["this_week"], r["mean_before"]) for r in week["results"] if r["category"] == "streetlight"}
    assert sum(n for n, _m in lights) == 1 and sum(m for _n, m in lights) == 0.5  # 2 cases in 4 weeks


def test_push_with_a_token_updates_known_cases(city):
    layer = tiny_layer()
    url = f"/api/v1/events/layers/{layer.slug}/"
    layer.visibility = "restricted"
    layer.save()
    assert client("ev-other").post(url + "tokens/", {"name": "x"}, content_type="application/json").status_code == 404
    layer.visibility = "internal"
    layer.save()
    assert client("ev-other").post(url + "tokens/", {"name": "x"}, content_type="application/json").status_code == 403
    made = client("ev-officer").post(url + "tokens/", {"name": "1999 系統"}, content_type="application/json")
    assert made.status_code == 201
    token = made.json()["token"]
    (a1, x1, y1), = addresses(1)
    cases = {"cases": [
        {"案件編號": "T-1", "受理時間": "2026-11-02 08:00", "案件分類": "坑洞", "處理狀態": "已結案",
         "派工時間": "2026-11-02 09:00", "結案時間": "2026-11-02 12:00"},
        {"case_no": "P-1", "reported_at": "2026-11-06T10:00:00+08:00", "category": "streetlight", "status": "待派工",
         "address": a1},
        {"case_no": "P-2", "reported_at": "2026-11-06T11:00:00+08:00", "category": "外星人", "lon": 121, "lat": 25}]}

    def push(body, auth):
        return Client().post(url + "push/", body, content_type="application/json",
                             **({"HTTP_AUTHORIZATION": auth} if auth else {}))

    resp = push(cases, f"Hotline {token}")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["added"], body["updated"]) == (1, 1)
    assert {p["problem"]: p["rows"] for p in body["problems"]} == {"unknown_category": ["P-2"]}
    assert push(cases, f"Hotline {token}").json()["updated"] == 2  # the same cases again: no second feature
    table = f"layerdata.{layer.table_name}"
    assert query(f"SELECT count(*) FROM {table} WHERE case_no IN ('T-1', 'P-1')")[0][0] == 2
    assert query(f"SELECT status, closed_at FROM {table} WHERE case_no = 'T-1'")[0] == (
        "已結案", datetime(2026, 11, 2, 12, 0, tzinfo=TPE))
    assert query(f"SELECT geocode_level FROM {table} WHERE case_no = 'P-1'")[0][0] == "exact"
    assert Layer.objects.get(pk=layer.pk).feature_count == 7
    assert push(cases, None).status_code == 401
    assert push(cases, "Hotline forged-token").status_code == 401
    assert push(cases, f"Hotline {token}").status_code == 200
    other = tiny_layer()
    assert Client().post(f"/api/v1/events/layers/{other.slug}/push/", cases, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Hotline {token}").status_code == 401  # another layer's token
    listed = client("ev-officer").get(url + "tokens/").json()["results"]
    assert listed[0]["name"] == "1999 系統" and "token" not in listed[0] and listed[0]["last_used_at"]
    assert client("ev-officer").delete(url + f"tokens/{made.json()['id']}/").status_code == 204
    assert push(cases, f"Hotline {token}").status_code == 401


def test_a_push_token_stops_with_its_makers_right_to_manage_the_layer(city):
    from accounts.models import LayerGrant

    layer = tiny_layer()
    url = f"/api/v1/events/layers/{layer.slug}/"
    manager = User.objects.create_user("ev-manager")
    grant = LayerGrant.objects.create(layer=layer, user=manager, rights=["see", "manage"])
    made = client("ev-manager").post(url + "tokens/", {"name": "1999"}, content_type="application/json")
    token = made.json()["token"]
    case = {"cases": [{"case_no": "M-1", "reported_at": "2026-11-06T10:00:00+08:00", "category": "streetlight",
                       "lon": 121.3, "lat": 24.99}]}

    def push():
        return Client().post(url + "push/", case, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Hotline {token}")

    assert push().status_code == 200
    grant.rights = ["see"]  # moved to another desk: may still look, no longer manage
    grant.save()
    refused = push()
    assert refused.status_code == 401 and refused.json()["detail"].startswith("unknown or revoked token")
    grant.rights = ["see", "manage"]
    grant.save()
    assert push().status_code == 200
    manager.is_active = False  # left the city
    manager.save()
    assert push().status_code == 401


def test_the_demo_cases_and_their_planted_patterns(city):
    demo = EventLayer.objects.get(layer__slug="hotline-cases")
    assert demo.layer.time_attribute == "reported_at" and demo.categories.count() == len(hotline.CATEGORIES)
    planted = demo.meta["planted"]
    assert set(planted) == {"new", "intensifying", "diminishing", "sporadic", "cold"}

    def weekly(pattern):
        p = planted[pattern]
        rows = query("SELECT floor(extract(epoch FROM reported_at - %s) / 604800)::int w, count(*) "
                     "FROM layerdata.hotline_cases WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(%s, %s), 3826), %s) "
                     "AND category = %s GROUP BY 1", [hotline.START, p["x"], p["y"], p["radius_m"], p["category"]])
        out = [0] * hotline.WEEKS
        for w, n in rows:
            out[w] = n
        return out

    rising, falling, new, sporadic = (weekly(p) for p in ("intensifying", "diminishing", "new", "sporadic"))
    assert sum(rising[-8:]) > 2 * sum(rising[:8]) and sum(falling[:8]) > 2 * sum(falling[-8:])
    assert all(n >= c for n, c in zip(rising, hotline.PATTERN_WEEKLY_COUNTS["intensifying"], strict=True))
    assert min(new[-4:]) >= 10 and max(new[:-4]) <= 3
    on = [n for n in sporadic if n >= 10]
    assert len(on) == len(hotline.SPORADIC_WEEKS) and all(sporadic[w] >= 12 for w in hotline.SPORADIC_WEEKS)
    # the cold spot: far fewer cases per door number than the city
    c = planted["cold"]
    inside, doors_inside = query(
        "SELECT (SELECT count(*) FROM layerdata.hotline_cases WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(%s, %s),"
        " 3826), %s)), (SELECT count(*) FROM layerdata.address_points WHERE ST_DWithin(geom, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 3826), %s))", [c["x"], c["y"], c["radius_m"]] * 2)[0]
    total = query("SELECT count(*) FROM layerdata.hotline_cases")[0][0]
    doors = query("SELECT count(*) FROM layerdata.address_points")[0][0]
    assert doors_inside > 20 and inside / doors_inside < 0.3 * total / doors
    # the slow district is the slowest to close (within a category no pattern skews)
    times = client("ev-officer").get("/api/v1/events/layers/hotline-cases/response-times/?by=district"
                                     "&category=parking").json()
    assert times["worst"][0]["name"] == hotline.SLOW_DISTRICT
    counts = client("ev-officer").get("/api/v1/events/layers/hotline-cases/counts/?by=village").json()
    assert counts["population"]["source"] in ("layer", "statistics") and counts["in_areas"] == counts["events"]
    page = client("ev-officer").get("/events/?layer=hotline-cases&by=village")
    assert page.status_code == 200 and "件/千人" in page.content.decode()
    english = client("ev-officer").get("/events/?layer=hotline-cases", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200 and "cases/1,000" in english.content.decode()
    # an event layer is an ordinary layer to the dashboards: a widget source counts its cases by category
    from dashboards.sources import aggregate, check

    source = check({"layer": "hotline-cases", "agg": "count", "by": "category"}, User.objects.get(
        username="ev-officer"), "widget")
    figures = aggregate(source, User.objects.get(username="ev-officer"), None)
    assert sum(r["value"] for r in figures["rows"]) == total == figures["total"]["value"]


# What an analyst runs for each planted pattern (its category, a grid fine enough for the demo's 150-300 m disks,
# the distance band derived as ArcGIS's optimized analysis does) and the classes that count as found there
EXPECTED = {
    "new": {"new_hot", "consecutive_hot"},
    "intensifying": {"intensifying_hot"},
    "diminishing": {"diminishing_hot", "historical_hot"},
    "sporadic": {"sporadic_hot", "oscillating_hot"},
}


def test_the_emerging_hot_spot_analysis_finds_the_planted_patterns(city):
    """Issue 22's done-when: each planted pattern's disk holds a cell of its expected category, the analysis run
    through the API as the /events/ page runs it (weekly steps over the demo's 52 weeks, 100 m cells)."""
    from conftest import run_analysis_job
    from rest_framework.test import APIClient

    from analysis.hotspots import emerging

    api = APIClient()
    api.force_authenticate(User.objects.get(username="ev-officer"))
    planted = EventLayer.objects.get(layer__slug="hotline-cases").meta["planted"]
    period = {"start": hotline.START.isoformat(), "end": hotline.END.isoformat()}
    found = {}
    for name, expected in EXPECTED.items():
        spot = planted[name]
        job = run_analysis_job(api, "emerging-hotspots", {
            "layer": "hotline-cases", "category": spot["category"], "period": period, "cell_size": 100,
            "time_step_days": 7})
        summary = job.counts["result"]
        assert summary["time"]["steps"] == hotline.WEEKS and summary["left_out"]["outside_period"] == 0
        table = Layer.objects.get(slug=job.options["slug"]).table_name
        rows = query(f'SELECT pattern, events FROM layerdata."{table}" WHERE ST_DWithin(geom, '
                     "ST_SetSRID(ST_MakePoint(%s, %s), 3826), %s) ORDER BY events DESC",
                     [spot["x"], spot["y"], spot["radius_m"]])
        found[name] = [emerging.pattern_name(p) for p, _n in rows]
        # the busiest cell of the disk is of the expected category (not merely some cell of it)
        assert found[name] and found[name][0] in expected, (name, found[name], summary["classes"])


def test_the_page_offers_the_hot_spot_analysis_with_class_meanings(city):
    page = client("ev-officer").get("/events/?layer=hotline-cases").content.decode()
    assert 'id="hotspot-form"' in page and "開始分析" in page
    strings = json.loads(page.split('id="hotspot-strings" type="application/json">')[1].split("</script>")[0])
    assert strings["meanings"]["intensifying_hot"].startswith("強化熱點：至少九成時間步")
    english = client("ev-officer").get("/events/?layer=hotline-cases", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Run the analysis" in english and "Intensifying hot spot: hot in at least 90%" in english
    assert "hotspot-form" not in client().get("/events/?layer=hotline-cases").content.decode()  # signed in only
    # every category ticked, the three study areas with what they mean, the polygon layers the officer may see
    assert page.count('type="checkbox" name="category"') == len(hotline.CATEGORIES)
    assert all(f'value="{code}" checked' in page for code in hotline.CATEGORIES)
    assert 'value="convex_hull"' in page and 'value="cells_with_events"' in page and "以 0 件計" in page
    assert '<option value="districts" selected>' in page.split('id="h-boundary"')[1]
    assert "A polygon layer (such as the districts)" in english and "Categories (tick one or more)" in english


# The cases of the categories no planted hot spot uses: in all categories the planted hot spots (up to ~200 cases a
# cell) set Gi*'s spread and no cell of the cold disk is significant even with the empty cells counted
COLD_SPOT_CATEGORIES = [c for c in hotline.CATEGORIES
                        if c not in {p["category"] for p in hotline.PLANTED_PATTERNS.values()}]


def test_the_cold_spot_is_found_in_the_demo_size_city():
    """The planted cold spot, by the hot and cold spot analysis (Gi*) on 250 m cells of the study area (the cases'
    convex hull, empty cells counted as 0) with the derived band and the FDR correction, in the demo's own city
    (size 1), of the cases COLD_SPOT_CATEGORIES: every cell wholly in the cold disk and 90 % of those whose centre is
    in it are cold spots at 90 % confidence or more, and cold spots beyond the disk's neighbourhood are few (1 %).
    Without the empty cells (study_area "cells_with_events", as before) the disk's cells without cases drop out and
    none of it is cold. The job's own steps (aggregate, neighbourhood, Gi*, FDR classes) on the generated cases; the
    SQL read is the part the test above covers."""
    from conftest import generated_city

    from analysis.hotspots import job as hotspot_job
    from analysis.hotspots import stats

    demo = generated_city(2026, 1.0)
    cases = demo.layers["hotline_cases"]
    keep = np.isin(cases.columns["category"][1], COLD_SPOT_CATEGORIES)
    xy = shapely.get_coordinates(cases.geoms)[keep]
    events = hotspot_job.Events(xy[:, 0], xy[:, 1], np.zeros(len(xy)), {}, len(xy))
    cold = hotline.planted_patterns(demo.layers["address_points"], demo.size)["cold"]

    def levels(study_area):
        options = {"cell_size": 250.0, "study_area": study_area, "neighbourhood": {"method": "distance_band"},
                   "fdr": True}
        locations = hotspot_job.aggregate(events, options, None)
        totals = np.bincount(locations.of_event, minlength=len(locations.xy)).astype(float)
        w, hood = hotspot_job.neighbourhood(locations, totals, options)
        z = stats.gi_star(totals, w)
        distance = np.hypot(locations.xy[:, 0] - cold["x"], locations.xy[:, 1] - cold["y"])
        return stats.confidence(z, stats.two_sided_p(z), True), z, distance, hood, locations.study_area

    level, z, distance, hood, area = levels("convex_hull")
    inside = distance <= cold["radius_m"]
    wholly = distance <= cold["radius_m"] - 250 / np.sqrt(2)
    assert area["cells_without_events"] > 0 and inside.sum() >= 20 and wholly.sum() >= 10
    cold_cells = level <= -90
    assert cold_cells[wholly].all() and cold_cells[inside].mean() >= 0.9, (
        hood["distance_m"], sorted(zip(distance[inside].round(), z[inside].round(2), level[inside], strict=True)))
    beyond = distance > cold["radius_m"] + hood["distance_m"]  # not a neighbour of any cell of the disk
    spurious = beyond & cold_cells
    assert spurious.sum() <= 0.01 * beyond.sum(), sorted(zip(distance[spurious].round(), z[spurious], strict=True))
    before, _z, before_distance, _hood, dropped = levels("cells_with_events")
    assert dropped["cells_without_events"] == 0 and not (before[before_distance <= cold["radius_m"]] < 0).any()


REAL = SHARED_DATA / "real" / "hotline-1999" / "tainan_1999_2019w30.csv"


@pytest.mark.skipif(not REAL.exists(), reason="the real Tainan 1999 week is not in ../shared/data/real")
def test_the_real_tainan_week_without_a_header(city):
    resp = upload(client("ev-officer"), REAL.read_text(encoding="utf-8"), name=Path(REAL).name, slug="ev-tainan")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    # SOURCES.md: 505 cases with unique ids, all with lat/long; 2 without district, category and subcategory
    assert body["rows"] == 505 and body["located"] == 505 and body["levels"] == {"coordinates": 505}
    assert body["problems"] == [] and body["notes"]  # read by the Open311 column order
    layer = Layer.objects.get(slug=body["layer"])
    table = f"layerdata.{layer.table_name}"
    assert query(f"SELECT count(DISTINCT case_no), min(reported_at), max(reported_at) FROM {table}")[0] == (
        505, datetime(2019, 7, 22, 4, 24, 30, tzinfo=TPE), datetime(2019, 7, 28, 23, 50, 58, tzinfo=TPE))
    assert dict(query(f"SELECT category_label, count(*) FROM {table} GROUP BY 1")) == {
        "髒亂及汙染": 116, "違規停車": 114, "路燈故障": 96, "噪音舉發": 43, "道路維修": 43, "交通運輸": 41,
        "動物救援": 21, "民生管線": 19, "騎樓舉發": 10, "未分類": 2}
    assert query(f"SELECT count(*) FROM {table} WHERE district = '永康區'")[0][0] == 76


def test_rates_per_1000_residents_from_the_statistics_tables(city):
    """With the demo's village population table joined to the villages (dashboards.demo), the residents come from
    its latest period (2025-12: the villages' own figures), not from the boundary layer."""
    from dashboards import demo as dashboard_demo
    from dashboards.models import Dashboard

    dashboard_demo.make(log=lambda _m: None)
    try:
        got = client("ev-officer").get("/api/v1/events/layers/hotline-cases/counts/?by=village&per_category=false"
                                       ).json()
        assert got["population"]["source"] == "statistics" and got["population"]["period"] == "2025-12-01"
        residents = dict(query("SELECT fid::text, population FROM layerdata.villages"))
        by_hand = dict(query("SELECT v.fid::text, count(*) FROM layerdata.villages v JOIN layerdata.hotline_cases e "
                             "ON ST_Contains(v.geom, e.geom) GROUP BY 1"))
        assert {r["area"]: r["count"] for r in got["results"]} == by_hand
        for r in got["results"]:
            assert r["population"] == residents[r["area"]]
            assert r["rate_per_1000"] == round(by_hand[r["area"]] / residents[r["area"]] * 1000, 3)
    finally:
        Dashboard.objects.all().delete()
        Layer.objects.filter(slug=dashboard_demo.TABLE).delete()


def test_bad_values_in_a_push_or_a_file_are_row_problems_not_server_errors(city):
    """Review: a NUL character (PostgreSQL takes none), a case number longer than the unlocated list keeps (100) or
    a long status of an unlocated case made a push or an import a 500, with nothing said of the row."""
    layer = tiny_layer()
    url = f"/api/v1/events/layers/{layer.slug}/"
    token = client("ev-officer").post(url + "tokens/", {"name": "1999"}, content_type="application/json").json()
    (a1, _x1, _y1), = addresses(1)
    when = "2026-11-06T10:00:00+08:00"
    long_case = "L" * 150
    cases = {"cases": [
        {"case_no": "G-1", "reported_at": when, "category": "坑洞", "address": a1},
        {"case_no": "N-1", "reported_at": when, "category": "坑洞", "status": "已\u0000派工", "address": a1},
        {"case_no": long_case, "reported_at": when, "category": "坑洞"},
        {"case_no": "S-1", "reported_at": when, "category": "坑洞", "status": "處理中" * 30},
        {"case_no": "C-1", "reported_at": when, "category": "坑洞", "lon": 25.0, "lat": 121.3}]}  # swapped
    before = query(f"SELECT count(*) FROM layerdata.{layer.table_name}")[0][0]
    resp = Client().post(url + "push/", cases, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Hotline {token['token']}")
    assert resp.status_code == 200, resp.content[:500]
    body = resp.json()
    assert (body["added"], body["unlocated"]) == (1, 2), body
    assert {p["problem"]: p["rows"] for p in body["problems"]} == {"bad_text": ["N-1", long_case]}
    assert query(f"SELECT count(*) FROM layerdata.{layer.table_name}")[0][0] == before + 1
    kept = UnlocatedEvent.objects.get(event_layer__layer=layer, case_no="S-1")
    assert kept.status.startswith("處理中") and kept.values["status"] == "處理中" * 30  # the whole value kept
    # coordinates given but not in Taiwan are not "no place": the reason says what to look at
    swapped = UnlocatedEvent.objects.get(event_layer__layer=layer, case_no="C-1")
    assert swapped.reason == "bad_coordinates" and "對調" in swapped.reason_text
    # the same rows in a file: the import answers with its problems, a long status kept in the unlocated list
    text = (HEADER + f"F-1,2026-11-02 08:00,坑洞,{a1},已結案,,,,\n" + f"{long_case},2026-11-02 09:00,坑洞,,,,,,\n"
            + f"F-3,2026-11-02 10:00,坑洞,,{'處理中' * 30},,,,\n"
            + f"F-4,2026-11-02 11:00,{'類' * 150},{a1},,,,,\n")  # a category longer than its label may be
    made = upload(client("ev-officer"), text, slug="ev-long")
    assert made.status_code == 201, made.content[:500]
    assert {p["problem"]: p["rows"] for p in made.json()["problems"]} == {"bad_text": [3]}
    assert made.json()["unlocated"]["count"] == 1


def test_a_week_or_time_out_of_range_is_a_400(city):
    layer = tiny_layer()
    url = f"/api/v1/events/layers/{layer.slug}/"
    for query_string in ("changes/?week=0001-01-01", "changes/?week=9999-12-31", "counts/?start=0001-01-01",
                         "response-times/?end=9999-12-31T23:59:59"):
        resp = client("ev-officer").get(url + query_string)
        assert resp.status_code == 400, (query_string, resp.status_code, resp.content[:300])
        assert query_string.split("?")[1].split("=")[0] in resp.json(), resp.json()


def test_a_push_is_limited_in_size_and_rate(city, settings, monkeypatch):
    from events import views

    monkeypatch.setattr(views, "_now", lambda: 1_800_000_010.0)  # one minute throughout
    for key in views.client().scan_iter("civgis:events-push:*"):  # that minute's counts of an earlier run
        views.client().delete(key)
    layer = tiny_layer()
    url = f"/api/v1/events/layers/{layer.slug}/"
    token = client("ev-officer").post(url + "tokens/", {"name": "1999"}, content_type="application/json").json()
    auth = {"HTTP_AUTHORIZATION": f"Hotline {token['token']}"}
    (a1, _x1, _y1), = addresses(1)
    case = {"case_no": "R-1", "reported_at": "2026-11-06T10:00:00+08:00", "category": "坑洞", "address": a1}
    before = query(f"SELECT count(*) FROM layerdata.{layer.table_name}")[0][0]
    # above the audit log's small bodies (64 KB), which it reads itself: refused before it is read (geo.bodylimit)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    big = Client().post(url + "push/", {"cases": [{**case, "note": "x" * 200_000}]}, content_type="application/json",
                        **auth)
    assert big.status_code == 413 and "100,000" in big.json()["detail"], big.content[:300]
    assert query(f"SELECT count(*) FROM layerdata.{layer.table_name}")[0][0] == before
    settings.EVENTS_PUSH_PER_MINUTE = 2  # the one refused for its size never reached the view: not counted
    answers = [Client().post(url + "push/", {"cases": [case]}, content_type="application/json", **auth)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], [a.content[:200] for a in answers]
    assert answers[2]["Retry-After"] == "50" and "2" in answers[2].json()["detail"]
    # another token (another hotline system) has its own budget
    other = client("ev-officer").post(url + "tokens/", {"name": "其他"}, content_type="application/json").json()
    assert Client().post(url + "push/", {"cases": [case]}, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Hotline {other['token']}").status_code == 200


def test_the_page_reads_the_areas_a_signed_in_officer_may_see(city):
    """Review: the page wrapped its request for the API's helpers in a DRF Request, which made the officer
    anonymous: a boundary layer for signed-in users only was "not found" on the page (the API found it)."""
    layer = tiny_layer()
    districts = Layer.objects.get(slug="districts")
    districts.visibility = "internal"
    districts.save()
    api = client("ev-officer").get(f"/api/v1/events/layers/{layer.slug}/counts/?by=district")
    assert api.status_code == 200, api.content[:300]
    page = client("ev-officer").get(f"/events/?layer={layer.slug}&by=district")
    assert page.status_code == 200 and 'role="alert"' not in page.content.decode()
    assert page.context["counts"]["areas"] == "districts"
    assert page.context["user"].username == "ev-officer"


def test_an_empty_file_and_a_big5_export(city):
    empty = upload(client("ev-officer"), "", name="empty.csv")
    assert empty.status_code == 400 and "Traceback" not in empty.content.decode(), empty.content[:300]
    (a1, _x1, _y1), = addresses(1)
    f = io.BytesIO((HEADER + f"B5-1,2026-11-02 08:00,路燈故障,{a1},處理中,,,,\n").encode("big5"))
    f.name = "big5.csv"
    made = client("ev-officer").post("/api/v1/events/import/", {"file": f, "slug": "ev-big5"})
    assert made.status_code == 201, made.content[:300]
    layer = Layer.objects.get(slug=made.json()["layer"])
    assert query(f"SELECT category_label, status FROM layerdata.{layer.table_name}") == [("路燈故障", "處理中")]


def test_a_push_or_an_import_is_announced_to_open_maps_once_per_batch(city, django_capture_on_commit_callbacks):
    """Pushed and imported cases bypass editing.store; after they commit, open maps hear of them as one `edit`
    event (fid null, the count, the area in lon/lat, who) — not one per case — so the layer's tiles are fetched
    anew; a push that changes nothing is not announced."""
    from test_feature_forms import _events

    layer = tiny_layer()
    url = f"/api/v1/events/layers/{layer.slug}/"
    token = client("ev-officer").post(url + "tokens/", {"name": "1999"}, content_type="application/json").json()[
        "token"]
    (_a, x, y), = addresses(1)
    lon, lat = query("SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 3826), 4326) p",
                     [x, y])[0]
    cases = {"cases": [{"case_no": f"L-{i}", "reported_at": "2026-11-06T10:00:00+08:00", "category": "streetlight",
                        "lon": lon, "lat": lat} for i in range(3)] + [{"case_no": "T-1", "status": "已結案",
                                                                         "category": "坑洞",
                                                                         "reported_at": "2026-11-02 08:00"}]}
    watcher = client("ev-officer").get("/api/v1/edits/events/?timeout=8")
    assert next(iter(watcher.streaming_content)).startswith(b"retry: 2000")  # subscribed from here on
    with django_capture_on_commit_callbacks(execute=True):
        resp = Client().post(url + "push/", cases, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Hotline {token}")
        assert resp.status_code == 200 and (resp.json()["added"], resp.json()["updated"]) == (3, 1), resp.content
        lines = [HEADER, f"F-1,2026-11-07 09:00,坑洞,,x,,,{x},{y}\n", f"F-2,2026-11-07 10:00,坑洞,,x,,,{x},{y}\n"]
        assert upload(client("ev-officer"), "".join(lines), url=url + "import/").status_code == 200
        # nothing new: no message
        assert Client().post(url + "push/", {"cases": [{"case_no": "X", "category": "streetlight"}]},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Hotline {token}").status_code == 400
    got = _events(watcher, 3, 6)
    assert [(e["layer"], e["fid"], e["action"], e["count"], e["user"]) for e in got] == [
        (layer.slug, None, "batch", 4, "ev-officer"), (layer.slug, None, "batch", 2, "ev-officer")], got
    west, south, east, north = got[1]["bbox"]  # the imported two at one door number
    assert west <= lon <= east and south <= lat <= north and east - west < 1e-4, got[1]["bbox"]
    west, south, east, north = got[0]["bbox"]  # the pushed three there, and T-1 elsewhere
    assert west <= lon <= east and south <= lat <= north
    watcher.close()
