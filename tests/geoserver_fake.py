"""A small in-memory GeoServer REST catalog behind the `responses` mock, recording every request.

It keeps what was created at its REST path and answers like GeoServer where the engine depends on it: POST to a
collection creates `<collection>/<name>` (409 if it exists), PUT updates an existing resource (404 if not),
`…/external.geotiff` creates a coverage store with its coverage and layer, a feature type brings its layer,
DELETE with recurse=true takes what is below. It is stricter than GeoServer in two ways the engine must
respect anyway: a layer still in a group cannot be deleted, and a group must have members that exist.
"""

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

import responses
from geoserver_spec import Request
from lxml import etree

REST = "/rest"
UPLOAD = re.compile(r"^(?P<store>/workspaces/[^/]+/coveragestores/[^/]+)/(file|url|external)\.\w+$")
SUFFIX = re.compile(r"\.(xml|json|html|sld)$")
COLLECTIONS = {"workspaces", "datastores", "featuretypes", "coveragestores", "coverages", "styles", "layers",
               "layergroups"}


class FakeGeoServer:
    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.resources: dict[str, bytes] = {}  # REST path -> the body that made it
        self.layer_resources: dict[str, str] = {}  # layer path -> its feature type / coverage path
        self.slds: dict[str, bytes] = {}  # style path -> SLD document
        self.calls: list[Request] = []
        self.fail: dict[tuple[str, str], int] = {}  # (method, path) -> status to answer instead

    def install(self, mock: responses.RequestsMock) -> None:
        pattern = re.compile(re.escape(self.url + REST) + r"(/.*)?$")
        for method in ("GET", "POST", "PUT", "DELETE"):
            mock.add_callback(method, pattern, callback=self._answer)

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def path(self, url: str) -> str:
        path = unquote(urlsplit(url).path).removeprefix(urlsplit(self.url).path + REST).rstrip("/")
        if not UPLOAD.match(path):
            path = SUFFIX.sub("", path)
        if m := re.fullmatch(r"/layers/([^/:]+):([^/]+)", path):  # /layers/ws:name is the workspace's layer
            path = f"/workspaces/{m[1]}/layers/{m[2]}"
        return path

    def group_members(self, path: str) -> list[str]:
        root = etree.fromstring(self.resources[path])
        return [p.findtext("name") for p in root.iterfind("publishables/published")]

    def groups(self) -> dict[str, list[str]]:
        return {p: self.group_members(p) for p in self.resources if "/layergroups/" in p}

    def _answer(self, request):
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if hasattr(body, "read"):
            body = body.read()
        self.calls.append(Request(request.method, request.url, request.headers.get("Content-Type", ""), body))
        path = self.path(request.url)
        if (request.method, path) in self.fail:
            return self.fail[(request.method, path)], {}, b"simulated failure"
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        handler = getattr(self, f"_{request.method.lower()}")
        status, text = handler(path, body, query)
        accept = request.headers.get("Accept", "*/*")
        # JSON for .json, a JSON Accept and */* (what the package's getters parse); XML when XML is asked for
        wants_json = urlsplit(request.url).path.endswith(".json") or "json" in accept or accept == "*/*"
        if request.method == "GET" and status == 200 and wants_json:
            return status, {"Content-Type": "application/json"}, json.dumps(_as_json(text))
        return status, {"Content-Type": "application/xml"}, text

    # -- verbs -------------------------------------------------------------------------------------------------

    def _parent_exists(self, path: str) -> bool:
        parent = path.rsplit("/", 2)[0]
        return parent == "" or parent in self.resources

    def _get(self, path, _body, _query):
        if path in self.resources:
            return 200, self.resources[path]
        if path.rsplit("/", 1)[-1] in COLLECTIONS and self._parent_exists(path + "/x"):
            names = [p.rsplit("/", 1)[1] for p in self.resources if p.rsplit("/", 1)[0] == path]
            tag = {"layergroups": "layerGroup"}.get(path.rsplit("/", 1)[-1], "item")
            items = "".join(f"<{tag}><name>{n}</name></{tag}>" for n in names)
            return 200, f"<{path.rsplit('/', 1)[-1]}>{items}</{path.rsplit('/', 1)[-1]}>".encode()
        return 404, b"No such resource"

    def _post(self, path, body, _query):
        name = etree.fromstring(body).findtext("name")
        target = f"{path}/{name}"
        if path.rsplit("/", 1)[-1] not in COLLECTIONS or not self._parent_exists(target):
            return 404, b"No such parent"
        if target in self.resources:
            return 409, f"{name} already exists".encode()
        if (problem := self._group_problem(target, body)) is not None:
            return 400, problem
        self.resources[target] = body
        if path.endswith("/featuretypes"):
            layer = f"/workspaces/{path.split('/')[2]}/layers/{name}"
            self.resources[layer] = f"<layer><name>{name}</name><type>VECTOR</type></layer>".encode()
            self.layer_resources[layer] = target
        return 201, b""

    def _put(self, path, body, query):
        if upload := UPLOAD.match(path):
            return self._upload(upload["store"], body, query)
        if path not in self.resources:
            return 404, b"No such resource"
        if "/styles/" in path and body.lstrip().startswith(b"<?xml") and b"StyledLayerDescriptor" in body:
            self.slds[path] = body
            return 200, b""
        if (problem := self._group_problem(path, body)) is not None:
            return 400, problem
        self.resources[path] = body
        return 200, b""

    def _upload(self, store, body, query):
        if not self._parent_exists(store):
            return 404, b"No such workspace"
        created = store not in self.resources
        info = etree.Element("coverageStore")
        etree.SubElement(info, "url").text = body.decode()
        self.resources[store] = etree.tostring(info)
        name = query.get("coverageName") or store.rsplit("/", 1)[1]
        coverage = f"{store}/coverages/{name}"
        self.resources.setdefault(coverage, f"<coverage><name>{name}</name></coverage>".encode())
        layer = f"/workspaces/{store.split('/')[2]}/layers/{name}"
        self.resources.setdefault(layer, f"<layer><name>{name}</name><type>RASTER</type></layer>".encode())
        self.layer_resources[layer] = coverage
        return (201 if created else 200), b""

    def _delete(self, path, _body, query):
        if path not in self.resources:
            return 404, b"No such resource"
        below = [p for p in self.resources if p.startswith(path + "/")]
        if below and query.get("recurse") != "true":
            return 403, b"resource has children: use recurse=true"
        gone = {path, *below}
        gone |= {layer for layer, res in self.layer_resources.items() if res in gone}
        ws = path.split("/")[2] if path.startswith("/workspaces/") else ""
        qualified = {f"{ws}:{p.rsplit('/', 1)[1]}" for p in gone if "/layers/" in p or "/layergroups/" in p}
        if any(set(members) & qualified for group, members in self.groups().items() if group not in gone):
            return 403, b"still referenced by a layer group"
        for p in gone:
            self.resources.pop(p, None)
            self.layer_resources.pop(p, None)
            self.slds.pop(p, None)
        return 200, b""

    def _group_problem(self, path: str, body: bytes) -> bytes | None:
        if "/layergroups/" not in path:
            return None
        ws = path.split("/")[2]
        names = [p.findtext("name") for p in etree.fromstring(body).iterfind("publishables/published")]
        if not names:
            return b"a layer group needs at least one layer"
        for name in names:
            prefix, _, short = name.partition(":")
            if f"/workspaces/{prefix}/layers/{short}" not in self.resources and \
                    f"/workspaces/{prefix}/layergroups/{short}" not in self.resources:
                return f"no such layer or group {name}".encode()
        return None if ws else b"no workspace"


def _as_json(body: bytes) -> dict:
    """GeoServer's JSON shape of a stored XML resource, one level deep: {"root": {"child": "text", …}}."""
    root = etree.fromstring(body)
    return {root.tag: {child.tag: child.text for child in root if isinstance(child.tag, str) and len(child) == 0}}
