"""Network analysis on small hand-made road layers whose answers are known: shortest times checked against
networkx on the same roads, service-area membership along partly reached roads, one-way streets, OD costs,
closest facilities, turn-by-turn directions, rebuilding on a new version, and bad input (each a clear 400)."""

import json

import importfiles as files
import networkx as nx
import numpy as np
import pytest
import shapely
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from analysis import jobs as analysis_jobs
from jobs.models import Job
from layers.importing import jobs
from layers.importing.pipeline import run_job
from layers.models import Layer
from network import building
from network.models import Network

pytestmark = pytest.mark.django_db
X0, Y0 = 280_000, 2_765_000
NODES = {"A": (0, 0), "B": (1000, 0), "C": (2000, 0), "D": (0, 1000), "E": (1000, 1000), "F": (2000, 1000),
         "G": (5000, 0), "H": (5000, 500)}
# (vertices, name, km/h, one-way): A-B-C is one line through B, where B-E meets it; C→F is one-way; G-H is cut off
ROADS = [("ABC", "中山路", 36, ""), ("AD", "新生路", 36, ""), ("DE", "中正路", 72, ""), ("EF", "中正路", 72, ""),
         ("BE", "民族路", 36, ""), ("CF", "單行街", 36, "FT"), ("GH", "孤島路", 36, "")]


def xy(node: str) -> tuple[float, float]:
    return X0 + NODES[node][0], Y0 + NODES[node][1]


def make_layer(tmp_path, slug, geoms, fields, visibility="public", owner=None):
    path = files.write_vector(tmp_path / f"{slug}.gpkg", np.array(geoms, dtype=object),
                              {k: np.array(v, dtype=object if isinstance(v[0], str) else None)
                               for k, v in fields.items()}, "EPSG:3826", "GPKG")
    job = run_job(jobs.create(path, path.name, {"mode": "upsert", "slug": slug, "visibility": visibility,
                                                "owner_agency": owner}).pk)
    assert job.status == "succeeded", job.errors
    return Layer.objects.get(slug=slug)


def road_layer(tmp_path, slug="streets", roads=ROADS, **more):
    geoms = [shapely.LineString([xy(n) for n in nodes]) for nodes, *_ in roads]
    return make_layer(tmp_path, slug, geoms, {"name": [r[1] for r in roads], "speed_kmh": [r[2] for r in roads],
                                              "oneway": [r[3] for r in roads]}, **more)


def expected_graph() -> nx.DiGraph:
    """The same roads as a networkx graph built from the table above (seconds per edge), independent of SQL."""
    graph = nx.DiGraph()
    for nodes, _name, kmh, oneway in ROADS:
        for a, b in zip(nodes[:-1], nodes[1:], strict=True):
            seconds = float(np.hypot(*np.subtract(NODES[b], NODES[a]))) / (kmh / 3.6)
            graph.add_edge(a, b, weight=seconds)
            if not oneway:
                graph.add_edge(b, a, weight=seconds)
    return graph


@pytest.fixture
def planner(db):
    person = User.objects.create_user("router")
    person.groups.add(Group.objects.create(name="交通局"))
    return person


@pytest.fixture
def api(planner, monkeypatch):
    monkeypatch.setattr(analysis_jobs, "submit", lambda job: job)  # run here, not on a worker that may be up
    monkeypatch.setattr(building, "submit", lambda job: job)
    client = APIClient()
    client.force_authenticate(planner)
    return client


@pytest.fixture
def streets(tmp_path, api):
    road_layer(tmp_path)
    return build(api, {"roads": "streets", "profile": "driving", "speed_attribute": "speed_kmh",
                       "oneway_attribute": "oneway"})


def build(api, body) -> Network:
    resp = api.post("/api/v1/analysis/network/", body, format="json")
    assert resp.status_code == 202, resp.content
    job = building.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    return Network.objects.get(pk=resp.json()["network"])


def points(*names) -> dict:
    return {"geometry": {"type": "MultiPoint", "coordinates": [list(xy(n)) for n in names]}, "crs": 3826}


