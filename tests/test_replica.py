"""Reads on a real PostgreSQL streaming replica, writes on the primary, read-your-writes (geo/dbrouter.py).

The module starts a hot standby of the test stack's cluster once (pg_basebackup -R, ~1–2 s; the test database is in
it) and gives Django a `replica` alias for it; the last test stops it. Replication is made visible by pausing the
standby's replay (pg_wal_replay_pause): what the primary has and the replica has not yet shows who reads where.
"""

import re
import time
from pathlib import Path

import pytest
from conftest import tile_of
from django.contrib.auth.models import User
from django.db import connections, router, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from test_feature_editing import _make_layer as make_hydrants

from geo import dbrouter
from geo.counters import client as redis_client
from geo.dbrouter import PRIMARY, REPLICA
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer

ALL = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    """A streaming replica of the test database's cluster, as Django's `replica` alias (a test mirror of `default`:
    never flushed, no test database made on it)."""
    from geo.localstack import PostgresCluster, ReplicaCluster

    primary_settings = connections[PRIMARY].settings_dict
    sockdir = Path(primary_settings["HOST"])
    cluster = ReplicaCluster(PostgresCluster(sockdir.parent, int(primary_settings["PORT"])))
    started = time.monotonic()
    cluster.start()
    print(f"replica started in {time.monotonic() - started:.1f} s")
    before = connections.settings.get(REPLICA)
    connections.settings[REPLICA] = {
        **primary_settings, "HOST": str(cluster.sockdir), "PORT": cluster.port,
        "TEST": {**primary_settings["TEST"], "MIRROR": PRIMARY}}
    _forget_replica_connection()
    with django_db_blocker.unblock():
        dbrouter.replica_status(refresh=True)
    try:
        yield cluster
    finally:
        _forget_replica_connection()
        if before is None:
            del connections.settings[REPLICA]
        else:
            connections.settings[REPLICA] = before
        cluster.stop()


def _forget_replica_connection():
    if hasattr(connections._connections, REPLICA):  # noqa: SLF001 - a wrapper made for other settings
        connections[REPLICA].close()
        del connections[REPLICA]


