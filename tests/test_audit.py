"""The audit log: every action recorded with who, from where, what and how many; the hash chain detects tampering,
survives concurrent appends and pruning; only auditors read it, and it reveals nothing to anyone else.

Transactional tests: entries are appended when the recorded change commits, as in production.
"""

import csv
import io
import threading
from datetime import timedelta

import importfiles as files
import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from audit import chain, reads
from audit.models import AuditChain, AuditEntry
from geo.counters import client as redis_client
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import publishing
from layers.serving import usage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clean_counts_and_tables():
    """Counters of this test only; layer tables removed afterwards (a transactional test keeps what it made)."""
    for key in redis_client().scan_iter("civgis:audit-reads:*"):
        redis_client().delete(key)
    # an earlier test's server or worker (another connection: never rolled back) may have left entries
    AuditEntry.objects.all().delete()
    AuditChain.objects.all().delete()
    yield
    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")


@pytest.fixture
def people():
    land, transport = Group.objects.create(name="地政局"), Group.objects.create(name="交通局")
    clerk = User.objects.create_user("clerk", password="pw")
    clerk.groups.add(land)
    driver = User.objects.create_user("driver", password="pw")
    driver.groups.add(transport)
    staff = User.objects.create_user("staffer", password="pw", is_staff=True)
    admin = User.objects.create_superuser("admin", password="pw")
    auditor = User.objects.create_user("auditor", password="pw")
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    return {"clerk": clerk, "driver": driver, "staff": staff, "admin": admin, "auditor": auditor,
            "land": land, "transport": transport}


def csv_layer(tmp_path, slug, visibility, agency):
    path = tmp_path / f"{slug}.csv"
    path.write_bytes(files.csv_bytes(["name", "lon", "lat", "rank"],
                                     [["桃園車站", 121.313, 24.989, 12], ["中壢車站", 121.2256, 24.9537, 7]]))
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "visibility": visibility,
                                                  "owner_agency": agency.pk}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


@pytest.fixture
def layers(tmp_path, people):
    return {"public": csv_layer(tmp_path, "bus-stops", "public", people["land"]),
            "restricted": csv_layer(tmp_path, "land-secret", "restricted", people["land"])}


def as_user(user=None, address="10.1.2.3", **headers) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **headers)
    if user:
        client.force_authenticate(user)
    return client


def entries(**filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("seq"))


def one(**filters) -> AuditEntry:
    found = entries(**filters)
    assert len(found) == 1, [(e.action, e.object_label, e.detail) for e in AuditEntry.objects.order_by("seq")]
    return found[0]


def drafts(n: int, **kwargs) -> list[chain.Draft]:
    return [chain.Draft(action="change", actor_name="tester", object_type="layer", object_label=f"layer-{i}",
                        detail={"i": i, "ratio": 0.1 * i, "big": 1e20, "name": "桃園"}, **kwargs) for i in range(n)]


# --- the chain ---------------------------------------------------------------------------------------------------

def test_tampering_by_update_or_delete_is_detected_and_the_entry_named():
    chain.append(drafts(6))
    assert chain.verify() | {"head_hash": None} == {"valid": True, "checked": 6, "first_seq": 1, "last_seq": 6,
                                                       "head_hash": None, "problem": None}
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET detail = jsonb_set(detail, '{i}', '99') WHERE seq = 3")
    report = chain.verify()
    assert not report["valid"] and report["problem"]["seq"] == 3 and "changed" in report["problem"]["reason"]
    assert report["checked"] == 2
    # whoever also recomputes that entry's hash breaks the next entry's link
    changed = AuditEntry.objects.get(seq=3)
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET hash = %s WHERE seq = 3", [chain.digest(changed.prev_hash, changed)])
    problem = chain.verify()["problem"]
    assert problem["seq"] == 4 and "link" in problem["reason"]


def test_a_deleted_middle_or_last_entry_is_detected():
    chain.append(drafts(5))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditentry WHERE seq = 2")
    problem = chain.verify()["problem"]
    assert problem["seq"] == 2 and "missing" in problem["reason"]
    AuditEntry.objects.all().delete()
    AuditChain.objects.all().delete()
    chain.append(drafts(4))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditentry WHERE seq = 4")
    problem = chain.verify()["problem"]
    assert problem["seq"] == 4 and "end of the chain" in problem["reason"]


def test_concurrent_appends_from_several_connections_keep_one_chain():
    errors = []

    def append_many(worker: int):
        try:
            for i in range(15):
                chain.append([chain.Draft(action="read", actor_name=f"worker-{worker}", detail={"i": i})])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=append_many, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = chain.verify()
    assert report["valid"] and report["checked"] == 90, report
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 91))


