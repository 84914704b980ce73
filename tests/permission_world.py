"""A small committed world for the permission matrix: two agencies, four kinds of caller, and a public, an
internal and a restricted layer of agency A, each with its own tell-tale title, attribute, values, feature count
and a place of its own — so a leak of any of them can be recognised in any answer by text alone."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.authtoken.models import Token

ACTORS = ("anonymous", "other", "owner", "admin")
VISIBILITIES = ("public", "internal", "restricted")
MISSING_SLUG = "mx-nowhere"
MISSING_VALUE = "NOVALUE-1"
MISSING_JOB = 987654


@dataclass(frozen=True)
class LayerSpec:
    visibility: str
    slug: str
    title_zh: str
    title_en: str
    attribute: str  # a text attribute with values VALUE-1, VALUE-2 …
    value: str
    count: int  # three digits: recognisable as a number in an answer
    lon: float  # south-west corner; the features fill a 0.009° square, far from the other layers
    lat: float


SPECS = {
    "public": LayerSpec("public", "mx-open", "公開測試圖層", "Open test layer", "open_name", "OPENVAL", 23,
                        121.301, 24.991),
    "internal": LayerSpec("internal", "mx-staff", "內部測試圖層", "Staff test layer", "staff_note", "STAFFVAL", 263,
                          120.681, 24.141),
    "restricted": LayerSpec("restricted", "mx-classified", "機密測試圖層", "Classified test layer", "secret_code",
                            "SECRETVAL", 347, 120.211, 22.991),
}


def may_see(actor: str, visibility: str) -> bool:
    """The catalog's rule: public for all, internal for signed-in users, restricted for the owner agency."""
    return (visibility == "public" or (visibility == "internal" and actor != "anonymous")
            or actor in ("owner", "admin"))


@dataclass
class Subject:
    """What a probe's URL and body are filled with: a layer's slug, one of its values, a tile on it …"""

    slug: str
    value: str
    job: int
    fid: int
    z: int
    x: int
    y: int
    lon: float
    lat: float
    bbox3857: str
    theme: str = "disaster"

    def fill(self, text: str) -> str:
        for key, val in vars(self).items():
            text = text.replace("{" + key + "}", str(val))
        return text

    def missing(self) -> "Subject":
        """The same request about a layer (job, value) that does not exist."""
        return Subject(**{**vars(self), "slug": MISSING_SLUG, "value": MISSING_VALUE, "job": MISSING_JOB})


@dataclass
class World:
    users: dict[str, User | None]
    tokens: dict[str, str]
    subjects: dict[str, Subject]
    tells: dict[str, list[re.Pattern]] = field(default_factory=dict)  # visibility → what would betray the layer


def _points(spec: LayerSpec) -> dict:
    side = 19  # a grid of side² places, the first `count` used
    features = []
    for i in range(spec.count):
        row, col = divmod(i, side)
        lon, lat = spec.lon + 0.0004 * col + 0.0002, spec.lat + 0.0004 * row + 0.0002
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {spec.attribute: f"{spec.value}-{i + 1}", "name": f"{spec.value}-{i + 1}",
                                        "rank": i}})
    return {"type": "FeatureCollection", "features": features}


# a number standing alone: not inside a longer number nor inside an identifier such as a random hex id (folium's
# element ids once held a feature count by chance)
NUMBER_START, NUMBER_END = r"(?<![0-9A-Za-z_.])", r"(?![0-9A-Za-z_])"


