"""The demo city's 市政儀表板: its villages' population, households and age groups as a statistical table (two
periods), joined to the village boundaries, a few indicators over it and a public dashboard of them.

The 2025-12 figures are the demo villages' own (layers.democity); the 2024-12 ones are derived from them with a
seeded growth rate per village (synthetic, like the whole demo city), so that changes between periods can be shown.
Run by `make demo` after the demo city (`manage.py city_dashboard`); again, it replaces what it made
(`--if-missing`: not when the dashboard is there). Air quality is shown now (the sensors' latest readings) and this
week (the daily means of their readings); facility coverage is the share of the people within 500 m (straight line)
of a park, each village's population spread evenly over its area (dashboards.live.coverage).
"""

import csv
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from django.contrib.auth.models import Group
from django.db import connection, transaction

from jobs.models import Job
from layers import catalog
from layers.importing.pipeline import run_job
from layers.models import Layer
from stats import importing, joins
from stats.models import Indicator

from .models import Dashboard

TABLE = "demo-village-population"
COUNTY = "示範市"
AGENCY = "民政局"
PERIODS = ("113Y12M", "114Y12M")  # 2024-12, 2025-12
COLUMNS = ("population", "households", "age_0_14", "age_15_64", "age_65_plus")
BASE = date(2024, 12, 1)
# slug, zh, en, formula, numerator, denominator, decimals, base period
INDICATORS = [
    ("city-population", "人口數", "Population", "value", "population", "", 0, None),
    ("city-households", "戶數", "Households", "value", "households", "", 0, None),
    ("city-density", "人口密度", "Population density", "density", "population", "", 0, None),
    ("city-ageing", "老年人口比例", "Share aged 65+", "share", "age_65_plus", "population", 1, None),
    ("city-children", "幼年人口比例", "Share aged 0–14", "share", "age_0_14", "population", 1, None),
    ("city-ageing-index", "老化指數", "Ageing index", "share", "age_65_plus", "age_0_14", 1, None),
    ("city-growth", "人口增減率", "Population change", "change_pct", "population", "", 2, BASE),
]
SPEC = {
    "selectors": [{"kind": "district"}, {"kind": "period"},
                  {"kind": "category", "title": "年齡結構", "title_en": "Age structure",
                   "options": ["city-ageing", "city-children", "city-ageing-index"]}],
    "widgets": [
        {"id": "pop", "type": "kpi", "indicator": "city-population", "width": 1},
        {"id": "hh", "type": "kpi", "indicator": "city-households", "width": 1},
        {"id": "age", "type": "kpi", "indicator": "city-ageing", "category": True, "width": 1},
        {"id": "dens", "type": "kpi", "indicator": "city-density", "width": 1},
        {"id": "air", "type": "sensor", "quantity": "pm25", "width": 2,
         "title": "空氣品質：PM2.5 即時", "title_en": "Air quality: PM2.5 now"},
        {"id": "airweek", "type": "sensor_week", "quantity": "pm25", "width": 2,
         "title": "空氣品質：本週 PM2.5 每日平均", "title_en": "Air quality: PM2.5 daily means this week"},
        {"id": "parks", "type": "coverage", "layer": "facilities", "distance": 500.0, "boundary": "villages",
         "population": "population",
         "filter": {"op": "and", "conditions": [{"attribute": "kind", "operator": "=", "value": "park"}]},
         "width": 2, "title": "公園 500 公尺內的人口比例", "title_en": "Share of people within 500 m of a park"},
        {"id": "wifi", "type": "wifi", "layer": "wifi-usage", "width": 2,
         "title": "免費 Wi-Fi 使用量（最新一日）", "title_en": "Free Wi-Fi use (latest day)"},
        {"id": "popbar", "type": "bar", "indicator": "city-population", "level": "town", "width": 2,
         "title": "各行政區人口", "title_en": "Population by district"},
        {"id": "agebar", "type": "bar", "indicator": "city-ageing", "level": "town", "category": True, "width": 2,
         "title": "各行政區年齡結構", "title_en": "Age structure by district"},
        {"id": "share", "type": "pie", "indicator": "city-population", "level": "town", "width": 2,
         "title": "各行政區人口占比", "title_en": "Each district's share of the population"},
        {"id": "aged", "type": "gauge", "indicator": "city-ageing", "width": 2, "target": 20.0, "max": 30.0,
         "title": "老年人口比例與超高齡社會門檻（20%）",
         "title_en": "Share aged 65+ against the super-aged threshold (20%)"},
        {"id": "map", "type": "map", "indicator": "city-density", "level": "area", "width": 2,
         "title": "各村里人口密度", "title_en": "Population density by village"},
        {"id": "trend", "type": "line", "indicator": "city-population", "width": 1,
         "title": "人口趨勢", "title_en": "Population over time"},
        {"id": "growth", "type": "list", "indicator": "city-growth", "level": "area", "limit": 8, "width": 1,
         "title": "人口成長最多的村里", "title_en": "Fastest-growing villages"},
        {"id": "villages", "type": "table", "level": "area", "width": 3,
         "indicators": ["city-population", "city-households", "city-ageing", "city-density"],
         "title": "村里一覽", "title_en": "Villages"},
        {"id": "about", "type": "text", "width": 1, "title": "資料說明", "title_en": "About the data",
         "text": "示範城市各村里的戶籍人口（113 年 12 月與 114 年 12 月），連結到村里界。"
                 "點選長條、地圖上的村里或表格的列即可篩選。",
         "text_en": "Household-registration population of the demo city's villages (Dec 2024 and Dec 2025), joined "
                    "to the village boundaries. Click a bar, a village on the map or a row to filter."},
    ],
}


