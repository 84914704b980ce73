"""The siting report: an HTML page with a folium map and the numbers behind the answer, and a CSV of the
ranked candidates (UTF-8 with BOM, so Excel shows the Chinese text)."""

import csv
import html
from pathlib import Path

import folium
import numpy as np
from django.conf import settings

from geo.crs import transformer

REPORTS = "reports"
MAPPED_CANDIDATES = 200


def folder(staging: str) -> Path:
    """The job's report folder (a job's staging tables are named job<id>_…)."""
    return Path(settings.MEDIA_ROOT) / REPORTS / staging.split("_", 1)[0]


def _csv(path: Path, found, rank: np.ndarray, chosen_at: dict[int, tuple[int, float]]) -> None:
    names = list(found.raw)
    feasible = np.flatnonzero(rank > 0)
    score = found.score
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(["rank", "source_fid", "score", "chosen", "pick_order", "marginal_gain",
                         *[f"value:{n}" for n in names], *[f"contribution:{n}" for n in names],
                         *found.attributes])
        for i in feasible[np.argsort(rank[feasible])]:
            order, gain = chosen_at.get(int(i), (None, None))
            writer.writerow([int(rank[i]), int(found.fid[i]), round(float(score[i]), 6), order is not None,
                             order, gain, *[found.raw[n][i] for n in names],
                             *[round(float(found.contribution[n][i]), 6) for n in names],
                             *[found.attributes[a][i] for a in found.attributes]])


def _table(rows: list[list], head: list[str]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def write(where: Path, found, summary: dict, sites, pool, existing, srid: int, spec: dict | None) -> dict:
    where.mkdir(parents=True, exist_ok=True)
    rank, score = found.rank(), found.score
    chosen_at = {}
    if sites is not None:
        for order, (j, g) in enumerate(zip(sites.chosen, sites.marginal_gain, strict=True), start=1):
            chosen_at[int(pool[j])] = (order, round(g, 3))
    _csv(where / "candidates.csv", found, rank, chosen_at)
    to_lonlat = transformer(srid, 4326)
    lon, lat = to_lonlat.transform(found.xy[:, 0], found.xy[:, 1])
    best = np.flatnonzero((rank > 0) & (rank <= MAPPED_CANDIDATES))
    centre = [float(np.mean(lat[best])) if len(best) else float(np.mean(lat)),
              float(np.mean(lon[best])) if len(best) else float(np.mean(lon))]
    fmap = folium.Map(location=centre, zoom_start=13, tiles="OpenStreetMap")
    ranked = folium.FeatureGroup(name=f"前 {MAPPED_CANDIDATES} 名候選 (best candidates)").add_to(fmap)
    for i in best:
        folium.CircleMarker([lat[i], lon[i]], radius=4, color="#555", fill=True,
                            fill_opacity=0.4 + 0.6 * float(score[i]),
                            tooltip=f"#{rank[i]} fid {found.fid[i]} score {score[i]:.3f}").add_to(ranked)
    rows = []
    if sites is not None:
        chosen = folium.FeatureGroup(name="選定場址 (chosen sites)").add_to(fmap)
        for i, (order, gain) in chosen_at.items():
            folium.Marker([lat[i], lon[i]], icon=folium.Icon(color="red"),
                          tooltip=f"{order}. fid {found.fid[i]}: +{gain:,.0f}").add_to(chosen)
            if spec.get("radius") and spec["model"] == "covering":
                folium.Circle([lat[i], lon[i]], radius=spec["radius"], color="red", fill=False).add_to(chosen)
            rows.append([order, int(found.fid[i]), int(rank[i]), f"{score[i]:.3f}", f"{gain:,.0f}"])
        if len(existing["fid"]):
            ex_lon, ex_lat = to_lonlat.transform(existing["xy"][:, 0], existing["xy"][:, 1])
            kept = folium.FeatureGroup(name="既有設施 (existing)").add_to(fmap)
            for x, y, fid in zip(ex_lon, ex_lat, existing["fid"], strict=True):
                folium.Marker([y, x], icon=folium.Icon(color="blue"), tooltip=f"existing fid {fid}").add_to(kept)
    folium.LayerControl().add_to(fmap)
    top = [[int(rank[i]), int(found.fid[i]), f"{score[i]:.3f}",
            *[f"{found.contribution[n][i]:.3f}" for n in found.contribution]]
           for i in np.flatnonzero((rank > 0) & (rank <= 20))[np.argsort(rank[(rank > 0) & (rank <= 20)])]]
    parts = ["<div style='font-family:sans-serif;max-width:60em;margin:1em'>", "<h1>公有場館選址 Facility siting</h1>",
             f"<p>{summary['candidates']:,} candidates, {summary['feasible']:,} pass the constraints "
             f"({html.escape('; '.join(f'{n:,} {r}' for r, n in summary['excluded'].items()) or 'none excluded')})."
             "</p>", "<h2>Factor weights</h2>",
             _table([[n, w] for n, w in summary["weights"].items()], ["factor", "weight"])]
    a = summary.get("allocation")
    if a:
        gap = "proven optimal" if a["status"] == "optimal" else (
            f"proven gap {100 * a['gap']:.3f} %" if a["gap"] is not None else a["method"])
        parts += ["<h2>Chosen sites</h2>",
                  f"<p>Model {a['model']}, k = {a['k']}: objective {a['objective']:,.1f} "
                  f"(demand {a['demand_total']:,.0f}; {gap}; {html.escape(a['method'])}). "
                  f"A further site would add {a['next_gain']:,.1f}.</p>",
                  _table(rows, ["order", "source fid", "suitability rank", "score", "marginal gain"])]
    parts += ["<h2>Best 20 candidates</h2>",
              _table(top, ["rank", "source fid", "score", *[f"contribution: {n}" for n in found.contribution]]),
              "<p>Full ranking: candidates.csv</p></div>"]
    fmap.get_root().html.add_child(folium.Element("".join(parts)))
    fmap.save(str(where / "report.html"))
    return {"html": f"{REPORTS}/{where.name}/report.html", "csv": f"{REPORTS}/{where.name}/candidates.csv"}