def _metre_tells(values: list[float]) -> list[re.Pattern]:
    """A pattern for the integer metres of a projected CRS anywhere in [min, max] of `values` (±100 m)."""
    hundreds = range(int(min(values)) // 100 - 1, int(max(values)) // 100 + 2)
    return [re.compile(NUMBER_START + "(?:" + "|".join(str(h) for h in hundreds) + r")\d\d" + NUMBER_END)]


def _tells(spec: LayerSpec, table: str) -> list[re.Pattern]:
    words = [spec.slug, table, spec.title_zh, spec.title_en, spec.attribute, spec.value]
    found = [re.compile(re.escape(w)) for w in words]
    found.append(re.compile(NUMBER_START + str(spec.count) + NUMBER_END))
    with connection.cursor() as cur:
        for srid in (3826, 3857):
            cur.execute(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
                        f"ST_SetSRID(ST_Extent(geom), 3826), {srid}) e FROM layerdata.{table}) s")
            x0, y0, x1, y1 = cur.fetchone()
            found += _metre_tells([x0, x1]) + _metre_tells([y0, y1])
    # lon/lat: every coordinate of the layer starts with these digits (the square is 0.009° wide); not the seconds
    # of a time ("20:39:22.996978" is no latitude 22.99…)
    found += [re.compile(r"(?<![\d:])" + re.escape(f"{spec.lon:.3f}"[:-1])),
              re.compile(r"(?<![\d:])" + re.escape(f"{spec.lat:.3f}"[:-1]))]
    return found


def build(tmp: Path) -> World:
    """Create the agencies, callers and layers (through the real import pipeline), register the restricted
    layer's points as sensors with a reading each, and publish everything to the OGC engine."""
    import importlib

    from conftest import tile_of
    from django.apps import apps

    from iot import registry
    from iot.ingest import ingest
    from iot.models import Device
    from layers.importing import jobs
    from layers.importing.pipeline import run_job
    from layers.models import Layer
    from layers.ogc import publishing

    importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)
    agency = Group.objects.create(name="機密局")
    elsewhere = Group.objects.create(name="其他局")
    owner = User.objects.create_user("mx-owner", password="pw")
    owner.groups.add(agency)
    other = User.objects.create_user("mx-other", password="pw")
    other.groups.add(elsewhere)
    admin = User.objects.create_superuser("mx-admin", password="pw")
    users = {"anonymous": None, "other": other, "owner": owner, "admin": admin}
    tokens = {name: Token.objects.create(user=u).key for name, u in users.items() if u}
    world = World(users=users, tokens=tokens, subjects={})
    for visibility, spec in SPECS.items():
        path = tmp / f"{spec.slug}.geojson"
        path.write_text(json.dumps(_points(spec)), encoding="utf-8")
        job = run_job(jobs.create(path, path.name, {
            "mode": "create", "slug": spec.slug, "title": spec.title_zh, "title_en": spec.title_en,
            "abstract": f"{spec.title_zh}：{spec.value}", "keywords": [spec.value], "visibility": visibility,
            "theme": "disaster", "owner_agency": agency.pk}, owner).pk)
        assert job.status == "succeeded", job.errors
        layer = Layer.objects.get(slug=spec.slug)
        layer.tile_attributes = [spec.attribute]  # searchable by /api/v1/search/
        layer.save()
        lon, lat = spec.lon + 0.0042, spec.lat + 0.0042
        x, y = tile_of(lon, lat, 14)
        with connection.cursor() as cur:
            cur.execute(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform("
                        f"ST_SetSRID(ST_Extent(geom), 3826), 3857) e FROM layerdata.{layer.table_name}) s")
            box = ",".join(f"{v:.1f}" for v in cur.fetchone())
        world.subjects[visibility] = Subject(slug=spec.slug, value=f"{spec.value}-1", job=job.pk, fid=1, z=14, x=x,
                                             y=y, lon=lon, lat=lat, bbox3857=box)
        world.tells[visibility] = _tells(spec, layer.table_name)
    # sensors: the restricted layer's points are devices; one reading each for the first three
    restricted = Layer.objects.get(slug=SPECS["restricted"].slug)
    registry.from_layer(restricted, SPECS["restricted"].attribute, "name")
    for device in Device.objects.filter(layer=restricted).order_by("id")[:3]:
        ingest(device, [{"quantity": "pm25", "value": 12.5, "observed_at": "2026-01-05T08:00:00+08:00"}], "http")
    publishing.publish_all()
    _statistics()
    _events()
    return world


def _statistics() -> None:
    """Each layer also a statistical table (its names its area codes) joined to itself, with an indicator of the
    layer's slug: the stats routes answer with data to whoever may see the layer, and as missing to the others."""
    from dashboards.models import Dashboard
    from layers.models import Layer
    from stats import joins
    from stats.models import Indicator, StatTable

    for spec in SPECS.values():
        layer = Layer.objects.get(slug=spec.slug)
        with connection.cursor() as cur:
            cur.execute(f"ALTER TABLE layerdata.{layer.table_name} ADD COLUMN area_code text, ADD COLUMN county_name "
                        "text, ADD COLUMN town_name text, ADD COLUMN village_name text, ADD COLUMN period date; "
                        f"UPDATE layerdata.{layer.table_name} SET area_code = name, village_name = name, "
                        "period = DATE '2025-12-01'")
        table = StatTable.objects.create(layer=layer, level="village", key="code", format="csv",
                                         periods=["2025-12-01"])
        record = joins.join(table, layer, key="code", boundary_column="name")
        Indicator.objects.create(slug=spec.slug, title_zh=spec.title_zh, join=record, formula="value",
                                 numerator="rank", decimals=0)
        # and a dashboard of the same slug and access over that indicator (the dashboard routes)
        board = Dashboard.objects.create(slug=spec.slug, title_zh=spec.title_zh, visibility=layer.visibility,
                                         owner_agency=layer.owner_agency, spec={"selectors": [{"kind": "district"}],
                                         "widgets": [{"id": "w1", "type": "kpi", "indicator": spec.slug}]})
        board.allowed_groups.set(layer.allowed_groups.all())


def _events() -> None:
    """Each layer also an event layer (events/): the fixed event fields added to its table, the case number its
    value, so the events routes answer with data to whoever may see the layer, and as missing to the others."""
    from events.models import Category, EventLayer
    from layers.models import Layer

    for spec in SPECS.values():
        layer = Layer.objects.get(slug=spec.slug)
        with connection.cursor() as cur:
            cur.execute(f"ALTER TABLE layerdata.{layer.table_name} ADD COLUMN case_no text, ADD COLUMN reported_at "
                        "timestamptz, ADD COLUMN category text, ADD COLUMN category_label text, ADD COLUMN status "
                        "text, ADD COLUMN dispatched_at timestamptz, ADD COLUMN closed_at timestamptz, ADD COLUMN "
                        "address text, ADD COLUMN district text, ADD COLUMN geocode_level text; "
                        f"UPDATE layerdata.{layer.table_name} SET case_no = name, category = 'pothole', "
                        "category_label = '道路坑洞', reported_at = TIMESTAMPTZ '2026-11-02 08:00+08' + rank * "
                        "INTERVAL '1 hour', dispatched_at = TIMESTAMPTZ '2026-11-02 12:00+08' + rank * INTERVAL "
                        "'1 hour', geocode_level = 'coordinates'")
        event_layer = EventLayer.objects.create(layer=layer)
        Category.objects.create(event_layer=event_layer, code="pothole", label_zh="道路坑洞", label_en="Pothole")


def tear_down() -> None:
    from dashboards.models import Dashboard
    from iot.models import Device
    from jobs.models import Job
    from layers.models import Layer

    Device.objects.all().delete()
    Dashboard.objects.all().delete()
    Layer.objects.all().delete()
    Job.objects.all().delete()
    User.objects.filter(username__startswith="mx-").delete()
    Group.objects.filter(name__in=["機密局", "其他局"]).delete()
    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")
