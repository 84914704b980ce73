"""Event maps: sub-layers owned by one agency each; members edit only their own (403 on another agency's), everyone
in the event sees them all, whoever is outside sees nothing (404); making one takes an administrator or the right
to import new layers."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import Agency, ImportGrant
from editing.models import EventMap
from layers.models import Layer
from tests.test_feature_editing import client

pytestmark = pytest.mark.django_db


@pytest.fixture
def bureaus(db):
    made = {}
    for name, english in (("交通局", "Traffic"), ("警察局", "Police"), ("消防局", "Fire")):
        group = Group.objects.create(name=name)
        Agency.objects.create(group=group, name_en=f"{english} Bureau")
        user = User.objects.create_user(f"ev-{english.lower()}")
        user.groups.add(group)
        made[english.lower()] = (group, user)
    return made



def square(lon=121.30, lat=24.99, d=0.001):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d],
                                                [lon, lat]]]}


def test_an_event_map_gives_each_agency_its_own_sub_layer(bureaus):
    admin = User.objects.create_superuser("ev-admin")
    answer = client(admin).post("/api/v1/event-maps/", {
        "title_zh": "2025 臺灣燈會", "title_en": "Lantern Festival 2025", "geometry_type": "Polygon",
        "agencies": ["交通局", "警察局", bureaus["fire"][0].pk], "center": [121.3, 24.99], "zoom": 15},
        format="json")
    assert answer.status_code == 201, answer.content
    event = answer.json()
    assert event["slug"] == "lantern-festival-2025" and event["map"].startswith("/s/")
    assert [p["agency"] for p in event["layers"]] == ["交通局", "警察局", "消防局"]
    slugs = {p["agency_en"]: p["layer"] for p in event["layers"]}
    layers = {k: Layer.objects.get(slug=v) for k, v in slugs.items()}
    assert all(la.visibility == "restricted" and la.created_by is None for la in layers.values())
    # the share link opens the map on every sub-layer
    shared = client(bureaus["police"][1]).get(f"/api/v1/views/{event['map'].rsplit('/', 1)[1]}/").json()
    assert {entry["slug"] for entry in shared["state"]["layers"]} == set(slugs.values())

    traffic, police = bureaus["traffic"][1], bureaus["police"][1]
    mine = client(traffic).get(f"/api/v1/event-maps/{event['slug']}/").json()
    assert {p["agency"]: p["can_edit"] for p in mine["layers"]} == {"交通局": True, "警察局": False, "消防局": False}
    # a member adds to their own sub-layer; the form fills in the agency and the editor
    own = f"/api/v1/layers/{slugs['Traffic Bureau']}/features/"
    added = client(traffic).post(own, {"geometry": square(), "properties": {"name": "接駁車停車場"}}, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["properties"] | {} == {"name": "接駁車停車場", "note": None, "agency": "交通局",
                                              "editor": "ev-traffic"}
    assert client(traffic).post(own, {"geometry": square(), "properties": {}}, format="json").status_code == 400
    # another agency's member sees it (and would hear of its changes) but may not change it: 403
    assert client(police).get(f"{own}{added.json()['id']}/").status_code == 200
    assert Layer.objects.visible_to(police).filter(slug=slugs["Traffic Bureau"]).exists()  # the live stream's rule
    assert client(police).patch(f"{own}{added.json()['id']}/", {"properties": {"name": "x"}, "version": 1},
                                format="json").status_code == 403
    assert client(police).post(own, {"geometry": square(), "properties": {"name": "管制點"}},
                               format="json").status_code == 403
    assert client(police).post(f"/api/v1/layers/{slugs['Police Bureau']}/features/", {
        "geometry": square(121.31), "properties": {"name": "管制點"}}, format="json").status_code == 201
    # whoever is in none of the agencies sees neither the event nor its layers: 404, as for a missing one
    outsider = User.objects.create_user("ev-outsider")
    for who in (outsider, None):
        assert client(who).get(f"/api/v1/event-maps/{event['slug']}/").status_code == 404
        assert client(who).get(own).status_code == 404
        assert client(who).post(own, {"geometry": square(), "properties": {"name": "x"}},
                                format="json").status_code == 404
        assert client(who).get("/api/v1/event-maps/").json() == {"results": []}
    assert [e["slug"] for e in client(police).get("/api/v1/event-maps/").json()["results"]] == [event["slug"]]


def test_making_one_takes_the_import_right_and_names_bad_input(bureaus):
    traffic = bureaus["traffic"][1]
    body = {"title_zh": "跨年晚會", "agencies": ["交通局", "消防局"], "geometry_type": "Point"}
    ImportGrant.objects.all().delete()
    assert client(traffic).post("/api/v1/event-maps/", body, format="json").status_code == 403
    assert client().post("/api/v1/event-maps/", body, format="json").status_code == 403
    ImportGrant.objects.create(user=traffic)
    for bad, words in (({**body, "agencies": ["交通局", "文化局"]}, "文化局"),
                       ({**body, "agencies": []}, "agencies"), ({**body, "geometry_type": "Circle"}, "geometry_type"),
                       ({**body, "title_zh": ""}, "title_zh"), ({**body, "center": [500, 0]}, "center")):
        refused = client(traffic).post("/api/v1/event-maps/", bad, format="json")
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.content
    assert not EventMap.objects.exists() and not Layer.objects.filter(keywords__contains=["活動協作圖"]).exists()
    made = client(traffic).post("/api/v1/event-maps/", body, format="json")
    assert made.status_code == 201
    # the organiser edits only their own agency's sub-layer, and sees the others
    assert {p["agency"]: p["can_edit"] for p in made.json()["layers"]} == {"交通局": True, "消防局": False}


def test_the_page_lists_ones_events_and_makes_them(bureaus, client):  # django's test client: a session
    admin = User.objects.create_superuser("ev-admin")
    client.force_login(admin)
    page = client.get("/event-maps/")
    assert page.status_code == 200 and "建立活動協作圖" in page.content.decode()
    made = client.post("/event-maps/", {"title_zh": "燈會", "title_en": "Lantern", "geometry_type": "Point",
                                    "agencies": [bureaus["traffic"][0].pk, bureaus["fire"][0].pk]})
    assert made.status_code == 302
    client.force_login(bureaus["fire"][1])
    page = client.get("/event-maps/", HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "Lantern" in text and text.count("data-layer=") == 2 and "Fire Bureau" in text