def run_tool(api, path, body):
    resp = api.post(f"/api/v1/analysis/network/{path}/", {"roads": "streets", **body}, format="json")
    assert resp.status_code == 202, resp.content
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    return job, job.layers.get()


def rows(layer, columns):
    with connection.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM layerdata.{layer.table_name} ORDER BY fid")
        return cur.fetchall()


def test_build_nodes_lines_at_shared_vertices_and_reports_the_cut_off_part(streets):
    report = streets.report
    # A-B-C is split at B (B-E meets it there): 8 edges, 8 vertices, G-H a component of its own
    assert (report["lines"], report["edges"], report["vertices"]) == (7, 8, 8)
    assert report["components"] == 2 and report["small_component_sizes"] == [2]
    assert report["one_way_edges"] == 1
    assert streets.version == streets.layer.current_version and streets.status == "ready"


def test_od_matrix_matches_networkx_and_reports_unreachable_pairs(streets, api):
    job, layer = run_tool(api, "od-matrix", {"origins": points("A", "C", "F", "G"),
                                             "destinations": points("F", "C", "A")})
    graph = expected_graph()
    result = job.counts["result"]
    for i, o in enumerate("ACFG"):
        for j, d in enumerate("FCA"):
            try:
                want = nx.shortest_path_length(graph, o, d, weight="weight") / 60
            except nx.NetworkXNoPath:
                want = None
            got = result["matrix_min"][i][j]
            assert (got is None) == (want is None), (o, d)
            if want is not None:
                assert got == pytest.approx(want, abs=0.01), (o, d)
    # F → C may not use the one-way street: it goes round by E and B
    assert result["matrix_min"][2][1] == pytest.approx(250 / 60, abs=0.01)
    assert result["unreachable_pairs"] == 3 and ["#4", "#1"] in result["unreachable"]
    assert len(rows(layer, "fid")) == 9  # reachable pairs only


def test_service_area_cuts_a_partly_reached_road_where_the_time_runs_out(streets, api):
    # from A within 2.5 min (150 s): B and D at 100 s, E at 150 s; along B→C the time runs out halfway (x = 1500)
    _job, layer = run_tool(api, "service-areas", {"facilities": points("A"), "breaks": [2.5], "width": 50,
                                                  "shape": "roads"})
    (zone,) = [shapely.from_wkb(bytes(g)) for (g,) in rows(layer, "ST_AsBinary(geom)")]
    inside = {"B": (1000, 0), "E": (1000, 1000), "B-C at 1.4 km": (1400, 0), "D-E": (500, 1000)}
    outside = {"B-C at 1.6 km": (1600, 0), "C": (2000, 0), "E-F beyond E": (1100, 1000)}
    for label, (x, y) in inside.items():
        assert zone.contains(shapely.Point(X0 + x, Y0 + y)), label
    for label, (x, y) in outside.items():
        assert not zone.contains(shapely.Point(X0 + x, Y0 + y)), label


def test_service_area_as_a_hull_covers_what_is_reached_and_no_more(streets, api):
    _job, layer = run_tool(api, "service-areas", {"facilities": points("A"), "breaks": [2.5], "width": 50})
    (zone,) = [shapely.from_wkb(bytes(g)) for (g,) in rows(layer, "ST_AsBinary(geom)")]
    for x, y in ((1000, 0), (1000, 1000), (1400, 0), (500, 500)):  # the block inside the reached roads too
        assert zone.contains(shapely.Point(X0 + x, Y0 + y)), (x, y)
    for x, y in ((1600, 0), (2000, 1000)):
        assert not zone.contains(shapely.Point(X0 + x, Y0 + y)), (x, y)


def test_service_area_direction_follows_one_way_streets_and_rings_split(streets, api):
    body = {"facilities": points("C"), "breaks": [1, 2], "width": 20, "shape": "roads"}
    _job, going = run_tool(api, "service-areas", {**body, "direction": "from", "rings": "split"})
    _job, coming = run_tool(api, "service-areas", {**body, "direction": "to"})
    on_one_way = shapely.Point(X0 + 2000, Y0 + 700)  # 70 s from C along C→F
    assert [r[0] for r in rows(going, "break_min")] == [1, 2]
    ring_1, ring_2 = [shapely.from_wkb(bytes(g)) for (g,) in rows(going, "ST_AsBinary(geom)")]
    assert ring_2.contains(on_one_way) and not ring_1.contains(on_one_way)
    assert ring_1.intersection(ring_2).area < 1  # split rings do not overlap
    assert not any(shapely.from_wkb(bytes(g)).contains(on_one_way) for (g,) in rows(coming, "ST_AsBinary(geom)"))


