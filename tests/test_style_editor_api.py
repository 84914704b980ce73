"""The style editor's server side: classification methods checked against values computed here independently, the
style API's validation (each bad input a 400 naming its field, in the reader's language), who may change a style,
the dry run that saves nothing, class colours an editor set, and what the SLD and the mapfile make of a style."""

import itertools
import statistics

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from lxml import etree
from psycopg2 import sql
from rest_framework.test import APIClient

from layers.models import DATA_SCHEMA, Layer, Style
from layers.ogc import mapfile
from layers.styles import breaks

pytestmark = pytest.mark.django_db
SLD = {"sld": "http://www.opengis.net/sld", "ogc": "http://www.opengis.net/ogc"}
URL = "/api/v1/layers/{}/style/"


# ---- classification on known data ---------------------------------------------------------------------------

def test_equal_interval_splits_the_range_in_equal_steps():
    values = np.arange(0, 101, dtype=float)
    assert breaks(values, "equal_interval", 4).tolist() == [0 + 100 * i / 4 for i in range(1, 5)]


def test_quantiles_are_the_linearly_interpolated_percentiles():
    data = sorted(float(v) for v in (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4))

    def percentile(p):  # the (n-1)·p position, interpolated between its neighbours
        pos = (len(data) - 1) * p
        low = int(pos)
        return data[low] + (data[min(low + 1, len(data) - 1)] - data[low]) * (pos - low)

    assert breaks(np.array(data), "quantiles", 4).tolist() == pytest.approx([percentile(q) for q in
                                                                              (0.25, 0.5, 0.75, 1.0)])


def test_natural_breaks_minimise_the_squared_deviations_within_classes():
    data = [1.0, 2, 4, 11, 12, 13, 15, 30, 31, 33, 50]

    def cost(groups):
        return sum(sum((v - statistics.fmean(g)) ** 2 for v in g) for g in groups)

    best = min((cost([data[:i], data[i:j], data[j:]]), (data[i - 1], data[j - 1], data[-1]))
               for i, j in itertools.combinations(range(1, len(data)), 2))[1]  # every split into 3 runs
    assert tuple(breaks(np.array(data), "natural_breaks", 3).tolist()) == best


def test_standard_deviation_classes_are_one_sigma_wide_around_the_mean():
    data = [2.0, 4, 4, 4, 5, 5, 7, 9, 10, 14]
    mean, sigma = statistics.fmean(data), statistics.pstdev(data)
    # four classes: bounded by mean − σ, the mean, mean + σ, and the maximum
    assert breaks(np.array(data), "standard_deviation", 4).tolist() == pytest.approx(
        [mean - sigma, mean, mean + sigma, 14.0])
    # five classes: the middle one centred on the mean; bounds outside the data are dropped (no empty class)
    five = breaks(np.array(data), "standard_deviation", 5).tolist()
    assert five == pytest.approx([b for b in (mean - 1.5 * sigma, mean - 0.5 * sigma, mean + 0.5 * sigma,
                                              mean + 1.5 * sigma) if min(data) <= b < max(data)] + [14.0])


def test_manual_breaks_are_taken_as_given_and_closed_by_the_maximum():
    assert breaks(np.arange(0, 101, dtype=float), "manual", 5, [10, 50]).tolist() == [10, 50, 100]


# ---- the API ---------------------------------------------------------------------------------------------------

@pytest.fixture
def world(db):
    """A line layer of agency 路燈科 with a numeric and a text attribute; its editor, another agency's clerk, an
    admin."""
    table = "style_roads"
    with connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {t} (fid serial PRIMARY KEY, width_m double precision, name text, "
                            "geom geometry(LineString, 3826))").format(t=sql.Identifier(DATA_SCHEMA, table)))
        for i in range(30):
            cur.execute(sql.SQL("INSERT INTO {t} (width_m, name, geom) VALUES (%s, %s, ST_MakeLine(ST_MakePoint("
                                "%s, 0), ST_MakePoint(%s, 50)))").format(t=sql.Identifier(DATA_SCHEMA, table)),
                        [float(i), f"路{i % 4}", 250000 + i * 20, 250000 + i * 20])
    owner, other = Group.objects.create(name="路燈科"), Group.objects.create(name="水利科")
    layer = Layer.objects.create(slug="style-roads", title_zh="道路", kind=Layer.Kind.VECTOR,
                                 geometry_type="LineString", table_name=table, owner_agency=owner,
                                 visibility=Layer.Visibility.PUBLIC, feature_count=30,
                                 attributes=[{"name": "width_m", "type": "double precision", "label": "路寬",
                                              "label_en": "Road width", "unit": "公尺", "unit_en": "m"},
                                             {"name": "name", "type": "text", "label": "路名",
                                              "label_en": "Road name"}])
    editor = User.objects.create_user("style-editor")
    editor.groups.add(owner)
    clerk = User.objects.create_user("style-clerk")
    clerk.groups.add(other)
    admin = User.objects.create_superuser("style-admin")
    return {"layer": layer, "editor": editor, "clerk": clerk, "admin": admin}


