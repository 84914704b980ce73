"""A plausible Taiwanese city, generated deterministically from a seed and scaled by a size factor.

Size 1 is ~20k parcels on ~6 km × 6 km; the number of parcels (and most counts) grows linearly with size
(size 50 ≈ 1M parcels). Everything is in EPSG:3826 (TWD97 / TM2 zone 121), around Taoyuan's latitude.
Each layer draws from its own random stream, so changing one layer does not reshuffle the others.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
import shapely

from . import names
from .mesh import ARTERIAL, COLLECTOR, Lattice, build_lattice, road_class
from .terrain import FLOOD_CLASSES, Terrain, build_terrain

SRID = 3826
CITY_CENTRE = (278_000.0, 2_763_000.0)  # TWD97 TM2, near Taoyuan
BLOCKS_AT_SIZE_1 = 1780  # calibrated so that size 1 gives ~20k parcels
TAIPEI = timezone(timedelta(hours=8))

LAND_USES = {
    "commercial": "商業區", "residential": "住宅區", "industrial": "工業區", "agricultural": "農業區",
    "school": "學校用地", "park": "公園用地", "government": "機關用地", "road": "道路用地",
}
PUBLIC_USES = ("school", "park", "government")
# (row-band heights, run lengths) in fine cells when cutting a block into lots
LOT_PATTERNS = {
    "agricultural": ([2], [2, 3, 4]),
    "industrial": ([1, 2], [2, 3]),
    "commercial": ([1], [1, 1, 1, 2]),
    "residential": ([1], [1, 1, 2]),
}
BUILDING_USE = {"commercial": "商業", "residential": "住宅", "industrial": "工業", "agricultural": "農舍",
                "school": "學校", "park": "公共", "government": "公共"}
FACILITY_KINDS = {"school": "學校", "park": "公園", "library": "圖書館", "sports_centre": "運動中心"}


@dataclass
class LayerTable:
    """One table of the city: columns as (PostgreSQL type, values) and, for spatial layers, geometries."""

    name: str
    title_zh: str
    title_en: str
    geometry_type: str | None
    columns: dict[str, tuple[str, list | np.ndarray]]
    geoms: np.ndarray | None = None

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))[1])


@dataclass
class DemoCity:
    seed: int
    size: float
    layers: dict[str, LayerTable] = field(default_factory=dict)
    terrain: Terrain | None = None

    def add(self, layer: LayerTable) -> None:
        self.layers[layer.name] = layer


def generate(seed: int = 2026, size: float = 1.0) -> DemoCity:
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")

    def stream(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, k])

    blocks = max(36, round(BLOCKS_AT_SIZE_1 * size))
    nx = max(6, round(np.sqrt(blocks * 1.15)))
    ny = max(6, round(blocks / nx))
    lat = build_lattice(stream(1), nx, ny, CITY_CENTRE)
    city = DemoCity(seed, size)

    block_centre = (lat.centres[:-1, :-1] + lat.centres[1:, :-1] + lat.centres[1:, 1:] + lat.centres[:-1, 1:]) / 4
    use = _land_use(stream(2), block_centre)
    district_of, village_of, district_names, village_names = _admin_units(stream(3), block_centre)

    parcels, parcel_meta = _parcels(stream(4), lat, use, village_of, village_names, district_of, district_names,
                                    block_centre)
    city.add(parcels)
    buildings, building_village, building_residents = _buildings(stream(5), lat, parcels, parcel_meta,
                                                                 block_centre)
    city.add(buildings)
    city.add(_roads(stream(6), lat))
    city.add(_admin_layer("villages", lat, village_of, village_names, district_of, district_names,
                          building_village, building_residents, stream(7)))
    city.add(_districts(city.layers["villages"]))
    city.add(_address_points(city.layers["roads"], city.layers["villages"]))

    bounds = tuple(shapely.total_bounds(parcels.geoms))
    n_rivers = 2 + int(np.sqrt(size))
    city.terrain = build_terrain(stream(8), bounds, names.RIVERS[:n_rivers])
    city.add(_rivers(city.terrain))
    city.add(_flood_zones(city.terrain))

    facilities = _facilities(stream(9), parcels, parcel_meta, district_names, size)
    city.add(facilities)
    hotspots = _wifi_hotspots(stream(10), parcels, parcel_meta, facilities, size)
    city.add(hotspots)
    city.add(_wifi_usage(stream(11), hotspots))
    sensors = _air_sensors(stream(12), parcels, parcel_meta, size)
    city.add(sensors)
    city.add(_air_readings(stream(13), sensors))
    from .hotline import hotline_cases  # it builds on this module's tables

    city.add(hotline_cases(stream(14), city.layers["address_points"], size))
    return city


# --- land use and administrative units -------------------------------------------------------------------

def _land_use(rng, centre: np.ndarray) -> np.ndarray:
    """Commercial core, residential ring, an industrial sector, farmland at the edge, public blocks sprinkled."""
    nx, ny = centre.shape[:2]
    mid = centre.reshape(-1, 2).mean(axis=0)
    d = centre - mid
    radius = np.hypot(*(centre.reshape(-1, 2).max(axis=0) - mid))
    r = np.hypot(d[..., 0], d[..., 1]) / radius + rng.normal(0, 0.05, (nx, ny))
    angle = np.arctan2(d[..., 1], d[..., 0])
    sector = rng.uniform(-np.pi, np.pi)
    use = np.full((nx, ny), "residential", dtype=object)
    use[r < 0.18] = "commercial"
    in_sector = np.abs(np.angle(np.exp(1j * (angle - sector)))) < 0.5
    use[in_sector & (r > 0.45) & (r < 0.85)] = "industrial"
    use[r > 0.88] = "agricultural"
    pick = rng.random((nx, ny))
    use[(pick < 0.035) & (use != "industrial")] = "school"
    use[(pick >= 0.035) & (pick < 0.075)] = "park"
    use[(pick >= 0.075) & (pick < 0.09) & (r < 0.7)] = "government"
    return use


def _admin_units(rng, centre: np.ndarray):
    """Districts by nearest seed over blocks; villages by nearest seed within each district (~30 blocks)."""
    nx, ny = centre.shape[:2]
    pts = centre.reshape(-1, 2)
    n_districts = int(np.clip(round(3 + 1.5 * np.sqrt(len(pts) / BLOCKS_AT_SIZE_1)), 3, len(names.DISTRICTS)))
    seeds = _spread_points(rng, pts, n_districts)
    district = np.argmin(((pts[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
    village = np.empty(len(pts), dtype=int)
    next_id = 0
    for d in range(n_districts):
        members = np.flatnonzero(district == d)
        n_v = max(1, round(len(members) / 30))
        vseeds = _spread_points(rng, pts[members], n_v)
        local = np.argmin(((pts[members][:, None, :] - vseeds[None]) ** 2).sum(-1), axis=1)
        village[members] = next_id + local
        next_id += n_v
    # renumber villages to drop seeds that won no block
    _, village = np.unique(village, return_inverse=True)
    village_names = names.unique_names(rng, village.max() + 1, "里")
    return district.reshape(nx, ny), village.reshape(nx, ny), names.DISTRICTS[:n_districts], village_names


def _spread_points(rng, pts: np.ndarray, k: int) -> np.ndarray:
    """k of pts far apart from each other (farthest-point sampling from a random start)."""
    chosen = [int(rng.integers(len(pts)))]
    dist = ((pts - pts[chosen[0]]) ** 2).sum(-1)
    for _ in range(k - 1):
        nxt = int(np.argmax(dist * rng.uniform(0.7, 1.0, len(pts))))
        chosen.append(nxt)
        dist = np.minimum(dist, ((pts - pts[nxt]) ** 2).sum(-1))
    return pts[chosen]


def _block_of_cell(a: int, b: int, nx: int, ny: int) -> tuple[int, int]:
    """The block a doubled-lattice cell belongs to (roads go with the block to their upper right)."""
    return min(a // 2, nx - 1), min(b // 2, ny - 1)


# --- parcels and buildings ---------------------------------------------------------------------------------

def _parcels(rng, lat: Lattice, use, village_of, village_names, district_of, district_names, block_centre):
    spans, kinds, blocks = [], [], []
    for a in range(2 * lat.nx + 1):
        for b in range(2 * lat.ny + 1):
            block = _block_of_cell(a, b, lat.nx, lat.ny)
            span = lat.cell_span(a, b)
            if a % 2 and b % 2:
                lots = _cut_block(rng, span, use[block])
                spans += lots
                kinds += [use[block]] * len(lots)
                blocks += [block] * len(lots)
            else:
                spans.append(span)
                kinds.append("road")
                blocks.append(block)
    spans = np.array(spans)
    blocks = np.array(blocks)
    kinds = np.array(kinds, dtype=object)
    geoms = lat.polygons(spans)
    n = len(geoms)

    village = village_of[blocks[:, 0], blocks[:, 1]]
    district = district_of[blocks[:, 0], blocks[:, 1]]
    mid = block_centre.reshape(-1, 2).mean(axis=0)
    radius = np.hypot(*(block_centre.reshape(-1, 2).max(axis=0) - mid))
    centrality = 1 - np.clip(np.hypot(*(block_centre[blocks[:, 0], blocks[:, 1]] - mid).T) / radius, 0, 1)
    base_value = {"commercial": 180_000, "residential": 85_000, "industrial": 32_000, "agricultural": 6_000,
                  "school": 40_000, "park": 40_000, "government": 60_000, "road": 15_000}
    value = np.array([base_value[u] for u in kinds]) * (0.6 + 1.2 * centrality ** 1.5) * rng.uniform(0.85, 1.15, n)

    # 地號: a mother number per block within the village's section (地段), a child number per lot.
    parcel_no, section = [], []
    block_counter: dict[tuple[int, int], int] = {}
    child_counter: dict[tuple[int, int], int] = {}
    mother_next: dict[int, int] = {}
    for block, v in zip(map(tuple, blocks), village, strict=True):
        if block not in block_counter:
            mother_next[v] = mother_next.get(v, 0) + 1
            block_counter[block] = mother_next[v]
        child_counter[block] = child_counter.get(block, 0) + 1
        parcel_no.append(f"{block_counter[block]:04d}-{child_counter[block]:04d}")
        section.append(village_names[v][:-1] + "段")

    owner = np.where(np.isin(kinds, ["road", *PUBLIC_USES]),
                     np.where(rng.random(n) < 0.7, "市有", "國有"),
                     np.where(rng.random(n) < 0.93, "私有", np.where(rng.random(n) < 0.5, "市有", "國有")))
    layer = LayerTable(
        "parcels", "地籍宗地", "Land parcels", "Polygon",
        {
            "parcel_id": ("integer", np.arange(1, n + 1)),
            "district": ("text", [district_names[d] for d in district]),
            "village": ("text", [village_names[v] for v in village]),
            "section": ("text", section),
            "parcel_no": ("text", parcel_no),
            "land_use": ("text", [LAND_USES[u] for u in kinds]),
            "land_use_code": ("text", list(kinds)),
            "owner_type": ("text", list(owner)),
            "area_m2": ("double precision", np.round(shapely.area(geoms), 2)),
            "land_value": ("integer", np.round(value, -2).astype(int)),
        },
        geoms,
    )
    meta = {"kinds": kinds, "spans": spans, "village": village, "district": district, "centrality": centrality,
            "block": blocks}
    return layer, meta


def _cut_block(rng, span, use) -> list[tuple[int, int, int, int]]:
    i0, i1, j0, j1 = span
    if use in PUBLIC_USES:
        if i1 - i0 >= 4 and rng.random() < 0.4:
            mid = i0 + (i1 - i0) // 2
            return [(i0, mid, j0, j1), (mid, i1, j0, j1)]
        return [span]
    bands, runs = LOT_PATTERNS[use]
    draws = iter(rng.random(2 * (i1 - i0 + 1) * (j1 - j0 + 1)))
    lots = []
    j = j0
    while j < j1:
        h = min(bands[int(next(draws) * len(bands))], j1 - j)
        i = i0
        while i < i1:
            w = min(runs[int(next(draws) * len(runs))], i1 - i)
            lots.append((i, i + w, j, j + h))
            i += w
        j += h
    return lots


def _buildings(rng, lat: Lattice, parcels: LayerTable, meta, block_centre):
    kinds = meta["kinds"]
    n = len(kinds)
    chance = {"commercial": 0.96, "residential": 0.9, "industrial": 0.8, "agricultural": 0.15, "school": 0.9,
              "park": 0.05, "government": 0.9, "road": 0.0}
    has = rng.random(n) < np.array([chance[u] for u in kinds])
    idx = np.flatnonzero(has)
    spans = meta["spans"][idx]
    quads = np.stack([lat.fine[spans[:, 0], spans[:, 2]], lat.fine[spans[:, 1], spans[:, 2]],
                      lat.fine[spans[:, 1], spans[:, 3]], lat.fine[spans[:, 0], spans[:, 3]]], axis=1)
    centre = quads.mean(axis=1, keepdims=True)
    scale = rng.uniform(0.55, 0.8, (len(idx), 1, 1))
    footprints = shapely.polygons(centre + (quads - centre) * scale)

    cent = meta["centrality"][idx]
    bkinds = kinds[idx]
    lo = np.select([bkinds == "commercial", bkinds == "residential", bkinds == "industrial",
                    bkinds == "agricultural"], [4, 2, 1, 1], 2)
    hi = np.select([bkinds == "commercial", bkinds == "residential", bkinds == "industrial",
                    bkinds == "agricultural"], [6 + 16 * cent, 4 + 8 * cent, 3, 2], 5)
    floors = np.maximum(1, np.round(lo + (hi - lo) * rng.random(len(idx)) ** 1.6)).astype(int)
    height = np.round(floors * 3.3 + rng.uniform(0.3, 1.5, len(idx)), 1)
    footprint_area = shapely.area(footprints)
    floor_area = footprint_area * floors
    residential_share = np.select([bkinds == "residential", bkinds == "commercial"], [1.0, 0.2], 0.0)
    # ~70 m² of gross floor per resident (common areas included), 80 % of homes occupied
    residents = floor_area * residential_share / 70.0 * 0.8
    year = rng.integers(1965, 2025, len(idx)) - np.round(cent * 10).astype(int)

    layer = LayerTable(
        "buildings", "建物", "Buildings", "Polygon",
        {
            "building_id": ("integer", np.arange(1, len(idx) + 1)),
            "parcel_id": ("integer", idx + 1),
            "use": ("text", [BUILDING_USE[u] for u in bkinds]),
            "floors": ("integer", floors),
            "height_m": ("double precision", height),
            "footprint_m2": ("double precision", np.round(footprint_area, 1)),
            "floor_area_m2": ("double precision", np.round(floor_area, 1)),
            "year_built": ("integer", year),
        },
        footprints,
    )
    return layer, meta["village"][idx], residents


# --- roads, villages, districts ---------------------------------------------------------------------------

def _roads(rng, lat: Lattice) -> LayerTable:
    """Centre-line segments between intersections, with names, classes, widths and node ids for routing."""
    nx, ny = lat.nx, lat.ny
    lines = [("ns", i, lat.road_width_x[i]) for i in range(nx + 1)]
    lines += [("ew", j, lat.road_width_y[j]) for j in range(ny + 1)]
    arterials = list(rng.permutation(names.ARTERIALS))
    collectors = names.unique_names(rng, len(lines), "路", reserved=set(arterials))
    locals_ = names.unique_names(rng, len(lines), "街")
    rows = {k: [] for k in ("road_id", "name", "road_name", "road_class", "class_zh", "width_m", "lanes",
                            "speed_kmh", "from_node", "to_node", "length_m")}
    geoms = []
    for direction, idx, width in lines:
        cls = road_class(idx)
        if cls is ARTERIAL and arterials:
            base = arterials.pop()
        elif cls in (ARTERIAL, COLLECTOR):
            base = collectors.pop()
        else:
            base = locals_.pop()
        nodes = [(idx, j) for j in range(ny + 1)] if direction == "ns" else [(i, idx) for i in range(nx + 1)]
        along = 0.0
        long_road = cls in (ARTERIAL, COLLECTOR) and len(nodes) > 20
        for (a0, b0), (a1, b1) in zip(nodes[:-1], nodes[1:], strict=True):
            seg = shapely.LineString([lat.centres[a0, b0], lat.centres[a1, b1]])
            section = 1 + int(along // 2000) if long_road else 0
            along += seg.length
            rows["road_id"].append(len(geoms) + 1)
            rows["name"].append(names.section_name(base, section) if section else base)
            rows["road_name"].append(base)
            rows["road_class"].append(cls[0])
            rows["class_zh"].append(cls[1])
            rows["width_m"].append(float(width))
            rows["lanes"].append(cls[3])
            rows["speed_kmh"].append(cls[4])
            rows["from_node"].append(a0 * (ny + 1) + b0)
            rows["to_node"].append(a1 * (ny + 1) + b1)
            rows["length_m"].append(round(seg.length, 2))
            geoms.append(seg)
    types = {"road_id": "integer", "width_m": "double precision", "lanes": "integer", "speed_kmh": "integer",
             "from_node": "integer", "to_node": "integer", "length_m": "double precision"}
    return LayerTable("roads", "道路中心線", "Road centre lines", "LineString",
                      {k: (types.get(k, "text"), v) for k, v in rows.items()}, np.array(geoms))


def _admin_layer(name, lat: Lattice, village_of, village_names, district_of, district_names,
                 building_village, residents, rng) -> LayerTable:
    """Villages (里) as the union of their cells, with population derived from the homes built in them."""
    n_v = len(village_names)
    cells: list[list] = [[] for _ in range(n_v)]
    for a in range(2 * lat.nx + 1):
        for b in range(2 * lat.ny + 1):
            cells[village_of[_block_of_cell(a, b, lat.nx, lat.ny)]].append(lat.cell_quad(a, b))
    geoms = np.array([shapely.coverage_union_all(shapely.polygons(np.array(c))) for c in cells])
    district = np.zeros(n_v, dtype=int)
    district[village_of.ravel()] = district_of.ravel()
    pop = np.bincount(building_village, weights=residents, minlength=n_v)
    pop = np.round(pop * rng.uniform(0.9, 1.1, n_v)).astype(int)
    young = np.round(pop * rng.uniform(0.10, 0.16, n_v)).astype(int)
    old = np.round(pop * rng.uniform(0.12, 0.22, n_v)).astype(int)
    male = np.round(pop * rng.uniform(0.48, 0.51, n_v)).astype(int)
    households = np.round(pop / rng.uniform(2.5, 2.9, n_v)).astype(int)
    area = shapely.area(geoms)
    return LayerTable(
        name, "村里界與人口", "Villages and population", "MultiPolygon",
        {
            "village_id": ("integer", np.arange(1, n_v + 1)),
            "village_code": ("text", [f"6800{d + 1:02d}00-{v + 1:03d}" for v, d in enumerate(district)]),
            "name": ("text", village_names),
            "district": ("text", [district_names[d] for d in district]),
            "population": ("integer", pop),
            "households": ("integer", households),
            "male": ("integer", male),
            "female": ("integer", pop - male),
            "age_0_14": ("integer", young),
            "age_15_64": ("integer", pop - young - old),
            "age_65_plus": ("integer", old),
            "area_km2": ("double precision", np.round(area / 1e6, 4)),
            "density_per_km2": ("double precision", np.round(pop / (area / 1e6), 1)),
        },
        _as_multipolygons(geoms),
    )


ADDRESS_SPACING_M = 40.0  # between door numbers along a road, on each side
ADDRESS_SETBACK_M = 10.0  # from the centre line
LANE_EVERY = 10  # every 10th even number opens a lane (巷) of LANE_HOUSES numbers
LANE_HOUSES = 4


def _address_points(roads: LayerTable, villages: LayerTable) -> LayerTable:
    """Door numbers (門牌) along every named road: odd numbers on the left, even on the right, counting from the
    road's start; now and then a 之1 number beside one, and a lane (巷) off the even side."""
    names = roads.columns["name"][1]
    lines: dict[str, list] = {}
    for name, seg in zip(names, roads.geoms, strict=True):
        lines.setdefault(name, []).append(seg)
    tree = shapely.STRtree(villages.geoms)
    rows = {k: [] for k in ("district", "village", "road", "lane", "number", "address")}
    points = []

    def add(xy, road, lane, number):
        rows["road"].append(road)
        rows["lane"].append(f"{lane}巷" if lane else None)
        rows["number"].append(number)
        points.append(shapely.Point(xy))

    for name, segments in lines.items():
        line = shapely.line_merge(shapely.multilinestrings(segments))
        if line.geom_type != "LineString":
            continue
        for k, d in enumerate(np.arange(ADDRESS_SPACING_M / 2, line.length, ADDRESS_SPACING_M)):
            a, b = line.interpolate(max(d - 1, 0)), line.interpolate(min(d + 1, line.length))
            direction = np.array([b.x - a.x, b.y - a.y])
            direction /= np.hypot(*direction)
            left = np.array([-direction[1], direction[0]])
            at = np.array(line.interpolate(d).coords[0])
            odd, even = 2 * k + 1, 2 * k + 2
            add(at + left * ADDRESS_SETBACK_M, name, None, f"{odd}號")
            add(at - left * ADDRESS_SETBACK_M, name, None, f"{even}號")
            if k % 9 == 4:
                add(at + left * ADDRESS_SETBACK_M + direction * 8, name, None, f"{odd}之1號")
            if k % LANE_EVERY == LANE_EVERY - 1:
                for h in range(1, LANE_HOUSES + 1):
                    side = 1 if h % 2 else -1
                    add(at - left * (ADDRESS_SETBACK_M + 15 * h) + direction * 8 * side, name, even, f"{h}號")
    geoms = np.array(points)
    found = tree.query(geoms, predicate="within")
    village_of = np.full(len(geoms), -1)
    village_of[found[0]] = found[1]
    keep = village_of >= 0
    village_names = villages.columns["name"][1]
    district_names = villages.columns["district"][1]
    rows["village"] = [village_names[v] for v in village_of[keep]]
    rows["district"] = [district_names[v] for v in village_of[keep]]
    for key in ("road", "lane", "number"):
        rows[key] = [v for v, k in zip(rows[key], keep, strict=True) if k]
    rows["address"] = [f"{d}{v}{r}{lane or ''}{n}" for d, v, r, lane, n in zip(
        rows["district"], rows["village"], rows["road"], rows["lane"], rows["number"], strict=True)]
    columns = {"address_id": ("integer", np.arange(1, int(keep.sum()) + 1)),
               **{k: ("text", rows[k]) for k in ("district", "village", "road", "lane", "number", "address")}}
    return LayerTable("address_points", "門牌位置", "Address points", "Point", columns, geoms[keep])


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    parts, index = shapely.get_parts(geoms, return_index=True)
    return shapely.multipolygons(parts, indices=index)


