"""WFS-T at /ows: Transaction (Insert, Update, Replace, Delete), LockFeature and GetFeatureWithLock, WFS 1.1.0 and
2.0.0, so desktop GIS (QGIS, GDAL's WFS driver) edits the layers the browser edits — through editing.store, the one
write path, and so with the same form rules, rights, versions, conflicts, history, audit entries and live events.

The front of /ows (layers.ogc.views) has already parsed the POSTed request with its hardened parser (no DTD, no
entities, no network, no huge trees, a size cap) and hands such requests here instead of to MapServer. A Transaction
is all or nothing: its actions run in one database transaction, and any refusal rolls back what came before it.

- Features are named `<layer>.<fid>` (MapServer's gml:id), or by their fid alone; FES 2.0 ResourceId `version`
  (a number, or LATEST) is the version read: a stale one is a conflict naming the feature. Without a version the
  write is to the current one (WFS's own guard against lost updates is the lock).
- Filters: ResourceId / FeatureId / GmlObjectId, the comparison operators (EqualTo, NotEqualTo, LessThan,
  GreaterThan, …OrEqualTo, Like, Null, Between), And / Or / Not and BBOX; anything else is OperationNotSupported.
- Geometries: GML 3.1.1 or 3.2 (read by GDAL), in the srsName given on the geometry or the action, else the
  layer's CRS; EPSG:4326 and other geographic CRSs named as URNs or URLs are latitude first.
- A layer the caller may not see is refused exactly as one that does not exist; one they may see but not change
  this way is OperationProcessingFailed, HTTP 403; a personal API token needs the `edit` scope.
"""

import hashlib
import re

import shapely
from django.contrib.gis.gdal import GDALException, OGRGeometry
from django.contrib.gis.geos import GEOSGeometry
from django.db import DataError, connection, transaction
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from lxml import etree
from psycopg2 import sql

from accounts import rights as layer_rights
from geo import crs as crs_module
from layers.models import Layer
from layers.ogc.exceptions import OWSException
from layers.serving.access import BadRequest

from . import locks, rights, store
from .models import FeatureChange

OURS = ("Transaction", "LockFeature", "GetFeatureWithLock")
NS = {"1": {"wfs": "http://www.opengis.net/wfs", "ogc": "http://www.opengis.net/ogc"},
      "2": {"wfs": "http://www.opengis.net/wfs/2.0", "fes": "http://www.opengis.net/fes/2.0"}}
MAX_FEATURES = 10_000  # features one request may write or lock
SRIDS = {4326, 3826, 3828, 3857, 3824, 3825}
COMPARISONS = {"PropertyIsEqualTo": "=", "PropertyIsNotEqualTo": "<>", "PropertyIsLessThan": "<",
               "PropertyIsGreaterThan": ">", "PropertyIsLessThanOrEqualTo": "<=",
               "PropertyIsGreaterThanOrEqualTo": ">="}
ID_TAGS = ("ResourceId", "FeatureId", "GmlObjectId")
SRS = re.compile(r"(?:urn:(?:x-)?ogc:def:crs:EPSG:[0-9.]*:|https?://www\.opengis\.net/def/crs/EPSG/[0-9.]+/"
                 r"|EPSG:|https?://www\.opengis\.net/gml/srs/epsg\.xml#)([0-9]{1,9})$", re.IGNORECASE)


def local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def kvp_request(params: dict[str, str]) -> bool:
    return params.get("REQUEST", "").lower() in {n.lower() for n in OURS}


def handles(root) -> bool:
    return root is not None and local(root) in OURS


def version_of(root) -> str:
    given = root.get("version", "")
    if given:
        return given
    return "2.0.0" if etree.QName(root).namespace == NS["2"]["wfs"] else "1.1.0"