def test_service_area_population_is_apportioned_by_area(streets, api, tmp_path):
    village = shapely.box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)
    make_layer(tmp_path, "hamlets", [village], {"name": ["甲里"], "population": [1000]})
    job, layer = run_tool(api, "service-areas", {"facilities": points("A"), "breaks": [1], "shape": "roads",
                                                 "population": {"layer": "hamlets", "attribute": "population"}})
    (geom, people), = rows(layer, "ST_AsBinary(geom), population")
    want = round(1000 * shapely.from_wkb(bytes(geom)).intersection(village).area / village.area)
    assert people == want and 0 < want < 1000
    assert job.counts["result"]["population"][0]["population"] == want


def test_closest_facility_ranks_by_time_with_routes_and_reports_shortfall(streets, api):
    job, layer = run_tool(api, "closest-facility", {"incidents": points("D"), "facilities": points("C", "F", "G"),
                                                    "count": 3})
    got = rows(layer, "facility, rank, time_min, distance_m, ST_Length(geom)")
    assert [(r[0], r[1]) for r in got] == [("#2", 1), ("#1", 2)]  # F (100 s) before C (250 s); G cut off
    assert got[0][2] == pytest.approx(100 / 60, abs=0.01) and got[0][3] == pytest.approx(2000)
    assert got[1][2] == pytest.approx(250 / 60, abs=0.01) and got[1][4] == pytest.approx(3000)
    assert job.counts["result"]["short_of_count"] == [{"incident": "#1", "reached": 2}]


def test_route_through_stops_gives_directions_in_both_languages(streets, api):
    job, layer = run_tool(api, "routes", {"stops": points("A", "F", "C")})
    summary = job.counts["result"]
    graph = expected_graph()
    want = (nx.shortest_path_length(graph, "A", "F", weight="weight")
            + nx.shortest_path_length(graph, "F", "C", weight="weight"))
    assert summary["time_min"] == pytest.approx(want / 60, abs=0.02)
    assert summary["distance_m"] == pytest.approx(3000 + 3000)
    steps = [(d["road"], d["turn"]) for d in summary["directions"] if d["turn"] != "arrive"]
    assert steps == [("新生路", "start"), ("中正路", "right"), ("中正路", "start"), ("民族路", "left"),
                     ("中山路", "left")]
    first = summary["directions"][0]
    assert first["instruction"] == "從 #1 出發，沿新生路行駛 1.0 公里（約 2 分鐘）"
    assert first["instruction_en"] == "From #1, head along 新生路 for 1.0 km (about 2 min)"
    assert summary["directions"][1]["instruction"] == "右轉進入中正路，行駛 2.0 公里（約 2 分鐘）"
    assert summary["directions"][-1]["instruction_en"] == "Arrive at #3, the last stop"
    assert len(rows(layer, "fid")) == 5 and layer.provenance["inputs"] == ["streets"]


def test_a_new_version_of_the_roads_rebuilds_the_network(streets, api, tmp_path):
    bridged = [*ROADS, ("CG", "延平路", 36, "")]
    road_layer(tmp_path, roads=bridged)  # a re-import: a new version of the same layer
    job = Job.objects.filter(options__analysis="network_build", options__network=streets.pk).latest("pk")
    assert building.run(job.pk).status == "succeeded"
    streets.refresh_from_db()
    assert streets.report["components"] == 1 and streets.version.number == 2