@pytest.fixture
def lenient(settings):
    """The lag a paused replay builds up stays below the fallback threshold while a test looks at it; /api/health
    answers without waiting for a Celery worker."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 300
    settings.CELERY_TASK_ALWAYS_EAGER = True
    dbrouter.replica_status(refresh=True)


def wait_replayed(timeout: float = 20.0) -> None:
    """Until the replica has replayed everything committed on the primary so far (the insert position: with
    synchronous_commit off a commit may not be written yet); the window after the setup's rights changes (a user
    added to a group) then ends, as it would DATABASE_READ_YOUR_WRITES_SECONDS later."""
    redis_client().delete(getattr(dbrouter, "RIGHTS_KEY", "-"))
    with connections[PRIMARY].cursor() as cur:
        cur.execute("SELECT pg_current_wal_insert_lsn()::text")
        target = cur.fetchone()[0]
    deadline = time.monotonic() + timeout
    while True:
        with connections[REPLICA].cursor() as cur:
            cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cur.fetchone()[0]:
                return
        assert time.monotonic() < deadline, f"the replica did not replay up to {target} in {timeout:.0f} s"
        time.sleep(0.05)


class paused_replay:  # noqa: N801 - used as a `with` statement
    def __enter__(self):
        with connections[REPLICA].cursor() as cur:
            cur.execute("SELECT pg_wal_replay_pause()")

    def __exit__(self, *exc):
        with connections[REPLICA].cursor() as cur:
            cur.execute("SELECT pg_wal_replay_resume()")


def hydrants(slug: str) -> Layer:
    """A small internal point layer of an agency (features A and B), committed on the primary."""
    return make_hydrants(slug.replace("-", "_"), slug, "internal")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def people(prefix: str, layer: Layer):
    writer = User.objects.create_user(f"{prefix}-writer", password="pw")
    writer.groups.add(layer.owner_agency)
    reader = User.objects.create_user(f"{prefix}-reader", password="pw")
    return writer, reader


def names(response) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {f["properties"]["name"] for f in response.json()["features"]}


def served_from(call, touching: str = r"layerdata|layers_layer"):
    """(the answer, the aliases whose connection ran a query `touching` a layer table or the catalog)."""
    captured = {alias: CaptureQueriesContext(connections[alias]) for alias in (PRIMARY, REPLICA)}
    for context in captured.values():
        context.__enter__()
    try:
        answer = call()
    finally:
        for context in captured.values():
            context.__exit__(None, None, None)
    return answer, {alias for alias, context in captured.items()
                    if any(re.search(touching, q["sql"]) for q in context.captured_queries)}


@ALL
def test_reads_come_from_the_replica_after_replication_and_writes_from_the_primary(standby):
    layer = hydrants("rp-basic")
    writer, reader = people("rp-basic", layer)
    url = f"/api/v1/layers/{layer.slug}/features/"
    wait_replayed()
    answer, used = served_from(lambda: signed_in(reader).get(url))
    assert names(answer) == {"A", "B"} and used == {REPLICA}
    with connections[PRIMARY].cursor() as cur:  # written on the primary by someone else (another server)
        cur.execute("INSERT INTO layerdata.rp_basic (name, geom) VALUES ('C', ST_Transform(ST_SetSRID("
                    "ST_MakePoint(121.305, 24.995), 4326), 3826))")
    wait_replayed()
    answer, used = served_from(lambda: signed_in(reader).get(url))
    assert names(answer) == {"A", "B", "C"} and used == {REPLICA}
    # vector tiles and search read there too
    answer, used = served_from(lambda: signed_in(reader).get(f"/tiles/{layer.slug}/0/0/0.mvt"))
    assert answer.status_code in (200, 204) and used == {REPLICA}

    # a write goes to the primary, and so does every read of the request after it, and inside a transaction
    seen = {}

    def view(request):
        seen["before"] = dbrouter.read_alias()
        with transaction.atomic():
            seen["in_transaction"] = dbrouter.read_alias()
        Layer.objects.filter(pk=layer.pk).update(title_en="Hydrants")
        seen["after_write"] = dbrouter.read_alias()
        from django.http import HttpResponse

        return HttpResponse()

    request = RequestFactory().get("/")
    request.user = reader
    dbrouter.ReadRoutingMiddleware(view)(request)
    assert seen == {"before": REPLICA, "in_transaction": PRIMARY, "after_write": PRIMARY}
    assert dbrouter.read_alias() == PRIMARY  # outside a request (a Celery task, a command): the primary


@ALL
def test_the_writer_reads_their_edit_at_once_while_others_see_it_once_replicated(standby, lenient):
    from layers.ogc import publishing

    layer = hydrants("rp-edit")
    publishing.apply(layer.slug, publishing.PUBLISH)  # into MapServer's map: WFS reads it too
    writer, reader = people("rp-edit", layer)
    url = f"/api/v1/layers/{layer.slug}/features/"
    wfs = f"/ows?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetFeature&TYPENAME={layer.slug}&RESULTTYPE=hits"
    tile = "/tiles/{}/12/{}/{}.mvt".format(layer.slug, *tile_of(121.305, 24.995, 12))
    assert signed_in(reader).get(tile).status_code == 200  # in the tile cache now
    wait_replayed()
    writing = signed_in(writer)  # the writer's browser
    elsewhere = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=writer).key}")  # their script
    try:
        with paused_replay():
            made = writing.post(url, {"geometry": {"type": "Point", "coordinates": [121.305, 24.995]},
                                      "properties": {"name": "新栓"}}, content_type="application/json")
            assert made.status_code == 201, made.content
            assert dbrouter.PIN_COOKIE in made.cookies
            answer, used = served_from(lambda: writing.get(url))  # pinned by the cookie
            assert "新栓" in names(answer) and used == {PRIMARY}
            answer, used = served_from(lambda: elsewhere.get(url))  # pinned by the user's key in Redis (a DRF token)
            assert "新栓" in names(answer) and used == {PRIMARY}
            answer, used = served_from(lambda: signed_in(reader).get(url))
            assert names(answer) == {"A", "B"} and used == {REPLICA}  # not yet replayed there
            # the edit emptied the tile from the cache: drawn again for the reader, from the primary (else the old
            # tile would go back into the cache for everyone)
            assert served_from(lambda: signed_in(reader).get(tile), touching="layerdata")[1] == {PRIMARY}
            # a capabilities document built moments after a catalog change (the edit's new count and extent) is
            # kept for everyone: built from the primary
            capabilities = "/ows?SERVICE=WFS&VERSION=1.1.0&REQUEST=GetCapabilities"
            assert served_from(lambda: signed_in(reader).get(capabilities), touching="layers_layer")[1] == {PRIMARY}
            # OGC through MapServer: its layers read the replica for the reader, the primary for the writer
            assert 'numberOfFeatures="3"' in writing.get(wfs).content.decode()
            assert 'numberOfFeatures="2"' in signed_in(reader).get(wfs).content.decode()

            health = signed_in(reader).get("/api/health").json()
            replica = health["checks"]["database_replica"]
            assert replica["ok"] and replica["replay_paused"] and replica["lag_bytes"] > 0, replica
            assert replica["lag_seconds"] >= 0 and replica["max_lag_seconds"] == 300
        wait_replayed()
        assert "新栓" in names(signed_in(reader).get(url))
    finally:
        redis_client().delete(dbrouter.PIN_KEY.format(writer.pk))
        import mapscript

        mapscript.msConnPoolCloseUnreferenced()  # MapServer keeps its PostGIS connections open between requests


@ALL
def test_after_an_import_job_its_owner_reads_the_new_layer_from_the_primary(standby, lenient, settings, tmp_path):
    """The import runs as a worker runs it (no request, so no cookie): the job's end pins its owner."""
    import importfiles as files

    settings.TILE_CACHE_SEED_MAX_ZOOM = -1  # not needed here

    owner = User.objects.create_user("rp-importer", password="pw")
    other = User.objects.create_superuser("rp-admin", password="pw")
    path = tmp_path / "rp-stations.csv"
    path.write_bytes(files.csv_bytes(["name", "lon", "lat"], [["桃園車站", 121.313, 24.989]]))
    wait_replayed()
    try:
        with paused_replay():
            job = run_job(jobs.create(path, path.name, {"mode": "upsert", "visibility": "internal"}, owner).pk)
            assert job.status == "succeeded", job.errors
            assert redis_client().ttl(dbrouter.PIN_KEY.format(owner.pk)) > 0
            answer, used = served_from(lambda: signed_in(owner).get("/api/v1/layers/rp-stations/"))
            assert answer.status_code == 200 and used == {PRIMARY}
            mine = signed_in(owner).get("/api/v1/layers/?page_size=500").json()["results"]
            assert "rp-stations" in {entry["slug"] for entry in mine}
            # an administrator who did not import it reads the replica: not there yet (the same 404 as missing)
            assert signed_in(other).get("/api/v1/layers/rp-stations/").status_code == 404
        wait_replayed()
        assert signed_in(other).get("/api/v1/layers/rp-stations/").status_code == 200
    finally:
        redis_client().delete(dbrouter.PIN_KEY.format(owner.pk))


