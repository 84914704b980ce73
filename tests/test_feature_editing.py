"""Editing single features through the API: create, update, delete, history, restore; rights; versions and
conflicts (two clients at once); attribute and geometry checks; the catalog's count and extent kept right."""

import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEntry
from editing.models import FeatureChange
from layers.models import Layer

pytestmark = pytest.mark.django_db

SLUG = "ed-hydrants"
URL = f"/api/v1/layers/{SLUG}/features/"


def _make_layer(table: str = "ed_hydrants", slug: str = SLUG, visibility: str = "internal") -> Layer:
    """A small point layer in TWD97 / TM2 with a text, an integer, a number and a date attribute."""
    with connection.cursor() as cur:
        cur.execute(f"CREATE TABLE layerdata.{table} (fid serial PRIMARY KEY, name text, pressure_kpa double "
                    "precision, outlets integer, checked_on date, geom geometry(Point, 3826))")
        cur.execute(f"INSERT INTO layerdata.{table} (name, pressure_kpa, outlets, checked_on, geom) VALUES "
                    "('A', 300, 2, '2025-01-02', ST_Transform(ST_SetSRID(ST_MakePoint(121.30, 24.99), 4326), 3826)),"
                    "('B', 280, 1, NULL, ST_Transform(ST_SetSRID(ST_MakePoint(121.31, 25.00), 4326), 3826))")
        cur.execute(f"SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM (SELECT ST_Extent(geom) e "
                    f"FROM layerdata.{table}) s")
        native = cur.fetchone()[0]
    agency = Group.objects.get_or_create(name="消防局")[0]
    return Layer.objects.create(slug=slug, title_zh="消防栓", table_name=table, kind="vector", srid=3826,
                                geometry_type="Point", feature_count=2, native_extent=native, owner_agency=agency,
                                visibility=visibility,
                                attributes=[{"name": n, "type": t} for n, t in (
                                    ("name", "text"), ("pressure_kpa", "double precision"), ("outlets", "integer"),
                                    ("checked_on", "date"))])


@pytest.fixture
def layer(db):
    return _make_layer()


@pytest.fixture
def editor(layer):
    user = User.objects.create_user("ed-fire", password="pw")
    user.groups.add(layer.owner_agency)
    return user


def client(user=None) -> APIClient:
    c = APIClient()
    if user:
        c.force_authenticate(user)
    return c


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def test_create_update_delete_with_versions_history_and_catalog(layer, editor):
    c = client(editor)
    made = c.post(URL, {"type": "Feature", "geometry": point(121.35, 25.02),
                        "properties": {"name": "新栓", "pressure_kpa": 310.5, "outlets": 2,
                                       "checked_on": "2026-03-01"}}, format="json")
    assert made.status_code == 201, made.content
    fid = made.json()["id"]
    assert made["ETag"] == '"1"' and made["Location"].endswith(f"{URL}{fid}/")
    assert made.json()["properties"]["checked_on"] == "2026-03-01"
    layer.refresh_from_db()
    assert layer.feature_count == 3 and layer.native_extent[2] > 270_000  # grown east to the new point
    lon_max = layer.extent.extent[2]
    assert lon_max == pytest.approx(121.35, abs=1e-3)

    read = c.get(f"{URL}{fid}/")
    assert read["ETag"] == '"1"'
    moved = c.patch(f"{URL}{fid}/", {"geometry": point(121.32, 25.0), "properties": {"outlets": 3}}, format="json",
                    HTTP_IF_MATCH=read["ETag"])
    assert moved.status_code == 200 and moved["ETag"] == '"2"'
    assert moved.json()["properties"] == {"name": "新栓", "pressure_kpa": 310.5, "outlets": 3,
                                          "checked_on": "2026-03-01"}
    layer.refresh_from_db()
    assert layer.extent.extent[2] == pytest.approx(121.32, abs=1e-3)  # it touched the edge: measured again

    gone = c.delete(f"{URL}{fid}/?version=2")
    assert gone.status_code == 200 and gone.json()["deleted"] and gone.json()["version"] == 3
    assert c.get(f"{URL}{fid}/").status_code == 404
    layer.refresh_from_db()
    assert layer.feature_count == 2

    history = c.get(f"{URL}{fid}/history/").json()
    assert [h["action"] for h in history["changes"]] == ["delete", "update", "create"]
    assert history["changes"][1]["before"]["properties"]["outlets"] == 2
    assert history["changes"][1]["after"]["geometry"]["coordinates"] == [121.32, 25.0]
    assert all(h["user"] == "ed-fire" for h in history["changes"])

    back = c.post(f"{URL}{fid}/restore/", {"to_version": 1, "version": 3}, format="json")
    assert back.status_code == 200, back.content
    assert back.json()["version"] == 4 and back.json()["properties"]["outlets"] == 2
    assert back.json()["geometry"]["coordinates"] == [121.35, 25.02]
    layer.refresh_from_db()
    assert layer.feature_count == 3
    assert FeatureChange.objects.get(layer=layer, fid=fid, version=4).restored_from == 1


