"""The shared filter model (layers/serving/filters.py) and every path that honours it: the features API, vector
tiles, WMS through the embedded MapServer, downloads (filtered and selected), the buffer's layer inputs, share
links and prints. Counts are checked against SQL written here by hand, on one committed, published demo city."""

import csv
import io
import json
import sqlite3

import mapbox_vector_tile
import numpy as np
import pytest
from conftest import tile_of
from django.db import connection
from rest_framework.test import APIClient
from test_ows import layer_bbox, ows_url, png_pixels  # noqa: F401 - the published demo city

from layers.serving import filters
from layers.serving.access import BadRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(ows_url):  # noqa: F811 - parcels are internal: for signed-in staff
    from django.contrib.auth.models import User

    return User.objects.create_user("filter-clerk", password="pw")


def client(language: str = "zh-hant") -> APIClient:
    from django.contrib.auth.models import User

    c = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    c.force_login(User.objects.get(username="filter-clerk"))
    return c


def count(where: str, params=None, table: str = "parcels") -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM layerdata.{table} WHERE {where}", params)
        return cur.fetchone()[0]


def matched(spec, slug: str = "parcels", **extra) -> int:
    text = spec if isinstance(spec, str) else json.dumps(spec, ensure_ascii=False)
    resp = client().get(f"/api/v1/layers/{slug}/features/", {"filter": text, "limit": 1, **extra})
    assert resp.status_code == 200, resp.content[:300]
    return resp.json()["numberMatched"]


def one(attribute, operator, value=None):
    condition = {"attribute": attribute, "operator": operator}
    if value is not None:
        condition["value"] = value
    return {"op": "and", "conditions": [condition]}


def a_value(column: str, table: str = "parcels", order: str = "fid"):
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column} FROM layerdata.{table} WHERE {column} IS NOT NULL ORDER BY {order} LIMIT 1")
        return cur.fetchone()[0]


def test_each_operator_matches_the_sql_count(signed_in):  # noqa: F811
    use = a_value("land_use")
    value = a_value("land_value", order="land_value DESC OFFSET 40")
    cases = [
        (one("land_use", "=", use), "land_use = %s", [use]),
        (one("land_use", "≠", use), "land_use <> %s", [use]),
        (one("land_value", "<", value), "land_value < %s", [value]),
        (one("land_value", "≤", value), "land_value <= %s", [value]),
        (one("land_value", ">", value), "land_value > %s", [value]),
        (one("land_value", "≥", str(value)), "land_value >= %s", [value]),  # a number as text is fine
        (one("village", "contains", use[:1]), "village ILIKE %s", [f"%{use[:1]}%"]),
        (one("land_use", "starts with", use[:2]), "land_use LIKE %s", [f"{use[:2]}%"]),
        (one("land_use", "in", [use, "商業區"]), "land_use IN (%s, '商業區')", [use]),
        (one("area_m2", "between", [100, 500.5]), "area_m2 BETWEEN 100 AND 500.5", None),
        (one("section", "is empty"), "(section IS NULL OR section = '')", None),
        (one("section", "is not empty"), "NOT (section IS NULL OR section = '')", None),
    ]
    for spec, where, params in cases:
        expected = count(where, params)
        assert matched(spec) == expected, (spec, expected)
    assert 0 < count("land_value > %s", [value]) < count("true")  # the cases select something, not everything


def test_and_or_bbox_and_the_compact_form(signed_in):  # noqa: F811
    use = a_value("land_use")
    both = {"op": "and", "conditions": [{"attribute": "land_use", "operator": "=", "value": use},
                                        {"attribute": "area_m2", "operator": ">", "value": 300}]}
    either = {**both, "op": "or"}
    assert matched(both) == count("land_use = %s AND area_m2 > 300", [use])
    assert matched(either) == count("land_use = %s OR area_m2 > 300", [use])
    assert matched(both) < matched(either)
    assert matched(f"or;land_use:eq:{use};area_m2:gt:300") == matched(either)
    assert matched("area_m2:between:100,500") == count("area_m2 BETWEEN 100 AND 500")
    west, south, east, north = layer_bbox("parcels", 4326)
    box = [west, south, (west + east) / 2, (south + north) / 2]
    inside = count("ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 3826))", box)
    assert matched({"op": "and", "conditions": [], "bbox": box}) == inside
    assert 0 < inside < count("true")
    # a value holding the compact form's separators, escaped
    assert filters.compact_to_json(r"name:eq:a\;b\:c\,d")["conditions"][0]["value"] == "a;b:c,d"


