"""A year of synthetic 1999 hotline cases for the demo city, with planted patterns whose answers are known.

52 weeks from Monday 2025-12-01 (Asia/Taipei). Background cases fall on the city's door numbers (address points),
so every case has a real address of the demo city; their categories follow the season (flooded roads and fallen
trees in the typhoon months). On top of them, five patterns are planted, each in a disk around a point given as a
fraction of the city's extent (PLANTED_PATTERNS), so that they sit in the same part of the city at every size:

- new: no cases at all until the last 4 weeks, then many (a new hot spot);
- intensifying: a hot spot all year with more cases every 3 weeks (an intensifying hot spot);
- diminishing: the reverse: a hot spot all year with fewer cases every 3 weeks;
- sporadic: 12 cases in some weeks, none in the others (on again, off again), on in the last week;
- cold: an area where the background is cut to a tenth (a cold spot).

The counts of the planted patterns are fixed (not drawn): PATTERN_WEEKLY_COUNTS says how many cases each adds in
each week, whatever the city's size; the background grows with the size. Response times are slower in one
district (SLOW_DISTRICT) by SLOW_FACTOR. Everything is drawn from the generator it is given: deterministic.
"""

from datetime import datetime, timedelta

import numpy as np
import shapely

from .city import TAIPEI, LayerTable

START = datetime(2025, 12, 1, tzinfo=TAIPEI)  # a Monday
WEEKS = 52
END = START + timedelta(weeks=WEEKS)  # the moment the data was "exported": open cases are open then
BACKGROUND_PER_WEEK = 160  # at size 1

# code → (zh-Hant label, English label, share of the background outside / inside the typhoon months, hours to
# dispatch (median), days to close after dispatch (median))
CATEGORIES = {
    "pothole": ("道路坑洞", "Pothole", 0.24, 0.18, 10.0, 2.0),
    "fallen_tree": ("路樹倒塌", "Fallen tree", 0.04, 0.16, 2.0, 1.0),
    "streetlight": ("路燈故障", "Street light out", 0.22, 0.16, 16.0, 3.0),
    "flooding": ("道路積水", "Flooded road", 0.04, 0.18, 1.5, 0.5),
    "signal": ("號誌故障", "Traffic signal fault", 0.08, 0.08, 1.0, 0.3),
    "parking": ("違規停車", "Illegal parking", 0.20, 0.14, 3.0, 0.2),
    "noise": ("噪音舉發", "Noise", 0.10, 0.06, 4.0, 0.3),
    "litter": ("髒亂及汙染", "Litter and pollution", 0.08, 0.04, 12.0, 2.5),
}
TYPHOON_MONTHS = (7, 8, 9)
STATUSES = {"received": ("待派工", "Received"), "dispatched": ("處理中", "In progress"),
            "closed": ("已結案", "Closed")}