def test_every_change_is_in_the_audit_log(layer, editor, django_capture_on_commit_callbacks):
    c = client(editor)
    with django_capture_on_commit_callbacks(execute=True):
        fid = c.post(URL, {"geometry": point(121.3, 24.99), "properties": {"name": "X"}}, format="json").json()["id"]
        c.patch(f"{URL}{fid}/", {"properties": {"name": "Y"}, "version": 1}, format="json")
        c.post(f"{URL}{fid}/restore/", {"to_version": 1, "version": 2}, format="json")
        c.delete(f"{URL}{fid}/", HTTP_IF_MATCH='"3"')
    entries = AuditEntry.objects.filter(object_type="layer", object_label=SLUG).order_by("seq")
    assert [(e.action, e.detail["fid"], e.detail["version"]) for e in entries] == [
        ("feature_create", fid, 1), ("feature_update", fid, 2), ("feature_restore", fid, 3),
        ("feature_delete", fid, 4)]
    assert {e.actor_name for e in entries} == {"ed-fire"}


def test_a_feature_never_edited_is_version_0_and_can_be_restored_to_its_imported_state(layer, editor):
    c = client(editor)
    assert c.get(f"{URL}1/")["ETag"] == '"0"'
    assert c.get(f"{URL}1/history/").json() == {"fid": 1, "version": 0, "changes": []}
    assert c.patch(f"{URL}1/", {"properties": {"name": "A2"}}, format="json", HTTP_IF_MATCH='"0"').status_code == 200
    restored = c.post(f"{URL}1/restore/", {"to_version": 0}, format="json", HTTP_IF_MATCH='"1"').json()
    assert restored["properties"]["name"] == "A" and restored["version"] == 2


BAD_EDITS = [
    ({"properties": {"colour": "red"}}, "colour"),
    ({"properties": {"outlets": "two"}}, "outlets"),
    ({"properties": {"outlets": 2.5}}, "outlets"),
    ({"properties": {"outlets": 2**40}}, "outlets"),
    ({"properties": {"name": "a\x00b"}}, "name"),
    ({"properties": {"pressure_kpa": True}}, "pressure_kpa"),
    ({"properties": {"checked_on": "yesterday"}}, "checked_on"),
    ({"properties": {"name": 5}}, "name"),
    ({"geometry": {"type": "LineString", "coordinates": [[121.3, 25], [121.4, 25]]}}, "LineString"),
    ({"geometry": {"type": "Point", "coordinates": [250000, 2760000]}}, "EPSG:4326"),
    ({"geometry": {"type": "Point"}}, "GeoJSON"),
    ({"geometry": "POINT(121 25)"}, "GeoJSON"),
    ({}, "geometry"),
]


def test_bad_input_is_a_400_naming_the_problem_and_changes_nothing(layer, editor):
    for body, named in BAD_EDITS:
        answer = client(editor).patch(f"{URL}1/", {**body, "version": 0}, format="json")
        assert answer.status_code == 400 and named in answer.json()["detail"], (body, answer.content)
        assert "Traceback" not in answer.content.decode() and "/work" not in answer.content.decode()
    assert not FeatureChange.objects.exists()
    assert client(editor).get(f"{URL}1/").json()["properties"]["name"] == "A"


def test_invalid_polygon_and_missing_version_are_refused(editor, layer):
    with connection.cursor() as cur:
        # as the importer makes them: fid numbered by the loader, no default
        cur.execute("CREATE TABLE layerdata.ed_zones (fid integer NOT NULL PRIMARY KEY, name text, "
                    "geom geometry(MultiPolygon, 3826)); INSERT INTO layerdata.ed_zones VALUES (7, 'old', NULL)")
    Layer.objects.create(slug="ed-zones", title_zh="管制區", table_name="ed_zones", srid=3826,
                         owner_agency=layer.owner_agency)
    bowtie = {"type": "Polygon", "coordinates": [[[121.3, 25], [121.31, 25.01], [121.31, 25], [121.3, 25.01],
                                                  [121.3, 25]]]}
    c = client(editor)
    refused = c.post("/api/v1/layers/ed-zones/features/", {"geometry": bowtie}, format="json")
    assert refused.status_code == 400 and "Self-intersection" in refused.json()["detail"]
    square = {"type": "Polygon", "coordinates": [[[121.3, 25], [121.31, 25], [121.31, 25.01], [121.3, 25]]]}
    made = c.post("/api/v1/layers/ed-zones/features/", {"geometry": square, "properties": {"name": "Z"}},
                  format="json")
    assert made.status_code == 201 and made.json()["geometry"]["type"] == "MultiPolygon"  # promoted to the layer's
    assert made.json()["id"] == 8  # numbered after the imported rows
    assert c.post("/api/v1/layers/ed-zones/features/", {"geometry": square}, format="json").json()["id"] == 9
    assert Layer.objects.get(slug="ed-zones").feature_count == 2
    unversioned = c.patch(f"{URL}1/", {"properties": {"name": "Q"}}, format="json")
    assert unversioned.status_code == 400 and "If-Match" in unversioned.json()["detail"]


