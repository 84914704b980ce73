"""GeoServer's REST API specification (Swagger 2.0 YAML, ../shared/data/geoserver-rest-api) as a request checker.

The files are read with the quirks their SOURCES.md lists: trailing whitespace stripped (datastores.yaml), one
REST root for files without a basePath, stray `/rest` path prefixes dropped, format suffixes (.xml, .json, …)
removed before matching, text/xml taken for application/xml, and "Invalid" stub operations (only a 405 answer)
treated as methods GeoServer rejects. The matcher is tolerant; `problems()` says what a request does that the
spec does not document.
"""

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from django.conf import settings
from lxml import etree

DEFAULT_BASE = "/geoserver/rest"
FORMAT_SUFFIX = re.compile(r"\.(xml|json|html|sld)$")
# content types the spec lists that mean XML (text/html: a slip in POST /workspaces/{workspace}/styles)
XML_ALIASES = {"text/xml": "application/xml", "text/html": "application/xml", "text/json": "application/json"}


def spec_dir() -> Path:
    default = Path(settings.BASE_DIR).parent / "shared" / "data" / "geoserver-rest-api"
    return Path(os.environ.get("GEOSERVER_REST_SPECS") or default)


@dataclass
class Route:
    file: str
    base: str
    template: str
    pattern: re.Pattern
    item: dict
    spec: dict

    @property
    def specificity(self) -> int:
        return len(re.sub(r"\{[^}]+\}", "", self.template))


@dataclass
class Request:
    method: str
    url: str
    content_type: str
    body: bytes | None

    def __str__(self):
        return f"{self.method} {self.url} [{self.content_type or '-'}]"


def load_routes(folder: Path) -> list[Route]:
    routes = []
    for file in sorted(folder.glob("*.yaml")):
        text = re.sub(r"[ \t]+$", "", file.read_text(encoding="utf-8"), flags=re.M)
        spec = yaml.safe_load(text)
        base = spec.get("basePath") or DEFAULT_BASE
        for template, item in spec["paths"].items():
            path = template.removeprefix("/rest") if template.startswith("/rest/") else template
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
            routes.append(Route(file.name, base, path, pattern, item, spec))
    return routes


def _resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _stub(op: dict) -> bool:
    return set(op.get("responses", {})) <= {405, 401, "405", "401"}


def _content(ct: str) -> str:
    ct = ct.split(";")[0].strip().lower()
    return XML_ALIASES.get(ct, ct)


def match(routes: list[Route], req: Request) -> tuple[Route, dict] | None:
    """The most specific route whose template matches the URL and that documents the method (not as a stub)."""
    path = unquote(urlsplit(req.url).path).rstrip("/")
    found = []
    for route in routes:
        if not path.startswith(route.base + "/"):
            continue
        rest = path[len(route.base):]
        if route.pattern.match(rest) or route.pattern.match(FORMAT_SUFFIX.sub("", rest)):
            op = route.item.get(req.method.lower())
            if op is not None and not _stub(op):
                found.append((route, op))
    return max(found, key=lambda f: f[0].specificity) if found else None


def problems(routes: list[Route], req: Request) -> list[str]:
    """What `req` does that the spec does not document (empty: the request conforms)."""
    out = []
    if urlsplit(req.url).path.endswith("/"):
        out.append("URL ends in '/': no spec path does")
    found = match(routes, req)
    if found is None:
        return [*out, "no spec path documents this method on this URL"]
    route, op = found
    params = [_resolve(route.spec, p) for p in [*route.item.get("parameters", []), *op.get("parameters", [])]]
    declared = {p.get("name") for p in params if p.get("in") == "query"}
    for key, _value in parse_qsl(urlsplit(req.url).query):
        if key not in declared:
            out.append(f"query parameter {key!r} is not in {route.file} {req.method} {route.template}")
    if req.body:
        out += _body_problems(route, op, params, req)
    return out


def _body_problems(route: Route, op: dict, params: list[dict], req: Request) -> list[str]:
    ct = _content(req.content_type)
    consumes = op.get("consumes") or route.spec.get("consumes")
    if consumes and ct not in {_content(c) for c in consumes}:
        return [f"content type {req.content_type!r} not in {route.template}'s consumes {consumes}"]
    try:
        if ct.endswith("xml"):
            parsed = etree.fromstring(req.body, etree.XMLParser(resolve_entities=False, no_network=True))
        elif ct.endswith("json"):
            parsed = json.loads(req.body)
        else:
            return [] if req.body.decode("utf-8").strip() else ["empty body"]
    except (etree.XMLSyntaxError, ValueError) as exc:
        return [f"body does not parse as {ct}: {exc}"]
    body_param = next((p for p in params if p.get("in") == "body"), None)
    if body_param is None or ct not in ("application/xml", "application/json"):
        return []  # no schema for this body (uploads, SLD documents)
    schema = _resolve(route.spec, body_param.get("schema", {}))
    expected = (schema.get("xml", {}).get("name") or schema.get("title") or body_param["name"]).lower()
    if ct == "application/xml":
        root, fields = etree.QName(parsed).localname, {etree.QName(c).localname: c.text for c in parsed
                                                       if isinstance(c.tag, str)}
    else:
        root = next(iter(parsed), "") if isinstance(parsed, dict) and len(parsed) == 1 else ""
        fields = parsed.get(root, {}) if root else {}
    if root.lower() != expected:
        return [f"body's top-level {root!r} is not the spec's {expected!r}"]
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = _resolve(route.spec, prop)
        if "enum" in prop and name in fields and fields[name] not in prop["enum"]:
            out.append(f"{name}={fields[name]!r} is not one of the spec's {prop['enum']}")
    return out
