"""The 統計資料 page (/stats/) in a real browser: an officer of the statistics agency joins a town table to a
boundary through the page's form, reads the match report in words (with the unmatched people and their unit),
defines a density indicator with the pickers (labels, not column names) and draws it on the map: the viewer opens
on the new choropleth layer whose legend carries the unit. Another agency's officer does not see the restricted
table. One page, one context; screenshots in .var/screenshots/stats-*.png."""

import json
from pathlib import Path

import pytest
from conftest import CHROMIUM, PHONE, UNNAMED_CONTROLS, assert_fits, new_page, shot
from django.contrib.auth.models import Group, User

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]

PASSWORD = "stats-officer-2026"
SCHEMA_INI = ("[檔案格式資訊]\r\n檔案格式=TXT_CSV\r\n檔案名稱=data.csv\r\n跳脫行數=2\r\n"
              "欄位清單=COUNTY_ID,COUNTY,TOWN_ID,TOWN,P_CNT,INFO_TIME\r\n[TOWN_ID]\r\n中文欄位名=鄉鎮市區代碼\r\n"
              "[P_CNT]\r\n中文欄位名=人口數\r\n顯示計量單位=人\r\n")
INFO_INI = "[產品資訊]\r\n產品名稱=測試鄉鎮市區人口統計\r\n資料時間=114Y12M\r\n空間統計單元代碼=U01TO\r\n"
# six districts on the map, a seventh row with no polygon (its 430,115 people are the unmatched total)
PEOPLE = [("68000010", "桃園區", 462242), ("68000030", "大溪區", 95000), ("68000040", "楊梅區", 178000),
          ("68000050", "蘆竹區", 170000), ("68000060", "大園區", 95500), ("68000070", "龜山區", 170300)]
