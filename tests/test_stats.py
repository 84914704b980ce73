"""Statistical tables: reading the forms agencies publish, bad input named by file/row/column with nothing kept,
joins and indicators through the API, and visibility (a restricted table is a missing one)."""

import json
import zipfile
from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from jobs.models import Job
from layers.importing.pipeline import run_job
from layers.models import Layer
from stats import importing, parsing
from stats.models import StatTable

pytestmark = pytest.mark.django_db


def test_numbers_periods_and_names():
    assert parsing.number("1,234") == 1234 and parsing.number("－") is None and parsing.number("１２.５%") == 12.5
    with pytest.raises(ValueError):
        parsing.number("12a")
    assert parsing.period("114Y12M") == date(2025, 12, 1)
    assert parsing.period("11412") == date(2025, 12, 1)
    assert parsing.period("民國114年12月") == date(2025, 12, 1)
    assert parsing.period("107/02/05") == date(2018, 2, 5)
    assert parsing.period("2025-06") == date(2025, 6, 1)
    with pytest.raises(ValueError, match="not a period"):
        parsing.period("Q4")
    assert parsing.place(" 台中市 ") == "臺中市"
    assert parsing.split_site("桃園市桃園區") == ("桃園市", "桃園區")
    assert parsing.standard_of("區域別代碼") == "villcode" and parsing.standard_of("village") == "village"
    assert parsing.standard_of("TOWNID") is None and parsing.standard_of("TOWN_ID") == "towncode"


def run(folder, names, **options) -> Job:
    job = importing.create(folder / names[0], names, {"visibility": "public", **options})
    return run_job(job.pk, work=importing._import)


def write(folder, name, text, encoding="utf-8"):
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))
    return name


BIG5_CSV = ("臺北市各里人口統計,,,\r\n單位：人,,,\r\nvillcode,village,people,households\r\n"
            "村里代碼,村里名稱,人口數,戶數\r\n63000010001,莊敬里,\"1,234\",500\r\n63000010002,松光里,-,420\r\n"
            "資料來源：民政局,,,\r\n")


def test_big5_csv_with_title_rows_caption_row_and_thousands(tmp_path):
    name = write(tmp_path / "a", "people.csv", BIG5_CSV, "cp950")
    job = run(tmp_path / "a", [name])
    assert job.status == "succeeded", job.errors
    table = job.layers.get().stat_table
    assert (table.level, table.key, table.layer.feature_count) == ("village", "villcode", 2)
    people = next(a for a in table.layer.attributes if a["name"] == "people")
    assert (people["type"], people["label"], people["kind"]) == ("bigint", "人口數", "count")
    assert "中文欄位名稱" in json.dumps(job.messages, ensure_ascii=False)


def test_bad_number_is_named_by_file_row_and_column_and_nothing_is_kept(tmp_path):
    name = write(tmp_path / "b", "bad.csv", "villcode,people\n63000010001,10\n63000010002,12\n63000010003,1O\n"
                                          "63000010004,9\n63000010005,7\n")
    job = run(tmp_path / "b", [name])
    assert job.status == "failed"
    [error] = job.errors
    assert (error["file"], error["rows"], error["field"]) == ("bad.csv", [4], "people")
    assert "'1O'" in error["message"] and "number" in error["message"]
    assert not Layer.objects.filter(slug="bad").exists()
    name = write(tmp_path / "c", "codes.csv", "villcode,people\n6300001001,10\n")
    job = run(tmp_path / "c", [name])
    assert job.status == "failed" and "11" in job.errors[0]["message"] and job.errors[0]["rows"] == [2]