def _districts(villages: LayerTable) -> LayerTable:
    district = np.array(villages.columns["district"][1])
    order = [str(d) for d in dict.fromkeys(district)]
    geoms, cols = [], {k: [] for k in ("population", "households", "age_0_14", "age_15_64", "age_65_plus")}
    for d in order:
        sel = district == d
        geoms.append(shapely.coverage_union_all(villages.geoms[sel]))
        for k in cols:
            cols[k].append(int(np.asarray(villages.columns[k][1])[sel].sum()))
    geoms = np.array(geoms)
    return LayerTable(
        "districts", "行政區界", "Districts", "MultiPolygon",
        {
            "district_id": ("integer", np.arange(1, len(order) + 1)),
            "name": ("text", order),
            "villages": ("integer", [int((district == d).sum()) for d in order]),
            **{k: ("integer", v) for k, v in cols.items()},
            "area_km2": ("double precision", np.round(shapely.area(geoms) / 1e6, 3)),
        },
        _as_multipolygons(geoms),
    )


def _rivers(terrain: Terrain) -> LayerTable:
    return LayerTable(
        "rivers", "河川", "Rivers", "LineString",
        {"river_id": ("integer", np.arange(1, len(terrain.rivers) + 1)), "name": ("text", terrain.river_names)},
        np.array(terrain.rivers),
    )