def test_bad_input_is_a_clear_400(streets, api, tmp_path):
    def answer(path, body):
        resp = api.post(f"/api/v1/analysis/network/{path}", body, format="json")
        return resp.status_code, resp.json()["detail"]

    make_layer(tmp_path, "stops", [shapely.Point(xy("A"))], {"name": ["站"]})
    status, detail = answer("", {"roads": "stops"})
    assert status == 400 and "Point" in detail and "'stops'" in detail
    far = {"geometry": {"type": "Point", "coordinates": [X0 + 1000, Y0 + 3000]}, "crs": 3826}
    status, detail = answer("service-areas/", {"roads": "streets", "facilities": far, "breaks": [5],
                                               "snap_limit": 300})
    assert status == 400 and "#1 (2,000 m)" in detail and "300" in detail
    for breaks in ([-5], [0], [100_000], "5"):
        status, detail = answer("service-areas/", {"roads": "streets", "facilities": points("A"), "breaks": breaks})
        assert status == 400 and "breaks" in detail, breaks
    status, detail = answer("routes/", {"roads": "streets", "stops": points("A", "G")})
    assert status == 400 and "#1 → #2" in detail
    status, detail = answer("od-matrix/", {"roads": "streets", "profile": "walking", "origins": points("A"),
                                           "destinations": points("B")})
    assert status == 400 and "walking" in detail


def test_lines_that_share_no_vertex_cannot_form_a_network(api, tmp_path):
    parallel = [shapely.LineString([(X0, Y0 + y), (X0 + 1000, Y0 + y)]) for y in (0, 100)]
    make_layer(tmp_path, "apart", parallel, {"name": ["一", "二"]})
    resp = api.post("/api/v1/analysis/network/", {"roads": "apart", "tolerance": 5}, format="json")
    job = building.run(resp.json()["id"])
    assert job.status == "failed" and "5" in job.errors[0]["message"] and "'apart'" in job.errors[0]["message"]
    status = api.post("/api/v1/analysis/network/routes/", {"roads": "apart", "stops": points("A", "B")},
                      format="json")
    assert status.status_code == 400 and "'apart'" in status.json()["detail"]


def test_a_restricted_road_layer_answers_as_a_missing_one(api, tmp_path, planner):
    secret = Group.objects.create(name="國防部")
    road_layer(tmp_path, slug="secret-roads", visibility="restricted", owner=secret.pk)
    body = {"facilities": points("A"), "breaks": [5]}
    hidden = api.post("/api/v1/analysis/network/service-areas/", {"roads": "secret-roads", **body}, format="json")
    missing = api.post("/api/v1/analysis/network/service-areas/", {"roads": "no-roads", **body}, format="json")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("secret-roads", "no-roads") == missing.json()["detail"]
    assert api.get("/api/v1/analysis/network/").json() == {"networks": []}


def test_only_the_owners_change_how_a_shared_network_is_built(streets, tmp_path, monkeypatch):
    monkeypatch.setattr(building, "submit", lambda job: job)
    someone = APIClient()
    someone.force_authenticate(User.objects.create_user("visitor"))
    changed = someone.post("/api/v1/analysis/network/", {"roads": "streets", "tolerance": 5}, format="json")
    assert changed.status_code == 403 and "'streets'" in changed.json()["detail"]
    as_is = someone.post("/api/v1/analysis/network/", {"roads": "streets"}, format="json")
    assert as_is.status_code == 202
    streets.refresh_from_db()
    assert streets.tolerance_m == 1.0 and streets.speed_attribute == "speed_kmh"


def test_walking_ignores_one_way_streets_and_takes_speeds_by_class(streets, api):
    build(api, {"roads": "streets", "profile": "walking", "class_attribute": "name", "speeds": {"中正路": 3}})
    job, _layer = run_tool(api, "od-matrix", {"profile": "walking", "origins": points("F", "D"),
                                              "destinations": points("C", "F")})
    walk = nx.Graph()
    for nodes, name, _kmh, _oneway in ROADS:  # both ways; 3 km/h on 中正路, 5 km/h (the walking pace) elsewhere
        for a, b in zip(nodes[:-1], nodes[1:], strict=True):
            walk.add_edge(a, b, weight=float(np.hypot(*np.subtract(NODES[b], NODES[a]))) / ((3 if name == "中正路"
                                                                                             else 5) / 3.6))
    got = job.counts["result"]["matrix_min"]
    for i, o in enumerate("FD"):
        for j, d in enumerate("CF"):
            assert got[i][j] == pytest.approx(nx.shortest_path_length(walk, o, d, weight="weight") / 60, abs=0.01)
    assert got[0][0] == pytest.approx(12, abs=0.01)  # F → C against the one-way street: 1 km at 5 km/h


