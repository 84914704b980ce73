"""Dashboards (issue 16): the demo city's 市政儀表板 made by the loader from its villages' statistics (joined, with
indicators), hand-checked figures through the values API, a dashboard's permissions (a restricted one is missing; a
widget over a table the viewer may not see is not sent, not even its title), the builder's checks, the area profile
and the list page's form. The browser side is tests/test_dashboards_browser.py."""

import json
import re

import pytest
from conftest import committed_demo_city
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from dashboards import demo
from dashboards.models import Dashboard
from layers.models import Layer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=2026, size=0.3) as made, django_db_blocker.unblock():
        demo.make(log=lambda _m: None)
        officer = User.objects.create_user("dash-officer")
        officer.groups.add(Group.objects.get(name=demo.AGENCY))
        User.objects.create_user("dash-other").groups.add(Group.objects.get_or_create(name="工務局")[0])
        try:
            yield made
        finally:
            Dashboard.objects.all().delete()
            User.objects.filter(username__startswith="dash-").delete()


def client(username=None) -> Client:
    c = Client()
    if username:
        c.force_login(User.objects.get(username=username))
    return c


def villages() -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute("SELECT district, population, age_65_plus FROM layerdata.villages")
        return cur.fetchall()


def test_the_city_dashboard_and_its_figures(city):
    record = Layer.objects.get(slug=demo.TABLE).stat_table.joins.get()
    assert record.unmatched_rows == 0 and record.matched_rows == 2 * len(villages())
    board = client().get("/api/v1/dashboards/city/").json()
    assert board["title"] == "市政儀表板" and len(board["spec"]["widgets"]) == 16
    # the Wi-Fi widget's usage table is internal (資訊科技局's): shown to the signed in only
    assert len(client("dash-officer").get("/api/v1/dashboards/city/").json()["spec"]["widgets"]) == 17
    assert board["spec"]["indicators"]["city-density"]["unit"] == "人/平方公里"
    assert board["spec"]["indicators"]["city-population"]["unit"] == "人"
    assert board["spec"]["indicators"]["city-population"]["periods"] == ["2024-12-01", "2025-12-01"]
    # a district's population and share aged 65+ (hand-checked from the village layer), and the city's
    rows = villages()
    district = rows[0][0]
    mine = [r for r in rows if r[0] == district]
    towns = client().get("/api/v1/stats/indicators/city-population/values/?level=town").json()
    town = next(v for v in towns["values"] if v["name"].endswith(district))
    assert town["value"] == sum(r[1] for r in mine)
    assert towns["total"]["value"] == sum(r[1] for r in rows)
    ageing = client().get(f"/api/v1/stats/indicators/city-ageing/values/?level=town&areas={town['key']}").json()
    assert ageing["total"]["value"] == round(sum(r[2] for r in mine) * 100 / sum(r[1] for r in mine), 1)
    # a village's row names its district: what a map click filters the other widgets by
    areas = client().get(f"/api/v1/stats/indicators/city-population/values/?level=area&town={town['key']}").json()
    assert len(areas["values"]) == len(mine) and {v["town_key"] for v in areas["values"]} == {town["key"]}
    # the earlier period is there for the change a KPI shows
    before = client().get("/api/v1/stats/indicators/city-population/values/?level=county&period=2024-12-01").json()
    assert 0 < before["total"]["value"] != towns["total"]["value"]