def test_injection_attempts_select_nothing_or_are_refused(signed_in):  # noqa: F811
    before = count("true")
    for value in ["' OR '1'='1", "住宅區'; DROP TABLE layerdata.parcels; --", "%", "_", "\\'"]:
        assert matched(one("land_use", "=", value)) == 0
        assert matched(one("land_use", "contains", value)) == count("strpos(land_use, %s) > 0", [value])
    for spec in [one("land_use; DROP TABLE layerdata.parcels", "=", "x"), one("land_use", "= 1 OR 1=1 --", "x"),
                 one("land_value", "=", "1 OR 1=1"), {"op": "and) OR (1=1", "conditions": []}]:
        resp = client().get("/api/v1/layers/parcels/features/", {"filter": json.dumps(spec)})
        assert resp.status_code == 400, spec
    assert count("true") == before


@pytest.mark.parametrize("spec,zh,en", [
    (one("nope", "=", "x"), ["filter.conditions[0].attribute", "沒有屬性 'nope'", "land_use"],
     ["filter.conditions[0].attribute", "no attribute 'nope'", "land_use"]),
    (one("land_value", ">", "abc"), ["filter.conditions[0].value", "整數", "'abc'"],
     ["filter.conditions[0].value", "a whole number", "'abc'"]),
    (one("land_use", "like", "x"), ["filter.conditions[0].operator", "不認得的運算子", "starts with"],
     ["filter.conditions[0].operator", "unknown operator 'like'", "starts with"]),
    (one("land_value", "contains", "1"), ["只能用於文字屬性"], ["works on text attributes only"]),
    (one("area_m2", "between", [5]), ["[下限, 上限]"], ["[low, high]"]),
    ({"op": "xor", "conditions": []}, ["filter.op", "and 或 or"], ["filter.op", "use and or or"]),
    ("land_use", ["屬性:運算子:值"], ["attribute:operator:value"]),
])
def test_bad_filters_are_400s_naming_the_field_in_the_users_language(signed_in, spec, zh, en):  # noqa: F811
    text = spec if isinstance(spec, str) else json.dumps(spec)
    for language, words in (("zh-hant", zh), ("en", en)):
        resp = client(language).get("/api/v1/layers/parcels/features/", {"filter": text})
        assert resp.status_code == 400
        detail = resp.json()["detail"]
        for word in words:
            assert word in detail, (language, detail)
        assert "Traceback" not in detail and "/work" not in detail


def test_the_wrong_type_message_names_the_attribute_by_its_label(signed_in):  # noqa: F811
    from django.utils import translation

    from layers.models import Layer

    layer = Layer.objects.get(slug="parcels")
    with pytest.raises(BadRequest) as caught:
        filters.parse(layer, one("land_value", "=", "十"))
    with translation.override("zh-hant"):
        assert "（land_value） 需要整數" in str(caught.value)  # 公告土地現值（元/平方公尺）（land_value）需要整數…
    with translation.override("en"):
        assert "(land_value) needs a whole number" in str(caught.value)


def test_features_are_sorted_paged_with_fields_and_count(signed_in):  # noqa: F811
    use = a_value("land_use")
    spec = json.dumps(one("land_use", "=", use), ensure_ascii=False)
    first = client().get("/api/v1/layers/parcels/features/", {"filter": spec, "sort": "-land_value",
                                                                 "fields": "land_value", "limit": 5}).json()
    second = client().get("/api/v1/layers/parcels/features/", {"filter": spec, "sort": "-land_value",
                                                                  "fields": "land_value", "limit": 5,
                                                                  "offset": 5}).json()
    values = [f["properties"]["land_value"] for f in first["features"] + second["features"]]
    assert values == sorted(values, reverse=True) and set(first["features"][0]["properties"]) == {"land_value"}
    assert first["numberMatched"] == count("land_use = %s", [use])


def test_tiles_carry_only_the_filtered_features_under_their_own_etag(signed_in):  # noqa: F811
    west, south, east, north = layer_bbox("parcels", 4326)
    z = 14
    x, y = tile_of((west + east) / 2, (south + north) / 2, z)
    use = a_value("land_use")
    path = f"/tiles/parcels/{z}/{x}/{y}.mvt"
    plain = client().get(path)
    spec = json.dumps(one("land_use", "=", use), ensure_ascii=False)
    filtered = client().get(path, {"filter": spec})
    assert plain.status_code == filtered.status_code == 200
    assert plain["ETag"] != filtered["ETag"]
    # the unfiltered tile's ETag does not answer the filtered request with "not modified"
    assert client().get(path, {"filter": spec}, HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 200
    assert client().get(path, {"filter": spec}, HTTP_IF_NONE_MATCH=filtered["ETag"]).status_code == 304
    all_features = mapbox_vector_tile.decode(plain.content)["parcels"]["features"]
    kept = mapbox_vector_tile.decode(filtered.content)["parcels"]["features"]
    assert kept and len(kept) < len(all_features)
    assert {f["properties"]["land_use"] for f in kept} == {use}
    assert len(kept) == sum(f["properties"]["land_use"] == use for f in all_features)
    assert client().get(path, {"filter": json.dumps(one("nope", "=", 1))}).status_code == 400


def _getmap(extra=None, layer="parcels"):
    west, south, east, north = layer_bbox(layer, 3826)
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": layer, "STYLES": "",
              "CRS": "EPSG:3826", "BBOX": f"{west},{south},{east},{north}", "WIDTH": "256", "HEIGHT": "256",
              "FORMAT": "image/png", "TRANSPARENT": "TRUE", **(extra or {})}
    return client().get("/ows", params)


