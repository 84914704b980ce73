"""The SensorThings endpoint, /sta/v1.1/… (and /sta/v1.0/… for the clients of Taiwan's Civil IoT services, which
speak 1.0): one view reading the resource path and dispatching on the method. Errors answer with the
SensorThings error body; anything the view does not foresee is a plain 500 without details (geo.errors)."""

import json
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
    "data-array/data-array", "create-observations-via-mqtt/observations", "receive-updates-via-mqtt/receive-updates")]
MAX_BODY = 8 * 2**20


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
        try:
            with transaction.atomic():
                return handler(request, (path or "").strip("/"))
        except StaError as exc:
            return answer(exc.body(), exc.status)
        except DataError as exc:  # e.g. a value out of a column's range in a filter
            message = str(exc).splitlines()[0] if str(exc) else "a value cannot be used"
            return answer(BadRequest(f"the request cannot be evaluated: {message}").body(), 400)

    @cached_property
    def layers(self) -> list[int]:
        return visible_layers(self.user)

    # -- reading ----------------------------------------------------------------------------------------------
    def read(self, request, path: str):
        reader = Reader(self.root, self.layers)
        if not path:
            return answer(self.service_document())
        resource = resolve(path, self.layers)
        for es, where in resource.ancestors:  # Things(9)/Datastreams of a Thing that is not there (or hidden): 404
            reader.one(es, where, Options(select=["id"]))
        params = {k: v for k, v in request.GET.items()}
        link = request.build_absolute_uri()
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
    def writer(self, request) -> Writer:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Device ") else None
        return Writer(self.user, token, lambda: self.layers)

    def body(self, request):
        if len(request.body) > MAX_BODY:
            raise BadRequest(f"the request body is over {MAX_BODY // 2**20} MB", 413)
        try:
            return json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the request body is not JSON") from None

    def create(self, request, path: str):
        segments = [s for s in path.split("/") if s]
        writer = self.writer(request)
        if segments == ["CreateObservations"]:
            links = writer.create_observations(self.body(request))
            return answer([f"{self.root}/{link}" if link != "error" else link for link in links], 201)
        if not segments or len(segments) > 2:
            raise MethodNotAllowed("POST to an entity set (Things) or to one entity's set (Things(1)/Datastreams)")
        parent = None
        if len(segments) == 2:
            head = resolve(segments[0], self.layers)
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
        made_set, ident = writer.create(set_name, self.body(request), parent)
        # a device reads back what it wrote itself, whoever else may see it (and no visibility query is needed)
        own = writer.token_device
        reader = Reader(self.root, [own.layer_id] if own and own.layer_id else [] if own else self.layers)
        es = SETS[made_set]
        link = reader.self_link(es, ident)
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

    def update(self, request, path: str):
        set_name, key = self.target(path)
        self.writer(request).update(set_name, key, self.body(request))
        resource = resolve(path, self.layers)
        return answer(Reader(self.root, self.layers).one(resource.es, resource.where, Options()))

    def remove(self, request, path: str):
        set_name, key = self.target(path)
        self.writer(request).delete(set_name, key)
        return HttpResponse(status=200)