def test_one_request_answers_every_widget_as_the_values_api(city):
    """/api/v1/dashboards/city/values/ for a district: the same answers the widgets' own requests get, keyed as the
    page keys them; what the page holds already (have=) is not sent again."""
    towns = client().get("/api/v1/stats/indicators/city-population/values/?level=town").json()["values"]
    town = towns[0]["key"]
    got = client().get(f"/api/v1/dashboards/city/values/?town={town}")
    assert got.status_code == 200
    answers = got.json()["answers"]
    kpi = answers[f"city-population~town~~~{town}"]
    assert kpi == client().get(f"/api/v1/stats/indicators/city-population/values/?level=town&areas={town}").json()
    assert kpi["total"]["value"] == towns[0]["value"]
    previous = answers[f"city-population~town~2024-12-01~~{town}"]  # the KPI's change against the period before
    assert previous["period"] == "2024-12-01"
    villages_of = [k for k in answers if k.endswith(f"~area~~{town}~")]
    assert villages_of and all(r["town_key"] == town for k in villages_of for r in answers[k]["values"])
    assert "city-population~town~~~" in answers  # the bars and the pie over every district
    assert answers[f"city-ageing~town~~~{town}"]["total"]["value"] is not None  # the gauge's figure (and a KPI's)
    again = client().get(f"/api/v1/dashboards/city/values/?town={town}&have=city-population~town~~~")
    assert "city-population~town~~~" not in again.json()["answers"] and len(again.json()["answers"]) > 3
    # a period that is not one of the indicators' is not asked for: the indicator's own
    odd = client().get("/api/v1/dashboards/city/values/?period=1999-01-01&town=x").json()["answers"]
    assert all(k.split("~")[2] in ("", "2024-12-01", "2025-12-01") for k in odd if k.count("~") == 4)


def test_a_restricted_dashboard_is_missing_and_a_hidden_widget_tells_nothing(city):
    officer = client("dash-officer")
    made = officer.post("/api/v1/dashboards/", {"title_zh": "內部人口", "title_en": "Internal people",
                                                "visibility": "restricted", "spec": {"widgets": [
                                                    {"type": "kpi", "indicator": "city-population"}]}},
                        content_type="application/json")
    assert made.status_code == 201, made.content
    slug = made.json()["slug"]
    for who in (None, "dash-other"):
        assert client(who).get(f"/api/v1/dashboards/{slug}/").status_code == 404
        assert client(who).get(f"/dashboards/{slug}/").status_code == 404
        assert client(who).get(f"/api/v1/dashboards/{slug}/values/").status_code == 404
        assert slug not in json.dumps(client(who).get("/api/v1/dashboards/").json())
    assert officer.get(f"/dashboards/{slug}/").status_code == 200
    # the statistics table restricted to its agency: the public city dashboard's widgets over it vanish for others
    table = Layer.objects.get(slug=demo.TABLE)
    table.visibility = Layer.Visibility.RESTRICTED
    table.save()
    seen = client("dash-other").get("/api/v1/dashboards/city/").json()
    assert seen["spec"]["widgets"] == [w for w in demo.SPEC["widgets"] if w["type"] in (
        "text", "sensor", "wifi", "sensor_week", "coverage")]
    assert "city-population" not in json.dumps(seen) and "人口數" not in json.dumps(seen, ensure_ascii=False)
    assert set(client("dash-other").get("/api/v1/dashboards/city/values/").json()["answers"]) == {
        "sensor~pm25", "wifi~wifi-usage", "sensor_week~pm25", "coverage~parks"}
    page = client("dash-other").get("/dashboards/city/").content.decode()
    assert "各行政區人口" not in page and "city-population" not in page
    # an unknown indicator and one the editor may not see are refused alike; an editor's save keeps what they
    # could not see
    board = Dashboard.objects.get(slug="city")
    board.allowed_groups.clear()
    answers = []
    staff = User.objects.create_user("dash-staff", is_staff=True)  # may edit any dashboard, sees no restricted table
    for wanted in ("city-population", "no-such-indicator"):
        answer = client("dash-staff").put("/api/v1/dashboards/city/", {"spec": {"widgets": [
            {"type": "kpi", "indicator": wanted}]}}, content_type="application/json")
        answers.append((answer.status_code, answer.content.decode().replace(wanted, "X")))
    assert answers[0] == answers[1] and answers[0][0] == 400
    saved = client("dash-staff").put("/api/v1/dashboards/city/", {"title_en": "City", "spec": {"widgets": [
        {"type": "text", "text": "hi"}]}}, content_type="application/json")
    assert saved.status_code == 200 and len(saved.json()["spec"]["widgets"]) == 1
    assert len(Dashboard.objects.get(slug="city").spec["widgets"]) == 1 + 12  # the twelve it could not see are kept
    staff.delete()
    assert client("dash-other").put("/api/v1/dashboards/city/", {"title_en": "x"},
                                    content_type="application/json").status_code == 403


