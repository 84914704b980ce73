"""Splitting and merging features through the API: the geometry PostGIS makes, checked independently with shapely;
attributes by the form's `split` rules; history naming the new and merged fids; stale versions; rights."""

import numpy as np
import pytest
import shapely
from django.contrib.auth.models import Group, User
from django.db import connection
from pyproj import Transformer
from shapely import wkb
from shapely.geometry import LineString, Polygon, shape
from shapely.ops import split as shapely_split
from shapely.ops import unary_union

from editing.models import FeatureChange
from layers.models import Layer
from tests.test_feature_editing import client

pytestmark = pytest.mark.django_db

SLUG = "sm-parcels"
URL = f"/api/v1/layers/{SLUG}/"
X0, Y0 = 250000.0, 2770000.0  # TWD97 / TM2, in the demo city's part of Taoyuan
TO_LONLAT = Transformer.from_crs(3826, 4326, always_xy=True)
TO_TM2 = Transformer.from_crs(4326, 3826, always_xy=True)


def square(x, y, size=100.0) -> Polygon:
    return Polygon([(x, y), (x + size, y), (x + size, y + size), (x, y + size)])


def lonlat(coords) -> list[list[float]]:
    return [list(TO_LONLAT.transform(x, y)) for x, y in coords]


def native(geojson) -> Polygon | LineString:
    """A GeoJSON geometry in lon/lat as shapely in TWD97 / TM2."""
    return shapely.transform(shape(geojson), lambda xy: np.column_stack(TO_TM2.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture
def parcels(db) -> Layer:
    """Three squares in a row (1 and 2 touch, 3 stands apart), with a population shared by area on a split."""
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE layerdata.sm_parcels (fid serial PRIMARY KEY, name text, population integer,"
                    " geom geometry(Polygon, 3826))")
        for name, population, poly in (("A", 100, square(X0, Y0)), ("B", 40, square(X0 + 100, Y0)),
                                       ("C", 10, square(X0 + 300, Y0))):
            cur.execute("INSERT INTO layerdata.sm_parcels (name, population, geom) VALUES (%s, %s,"
                        " ST_GeomFromWKB(%s, 3826))", [name, population, poly.wkb])
    agency = Group.objects.get_or_create(name="地政局")[0]
    layer = Layer.objects.create(slug=SLUG, title_zh="地籍", table_name="sm_parcels", kind="vector", srid=3826,
                                 geometry_type="Polygon", feature_count=3, owner_agency=agency,
                                 native_extent=[X0, Y0, X0 + 400, Y0 + 100],
                                 attributes=[{"name": "name", "type": "text"},
                                             {"name": "population", "type": "integer", "label": "人口"}])
    from editing.models import LayerForm
    LayerForm.objects.create(layer=layer, fields={"population": {"split": "proportional", "min": 0},
                                                  "name": {"required": True}})
    return layer


@pytest.fixture
def owner(parcels):
    user = User.objects.create_user("sm-land")
    user.groups.add(parcels.owner_agency)
    return user



def stored(fid: int):
    with connection.cursor() as cur:
        cur.execute("SELECT ST_AsBinary(geom) FROM layerdata.sm_parcels WHERE fid = %s", [fid])
        row = cur.fetchone()
    return wkb.loads(bytes(row[0])) if row else None


def test_a_polygon_split_by_a_line_gives_pieces_with_shared_population_and_history(parcels, owner):
    blade = LineString([(X0 + 30, Y0 - 10), (X0 + 30, Y0 + 110)])
    answer = client(owner).post(f"{URL}features/1/split/", {"geometry": {"type": "LineString", "coordinates":
                                                                         lonlat(blade.coords)}, "version": 0},
                                format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    original, *made = body["changes"]
    assert (original["fid"], original["action"], original["version"]) == (1, "split", 1)
    new = [c["fid"] for c in made]
    assert original["related"] == new and len(new) == 2 and all(c["related"] == [1] for c in made)
    # the same cut made by shapely on the stored square: the pieces match within a millimetre
    expected = sorted(shapely_split(square(X0, Y0), blade).geoms, key=lambda g: g.area)
    got = sorted((stored(fid) for fid in new), key=lambda g: g.area)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.symmetric_difference(theirs).area < 1e-3
    assert stored(1) is None
    assert got[0].area == pytest.approx(3000, abs=0.5) and got[1].area == pytest.approx(7000, abs=0.5)
    # the population is shared by area (integer column: rounded); the name copied
    pieces = sorted(body["features"], key=lambda f: f["properties"]["population"])
    assert [(p["properties"]["name"], p["properties"]["population"]) for p in pieces] == [("A", 30), ("A", 70)]
    history = client(owner).get(f"{URL}features/1/history/").json()
    assert history["changes"][0]["action"] == "split" and history["changes"][0]["related"] == new
    assert history["changes"][0]["after"] is None and history["changes"][0]["before"]["properties"]["name"] == "A"
    assert Layer.objects.get(pk=parcels.pk).feature_count == 4
    # the original can be brought back from its history (the pieces stay: each has its own)
    assert client(owner).post(f"{URL}features/1/restore/", {"to_version": 0, "version": 1},
                              format="json").status_code == 200
    assert stored(1).symmetric_difference(square(X0, Y0)).area < 1  # through lon/lat with 7 decimals


def test_a_line_that_misses_a_stale_version_and_the_rights_are_refused(parcels, owner):
    miss = {"type": "LineString", "coordinates": lonlat([(X0 - 50, Y0 - 50), (X0 - 40, Y0 + 150)])}
    cut = {"type": "LineString", "coordinates": lonlat([(X0 + 50, Y0 - 10), (X0 + 50, Y0 + 110)])}
    refused = client(owner).post(f"{URL}features/1/split/", {"geometry": miss, "version": 0}, format="json")
    assert refused.status_code == 400 and "兩塊以上" in refused.json()["detail"]
    assert client(owner).post(f"{URL}features/1/split/", {"version": 0}, format="json").status_code == 400
    point = {"type": "Point", "coordinates": lonlat([(X0, Y0)])[0]}
    assert client(owner).post(f"{URL}features/1/split/", {"geometry": point, "version": 0},
                              format="json").status_code == 400
    assert client(owner).patch(f"{URL}features/1/", {"properties": {"name": "A2"}, "version": 0},
                               format="json").status_code == 200
    stale = client(owner).post(f"{URL}features/1/split/", {"geometry": cut, "version": 0}, format="json")
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 1
    assert stored(1) is not None and FeatureChange.objects.filter(action="split").count() == 0
    # another agency's user sees the internal layer but may not split (403); anonymous does not see it (404)
    other = User.objects.create_user("sm-other")
    assert client(other).post(f"{URL}features/1/split/", {"geometry": cut, "version": 1},
                              format="json").status_code == 403
    assert client().post(f"{URL}features/1/split/", {"geometry": cut, "version": 1}, format="json").status_code == 404
    # edit_all without delete: may not remove the original
    from accounts.models import LayerGrant
    LayerGrant.objects.create(layer=parcels, user=other, rights=["edit_all", "add"])
    assert client(other).post(f"{URL}features/1/split/", {"geometry": cut, "version": 1},
                              format="json").status_code == 403
    assert client(other).post(f"{URL}merge/", {"features": [{"fid": 1, "version": 1}, {"fid": 2, "version": 0}]},
                              format="json").status_code == 403


def test_merge_takes_the_chosen_features_attributes_and_the_union(parcels, owner, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    from layers.serving import tilecache

    invalidated = []
    monkeypatch.setattr(tilecache, "invalidate_now", lambda layer, boxes=None, srid=None: invalidated.append(boxes))
    c = client(owner)
    with django_capture_on_commit_callbacks(execute=True):
        answer = c.post(f"{URL}merge/", {"features": [{"fid": 1, "version": 0}, {"fid": 2, "version": 0}],
                                         "keep": 2, "properties": {"population": 140}}, format="json")
    # only the cached tiles under the two squares go (each change's box before and after), not the layer's
    boxes = [box for boxes in invalidated for box in boxes if box is not None]
    assert invalidated and all(b is not None for b in invalidated)
    assert min(b[0] for b in boxes) == pytest.approx(X0) and max(b[2] for b in boxes) == pytest.approx(X0 + 200)
    assert answer.status_code == 200, answer.content
    kept, gone = answer.json()["changes"]
    assert (kept["fid"], kept["action"], kept["version"], kept["related"]) == (2, "merge", 1, [1])
    assert (gone["fid"], gone["action"], gone["version"], gone["related"]) == (1, "merge", 1, [2])
    expected = unary_union([square(X0, Y0), square(X0 + 100, Y0)])
    assert stored(2).symmetric_difference(expected).area < 1e-3 and stored(1) is None
    feature = answer.json()["features"][0]
    assert feature["properties"] == {"name": "B", "population": 140}
    assert native(feature["geometry"]).symmetric_difference(expected).area < 1
    assert Layer.objects.get(pk=parcels.pk).feature_count == 2
    assert c.get(f"{URL}features/1/history/").json()["changes"][0]["related"] == [2]
    # a stale version is a conflict; nothing written
    stale = c.post(f"{URL}merge/", {"features": [{"fid": 2, "version": 0}, {"fid": 3, "version": 0}]}, format="json")
    assert stale.status_code == 409 and stored(3) is not None
    # apart: a single-part layer cannot hold two pieces; the form's rules hold; bad bodies name the problem
    apart = c.post(f"{URL}merge/", {"features": [{"fid": 2, "version": 1}, {"fid": 3, "version": 0}]}, format="json")
    assert apart.status_code == 400 and "2 塊" in apart.json()["detail"]
    for body, words in (({"features": [{"fid": 2, "version": 1}]}, "2 到"),
                        ({"features": [{"fid": 2, "version": 1}, {"fid": 2, "version": 1}]}, "重複"),
                        ({"features": [{"fid": 2, "version": 1}, {"fid": 3, "version": 0}], "keep": 9}, "keep"),
                        ({"features": [{"fid": "x"}]}, "fid")):
        refused = c.post(f"{URL}merge/", body, format="json")
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.content
    with connection.cursor() as cur:  # make 3 touch 2, then break the range rule
        cur.execute("UPDATE layerdata.sm_parcels SET geom = ST_Translate(geom, -100, 0) WHERE fid = 3")
    refused = c.post(f"{URL}merge/", {"features": [{"fid": 2, "version": 1}, {"fid": 3, "version": 0}],
                                      "properties": {"population": -1}}, format="json")
    assert refused.status_code == 400 and "人口" in refused.json()["detail"]
    assert c.post(f"{URL}merge/", {"features": [{"fid": 2, "version": 1}, {"fid": 99, "version": 0}]},
                  format="json").status_code == 404


def test_a_line_split_and_joined_again(db, owner):
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE layerdata.sm_roads (fid serial PRIMARY KEY, name text,"
                    " geom geometry(MultiLineString, 3826))")
        cur.execute("INSERT INTO layerdata.sm_roads (name, geom) VALUES ('中山路', ST_Multi(ST_GeomFromText("
                    "'LINESTRING(250000 2770000, 250200 2770000)', 3826)))")
    Layer.objects.create(slug="sm-roads", title_zh="道路", table_name="sm_roads", kind="vector", srid=3826,
                         geometry_type="MultiLineString", feature_count=1, owner_agency=owner.groups.first())
    c = client(owner)
    blade = {"type": "LineString", "coordinates": lonlat([(X0 + 80, Y0 - 20), (X0 + 80, Y0 + 20)])}
    answer = c.post("/api/v1/layers/sm-roads/features/1/split/", {"geometry": blade, "version": 0}, format="json")
    assert answer.status_code == 200, answer.content
    lengths = sorted(native(f["geometry"]).length for f in answer.json()["features"])
    assert lengths == [pytest.approx(80, abs=0.01), pytest.approx(120, abs=0.01)]
    a, b = (f["id"] for f in answer.json()["features"])
    joined = c.post("/api/v1/layers/sm-roads/merge/", {"features": [{"fid": a, "version": 1},
                                                                     {"fid": b, "version": 1}]}, format="json")
    assert joined.status_code == 200, joined.content
    line = native(joined.json()["features"][0]["geometry"])
    assert line.length == pytest.approx(200, abs=0.01) and len(line.geoms) == 1  # one part again (ST_LineMerge)
