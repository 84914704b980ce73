"""The decision pages' pickers (web/pickers.py): for each role (candidates, demand, constraints, existing
facilities, DEM, network, hotspots, usage, sensors) the layers the visitor may see that can play it — by geometry
and attribute kind — with the demo city's layers first; another agency's restricted layer is offered to its members
only, and its attribute values (GET /api/v1/layers/{slug}/values/) answer others as a missing layer would."""

import json
import re

import pytest
from conftest import committed_demo_city
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from layers import attribute_kinds
from layers.models import Layer

pytestmark = pytest.mark.django_db
PAGES = ("/siting/", "/wifi/", "/sensors/")
CONFIG = re.compile(r'<script id="viewer-config" type="application/json">(.*?)</script>', re.S)
POINTS, POLYGONS = ("Point", "MultiPoint"), ("Polygon", "MultiPolygon")


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with committed_demo_city(django_db_blocker, seed=5, size=0.2) as demo:
        yield demo


@pytest.fixture
def agency_layer(city):
    """A restricted point layer of 文化局 (kiosks with a capacity), as an upload would make it."""
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE layerdata.kiosks (fid serial PRIMARY KEY, kind text, capacity integer,"
                    " geom geometry(Point, 3826))")
        cur.execute("INSERT INTO layerdata.kiosks (kind, capacity, geom) VALUES"
                    " ('書報亭', 120, ST_SetSRID(ST_MakePoint(270000, 2760000), 3826)),"
                    " ('書報亭', 80, ST_SetSRID(ST_MakePoint(270500, 2760500), 3826)),"
                    " ('服務台', 300, ST_SetSRID(ST_MakePoint(271000, 2761000), 3826))")
    culture = Group.objects.create(name="文化局")
    return Layer.objects.create(
        slug="culture-kiosks", table_name="kiosks", title_zh="文化服務亭", title_en="Culture kiosks",
        kind=Layer.Kind.VECTOR, geometry_type="Point", srid=3826, feature_count=3,
        visibility=Layer.Visibility.RESTRICTED, owner_agency=culture,
        attributes=[attribute_kinds.describe("kind", "text", values=["書報亭", "書報亭", "服務台"]),
                    attribute_kinds.describe("capacity", "integer", values=[120, 80, 300])])


def client(user=None) -> APIClient:
    c = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hant")
    if user:
        c.force_login(user)
    return c


def config_of(c, path="/siting/") -> dict:
    return json.loads(CONFIG.search(c.get(path).content.decode())[1])


def pickers_of(c, path="/siting/") -> dict:
    config = config_of(c, path)
    return config["pickers"] | {"layers": {e["slug"]: e for e in [*config["layers"], *config["pickers"]["tables"]]}}


def member(name: str, agency: str | None = None) -> User:
    user = User.objects.create_user(name, password="pw")
    if agency:
        user.groups.add(Group.objects.get_or_create(name=agency)[0])
    return user


def offered(p: dict) -> set[str]:
    return {slug for slugs in p["roles"].values() for slug in slugs}


def test_anonymous_capacity_are_offered_public_layers_only(agency_layer):
    p = pickers_of(client())
    assert "parcels" not in offered(p) and "wifi-usage" not in offered(p)  # internal
    assert "culture-kiosks" not in offered(p) and "culture-kiosks" not in p["layers"]
    assert p["defaults"]["candidates"] != "parcels" and p["defaults"]["candidates"] in p["roles"]["candidates"]
    assert p["defaults"]["demand"] == "villages" and p["defaults"]["existing"] == "facilities"
    assert p["defaults"]["usage"] is None and p["roles"]["usage"] == []
    assert p["defaults"]["constraints"] == ["flood-zones"] and p["defaults"]["dem"] == "demo-dem"