def client(user=None, language="zh-hant") -> APIClient:
    c = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        c.force_authenticate(user)
    return c


def test_only_the_owner_agency_and_admins_change_a_style_and_hidden_layers_are_missing(world):
    body = {"kind": "single", "fill_color": "#aa0000"}
    assert client().put(URL.format("style-roads"), body, format="json").status_code in (401, 403)
    assert client(world["clerk"]).put(URL.format("style-roads"), body, format="json").status_code == 403
    assert client(world["editor"]).put(URL.format("style-roads"), body, format="json").status_code == 200
    assert client(world["admin"]).put(URL.format("style-roads"), body, format="json").status_code == 200
    assert client(world["clerk"]).get(URL.format("style-roads")).json()["fill_color"] == "#aa0000"  # readable
    Layer.objects.filter(slug="style-roads").update(visibility=Layer.Visibility.RESTRICTED)
    hidden = client(world["clerk"]).put(URL.format("style-roads"), body, format="json")
    missing = client(world["clerk"]).put(URL.format("no-such-layer"), body, format="json")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.replace(b"style-roads", b"no-such-layer") == missing.content


@pytest.mark.parametrize("body, field, zh, en", [
    ({"kind": "graduated", "attribute": "nope", "method": "quantiles"}, "attribute", "圖層沒有屬性 'nope'",
     "has no attribute 'nope'"),
    ({"kind": "graduated", "attribute": "name", "method": "quantiles"}, "attribute",
     "分級需要數值屬性；「路名 [name]」", "numeric attribute; “Road name [name]”"),
    ({"fill_color": "red"}, "fill_color", "'red' 不是顏色", "'red' is not a colour"),
    ({"label_halo_color": "#12345g"}, "label_halo_color", "不是顏色", "is not a colour"),
    ({"label_attribute": "nope"}, "label_attribute", "圖層沒有屬性 'nope'", "has no attribute 'nope'"),
    ({"min_scale": 50000, "max_scale": 5000}, "max_scale", "1:50000 至 1:5000 不成立",
     "1:50000 to 1:5000 is impossible"),
    ({"kind": "graduated", "attribute": "width_m", "method": "manual", "manual_breaks": [9, 3]}, "manual_breaks",
     "由小到大", "ascending"),
    ({"kind": "graduated", "attribute": "width_m", "method": "quantiles", "classes": [{"color": "blue"}]},
     "classes", "不是顏色", "is not a colour"),
    ({"stroke_width": 90}, "stroke_width", "超出範圍", "out of range"),
])
def test_bad_styles_are_400s_naming_the_field_in_the_readers_language(world, body, field, zh, en):
    for language, expected in (("zh-hant", zh), ("en", en)):
        answer = client(world["editor"], language).put(URL.format("style-roads"), body, format="json")
        assert answer.status_code == 400, answer.content
        assert field in answer.json() and expected in str(answer.json()[field]), answer.json()
    assert Style.objects.get(layer=world["layer"]).kind == "single"  # nothing was saved


def publishing_jobs(callbacks) -> list:
    """The on-commit callbacks that queue a publishing job (layers.ogc.publishing.follow); the audit log has its own."""
    return [c for c in callbacks if c.__qualname__.startswith("follow.")]


def test_dry_run_classifies_without_saving_or_republishing(world, django_capture_on_commit_callbacks):
    graduated = {"kind": "graduated", "attribute": "width_m", "method": "equal_interval", "class_count": 3,
                 "ramp": "Blues"}
    with django_capture_on_commit_callbacks() as queued:
        preview = client(world["editor"]).put(URL.format("style-roads") + "?dry_run=true", graduated, format="json")
    assert preview.status_code == 200, preview.content
    assert [c["max"] for c in preview.json()["classes"]] == [29 / 3, 2 * 29 / 3, 29]  # 0 … 29 in three steps
    assert not publishing_jobs(queued)
    assert client(world["editor"]).get(URL.format("style-roads")).json()["kind"] == "single"
    with django_capture_on_commit_callbacks() as queued:
        saved = client(world["editor"]).put(URL.format("style-roads"), graduated, format="json")
    assert saved.json()["classes"] == preview.json()["classes"]
    assert len(publishing_jobs(queued)) == 1
    assert Style.objects.get(layer=world["layer"]).kind == "graduated"