def test_pruning_removes_old_entries_and_what_remains_verifies():
    now = timezone.now()
    chain.append(drafts(3, time=now - timedelta(days=400)) + drafts(2, time=now - timedelta(days=100))
                 + drafts(2, time=now - timedelta(days=1)))
    assert chain.prune(days=365) == 3
    report = chain.verify()
    assert report["valid"], report
    assert report["first_seq"] == 4 and report["checked"] == 5  # 4 kept + the prune's own entry
    pruned = one(action="prune")
    assert pruned.count == 3 and pruned.detail["retention_days"] == 365
    # a broken part is never pruned away
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET actor_name = 'someone else' WHERE seq = 5")
    with pytest.raises(chain.ChainBroken, match="entry 5 was changed"):
        chain.prune(days=30)
    assert AuditEntry.objects.filter(seq=5).exists()


def test_counts_left_staged_by_a_crashed_flush_are_not_lost():
    """A flush that died between staging and storing left `…-flushing` behind: later flushes store it and the
    counts that came after it (before, the staged copy blocked its month's counts for good)."""
    from layers.models import LayerUsage

    Layer.objects.create(slug="roads", title_zh="道路")
    redis_client().delete(*redis_client().keys("civgis:usage:*") or ["none"])
    redis_client().hset("civgis:usage:2026-01-flushing", "roads|tile", 4)
    usage.count("roads", "tile")
    month = timezone.localdate().strftime("%Y-%m")
    assert usage.pending() == {("2026-01", "roads", "tile"): 4, (month, "roads", "tile"): 1}
    usage.flush()
    usage.flush()
    assert {(u.month.strftime("%Y-%m"), u.count) for u in LayerUsage.objects.all()} == {("2026-01", 4), (month, 1)}
    assert usage.pending() == {}


# --- what is recorded --------------------------------------------------------------------------------------------

def test_reads_are_counted_per_actor_address_layer_and_kind(layers, people, settings):
    settings.AUDIT_TRUSTED_PROXIES = 1
    reads.flush()  # what earlier modules' servers counted in the shared Redis is theirs, not this test's
    behind_proxy = as_user(people["clerk"], address="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 172.16.5.9")
    for _ in range(7):
        assert behind_proxy.get("/api/v1/layers/land-secret/features/?limit=1").status_code == 200
    tiles = APIClient(REMOTE_ADDR="203.0.113.9")
    for x in range(5):
        tiles.get(f"/tiles/bus-stops/14/{13660 + x}/7000.mvt")
    tiles.get("/tiles/bus-stops.json")
    tiles.get("/tiles/land-secret/14/0/0.mvt")  # not visible: a 404, no read of it
    token = APIClient().post("/api/v1/auth/token/", {"username": "driver", "password": "pw"}).json()["token"]
    APIClient(REMOTE_ADDR="198.51.100.7", HTTP_AUTHORIZATION=f"Token {token}").get("/tiles/bus-stops/14/1/1.mvt")
    assert reads.flush() == 4
    clerk_reads = one(action="read", actor_name="clerk")
    assert (clerk_reads.count, clerk_reads.address, clerk_reads.object_label, clerk_reads.object_id,
            clerk_reads.detail["kind"]) == (7, "172.16.5.9", "land-secret", str(layers["restricted"].pk), "features")
    assert clerk_reads.time.minute == 0 and clerk_reads.actor_id == people["clerk"].pk
    anonymous = {e.detail["kind"]: e for e in entries(action="read", actor_id=None)}
    assert {k: (e.count, e.address, e.object_label) for k, e in anonymous.items()} == {
        "tile": (5, "203.0.113.9", "bus-stops"), "metadata": (1, "203.0.113.9", "bus-stops")}
    token_read = one(action="read", actor_name="driver")  # a token on a plain view is the driver, not anonymous
    assert (token_read.count, token_read.address) == (1, "198.51.100.7")
    assert not entries(action="read", object_label="land-secret", actor_id=None)
    assert chain.verify()["valid"]


def test_an_analysis_reading_a_layer_is_a_read_of_it(layers, people):
    clerk = as_user(people["clerk"])
    body = {"geometry": {"type": "Point", "coordinates": [121.3, 24.99]}, "crs": 4326, "distances": [300],
            "layers": ["bus-stops", "land-secret", "bus-stops"]}
    assert clerk.post("/api/v1/analysis/buffer/", body, format="json").status_code == 200
    reads.flush()
    analysed = {e.object_label: e for e in entries(action="read", actor_name="clerk") if e.detail["kind"] == "analysis"}
    assert set(analysed) == {"bus-stops", "land-secret"} and all(e.count >= 1 for e in analysed.values())
    assert chain.verify()["valid"]