def ensure_quantities():
    """The sensors' quantities (a migration's rows: a transactional test elsewhere may have flushed them)."""
    import importlib

    from django.apps import apps

    from iot.models import Quantity

    if not Quantity.objects.filter(code="pm25").exists():
        importlib.import_module("iot.migrations.0002_quantities").create(apps, None)


def test_live_widgets_read_the_sensors_and_the_wifi_use(city):
    """The 市政儀表板's sensor widget: the latest PM2.5 of the sensors the viewer may see — a reading sent through the
    ingest API shows in the next answer (what an auto-refresh asks); a sensor of a layer the viewer may not see does
    not count. Its Wi-Fi widget: the usage table's latest day, hand-summed."""
    from datetime import timedelta

    from django.utils import timezone

    from iot.models import Device
    from iot.tokens import new_token

    def live(who=None):
        return client(who).get("/api/v1/dashboards/city/values/?town=x").json()["answers"]

    def send(token, value, minutes_ago):
        when = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
        answer = Client().post("/api/v1/iot/observations/", {"observations": [
            {"quantity": "pm25", "value": value, "observed_at": when}]}, content_type="application/json",
            HTTP_AUTHORIZATION=f"Device {token}")
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.content
        return when

    ensure_quantities()
    before = live()["sensor~pm25"]
    token, hashed = new_token()
    secret, hidden_hash = new_token()
    restricted = Layer.objects.create(slug="dash-secret-sensors", title_zh="x", visibility="restricted")
    Device.objects.create(device_id="DASH-1", token_hash=hashed)
    Device.objects.create(device_id="DASH-2", token_hash=hidden_hash, layer=restricted)
    try:
        send(token, 42.0, 5)
        send(secret, 400.0, 5)
        now = live()["sensor~pm25"]
        assert now["devices"] == before["devices"] + 1 and now["unit"] == "µg/m³" and now["max"] >= 42.0 < 400
        when = send(token, 12.5, 1)  # a newer reading: the next refresh shows it
        after = live()["sensor~pm25"]
        assert after["devices"] == now["devices"] and after["max"] != 400.0
        assert after["observed_at"][:16] == when[:16] and (before["devices"] or after["mean"] == 12.5)
        assert live("dash-officer")["sensor~pm25"]["devices"] == now["devices"]  # not of the secret layer's group
    finally:
        Device.objects.filter(device_id__startswith="DASH-").delete()
        restricted.delete()
    with connection.cursor() as cur:
        table = Layer.objects.get(slug="wifi-usage").table_name
        cur.execute(f"SELECT day, sum(sessions), count(*) FROM layerdata.{table} GROUP BY day "  # noqa: S608
                    "ORDER BY day DESC LIMIT 1")
        day, sessions, hotspots = cur.fetchone()
    assert "wifi~wifi-usage" not in live()
    wifi = live("dash-officer")["wifi~wifi-usage"]
    assert (wifi["day"], wifi["sessions"], wifi["hotspots"]) == (day.isoformat(), sessions, hotspots)
    officer = client("dash-officer")
    for widget, field in (({"type": "sensor", "quantity": "radon"}, "widgets[1].quantity"),
                          ({"type": "wifi", "layer": "villages"}, "widgets[1].layer"),
                          ({"type": "wifi", "layer": "no-such-layer"}, "widgets[1].layer")):
        answer = officer.post("/api/v1/dashboards/", {"title_zh": "x", "spec": {"widgets": [widget]}},
                              content_type="application/json")
        assert answer.status_code == 400 and field in answer.json(), answer.content


def test_bad_widgets_are_named(city):
    officer = client("dash-officer")
    for widget, field in (({"type": "donut"}, "widgets[1].type"),
                          ({"type": "gauge", "indicator": "city-ageing", "target": "many"}, "widgets[1].target"),
                          ({"type": "kpi"}, "widgets[1].indicator"),
                          ({"type": "bar", "indicator": "city-population", "level": "nation"}, "widgets[1].level")):
        answer = officer.post("/api/v1/dashboards/", {"title_zh": "x", "spec": {"widgets": [widget]}},
                              content_type="application/json")
        assert answer.status_code == 400 and field in answer.json(), answer.content
    assert not Dashboard.objects.filter(title_zh="x").exists()