def test_wms_getmap_and_getfeatureinfo_follow_the_vendor_filter(signed_in):  # noqa: F811
    use = a_value("land_use")
    spec = json.dumps(one("land_use", "=", use), ensure_ascii=False)
    everything = png_pixels(_getmap().content)
    only = png_pixels(_getmap({"CIVGIS_FILTER": spec}).content)
    nothing = png_pixels(_getmap({"CIVGIS_FILTER": json.dumps(one("land_use", "=", "沒有這種分區"))}).content)
    drawn = [int((p[3] > 0).sum()) for p in (everything, only, nothing)]
    assert drawn[0] > drawn[1] > drawn[2] == 0, drawn
    # the feature under a point: found unfiltered, gone when the filter leaves it out
    fid, px, py, its_use = _point_of_a_parcel()
    params = {"REQUEST": "GetFeatureInfo", "QUERY_LAYERS": "parcels", "INFO_FORMAT": "geojson", "I": "50",
              "J": "50", "WIDTH": "101", "HEIGHT": "101", "CRS": "EPSG:3826",
              "BBOX": f"{px - 50},{py - 50},{px + 50},{py + 50}"}
    hits = json.loads(_getmap(params).content)["features"]
    assert fid in [int(f["properties"]["fid"]) for f in hits]
    others = json.loads(_getmap({**params, "CIVGIS_FILTER": f"land_use:ne:{its_use}"}).content)["features"]
    assert fid not in [int(f["properties"]["fid"]) for f in others]
    bad = _getmap({"CIVGIS_FILTER": json.dumps(one("land_value", ">", "many"))}, )
    assert bad.status_code == 400 and b"InvalidParameterValue" in bad.content and b"land_value" in bad.content


def _point_of_a_parcel():
    with connection.cursor() as cur:
        cur.execute("SELECT fid, ST_X(p), ST_Y(p), land_use FROM (SELECT fid, land_use, ST_PointOnSurface(geom) p "
                    "FROM layerdata.parcels ORDER BY area_m2 DESC LIMIT 1) s")
        return cur.fetchone()


def test_downloads_hold_the_filtered_or_selected_rows(signed_in, tmp_path):  # noqa: F811
    use = a_value("land_use")
    spec = json.dumps(one("land_use", "=", use), ensure_ascii=False)
    expected = count("land_use = %s", [use])
    body = b"".join(client().get("/api/v1/layers/parcels/download/", {"format": "csv", "filter": spec})
                    .streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) - 1 == expected
    fids = [3, 5, 8, 13]
    selected = client().post("/api/v1/layers/parcels/download/", {"format": "geojson", "fids": fids},
                                format="json")
    features = json.loads(b"".join(selected.streaming_content))["features"]
    assert sorted(f["id"] for f in features) == fids
    gpkg = client().post("/api/v1/layers/parcels/download/", {"format": "gpkg", "filter": json.loads(spec)},
                            format="json")
    path = tmp_path / "parcels.gpkg"
    path.write_bytes(b"".join(gpkg.streaming_content))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM parcels").fetchone()[0] == expected
    assert client().post("/api/v1/layers/parcels/download/", {"format": "csv", "fids": ["x"]},
                            format="json").status_code == 400


def test_a_buffer_counts_only_the_filtered_features_of_a_layer_input(signed_in):  # noqa: F811
    fid, x, y, use = _point_of_a_parcel()
    body = {"geometry": {"type": "Point", "coordinates": [x, y]}, "crs": "EPSG:3826", "distances": [800],
            "layers": [{"layer": "parcels"}]}
    everything = client().post("/api/v1/analysis/buffer/", body, format="json").json()
    body["layers"] = [{"layer": "parcels", "filter": one("land_use", "=", use)}]
    filtered = client().post("/api/v1/analysis/buffer/", body, format="json").json()
    zone = "ST_DWithin(geom, ST_SetSRID(ST_MakePoint(%s, %s), 3826), 800)"
    assert everything["zones"][0]["summaries"][0]["count"] == count(zone, [x, y])
    assert filtered["zones"][0]["summaries"][0]["count"] == count(f"{zone} AND land_use = %s", [x, y, use])
    body["layers"] = [{"layer": "parcels", "filter": one("land_value", "<", "cheap")}]
    assert client().post("/api/v1/analysis/buffer/", body, format="json").status_code == 400