class Request:
    """One WFS-T request: the caller, the layers they may see, the version's dialect."""

    def __init__(self, request, root, user, visible: frozenset[str]):
        self.request, self.root, self.user, self.visible = request, root, user, visible
        self.version = version_of(root)
        self.two = not self.version.startswith("1.")
        self.one_oh = self.version.startswith("1.0")  # WFS 1.0.0 (QGIS sends its transactions so): its own answers
        self.ns = NS["2" if self.two else "1"]
        self._layers: dict[str, Layer] = {}
        self._tables: dict[str, store.Table] = {}

    # ---- who may do what ---------------------------------------------------------------------------------------
    def writer(self) -> None:
        """A token needs the edit scope; a session (cookie) the CSRF token, as every other write of the site."""
        token = getattr(self.request, "api_token", None)
        if token is not None and "edit" not in token.scopes:
            raise OWSException("OperationProcessingFailed", _("API 權杖「%(name)s」沒有「edit」權限範圍（scope），"
                                                              "不能編輯圖層") % {"name": token.name}, "", 403)
        if session_without_csrf(self.request, self.user):
            raise OWSException("OperationProcessingFailed", _("以網站登入（cookie）編輯需附 CSRF 權杖；桌面 GIS 請用 "
                                                              "API 權杖（HTTP Basic 密碼）"), "", 403)

    def layer(self, type_name: str | None) -> Layer:
        name = (type_name or "").strip()
        name = name.split(":", 1)[1] if ":" in name else name
        if name not in self.visible:  # not there, and not one to see: the same words
            raise OWSException("InvalidParameterValue", f"no layer named {name!r}", "typeName")
        if name not in self._layers:
            layer = Layer.objects.filter(slug=name).first()
            if layer is None or layer.kind != Layer.Kind.VECTOR or not layer.table_name:
                raise OWSException("InvalidParameterValue", f"{name!r} is not a vector layer: only features of "
                                   "vector layers can be edited", "typeName")
            self._layers[name] = layer
        return self._layers[name]

    def table(self, layer: Layer) -> store.Table:
        if layer.slug not in self._tables:
            self._tables[layer.slug] = store.table_of(layer)
        return self._tables[layer.slug]

    def allowed(self, layer: Layer, action: str, fid: int | None = None) -> None:
        if not rights.may(self.user, layer, action, fid):
            raise OWSException("OperationProcessingFailed", _(rights.REFUSED[action]) + f" ({layer.slug})",
                               "typeName", 403)

    # ---- answers -----------------------------------------------------------------------------------------------
    def element(self, parent, prefix: str, name: str, **attributes):
        tag = f"{{{self.ns[prefix] if prefix in self.ns else self.ns['fes' if self.two else 'ogc']}}}{name}"
        made = etree.Element(tag, nsmap=self.ns) if parent is None else etree.SubElement(parent, tag)
        for key, value in attributes.items():
            made.set(key, str(value))
        return made

    def feature_id(self, parent, layer: Layer, fid: int):
        if self.two:
            return self.element(parent, "fes", "ResourceId", rid=f"{layer.slug}.{fid}")
        return self.element(parent, "ogc", "FeatureId", fid=f"{layer.slug}.{fid}")


def session_without_csrf(request, user) -> bool:
    """A write signed in by the site's cookie alone, without the CSRF token the site's pages send (a token or HTTP
    Basic carries no cookie a forged form could borrow)."""
    if getattr(request, "api_token", None) is not None or request.META.get("HTTP_AUTHORIZATION"):
        return False
    return user.is_authenticated and \
        CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None


def xml_answer(root, status: int = 200) -> HttpResponse:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    response = HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def answer(request, root, user, visible: frozenset[str]) -> HttpResponse:
    """A Transaction or a LockFeature (GetFeatureWithLock: `with_lock`); raises OWSException."""
    wfs = Request(request, root, user, visible)
    if local(root) == "Transaction":
        return _transaction(wfs)
    return _lock_feature(wfs)


# ---------------------------------------------------------------------------------------------------------------
# Transaction
# ---------------------------------------------------------------------------------------------------------------
def _transaction(wfs: Request) -> HttpResponse:
    wfs.writer()
    lock_id = wfs.root.get("lockId") or next((e.text.strip() for e in wfs.root if local(e) == "LockId" and e.text),
                                              None)
    if lock_id and locks.lock_of(lock_id) is None:
        raise OWSException("InvalidParameterValue" if not wfs.two else "LockHasExpired",
                           f"lockId {lock_id!r} is unknown or has expired", "lockId", 400)
    release = (wfs.root.get("releaseAction") or "ALL").upper()
    if release not in ("ALL", "SOME"):
        raise OWSException("InvalidParameterValue", f"releaseAction={release!r}: use ALL or SOME", "releaseAction")
    actions = [e for e in wfs.root if local(e) not in ("LockId", "")]
    inserted: list[tuple[str, Layer, int]] = []
    totals = {"Insert": 0, "Update": 0, "Replace": 0, "Delete": 0}
    touched: set[tuple[int, int]] = set()
    changes: list[tuple[Layer, FeatureChange]] = []
    with locks.presenting(lock_id), transaction.atomic():
        for action in actions:
            kind = local(action)
            handle = action.get("handle", "")
            if kind not in totals:
                raise OWSException("OperationNotSupported", f"{kind} is not supported: use Insert, Update, "
                                   "Replace or Delete", kind)
            for layer, change in _run(wfs, kind, action):
                changes.append((layer, change))
                touched.add((layer.pk, change.fid))
                totals[kind] += 1
                if kind == "Insert":
                    inserted.append((handle, layer, change.fid))
            if sum(totals.values()) > MAX_FEATURES:
                raise OWSException("OperationProcessingFailed", f"a transaction changes at most {MAX_FEATURES} "
                                   "features: send it in parts", kind, 400)
        from .views import _audit  # the REST API's audit entries, the same for every protocol

        for layer, change in changes:
            _audit(wfs.request, layer, change)
    if lock_id:
        locks.release(lock_id, None if release == "ALL" else touched)
    return xml_answer(_transaction_response(wfs, totals, inserted))