def village_rows(table_name: str) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT village_code, district, name, {', '.join(COLUMNS)} FROM layerdata.{table_name} "  # noqa: S608
                    "ORDER BY village_code")
        return cur.fetchall()


def write_csv(rows: list[tuple], path: Path, seed: int = 2026) -> None:
    """Both periods in one file, in the household registry's manner (ROC year-months)."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["village_code", "county", "town", "village", "statistic_yyymm", *COLUMNS])
        for code, district, name, pop, households, young, _mid, old in rows:
            growth = rng.uniform(-0.02, 0.035)
            then_pop = round(pop / (1 + growth))
            then_old = min(round(old / (1 + growth + rng.uniform(0.01, 0.05))), then_pop)
            then_young = min(round(young / (1 + growth - rng.uniform(0.0, 0.03))), then_pop - then_old)
            then_hh = round(households / (1 + growth + 0.005))
            writer.writerow([code, COUNTY, district, name, PERIODS[0], then_pop, then_hh, then_young,
                             then_pop - then_young - then_old, then_old])
            writer.writerow([code, COUNTY, district, name, PERIODS[1], pop, households, young, pop - young - old,
                             old])


def make(log=print) -> Dashboard:
    villages = Layer.objects.filter(slug="villages").first()
    if villages is None:
        raise LookupError("the demo city's villages are not loaded: run make_demo_city first")
    for old in Layer.objects.filter(slug=TABLE):
        catalog.drop_layer_data(old)
        old.delete()
    agency, _ = Group.objects.get_or_create(name=AGENCY)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "village-population.csv"
        write_csv(village_rows(villages.table_name), path)
        job = run_job(importing.create(path, [path.name], {
            "visibility": "public", "owner_agency": agency.pk, "slug": TABLE, "code_column": "village_code",
            "level": "village", "title": "示範市村里戶籍人口（113–114 年）"}).pk, work=importing._import)
    if job.status != Job.Status.SUCCEEDED:
        raise RuntimeError(f"the demo statistics did not import: {job.errors}")
    table = Layer.objects.get(slug=TABLE)
    table.title_en = "Demo city village population (2024–2025)"
    table.save(update_fields=["title_en"])
    record = joins.join(table.stat_table, villages, key="code", boundary_column="village_code")
    log(f"  statistics: {record.matched_rows:,} of {record.rows:,} rows joined to the villages")
    with transaction.atomic():
        for slug, zh, en, formula, num, den, decimals, base in INDICATORS:
            Indicator.objects.filter(slug=slug).delete()
            Indicator.objects.create(slug=slug, title_zh=zh, title_en=en, join=record, formula=formula,
                                     numerator=num, denominator=den, decimals=decimals, base_period=base)
        Dashboard.objects.filter(slug="city").delete()
        board = Dashboard.objects.create(
            slug="city", title_zh="市政儀表板", title_en="City dashboard", owner_agency=agency,
            visibility=Layer.Visibility.PUBLIC, refresh_seconds=60, spec=SPEC,
            description="示範市的人口、戶數與高齡化，依行政區與村里；空氣品質感測器與免費 Wi-Fi 的即時使用。",
            description_en="The demo city's population, households and ageing by district and village; the air-quality "
                           "sensors and the free Wi-Fi, live.")
    log(f"  dashboard: /dashboards/{board.slug}/ ({len(SPEC['widgets'])} widgets)")
    return board
