"""Markers (private or shared with a group) and share links that show each person only what they may see."""

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from layers.models import Layer
from web.models import Marker, SharedView

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    planning = Group.objects.create(name="都市發展局")
    alice = User.objects.create_user("alice", password="pw")
    bob = User.objects.create_user("bob", password="pw")
    carol = User.objects.create_user("carol", password="pw")
    alice.groups.add(planning)
    bob.groups.add(planning)
    return alice, bob, carol, planning


def as_user(user=None) -> APIClient:
    client = APIClient()
    if user:
        client.force_authenticate(user)
    return client


def marker(**props):
    lon, lat = props.pop("at", (121.3, 24.99))
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"title": "路口積水", "text": "下雨時積水約 20 公分", **props}}


def test_markers_are_private_until_shared_with_a_group(people):
    alice, bob, carol, planning = people
    made = as_user(alice).post("/api/v1/markers/", marker(color="#1f78b4", icon="warning"), format="json")
    assert made.status_code == 201, made.json()
    mid = made.json()["id"]
    assert made.json()["properties"]["owner"] == "alice" and made.json()["properties"]["editable"] is True
    assert as_user(bob).get("/api/v1/markers/").json()["features"] == []  # private
    assert as_user(bob).get(f"/api/v1/markers/{mid}/").status_code == 404

    moved = as_user(alice).patch(f"/api/v1/markers/{mid}/", {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [121.31, 24.98]},
        "properties": {"group": planning.name, "text": "已通報工務局"}}, format="json")
    assert moved.status_code == 200, moved.json()
    saved = Marker.objects.get(pk=mid)
    assert (round(saved.location.x, 6), round(saved.location.y, 6), saved.text) == (121.31, 24.98, "已通報工務局")

    seen = as_user(bob).get("/api/v1/markers/").json()["features"]
    assert [(f["id"], f["properties"]["editable"]) for f in seen] == [(mid, False)]
    assert as_user(bob).patch(f"/api/v1/markers/{mid}/", {"properties": {"title": "x"}},
                              format="json").status_code == 403
    assert as_user(bob).delete(f"/api/v1/markers/{mid}/").status_code == 403
    assert as_user(carol).get("/api/v1/markers/").json()["features"] == []  # not in the group
    assert as_user().get("/api/v1/markers/").status_code in (401, 403)
    assert as_user(alice).delete(f"/api/v1/markers/{mid}/").status_code == 204
    assert not Marker.objects.exists()


@pytest.mark.parametrize(("props", "field", "text"), [
    ({"color": "red"}, "color", "#rrggbb"),
    ({"group": "都市發展局"}, "group", "only with your own groups"),
    ({"icon": "rocket"}, "icon", "rocket"),
    ({"at": (500, 24)}, "location", "longitude, latitude"),
])
def test_bad_markers_are_refused_with_the_field(people, props, field, text):
    _alice, _bob, carol, _planning = people
    answer = as_user(carol).post("/api/v1/markers/", marker(**props), format="json")
    assert answer.status_code == 400 and text in str(answer.json()[field])


@pytest.fixture
def layers():
    for slug, visibility in (("roads", "public"), ("parcels", "internal"), ("secret", "restricted")):
        Layer.objects.create(slug=slug, title_zh=slug, visibility=visibility)


def test_a_share_link_restores_the_view_with_only_what_the_opener_may_see(people, layers):
    alice, *_ = people
    pin = Marker.objects.create(owner=alice, title="新設站點", color="#33a02c", location="POINT(121.3 24.99)")
    state = {"center": [121.3, 24.99], "zoom": 16, "mode": "3d", "pitch": 50, "bearing": 20,
             "layers": [{"slug": "roads", "opacity": 0.6}, {"slug": "parcels", "opacity": 1, "visible": False},
                        {"slug": "secret"}]}
    made = as_user(alice).post("/api/v1/views/", {"state": state, "markers": [pin.pk]}, format="json")
    assert made.status_code == 201, made.json()
    code = made.json()["code"]
    assert made.json()["url"].endswith(f"/s/{code}")

    signed_in = as_user(alice).get(f"/api/v1/views/{code}/").json()["state"]
    assert signed_in["center"] == [121.3, 24.99] and signed_in["zoom"] == 16 and signed_in["mode"] == "3d"
    assert [(e["slug"], e["opacity"], e["visible"]) for e in signed_in["layers"]] == [
        ("roads", 0.6, True), ("parcels", 1.0, False)]  # "secret": alice may not see it, so it was never stored
    assert signed_in["markers"] == [{"title": "新設站點", "text": "", "color": "#33a02c", "icon": "pin",
                                     "location": [121.3, 24.99]}]
    signed_out = as_user().get(f"/api/v1/views/{code}/").json()["state"]
    assert [e["slug"] for e in signed_out["layers"]] == ["roads"]
    assert signed_out["markers"] == signed_in["markers"]  # shared notes travel with the link
    assert SharedView.objects.get(code=code).opened == 2
    opened = as_user().get(f"/s/{code}")
    assert opened.status_code == 302 and opened["Location"] == f"/?view={code}"
    assert as_user().get("/api/v1/views/nope1234/").status_code == 404


@pytest.mark.parametrize(("state", "text"), [
    ({"center": [121.3], "zoom": 10}, "state.center"),
    ({"center": [121.3, 24.9], "zoom": 40}, "state.zoom"),
    ({"center": [121.3, 24.9], "zoom": 10, "mode": "4d"}, "state.mode"),
    ({"center": [121.3, 24.9], "zoom": 10, "layers": [{"slug": "roads", "opacity": 3}]}, "opacity"),
])
def test_bad_view_descriptions_name_the_field(layers, state, text):
    answer = as_user().post("/api/v1/views/", {"state": state}, format="json")
    assert answer.status_code == 400 and text in answer.json()["detail"]


def test_markers_in_a_link_must_be_readable_by_its_maker(people, layers):
    alice, bob, *_ = people
    private = Marker.objects.create(owner=bob, title="私人", location="POINT(121.3 24.99)")
    answer = as_user(alice).post("/api/v1/views/", {"state": {"center": [121.3, 24.9], "zoom": 12},
                                                    "markers": [private.pk]}, format="json")
    assert answer.status_code == 400 and str(private.pk) in answer.json()["markers"]


@pytest.mark.parametrize("body, fmt", [
    ({"type": "Feature", "geometry": '{"type": "Point", "coordinates": [121.3, 25]}', "properties": '{"title": "x"}'},
     "multipart"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.3, 25]}, "properties": ["title"]}, "json"),
])
def test_a_marker_whose_properties_are_not_an_object_is_a_400(people, body, fmt):
    """Found by schemathesis: a form post (properties as text) or a list answered 500."""
    answer = as_user(people[0]).post("/api/v1/markers/", body, format=fmt)
    assert answer.status_code == 400 and "properties" in answer.json()