def test_signed_in_staff_get_internal_layers_and_the_demo_defaults(agency_layer):
    p = pickers_of(client(member("clerk")))
    assert p["defaults"] == {
        "candidates": "parcels", "demand": "villages", "constraints": ["flood-zones"], "existing": "facilities",
        "distance": "roads", "dem": "demo-dem", "network": "roads", "hotspots": "wifi-hotspots",
        "usage": "wifi-usage", "sensors": "air-sensors"}
    assert "parcels" in p["roles"]["candidates"] and "wifi-usage" in p["roles"]["usage"]
    usage = p["layers"]["wifi-usage"]  # a table: its entry comes with the pickers, attributes described
    assert {a["name"]: a["kind"] for a in usage["attributes"]}["sessions"] == "count"
    assert "culture-kiosks" not in offered(p)  # restricted to 文化局


def test_each_role_offers_layers_of_its_geometry_and_kinds(agency_layer):
    culture = member("culture", "文化局")
    p = pickers_of(client(culture))
    shapes = {slug: e["geometry_type"] or e["kind"] for slug, e in p["layers"].items()}
    allowed = {"candidates": POLYGONS + POINTS, "constraints": POLYGONS, "existing": POINTS, "dem": ("raster",),
               "network": ("LineString", "MultiLineString"), "hotspots": POINTS, "sensors": POINTS}
    for role, geometries in allowed.items():
        assert p["roles"][role], role
        assert all(shapes[slug] in geometries for slug in p["roles"][role]), (role, p["roles"][role])
    for slug in p["roles"]["demand"]:  # demand: only layers with a count to serve
        assert any(a["kind"] == "count" for a in p["layers"][slug]["attributes"]), slug
    assert "flood-zones" not in p["roles"]["demand"] and "roads" not in p["roles"]["candidates"]
    assert p["attribute_kinds"]["demand"] == ["count"] and p["attribute_kinds"]["filter"] == ["category"]
    # the agency's own restricted point layer is offered wherever a point layer with a count fits
    for role in ("candidates", "demand", "existing", "hotspots", "sensors"):
        assert "culture-kiosks" in p["roles"][role], role
    assert "culture-kiosks" not in p["roles"]["constraints"]
    kiosks = p["layers"]["culture-kiosks"]["attributes"]
    assert {a["name"]: a["kind"] for a in kiosks} == {"kind": "category", "capacity": "count"}
    assert next(a for a in kiosks if a["name"] == "capacity")["unit"] == "人"  # shown with the label
    for path in PAGES[1:]:
        assert "culture-kiosks" in pickers_of(client(culture), path)["roles"]["sensors"]


def test_another_agency_sees_neither_the_layer_nor_its_values(agency_layer):
    other = member("water", "水務局")
    for path in PAGES:
        p = pickers_of(client(other), path)
        assert "culture-kiosks" not in offered(p) and "culture-kiosks" not in p["layers"], path
    mine = client(member("culture2", "文化局"))
    values = mine.get("/api/v1/layers/culture-kiosks/values/?attribute=kind").json()
    assert values["values"] == [{"value": "書報亭", "label": "書報亭", "count": 2},
                                {"value": "服務台", "label": "服務台", "count": 1}] and values["more"] is False
    hidden = client(other).get("/api/v1/layers/culture-kiosks/values/?attribute=kind")
    missing = client(other).get("/api/v1/layers/no-such-layer/values/?attribute=kind")
    assert hidden.status_code == missing.status_code == 404
    bad = mine.get("/api/v1/layers/culture-kiosks/values/?attribute=nope")
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]


def test_the_demo_filters_values_come_with_the_page(city):
    config = config_of(client(member("planner2")))
    uses = {v["value"]: v["label"] for v in config["values"]["parcels|land_use_code"]}
    assert uses["residential"] == "住宅區"
    assert "sports_centre" in {v["value"] for v in config["values"]["facilities|kind"]}
    assert "parcels|land_use_code" not in config_of(client())["values"]  # anonymous: the cadastre is internal