def test_rights_404_for_the_unseen_403_for_the_seen_but_not_editable(layer, editor):
    outsider = User.objects.create_user("ed-other", password="pw")
    admin = User.objects.create_superuser("ed-admin", password="pw")
    body = {"properties": {"name": "forged"}, "version": 0}
    assert client().patch(f"{URL}1/", body, format="json").status_code == 404  # internal: anonymous sees nothing
    assert client(outsider).patch(f"{URL}1/", body, format="json").status_code == 403
    assert client(outsider).post(URL, {"geometry": point(121.3, 25)}, format="json").status_code == 403
    assert client(outsider).delete(f"{URL}1/?version=0").status_code == 403
    assert client(outsider).post(f"{URL}1/restore/", {"to_version": 0}, format="json").status_code == 403
    Layer.objects.filter(pk=layer.pk).update(visibility="restricted")
    hidden = client(outsider).patch(f"{URL}1/", body, format="json")
    missing = client(outsider).patch("/api/v1/layers/ed-nowhere/features/1/", body, format="json")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.replace(SLUG.encode(), b"?") == missing.content.replace(b"ed-nowhere", b"?")
    assert client(admin).patch(f"{URL}1/", body, format="json").status_code == 200
    assert not FeatureChange.objects.exclude(username="ed-admin").exists()


def test_a_stale_version_is_a_409_with_both_versions(layer, editor):
    c = client(editor)
    assert c.patch(f"{URL}2/", {"properties": {"name": "first"}, "version": 0}, format="json").status_code == 200
    stale = c.patch(f"{URL}2/", {"properties": {"name": "second"}, "version": 0}, format="json")
    assert stale.status_code == 409
    body = stale.json()
    assert body["theirs"] == {"version": 0} and body["current"]["version"] == 1
    assert body["current"]["feature"]["properties"]["name"] == "first" and body["last_change"]["user"] == "ed-fire"
    assert c.delete(f"{URL}2/?version=0").status_code == 409
    assert c.delete(f"{URL}2/?version=1").status_code == 200
    after_delete = c.patch(f"{URL}2/", {"properties": {"name": "late"}, "version": 1}, format="json")
    assert after_delete.status_code == 409 and after_delete.json()["current"]["deleted"] is True
    assert c.patch(f"{URL}99/", {"properties": {"name": "x"}, "version": 0}, format="json").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_clients_at_once_one_wins_the_other_gets_a_conflict():
    """Two editors PATCH the same feature from version 0 at the same moment, each on its own connection: exactly
    one succeeds, the other gets 409 naming version 1; nothing is lost."""
    from django.db import connections

    layer = _make_layer("ed_race", "ed-race", "internal")
    try:
        users = [User.objects.create_user(f"ed-racer{i}", password="pw") for i in range(2)]
        for user in users:
            user.groups.add(layer.owner_agency)
        start, answers = threading.Barrier(2), {}

        def edit(i):
            try:
                start.wait()
                answers[i] = client(users[i]).patch("/api/v1/layers/ed-race/features/1/",
                                                    {"properties": {"name": f"racer {i}"}, "version": 0},
                                                    format="json")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=edit, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(a.status_code for a in answers.values())
        assert statuses == [200, 409], [a.content for a in answers.values()]
        loser = next(a for a in answers.values() if a.status_code == 409).json()
        winner = next(a for a in answers.values() if a.status_code == 200).json()
        assert loser["theirs"]["version"] == 0 and loser["current"]["version"] == 1
        assert loser["current"]["feature"]["properties"]["name"] == winner["properties"]["name"]
        assert list(FeatureChange.objects.filter(layer=layer).values_list("version", flat=True)) == [1]
    finally:
        Layer.objects.filter(pk=layer.pk).delete()
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS layerdata.ed_race")
