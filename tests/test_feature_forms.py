"""Form rules of a layer (editing.rules): set by its editors through the API, drawn as a form, and enforced on
every write that goes through the editing store — required, value list, range, defaults, read-only, condition;
live edits (server-sent events) reaching only who may see the layer; a layer rolled back to a moment."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from accounts.models import Agency
from editing.models import FeatureChange
from tests.test_feature_editing import URL, _make_layer, client, point

pytestmark = pytest.mark.django_db

FORM = URL.replace("features/", "form/")
RULES = {"fields": {
    "name": {"required": True},
    "outlets": {"min": 1, "max": 8, "default": 2},
    "status": {"values": [{"value": "ok", "label": "正常", "label_en": "In service"},
                          {"value": "broken", "label": "故障", "label_en": "Out of order"}], "default": "ok"},
    "broken_reason": {"required": True, "when": {"field": "status", "values": ["broken"]}},
    "recorded_by": {"default_from": "user", "read_only": True},
    "agency": {"default_from": "agency"},
    "checked_on": {"default_from": "today"},
}}


@pytest.fixture
def layer(db):
    layer = _make_layer()
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE layerdata.ed_hydrants ADD status text, ADD broken_reason text, "
                    "ADD recorded_by varchar(40), ADD agency text")
    layer.attributes = [*layer.attributes, {"name": "status", "type": "text", "label": "狀態", "label_en": "Status"},
                        {"name": "broken_reason", "type": "text", "label": "故障原因", "label_en": "Fault"},
                        {"name": "recorded_by", "type": "text", "label": "登錄者", "label_en": "Recorded by"}]
    layer.attributes[1].update(label="水壓", label_en="Pressure", unit="kPa")
    layer.save(update_fields=["attributes"])
    Agency.objects.get_or_create(group=layer.owner_agency)
    return layer


@pytest.fixture
def editor(layer):
    user = User.objects.create_user("ed-fire", password="pw")
    user.groups.add(layer.owner_agency)
    return user


def test_editors_set_rules_everyone_who_sees_the_layer_reads_the_form(layer, editor):
    outsider = User.objects.create_user("ed-other", password="pw")
    assert client(outsider).put(FORM, RULES, format="json").status_code == 403
    assert client().get(FORM).status_code == 404  # internal layer: anonymous sees nothing
    saved = client(editor).put(FORM, RULES, format="json")
    assert saved.status_code == 200, saved.content
    form = client(outsider).get(FORM).json()
    assert form["can_edit"] is False and form["geometry_type"] == "POINT"
    fields = {f["name"]: f for f in form["fields"]}
    assert [f["name"] for f in form["fields"]][:4] == ["name", "pressure_kpa", "outlets", "checked_on"]
    assert fields["pressure_kpa"] | {} == {"name": "pressure_kpa", "type": "double precision", "input": "number",
                                           "label": "水壓", "label_en": "Pressure", "unit": "kPa"}
    assert fields["status"]["values"][1] == {"value": "broken", "label": "故障", "label_en": "Out of order"}
    assert fields["broken_reason"]["when"] == {"field": "status", "values": ["broken"]}
    assert fields["recorded_by"]["max_length"] == 40 and fields["recorded_by"]["read_only"] is True
    assert client(editor).get(FORM).json()["can_edit"] is True


BAD_RULES = [
    ({"nope": {"required": True}}, "nope"),
    ({"name": {"mandatory": True}}, "mandatory"),
    ({"outlets": {"min": "one"}}, "outlets"),
    ({"outlets": {"min": 5, "max": 2}}, "outlets"),
    ({"name": {"min": 1}}, "name"),
    ({"status": {"values": []}}, "status"),
    ({"outlets": {"values": [1, "two"]}}, "outlets"),
    ({"checked_on": {"default_from": "user"}}, "checked_on"),
    ({"name": {"default_from": "yesterday"}}, "name"),
    ({"name": {"when": {"field": "ghost"}}}, "ghost"),
    ({"name": {"when": {"field": "name"}}}, "name"),
    ({"name": {"required": "yes"}}, "required"),
]


def test_rules_that_cannot_hold_are_a_400_naming_the_attribute(layer, editor):
    client(editor).put(FORM, RULES, format="json")
    for fields, named in BAD_RULES:
        answer = client(editor).put(FORM, {"fields": fields}, format="json")
        assert answer.status_code == 400 and named in answer.json()["detail"], (fields, answer.content)
    assert client(editor).put(FORM, [1], format="json").status_code == 400
    assert len(client(editor).get(FORM).json()["fields"][2]) > 5  # the good rules stayed


def test_defaults_fill_a_new_feature(layer, editor):
    client(editor).put(FORM, RULES, format="json")
    made = client(editor).post(URL, {"geometry": point(121.3, 25), "properties": {"name": "N"}}, format="json")
    assert made.status_code == 201, made.content
    props = made.json()["properties"]
    assert props | {} == props | {"outlets": 2, "status": "ok", "recorded_by": "ed-fire", "agency": "消防局",
                                  "checked_on": timezone.localdate().isoformat(), "broken_reason": None}
    dated = client(editor).post(URL, {"geometry": point(121.3, 25), "properties": {
        "name": "M", "checked_on": "2020-01-01", "outlets": 4}}, format="json").json()["properties"]
    assert dated["checked_on"] == "2020-01-01" and dated["outlets"] == 4  # a value sent wins over the default


REFUSED = [  # (method, body, the attribute named, the words)
    ("post", {"properties": {"outlets": 3}}, "name", "必填"),
    ("post", {"properties": {"name": " "}}, "name", "必填"),
    ("post", {"properties": {"name": "N", "status": "lost"}}, "status", "值域"),
    ("post", {"properties": {"name": "N", "outlets": 9}}, "outlets", "範圍"),
    ("post", {"properties": {"name": "N", "outlets": 0}}, "outlets", "範圍"),
    ("post", {"properties": {"name": "N", "status": "broken"}}, "broken_reason", "必填"),
    ("post", {"properties": {"name": "N", "recorded_by": "someone"}}, "recorded_by", "唯讀"),
    ("patch", {"properties": {"name": None}}, "name", "必填"),
    ("patch", {"properties": {"status": "broken"}}, "broken_reason", "必填"),
    ("patch", {"properties": {"recorded_by": "me"}}, "recorded_by", "唯讀"),
]


def test_out_of_rule_values_are_a_400_naming_the_field_and_nothing_is_written(layer, editor):
    client(editor).put(FORM, RULES, format="json")
    for method, body, named, words in REFUSED:
        if method == "post":
            answer = client(editor).post(URL, {"geometry": point(121.3, 25), **body}, format="json")
        else:
            answer = client(editor).patch(f"{URL}1/", {**body, "version": 0}, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert named in answer.json()["detail"] and words in answer.json()["detail"], (body, answer.json())
    assert not FeatureChange.objects.exists()
    english = client(editor).post(URL, {"geometry": point(121.3, 25), "properties": {"name": "N", "status": "x"}},
                                  format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["detail"].startswith("Status (status): the value \"x\" is not in its value list")
    assert "In service" not in english.json()["detail"] and '"ok"' in english.json()["detail"]


def test_rules_hold_on_the_whole_feature_after_a_partial_change(layer, editor):
    c = client(editor)
    c.put(FORM, RULES, format="json")
    # imported rows break today's rules (no status, no recorded_by): changing another attribute is still allowed
    assert c.patch(f"{URL}1/", {"properties": {"outlets": 3}, "version": 0}, format="json").status_code == 200
    fixed = c.patch(f"{URL}1/", {"properties": {"status": "broken", "broken_reason": "漏水"}, "version": 1},
                    format="json")
    assert fixed.status_code == 200, fixed.content
    # sending a read-only attribute unchanged (as clients that resend every attribute do) is fine
    assert c.patch(f"{URL}1/", {"properties": {"recorded_by": None, "outlets": 4}, "version": 2},
                   format="json").status_code == 200
    # the condition no longer holds: its field is not required any more
    assert c.patch(f"{URL}1/", {"properties": {"status": "ok", "broken_reason": None}, "version": 3},
                   format="json").status_code == 200
    # a restore brings back a recorded state without today's rules
    assert c.post(f"{URL}1/restore/", {"to_version": 0, "version": 4}, format="json").status_code == 200
    assert isinstance(datetime.date.fromisoformat(c.get(f"{URL}1/").json()["properties"]["checked_on"]),
                      datetime.date)


def _events(response, wanted: int, seconds: float = 8) -> list[dict]:
    """The `edit` events of an open stream, until `wanted` came or the stream ended."""
    import json
    import time

    found, started = [], time.monotonic()
    for chunk in response.streaming_content:
        for block in chunk.decode().split("\n\n"):
            if block.startswith("event: edit"):
                found.append(json.loads(block.split("data: ", 1)[1]))
        if len(found) >= wanted or time.monotonic() - started > seconds:
            break
    return found


def test_live_events_reach_open_maps_of_those_who_may_see_the_layer(layer, editor,
                                                                     django_capture_on_commit_callbacks):
    _make_layer("ed_public", "ed-public", "public")
    watcher = client(editor).get("/api/v1/edits/events/?timeout=6")
    outsider = client().get("/api/v1/edits/events/?timeout=2")  # anonymous: the internal layer is not theirs
    assert watcher["Content-Type"] == "text/event-stream" and watcher["Cache-Control"] == "no-cache"
    for stream in (watcher, outsider):
        assert next(iter(stream.streaming_content)).startswith(b"retry: 2000")  # subscribed from here on
    with django_capture_on_commit_callbacks(execute=True):
        client(editor).patch(f"{URL}1/", {"properties": {"name": "A2"}, "geometry": point(121.33, 25.01),
                                          "version": 0}, format="json")
        client(editor).patch("/api/v1/layers/ed-public/features/2/", {"properties": {"name": "B2"},
                                                                       "version": 0}, format="json")
    got = _events(watcher, 2)
    assert got[0] | {} == {"layer": "ed-hydrants", "fid": 1, "version": 1, "action": "update", "user": "ed-fire",
                           "bbox": [121.3, 24.99, 121.33, 25.01], "deleted": False}
    assert got[1]["layer"] == "ed-public"
    # an internal layer's change is not told to who may not see it; the public one is, without the editor's name
    assert [(e["layer"], e["user"]) for e in _events(outsider, 2, 3)] == [("ed-public", "")]
    watcher.close()
    outsider.close()


def test_anonymous_streams_are_bounded(layer, settings):
    from editing import live

    live.client().delete(live.ANONYMOUS_STREAMS)
    settings.EDIT_STREAMS_ANONYMOUS = 1
    first = client().get("/api/v1/edits/events/?timeout=2")
    assert next(iter(first.streaming_content)).startswith(b"retry: 2000")  # a seat, held while it streams
    second = client().get("/api/v1/edits/events/?timeout=2")  # the seats are taken: come back in 30 s
    assert b"".join(second.streaming_content).startswith(b"retry: 30000")
    signed_in = client(User.objects.create_user("ed-streams")).get("/api/v1/edits/events/?timeout=0")
    assert next(iter(signed_in.streaming_content)).startswith(b"retry: 2000")  # signed-in users are not counted
    first.close()
    assert live.client().zcard(live.ANONYMOUS_STREAMS) == 0  # the seat is given back when the stream ends


def test_a_layer_rolls_back_to_a_moment_in_one_transaction(layer, editor, django_capture_on_commit_callbacks):
    from audit.models import AuditEntry

    c = client(editor)
    moment = timezone.now()
    assert c.patch(f"{URL}1/", {"properties": {"name": "A2"}, "version": 0}, format="json").status_code == 200
    assert c.patch(f"{URL}1/", {"geometry": point(121.4, 25.1), "version": 1}, format="json").status_code == 200
    added = c.post(URL, {"geometry": point(121.3, 25), "properties": {"name": "new"}}, format="json").json()["id"]
    assert c.delete(f"{URL}2/?version=0").status_code == 200
    assert client(User.objects.create_user("ed-other", password="pw")).post(
        URL.replace("features/", "rollback/"), {"to": moment.isoformat()}, format="json").status_code == 403
    assert c.post(URL.replace("features/", "rollback/"), {"to": "soon"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        back = c.post(URL.replace("features/", "rollback/"), {"to": moment.isoformat()}, format="json")
    assert back.status_code == 200, back.content
    assert back.json()["restored"] == 3
    assert {(ch["fid"], ch["action"], ch["restored_from"]) for ch in back.json()["changes"]} == {
        (1, "restore", 0), (2, "restore", 0), (added, "restore", 0)}
    assert c.get(f"{URL}1/").json()["properties"]["name"] == "A"
    assert c.get(f"{URL}1/").json()["geometry"]["coordinates"] == pytest.approx([121.30, 24.99])
    assert c.get(f"{URL}2/").status_code == 200 and c.get(f"{URL}{added}/").status_code == 404
    layer.refresh_from_db()
    assert layer.feature_count == 2
    entry = AuditEntry.objects.get(action="layer_rollback")
    assert entry.detail["restored"] == 3 and entry.actor_name == "ed-fire"
    again = c.post(URL.replace("features/", "rollback/"), {"to": moment.isoformat()}, format="json").json()
    assert again["restored"] == 0  # already as it was


def test_a_stream_stops_carrying_a_layer_as_soon_as_its_reader_may_no_longer_see_it(
        layer, django_capture_on_commit_callbacks):
    """The visible layers are read again after every rights change, not only when the stream opens."""
    from rest_framework.test import APIClient

    public = _make_layer("ed_public", "ed-public", "public")
    reader = User.objects.create_user("ed-reader", password="pw")  # internal layers: every signed-in user's
    leaving = User.objects.create_user("ed-leaving", password="pw")
    session = APIClient()
    session.force_login(leaving)  # a real session: signing out ends what the stream may carry
    streams = {"reader": client(reader), "anonymous": client(), "leaving": session}
    streams = {who: c.get("/api/v1/edits/events/?timeout=6") for who, c in streams.items()}
    for stream in streams.values():
        assert next(iter(stream.streaming_content)).startswith(b"retry: 2000")

    def edit(fid, slug, version):
        with django_capture_on_commit_callbacks(execute=True):
            done = client(User.objects.get(username="ed-admin")).patch(
                f"/api/v1/layers/{slug}/features/{fid}/", {"properties": {"name": f"v{version}"},
                                                           "version": version}, format="json")
            assert done.status_code == 200, done.content

    User.objects.create_superuser("ed-admin", password="pw")
    with django_capture_on_commit_callbacks(execute=True):
        layer.visibility = "restricted"  # the hydrants: now for the fire department only
        layer.save()
        public.visibility = "internal"
        public.save()
    with django_capture_on_commit_callbacks(execute=True):
        session.logout()
    edit(1, layer.slug, 0)
    edit(2, public.slug, 0)
    assert [e["layer"] for e in _events(streams["reader"], 2, 3)] == ["ed-public"]
    assert _events(streams["anonymous"], 1, 3) == []
    assert _events(streams["leaving"], 1, 3) == []  # signed out: nothing more (the stream ends)

    reader_again = client(reader).get("/api/v1/edits/events/?timeout=6")
    assert next(iter(reader_again.streaming_content)).startswith(b"retry: 2000")
    with django_capture_on_commit_callbacks(execute=True):
        reader.is_active = False  # disabled: nothing more either
        reader.save()
    edit(2, public.slug, 1)
    assert _events(reader_again, 1, 3) == []
    for stream in (*streams.values(), reader_again):
        stream.close()
