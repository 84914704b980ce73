"""Event maps (活動協作圖): several agencies each own a sub-layer of one shared map — for the Lantern Festival the
traffic, police and fire bureaus plan parking, traffic control and fire arrangements on one map.

No rights of its own: each sub-layer is an ordinary editable vector layer of the catalog, restricted, owned by its
agency (whose members hold every right on it: accounts.rights) and open to every agency of the event
(Layer.allowed_groups: they see it, its features and its live changes, and may not change it); its organiser holds
a "see" grant on each. Whoever is in none of the agencies does not see the layers, nor the event (404). Edits go
through editing.store like any other: forms (name required, the editor's agency filled in), versions, history,
live events. The map itself is a share link
(web.SharedView) holding every sub-layer; opening the event opens the viewer on it.

Making one takes the right to import new layers (accounts.rights.may_import: it makes new layers), or an
administrator.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from psycopg2 import sql

from accounts import rights as layer_rights
from accounts.models import LayerGrant
from layers import new_layer_colors
from layers.importing.pipeline import create_with_free_slug
from layers.models import DATA_SCHEMA, Layer, Style
from layers.naming import layer_slug
from layers.ogc import publishing
from layers.serving.access import BadRequest
from web.models import SharedView
from web.viewer import catalog_bbox

from .models import EventMap, EventMapLayer, LayerForm

MAX_AGENCIES = 20
ATTRIBUTES = [  # every sub-layer's columns: what a plan needs on the map, the form fills in who
    {"name": "name", "type": "text", "label": "名稱", "label_en": "Name"},
    {"name": "note", "type": "text", "label": "說明", "label_en": "Note"},
    {"name": "agency", "type": "text", "label": "機關", "label_en": "Agency"},
    {"name": "editor", "type": "text", "label": "編輯者", "label_en": "Editor"},
]
FORM = {"name": {"required": True}, "agency": {"default_from": "agency", "read_only": True},
        "editor": {"default_from": "user", "read_only": True}}


def _slug(english: str, chinese: str) -> str:
    """From the English name when there is one (no transliteration dictionary to load), else the catalog's way."""
    return slugify(english)[:40].strip("-") if slugify(english)[:1].isalpha() else layer_slug(english, chinese)


def may_create(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.is_staff
                                                     or layer_rights.may_import(user)))


def visible(user):
    """The events the user takes part in: those with a sub-layer they may see (administrators: all)."""
    seen = Layer.objects.visible_to(user if user and user.is_authenticated else None)
    return EventMap.objects.filter(parts__layer__in=seen).distinct()


def agency_choices():
    """The groups the page offers: the agencies, and the groups that own layers (the demo city's bureaus)."""
    return Group.objects.filter(Q(agency__isnull=False) | Q(owned_layers__isnull=False)).distinct() \
        .select_related("agency").order_by("name")


def _agencies(value) -> list[Group]:
    if not isinstance(value, list) or not value:
        raise BadRequest("agencies：請列出參與的機關（名稱或編號），每個機關一個子圖層")
    if len(value) > MAX_AGENCIES:
        raise BadRequest("agencies：最多 {n} 個機關", n=MAX_AGENCIES)
    found = []
    for i, item in enumerate(value):
        query = Group.objects.all()  # an agency (accounts.Agency) or any group that owns layers as one
        group = (query.filter(pk=item).first() if isinstance(item, int) and not isinstance(item, bool)
                 else query.filter(name=item).first() if isinstance(item, str) else None)
        if group is None:
            raise BadRequest("agencies[{i}]：沒有機關 {name}", i=i, name=repr(item)[:60])
        if group in found:
            raise BadRequest("agencies[{i}]：機關 {name} 重複", i=i, name=group.name)
        found.append(group)
    return found


