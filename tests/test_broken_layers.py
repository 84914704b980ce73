"""One broken layer never poisons the platform: an import whose coordinates lie outside their CRS's area is
refused, and a catalog row that went bad anyway (NaN or huge extent, dropped table, a style that cannot be
drawn) is left out of the catalog list, the viewer page and config, and the WMS capabilities, for everyone,
while the other layers are served as before."""

import json
import re

import importfiles as files
import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.ogc import publishing

pytestmark = pytest.mark.django_db


def strict_json(text: str):
    """JSON as a browser's JSON.parse reads it: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def page_config(resp) -> dict:
    assert resp.status_code == 200
    text = resp.content.decode()
    return strict_json(re.search(r'<script id="viewer-config" type="application/json">(.*?)</script>', text, re.S)[1])


def import_csv(tmp_path, slug: str, rows, **options):
    folder = tmp_path / slug
    folder.mkdir()
    (folder / f"{slug}.csv").write_bytes(files.csv_bytes(["name", "lon", "lat"], rows))
    job = run_job(jobs.create(folder / f"{slug}.csv", f"{slug}.csv",
                              {"mode": "upsert", "slug": slug, "visibility": "public", **options}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


def clients():
    signed_in = APIClient()
    signed_in.force_login(User.objects.create(username="broken-layers-clerk"))
    return {"anonymous": APIClient(), "signed in": signed_in}


def test_coordinates_of_1e20_in_twd97_are_refused_and_the_catalog_still_answers(tmp_path):
    path = tmp_path / "far.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": i}, "geometry": {"type": "Point", "coordinates": xy}}
        for i, xy in enumerate([[250_000, 2_700_000], [1e20, 1e20], [260_000, 2_710_000], [1e20, 5]])]}))
    job = run_job(jobs.create(path, "far.geojson", {"mode": "upsert", "crs": "3826"}).pk)
    assert job.status == "failed"
    [error] = job.errors
    assert error["file"] == "far.geojson" and error["rows"] == [2, 4]
    for fragment in ("far.geojson", "features 2, 4", "outside the area of use", "TWD97 / TM2 zone 121",
                     "another CRS", "crs="):
        assert fragment in error["message"]
    assert not Layer.objects.filter(slug="far").exists()
    for client in clients().values():
        assert client.get("/api/v1/layers/").status_code == 200
        assert client.get("/viewer/layers.json").status_code == 200


def test_a_raster_far_outside_its_crs_is_refused(tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs="EPSG:3826",
                       transform=from_origin(1e20, 1e20, 10, 10)) as dst:
        dst.write(np.ones((4, 4), dtype="float32"), 1)
    job = run_job(jobs.create(path, "dem.tif", {"mode": "upsert"}).pk)
    assert job.status == "failed" and "outside the area" in job.errors[0]["message"]


def corrupt(layer: Layer, *statements: str) -> None:
    with connection.cursor() as cur:
        for statement in statements:
            cur.execute(statement, {"pk": layer.pk, "table": f"layerdata.{layer.table_name}"})


def test_a_corrupted_catalog_row_breaks_no_list_page_or_capabilities(tmp_path):
    good = import_csv(tmp_path, "good-sites", [["a", 121.30, 25.00], ["b", 121.31, 25.01]])
    nan = import_csv(tmp_path, "nan-sites", [["c", 121.20, 24.90]])
    huge = import_csv(tmp_path, "huge-sites", [["d", 121.25, 24.95]])
    styled = import_csv(tmp_path, "bad-style", [["e", 121.22, 24.92]])
    # as if edited by hand or left by an old import: extents that are not numbers or not on Earth, the table gone
    corrupt(nan, "UPDATE layers_layer SET native_extent = '{NaN,NaN,NaN,NaN}', extent = "
                 "ST_MakeEnvelope(121, 24, 'NaN'::float8, 'NaN'::float8, 4326) WHERE id = %(pk)s")
    corrupt(huge, "UPDATE layers_layer SET native_extent = '{-1e20,-1e20,1e20,1e20}', extent = "
                  "ST_MakeEnvelope(-59, -75, 'Infinity'::float8, 'Infinity'::float8, 4326) WHERE id = %(pk)s",
            f"DROP TABLE layerdata.{huge.table_name}")
    corrupt(styled, "UPDATE layers_style SET opacity = 'NaN' WHERE layer_id = %(pk)s")
    broken = {"nan-sites", "huge-sites"}

    for who, client in clients().items():
        listed = strict_json(client.get("/api/v1/layers/").content)["results"]
        by_slug = {entry["slug"]: entry for entry in listed}
        assert by_slug["good-sites"]["bbox"][0] == pytest.approx(121.30, abs=1e-3), who
        assert all(by_slug[slug]["bbox"] is None for slug in broken), who  # listed, without a box to draw
        assert client.get("/api/v1/layers/?bbox=121,24.5,121.5,25.5").status_code == 200, who
        detail = strict_json(client.get("/api/v1/layers/nan-sites/").content)
        assert detail["native_extent"] is None and detail["bbox"] is None, who

        drawn = {entry["slug"] for entry in strict_json(client.get("/viewer/layers.json").content)["layers"]}
        assert "good-sites" in drawn and not (broken | {"bad-style"}) & drawn, who
        config = page_config(client.get("/"))
        assert {entry["slug"] for entry in config["layers"]} == drawn, who
        assert all(abs(v) <= 180 for v in config["initial_bbox"]), who
        assert client.get("/tiles/good-sites/12/3430/1753.mvt").status_code in (200, 204), who

    publishing.publish_all()  # the engine is told about every layer again: the broken ones must not fail the map
    capabilities = APIClient().get("/ows", {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert capabilities.status_code == 200
    names = set(re.findall(rb"<Name>([^<]+)</Name>", capabilities.content))
    assert b"good-sites" in names and not {b"nan-sites", b"huge-sites", b"bad-style"} & names
    assert b"nan" not in capabilities.content.lower().replace(b"nan-sites", b"")
    assert good.slug == "good-sites"