# Where each pattern is: its centre as (fx, fy) fractions of the city's extent (west→east, south→north, of the
# address points' bounds), a radius in metres at size 1 (scaled by √size, at least 150 m) and the category of its
# cases. planted_patterns(city) gives the centres in EPSG:3826 for a generated city.
PLANTED_PATTERNS = {
    "new": {"at": (0.22, 0.75), "radius_m": 300, "category": "pothole"},
    "intensifying": {"at": (0.75, 0.72), "radius_m": 300, "category": "streetlight"},
    "diminishing": {"at": (0.25, 0.25), "radius_m": 300, "category": "flooding"},
    "sporadic": {"at": (0.78, 0.25), "radius_m": 300, "category": "noise"},
    "cold": {"at": (0.5, 0.5), "radius_m": 700, "category": None},
}
# Esri's definitions decide the counts: an intensifying or diminishing hot spot is hot in at least 90 % of the
# steps including the last, so neither may start (end) near zero — the pattern's own peak weeks set the cube's
# variance, and 1 case a week beside 18 is never significant (the first version, 1 … 18, came out a consecutive
# hot spot); a sporadic hot spot is hot in the final step, so its last "on" week is the last week.
SPORADIC_WEEKS = (2, 3, 9, 15, 16, 22, 29, 30, 37, 43, 44, 51)
PATTERN_WEEKLY_COUNTS = {
    "new": [0] * (WEEKS - 4) + [10, 12, 14, 16],
    "intensifying": [10 + w // 3 for w in range(WEEKS)],  # 10 … 27
    "diminishing": [27 - w // 3 for w in range(WEEKS)],  # 27 … 10
    "sporadic": [12 if w in SPORADIC_WEEKS else 0 for w in range(WEEKS)],
}
COLD_BACKGROUND_SHARE = 0.1  # the cold disk keeps a tenth of the background it would have
SLOW_DISTRICT = "中山區"  # every demo city has it (names.DISTRICTS[1])
SLOW_FACTOR = 3.0


def radius(pattern: str, size: float) -> float:
    return max(150.0, PLANTED_PATTERNS[pattern]["radius_m"] * float(np.sqrt(size)))


def planted_patterns(address_points: LayerTable, size: float) -> dict[str, dict]:
    """Each pattern's centre (x, y in EPSG:3826), radius (m), category and weekly counts, for this city."""
    minx, miny, maxx, maxy = shapely.total_bounds(address_points.geoms)
    out = {}
    for name, spec in PLANTED_PATTERNS.items():
        fx, fy = spec["at"]
        out[name] = {"x": round(minx + fx * (maxx - minx), 1), "y": round(miny + fy * (maxy - miny), 1),
                     "radius_m": radius(name, size), "category": spec["category"],
                     "weekly_counts": PATTERN_WEEKLY_COUNTS.get(name)}
    return out


def hotline_cases(rng: np.random.Generator, address_points: LayerTable, size: float) -> LayerTable:
    pts = address_points.geoms
    xy = shapely.get_coordinates(pts)
    addresses = np.asarray(address_points.columns["address"][1], dtype=object)
    districts = np.asarray(address_points.columns["district"][1], dtype=object)
    planted = planted_patterns(address_points, size)

    # background: door numbers drawn evenly, except in the cold disk
    cold = planted["cold"]
    in_cold = np.hypot(xy[:, 0] - cold["x"], xy[:, 1] - cold["y"]) <= cold["radius_m"]
    weight = np.where(in_cold, COLD_BACKGROUND_SHARE, 1.0)
    n_bg = int(round(BACKGROUND_PER_WEEK * size * WEEKS))
    where = [rng.choice(len(xy), n_bg, p=weight / weight.sum())]
    seconds = [rng.uniform(0, WEEKS * 7 * 86400, n_bg)]
    codes = list(CATEGORIES)
    month = np.array([(START + timedelta(seconds=float(s))).month for s in seconds[0]])
    typhoon = np.isin(month, TYPHOON_MONTHS)
    shares = {k: np.array([c[2 + k] for c in CATEGORIES.values()]) for k in (0, 1)}
    category = np.where(typhoon, rng.choice(len(codes), n_bg, p=shares[1] / shares[1].sum()),
                        rng.choice(len(codes), n_bg, p=shares[0] / shares[0].sum()))
    categories = [category]

    # the planted hot spots: fixed counts per week, on the door numbers of their disk
    for name, weekly in PATTERN_WEEKLY_COUNTS.items():
        spot = planted[name]
        d = np.hypot(xy[:, 0] - spot["x"], xy[:, 1] - spot["y"])
        inside = np.flatnonzero(d <= spot["radius_m"])
        if len(inside) < 5:
            inside = np.argsort(d)[:5]
        counts = np.asarray(weekly)
        n = int(counts.sum())
        week = np.repeat(np.arange(WEEKS), counts)
        where.append(rng.choice(inside, n))
        seconds.append(week * 7 * 86400 + rng.uniform(0, 7 * 86400, n))
        categories.append(np.full(n, codes.index(spot["category"])))

    where = np.concatenate(where)
    seconds = np.concatenate(seconds)
    category = np.concatenate(categories)
    # daytime is busier: pull 60 % of the times towards 08–20 h of their own day
    day_start = np.floor(seconds / 86400) * 86400
    busy = rng.random(len(seconds)) < 0.6
    seconds = np.where(busy, day_start + rng.uniform(8 * 3600, 20 * 3600, len(seconds)), seconds)
    order = np.argsort(seconds, kind="stable")
    where, seconds, category = where[order], seconds[order], category[order]
    n = len(seconds)

    # lifecycle: hours to dispatch and days to close, per category, slower in SLOW_DISTRICT
    district = districts[where]
    slow = np.where(district == SLOW_DISTRICT, SLOW_FACTOR, 1.0)
    dispatch_median = np.array([c[4] for c in CATEGORIES.values()])[category]
    close_median = np.array([c[5] for c in CATEGORIES.values()])[category]
    to_dispatch = dispatch_median * slow * rng.lognormal(0, 0.6, n) * 3600
    to_close = close_median * slow * rng.lognormal(0, 0.7, n) * 86400
    span = (END - START).total_seconds()
    dispatched = seconds + to_dispatch
    closed = dispatched + to_close
    has_dispatch = dispatched < span
    has_close = closed < span
    status = np.where(has_close, "closed", np.where(has_dispatch, "dispatched", "received"))

    day = (seconds // 86400).astype(int)
    first_of_day = np.r_[0, np.flatnonzero(np.diff(day)) + 1]
    rank = np.arange(n) - np.repeat(first_of_day, np.diff(np.r_[first_of_day, n]))
    moments = [START + timedelta(seconds=float(s)) for s in seconds]
    case_no = [f"DM{m:%Y%m%d}{r + 1:04d}" for m, r in zip(moments, rank, strict=True)]

    def times(offsets, present):
        return [START + timedelta(seconds=round(float(s))) if p else None
                for s, p in zip(offsets, present, strict=True)]

    labels = [v[0] for v in CATEGORIES.values()]
    return LayerTable(
        "hotline_cases", "1999 市民服務案件", "1999 citizen hotline cases", "Point",
        {
            "case_no": ("text", case_no),
            "reported_at": ("timestamptz", [m.replace(microsecond=0) for m in moments]),
            "category": ("text", [codes[c] for c in category]),
            "category_label": ("text", [labels[c] for c in category]),
            "status": ("text", [STATUSES[s][0] for s in status]),
            "dispatched_at": ("timestamptz", times(dispatched, has_dispatch)),
            "closed_at": ("timestamptz", times(closed, has_close)),
            "address": ("text", addresses[where].tolist()),
            "district": ("text", district.tolist()),
            "geocode_level": ("text", ["exact"] * n),
        },
        pts[where],
    )
