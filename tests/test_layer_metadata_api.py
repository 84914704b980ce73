"""Layer metadata through the API: who may edit it (owner agency, admins), validation that names the field in the
reader's language, the completeness score, the catalog-wide 詮釋資料 report (restricted layers never listed for
those who may not see them), and the upload's name clash choices and new-layer colours."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from jobs.models import Job
from layers import metadata, new_layer_colors
from layers.importing.pipeline import run_job
from layers.models import Layer, Style

pytestmark = pytest.mark.django_db

ATTRIBUTES = [{"name": "pop", "type": "integer", "label": "pop", "kind": "count", "decimals": 0, "aggregate": "sum"},
              {"name": "name", "type": "text", "label": "name", "kind": "text", "decimals": 0, "aggregate": "none"}]
FULL = {"abstract": "各村里人口", "topic_category": "society", "contact_name": "王小明",
        "contact_email": "wang@city.gov.tw", "lineage": "戶政資料彙整", "license": "政府資料開放授權條款第1版",
        "title_en": "Population", "keywords": ["人口"],
        "source": "民政局", "update_frequency": "monthly", "scale_denominator": 5000, "temporal_start": "2024-01-01",
        "creation_date": "2024-02-01"}


@pytest.fixture
def world():
    land, transport = Group.objects.create(name="地政局"), Group.objects.create(name="交通局")
    # no passwords: the clients sign in with force_authenticate (hashing one costs ~0.5 s here)
    clerk = User.objects.create(username="clerk")
    clerk.groups.add(land)
    driver = User.objects.create(username="driver")
    driver.groups.add(transport)
    admin = User.objects.create(username="admin", is_superuser=True, is_staff=True)

    def layer(slug, visibility, **fields):
        return Layer.objects.create(slug=slug, title_zh=slug, visibility=visibility, owner_agency=land,
                                    attributes=ATTRIBUTES, kind=Layer.Kind.VECTOR, **fields)

    return {"users": {"anonymous": None, "clerk": clerk, "driver": driver, "admin": admin},
            "land": land, "transport": transport,
            "layers": {"public": layer("open-pop", "public"), "internal": layer("staff-pop", "internal"),
                       "restricted": layer("secret-pop", "restricted")}}


def client(user=None, language="zh-hant") -> APIClient:
    api = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user:
        api.force_authenticate(user)
    return api


# who may edit: the owner agency's members and admins; others who may see the layer read it; unseen is 404
EDIT_RIGHTS = {
    ("anonymous", "public"): 403, ("anonymous", "internal"): 403, ("anonymous", "restricted"): 403,
    ("driver", "public"): 403, ("driver", "internal"): 403, ("driver", "restricted"): 404,
    ("clerk", "public"): 200, ("clerk", "internal"): 200, ("clerk", "restricted"): 200,
    ("admin", "public"): 200, ("admin", "internal"): 200, ("admin", "restricted"): 200,
}


@pytest.mark.parametrize(("actor", "visibility"), list(EDIT_RIGHTS))
def test_edit_rights_matrix(world, actor, visibility):
    layer = world["layers"][visibility]
    user = world["users"][actor]
    resp = client(user).patch(f"/api/v1/layers/{layer.slug}/", {"lineage": "由 X 修訂", "topic_category": "society"},
                              format="json")
    assert resp.status_code == EDIT_RIGHTS[actor, visibility], resp.content
    layer.refresh_from_db()
    assert (layer.lineage == "由 X 修訂") == (resp.status_code == 200)
    seen = client(user).get(f"/api/v1/layers/{layer.slug}/")
    if seen.status_code == 200:
        assert seen.json()["can_edit"] is (resp.status_code == 200)
        assert (seen.json()["edit_choices"] is not None) is (resp.status_code == 200)


def test_whoever_made_a_layer_may_describe_it_without_an_agency(world):
    maker = User.objects.create(username="maker")  # in no agency
    layer = Layer.objects.create(slug="my-upload", title_zh="我的上傳", visibility="internal", created_by=maker)
    assert client(maker).patch("/api/v1/layers/my-upload/", {"abstract": "說明"}, format="json").status_code == 200
    assert client(world["users"]["driver"]).patch("/api/v1/layers/my-upload/", {"abstract": "x"},
                                                  format="json").status_code == 403
    assert [r["can_edit"] for r in report(maker)["results"] if r["slug"] == layer.slug] == [True]


def test_every_metadata_field_round_trips(world):
    slug = world["layers"]["internal"].slug
    body = {**FULL, "contact_organisation": "民政局戶政科", "contact_phone": "(03) 332-2101 #123", "resolution_m": 0.5,
            "temporal_end": "2024-12-31", "revision_date": "2025-01-15", "owner_agency": "地政局",
            "theme": None, "visibility": "restricted", "allowed_groups": ["交通局"]}
    resp = client(world["users"]["clerk"]).patch(f"/api/v1/layers/{slug}/", body, format="json")
    assert resp.status_code == 200, resp.content
    got = client(world["users"]["clerk"]).get(f"/api/v1/layers/{slug}/").json()
    assert {k: got[k] for k in body} == body
    assert got["completeness"]["score"] == 100 and got["completeness"]["missing"] == []
    # the allowed group now sees it
    assert client(world["users"]["driver"]).get(f"/api/v1/layers/{slug}/").status_code == 200


@pytest.mark.parametrize(("body", "field", "zh", "en"), [
    ({"contact_email": "not-an-address"}, "contact_email", "聯絡電子郵件：", "Contact email: "),
    ({"contact_phone": "call me"}, "contact_phone", "聯絡電話：", "Contact phone: "),
    ({"topic_category": "weather"}, "topic_category", "主題類別：", "Topic category: "),
    ({"update_frequency": "sometimes"}, "update_frequency", "更新頻率：", "Update frequency: "),
    ({"scale_denominator": 0}, "scale_denominator", "比例尺分母：", "Scale denominator: "),
    ({"resolution_m": -1}, "resolution_m", "解析度：", "Resolution: "),
    ({"temporal_start": "2024-13-40"}, "temporal_start", "資料時間起：", "Temporal extent from: "),
    ({"temporal_start": "2024-05-01", "temporal_end": "2024-01-01"}, "temporal_end", "資料時間迄：",
     "Temporal extent until: "),
    ({"owner_agency": "交通局"}, "owner_agency", "權責機關：", "Owner agency: "),
    ({"title_zh": ""}, "title_zh", "中文名稱：", "Chinese title: "),
])
def test_bad_metadata_is_refused_naming_the_field_in_the_readers_language(world, body, field, zh, en):
    layer = world["layers"]["internal"]
    for language, lead in (("zh-hant", zh), ("en", en)):
        resp = client(world["users"]["clerk"], language).patch(f"/api/v1/layers/{layer.slug}/", body, format="json")
        assert resp.status_code == 400, resp.content
        [message] = resp.json()[field]
        assert message.startswith(lead), message
    layer.refresh_from_db()
    assert layer.owner_agency.name == "地政局" and layer.title_zh == layer.slug  # nothing half-saved


def test_completeness_weights_and_score(world):
    assert sum(w for _f, w, _t in metadata.RECOMMENDED) == 100
    layer = world["layers"]["public"]
    empty = client(world["users"]["clerk"]).get(f"/api/v1/layers/{layer.slug}/").json()["completeness"]
    assert empty["score"] == 5  # of what a fresh row has, only the owner agency counts
    assert {m["field"] for m in empty["missing"]} >= {"abstract", "contact", "lineage", "license"}
    client(world["users"]["clerk"]).patch(f"/api/v1/layers/{layer.slug}/", {"abstract": "摘要",
                                                                           "contact_name": "王"}, format="json")
    after = client(world["users"]["clerk"]).get(f"/api/v1/layers/{layer.slug}/").json()["completeness"]
    # a contact needs a way to reach them: a name alone does not count
    assert after["score"] == empty["score"] + 20 and "contact" in {m["field"] for m in after["missing"]}


def test_legacy_frequencies_become_codes():
    assert [metadata.frequency_code(v) for v in ("static", "每年", "monthly", "", "whenever")] == [
        "notPlanned", "annually", "monthly", "", "unknown"]


def report(user, query="", language="zh-hant"):
    resp = client(user, language).get(f"/api/v1/metadata/report/{query}")
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_report_lists_only_visible_layers_sorted_and_filtered(world):
    layers = world["layers"]
    Layer.objects.filter(pk=layers["internal"].pk).update(**{k: v for k, v in FULL.items()})
    everyone = {actor: {r["slug"] for r in report(user)["results"]} for actor, user in world["users"].items()}
    every = {"open-pop", "staff-pop", "secret-pop"}
    assert everyone == {"anonymous": {"open-pop"}, "driver": {"open-pop", "staff-pop"}, "clerk": every,
                        "admin": every}
    # the restricted layer leaves no trace in what others read (not in a count either)
    for actor in ("anonymous", "driver"):
        text = client(world["users"][actor]).get("/api/v1/metadata/report/?ordering=-score").content.decode()
        assert "secret-pop" not in text
    rows = report(world["users"]["clerk"])["results"]
    assert [r["score"] for r in rows] == sorted(r["score"] for r in rows)  # lowest first: most to do
    best = report(world["users"]["clerk"], "?ordering=-score")
    assert best["results"][0]["slug"] == "staff-pop" and best["results"][0]["score"] == 100 and best["complete"] == 1
    assert best["results"][0]["can_edit"] is True
    assert all(r["can_edit"] is False for r in report(world["users"]["driver"])["results"])
    assert report(world["users"]["clerk"], "?agency=交通局")["count"] == 0
    missing = report(world["users"]["clerk"], "?missing=lineage")
    assert {r["slug"] for r in missing["results"]} == {"open-pop", "secret-pop"}
    english = report(world["users"]["clerk"], "?missing=lineage", language="en")
    assert english["results"][0]["missing"][0]["label"] == "Abstract"
    counts = {c["field"]: c["count"] for c in report(world["users"]["clerk"])["missing_counts"]}
    assert counts["abstract"] == 2 and counts["source"] == 2


@pytest.mark.parametrize(("query", "field"), [("?ordering=best", "ordering"), ("?agency=nobody", "agency"),
                                              ("?theme=nothing", "theme"), ("?missing=colour", "missing")])
def test_report_refuses_bad_parameters_by_name(world, query, field):
    resp = client(world["users"]["clerk"]).get(f"/api/v1/metadata/report/{query}")
    assert resp.status_code == 400 and field in resp.json()


def test_report_page_in_both_languages(world):
    page = Client()
    page.force_login(world["users"]["driver"])
    zh = page.get("/metadata/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "詮釋資料完整度報表" in zh and "open-pop" in zh and "secret-pop" not in zh
    assert "/?layer_dialog=staff-pop&amp;tab=metadata" in zh
    en = page.get("/metadata/?ordering=nope", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Metadata completeness report" in en and "ordering" in en  # a bad address says what was wrong


# --- uploads: name clashes and colours ---------------------------------------------------------------------
def geojson(name="巡查點"):
    return SimpleUploadedFile(f"{name}.geojson", b'{"type":"FeatureCollection","features":[{"type":"Feature",'
                                                 b'"geometry":{"type":"Point","coordinates":[121.3,25.0]},'
                                                 b'"properties":{"name":"a"}}]}')


def test_a_name_clash_offers_the_choices_and_each_choice_goes_through(world):
    clerk = client(world["users"]["clerk"])
    jobs_before = Job.objects.count()
    Layer.objects.create(slug="xun-cha-dian", title_zh="巡查點", owner_agency=world["land"], visibility="internal")
    asked = clerk.post("/api/v1/layers/", {"files": [geojson()], "on_clash": "ask"}, format="multipart")
    assert asked.status_code == 409, asked.content
    body = asked.json()
    assert body["code"] == "name_clash" and body["choices"] == ["new_version", "new_layer", "cancel"]
    assert body["clashes"][0]["slug"] == "xun-cha-dian" and "巡查點" in body["detail"]
    assert Job.objects.count() == jobs_before  # nothing started, nothing kept
    version = clerk.post("/api/v1/layers/", {"files": [geojson()], "on_clash": "new_version"}, format="multipart")
    assert version.status_code == 202 and version.json()[0]["options"]["layer"] == "xun-cha-dian"
    assert version.json()[0]["options"]["mode"] == "upsert"
    beside = clerk.post("/api/v1/layers/", {"files": [geojson()], "on_clash": "new_layer"}, format="multipart")
    assert beside.status_code == 202 and "layer" not in beside.json()[0]["options"]
    # another agency sees the layer but may not change it: no new version offered, and asking for one is refused
    driver = client(world["users"]["driver"])
    theirs = driver.post("/api/v1/layers/", {"files": [geojson()], "on_clash": "ask"}, format="multipart")
    assert theirs.status_code == 409 and theirs.json()["choices"] == ["new_layer", "cancel"]
    refused = driver.post("/api/v1/layers/", {"files": [geojson()], "on_clash": "new_version"}, format="multipart")
    assert refused.status_code == 400 and "on_clash" in refused.json()


def test_a_title_clash_counts_and_a_hidden_layer_is_no_clash(world):
    driver = client(world["users"]["driver"])
    # 'secret-pop' is restricted to 地政局: for the driver it is as missing as a slug nobody has
    hidden = driver.post("/api/v1/layers/", {"files": [geojson("secret-pop")], "on_clash": "ask"}, format="multipart")
    missing = driver.post("/api/v1/layers/", {"files": [geojson("nobody-has-it")], "on_clash": "ask"},
                          format="multipart")
    assert hidden.status_code == missing.status_code == 202
    titled = driver.post("/api/v1/layers/", {"files": [geojson("other")], "title": "staff-pop", "on_clash": "ask"},
                         format="multipart")
    assert titled.status_code == 409 and titled.json()["clashes"][0]["slug"] == "staff-pop"


def test_new_layers_get_colours_unused_on_the_map(world):
    clerk = client(world["users"]["clerk"])
    on_map = new_layer_colors.PALETTE[:2]
    resp = clerk.post("/api/v1/layers/", {"files": [geojson("a-one"), geojson("a-two")], "avoid_colors": on_map},
                      format="multipart")
    assert resp.status_code == 202, resp.content
    colours = [job["options"]["color"] for job in resp.json()]
    assert colours == new_layer_colors.PALETTE[2:4]  # distinct, and none of the map's
    done = run_job(resp.json()[0]["id"])
    assert done.status == "succeeded", done.errors
    style = Style.objects.get(layer__slug="a-one")
    assert style.fill_color == colours[0] and style.fill_color != Style._meta.get_field("fill_color").default
    # not told what the map shows: a colour the user's latest layers do not have
    again = clerk.post("/api/v1/layers/", {"files": [geojson("a-three")]}, format="multipart").json()[0]
    assert again["options"]["color"] != colours[0]
    bad = clerk.post("/api/v1/layers/", {"files": [geojson("a-four")], "avoid_colors": ["blue"]}, format="multipart")
    assert bad.status_code == 400 and "avoid_colors" in bad.json()
