"""Matching addresses against the address index, with the level of the match and a score.

Levels, best first: `exact` (the door number itself), `nearest_number` (the same road, lane and alley; the
nearest number on the same side — odd or even — when the typed one is not in the layer), `road`, `village`,
`district`. The point for a road, village or district is the one of its address points nearest their centre,
so it always lies on the road or in the village.
"""

from dataclasses import asdict, dataclass

from django.db.models import Q

from . import address
from .models import AddressPoint

LEVELS = ("exact", "nearest_number", "road", "village", "district")
FIELDS = ("layer_id", "fid", "city", "district", "village", "road", "section", "lane", "alley", "number", "sub",
          "label", "x", "y", "lon", "lat")


@dataclass
class Match:
    level: str
    score: float
    label: str  # the address of the point found, in the normal form
    lon: float
    lat: float
    x: float
    y: float
    layer_id: int
    fid: int | None
    query: str  # the input, as parsed back (what was understood)

    def as_dict(self) -> dict:
        return asdict(self)


def _agrees(row: dict, wanted: address.Address) -> bool:
    """Whether the row lies in the city and district asked for (a part the layer does not hold agrees)."""
    return all(not want or not row[part] or row[part] == want
               for part, want in (("city", wanted.city), ("district", wanted.district)))


def _central(rows: list[dict]) -> dict:
    cx = sum(r["x"] for r in rows) / len(rows)
    cy = sum(r["y"] for r in rows) / len(rows)
    return min(rows, key=lambda r: (r["x"] - cx) ** 2 + (r["y"] - cy) ** 2)


class Geocoder:
    """One matcher over the address index of the given layers; rows are read per road and kept for the batch."""

    def __init__(self, layers):
        self.layer_ids = [layer.pk for layer in layers]
        self._roads: dict[str, list[dict]] = {}
        self._areas: dict[tuple[str, str], list[dict]] = {}

    def __bool__(self):
        return bool(self.layer_ids)

    def preload(self, parsed: list[address.Address]) -> None:
        """Read the rows of every road the batch names, in one query."""
        names = {p.road for p in parsed if p.road and p.road not in self._roads}
        if not names:
            return
        for name in names:
            self._roads[name] = []
        for row in AddressPoint.objects.filter(layer_id__in=self.layer_ids, road__in=names).values(*FIELDS):
            self._roads[row["road"]].append(row)

    def _road_rows(self, name: str) -> list[dict]:
        if name not in self._roads:
            self.preload([address.Address(road=name)])
        return self._roads[name]

    def _area_rows(self, part: str, value: str) -> list[dict]:
        key = (part, value)
        if key not in self._areas:
            self._areas[key] = list(AddressPoint.objects.filter(
                Q(layer_id__in=self.layer_ids), **{part: value}).values(*FIELDS)[:20000])
        return self._areas[key]

    def geocode(self, text: str) -> Match | None:
        wanted = address.parse(text)
        if wanted.is_empty:
            return None
        found = self._on_road(wanted) or self._in_area(wanted)
        if found is None:
            return None
        level, score, row = found
        return Match(level, round(score, 2), row["label"], row["lon"], row["lat"], row["x"], row["y"],
                     row["layer_id"], row["fid"] if level in ("exact", "nearest_number") else None, wanted.label())

    def geocode_many(self, texts: list[str]) -> list[Match | None]:
        self.preload([address.parse(t) for t in texts])
        return [self.geocode(t) for t in texts]

    def _on_road(self, wanted: address.Address):
        if not wanted.road:
            return None
        rows = [r for r in self._road_rows(wanted.road) if _agrees(r, wanted)]
        on_section = [r for r in rows if r["section"] == wanted.section]
        penalty = 0.0
        if not on_section and rows:  # 復興路31號 for what the layer holds as 復興路三段31號
            on_section, penalty = rows, 0.1
        if not on_section:
            return None
        same_lane = [r for r in on_section if r["lane"] == wanted.lane and r["alley"] == wanted.alley]
        numbered = [r for r in same_lane if r["number"] is not None]
        if wanted.number is not None and numbered:
            exact = [r for r in numbered if r["number"] == wanted.number and r["sub"] == wanted.sub]
            if exact:
                return "exact", 1.0 - penalty, exact[0]
            nearest = min(numbered, key=lambda r: ((r["number"] - wanted.number) % 2 != 0,
                                                    abs(r["number"] - wanted.number), r["sub"]))
            gap = abs(nearest["number"] - wanted.number) + (0.5 if nearest["sub"] != wanted.sub else 0)
            other_side = (nearest["number"] - wanted.number) % 2 != 0
            score = 0.9 - min(0.3, 0.01 * gap) - (0.1 if other_side else 0) - penalty
            return "nearest_number", score, nearest
        return "road", 0.6 - penalty, _central(same_lane or on_section)

    def _in_area(self, wanted: address.Address):
        if wanted.village:
            rows = [r for r in self._area_rows("village", wanted.village) if _agrees(r, wanted)]
            if rows:
                return "village", 0.4, _central(rows)
        if wanted.district:
            rows = [r for r in self._area_rows("district", wanted.district) if _agrees(r, wanted)]
            if rows:
                return "district", 0.25, _central(rows)
        return None
