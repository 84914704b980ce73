"""Catalog slugs from file names: readable for Chinese names (Hanyu Pinyin), valid, and unique in the catalog."""

import re

import importfiles as files
import pytest

from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from layers.naming import layer_slug, legacy_slug

SLUG_RULE = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")  # layers.models.slug_validator


@pytest.mark.parametrize(("name", "slug"), [
    ("村里人口", "cun-li-ren-kou"),
    ("大臺北地區捷運車站出入口", "da-tai-bei-di-qu-jie-yun-che-zhan-chu-ru"),  # cut at a break, ≤ 40
    ("Taipei 捷運 2024 路線", "taipei-jie-yun-2024-lu-xian"),  # mixed: Latin words kept, Han transliterated
    ("村里_人口", "cun-li-ren-kou"),
    ("2024年人口", "layer-2024-nian-ren-kou"),  # a slug starts with a letter
    ("Taipei MRT Routes", "taipei-mrt-routes"),
    ("Café Ü", "cafe-u"),
])
def test_readable_slugs(name, slug):
    assert layer_slug(name) == slug
    assert SLUG_RULE.match(slug)


def test_nothing_readable_falls_back_to_the_title_then_to_a_stable_name():
    assert layer_slug("★★★", "Village population") == "village-population"
    assert layer_slug("★★★", "村里人口") == "cun-li-ren-kou"
    hashed = layer_slug("ひらがな", "")
    assert SLUG_RULE.match(hashed) and hashed.startswith("layer-")
    assert layer_slug("ひらがな") == hashed  # the same file finds the same layer again
    assert layer_slug("カタカナ") != hashed


def test_the_file_name_comes_before_the_title():
    assert layer_slug("roads", "道路") == "roads"


def _csv(tmp_path, name):
    data = files.csv_bytes(["名稱", "經度", "緯度"], [[n, lon, lat] for n, lon, lat, _r in files.PLACES])
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.django_db
def test_a_chinese_file_name_gives_a_readable_slug_and_a_second_one_the_next_free(tmp_path):
    path = _csv(tmp_path, "村里人口.csv")
    first = run_job(jobs.create(path, path.name, {"mode": "create"}).pk)
    second = run_job(jobs.create(path, path.name, {"mode": "create"}).pk)
    assert first.status == second.status == "succeeded", (first.errors, second.errors)
    assert [layer.slug for layer in first.layers.all()] == ["cun-li-ren-kou"]
    assert [layer.slug for layer in second.layers.all()] == ["cun-li-ren-kou-2"]
    assert first.layers.get().title_zh == "村里人口"


@pytest.mark.django_db
def test_an_unreadable_file_name_takes_the_users_title(tmp_path):
    path = _csv(tmp_path, "★.csv")
    job = run_job(jobs.create(path, path.name, {"mode": "create", "title": "Stations 車站"}).pk)
    assert job.status == "succeeded", job.errors
    assert job.layers.get().slug == "stations-che-zhan"


@pytest.mark.django_db
def test_a_layer_imported_under_the_old_hashed_slug_gets_the_new_version(tmp_path):
    path = _csv(tmp_path, "村里人口.csv")
    first = run_job(jobs.create(path, path.name, {"mode": "upsert"}).pk)
    layer = first.layers.get()
    # as imports named it before readable slugs
    Layer.objects.filter(pk=layer.pk).update(slug=legacy_slug("村里人口"))
    assert legacy_slug("村里人口").startswith("layer-")
    again = run_job(jobs.create(path, path.name, {"mode": "upsert"}).pk)
    assert again.status == "succeeded", again.errors
    assert list(again.layers.all()) == [layer]
    assert layer.versions.count() == 2