def test_class_colours_and_widths_set_by_an_editor_are_kept_and_reach_sld_and_mapfile(world):
    editor = client(world["editor"])
    body = {"kind": "graduated", "attribute": "width_m", "method": "manual", "manual_breaks": [9.5, 19.5],
            "ramp": "Reds", "line_dash": "dashed", "label_attribute": "name", "label_halo_color": "#ffee00",
            "min_scale": 1000, "max_scale": 50000, "label_max_scale": 10000, "opacity": 0.9}
    first = editor.put(URL.format("style-roads"), body, format="json").json()["classes"]
    edited = [dict(c) for c in first]
    edited[1].update(color="#00ff00", width=7.5)
    classes = editor.put(URL.format("style-roads"), {**body, "classes": edited}, format="json").json()["classes"]
    assert [c["color"] for c in classes] == [first[0]["color"], "#00ff00", first[2]["color"]]
    assert classes[1]["width"] == 7.5 and [c["max"] for c in classes] == [9.5, 19.5, 29]
    # a new ramp makes new classes: the edit is not carried onto them
    recoloured = editor.put(URL.format("style-roads"), {**body, "ramp": "Blues"}, format="json").json()["classes"]
    assert "#00ff00" not in [c["color"] for c in recoloured]
    editor.put(URL.format("style-roads"), {**body, "classes": edited}, format="json")

    answer = client().get(URL.format("style-roads") + "sld/")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/vnd.ogc.sld+xml")
    root = etree.fromstring(answer.content)
    rules = root.findall(".//sld:Rule", SLD)
    middle = rules[1].find("sld:LineSymbolizer/sld:Stroke", SLD)
    stroke = {p.get("name"): p.text for p in middle.findall("sld:CssParameter", SLD)}
    assert stroke["stroke"] == "#00ff00" and stroke["stroke-width"] == "7.5" and stroke["stroke-dasharray"] == "6 4"
    assert [r.findtext("sld:MinScaleDenominator", namespaces=SLD) for r in rules[:3]] == ["1000"] * 3
    # labels shown to 1:10,000 only: a rule of their own
    label_rule = rules[-1]
    assert label_rule.find("sld:TextSymbolizer", SLD) is not None
    assert label_rule.findtext("sld:MaxScaleDenominator", namespaces=SLD) == "10000"
    halo = label_rule.find("sld:TextSymbolizer/sld:Halo/sld:Fill/sld:CssParameter", SLD)
    assert halo.text == "#ffee00"

    text = mapfile.render([Layer.objects.select_related("style").get(slug="style-roads")])
    assert 'STYLE COLOR "#00ff00" WIDTH 7.5 PATTERN 6 4 END END' in text
    assert "MINSCALEDENOM 1000" in text and "MAXSCALEDENOM 50000" in text


def test_point_symbols_reach_the_mapfile_and_the_sld(world):
    layer = world["layer"]
    layer.geometry_type = "Point"
    style = Style(layer=layer, point_symbol="star", classes=[{"label": "道路", "color": "#123456"}])
    layer.style = style
    assert 'STYLE SYMBOL "star"' in mapfile.render([layer]) and 'SYMBOL NAME "star"' in mapfile.render([layer])
    from layers.ogc.sld import render_sld

    assert b"<WellKnownName>star</WellKnownName>" in render_sld(layer, style)


def test_a_category_keeps_its_edited_colour_by_value(world):
    editor = client(world["editor"])
    body = {"kind": "categorized", "attribute": "name"}
    palette = {c["value"]: c["color"] for c in editor.put(URL.format("style-roads"), body, format="json")
               .json()["classes"]}
    assert set(palette) == {"路0", "路1", "路2", "路3"}
    classes = editor.put(URL.format("style-roads"), {**body, "classes": [{"value": "路2", "color": "#abcdef"}]},
                         format="json").json()["classes"]
    assert {c["value"]: c["color"] for c in classes} == {**palette, "路2": "#abcdef"}