@ALL
def test_a_rights_reduction_reaches_every_reader_at_once_not_a_replica_lag_later(standby, lenient):
    """Who may see a layer is read from the primary for a window after any rights change (dbrouter.pin_everyone),
    for everyone: a reader the change concerns made no write that would pin them."""
    layer = hydrants("rp-rights")
    public = make_hydrants("rp_rights_public", "rp-rights-public", "public")
    writer, reader = people("rp-rights", layer)
    wait_replayed()
    answer, used = served_from(lambda: signed_in(reader).get(f"/api/v1/layers/{layer.slug}/features/"))
    assert names(answer) == {"A", "B"} and used == {REPLICA}
    try:
        with paused_replay():
            layer.visibility = "restricted"  # another server's administrator: the agency's staff only now
            layer.save()
            public.visibility = "internal"
            public.save()
            for url in (f"/api/v1/layers/{layer.slug}/", f"/api/v1/layers/{layer.slug}/features/"):
                answer, used = served_from(lambda url=url: signed_in(reader).get(url))
                assert answer.status_code == 404 and used == {PRIMARY}, (url, answer.status_code, used)
            answer, used = served_from(lambda: Client().get(f"/api/v1/layers/{public.slug}/features/"))
            assert answer.status_code == 404 and used == {PRIMARY}
            assert names(signed_in(writer).get(f"/api/v1/layers/{layer.slug}/features/")) == {"A", "B"}
            assert 0 < redis_client().ttl(dbrouter.RIGHTS_KEY) <= 30
            redis_client().delete(dbrouter.RIGHTS_KEY)  # the window over (as 30 s later): the replica again
            reader.first_name = "讀者"  # a save that changes no right (an identity provider's name at each sign-in)
            reader.save()
            assert not redis_client().exists(dbrouter.RIGHTS_KEY)
            answer, used = served_from(lambda: signed_in(reader).get(f"/api/v1/layers/{public.slug}/features/"))
            assert names(answer) == {"A", "B"} and used == {REPLICA}
    finally:
        redis_client().delete(dbrouter.RIGHTS_KEY)


@ALL
def test_migrations_and_writes_stay_on_the_primary(standby):
    assert router.allow_migrate(PRIMARY, "layers", model_name="layer")
    assert not router.allow_migrate(REPLICA, "layers", model_name="layer")
    assert router.db_for_write(Layer) == PRIMARY
    assert router.db_for_read(User) == PRIMARY  # identity never lags


@ALL
def test_reads_fall_back_to_the_primary_when_the_replica_stops(standby, settings):
    """The last test: it stops the replica."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    layer = hydrants("rp-down")
    writer, reader = people("rp-down", layer)
    url = f"/api/v1/layers/{layer.slug}/features/"
    wait_replayed()
    assert served_from(lambda: signed_in(reader).get(url))[1] == {REPLICA}
    standby.shut_down()  # its connections are cut; the next request's health check of the connection fails
    answer, used = served_from(lambda: signed_in(reader).get(url))
    assert names(answer) == {"A", "B"} and used == {PRIMARY}
    health = signed_in(reader).get("/api/health")
    assert health.status_code == 200, health.content  # advisory: the platform serves on from the primary
    replica = health.json()["checks"]["database_replica"]
    assert not replica["ok"] and not replica["usable"] and "reads go to the primary" in replica["error"]