def test_changes_exports_and_sign_ins_are_entries_at_once(layers, people, tmp_path):
    clerk, admin = as_user(people["clerk"]), as_user(people["admin"], address="10.9.9.9")
    created = one(action="create", object_label="bus-stops")
    assert created.detail == {"kind": "vector", "visibility": "public"}
    imported = one(action="import", object_label="bus-stops")
    assert imported.detail["features"] == 2 and imported.detail["source"] == "bus-stops.csv"
    assert imported.actor_name == "system"  # a job started without a user (as the batch folder does)
    assert clerk.patch("/api/v1/layers/bus-stops/", {"title_zh": "公車站", "abstract": "x"},
                       format="json").status_code == 200
    change = one(action="change", object_label="bus-stops")
    assert (change.actor_name, change.address, change.object_id, change.detail["fields"]) == (
        "clerk", "10.1.2.3", str(layers["public"].pk), ["abstract", "title_zh"])
    assert clerk.patch("/api/v1/layers/bus-stops/", {"visibility": "internal"}, format="json").status_code == 200
    assert one(action="permission_change", object_label="bus-stops").detail["fields"] == ["visibility"]
    assert clerk.put("/api/v1/layers/bus-stops/style/", {"kind": "single"}, format="json").status_code == 200
    assert one(action="change", object_label="bus-stops", detail__part="style").actor_name == "clerk"
    # a refused change is no entry
    assert as_user(people["driver"]).delete("/api/v1/layers/land-secret/").status_code == 404
    resp = clerk.get("/api/v1/layers/land-secret/download/?format=csv&rank__gt=8")
    assert resp.status_code == 200
    b"".join(resp.streaming_content)
    export = one(action="export", object_label="land-secret")
    assert export.detail["query"] == {"format": "csv", "rank__gt": "8"} and export.actor_name == "clerk"
    assert not entries(action="read", object_label="land-secret")  # an export, not also a read
    layer_id = layers["restricted"].pk
    assert admin.delete("/api/v1/layers/land-secret/").status_code == 204
    deleted = one(action="delete")
    assert (deleted.object_id, deleted.object_label, deleted.address) == (str(layer_id), "land-secret", "10.9.9.9")
    marker = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.3, 24.99]},
              "properties": {"title": "積水"}}
    made = clerk.post("/api/v1/markers/", marker, format="json")
    assert one(action="create", object_type="marker").object_id == str(made.json()["id"])
    shared = clerk.post("/api/v1/views/", {"state": {"center": [121.3, 24.99], "zoom": 12, "layers": []}},
                        format="json")
    assert shared.status_code == 201, shared.content
    assert one(action="create", object_type="shared_view").object_id == shared.json()["code"]
    garbled = clerk.post("/api/v1/views/", b"{}", content_type="application/json", CONTENT_LENGTH="abc")
    assert garbled.status_code == 400  # Django reads the body as empty; the audit's look at it must not fail
    assert publishing.apply("bus-stops", publishing.WITHDRAW) == "withdrawn"
    assert one(action="withdraw", object_label="bus-stops").detail["change"] == "withdraw"
    # sign-ins: token and session, success and failure
    APIClient(REMOTE_ADDR="192.0.2.1").post("/api/v1/auth/token/", {"username": "clerk", "password": "pw"})
    APIClient(REMOTE_ADDR="192.0.2.2").post("/api/v1/auth/token/", {"username": "clerk", "password": "nope"})
    APIClient(REMOTE_ADDR="192.0.2.3").post("/sign-in/", {"username": "driver", "password": "pw"})
    APIClient(REMOTE_ADDR="192.0.2.4").post("/sign-in/", {"username": "=cmd|' /C calc'!A0", "password": "x"})
    signed = {(e.action, e.actor_name, e.address, e.detail["method"])
              for e in entries(action__in=["sign_in", "sign_in_failed"])}
    assert signed == {("sign_in", "clerk", "192.0.2.1", "token"), ("sign_in_failed", "clerk", "192.0.2.2", "token"),
                      ("sign_in", "driver", "192.0.2.3", "session"),
                      ("sign_in_failed", "=cmd|' /C calc'!A0", "192.0.2.4", "session")}
    people["driver"].groups.add(people["land"])
    grant = entries(action="permission_change", object_type="user", object_label="driver")[-1]
    assert grant.detail == {"relation": "User_groups", "change": "add", "ids": [people["land"].pk]}
    assert chain.verify()["valid"]


# --- the API -----------------------------------------------------------------------------------------------------

AUDIT_ROUTES = ["/api/v1/audit/", "/api/v1/audit/export.csv", "/api/v1/audit/verify/",
                "/api/v1/audit/?layer=land-secret", "/api/v1/audit/export.csv?layer=land-secret"]