def _flood_zones(terrain: Terrain) -> LayerTable:
    klass = np.array(terrain.flood_class, dtype=int)
    geoms = np.array(terrain.flood_zones)
    return LayerTable(
        "flood_zones", "淹水潛勢區", "Flood-prone zones", "Polygon",
        {
            "zone_id": ("integer", np.arange(1, len(geoms) + 1)),
            "depth_class": ("text", [f"{FLOOD_CLASSES[k][0]}–{FLOOD_CLASSES[k][1]} m" for k in klass]),
            "depth_min_m": ("double precision", [FLOOD_CLASSES[k][0] for k in klass]),
            "depth_max_m": ("double precision", [FLOOD_CLASSES[k][1] for k in klass]),
            "scenario": ("text", ["24小時延時降雨 350 毫米"] * len(geoms)),
            "area_ha": ("double precision", np.round(shapely.area(geoms) / 1e4, 2)),
        },
        geoms,
    )


# --- facilities, Wi-Fi and sensors --------------------------------------------------------------------------

def _parcel_points(parcels: LayerTable, idx: np.ndarray) -> np.ndarray:
    return shapely.point_on_surface(parcels.geoms[idx])


def _address(parcels: LayerTable, idx: int, rng) -> str:
    district = parcels.columns["district"][1][idx]
    village = parcels.columns["village"][1][idx]
    return f"{district}{village}{int(rng.integers(1, 400))}號"