def _run(wfs: Request, kind: str, action):
    """The changes one action makes: [(layer, FeatureChange)]."""
    naming = ""  # the feature being written, for the words of a refusal
    try:
        if kind == "Insert":
            return [_insert(wfs, feature, action.get("srsName")) for feature in action if local(feature)]
        if kind == "Replace":  # no typeName: the feature's element names the layer
            features = [e for e in action if local(e) and local(e) != "Filter"]
            if len(features) != 1:
                raise OWSException("InvalidParameterValue", "Replace takes one feature and a Filter", "Replace")
            layer = wfs.layer(local(features[0]))
        else:
            layer = wfs.layer(action.get("typeName") or action.get("typeNames"))
        table = wfs.table(layer)
        filter_element = next((e for e in action if local(e) == "Filter"), None)
        if filter_element is None:
            raise OWSException("MissingParameterValue", f"{kind} needs a Filter naming the features "
                               "(e.g. a ResourceId)", "Filter")
        found = matching(wfs, layer, table, filter_element)
        out = []
        for fid, expected in found:
            naming = f" {layer.slug}.{fid}"
            if kind == "Delete":
                wfs.allowed(layer, rights.DELETE)
                out.append((layer, store.delete(layer, wfs.user, fid, expected)))
                continue
            wfs.allowed(layer, rights.EDIT, fid)
            if kind == "Update":
                geometry, values = _update_values(wfs, layer, table, action)
            else:
                geometry, values = _feature_values(wfs, layer, table, features[0], action.get("srsName"))
                values = {name: None for name in table.columns} | values
            body = {"geometry": geometry, "properties": values}
            out.append((layer, store.update(layer, wfs.user, fid, _plain_body(body), expected)))
        return out
    except BadRequest as exc:  # a value, a geometry or a form rule: the field's own message
        raise OWSException("InvalidParameterValue", f"{str(exc)}{f' ({naming.strip()})' if naming else ''}",
                           kind) from None
    except DataError as exc:
        raise OWSException("InvalidParameterValue", str(exc).splitlines()[0][:200], kind) from None
    except store.NotFound:
        raise OWSException("InvalidParameterValue", f"no such feature{naming} (it does not exist, or was "
                           "deleted)", kind, 404) from None
    except store.Conflict as conflict:
        name = f"{conflict.change.layer.slug}.{conflict.change.fid}" if conflict.change else "?"
        raise OWSException("OperationProcessingFailed", f"version conflict on feature {name}: you read version "
                           f"{conflict.theirs}, it is now version {conflict.current}"
                           f"{' (deleted)' if conflict.feature is None else ''}; read it again", name, 409) from None
    except locks.Locked as held:
        raise OWSException("OperationProcessingFailed", f"{held}: send its lockId, or wait", "lockId", 409) from None


def _plain_body(body: dict) -> dict:
    return {k: v for k, v in body.items() if v is not None}


def _insert(wfs: Request, feature, srs_name: str | None):
    layer = wfs.layer(local(feature))
    wfs.allowed(layer, rights.ADD)
    table = wfs.table(layer)
    geometry, values = _feature_values(wfs, layer, table, feature, srs_name)
    return layer, store.create(layer, wfs.user, _plain_body({"geometry": geometry, "properties": values}))


def _feature_values(wfs: Request, layer: Layer, table: store.Table, feature, srs_name: str | None):
    geometry, values = None, {}
    for prop in feature:
        name = local(prop)
        if not name or "gml" in (etree.QName(prop).namespace or "") or name in ("fid", "gml_id"):
            continue
        child = next((c for c in prop if local(c)), None)
        if name == "geom" or child is not None:
            geometry = _geometry(child, srs_name, layer)
        else:
            values[name] = typed(prop, name, table)
    return geometry, values