def test_overlay_and_buffer_layer_inputs_take_the_shared_filter(signed_in):  # noqa: F811
    from analysis.overlay import conditions
    from layers.models import Layer

    layer = Layer.objects.get(slug="parcels")
    use = a_value("land_use")
    with connection.cursor() as cur:
        where = " AND ".join(c.as_string(cur.connection) for c in conditions(layer, one("land_use", "=", use), "t"))
        cur.execute(f"SELECT count(*) FROM layerdata.parcels t WHERE {where}")
        assert cur.fetchone()[0] == count("land_use = %s", [use])
    legacy = conditions(layer, {"land_use": use}, "t")  # the older {attribute[__op]: value} form still works
    assert len(legacy) == 1


def test_a_share_link_keeps_each_layers_filter(signed_in):  # noqa: F811
    use = a_value("land_use")
    layer_filter = {"op": "or", "conditions": [{"attribute": "land_use", "operator": "=", "value": use},
                                               {"attribute": "area_m2", "operator": "≥", "value": 900}]}
    state = {"center": [121.3, 25.0], "zoom": 14, "layers": [{"slug": "parcels", "filter": layer_filter},
                                                             {"slug": "roads"}]}
    made = client().post("/api/v1/views/", {"state": state}, format="json")
    assert made.status_code == 201, made.content
    back = client().get(f"/api/v1/views/{made.json()['code']}/").json()
    layers = {e["slug"]: e for e in back["state"]["layers"]}
    assert layers["parcels"]["filter"] == layer_filter and "filter" not in layers["roads"]
    # the filter read back filters as it did
    assert matched(layers["parcels"]["filter"]) == count("land_use = %s OR area_m2 >= 900", [use])
    bad = {**state, "layers": [{"slug": "parcels", "filter": {"op": "and", "conditions": [{"attribute": "x",
                                                                                            "operator": "~"}]}}]}
    resp = client().post("/api/v1/views/", {"state": bad}, format="json")
    assert resp.status_code == 400 and "state.layers[0].filter.conditions[0].operator" in resp.json()["detail"]


def test_a_print_draws_the_filtered_layer(signed_in):  # noqa: F811
    from web import printing
    from web.viewstate import clean

    west, south, east, north = layer_bbox("parcels", 4326)
    view = {"center": [(west + east) / 2, (south + north) / 2], "zoom": 15, "layers": [{"slug": "parcels"}]}
    use = a_value("land_use")
    filtered = {**view, "layers": [{"slug": "parcels", "filter": one("land_use", "=", use)}]}
    pictures = []
    for state in (view, filtered):
        job = printing.PrintJob(clean(state), "t")
        pictures.append(png_pixels(printing.render_png(job, signed_in, 400, 300)))
    drawn = [int((p[3] > 0).sum()) for p in pictures]
    assert 0 < drawn[1] < drawn[0], drawn
    assert not np.array_equal(pictures[0], pictures[1])


def test_column_statistics_follow_the_filter_and_the_attributes_kind(signed_in):  # noqa: F811
    use = a_value("land_use")
    spec = json.dumps(one("land_use", "=", use), ensure_ascii=False)
    numbers = client().get("/api/v1/layers/parcels/statistics/", {"attribute": "area_m2", "filter": spec}).json()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), round(sum(area_m2)::numeric, 2), min(area_m2), max(area_m2) "
                    "FROM layerdata.parcels WHERE land_use = %s", [use])
        n, total, low, high = cur.fetchone()
    assert (numbers["count"], numbers["min"], numbers["max"]) == (n, low, high)
    assert numbers["sum"] == pytest.approx(float(total), abs=0.01) and low <= numbers["mean"] <= high
    prices = client().get("/api/v1/layers/parcels/statistics/", {"attribute": "land_value"}).json()
    assert "sum" not in prices  # a price per m² does not add up
    categories = client().get("/api/v1/layers/parcels/statistics/", {"attribute": "land_use"}).json()
    assert categories["distinct"] == count("true", None).__class__(
        len({v["value"] for v in categories["values"]})) and "sum" not in categories
    assert sum(v["count"] for v in categories["values"]) == count("land_use IS NOT NULL")
    assert client().get("/api/v1/layers/parcels/statistics/", {"attribute": "nope"}).status_code == 400