# --- location-allocation on travel times (network.costs, analysis.location) ---------------------------------------


def network_minutes(graph: nx.DiGraph, demand: str, sites: str, cutoff: float) -> np.ndarray:
    """Minutes from each demand node to each site node by networkx, inf beyond the cutoff or unreachable."""
    out = np.full((len(demand), len(sites)), np.inf)
    for i, d in enumerate(demand):
        reach = nx.single_source_dijkstra_path_length(graph, d, weight="weight")
        for j, s in enumerate(sites):
            if s in reach and reach[s] / 60 <= cutoff:
                out[i, j] = reach[s] / 60
    return out


def test_travel_time_costs_match_networkx_and_off_road_demand_is_unreachable(streets):
    from network import costs

    demand, sites = "ABCDEFGH", "CFG"
    far = [X0 + 1000, Y0 + 3000]  # 2 km from every road
    found = costs.matrix(streets, np.array([xy(n) for n in demand] + [far]), np.array([xy(n) for n in sites]), 4.0)
    want = network_minutes(expected_graph(), demand, sites, 4.0)
    got, m = found.minutes.toarray(), found.minutes
    stored = np.zeros(got.shape, bool)
    stored[np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.indices] = True  # explicit zeros too
    assert np.array_equal(stored[:-1], np.isfinite(want))  # the same pairs within 4 minutes (C to C at 0 kept)
    assert np.allclose(got[:-1][np.isfinite(want)], want[np.isfinite(want)], atol=0.01)
    assert found.demand_off_road.tolist() == [False] * 8 + [True] and m[8].nnz == 0


def test_many_points_join_the_network_in_memory_as_one_query_each_would(streets):
    """Above places.IN_MEMORY points the joins are made with shapely: the same edges' ends, times and offsets."""
    from network import places

    rng = np.random.default_rng(3)  # some within places.NEAR_M of a road, most farther
    xy_ = rng.uniform((X0 - 300, Y0 - 300), (X0 + 5300, Y0 + 1300), (400, 2))
    by_query, in_memory = places.join(streets, xy_), places.join_in_memory(streets, xy_)
    assert np.allclose(by_query.offset_m, in_memory.offset_m)
    same = by_query.node == in_memory.node  # a point as far from two roads may join either
    assert same.mean() > 0.97 and np.allclose(by_query.access_s[same], in_memory.access_s[same])


@pytest.mark.parametrize("k", [1, 2])
def test_network_covering_and_attendance_match_brute_force(streets, k):
    import itertools

    from analysis.location.attendance import max_attendance
    from analysis.location.covering import maximal_covering
    from network import costs

    demand, sites, cutoff = "ABCDEFGH", "ACEFG", 2.0
    weight = np.array([10, 20, 30, 40, 50, 60, 70, 80], float)
    found = costs.matrix(streets, np.array([xy(n) for n in demand]), np.array([xy(n) for n in sites]), cutoff)
    want = network_minutes(expected_graph(), demand, sites, cutoff)
    reach = np.isfinite(want)

    def covered(c):
        return weight[reach[:, list(c)].any(axis=1)].sum()

    def attending(c):
        nearest = want[:, list(c)].min(axis=1)
        return float(weight @ np.where(np.isfinite(nearest), 1 - nearest / cutoff, 0))

    subsets = list(itertools.combinations(range(len(sites)), k))
    result = maximal_covering(found.minutes, weight, k)
    assert result.objective == max(covered(c) for c in subsets) and result.status == "optimal"
    assert result.unreachable == 0
    result = max_attendance(found.minutes, weight, k, kind="linear", cutoff=cutoff)
    assert result.objective == pytest.approx(max(attending(c) for c in subsets), abs=0.05)