def test_area_profile_and_the_list_page(city):
    towns = client().get("/api/v1/stats/indicators/city-population/values/?level=town").json()["values"]
    page = client().get(f"/areas/town/{towns[0]['key']}/").content.decode()
    assert towns[0]["name"] in page and "人/平方公里" in page and "老化指數" in page
    assert f"{int(towns[0]['value']):,}" in page
    assert client().get("/areas/town/nowhere/").status_code == 404
    listing = client().get("/dashboards/").content.decode()
    assert "市政儀表板" in listing and "<summary>建立儀表板" not in listing
    made = client("dash-officer").post("/dashboards/", {"title_zh": "我的儀表板", "title_en": "Mine",
                                                        "visibility": "internal"})
    assert made.status_code == 302 and made["Location"] == "/dashboards/mine/?edit=1"
    assert Dashboard.objects.get(slug="mine").owner_agency.name == demo.AGENCY
    # the 統計資料 page deletes an indicator for its table's agency (a small gap of the statistics half)
    page = client("dash-other").post("/stats/", {"action": "delete_indicator", "target": "city-growth"},
                                     content_type="application/json")
    assert page.status_code == 400 and client().get("/api/v1/stats/indicators/city-growth/").status_code == 200
    done = client("dash-officer").post("/stats/", {"action": "delete_indicator", "target": "city-growth"},
                                       content_type="application/json")
    assert done.status_code == 302 and client().get("/api/v1/stats/indicators/city-growth/").status_code == 404


# --- embeddable, printable, layer widgets, visibility, the city dashboard's week and coverage (issue 16, part 3) ---

def pdf_text(content: bytes, tmp_path) -> str:
    import subprocess

    assert content.startswith(b"%PDF-")
    path = tmp_path / "board.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:" in info
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_dashboard_prints_to_pdf_with_its_filters_and_units(city, tmp_path):
    towns = client().get("/api/v1/stats/indicators/city-population/values/?level=town").json()["values"]
    town = towns[0]
    name = town["name"].split(" ")[-1]
    answer = client("dash-officer").get(f"/api/v1/dashboards/city/pdf/?town={town['key']}&town_name={name}")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    text = pdf_text(answer.content, tmp_path)
    assert "市政儀表板" in text and f"篩選：{name}" in text and "列印日期" in text
    for widget in demo.SPEC["widgets"]:  # every widget, by its title
        if widget.get("title"):
            assert widget["title"][:8] in text.replace("\n", ""), widget["title"]
    assert f"{town['value']:,.0f} 人" in text  # the district's population, with its unit
    assert "人/平方公里" in text and "人次" in text
    assert "µg/m³" in text.replace("μ", "µ") or "沒有您可查看的感測器" in text  # the sensors, if any report
    english = client().get("/api/v1/dashboards/city/pdf/", HTTP_ACCEPT_LANGUAGE="en")
    text_en = pdf_text(english.content, tmp_path)
    assert "City dashboard" in text_en and "No filter" in text_en and "people" in text_en
    assert "人次" not in text_en  # the Wi-Fi widget is internal: not in an anonymous visitor's print
    assert client().get("/api/v1/dashboards/no-such/pdf/").status_code == 404
    from django.utils import translation

    from dashboards.strings import dashboard_strings
    with translation.override("en"):  # the page's script strings (the builder's new fields too) all in English
        assert not {k: v for k, v in dashboard_strings().items() if re.search(r"[\u4e00-\u9fff]", v)}