def create(user, body) -> EventMap:
    """An event map from {title_zh, title_en, geometry_type (Point, LineString, Polygon), agencies: [names or ids],
    center: [lon, lat], zoom}: one empty sub-layer per agency, the share link that opens them all."""
    if not isinstance(body, dict):
        raise BadRequest("請送 {{title_zh, title_en, geometry_type, agencies}}")
    title = str(body.get("title_zh") or "").strip()
    if not title or len(title) > 120:
        raise BadRequest("title_zh：請填活動名稱（最多 120 字）")
    title_en = str(body.get("title_en") or "").strip()[:120]
    kind = body.get("geometry_type") or EventMap.Geometry.POLYGON
    if kind not in EventMap.Geometry.values:
        raise BadRequest("geometry_type 應為 {known} 之一", known=", ".join(EventMap.Geometry.values))
    agencies = _agencies(body.get("agencies"))
    box = catalog_bbox(user)
    center = body.get("center") or [round((box[0] + box[2]) / 2, 6), round((box[1] + box[3]) / 2, 6)]
    zoom = body.get("zoom", 14)
    if not (isinstance(center, list) and len(center) == 2 and all(isinstance(v, int | float) for v in center)
            and -180 <= center[0] <= 180 and -85 <= center[1] <= 85):
        raise BadRequest("center：請填 [經度, 緯度]")
    if isinstance(zoom, bool) or not isinstance(zoom, int | float) or not 0 <= zoom <= 22:
        raise BadRequest("zoom：請填 0 到 22 的縮放等級")
    base = _slug(title_en, title)[:30].rstrip("-") or "event"
    with transaction.atomic():
        slug = base
        while EventMap.objects.filter(slug=slug).exists():
            slug = f"{base}-{secrets.token_hex(2)}"
        event = EventMap.objects.create(slug=slug, title_zh=title, title_en=title_en, geometry_type=kind,
                                        created_by=user)
        colours = new_layer_colors.pick([], len(agencies))
        for agency, colour in zip(agencies, colours, strict=True):
            layer = _sub_layer(event, agency, agencies, colour, user)
            EventMapLayer.objects.create(event=event, layer=layer, agency=agency)
        event.view = SharedView.objects.create(created_by=user, state={
            "center": center, "zoom": float(zoom), "mode": "2d", "bearing": 0, "pitch": 0, "basemap": "",
            "layers": [{"slug": p.layer.slug, "opacity": 1, "visible": True} for p in event.parts.all()]})
        event.save(update_fields=["view"])
    return event


def _sub_layer(event: EventMap, agency: Group, agencies: list[Group], colour: str, user) -> Layer:
    name_en = getattr(getattr(agency, "agency", None), "name_en", "") or agency.name
    layer = create_with_free_slug(
        Layer.objects.free_slug(f"{event.slug}-{_slug(name_en, agency.name)}"[:50].rstrip("-")),
        title_zh=f"{event.title_zh}－{agency.name}", title_en=f"{event.title_en or event.title_zh} – {name_en}",
        abstract=f"活動協作圖「{event.title_zh}」中{agency.name}的子圖層", kind=Layer.Kind.VECTOR,
        visibility=Layer.Visibility.RESTRICTED, owner_agency=agency, srid=settings.WORKING_SRID,
        geometry_type=event.geometry_type, attributes=ATTRIBUTES, source="event map", keywords=["活動協作圖"],
        creation_date=timezone.localdate())
    with connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} (fid serial PRIMARY KEY, name text, note text, agency text, editor text,"
                            " geom geometry({}, {}))").format(
            sql.Identifier(DATA_SCHEMA, layer.table_name), sql.SQL(event.geometry_type),
            sql.Literal(settings.WORKING_SRID)))
        cur.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(
            sql.Identifier(DATA_SCHEMA, layer.table_name)))
    layer.allowed_groups.set(agencies)
    # not its maker (who would hold every right): the organiser sees every sub-layer, edits only their agency's
    LayerGrant.objects.create(layer=layer, user=user, rights=[LayerGrant.Right.SEE])
    LayerForm.objects.create(layer=layer, fields=FORM, updated_by=user.get_username())
    Style.objects.create(layer=layer, fill_color=colour, stroke_color=new_layer_colors.outline_of(colour))
    publishing.follow(layer, publishing.PUBLISH)
    return layer


def describe(event: EventMap, user) -> dict:
    """The event as its reader sees it: every sub-layer with its agency, and whether the reader may edit it."""
    seen = set(Layer.objects.visible_to(user if user and user.is_authenticated else None)
               .filter(event_part__event=event).values_list("pk", flat=True))
    parts = []
    for part in event.parts.select_related("layer", "agency", "agency__agency"):
        if part.layer_id not in seen:
            continue
        parts.append({"layer": part.layer.slug, "title": part.layer.title_zh, "title_en": part.layer.title_en,
                      "agency": part.agency.name,
                      "agency_en": getattr(getattr(part.agency, "agency", None), "name_en", "") or part.agency.name,
                      "feature_count": part.layer.feature_count,
                      "can_edit": layer_rights.may(user, "add", part.layer)})
    return {"slug": event.slug, "title_zh": event.title_zh, "title_en": event.title_en,
            "geometry_type": event.geometry_type, "created_at": event.created_at.isoformat(),
            "created_by": event.created_by.get_username() if event.created_by else "",
            "map": f"/s/{event.view.code}" if event.view else None, "layers": parts}