def test_siting_on_travel_time_builds_the_network_and_reports_unreachable_demand(api, tmp_path):
    """The siting job with allocation.network: the walking network is built by the job itself (none existed),
    travel minutes decide coverage, demand on the cut-off island (G, H) is reported and never covered."""
    road_layer(tmp_path)
    lots = [shapely.box(x - 20, y - 60, x + 20, y - 20) for x, y in (xy(n) for n in "ABCEFG")]
    make_layer(tmp_path, "lots", lots, {"land_value": [1, 2, 3, 4, 5, 6]})
    far = shapely.Point(X0 + 1000, Y0 + 3000)  # 2 km from every road
    make_layer(tmp_path, "homes", [*(shapely.Point(xy(n)) for n in "ABCDEFGH"), far],
               {"people": [10, 20, 30, 40, 50, 60, 70, 80, 5]})
    body = {"candidates": "lots", "factors": [{"kind": "attribute", "attribute": "land_value"}],
            "allocation": {"model": "set_covering", "network": "streets", "profile": "walking", "cutoff_min": 13,
                           "demand": {"layer": "homes", "attribute": "people"}}}
    resp = api.post("/api/v1/analysis/siting/", body, format="json")
    assert resp.status_code == 202, resp.content
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    a = job.counts["result"]["allocation"]
    assert Network.objects.get(layer__slug="streets", profile="walking").status == "ready"
    # walking 5 km/h: 13 min is 1,083 m. A, B, C, D, E, F need two of the lots; G and H are reachable only from G's
    assert a["unit"] == "min" and a["facilities"] == 3 and len(a["chosen"]) == 3
    assert a["objective"] == 360 and a["unreachable"] == 1 and a["unreachable_weight"] == 5
    assert a["demand_off_road"] == 1 and a["uncovered"] == 5
    words = job.counts["result"]["wording"]
    assert "13 分鐘" in words["zh-hant"]["reach"] and "13 min" in words["en"]["reach"]
    assert "3 處" in words["zh-hant"]["outcome"] and "360 人" in words["zh-hant"]["outcome"]
    assert "5 人" in words["zh-hant"]["unreachable"] and "5 people" in words["en"]["unreachable"]
    # demand within 5, 10 and 13 minutes: in 5 min each home reaches only a lot at its own corner, in 10 H also
    # reaches G's (500 m); the other corners are 1 km (12 min) apart
    people = dict(zip("ABCDEFGH", [10, 20, 30, 40, 50, 60, 70, 80], strict=True))
    own = sum(people["ABCEFG"[fid - 1]] for fid in a["chosen"])
    assert 6 in a["chosen"]  # G's lot, the only one H and G reach
    assert [(b["break_min"], b["existing"], b["with_new"]) for b in a["by_break"]] == [
        (5, 0, own), (10, 0, own + 80), (13, 0, 360)]
    assert words["zh-hant"]["by_break"][2] == {"minutes": "13 分鐘內", "existing": "0 人", "with_new": "360 人",
                                              "added": "360 人"}
    assert words["en"]["by_break"][0]["minutes"] == "within 5 min"
    # where each chosen site is reached from within 13 minutes, drawn on the page's and the report's maps
    outlines = a["reach_outlines"]
    assert outlines["minutes"] == 13 and len(outlines["new"]) == 3 and outlines["existing"] == []
    assert all(shape["type"] in ("Polygon", "MultiPolygon") for shape in outlines["new"])
    page = api.get(f"/api/v1/analysis/siting/{job.pk}/report.html")
    html = b"".join(page.streaming_content).decode()
    named = "13 分鐘內可到達的範圍"  # a layer of the map (its name in the layer control, escaped or not)
    assert page.status_code == 200 and (named in html or json.dumps(named)[1:-1] in html)


