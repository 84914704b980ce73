"""Rights of their own on layers (accounts.rights): see, import, add, edit own, edit all, delete, publish, manage —
given to groups, agencies and single users, per layer, per theme (its sub-themes included) and through the API;
importing new layers as a right of the platform. The server refuses forged requests (403 on a layer one may see,
404 on one one may not), and every change is an audit entry with before and after."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts import rights
from accounts.models import ImportGrant, LayerGrant
from layers.models import Layer, Theme

pytestmark = pytest.mark.django_db

FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.30, 25.0]},
           "properties": {"name": "新增"}}


def vector_layer(slug: str, visibility: str = "restricted", theme: Theme | None = None) -> Layer:
    table = slug.replace("-", "_")
    with connection.cursor() as cur:
        cur.execute(f"CREATE TABLE layerdata.{table} (fid serial PRIMARY KEY, name text, geom geometry(Point, 3826))")
        cur.execute(f"INSERT INTO layerdata.{table} (name, geom) VALUES "
                    "('匯入的', ST_Transform(ST_SetSRID(ST_MakePoint(121.31, 25.01), 4326), 3826))")
    owner = Group.objects.get_or_create(name="rt-水利處")[0]
    return Layer.objects.create(slug=slug, title_zh="排水溝", table_name=table, kind="vector", srid=3826,
                                geometry_type="Point", feature_count=1, owner_agency=owner, visibility=visibility,
                                theme=theme, attributes=[{"name": "name", "type": "text"}])


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def user_with(layer: Layer, name: str, granted: list[str]) -> User:
    user = User.objects.create_user(name)
    LayerGrant.objects.create(layer=layer, user=user, rights=granted)
    return user


def test_a_user_who_may_only_see_is_refused_every_change_and_a_stranger_gets_404s():
    layer = vector_layer("rt-ditches")
    viewer, stranger = user_with(layer, "rt-viewer", ["see"]), User.objects.create_user("rt-stranger")
    base = f"/api/v1/layers/{layer.slug}/"
    forged = [("post", f"{base}reimport/", {}), ("post", f"{base}features/", FEATURE),
              ("patch", f"{base}features/1/", {"properties": {"name": "x"}}), ("delete", f"{base}features/1/", None),
              ("post", f"{base}publish/", None), ("post", f"{base}withdraw/", None),
              ("patch", base, {"abstract": "改"}), ("patch", base, {"visibility": "public"}),
              ("patch", f"{base}style/", {"opacity": 0.4}), ("post", f"{base}versions/1/restore/", None),
              ("get", f"{base}grants/", None), ("put", f"{base}grants/", {"grants": []}), ("delete", base, None)]
    assert api(viewer).get(base).json()["rights"] == ["see"]
    for method, url, body in forged:
        seen = getattr(api(viewer), method)(url, body, format="json")
        assert seen.status_code == 403, (method, url, seen.status_code, seen.content)
        hidden = getattr(api(stranger), method)(url, body, format="json")
        assert hidden.status_code == 404, (method, url, hidden.status_code)
    assert api(stranger).get(base).status_code == 404
    layer.refresh_from_db()
    assert layer.visibility == "restricted" and layer.abstract == "" and layer.ogc_status != "withdrawn"


def test_edit_own_changes_ones_own_features_only_and_edit_all_every_one():
    layer = vector_layer("rt-own")
    url = f"/api/v1/layers/{layer.slug}/features/"
    adder = user_with(layer, "rt-adder", ["add", "edit_own"])
    other = user_with(layer, "rt-other", ["add", "edit_own"])
    mine = api(adder).post(url, FEATURE, format="json")
    assert mine.status_code == 201, mine.content
    fid = mine.json()["id"]
    theirs = api(other).post(url, FEATURE, format="json").json()["id"]
    assert api(adder).patch(f"{url}{fid}/", {"properties": {"name": "改過"}, "version": 1},
                            format="json").status_code == 200
    assert api(adder).patch(f"{url}{theirs}/", {"properties": {"name": "x"}, "version": 1},
                            format="json").status_code == 403
    assert api(adder).patch(f"{url}1/", {"properties": {"name": "x"}, "version": 0},  # imported: nobody's own
                            format="json").status_code == 403
    assert api(adder).delete(f"{url}{fid}/?version=2").status_code == 403  # deleting is a right of its own
    LayerGrant.objects.filter(user=adder).update(rights=["edit_all", "delete"])
    assert api(adder).post(url, FEATURE, format="json").status_code == 403  # no longer "add"
    assert api(adder).patch(f"{url}{theirs}/", {"properties": {"name": "改"}, "version": 1},
                            format="json").status_code == 200
    assert api(adder).delete(f"{url}{fid}/?version=2").status_code == 200


def test_group_and_single_user_grants_and_the_owner_agency_and_admins_hold_everything(
        settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the engine job runs at the commit
    layer = vector_layer("rt-groups")
    crew = Group.objects.create(name="rt-養護班")
    member = User.objects.create_user("rt-member")
    member.groups.add(crew)
    LayerGrant.objects.create(layer=layer, group=crew, rights=["publish"])
    assert rights.rights_of(member, layer) == ["see", "publish"]  # any right opens a restricted layer
    assert Layer.objects.visible_to(member).filter(pk=layer.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert api(member).post(f"/api/v1/layers/{layer.slug}/withdraw/").status_code == 202
    layer.refresh_from_db()
    assert layer.ogc_status == "withdrawn"
    with django_capture_on_commit_callbacks(execute=True):  # a later change leaves it withdrawn …
        assert api(member).patch(f"/api/v1/layers/{layer.slug}/", {"abstract": "溝"}, format="json").status_code == 200
    assert Layer.objects.get(pk=layer.pk).ogc_status == "withdrawn"
    with django_capture_on_commit_callbacks(execute=True):  # … until it is published again
        assert api(member).post(f"/api/v1/layers/{layer.slug}/publish/").status_code == 202
    assert Layer.objects.get(pk=layer.pk).ogc_status == "published"
    owner = User.objects.create_user("rt-owner")
    owner.groups.add(layer.owner_agency)
    admin = User.objects.create_superuser("rt-admin")
    assert rights.rights_of(owner, layer) == rights.rights_of(admin, layer) == list(rights.RIGHTS)
    assert list(rights.layers_where(member, "publish").filter(slug__startswith="rt-")) == [layer]
    assert not rights.layers_where(member, "import").filter(pk=layer.pk).exists()


def test_importing_new_layers_is_a_right_of_its_own(audited):
    user = User.objects.create_user("rt-uploader")
    assert rights.may_import(user)  # every signed-in user, as the platform starts
    admin = Client()
    admin.force_login(User.objects.create_superuser("rt-root"))
    assert admin.post("/accounts/layers/", {"form": "import", "holder": "everyone", "action": "remove"}).status_code \
        == 302
    assert not ImportGrant.objects.exists()
    refused = api(user).post("/api/v1/layers/", {}, format="multipart")
    assert refused.status_code == 403 and "匯入新圖層" in refused.json()["detail"]
    assert api(user).post("/api/v1/layers/services/", {}, format="json").status_code == 403
    assert api(user).post("/api/v1/stats/tables/", {}, format="multipart").status_code == 403
    page = Client()
    page.force_login(user)
    assert '"may_import": false' in page.get("/").content.decode()  # the viewer hides its upload tool
    assert admin.post("/accounts/layers/", {"form": "import", "holder_user": "rt-uploader", "action": "add"}) \
        .status_code == 302
    assert api(user).post("/api/v1/layers/", {}, format="multipart").status_code == 400  # on to the files
    entries = audited(action="permission_change", object_type="import_right")
    assert [e.detail["after"] for e in entries] == [[], ["user:rt-uploader"]]


def test_a_theme_grant_reaches_sub_theme_layers_and_each_change_is_audited(audited):
    top = Theme.objects.create(slug="rt-water", name_zh="水利")
    sub = Theme.objects.create(slug="rt-drains", name_zh="排水", parent=top)
    deep = vector_layer("rt-deep", theme=sub)
    other = vector_layer("rt-elsewhere")
    crew = Group.objects.create(name="rt-巡查隊")
    admin = Client()
    admin.force_login(User.objects.create_superuser("rt-boss"))
    given = admin.post("/accounts/layers/", {"form": "theme", "theme": top.slug, "holder": f"group:{crew.name}",
                                             "grant": ["edit_all", "publish"]})
    assert given.status_code == 302
    assert LayerGrant.objects.get(layer=deep, group=crew).rights == ["edit_all", "publish"]
    assert not LayerGrant.objects.filter(layer=other).exists()
    bad = admin.post("/accounts/layers/", {"form": "theme", "theme": top.slug, "holder": "group:rt-none",
                                           "grant": ["fly"]})
    assert bad.status_code == 400 and "fly" in bad.content.decode()
    # one layer's table: a single user's right set and another taken, in one save
    solo = User.objects.create_user("rt-solo")
    saved = admin.post("/accounts/layers/", {
        "form": "layer", "layer": deep.slug, "visibility": "restricted", "owner_agency": "",
        "holder": [f"group:{crew.name}"], f"rights:group:{crew.name}": ["publish"],
        "add_user": "rt-solo", "add_user_rights": ["see", "import"]})
    assert saved.status_code == 302, saved.content.decode()[:500]
    assert rights.rights_of(solo, deep) == ["see", "import"]
    assert LayerGrant.objects.get(layer=deep, group=crew).rights == ["publish"]
    page = admin.get(f"/accounts/layers/?layer={deep.slug}")
    assert "rt-solo" in page.content.decode() and 'name="rights:user:rt-solo" value="import"' in \
        page.content.decode()
    changes = [e for e in audited(action="permission_change", object_type="layer") if e.object_label == "rt-deep"]
    [themed] = [e for e in changes if e.detail.get("theme")]
    assert themed.detail["theme"] == top.slug and themed.detail["before"]["grants"] == []
    assert {"kind": "group", "name": crew.name, "rights": ["see", "edit_all", "publish"]} in \
        themed.detail["after"]["grants"]
    assert {"kind": "user", "name": "rt-solo", "rights": ["see", "import"]} in changes[-1].detail["after"]["grants"]


def test_managers_set_grants_through_the_api_and_bad_entries_change_nothing(audited):
    layer = vector_layer("rt-api")
    manager = user_with(layer, "rt-manager", ["manage"])
    User.objects.create_user("rt-reader")
    url = f"/api/v1/layers/{layer.slug}/grants/"
    put = api(manager).put(url, {"grants": [{"kind": "user", "name": "rt-manager", "rights": ["manage"]},
                                            {"kind": "user", "name": "rt-reader", "rights": ["see", "edit_own"]},
                                            {"kind": "agency", "name": "rt-nobody", "rights": ["see"]}]},
                           format="json")
    assert put.status_code == 400 and "rt-nobody" in put.json()["grants"]
    assert not LayerGrant.objects.filter(user__username="rt-reader").exists()  # nothing half-written
    put = api(manager).put(url, {"grants": [{"kind": "user", "name": "rt-manager", "rights": ["manage"]},
                                            {"kind": "user", "name": "rt-reader", "rights": ["see", "edit_own"]}]},
                           format="json")
    assert put.status_code == 200, put.content
    assert {"kind": "user", "name": "rt-reader", "rights": ["see", "edit_own"]} in put.json()["grants"]
    assert put.json()["yours"] == ["see", "manage"]
    [entry] = audited(action="permission_change", object_label="rt-api")
    assert entry.detail["via"] == "api" and entry.detail["before"]["grants"] != entry.detail["after"]["grants"]