def test_embed_and_visibility_follow_the_visitor(city):
    officer = client("dash-officer")
    page = officer.get("/dashboards/city/embed/")
    assert page.status_code == 200 and "X-Frame-Options" not in page
    assert "市政儀表板" in page.content.decode() and 'id="top"' not in page.content.decode()  # no site header
    config = officer.get("/dashboards/city/").content.decode()
    assert "/dashboards/city/embed/" in config and "/api/v1/dashboards/city/pdf/" in config
    made = officer.post("/api/v1/dashboards/", {"title_zh": "群組限定", "title_en": "Group only",
                                                "visibility": "public"}, content_type="application/json")
    slug = made.json()["slug"]
    assert client().get(f"/dashboards/{slug}/embed/").status_code == 200
    # the owner restricts it to a group from the builder (the same PUT): others and the anonymous get a 404
    changed = officer.put(f"/api/v1/dashboards/{slug}/", {"visibility": "restricted", "allowed_groups": ["工務局"]},
                          content_type="application/json")
    assert changed.status_code == 200 and changed.json()["visibility"] == "restricted"
    for url in (f"/dashboards/{slug}/embed/", f"/dashboards/{slug}/", f"/api/v1/dashboards/{slug}/pdf/"):
        assert client().get(url).status_code == 404
        assert client("dash-other").get(url).status_code == 200  # 工務局 is allowed
    stranger = User.objects.create_user("dash-stranger")
    assert client("dash-stranger").get(f"/dashboards/{slug}/embed/").status_code == 404
    stranger.delete()
    bad = officer.put(f"/api/v1/dashboards/{slug}/", {"allowed_groups": ["沒有這個局"]},
                      content_type="application/json")
    assert bad.status_code == 400 and "allowed_groups" in bad.json()


def test_widgets_over_a_layer_or_a_table_group_filter_and_stay_hidden(city):
    """Layer widgets: the villages layer's population summed by district (a spatial join with the village
    boundaries) is the population indicator's district figures; the statistical table's own rows by district give
    the same (its latest period); a district filters them and a value picked in a grouping filters that layer's
    widgets. A restricted layer's widget is refused like a missing one and never sent to who may not see it."""
    officer = client("dash-officer")
    widgets = [
        {"id": "vsum", "type": "bar", "source": {"layer": "villages", "agg": "sum", "field": "population",
                                                 "by": "district"}},
        {"id": "tsum", "type": "table", "source": {"layer": demo.TABLE, "agg": "sum", "field": "population",
                                                   "by": "district"}},
        {"id": "kinds", "type": "pie", "source": {"layer": "facilities", "agg": "count", "by": "kind"}},
        {"id": "parks", "type": "kpi", "source": {"layer": "facilities", "agg": "count", "filter": {
            "conditions": [{"attribute": "kind", "operator": "=", "value": "park"}]}}},
        {"id": "hh", "type": "kpi", "source": {"layer": "villages", "agg": "mean", "field": "households"}},
        {"id": "fac", "type": "kpi", "source": {"layer": "facilities", "agg": "count"}},
    ]
    made = officer.post("/api/v1/dashboards/", {"title_zh": "圖層元件", "visibility": "public", "spec": {
        "selectors": ["district"], "widgets": widgets}}, content_type="application/json")
    assert made.status_code == 201, made.content
    slug = made.json()["slug"]
    assert made.json()["spec"]["sources"]["vsum"]["unit"] == "人"
    towns = {r["key"]: r["value"] for r in client().get(
        "/api/v1/stats/indicators/city-population/values/?level=town").json()["values"]}
    answers = client().get(f"/api/v1/dashboards/{slug}/values/").json()["answers"]
    assert {r["key"]: r["value"] for r in answers["src~vsum"]["rows"]} == towns
    assert {r["key"]: r["value"] for r in answers["src~tsum"]["rows"]} == towns
    assert answers["src~tsum"]["period"] == "2025-12-01"
    with connection.cursor() as cur:
        cur.execute("SELECT kind, count(*) FROM layerdata.facilities GROUP BY kind")
        kinds = dict(cur.fetchall())
        cur.execute("SELECT avg(households)::float8 FROM layerdata.villages")
        mean_households = cur.fetchone()[0]
    assert {r["key"]: r["value"] for r in answers["src~kinds"]["rows"]} == kinds
    assert answers["src~parks"]["total"]["value"] == kinds["park"]
    assert answers["src~hh"]["total"]["value"] == pytest.approx(mean_households)
    town = next(iter(towns))
    filtered = client().get(f"/api/v1/dashboards/{slug}/values/?town={town}&pick=facilities|kind|park").json()
    filtered = filtered["answers"]
    assert filtered["src~vsum"]["total"]["value"] == towns[town]  # the district chosen
    assert [r["key"] for r in filtered["src~vsum"]["rows"]] == [town]
    in_town = {r["key"]: r["value"] for r in filtered["src~kinds"]["rows"]}  # where the pick is made: every kind
    assert sum(in_town.values()) <= sum(kinds.values()) and set(in_town) <= set(kinds)
    assert filtered["src~fac"]["total"]["value"] == in_town.get("park", 0)  # the other widgets: the park picked
    assert answers["src~fac"]["total"]["value"] == sum(kinds.values())
    assert filtered["src~hh"]["total"]["count"] < answers["src~hh"]["total"]["count"]
    # a restricted layer: refused like a missing one; its widget not sent to who may not see it
    secret = Layer.objects.get(slug="facilities")
    bad = [officer.post("/api/v1/dashboards/", {"title_zh": "x", "spec": {"widgets": [
        {"type": "bar", "source": {"layer": wanted, "agg": "count"}}]}}, content_type="application/json")
        for wanted in ("no-such-layer", "villages")]
    assert bad[0].status_code == 400 and "widgets[1].source.layer" in bad[0].json() and bad[1].status_code == 201
    for source, field in (({"layer": "villages", "agg": "median"}, "widgets[1].source.agg"),
                          ({"layer": "villages", "agg": "sum", "field": "name"}, "widgets[1].source.field"),
                          ({"layer": "villages", "agg": "count", "by": "nope"}, "widgets[1].source.by"),
                          ({"layer": "villages", "agg": "count", "filter": {"conditions": [
                              {"attribute": "nope", "operator": "=", "value": 1}]}}, "widgets[1].source.filter")):
        answer = officer.post("/api/v1/dashboards/", {"title_zh": "x", "spec": {"widgets": [
            {"type": "kpi", "source": source}]}}, content_type="application/json")
        assert answer.status_code == 400 and field in answer.json(), (source, answer.content)
    secret.visibility = Layer.Visibility.RESTRICTED
    secret.save()
    try:
        seen = client().get(f"/api/v1/dashboards/{slug}/").json()
        assert [w["id"] for w in seen["spec"]["widgets"]] == ["vsum", "tsum", "hh"]
        assert "facilities" not in json.dumps(seen) and "src~kinds" not in client().get(
            f"/api/v1/dashboards/{slug}/values/").json()["answers"]
    finally:
        secret.visibility = Layer.Visibility.PUBLIC
        secret.save()