@pytest.mark.parametrize("model, extra, said", [
    ("p_median", {"k": 2}, "平均每單位需求的行駛時間"),
    ("attendance", {"k": 2, "cutoff_min": 13}, "預期前來"),
    ("market_share", {"k": 1, "competitors": "rivals"}, "市場占有率"),
    ("target_share", {"target": 30, "competitors": "rivals"}, "最少需要"),
])
def test_every_problem_type_runs_on_walking_time_with_its_own_words(api, tmp_path, model, extra, said):
    road_layer(tmp_path)
    make_layer(tmp_path, "lots", [shapely.box(x - 20, y - 60, x + 20, y - 20) for x, y in (xy(n) for n in "ABCEF")],
               {"land_value": [1, 2, 3, 4, 5]})
    make_layer(tmp_path, "homes", [shapely.Point(xy(n)) for n in "ABCDEF"], {"people": [10, 20, 30, 40, 50, 60]})
    make_layer(tmp_path, "rivals", [shapely.Point(xy("D"))], {"name": ["對手"]})
    body = {"candidates": "lots", "factors": [{"kind": "attribute", "attribute": "land_value"}],
            "allocation": {"model": model, "network": "streets", "profile": "walking",
                           "demand": {"layer": "homes", "attribute": "people"}, **extra}}
    resp = api.post("/api/v1/analysis/siting/", body, format="json")
    assert resp.status_code == 202, resp.content
    job = analysis_jobs.run(resp.json()["id"])
    assert job.status == "succeeded", job.errors
    a, words = job.counts["result"]["allocation"], job.counts["result"]["wording"]
    assert a["unit"] == "min" and a["status"] == "optimal" and a["unreachable"] == 0
    assert said in words["zh-hant"]["outcome"] and words["en"]["outcome"] and "人" not in words["en"]["outcome"]
    if model.endswith("share"):
        assert 0 < a["market_share"] < 1 and a["competitors_capture"] > 0 and "rivals" in job.layers.first(
            ).provenance["inputs"]
    if model == "target_share":
        assert a["market_share"] >= 0.3 and a["facilities"] == len(a["chosen"])


def test_bad_travel_time_allocations_are_clear_400s(api, tmp_path):
    road_layer(tmp_path)
    make_layer(tmp_path, "lots", [shapely.box(X0, Y0 - 60, X0 + 40, Y0 - 20)], {"land_value": [1]})
    base = {"candidates": "lots", "factors": [{"kind": "attribute", "attribute": "land_value"}]}
    for allocation, words in (
            ({"model": "covering", "k": 1, "network": "streets"}, "allocation.cutoff_min"),
            ({"model": "covering", "k": 1, "network": "lots", "cutoff_min": 5}, "'lots'"),
            ({"model": "covering", "k": 1, "network": "streets", "cutoff_min": 5, "profile": "flying"},
             "allocation.profile"),
            ({"model": "covering", "k": 1, "network": "streets", "cutoff_min": 500}, "allocation.cutoff_min"),
            ({"model": "target_share", "network": "streets", "target": 150}, "allocation.target"),
            ({"model": "p_median", "k": 1, "competitors": "lots"}, "allocation.competitors")):
        resp = api.post("/api/v1/analysis/siting/", {**base, "allocation": {
            **allocation, "demand": {"layer": "lots", "attribute": "land_value"}}}, format="json")
        assert resp.status_code == 400 and words in resp.json()["detail"], (allocation, resp.content)


