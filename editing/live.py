"""Live edits: each committed feature change is published on Redis (pub/sub) and streamed to open maps as
server-sent events, so another user's map shows it within a second or two.

`announce` is called by editing.store for every change, whatever protocol made it, and publishes after the
transaction commits (a rolled-back change is never announced). `EditEventsView` (GET /api/v1/edits/events/) is a
`text/event-stream`: one `edit` event per change to a layer the reader may see —
`{layer, fid, version, action, user, bbox, deleted}` (bbox in lon/lat, of the feature before and after: the area
whose tiles changed; deleted: the feature is gone — a delete, the original of a split, a feature merged into
another; a batch written elsewhere, such as pushed 1999 cases, is one event with `fid` null and its `count`) —
comments as heartbeats every 15 s, and it ends after STREAM_SECONDS (or `?timeout=` seconds, less)
with `retry: 2000`, so the
browser's EventSource reconnects instead of holding a server thread for ever. The layers a reader may see are read
when the stream opens and again after every rights change (accounts.rights_changes: a message on a second Redis
channel the stream listens to) before the next event is sent — a layer made restricted, a grant or a group
membership removed stops its events at once; a reader signed out, disabled or whose token was revoked gets nothing
more, the stream ends. The database connection is closed after each look, so an
open map holds no PostgreSQL connection. Serving it needs a threaded worker (gunicorn `--worker-class gthread`,
as the demo, docker-compose and the browser tests run it): a sync worker would be held by one map for a minute.

Anonymous readers get the changes of public layers only (the layers they may see), without the editor's user name,
and at most EDIT_STREAMS_ANONYMOUS of their streams are open at once (counted in a Redis sorted set whose entries
expire with the stream, so a killed worker leaks nothing); one more is answered with `retry: 30000` and ends, so
its EventSource comes back in half a minute instead of holding a thread.

The tile and capabilities caches need no message: vector tiles are addressed (and ETagged) by the layer's
`updated_at`, which each change moves — a map that hears of a change asks for the tiles again under a new address
—, the capabilities cache keys on every visible layer's `updated_at`, and MapServer reads the table live.
"""

import contextlib
import json
import logging
import time
import uuid
from importlib import import_module

import redis
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import connection, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import ForcedAuthentication
from rest_framework.views import APIView

from accounts import rights_changes
from accounts.models import ApiToken
from geo.counters import client
from layers.models import Layer

log = logging.getLogger(__name__)
CHANNEL = "civgis:edits"
ANONYMOUS_STREAMS = "civgis:edits:anonymous"  # sorted set: stream id → when it opened
STREAM_SECONDS = 55
HEARTBEAT_SECONDS = 15
FULL = b"retry: 30000\n: civgis live edits: too many open maps, come back soon\n\n"


def _bbox(*states) -> list[float] | None:
    points = []
    for state in states:
        if state and state.get("geometry"):
            _walk(state["geometry"].get("coordinates"), points)
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [round(min(xs), 6), round(min(ys), 6), round(max(xs), 6), round(max(ys), 6)]


def _walk(coords, out: list) -> None:
    if isinstance(coords, list) and coords and isinstance(coords[0], int | float):
        out.append(coords)
    elif isinstance(coords, list):
        for c in coords:
            _walk(c, out)


def announce(layer, change) -> None:
    """Publish the change when (if) its transaction commits."""
    _publish_on_commit({"layer": layer.slug, "layer_id": layer.pk, "fid": change.fid, "version": change.version,
                        "action": change.action, "user": change.username,
                        "bbox": _bbox(change.before, change.after), "deleted": change.after is None})


def announce_batch(layer, user: str, bbox: list[float] | None, count: int) -> None:
    """Features written outside editing.store (an event layer's push or import): one message for the whole batch
    when it commits — `fid` null, `action` "batch", `count` features added or changed, `bbox` (lon/lat) around
    them — so open maps fetch the layer's tiles once, not once per feature."""
    _publish_on_commit({"layer": layer.slug, "layer_id": layer.pk, "fid": None, "version": None, "action": "batch",
                        "user": user, "bbox": bbox, "deleted": False, "count": count})


def _publish_on_commit(event: dict) -> None:
    message = json.dumps(event, ensure_ascii=False)

    def publish():
        try:
            client().publish(CHANNEL, message)
        except redis.RedisError:  # the change is saved; maps will see it on their next look
            log.warning("live edit not announced (Redis unavailable): %s", message[:200])

    transaction.on_commit(publish)


def _seat() -> str | None:
    """A seat for one more anonymous stream, or None when they are all taken (Redis down: no limit to keep)."""
    seat, now = uuid.uuid4().hex, time.time()
    try:
        with client().pipeline() as pipe:
            pipe.zremrangebyscore(ANONYMOUS_STREAMS, 0, now - STREAM_SECONDS - 10)
            pipe.zadd(ANONYMOUS_STREAMS, {seat: now})
            pipe.zcard(ANONYMOUS_STREAMS)
            pipe.expire(ANONYMOUS_STREAMS, STREAM_SECONDS + 10)
            open_now = pipe.execute()[2]
        if open_now > settings.EDIT_STREAMS_ANONYMOUS:
            _leave(seat)
            return None
    except redis.RedisError:
        pass
    return seat


