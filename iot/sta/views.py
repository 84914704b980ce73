"""The SensorThings endpoint, /sta/v1.1/… (and /sta/v1.0/… for the clients of Taiwan's Civil IoT services, which
speak 1.0): one view reading the resource path and dispatching on the method. Errors answer with the
SensorThings error body; anything the view does not foresee is a plain 500 without details (geo.errors)."""

import json
import re
import urllib.parse
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.db import DataError, transaction
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from layers.models import Layer
from layers.serving.access import request_user

from .entities import SETS
from .errors import BadRequest, MethodNotAllowed, StaError
from .query import Options, Reader, Restriction, parse_options, resolve
from .write import Writer

SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
CONFORMANCE = [SPEC + c for c in (
    "datamodel", "resource-path/resource-path-to-entities", "request-data", "create-update-delete",
    "data-array/data-array", "batch-request/batch-request", "create-observations-via-mqtt/observations",
    "receive-updates-via-mqtt/receive-updates")]
MAX_BODY = 8 * 2**20
MAX_BATCH = 1000  # requests in one $batch
OBSERVATION_POST = re.compile(r"^(?:Datastreams\((\d+)\)/)?Observations$")


@dataclass
class Call:
    """One request to the service: from HTTP, or one of a $batch."""

    method: str
    path: str
    params: dict[str, str]
    body: bytes
    link: str  # the absolute URL asked for (the base of @iot.nextLink)
    device_token: str | None = None


def visible_layers(user) -> list[int]:
    return list(Layer.objects.visible_to(user).values_list("pk", flat=True))


def answer(body, status: int = 200, **headers) -> HttpResponse:
    response = JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    for name, value in headers.items():
        response[name] = value
    return response