def _update_values(wfs: Request, layer: Layer, table: store.Table, action):
    geometry, values = None, {}
    for prop in action:
        if local(prop) != "Property":
            continue
        name_element = next((c for c in prop if local(c) in ("Name", "ValueReference")), None)
        if name_element is None or not (name_element.text or "").strip():
            raise OWSException("MissingParameterValue", "each Property needs its Name (ValueReference)", "Property")
        name = name_element.text.strip().split("/")[-1].split(":")[-1]
        if name in ("fid", "gml_id"):  # the feature's id, which GDAL sends back with the rest: not changed
            continue
        value = next((c for c in prop if local(c) == "Value"), None)
        child = next((c for c in value if local(c)), None) if value is not None else None
        if name == "geom" or child is not None:
            if child is None:
                raise OWSException("InvalidParameterValue", "geom: a feature keeps its geometry (give a GML one)",
                                   "Property")
            geometry = _geometry(child, action.get("srsName"), layer)
        else:
            values[name] = None if value is None else typed(value, name, table)
    if geometry is None and not values:
        raise OWSException("MissingParameterValue", "Update changes nothing: give a Property", "Update")
    return geometry, values


def typed(element, name: str, table: store.Table):
    """The element's text as its column takes it (a value that does not read goes on as text, to be refused by
    editing.store naming the attribute)."""
    if element.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1"):
        return None
    text = element.text or ""
    if name not in table.columns:
        return text
    kind = table.columns[name][0]
    if kind in store.TEXT_TYPES:
        return text
    text = text.strip()
    if text == "":
        return None
    try:
        if kind in store.INTEGER_TYPES:
            return int(text)
        if kind in store.NUMBER_TYPES:
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(text.lower(), text)
    return text


def srid_of(text: str | None, layer: Layer) -> tuple[int, bool]:
    """(srid, latitude first) of a GML srsName; none: the layer's CRS."""
    if not text:
        return layer.srid, False
    value = text.strip()
    if value.upper().endswith("CRS84"):
        return 4326, False
    found = SRS.match(value)
    if not found or int(found.group(1)) not in SRIDS | {layer.srid}:
        raise OWSException("InvalidParameterValue", f"srsName={value[:80]!r}: use one of "
                           + ", ".join(f"EPSG:{s}" for s in sorted(SRIDS | {layer.srid})), "srsName")
    srid = int(found.group(1))
    plain = value.upper().startswith("EPSG:") or "epsg.xml#" in value.lower()  # the traditional x/y order
    flipped = not plain and crs_module.crs_from_epsg(srid).axis_info[0].direction.lower() == "north"
    return srid, flipped


def _geometry(element, srs_name: str | None, layer: Layer) -> GEOSGeometry:
    if element is None:
        raise OWSException("InvalidParameterValue", "geom: give a GML geometry", "geom")
    srid, flipped = srid_of(element.get("srsName") or _inner_srs(element) or srs_name, layer)
    try:
        ogr = OGRGeometry.from_gml(etree.tostring(element).decode())
    except (GDALException, ValueError) as exc:
        raise OWSException("InvalidParameterValue", f"geom: the GML geometry cannot be read ({exc})"[:300],
                           "geom") from None
    shape = shapely.from_wkb(bytes(ogr.wkb))
    if flipped:
        shape = shapely.transform(shape, lambda xy: xy[:, ::-1])
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=srid)


def _inner_srs(element) -> str | None:
    return next((e.get("srsName") for e in element.iter() if e.get("srsName")), None)


# ---------------------------------------------------------------------------------------------------------------
# filters → the features they name
# ---------------------------------------------------------------------------------------------------------------
def matching(wfs: Request, layer: Layer, table: store.Table, filter_element) -> list[tuple[int, int]]:
    """[(fid, expected version)] of the features a Filter names (at most MAX_FEATURES)."""
    conditions = [e for e in filter_element if local(e)]
    if conditions and all(local(e) in ID_TAGS for e in conditions):
        return [_resource_id(layer, e) for e in conditions]
    if len(conditions) != 1:
        raise OWSException("InvalidParameterValue", "a Filter holds one condition (join several with And / Or)",
                           "Filter")
    where = _condition(conditions[0], layer, table)
    query = sql.SQL("SELECT t.fid FROM {} t WHERE {} ORDER BY t.fid LIMIT {}").format(
        table.identifier, where, sql.Literal(MAX_FEATURES + 1))
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(query)
            fids = [row[0] for row in cur.fetchall()]
    except DataError as exc:
        raise OWSException("InvalidParameterValue", f"Filter: {str(exc).splitlines()[0][:200]}", "Filter") from None
    if len(fids) > MAX_FEATURES:
        raise OWSException("OperationProcessingFailed", f"the Filter names more than {MAX_FEATURES} features: "
                           "narrow it", "Filter", 400)
    return [(fid, store.LATEST) for fid in fids]


