"""Geocoding speed and match rate: a 10,000-row CSV of addresses located by the geocoder (parse, normalise, match
on the address index of the demo city's address points) against a plain SQL ILIKE lookup of each typed address
in the address layer's text column, the baseline. Prints addresses/s, match rates, the ratio, machine and date.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/geocoding.py --size 1

The CSV mixes how people type addresses: as stored (30 %), with 桃園市 in front and without the village (20 %),
with full-width digits (15 %), with Chinese numerals for the section and number (15 %), door numbers the layer
does not have (10 %) and addresses of nowhere (10 %). Not part of the test suite.
"""

import argparse
import csv
import random
import time

import common


def arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=1.0, help="demo city size (default 1)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--baseline-rows", type=int, default=10_000, help="rows the ILIKE baseline looks up")
    return parser


ARGS = common.start(__doc__, arguments())

from django.db import connection  # noqa: E402

from layers.geocoding import index  # noqa: E402
from layers.geocoding.geocoder import Geocoder  # noqa: E402
from layers.models import Layer  # noqa: E402

WIDE = str.maketrans("0123456789", "０１２３４５６７８９")
NUMERALS = "〇一二三四五六七八九"


def chinese(n: int) -> str:
    """21 → 二十一 (numbers below 1,000, as people write them)."""
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    text = (NUMERALS[hundreds] + "百" if hundreds else "") + (
        ("" if tens == 1 and not hundreds else NUMERALS[tens]) + "十" if tens else ("零" if hundreds and ones else ""))
    return text + (NUMERALS[ones] if ones else "") if n else "〇"


def typed_forms(rows: int) -> list[tuple[str, str]]:
    """(form, typed address) for `rows` rows, drawn with a fixed seed from the address points."""
    rng = random.Random(common.SEED)
    with connection.cursor() as cur:
        cur.execute("SELECT district, village, road, coalesce(lane, ''), number, address FROM layerdata.address_points")
        points = cur.fetchall()
    out = []
    for _ in range(rows):
        district, village, road, lane, number, stored = rng.choice(points)
        draw = rng.random()
        if draw < 0.30:
            out.append(("stored", stored))
        elif draw < 0.50:
            out.append(("city, no village", f"桃園市{district}{road}{lane}{number}"))
        elif draw < 0.65:
            out.append(("full-width", f"{district}{village}{road}{lane}{number}".translate(WIDE)))
        elif draw < 0.80:
            n = int(number.split("號")[0].split("之")[0])
            road_cn = road[:-2] + chinese(int(road[-2])) + "段" if road.endswith("段") and road[-2].isdigit() else road
            out.append(("Chinese numerals", f"{district}{road_cn}{lane}{chinese(n)}號"))
        elif draw < 0.90:
            out.append(("missing number", f"{district}{road}{lane}{rng.randint(2000, 3000)}號"))
        else:
            out.append(("nowhere", f"火星市{rng.randint(1, 99)}路{rng.randint(1, 500)}號"))
    return out


def main():
    common.demo_city(ARGS.size)
    if not Layer.objects.filter(slug="address-points").exists():  # a stack loaded before the layer existed
        (common.stack_dir() / "demo-city.json").unlink(missing_ok=True)
        common.demo_city(ARGS.size)
    layer = Layer.objects.get(slug="address-points")
    started = time.perf_counter()
    count = index.build(layer)
    print(f"address index: {count:,} points built in {time.perf_counter() - started:.2f} s")

    rows = typed_forms(ARGS.rows)
    path = common.stack_dir() / f"addresses-{ARGS.rows}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("form", "地址"), *rows])
    with path.open(encoding="utf-8") as f:
        texts = [r["地址"] for r in csv.DictReader(f)]

    started = time.perf_counter()
    found = Geocoder([layer]).geocode_many(texts)
    ours = time.perf_counter() - started

    levels = {}
    for m in found:
        key = m.level if m else "none"
        levels[key] = levels.get(key, 0) + 1
    by_form = {}
    for (form, _t), m in zip(rows, found, strict=True):
        total, ok = by_form.get(form, (0, 0))
        by_form[form] = (total + 1, ok + (m is not None and m.level in ("exact", "nearest_number")))
    ours_rate = len(texts) / ours
    located = sum(1 for m in found if m and m.level in ("exact", "nearest_number"))
    print(f"geocoder: {len(texts):,} addresses in {ours:.2f} s = {ours_rate:,.0f} addresses/s; "
          f"door-number match rate {located / len(texts):.1%} (levels: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(levels.items())) + ")")
    print("  by form: " + "; ".join(f"{form} {ok}/{total}" for form, (total, ok) in by_form.items()), flush=True)
    baseline_rows = texts[:ARGS.baseline_rows]
    started = time.perf_counter()
    hits = 0
    with connection.cursor() as cur:
        for text in baseline_rows:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            cur.execute("SELECT fid FROM layerdata.address_points WHERE address ILIKE %s LIMIT 1", [pattern])
            hits += cur.fetchone() is not None
    baseline = time.perf_counter() - started

    base_rate = len(baseline_rows) / baseline
    print(f"baseline (SQL ILIKE per address): {len(baseline_rows):,} addresses in {baseline:.2f} s = "
          f"{base_rate:,.0f} addresses/s; match rate {hits / len(baseline_rows):.1%}")
    print(f"ratio: geocoder {ours_rate / base_rate:.1f}× the addresses/s of the ILIKE lookup; "
          f"match rate {located / len(texts):.1%} vs {hits / len(baseline_rows):.1%}")


if __name__ == "__main__":
    main()