def test_only_auditors_read_the_log_others_get_a_missing_route(layers, people):
    as_user(people["clerk"]).get("/api/v1/layers/land-secret/features/")
    missing = APIClient().get("/api/v1/no-such-route/")
    assert missing.status_code == 404
    token = APIClient().post("/api/v1/auth/token/", {"username": "driver", "password": "pw"}).json()["token"]
    outsiders = [APIClient(), as_user(people["clerk"]), as_user(people["driver"]), as_user(people["staff"]),
                 APIClient(HTTP_AUTHORIZATION=f"Token {token}")]
    session = APIClient()
    session.force_login(people["clerk"])  # the viewer's way in
    for client in [*outsiders, session]:
        for route in AUDIT_ROUTES:
            resp = client.get(route)
            assert (resp.status_code, resp.content, resp["Content-Type"]) == (
                missing.status_code, missing.content, missing["Content-Type"]), route
            assert b"land-secret" not in resp.content
    for user in ("admin", "auditor"):
        assert as_user(people[user]).get("/api/v1/audit/verify/").json()["valid"] is True


def test_the_log_is_filtered_paged_and_exported_as_csv(layers, people):
    clerk = as_user(people["clerk"], address="10.20.1.5")
    for _ in range(3):
        clerk.get("/api/v1/layers/bus-stops/features/?limit=1")
    clerk.patch("/api/v1/layers/bus-stops/", {"title_zh": "公車站"}, format="json")
    admin = as_user(people["admin"])
    body = admin.get("/api/v1/audit/?actor=clerk&layer=bus-stops").json()  # the reads are flushed by the query
    assert [(e["action"], e["count"]) for e in body["results"]] in (
        [("change", 1), ("read", 3)], [("read", 3), ("change", 1)])
    assert body["count"] == 2
    assert admin.get(f"/api/v1/audit/?actor={people['clerk'].pk}&action=read").json()["results"][0]["count"] == 3
    assert admin.get("/api/v1/audit/?address=10.20.0.0/16").json()["count"] == 2
    assert admin.get("/api/v1/audit/?address=10.21.0.0/16").json()["count"] == 0
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert admin.get(f"/api/v1/audit/?from={tomorrow}").json()["count"] == 0
    assert admin.get(f"/api/v1/audit/?to={tomorrow}&action=change").json()["count"] == 1
    page = admin.get("/api/v1/audit/?limit=1").json()
    assert len(page["results"]) == 1 and page["next"]
    bad = admin.get("/api/v1/audit/?from=yesterday")
    assert bad.status_code == 400 and "from" in bad.json()
    assert admin.get("/api/v1/audit/?address=10.20.x").status_code == 400
    resp = admin.get("/api/v1/audit/export.csv?layer=bus-stops")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    text = b"".join(resp.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:6] == ["序號", "時間", "使用者編號", "使用者", "來源位址", "動作"]
    assert rows.count(rows[0]) == 1  # the header once
    by_action = {row[5]: row for row in rows[1:]}
    assert by_action["read"][9] == "3" and by_action["change"][3] == "clerk"
    english = admin.get("/api/v1/audit/export.csv", HTTP_ACCEPT_LANGUAGE="en")
    assert b"".join(english.streaming_content).decode("utf-8-sig").startswith("Seq,Time,User id,User,Address")


def test_csv_keeps_formulas_as_text(people):
    APIClient().post("/sign-in/", {"username": "=HYPERLINK(\"http://x\")", "password": "x"})
    text = b"".join(as_user(people["admin"]).get("/api/v1/audit/export.csv").streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_batched_entries_are_appended_together_after_the_commit_and_rolled_back_ones_never(monkeypatch):
    from django.db import transaction

    from audit import actors, events

    appends = []
    real_append = chain.append
    monkeypatch.setattr(chain, "append", lambda drafts: appends.append(len(drafts)) or real_append(drafts))
    with events.batched(run=7), transaction.atomic():
        for i in range(5):
            events.record("change", actors.SYSTEM, object_type="layer", object_id=i, object_label=f"layer-{i}")
            assert not appends  # nothing before the commit
        try:
            with transaction.atomic():  # a part rolled back (a savepoint) did not happen
                events.record("delete", actors.SYSTEM, object_type="layer", object_label="never")
                raise RuntimeError
        except RuntimeError:
            pass
    assert appends == [5]
    assert [(e.object_label, e.detail) for e in entries()] == [(f"layer-{i}", {"run": 7}) for i in range(5)]
    try:
        with events.batched(), transaction.atomic():
            events.record("change", actors.SYSTEM, object_type="layer", object_label="rolled-back")
            raise RuntimeError
    except RuntimeError:
        pass
    events.record("sign_in", actors.SYSTEM)  # outside a batch: on its own, at once
    assert appends == [5, 1] and chain.verify()["valid"] and chain.verify()["checked"] == 6