def _resource_id(layer: Layer, element) -> tuple[int, int]:
    text = element.get("rid") or element.get("fid") or element.get("{http://www.opengis.net/gml}id") or \
        element.get("{http://www.opengis.net/gml/3.2}id") or ""
    prefix, _dot, number = text.rpartition(".")
    if prefix.split(":")[-1] not in ("", layer.slug) or not re.fullmatch(r"[0-9]{1,18}", number):
        raise OWSException("InvalidParameterValue", f"{text[:80]!r} is not a feature of {layer.slug!r} "
                           f"(name them {layer.slug}.<fid>)", "ResourceId")
    version = (element.get("version") or "").strip()
    if version.isdigit():
        expected = int(version)
    elif version.upper() in ("", "LATEST"):
        expected = store.LATEST
    else:
        raise OWSException("InvalidParameterValue", f"version={version[:20]!r}: give the version read (a number) "
                           "or LATEST", "version")
    fid = int(number)
    if fid >= 2**63:
        raise OWSException("InvalidParameterValue", "no such feature", "ResourceId", 404)
    return fid, expected


def _column(element, table: store.Table, geometry: bool = False) -> sql.Composable:
    text = (element.text or "").strip() if element is not None else ("geom" if geometry else "")
    name = text.split("/")[-1].split(":")[-1]
    if geometry and name in ("geom", ""):
        return sql.Identifier("t", "geom")
    if name not in table.columns:
        raise OWSException("InvalidParameterValue", f"Filter: no property {name[:60]!r}; the properties are "
                           + ", ".join(sorted(table.columns)), "Filter")
    return sql.Identifier("t", name)


def _condition(element, layer: Layer, table: store.Table) -> sql.Composable:
    kind = local(element)
    children = [c for c in element if local(c)]
    names = [c for c in children if local(c) in ("PropertyName", "ValueReference")]
    literals = [c for c in children if local(c) == "Literal"]
    if kind in ("And", "Or"):
        if len(children) < 2:
            raise OWSException("InvalidParameterValue", f"Filter: {kind} joins two or more conditions", "Filter")
        joined = sql.SQL(f" {kind.upper()} ").join(_condition(c, layer, table) for c in children)
        return sql.SQL("({})").format(joined)
    if kind == "Not" and len(children) == 1:
        return sql.SQL("(NOT {})").format(_condition(children[0], layer, table))
    if kind in COMPARISONS and len(names) == 1 and len(literals) == 1:
        column = _column(names[0], table)
        text = literals[0].text or ""
        if element.get("matchCase", "true").lower() == "false":
            return sql.SQL("lower({}::text) {} lower({})").format(column, sql.SQL(COMPARISONS[kind]),
                                                                 sql.Literal(text))
        return sql.SQL("{} {} {}").format(column, sql.SQL(COMPARISONS[kind]), sql.Literal(text))
    if kind == "PropertyIsNull" and len(names) == 1:
        return sql.SQL("{} IS NULL").format(_column(names[0], table))
    if kind == "PropertyIsLike" and len(names) == 1 and len(literals) == 1:
        return sql.SQL("{}::text LIKE {}").format(_column(names[0], table), sql.Literal(_like(element, literals[0])))
    if kind == "PropertyIsBetween" and len(names) == 1:
        bounds = {local(c): next((x.text or "" for x in c if local(x) == "Literal"), c.text or "") for c in children}
        if "LowerBoundary" in bounds and "UpperBoundary" in bounds:
            return sql.SQL("{} BETWEEN {} AND {}").format(_column(names[0], table),
                                                           sql.Literal(bounds["LowerBoundary"].strip()),
                                                           sql.Literal(bounds["UpperBoundary"].strip()))
    if kind == "BBOX":
        envelope = next((c for c in children if local(c) == "Envelope"), None)
        if envelope is not None:
            return _bbox(envelope, names[0] if names else None, layer, table)
    raise OWSException("OperationNotSupported", f"Filter: {kind} is not supported here; use a ResourceId, a "
                       "comparison (EqualTo, LessThan …, Like, Null, Between), And/Or/Not or BBOX", "Filter")