DATA_CSV = ("COUNTY_ID,COUNTY,TOWN_ID,TOWN,P_CNT,INFO_TIME\r\n"
            "縣市代碼,縣市名稱,鄉鎮市區代碼,鄉鎮市區名稱,人口數,資料時間\r\n"
            + "".join(f'68000,桃園市,{code},{name},"{n:,}",114Y12M\r\n' for code, name, n in PEOPLE)
            + '68000,桃園市,68000020,中壢區,"430,115",114Y12M\r\n')


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker, tmp_path_factory):
    """A restricted town table of 統計處 and a public boundary of six districts, committed for the live server."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from layers.importing import jobs
    from layers.importing.pipeline import run_job
    from layers.models import Layer
    from stats import importing

    folder = tmp_path_factory.mktemp("statspage")
    with django_db_blocker.unblock():
        importlib.import_module("layers.migrations.0002_default_themes").create(apps, None)
        agency, other = Group.objects.create(name="統計處"), Group.objects.create(name="工務局")
        User.objects.create_user("officer", password=PASSWORD).groups.add(agency)
        User.objects.create_user("outsider", password=PASSWORD).groups.add(other)
        for name, text in (("Schema.ini", SCHEMA_INI), ("Info.ini", INFO_INI), ("data.csv", DATA_CSV)):
            (folder / name).write_bytes(text.encode("utf-8" if name == "data.csv" else "cp950"))
        names = ["Schema.ini", "Info.ini", "data.csv"]
        job = run_job(importing.create(folder / names[0], names, {
            "visibility": "restricted", "owner_agency": agency.pk, "slug": "ty-towns"}).pk, work=importing._import)
        assert job.status == "succeeded", job.errors
        features = []
        for i, (code, name, _n) in enumerate(PEOPLE):
            x = 121.20 + 0.03 * i
            ring = [[x, 24.90], [x + 0.02 + 0.004 * i, 24.90], [x + 0.02 + 0.004 * i, 24.93], [x, 24.93], [x, 24.90]]
            features.append({"type": "Feature", "properties": {"TOWNCODE": code, "TOWNNAME": name,
                                                               "COUNTYNAME": "桃園市"},
                             "geometry": {"type": "Polygon", "coordinates": [ring]}})
        (folder / "towns.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        boundary = run_job(jobs.create(folder / "towns.geojson", "towns.geojson", {
            "visibility": "public", "slug": "ty-districts", "title": "桃園市區界"}).pk)
        assert boundary.status == "succeeded", boundary.errors
        try:
            yield
        finally:
            Layer.objects.all().delete()
            Group.objects.all().delete()
            User.objects.filter(username__in=["officer", "outsider"]).delete()
            with connection.cursor() as cur:
                cur.execute("DROP SCHEMA layerdata CASCADE; CREATE SCHEMA layerdata")


@pytest.fixture(scope="module")
def facts(city):
    return {}


def sign_in(page, username):
    page.locator("#sign-in-open").click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label("帳號").fill(username)
    dialog.get_by_label("密碼").fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name="登入").click()
    page.wait_for_selector("#signed-in-as")


def test_join_report_indicator_and_drawing_it_on_the_map(browser, server):
    page = new_page(browser, server)
    try:
        page.goto("/stats/")
        assert "測試鄉鎮市區人口統計" not in page.content()  # restricted: not shown to a visitor
        sign_in(page, "officer")
        table = page.locator("#table-ty-towns")
        assert "測試鄉鎮市區人口統計" in table.locator("h2").inner_text()
        table.locator("summary", has_text="連結到邊界圖層").click()
        table.get_by_label("邊界圖層").select_option(label="桃園市區界")
        with page.expect_navigation():
            table.get_by_role("button", name="建立連結").click()
        report = table.locator(".join .match-report").first.inner_text()
        assert "已連結 6 列（85.71%），未連結 1 列，共 430,115 人" in report, report
        assert "邊界中有 0 個區域沒有資料" in report
        # an indicator with the pickers: labels with units, not column names
        join = table.locator(".join").first
        join.locator("summary", has_text="定義指標").click()
        assert "人口數（人）" in join.get_by_label("分子（欄位）").inner_text()
        join.get_by_label("指標名稱").fill("人口密度")
        join.get_by_label("英文名稱").fill("Population density")
        join.get_by_label("公式").select_option(label="密度（每平方公里）")
        join.get_by_label("分子（欄位）").select_option(label="人口數（人）")
        with page.expect_navigation():
            join.get_by_role("button", name="建立指標").click()
        row = page.locator(".indicators tbody tr").first
        assert row.locator("td").nth(1).inner_text() == "人口數（人） ÷ 面積（平方公里）"
        assert row.locator("td").nth(2).inner_text() == "人/平方公里"
        assert page.evaluate(UNNAMED_CONTROLS) == []
        shot(page, "stats-01-page")
        # draw it: the viewer opens on the new layer, its legend in the indicator's unit
        with page.expect_navigation():
            row.get_by_role("button", name="畫在地圖上").click()
        assert "?view=" in page.url
        title = page.locator(".active-layer .legend-title").first
        title.wait_for()
        assert "人/平方公里" in title.inner_text() and "分位數" in title.inner_text()
        assert page.locator(".active-layer .legend li").count() >= 2
        page.wait_for_load_state("networkidle")
        shot(page, "stats-02-viewer-legend")
        # English, and at phone size
        page.goto("/stats/")
        with page.expect_navigation():
            page.locator("#lang").select_option("en")
        report = page.locator("#table-ty-towns .match-report").first.inner_text()
        assert "Joined: 6 rows (85.71%); not joined: 1; in all 430,115 people." in report, report
        assert "Population (people) ÷ area (km²)" in page.locator(".indicators").inner_text()
        page.set_viewport_size(PHONE)
        assert_fits(page, PHONE["width"], "#report button, #report select, #report summary")
        shot(page, "stats-03-phone-en")
    finally:
        page.context.close()
    outsider = new_page(browser, server)
    try:
        outsider.goto("/stats/")
        sign_in(outsider, "outsider")
        assert outsider.locator("#table-ty-towns").count() == 0
    finally:
        outsider.context.close()