def test_xlsx_and_ods(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["114年12月 鄉鎮市區人口"], ["town_id", "town", "p_cnt", "info_time"],
                ["68000010", "桃園區", 462242, "114Y12M"], ["68000020", "中壢區", 430000, "114Y12M"]):
        sheet.append(row)
    (tmp_path / "x").mkdir()
    book.save(tmp_path / "x" / "towns.xlsx")
    job = run(tmp_path / "x", ["towns.xlsx"])
    assert job.status == "succeeded", job.errors
    table = job.layers.get().stat_table
    assert (table.level, table.periods) == ("town", ["2025-12-01"])

    content = ('<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:'
               'office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:'
               'names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table>'
               + "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
                         for row in (["縣市", "鄉鎮市區", "村里", "人口"], ["台中市", "中區", "大墩里", 812],
                                     ["臺中市", "中區", "綠川里", 640]))
               + "</table:table></office:spreadsheet></office:body></office:document-content>")
    (tmp_path / "o").mkdir()
    with zipfile.ZipFile(tmp_path / "o" / "names.ods", "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content)
    job = run(tmp_path / "o", ["names.ods"])
    assert job.status == "succeeded", job.errors
    table = job.layers.get().stat_table
    assert (table.level, table.key) == ("village", "name")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT county_name FROM layerdata.{table.layer.table_name}")  # noqa: S608
        assert cur.fetchall() == [("臺中市",)]


def cell(value):
    if isinstance(value, int):
        return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p>' \
               "</table:table-cell>"
    return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'


SCHEMA_INI = ("[檔案格式資訊]\r\n檔案格式=TXT_CSV\r\n檔案名稱=data.csv\r\n跳脫行數=2\r\n"
              "欄位清單=COUNTY_ID,COUNTY,TOWN_ID,TOWN,P_CNT,INFO_TIME\r\n[TOWN_ID]\r\n中文欄位名=鄉鎮市區代碼\r\n"
              "[P_CNT]\r\n中文欄位名=人口數\r\n顯示計量單位=人\r\n")
INFO_INI = "[產品資訊]\r\n產品名稱=114年12月行政區人口統計_鄉鎮市區\r\n資料時間=114Y12M\r\n空間統計單元代碼=U01TO\r\n"
DATA_CSV = ("COUNTY_ID,COUNTY,TOWN_ID,TOWN,P_CNT,INFO_TIME\r\n"
            "縣市代碼,縣市名稱,鄉鎮市區代碼,鄉鎮市區名稱,人口數,資料時間\r\n"
            "68000,桃園市,68000010,桃園區,\"462,242\",114Y12M\r\n68000,桃園市,68000020,中壢區,\"430,115\",114Y12M\r\n")


def segis_package(tmp_path):
    folder = tmp_path / "segis"
    return folder, [write(folder, "Schema.ini", SCHEMA_INI, "cp950"), write(folder, "Info.ini", INFO_INI, "cp950"),
                    write(folder, "data.csv", DATA_CSV)]


def test_segis_package_skips_its_caption_row(tmp_path):
    folder, names = segis_package(tmp_path)
    job = run(folder, names)
    assert job.status == "succeeded", job.errors
    layer = job.layers.get()
    assert layer.title_zh == "114年12月行政區人口統計_鄉鎮市區" and layer.feature_count == 2
    assert (layer.stat_table.level, layer.stat_table.periods) == ("town", ["2025-12-01"])
    assert next(a for a in layer.attributes if a["name"] == "p_cnt")["label"] == "人口數"


def test_household_json_with_drifted_column_names(tmp_path):
    rows = [{"統計年月": "11412", "區域別代碼": "68000010001", "區域別": "桃園市桃園區", "村里名稱": "文化里",
             "戶數": "650", "人口數": "1,301"}]
    name = write(tmp_path / "h", "odrp.json", json.dumps({"responseCode": "OD-0101-S", "responseData": rows},
                                                         ensure_ascii=False))
    job = run(tmp_path / "h", [name])
    assert job.status == "succeeded", job.errors
    table = job.layers.get().stat_table
    assert (table.level, table.key, table.periods) == ("village", "villcode", ["2025-12-01"])


@pytest.fixture
def world(tmp_path):
    """A restricted statistics table of agency A, a public town boundary with polygons, and three users."""
    agency, other = Group.objects.create(name="統計處"), Group.objects.create(name="工務局")
    owner = User.objects.create_user("st-owner", password="x")
    owner.groups.add(agency)
    stranger = User.objects.create_user("st-other", password="x")
    stranger.groups.add(other)
    folder, names = segis_package(tmp_path)
    job = run(folder, names, visibility="restricted", owner_agency=agency.pk, slug="towns-stat")
    assert job.status == "succeeded", job.errors
    towns = tmp_path / "towns.geojson"
    square = [[121.30, 24.99], [121.31, 24.99], [121.31, 25.00], [121.30, 25.00], [121.30, 24.99]]
    towns.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"TOWNCODE": "68000010", "TOWNNAME": "桃園區", "COUNTYNAME": "桃園市"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    from layers.importing import jobs

    boundary = run_job(jobs.create(towns, "towns.geojson", {"visibility": "public", "slug": "st-towns"}).pk)
    assert boundary.status == "succeeded", boundary.errors
    (tmp_path / "again").mkdir()
    return {"owner": owner, "other": stranger, "tmp": tmp_path / "again"}


def client(user=None):
    c = Client()
    if user:
        c.force_login(user)
    return c


def test_join_indicator_values_and_visibility_through_the_api(world):
    owner = client(world["owner"])
    answer = owner.post("/api/v1/stats/tables/towns-stat/joins/", {"boundary": "st-towns"},
                        content_type="application/json")
    assert answer.status_code == 201, answer.content
    report = answer.json()
    assert (report["matched_rows"], report["unmatched_rows"], report["boundary_version"]) == (1, 1, 1)
    assert report["unmatched_totals"] == {"p_cnt": 430115}
    assert report["unmatched"][0]["code"] == "68000020"
    answer = owner.post("/api/v1/stats/indicators/", {
        "slug": "ty-density", "title_zh": "人口密度", "join": report["id"], "formula": "density",
        "numerator": "p_cnt"}, content_type="application/json")
    assert answer.status_code == 201, answer.content
    values = owner.get("/api/v1/stats/indicators/ty-density/values/?level=town").json()
    [town] = values["values"]
    from pyproj import Geod

    area = abs(Geod(ellps="GRS80").polygon_area_perimeter([121.30, 121.31, 121.31, 121.30],
                                                          [24.99, 24.99, 25.00, 25.00])[0]) / 1e6
    assert town["value"] == pytest.approx(462242 / area, rel=1e-3)
    assert (values["indicator"]["unit"], values["unmatched"]["totals"]) == ("人/平方公里", {"p_cnt": 430115})
    bad = owner.post("/api/v1/stats/indicators/", {"slug": "bad", "title_zh": "x", "join": report["id"],
                                                   "formula": "share", "numerator": "p_cnt",
                                                   "denominator": "town"}, content_type="application/json")
    assert bad.status_code == 400 and "denominator" in bad.json()
    # the restricted table, its join and indicator are missing for everyone outside its agency
    for caller in (client(world["other"]), client()):
        for url in ("/api/v1/stats/tables/towns-stat/", "/api/v1/stats/indicators/ty-density/values/",
                    f"/api/v1/stats/joins/{report['id']}/", "/api/v1/stats/indicators/ty-density/"):
            missing = url.replace("towns-stat", "nowhere").replace("ty-density", "nowhere").replace(
                f"/{report['id']}/", "/987654/")
            assert caller.get(url).status_code == caller.get(missing).status_code == 404
        assert "towns-stat" not in caller.get("/api/v1/stats/tables/").content.decode()
    assert StatTable.objects.count() == 1
    # on the map: a layer derived from the restricted table (as hidden as it), a graduated legend with the unit
    drawn = owner.post("/api/v1/stats/indicators/ty-density/map/", {"method": "equal_interval", "class_count": 2},
                       content_type="application/json")
    assert drawn.status_code == 400 and "period" in drawn.json()  # one town with a value: nothing to classify
    # a new version of the table: its join is made again (the rows are new), the indicator follows
    folder, names = segis_package(world["tmp"])
    job = run(folder, names, layer="towns-stat", mode="upsert")
    assert job.status == "succeeded", job.errors
    values = owner.get("/api/v1/stats/indicators/ty-density/values/?level=town").json()
    assert values["values"][0]["value"] == town["value"] and values["stale"] is False
    assert owner.get("/api/v1/stats/tables/towns-stat/").json()["version"] == 2


def test_upload_through_the_api_starts_an_import_job(world, settings, django_capture_on_commit_callbacks, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CELERY_TASK_ALWAYS_EAGER = True
    owner = client(world["owner"])
    upload = SimpleUploadedFile("村里人口.csv", BIG5_CSV.encode("cp950"), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        answer = owner.post("/api/v1/stats/tables/", {"files": [upload], "slug": "api-people",
                                                      "visibility": "internal"})
    assert answer.status_code == 202, answer.content
    job = Job.objects.get(pk=answer.json()[0]["id"])
    assert job.status == "succeeded", job.errors
    table = owner.get("/api/v1/stats/tables/api-people/").json()
    assert (table["level"], table["rows"], table["version"]) == ("village", 2, 1)
    assert client().get("/api/v1/stats/tables/api-people/").status_code == 404  # internal: signed-in users only
    bad = owner.post("/api/v1/stats/tables/", {"files": [SimpleUploadedFile("x.shp", b"x")]})
    assert bad.status_code == 400