def _leave(seat: str | None) -> None:
    if seat:
        with contextlib.suppress(redis.RedisError):
            client().zrem(ANONYMOUS_STREAMS, seat)


def _signed_in_now(request):
    """The stream's reader as the database has them now: None once signed out (the session gone or its password
    changed), disabled, or their token revoked or expired."""
    user = get_user_model().objects.filter(pk=request.user.pk, is_active=True).first()
    if user is None:
        return None
    api_token = getattr(request._request, "api_token", None)
    how = request.successful_authenticator
    if api_token is not None:  # a personal token (accounts.tokens)
        valid = ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True,
                                        expires_at__gt=timezone.now()).exists()
    elif isinstance(how, TokenAuthentication):
        valid = Token.objects.filter(key=request.auth.key, user_id=user.pk).exists()
    elif isinstance(how, SessionAuthentication):
        session = import_module(settings.SESSION_ENGINE).SessionStore(request.session.session_key)
        valid = session.get(SESSION_KEY) == str(user.pk) and constant_time_compare(
            session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
    else:  # only the test client's forced user is left: the user alone decides
        valid = isinstance(how, ForcedAuthentication)
    return user if valid else None


class Reader:
    """Whom a stream is for and the vector layers they may see, read again after a rights change."""

    def __init__(self, request):
        self.request = request
        self.anonymous = not (request.user and request.user.is_authenticated)
        self.visible = self._visible(None if self.anonymous else request.user)

    @staticmethod
    def _visible(user) -> set[int]:
        return set(Layer.objects.visible_to(user).filter(kind=Layer.Kind.VECTOR).values_list("pk", flat=True))

    def look_again(self) -> bool:
        """Read the visible layers again; False: the reader is no longer signed in (the stream ends)."""
        try:
            user = None if self.anonymous else _signed_in_now(self.request)
            if user is None and not self.anonymous:
                self.visible = set()
                return False
            self.visible = self._visible(user)
            return True
        finally:
            if not connection.in_atomic_block:
                connection.close()  # the stream holds no database connection between looks


def _stream(reader: Reader, seconds: float, seat: str | None = None):
    subscriber = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5).pubsub(
        ignore_subscribe_messages=True)
    rights = rights_changes.CHANNEL.encode()
    try:
        subscriber.subscribe(CHANNEL, rights_changes.CHANNEL)
        yield b"retry: 2000\n: civgis live edits\n\n"
        started = last = time.monotonic()
        stale = False  # a rights change came: look again before the next event (not per change: a burst is one)
        while time.monotonic() - started < seconds:
            message = subscriber.get_message(timeout=1.0)
            if message and message.get("type") == "message" and message.get("channel") == rights:
                stale = True
            elif message and message.get("type") == "message":
                event = json.loads(message["data"])
                if stale:
                    stale = False
                    if not reader.look_again():
                        return  # signed out: the EventSource comes back as whoever the browser now is
                if event.pop("layer_id", None) in reader.visible:
                    if reader.anonymous:
                        event["user"] = ""  # the public is not told who in the city's staff edited
                    yield f"event: edit\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
                    last = time.monotonic()
            if time.monotonic() - last >= HEARTBEAT_SECONDS:
                yield b": heartbeat\n\n"
                last = time.monotonic()
    except redis.RedisError:
        yield b"event: unavailable\ndata: {}\n\n"
    finally:
        subscriber.close()
        _leave(seat)


class EventStreamRenderer(BaseRenderer):
    """Lets `Accept: text/event-stream` (what EventSource sends) through DRF's content negotiation."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class EditEventsView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [EventStreamRenderer, JSONRenderer]

    @extend_schema(operation_id="edit_events", summary="Server-sent events: every feature change to a layer you "
                   "may see, as it commits (`event: edit`, data {layer, fid, version, action, user, bbox})",
                   responses={200: OpenApiResponse(OpenApiTypes.STR, description="text/event-stream; ends after "
                                                   "about a minute with `retry: 2000` (EventSource reconnects)")})
    def get(self, request):
        reader = Reader(request)
        seat = _seat() if reader.anonymous else None
        if not connection.in_atomic_block:
            connection.close()  # the stream holds no database connection
        try:
            seconds = min(float(request.query_params.get("timeout", STREAM_SECONDS)), STREAM_SECONDS)
        except ValueError:
            seconds = STREAM_SECONDS
        if reader.anonymous and seat is None:
            body = iter([FULL])
        else:
            body = _stream(reader, max(seconds, 0), seat)
        response = StreamingHttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
        return response