def _like(element, literal) -> str:
    wild = element.get("wildCard", "*")
    single = element.get("singleChar", ".")
    escape = element.get("escapeChar") or element.get("escape") or "\\"
    out, text, i = [], literal.text or "", 0
    while i < len(text):
        ch = text[i]
        if ch == escape and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        out.append("%" if ch == wild else "_" if ch == single else "\\" + ch if ch in "%_\\" else ch)
        i += 1
    return "".join(out)


def _bbox(envelope, name_element, layer: Layer, table: store.Table) -> sql.Composable:
    corners = {local(c): (c.text or "").split() for c in envelope if local(c)}
    try:
        x1, y1 = (float(v) for v in corners.get("lowerCorner", []))
        x2, y2 = (float(v) for v in corners.get("upperCorner", []))
    except ValueError:
        raise OWSException("InvalidParameterValue", "BBOX: give an Envelope with lowerCorner and upperCorner",
                           "Filter") from None
    srid, flipped = srid_of(envelope.get("srsName"), layer)
    if flipped:
        x1, y1, x2, y2 = y1, x1, y2, x2
    geom = _column(name_element, table, geometry=True)
    box = sql.SQL("ST_Transform(ST_MakeEnvelope({}, {}, {}, {}, {}), {})").format(
        sql.Literal(x1), sql.Literal(y1), sql.Literal(x2), sql.Literal(y2), sql.Literal(srid), sql.Literal(table.srid))
    return sql.SQL("({g} && {b} AND ST_Intersects({g}, {b}))").format(g=geom, b=box)


# ---------------------------------------------------------------------------------------------------------------
# locks
# ---------------------------------------------------------------------------------------------------------------
def _lock_targets(wfs: Request) -> list[tuple[Layer, list[int]]]:
    """The features a LockFeature's Lock (1.1.0) / Query (2.0) elements or a GetFeatureWithLock's Queries name."""
    targets = []
    for part in wfs.root:
        if local(part) not in ("Lock", "Query"):
            continue
        names = (part.get("typeName") or part.get("typeNames") or "").split()
        if len(names) != 1:
            raise OWSException("InvalidParameterValue", "lock one layer per Lock / Query (typeName)", "typeName")
        layer = wfs.layer(names[0])
        table = wfs.table(layer)
        if not (rights.may(wfs.user, layer, rights.EDIT) or rights.may(wfs.user, layer, rights.DELETE)):
            wfs.allowed(layer, rights.EDIT)
        filter_element = next((e for e in part if local(e) == "Filter"), None)
        if filter_element is None:
            with connection.cursor() as cur:
                cur.execute(sql.SQL("SELECT fid FROM {} ORDER BY fid LIMIT {}").format(
                    table.identifier, sql.Literal(MAX_FEATURES + 1)))
                fids = [row[0] for row in cur.fetchall()]
        else:  # a ResourceId names an id, not a feature: a lock on a missing one would hold a later insert
            fids = _existing(table, [fid for fid, _v in matching(wfs, layer, table, filter_element)])
        targets.append((layer, fids))
    if not targets:
        raise OWSException("MissingParameterValue", "name the features to lock in a Lock (1.1.0) or Query (2.0)",
                           "Query" if wfs.two else "Lock")
    if sum(len(f) for _l, f in targets) > MAX_FEATURES:
        raise OWSException("OperationProcessingFailed", f"at most {MAX_FEATURES} features can be locked at once",
                           "Filter", 400)
    return targets


def _existing(table: store.Table, fids: list[int]) -> list[int]:
    if not fids:
        return []
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid FROM {} WHERE fid = ANY(%s::bigint[]) ORDER BY fid").format(table.identifier),
                    [fids])
        return [row[0] for row in cur.fetchall()]


def _take_locks(wfs: Request) -> tuple[str, list, list, dict]:
    wfs.writer()
    try:
        seconds = locks.seconds_of(wfs.root.get("expiry"), wfs.version)
    except ValueError:
        raise OWSException("InvalidParameterValue", f"expiry={wfs.root.get('expiry')!r}: give a number "
                           f"({'seconds' if wfs.two else 'minutes'})", "expiry") from None
    action = (wfs.root.get("lockAction") or "ALL").upper()
    if action not in ("ALL", "SOME"):
        raise OWSException("InvalidParameterValue", f"lockAction={action!r}: use ALL or SOME", "lockAction")
    targets = _lock_targets(wfs)
    layers = {layer.pk: layer for layer, _f in targets}
    wanted, not_allowed = [], []
    for layer, fids in targets:
        for fid in fids:
            (wanted if rights.may(wfs.user, layer, rights.EDIT, fid) else not_allowed).append((layer.pk, fid))
    if not_allowed and action == "ALL":
        layer_id, fid = not_allowed[0]
        raise OWSException("CannotLockAllFeatures", f"you may not edit feature {layers[layer_id].slug}.{fid}, so "
                           "it cannot be locked for you (lockAction=SOME locks the others)", "lockAction", 403)
    try:
        lock_id, got, refused = locks.acquire(wfs.user, wanted, seconds, action == "ALL")
    except locks.LockUnavailable:
        raise OWSException("OperationProcessingFailed", "features cannot be locked now (the lock store is not "
                           "answering); try again", "", 503) from None
    if action == "ALL" and refused:
        layer_id, fid = refused[0]
        raise OWSException("CannotLockAllFeatures", f"feature {layers[layer_id].slug}.{fid} is locked by another "
                           "user (lockAction=SOME locks the others)", "lockAction", 409)
    return lock_id, got, refused + not_allowed, layers