class SensorThingsView(APIView):
    """Authentication as the rest of the API (session with CSRF, or `Authorization: Token …`); a device writes
    its observations with `Authorization: Device <token>`, which the API's authenticators leave alone."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)  # an OData-style service of its own; its root document lists what it offers
    def get(self, request, version: str, path: str = ""):
        return self.run(request, version, path, self.read)

    @extend_schema(exclude=True)
    def post(self, request, version: str, path: str = ""):
        return self.run(request, version, path, self.create)

    @extend_schema(exclude=True)
    def patch(self, request, version: str, path: str = ""):
        return self.run(request, version, path, self.update)

    @extend_schema(exclude=True)
    def delete(self, request, version: str, path: str = ""):
        return self.run(request, version, path, self.remove)

    def run(self, request, version, path, handler):
        self.root = request.build_absolute_uri(f"/sta/{version}")
        self.user = request_user(request)
        header = request.headers.get("Authorization", "")
        call = Call(request.method, (path or "").strip("/"), {k: v for k, v in request.GET.items()}, request.body,
                    request.build_absolute_uri(), header[7:].strip() if header.startswith("Device ") else None)
        if call.method == "POST" and call.path == "$batch":
            handler = self.batch
        return self.handle(call, handler)

    def handle(self, call: Call, handler) -> HttpResponse:
        try:
            with transaction.atomic():
                return handler(call)
        except StaError as exc:
            return answer(exc.body(), exc.status)
        except DataError as exc:  # e.g. a value out of a column's range in a filter
            message = str(exc).splitlines()[0] if str(exc) else "a value cannot be used"
            return answer(BadRequest(f"the request cannot be evaluated: {message}").body(), 400)

    @cached_property
    def layers(self) -> list[int]:
        return visible_layers(self.user)

    # -- reading ----------------------------------------------------------------------------------------------
    def read(self, call: Call):
        reader, path = Reader(self.root, self.layers), call.path
        if not path:
            return answer(self.service_document())
        resource = resolve(path, self.layers)
        for es, where in resource.ancestors:  # Things(9)/Datastreams of a Thing that is not there (or hidden): 404
            reader.one(es, where, Options(select=["id"]))
        params, link = call.params, call.link
        if resource.tail == "$ref":
            opts = parse_options({k: v for k, v in params.items() if k in ("$filter", "$top", "$skip", "$orderby",
                                                                          "$count")}, resource.es)
            if resource.single:
                row = reader.one(resource.es, resource.where, Options(select=["id"]))
                return answer({"@iot.selfLink": reader.self_link(resource.es, row["@iot.id"])})
            page = reader.collection(resource.es, resource.where, Options(**{**vars(opts), "select": ["id"]}), link)
            page["value"] = [{"@iot.selfLink": reader.self_link(resource.es, e["@iot.id"])} for e in page["value"]]
            return answer(page)
        if resource.tail is not None:
            entity = reader.one(resource.es, resource.where, Options(select=[resource.tail]))
            value = entity.get(resource.tail)
            if resource.value:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                return HttpResponse(text, content_type="text/plain; charset=utf-8")
            return answer({resource.tail: value})
        opts = parse_options(params, resource.es)
        if resource.single:
            return answer(reader.one(resource.es, resource.where, opts))
        return answer(reader.collection(resource.es, resource.where, opts, link))

    def service_document(self) -> dict:
        server = {"conformance": CONFORMANCE}
        endpoint = getattr(settings, "STA_MQTT_ENDPOINT", "")
        if endpoint:
            for c in CONFORMANCE[-2:]:
                server[c] = {"endpoints": [endpoint]}
        return {"value": [{"name": name, "url": f"{self.root}/{name}"} for name in SETS], "serverSettings": server}

    # -- writing ----------------------------------------------------------------------------------------------
    def writer(self, call: Call) -> Writer:
        return Writer(self.user, call.device_token, lambda: self.layers)

    def body(self, call: Call):
        if len(call.body) > MAX_BODY:
            raise BadRequest(f"the request body is over {MAX_BODY // 2**20} MB", 413)
        try:
            return json.loads(call.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the request body is not JSON") from None

    def create(self, call: Call):
        path = call.path
        segments = [s for s in path.split("/") if s]
        writer = self.writer(call)
        if segments == ["CreateObservations"]:
            links = writer.create_observations(self.body(call))
            return answer([f"{self.root}/{link}" if link != "error" else link for link in links], 201)
        if not segments or len(segments) > 2:
            raise MethodNotAllowed("POST to an entity set (Things) or to one entity's set (Things(1)/Datastreams)")
        parent = None
        if len(segments) == 2:
            head = resolve(segments[0], [])  # one segment: no navigation, so no visibility to apply yet
            if not head.single:
                raise BadRequest(f"{path!r}: give one {head.es.singular}'s id before /{segments[1]}")
            key = segments[0][segments[0].index("(") + 1:-1].strip("'")
            nav = head.es.navs.get(segments[1])
            if nav is None or not nav.many:
                raise BadRequest(f"cannot create in {path!r}")
            parent, set_name = (head.es.name, key), nav.target
        else:
            if "(" in segments[0]:
                raise MethodNotAllowed("POST creates: send it to the entity set, PATCH changes an entity")
            set_name = resolve(segments[0], self.layers).es.name
        made_set, ident = writer.create(set_name, self.body(call), parent)
        # a device reads back what it wrote itself, whoever else may see it (and no visibility query is needed)
        own = writer.token_device
        reader = Reader(self.root, [own.layer_id] if own and own.layer_id else [] if own else self.layers)
        es = SETS[made_set]
        link = reader.self_link(es, ident)
        if made_set == "Observations" and writer.written is not None:
            # an Observation is what was sent, as stored: answered without reading it back (the path sensors
            # post to one reading at a time, so kept to the queries it needs)
            row = {"id": ident, "resultQuality": None, "validTime": None, "parameters": None, **writer.written}
            return answer(reader.entity(es, row, Options()), 201, Location=link)
        try:
            body = reader.one(es, Restriction.key(es, ident), Options())
        except StaError:  # written into a Thing the caller may not read (an admin's Thing, a member's write)
            body = {"@iot.id": ident, "@iot.selfLink": link}
        return answer(body, 201, Location=link)

    def target(self, path: str):
        segments = [s for s in path.split("/") if s]
        if len(segments) != 1 or "(" not in segments[0]:
            raise MethodNotAllowed("PATCH and DELETE address one entity, e.g. Things(1)")
        resource = resolve(segments[0], self.layers)
        return resource.es.name, segments[0][segments[0].index("(") + 1:-1].strip("'")

    def update(self, call: Call):
        set_name, key = self.target(call.path)
        self.writer(call).update(set_name, key, self.body(call))
        resource = resolve(call.path, self.layers)
        return answer(Reader(self.root, self.layers).one(resource.es, resource.where, Options()))

    def remove(self, call: Call):
        set_name, key = self.target(call.path)
        self.writer(call).delete(set_name, key)
        return HttpResponse(status=200)

    # -- $batch (JSON) ----------------------------------------------------------------------------------------
    def batch(self, call: Call):
        """{"requests": [{"id", "method", "url", "body", "atomicityGroup"}]} → {"responses": [{"id", "status",
        "body"}]}: run in order, as the caller; the requests of one atomicityGroup all happen or none does (each
        then answers the failure). A url may start with `$<id>` of an earlier request that created an entity."""
        body = self.body(call)
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
            raise BadRequest("$batch: give {\"requests\": [{\"id\", \"method\", \"url\", \"body\"}, …]}")
        if len(requests) > MAX_BATCH:
            raise BadRequest(f"$batch: at most {MAX_BATCH} requests")
        responses, created, i = [], {}, 0
        while i < len(requests):
            run = self.observation_run(requests, i)
            if len(run) > 1:  # sensors sending their readings as many single POSTs: written together
                responses += self.batch_observations(call, [requests[i + k] for k in range(len(run))], run, created)
                i += len(run)
                continue
            group = requests[i].get("atomicityGroup")
            members = [requests[i]]
            while group is not None and i + len(members) < len(requests) \
                    and requests[i + len(members)].get("atomicityGroup") == group:
                members.append(requests[i + len(members)])
            i += len(members)
            answers = []
            try:
                with transaction.atomic():
                    for member in members:
                        answers.append(self.batch_one(call, member, created))
                        if group is not None and answers[-1]["status"] >= 400:
                            raise _GroupFailed(answers[-1])
            except _GroupFailed as failed:
                answers = [{**failed.answer, "id": m.get("id")} for m in members]
            responses += answers
        return answer({"responses": responses})

    def observation_run(self, requests: list[dict], start: int) -> list:
        """From `start`, the consecutive requests that each POST one Observation (to Observations or to
        Datastreams(id)/Observations, outside any atomicityGroup): the Datastream key of each (None: the body names
        it)."""
        prefix = urllib.parse.urlsplit(self.root).path
        run = []
        for member in requests[start:]:
            url = str(member.get("url", ""))
            if "?" in url or "#" in url:  # options: the request goes its own way
                break
            path = urllib.parse.urlsplit(url).path if "://" in url else url
            path = path[len(prefix):] if path.startswith(prefix) else path
            m = OBSERVATION_POST.match(path.strip("/"))
            if (str(member.get("method", "")).upper() != "POST" or member.get("atomicityGroup") is not None
                    or m is None or not isinstance(member.get("body"), dict)):
                break
            run.append(m[1])
        return run

    def batch_observations(self, call: Call, members: list[dict], keys: list, created: dict) -> list[dict]:
        """Answers to a run of Observation POSTs (observation_run), each as if sent alone, written by one
        statement."""
        writer = self.batch_writer(call)
        es = SETS["Observations"]
        reader = Reader(self.root, [])  # only links are made: no visibility is needed
        out = []
        for member, found in zip(members, writer.observations(list(zip(keys, (m["body"] for m in members),
                                                                             strict=True))), strict=True):
            if isinstance(found, StaError):
                out.append({"id": member.get("id"), "status": found.status, "body": found.body()})
                continue
            ident, written = found
            link = reader.self_link(es, ident)
            row = {"id": ident, "resultQuality": None, "validTime": None, "parameters": None, **written}
            out.append({"id": member.get("id"), "status": 201, "location": link,
                        "body": reader.entity(es, row, Options())})
            if member.get("id") is not None:
                created[str(member["id"])] = link[len(self.root):]  # as batch_one keeps it: the path under the root
        return out

    def batch_writer(self, call: Call) -> Writer:
        """One Writer for a whole $batch (its device token is looked up once)."""
        if getattr(self, "_batch_writer", None) is None:
            self._batch_writer = self.writer(call)
        return self._batch_writer

    def batch_one(self, call: Call, member: dict, created: dict) -> dict:
        method = str(member.get("method", "")).upper()
        url = str(member.get("url", ""))
        if url.startswith("$"):
            ref = re.match(r"\$([^/?]*)", url)[1]
            if ref not in created:
                return {"id": member.get("id"), "status": 400, "body": BadRequest(
                    f"$batch: {url!r} refers to no earlier request that created an entity").body()}
            url = created[ref] + url[1 + len(ref):]
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        prefix = urllib.parse.urlsplit(self.root).path
        if path.startswith(prefix):
            path = path[len(prefix):]
        body = member.get("body")
        inner = Call(method, path.strip("/"), dict(urllib.parse.parse_qsl(parts.query)),
                     json.dumps(body).encode() if body is not None else b"", f"{self.root}/{url.lstrip('/')}",
                     call.device_token)
        handler = {"GET": self.read, "POST": self.create, "PATCH": self.update, "DELETE": self.remove}.get(method)
        if handler is None or inner.path == "$batch":
            return {"id": member.get("id"), "status": 405, "body": MethodNotAllowed(
                f"$batch: {method or 'no method'} {url!r} is not a request here").body()}
        response = self.handle(inner, handler)
        out = {"id": member.get("id"), "status": response.status_code}
        if response.get("Location"):
            out["location"] = response["Location"]
            if member.get("id") is not None:
                created[str(member["id"])] = urllib.parse.urlsplit(response["Location"]).path[len(prefix):]
        if response.content:
            out["body"] = json.loads(response.content) if response.get("Content-Type", "").startswith(
                "application/json") else response.content.decode()
        return out


class _GroupFailed(Exception):
    def __init__(self, answer: dict):
        super().__init__(answer.get("status"))
        self.answer = answer
