"""Liveness of everything the platform needs: /api/health."""

import time

import redis
from django.conf import settings
from django.contrib.auth import get_user
from django.db import connection
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response

from accounts.health import checks as identity_checks
from layers.ogc import get_engine

from .scheduler import status as schedule_status
from .tasks import worker_probe

WORKER_TIMEOUT_S = 3.0
PROBE_QUEUE = "celery"  # the default queue (settings.TASK_QUEUES_BY_KIND): every deployment has a worker on it


def _timed(check):
    start = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, whatever its type
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def check_database() -> dict:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('server_version'), PostGIS_Lib_Version(), PostGIS_GEOS_Version(),"
                    " PostGIS_PROJ_Version()")
        server, postgis, geos, proj = cur.fetchone()
    return {"ok": True, "postgresql": server, "postgis": postgis, "geos": geos, "proj": proj}


def check_redis() -> dict:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    info = client.info("server")
    return {"ok": True, "version": info["redis_version"]}


def check_worker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "detail": "tasks run in the web process (CELERY_TASK_ALWAYS_EAGER)"}
    result = worker_probe.apply_async(expires=WORKER_TIMEOUT_S, queue=PROBE_QUEUE)
    try:
        reply = result.get(timeout=WORKER_TIMEOUT_S)
    except Exception:
        result.revoke()
        return {"ok": False, "error": f"no Celery worker answered within {WORKER_TIMEOUT_S:.0f} s"}
    return {"ok": True, "worker": reply["hostname"]}


def check_ogc_engine() -> dict:
    status = get_engine().status()
    out = {"ok": status.ok, "engine": status.engine, "version": status.version}
    if status.detail:
        out["error" if not status.ok else "detail"] = status.detail
    return out


# Checks whose failure makes the platform unusable (503: take it out of rotation, restart it). An overdue periodic
# task is not one of them: the platform serves as before, and restarting the web server would not run the task.
# The city's directory and OpenID Connect provider likewise: local accounts still sign in without them.
ADVISORY = {"schedule", "directory", "oidc_provider"}


@extend_schema(
    operation_id="health",
    summary="Liveness of the database, PostGIS, Redis, the Celery workers and the OGC engine; periodic tasks "
            "overdue; with ?detail=tile_cache and an administrator's session, the tile cache's statistics",
    tags=["system"],
    responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="every essential check passed (`status` "
                                    "is `degraded` when a periodic task is overdue: see `checks.schedule`)"),
               503: OpenApiResponse(OpenApiTypes.OBJECT, description="at least one check failed (see `checks`)")},
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def health(request):
    checks = {"database": _timed(check_database), "redis": _timed(check_redis)}
    # Without Redis no task can reach a worker: say so instead of waiting out the probe's timeout.
    if checks["redis"]["ok"]:
        checks["celery_worker"] = _timed(check_worker)
    else:
        checks["celery_worker"] = {"ok": False, "error": "not checked: Redis (the broker) is down"}
    checks["ogc_engine"] = {"engine": settings.OGC_ENGINE, **_timed(check_ogc_engine)}
    checks["schedule"] = _timed(schedule_status.health) if checks["database"]["ok"] else {
        "ok": False, "error": "not checked: the database is down"}
    for name, check in identity_checks().items():
        checks[name] = _timed(check)
    ok = all(c["ok"] for name, c in checks.items() if name not in ADVISORY)
    state = ("ok" if all(c["ok"] for c in checks.values()) else "degraded") if ok else "error"
    body = {"status": state, "checks": checks}
    if request.query_params.get("detail") == "tile_cache" and checks["database"]["ok"] and get_user(
            request._request).is_staff:  # noqa: SLF001 - the session's user, read only when asked
        from layers.serving import tilecache

        body["tile_cache"] = tilecache.statistics()  # for administrators: hits, misses, what is stored
    response = Response(body, status=200 if ok else 503)
    add_never_cache_headers(response)
    return response