def _facilities(rng, parcels: LayerTable, meta, district_names, size) -> LayerTable:
    kinds = meta["kinds"]
    village_names = parcels.columns["village"][1]
    rows = {"kind": [], "name": [], "capacity": [], "parcel": []}
    seen_village_parks: dict[str, int] = {}
    school_blocks: set[tuple[int, int]] = set()
    for kind, names_for in (("school", ("國小", "國中")), ("park", ("公園",))):
        for i in np.flatnonzero(kinds == kind):
            if kind == "school":
                block = tuple(meta["block"][i])
                if block in school_blocks:
                    continue  # one school per school block, even when it spans two parcels
                school_blocks.add(block)
            root = village_names[i][:-1]
            suffix = names_for[int(rng.random() < 0.35)] if kind == "school" else names_for[0]
            n = seen_village_parks.get(root + suffix, 0) + 1
            seen_village_parks[root + suffix] = n
            rows["kind"].append(kind)
            ordinal = "" if n == 1 else f"第{names.CHINESE_NUMERALS[min(n, 10) - 1]}"
            rows["name"].append(f"{root}{ordinal}{suffix}")
            rows["capacity"].append(int(rng.integers(300, 2400)) if kind == "school" else 0)
            rows["parcel"].append(i)
    district = meta["district"]
    civic = np.flatnonzero(np.isin(kinds, ["government", "commercial"]))
    for d, dname in enumerate(district_names):
        in_d = civic[district[civic] == d]
        if not len(in_d):
            continue
        n_lib = 1 + int(rng.poisson(1.5 * max(size, 1) ** 0.5))
        for j, i in enumerate(rng.choice(in_d, min(n_lib, len(in_d)), replace=False)):
            rows["kind"].append("library")
            rows["name"].append(f"{dname[:-1]}區立圖書館" + ("總館" if j == 0 else f"{village_names[i][:-1]}分館"))
            rows["capacity"].append(int(rng.integers(80, 600)))
            rows["parcel"].append(int(i))
        if rng.random() < 0.75 or d == 0:
            i = int(rng.choice(in_d))
            rows["kind"].append("sports_centre")
            rows["name"].append(f"{dname[:-1]}國民運動中心")
            rows["capacity"].append(int(rng.integers(800, 3000)))
            rows["parcel"].append(i)
    idx = np.array(rows["parcel"], dtype=int)
    return LayerTable(
        "facilities", "公共設施", "Public facilities", "Point",
        {
            "facility_id": ("integer", np.arange(1, len(idx) + 1)),
            "name": ("text", rows["name"]),
            "kind": ("text", rows["kind"]),
            "kind_zh": ("text", [FACILITY_KINDS[k] for k in rows["kind"]]),
            "district": ("text", [parcels.columns["district"][1][i] for i in idx]),
            "village": ("text", [village_names[i] for i in idx]),
            "address": ("text", [_address(parcels, i, rng) for i in idx]),
            "capacity": ("integer", rows["capacity"]),
            "opened_year": ("integer", rng.integers(1960, 2025, len(idx))),
            "parcel_id": ("integer", idx + 1),
        },
        _parcel_points(parcels, idx),
    )