def test_market_share_reads_attractiveness_from_the_layers_and_rejects_bad_values(api, tmp_path):
    """A competitor nine times as attractive takes a larger part of the same demand; attractiveness only where the
    model has it, a numeric attribute that exists, and positive values (the first bad feature named)."""
    road_layer(tmp_path)
    make_layer(tmp_path, "lots", [shapely.box(x - 20, y - 60, x + 20, y - 20) for x, y in (xy(n) for n in "ABCEF")],
               {"land_value": [1, 2, 3, 4, 5], "floor": [2.0, 1.0, 1.0, 1.0, 0.0], "name": ["a", "b", "c", "e", "f"]})
    make_layer(tmp_path, "homes", [shapely.Point(xy(n)) for n in "ABCDEF"], {"people": [10, 20, 30, 40, 50, 60]})
    make_layer(tmp_path, "rivals", [shapely.Point(xy("D"))], {"weak": [1.0], "strong": [9.0]})
    base = {"candidates": "lots", "factors": [{"kind": "attribute", "attribute": "land_value"}]}

    def allocation(**more):
        return {**base, "allocation": {"model": "market_share", "k": 1, "network": "streets", "profile": "walking",
                                       "demand": {"layer": "homes", "attribute": "people"}, **more}}
    shares = {}
    for pull in ("weak", "strong"):
        resp = api.post("/api/v1/analysis/siting/", allocation(
            competitors={"layer": "rivals", "attractiveness": pull}), format="json")
        assert resp.status_code == 202, resp.content
        job = analysis_jobs.run(resp.json()["id"])
        assert job.status == "succeeded", job.errors
        shares[pull] = job.counts["result"]["allocation"]["market_share"]
    assert 0 < shares["strong"] < shares["weak"] < 1
    for more, words in (
            ({"model": "covering", "cutoff_min": 10, "attractiveness": "floor"}, "allocation.attractiveness"),
            ({"attractiveness": "height"}, "'height'"),
            ({"attractiveness": "name"}, "不是數值"),
            ({"attractiveness": "floor"}, "fid 5"),
            ({"competitors": {"layer": "rivals", "attractiveness": "nope"}}, "allocation.competitors.attractiveness")):
        resp = api.post("/api/v1/analysis/siting/", allocation(**more), format="json")
        assert resp.status_code == 400 and words in resp.json()["detail"], (more, resp.content)


def road_fid(layer, a: str, b: str) -> int:
    """The stored fid of the road drawn from node a to node b."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT fid FROM layerdata.{layer.table_name} WHERE ST_StartPoint(geom) = ST_SetSRID("
                    f"ST_MakePoint(%s, %s), 3826) AND ST_EndPoint(geom) = ST_SetSRID(ST_MakePoint(%s, %s), 3826)",
                    [*xy(a), *xy(b)])
        return cur.fetchone()[0]


def test_turn_restrictions_lengthen_routes_and_closest_facility_but_not_matrices(api, tmp_path):
    # heading east on 中正路 (D→E), the right turn into 民族路 (E→B) is forbidden: D→B goes round by A,
    # 200 s instead of 150 s; an only_straight_on at the same corner forbids it as well; one row names no road
    roads = road_layer(tmp_path, "grid")
    de, eb = road_fid(roads, "D", "E"), road_fid(roads, "B", "E")
    make_layer(tmp_path, "turns", [shapely.Point(xy("E"))] * 3,
               {"from_road": [de, de, 999], "to_road": [eb, road_fid(roads, "E", "F"), eb],
                "restriction": ["no_right_turn", "only_straight_on", "no_left_turn"]})
    network = build(api, {"roads": "grid", "profile": "driving", "speed_attribute": "speed_kmh",
                          "oneway_attribute": "oneway", "restrictions": "turns"})
    report = network.report
    assert (report["restrictions"], report["restrictions_applied"], report["restrictions_unmatched"]) == (3, 2, 1)
    assert report["unmatched_restriction_fids"] == [3] and report["forbidden_turns"] == 2  # E→B, and the U-turn
    job, _layer = run_tool(api, "routes", {"roads": "grid", "stops": points("D", "B")})
    assert job.counts["result"]["time_min"] == pytest.approx(200 / 60, abs=0.01)
    assert [d["road"] for d in job.counts["result"]["directions"][:2]] == ["新生路", "中山路"]
    job, layer = run_tool(api, "closest-facility", {"roads": "grid", "incidents": points("D"),
                                                    "facilities": points("B")})
    assert rows(layer, "time_min, distance_m") == [(pytest.approx(200 / 60, abs=0.01), pytest.approx(2000))]
    job, _layer = run_tool(api, "od-matrix", {"roads": "grid", "origins": points("D"),
                                             "destinations": points("B")})
    assert job.counts["result"]["matrix_min"] == [[pytest.approx(150 / 60, abs=0.01)]]
    assert job.counts["result"]["turn_restrictions"] == "ignored"
    listed = api.get("/api/v1/analysis/network/?roads=grid").json()["networks"][0]
    assert listed["restrictions"] == "turns" and listed["road_id_attribute"] == ""
    bad = api.post("/api/v1/analysis/network/", {"roads": "grid", "restrictions": "grid"}, format="json")
    assert bad.status_code == 400 and "from_road" in bad.json()["detail"]