def test_air_quality_this_week_and_park_coverage(city):
    """The 市政儀表板's week of PM2.5 (daily means of every reading, a day without readings left empty) and the
    share of the people within 500 m of a park, hand-computed with shapely from the villages and the parks."""
    from datetime import timedelta

    import shapely
    from django.utils import timezone

    from iot.ingest import ingest
    from iot.models import Device
    from iot.tokens import new_token

    ensure_quantities()
    device = Device.objects.create(device_id="DASH-WEEK", token_hash=new_token()[1])
    now = timezone.now()
    try:
        readings = [(0, 10.0), (0, 20.0), (1, 30.0), (3, 40.0)]  # days ago, value
        outcome = ingest(device, [{"quantity": "pm25", "value": v, "observed_at": (
            now - timedelta(days=d, minutes=5 + i)).isoformat()} for i, (d, v) in enumerate(readings)], "test")
        assert outcome.accepted == 4
        week = client().get("/api/v1/dashboards/city/values/").json()["answers"]["sensor_week~pm25"]
        days = {d["day"]: d for d in week["days"]}
        assert len(week["days"]) == 7 and week["unit"] == "µg/m³"
        local = lambda ago: timezone.localtime(now - timedelta(days=ago, minutes=5)).date().isoformat()  # noqa: E731
        if week["last_day"] == local(0):  # no other sensor reported later than this one
            others = Device.objects.exclude(pk=device.pk).filter(latest__isnull=False).exists()
            if not others:
                assert days[local(0)]["mean"] == 15.0 and days[local(1)]["mean"] == 30.0
                assert days[local(2)]["mean"] is None and days[local(3)]["mean"] == 40.0
        assert days[local(0)]["readings"] >= 2
    finally:
        device.delete()
    coverage = client().get("/api/v1/dashboards/city/values/").json()["answers"]["coverage~parks"]
    with connection.cursor() as cur:
        cur.execute("SELECT ST_AsBinary(geom), population FROM layerdata.villages")
        villages = [(shapely.from_wkb(bytes(g)), p) for g, p in cur.fetchall()]
        cur.execute("SELECT ST_AsBinary(geom) FROM layerdata.facilities WHERE kind = 'park'")
        parks = shapely.union_all([shapely.from_wkb(bytes(g)).buffer(500, quad_segs=8) for (g,) in cur.fetchall()])
    people = sum(p for _, p in villages)
    covered = sum(p * v.intersection(parks).area / v.area for v, p in villages)
    assert coverage["people"] == people and coverage["distance_m"] == 500
    assert coverage["share"] == pytest.approx(covered / people * 100, abs=0.2) and 0 < coverage["share"] < 100
    town = client().get("/api/v1/stats/indicators/city-population/values/?level=town").json()["values"][0]
    district = client().get(f"/api/v1/dashboards/city/values/?town={town['key']}").json()["answers"]
    assert district["coverage~parks"]["people"] == town["value"]