def _wifi_hotspots(rng, parcels: LayerTable, meta, facilities: LayerTable, size) -> LayerTable:
    """About half at libraries, sports centres, schools and parks; the rest in busy commercial streets."""
    n = max(12, round(40 * size))
    fac_kind = np.array(facilities.columns["kind"][1])
    fac_parcels = np.asarray(facilities.columns["parcel_id"][1]) - 1
    weights = np.select([fac_kind == "library", fac_kind == "sports_centre", fac_kind == "park"], [4.0, 4.0, 1.5],
                        1.0)
    n_fac = min(n // 2, len(fac_parcels))
    at_fac = rng.choice(len(fac_parcels), n_fac, replace=False, p=weights / weights.sum())
    commercial = np.flatnonzero(meta["kinds"] == "commercial")
    busy = rng.choice(commercial, n - n_fac, replace=False)
    idx = np.concatenate([fac_parcels[at_fac], busy]).astype(int)
    venue = [facilities.columns["kind_zh"][1][i] for i in at_fac] + ["商圈"] * len(busy)
    place = [facilities.columns["name"][1][i] for i in at_fac] + [
        f"{parcels.columns['village'][1][i][:-1]}商圈" for i in busy]
    pts = _parcel_points(parcels, idx)
    pts = shapely.points(shapely.get_coordinates(pts) + rng.normal(0, 4, (len(idx), 2)))
    # latent popularity drives the usage records: a few sites are nearly unused, a few saturated
    popularity = rng.lognormal(0.0, 0.8, len(idx)) * np.where(np.array(venue) == "商圈", 1.6, 1.0)
    max_users = rng.choice([30, 50, 80, 120], len(idx))
    return LayerTable(
        "wifi_hotspots", "免費無線上網熱點", "Free Wi-Fi hotspots", "Point",
        {
            "hotspot_id": ("text", [f"CITY-WIFI-{i + 1:04d}" for i in range(len(idx))]),
            "name": ("text", [f"{p} 熱點{j % 3 + 1}" for j, p in enumerate(place)]),
            "venue_type": ("text", venue),
            "district": ("text", [parcels.columns["district"][1][i] for i in idx]),
            "address": ("text", [_address(parcels, i, rng) for i in idx]),
            "install_date": ("date", [date(2013, 1, 1) + timedelta(days=int(d))
                                      for d in rng.integers(0, 3650, len(idx))]),
            "bandwidth_mbps": ("integer", rng.choice([100, 300, 500, 1000], len(idx))),
            "max_users": ("integer", max_users),
            "popularity": ("double precision", np.round(popularity, 3)),
        },
        pts,
    )


def _wifi_usage(rng, hotspots: LayerTable, days: int = 90) -> LayerTable:
    start = date(2026, 8, 1)
    ids = hotspots.columns["hotspot_id"][1]
    popularity = np.asarray(hotspots.columns["popularity"][1])
    capacity = np.asarray(hotspots.columns["max_users"][1])
    n = len(ids)
    day = np.arange(days)
    weekday = np.array([(start + timedelta(days=int(d))).weekday() for d in day])
    weekly = np.where(weekday >= 5, 1.35, 1.0)
    expected = 120 * popularity[:, None] * weekly[None, :] * (1 + 0.15 * np.sin(day / 9.0))[None, :]
    sessions = rng.poisson(expected)
    unique = np.minimum(sessions, rng.binomial(sessions, 0.62))
    traffic = np.round(sessions * rng.gamma(2.0, 28.0, sessions.shape), 1)
    peak = np.minimum(capacity[:, None], np.ceil(sessions / rng.uniform(4, 9, sessions.shape))).astype(int)
    return LayerTable(
        "wifi_usage", "熱點每日使用量", "Wi-Fi hotspot daily usage", None,
        {
            "hotspot_id": ("text", np.repeat(ids, days).tolist()),
            "day": ("date", [start + timedelta(days=int(d)) for d in np.tile(day, n)]),
            "sessions": ("integer", sessions.ravel()),
            "unique_users": ("integer", unique.ravel()),
            "traffic_mb": ("double precision", traffic.ravel()),
            "peak_concurrent": ("integer", peak.ravel()),
        },
    )


def _air_sensors(rng, parcels: LayerTable, meta, size) -> LayerTable:
    """Air-quality sensors on street lights and school roofs, spread over the built-up area."""
    n = max(10, round(25 * size))
    candidates = np.flatnonzero(np.isin(meta["kinds"], ["road", "school", "government"]))
    idx = rng.choice(candidates, n, replace=False)
    mount = np.where(meta["kinds"][idx] == "road", "路燈", np.where(meta["kinds"][idx] == "school", "校園", "機關"))
    status = np.where(rng.random(n) < 0.92, "運作中", "離線")
    return LayerTable(
        "air_sensors", "空氣品質感測器", "Air-quality sensors", "Point",
        {
            "sensor_id": ("text", [f"AQ-{i + 1:05d}" for i in range(n)]),
            "model": ("text", rng.choice(["AirBox G3", "微型感測器 PMS5003", "AQ-Node 2"], n).tolist()),
            "mount": ("text", mount.tolist()),
            "district": ("text", [parcels.columns["district"][1][i] for i in idx]),
            "status": ("text", status.tolist()),
            "install_date": ("date", [date(2018, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 2500, n)]),
            "traffic_exposure": ("double precision", np.round(meta["centrality"][idx], 3)),
        },
        _parcel_points(parcels, idx),
    )


def _air_readings(rng, sensors: LayerTable, hours: int = 168) -> LayerTable:
    ids = sensors.columns["sensor_id"][1]
    offline = np.asarray(sensors.columns["status"][1]) == "離線"
    exposure = np.asarray(sensors.columns["traffic_exposure"][1])
    n = len(ids)
    start = datetime(2026, 10, 25, tzinfo=TAIPEI)
    hour = np.arange(hours)
    diurnal = 1 + 0.35 * np.exp(-((hour % 24 - 8) ** 2) / 6) + 0.3 * np.exp(-((hour % 24 - 18) ** 2) / 6)
    regional = 14 + 8 * np.sin(hour / 30.0) + np.cumsum(rng.normal(0, 0.6, hours))
    pm25 = np.maximum(1, regional[None, :] * diurnal[None, :] * (0.8 + 0.6 * exposure[:, None])
                      + rng.normal(0, 2.5, (n, hours)))
    pm10 = pm25 * rng.uniform(1.3, 1.9, (n, hours))
    temp = 22 + 4 * np.sin((hour % 24 - 9) / 24 * 2 * np.pi)[None, :] + rng.normal(0, 0.6, (n, hours))
    humidity = np.clip(75 - 1.8 * (temp - 22) + rng.normal(0, 4, (n, hours)), 20, 100)
    # offline sensors stopped reporting at some point during the week
    last = np.where(offline, rng.integers(24, hours - 12, n), hours)
    keep = hour[None, :] < last[:, None]
    sensor_idx, hour_idx = np.nonzero(keep)
    return LayerTable(
        "air_readings", "空氣品質逐時觀測", "Air-quality hourly readings", None,
        {
            "sensor_id": ("text", [ids[i] for i in sensor_idx]),
            "observed_at": ("timestamptz", [start + timedelta(hours=int(h)) for h in hour_idx]),
            "pm25": ("double precision", np.round(pm25[keep], 1)),
            "pm10": ("double precision", np.round(pm10[keep], 1)),
            "temperature_c": ("double precision", np.round(temp[keep], 1)),
            "humidity_pct": ("double precision", np.round(humidity[keep], 1)),
        },
    )