def _lock_feature(wfs: Request) -> HttpResponse:
    if local(wfs.root) != "LockFeature":
        raise OWSException("OperationNotSupported", f"{local(wfs.root)} is not answered here", "request")
    lock_id, got, refused, layers = _take_locks(wfs)
    root = wfs.element(None, "wfs", "WFS_LockFeatureResponse" if wfs.one_oh else "LockFeatureResponse")
    if wfs.two:
        root.set("lockId", lock_id)
    else:
        root.set("version", wfs.version)
        wfs.element(root, "wfs", "LockId").text = lock_id
    for tag, features in (("FeaturesLocked", got), ("FeaturesNotLocked", refused)):
        if features:
            listed = wfs.element(root, "wfs", tag)
            for layer_id, fid in features:
                wfs.feature_id(listed, layers[layer_id], fid)
    return xml_answer(root)


def with_lock(request, root, user, visible: frozenset[str]):
    """GetFeatureWithLock: the features its queries name locked, and the request as a GetFeature for the engine.
    Returns (GetFeature root, lockId)."""
    wfs = Request(request, root, user, visible)
    lock_id, _got, _refused, _layers = _take_locks(wfs)
    query = etree.fromstring(etree.tostring(root))
    query.tag = f"{{{etree.QName(root).namespace}}}GetFeature" if etree.QName(root).namespace else "GetFeature"
    for attribute in ("expiry", "lockAction"):
        query.attrib.pop(attribute, None)
    return query, lock_id


def stamp(body: bytes, lock_id: str) -> bytes:
    """The engine's FeatureCollection with the lockId on it."""
    return re.sub(rb"(<(?:[A-Za-z0-9_]+:)?FeatureCollection\b)", lambda m: m.group(1) + f' lockId="{lock_id}"'.encode(),
                  body, count=1)


# ---------------------------------------------------------------------------------------------------------------
# the response and the capabilities
# ---------------------------------------------------------------------------------------------------------------
def _transaction_response(wfs: Request, totals: dict, inserted: list):
    if wfs.one_oh:  # WFS 1.0.0: InsertResult per feature and a SUCCESS status
        root = wfs.element(None, "wfs", "WFS_TransactionResponse", version="1.0.0")
        for handle, layer, fid in inserted:
            result = wfs.element(root, "wfs", "InsertResult", **({"handle": handle} if handle else {}))
            wfs.feature_id(result, layer, fid)
        status = wfs.element(wfs.element(root, "wfs", "TransactionResult"), "wfs", "Status")
        wfs.element(status, "wfs", "SUCCESS")
        return root
    root = wfs.element(None, "wfs", "TransactionResponse", version=wfs.version)
    summary = wfs.element(root, "wfs", "TransactionSummary")
    for kind in ("Insert", "Update", "Replace", "Delete") if wfs.two else ("Insert", "Update", "Delete"):
        wfs.element(summary, "wfs", f"total{kind.removesuffix('e')}ed").text = str(totals[kind])
    if not wfs.two:
        wfs.element(root, "wfs", "TransactionResults")
    if inserted:
        results = wfs.element(root, "wfs", "InsertResults")
        for handle, layer, fid in inserted:
            feature = wfs.element(results, "wfs", "Feature", **({"handle": handle} if handle else {}))
            wfs.feature_id(feature, layer, fid)
    return root


def editable(user, visible: frozenset[str]) -> list[str]:
    """The visible vector layers the user may change in some way (add, edit or delete)."""
    if not user.is_authenticated or not visible:
        return []
    vector = Layer.objects.filter(slug__in=visible, kind=Layer.Kind.VECTOR).exclude(table_name="")
    out: set[str] = set()
    for right in layer_rights.FEATURE_CHANGES:  # a query per right, whatever the size of the catalog
        out.update(layer_rights.layers_where(user, right, vector).values_list("slug", flat=True))
    return sorted(out)