def test_indicator_edit_and_table_upload_on_the_stats_page(city, tmp_path, django_capture_on_commit_callbacks):
    officer, other = client("dash-officer"), client("dash-other")
    url = "/api/v1/stats/indicators/city-households/"
    before = client().get(url).json()
    assert other.patch(url, {"title_en": "x"}, content_type="application/json").status_code == 403
    bad = officer.patch(url, {"formula": "share", "denominator": "no_such_column"}, content_type="application/json")
    assert bad.status_code == 400 and "denominator" in bad.json()
    assert client().get(url).json() == before  # nothing half-written
    changed = officer.patch(url, {"title_zh": "家戶數", "formula": "per_1000", "denominator": "population",
                                  "decimals": 2}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    figure = client().get(f"{url}values/?level=county").json()["total"]["value"]
    rows = villages()
    with connection.cursor() as cur:
        cur.execute("SELECT sum(households), sum(population) FROM layerdata.villages")
        households, population = cur.fetchone()
    assert figure == round(households * 1000 / population, 2) and changed.json()["unit"] == "‰（每千）" and rows
    # the page's form: name, unit and formula back
    page = officer.post("/stats/", {"action": "edit_indicator", "target": "city-households", "title_zh": "戶數",
                                    "title_en": "Households", "formula": "value", "numerator": "households",
                                    "unit": "households", "decimals": "0"})
    assert page.status_code == 302 and page["Location"].endswith("#indicator-city-households")
    assert client().get(url).json()["title"] == "戶數"
    assert client().get(f"{url}values/?level=county").json()["total"]["value"] == households
    refused = officer.post("/stats/", {"action": "edit_indicator", "target": "city-households", "formula": "share",
                                       "numerator": "households", "denominator": ""})
    assert refused.status_code == 400 and "分母" in refused.content.decode()
    # upload a statistics table from the page: an import job, named back on the page
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jobs.models import Job
    csv = b"village_code,population\n68000100-001,12\n"
    with django_capture_on_commit_callbacks(execute=False):
        sent = officer.post("/stats/", {"action": "upload", "title": "上傳測試", "visibility": "internal",
                                        "files": SimpleUploadedFile("people.csv", csv, "text/csv")})
    assert sent.status_code == 302 and "?job=" in sent["Location"], sent.content[:300]
    job = Job.objects.get(pk=int(sent["Location"].split("job=")[1].split("#")[0]))
    assert job.created_by.username == "dash-officer"
    shown = officer.get(sent["Location"]).content.decode()
    assert f"#{job.pk}" in shown
    empty = officer.post("/stats/", {"action": "upload", "title": "x"})
    assert empty.status_code == 400 and "檔案" in empty.content.decode()
    job.delete()

