"""Dashboards (issue 16): the demo city's 市政儀表板 made by the loader from its villages' statistics (joined, with
indicators), hand-checked figures through the values API, a dashboard's permissions (a restricted one is missing; a
widget over a table the viewer may not see is not sent, not even its title), the builder's checks, the area profile
and the list page's form. The browser side is tests/test_dashboards_browser.py."""

import json

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
    assert board["title"] == "市政儀表板" and len(board["spec"]["widgets"]) == 14
    # the Wi-Fi widget's usage table is internal (資訊科技局's): shown to the signed in only
    assert len(client("dash-officer").get("/api/v1/dashboards/city/").json()["spec"]["widgets"]) == 15
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
    assert seen["spec"]["widgets"] == [w for w in demo.SPEC["widgets"] if w["type"] in ("text", "sensor", "wifi")]
    assert "city-population" not in json.dumps(seen) and "人口數" not in json.dumps(seen, ensure_ascii=False)
    assert set(client("dash-other").get("/api/v1/dashboards/city/values/").json()["answers"]) == {
        "sensor~pm25", "wifi~wifi-usage"}
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