def tagged(etag: str, names: list[str]) -> str:
    """The ETag of a shared capabilities document with the WFS-T operations for `names` added (the tag itself when
    there are none): the editable set is part of what the document says."""
    if not names:
        return etag
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    return f'{etag.rstrip(chr(34))}-t{digest}"'


def advertise(body: bytes, url: str, names: list[str]) -> bytes:
    """WFS capabilities with Transaction, LockFeature and GetFeatureWithLock in OperationsMetadata (and the
    transactional and locking conformance on WFS 2.0), for a caller who may edit some of its layers; WFS 1.1.0
    feature types the caller may edit list their operations."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError:
        return body
    if root.get("version", "").startswith("1.0"):
        return _advertise_100(root, url, names)
    ows = next((e for e in root.iter() if local(e) == "OperationsMetadata"), None)
    if ows is None:
        return body
    namespace = etree.QName(ows).namespace
    xlink = "http://www.w3.org/1999/xlink"
    operations = [e for e in ows if local(e) == "Operation"]
    at = ows.index(operations[-1]) + 1 if operations else 0
    for name in OURS:
        if any(e.get("name") == name for e in operations):
            continue
        operation = etree.Element(f"{{{namespace}}}Operation", name=name)
        http = etree.SubElement(etree.SubElement(operation, f"{{{namespace}}}DCP"), f"{{{namespace}}}HTTP")
        etree.SubElement(http, f"{{{namespace}}}Post", {f"{{{xlink}}}href": url})
        ows.insert(at, operation)
        at += 1
    for constraint in ows:
        if local(constraint) == "Constraint" and constraint.get("name") in ("ImplementsTransactionalWFS",
                                                                             "ImplementsLockingWFS"):
            for value in constraint.iter():
                if local(value) == "DefaultValue":
                    value.text = "TRUE"
    wfs_ns = etree.QName(root).namespace
    if wfs_ns == NS["1"]["wfs"]:
        wanted = set(names)
        for feature_type in root.iter(f"{{{wfs_ns}}}FeatureType"):
            name_element = feature_type.find(f"{{{wfs_ns}}}Name")
            name = (name_element.text or "").split(":")[-1] if name_element is not None else ""
            if name not in wanted or feature_type.find(f"{{{wfs_ns}}}Operations") is not None:
                continue
            operations_element = etree.Element(f"{{{wfs_ns}}}Operations")
            for op in ("Query", "Insert", "Update", "Delete", "Lock"):
                etree.SubElement(operations_element, f"{{{wfs_ns}}}Operation").text = op
            anchor = next((e for e in feature_type if local(e) in ("OutputFormats", "WGS84BoundingBox",
                                                                    "MetadataURL")), None)
            if anchor is None:
                feature_type.append(operations_element)
            else:
                anchor.addprevious(operations_element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")



def _advertise_100(root, url: str, names: list[str]) -> bytes:
    """WFS 1.0.0 capabilities: Transaction, LockFeature and GetFeatureWithLock under Capability/Request, and the
    editing operations on each feature type the caller may edit (what QGIS reads to offer editing)."""
    namespace = etree.QName(root).namespace
    request = next((e for e in root.iter(f"{{{namespace}}}Request")), None)
    if request is not None:
        for name in OURS:
            if request.find(f"{{{namespace}}}{name}") is None:
                operation = etree.SubElement(request, f"{{{namespace}}}{name}")
                http = etree.SubElement(etree.SubElement(operation, f"{{{namespace}}}DCPType"),
                                        f"{{{namespace}}}HTTP")
                etree.SubElement(http, f"{{{namespace}}}Post", onlineResource=url)
    wanted = set(names)
    for feature_type in root.iter(f"{{{namespace}}}FeatureType"):
        name = (feature_type.findtext(f"{{{namespace}}}Name") or "").split(":")[-1]
        if name not in wanted or feature_type.find(f"{{{namespace}}}Operations") is not None:
            continue
        operations = etree.Element(f"{{{namespace}}}Operations")
        for op in ("Query", "Insert", "Update", "Delete", "Lock"):
            etree.SubElement(operations, f"{{{namespace}}}{op}")
        anchor = next((e for e in feature_type if local(e) in ("LatLongBoundingBox", "MetadataURL")), None)
        if anchor is None:
            feature_type.append(operations)
        else:
            anchor.addprevious(operations)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
