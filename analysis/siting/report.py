"""The siting report: an HTML page with a map and the numbers behind the answer, in each of the site's languages
(report.<lang>.html, served by the user's language), working offline (Leaflet inlined, no CDN, no online
basemap: the districts drawn from the platform's own layer), and a CSV of the ranked candidates (UTF-8 with BOM,
so Excel shows the Chinese text)."""

import csv
import html
import json
from pathlib import Path

import folium
import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext as _
from psycopg2 import sql

from geo import media
from geo.crs import transformer
from layers.models import DATA_SCHEMA
from layers.serving import offline_map

from . import places

REPORTS = "reports"
MAPPED_CANDIDATES = 200
BEST_LISTED = 20


def folder(staging: str) -> Path:
    """The job's report folder (a job's staging tables are named job<id>_…)."""
    return Path(settings.MEDIA_ROOT) / REPORTS / staging.split("_", 1)[0]


def html_name(lang: str) -> str:
    return f"report.{lang}.html"


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


def _table(rows: list[list], head: list[str], row_class=None) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join(f"<tr{' class=' + repr(row_class(i)) if row_class and row_class(i) else ''}>"
                   + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for i, row in enumerate(rows))
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _list(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines if line) + "</ul>"


def _factor_label(name: str) -> str:
    from web.decision_strings import decision_strings  # the wizard's factor names, translated like the page

    return decision_strings().get(f"factor_{name}", name)


def context_areas(user) -> dict | None:
    """The first place layer (districts) the user may see, simplified, in lon/lat: the report's offline basemap."""
    layers = places.place_layers(user)
    if not layers:
        return None
    layer, name = layers[0]
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {}::text, ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(geom, 10), 4326),"
                            " 6) FROM {}").format(sql.Identifier(name), sql.Identifier(DATA_SCHEMA, layer.table_name)))
        rows = cur.fetchall()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": n}, "geometry": json.loads(g)} for n, g in rows if g]}


def _map(found, rank, score, lon, lat, sites, pool, existing, spec, words, context) -> folium.Map:
    best = np.flatnonzero((rank > 0) & (rank <= MAPPED_CANDIDATES))
    centre = [float(np.mean(lat[best])) if len(best) else float(np.mean(lat)),
              float(np.mean(lon[best])) if len(best) else float(np.mean(lon))]
    fmap = offline_map.new_map(location=centre, zoom_start=13, control_scale=True)
    if context:
        folium.GeoJson(context, name=_("行政區界"), style_function=lambda _f: {
            "color": "#777", "weight": 1, "fillColor": "#f4f1ea", "fillOpacity": 0.6},
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False)).add_to(fmap)
    ranked = folium.FeatureGroup(name=_("分數最高的前 {n} 名候選地").format(n=MAPPED_CANDIDATES)).add_to(fmap)
    for i in best:
        folium.CircleMarker([lat[i], lon[i]], radius=4, color="#7f2704", weight=1, fill=True,
                            fill_opacity=0.3 + 0.7 * float(score[i]),
                            tooltip=_("第 {rank} 名，分數 {score}").format(rank=rank[i], score=f"{score[i]:.3f}")
                            ).add_to(ranked)
    if sites is None:
        return fmap
    if len(existing["fid"]):
        kept = folium.FeatureGroup(name=_("既有同類場館")).add_to(fmap)
        ex_lon, ex_lat = transformer(spec["srid"], 4326).transform(existing["xy"][:, 0], existing["xy"][:, 1])
        for x, y in zip(ex_lon, ex_lat, strict=True):
            if spec.get("radius") and spec["model"] == "covering":
                folium.Circle([y, x], radius=spec["radius"], color="#616161", weight=1, fill=False).add_to(kept)
            folium.CircleMarker([y, x], radius=6, color="#fff", weight=2, fill=True, fill_color="#616161",
                                fill_opacity=1, tooltip=_("既有同類場館")).add_to(kept)
    outlines = spec.get("outlines")
    if outlines:  # travel time: where each site is reached from within the cutoff, on the roads
        reach = folium.FeatureGroup(name=_("{minutes} 分鐘內可到達的範圍").format(
            minutes=f"{outlines['minutes']:g}")).add_to(fmap)
        for shape, colour in [*((g, "#1565c0") for g in outlines["new"]),
                              *((g, "#616161") for g in outlines["existing"])]:
            if shape:
                folium.GeoJson(shape, style_function=lambda _f, c=colour: {
                    "color": c, "weight": 2, "fill": True, "fillOpacity": 0.06}).add_to(reach)
    chosen = folium.FeatureGroup(name=_("選定新場址")).add_to(fmap)
    for order, j in enumerate(sites.chosen, start=1):
        i = pool[j]
        if spec.get("radius") and spec["model"] == "covering":
            folium.Circle([lat[i], lon[i]], radius=spec["radius"], color="#1565c0", weight=2, fill=False).add_to(chosen)
        folium.Marker([lat[i], lon[i]], tooltip=f"{order}. {words['sites'][order - 1]}", icon=folium.DivIcon(
            html=f"<div class='site-pin'>{order}</div>", icon_size=(24, 24), icon_anchor=(12, 12))).add_to(chosen)
    return fmap


STYLE = """<style>
.report{font:14px/1.5 "Noto Sans CJK TC","Noto Sans TC",sans-serif;max-width:64em;margin:1em auto;padding:0 1em}
.report table{border-collapse:collapse;margin:.5em 0}.report td,.report th{border:1px solid #ccc;padding:2px 8px;
text-align:left}.report tr.chosen{background:#e3f2fd}.report .sum{font-weight:bold}
.folium-map{height:60vh!important;position:relative!important}
.site-pin{width:24px;height:24px;border-radius:50%;background:#1565c0;color:#fff;font:bold 13px/24px sans-serif;
text-align:center;border:2px solid #fff;box-shadow:0 0 3px #000}
</style>"""


def _numbers(found, rank, score, summary, sites, words) -> str:
    feasible = _("{all} 筆中 {feasible} 筆符合限制").format(all=f"{summary['candidates']:,}",
                                                     feasible=f"{summary['feasible']:,}")
    parts = [f"<div class='report'><h1>{html.escape(_('公有場館選址報告'))}</h1>",
             f"<p>{html.escape(feasible)}</p>",
             _list(words["exclusions"]), f"<h2>{html.escape(_('評估因子與權重'))}</h2>",
             _table([[_factor_label(n), w] for n, w in summary["weights"].items()], [_("因子"), _("權重")])]
    a = summary.get("allocation")
    if a:
        quality = _("已證明最佳解") if a["status"] == "optimal" else (
            _("最佳性差距 ≤ {gap}%").format(gap=f"{100 * a['gap']:.3f}") if a["gap"] is not None
            else _("貪婪法求解：未證明最佳"))
        parts += [f"<h2>{html.escape(_('選定場址'))}</h2>", f"<p>{html.escape(quality)}</p>",
                  _list([words.get("reach", ""), words.get("outcome", ""), words.get("unreachable", "")])]
        money = words.get("accounting")
        if money:
            rows = [[_("既有設施已涵蓋"), "", "", money["already"], ""]] + [
                [f"{n}. {site}", a["site_ranks"][n - 1], f"{score[found.fid == fid][0]:.3f}" if np.any(
                    found.fid == fid) else "", money["gains"][n - 1], money["cumulative"][n - 1]]
                for n, (site, fid) in enumerate(zip(words["sites"], a["chosen"], strict=True), start=1)]
            rows.append([_("合計涵蓋"), "", "", money["covered"], ""])
            parts += [_table(rows, [_("場址"), _("分數名次"), _("分數"), _("增加涵蓋"), _("累計")],
                             row_class=lambda i: "sum" if i == len(rows) - 1 else None),
                      f"<p class='sum'>{html.escape(money['sum'])}</p>",
                      f"<p>{html.escape(_('未涵蓋需求'))}：{html.escape(money['uncovered'])}；"
                      f"{html.escape(_('需求總量'))}：{html.escape(money['total'])}；"
                      f"{html.escape(_('再增設一處'))}：{html.escape(money['next'])}</p>",
                      _list(words.get("unique", []))]
        else:
            cut = _("減少的總加權行駛時間（分鐘）") if a.get("unit") == "min" else _("減少的總加權距離（公尺）")
            parts.append(_table([[f"{n}. {site}", f"{g:,.0f}"] for n, (site, g) in enumerate(
                zip(words["sites"], a["marginal_gain"], strict=True), start=1)], [_("場址"), cut]))
        if words.get("note"):
            parts.append(f"<p><small>{html.escape(words['note'])}</small></p>")
        parts += [f"<h2>{html.escape(_('排名前 10 的候選地'))}</h2>",
                  _table([[t["rank"], w["site"], f"{t['score']:.3f}", w["chosen"]] for t, w in zip(
                      a["top"], words["top"], strict=True)], [_("名次"), _("候選地"), _("分數"), _("選定")],
                      row_class=lambda i: "chosen" if a["top"][i]["pick_order"] else None)]
        if words.get("why_intro"):
            parts += [f"<p>{html.escape(words['why_intro'])}</p>", _list([w["why"] for w in words["top"]])]
    listed = np.flatnonzero((rank > 0) & (rank <= BEST_LISTED))
    top = [[int(rank[i]), _("宗地 {fid}").format(fid=int(found.fid[i])), f"{score[i]:.3f}",
            *[f"{found.contribution[n][i]:.3f}" for n in found.contribution]] for i in listed[np.argsort(rank[listed])]]
    parts += [f"<h2>{html.escape(_('分數最高的前 {n} 名與各因子貢獻').format(n=BEST_LISTED))}</h2>",
              _table(top, [_("名次"), _("候選地"), _("分數"), *[_factor_label(n) for n in found.contribution]]),
              f"<p>{html.escape(_('完整排名：candidates.csv'))}</p></div>"]
    return "".join(parts)


def write(where: Path, found, summary: dict, sites, pool, existing, srid: int, spec: dict | None,
          context: dict | None) -> dict:
    where.mkdir(parents=True, exist_ok=True)
    rank, score = found.rank(), found.score
    chosen_at = {}
    if sites is not None:
        for order, (j, g) in enumerate(zip(sites.chosen, sites.marginal_gain, strict=True), start=1):
            chosen_at[int(pool[j])] = (order, round(g, 3))
    _csv(where / "candidates.csv", found, rank, chosen_at)
    lon, lat = transformer(srid, 4326).transform(found.xy[:, 0], found.xy[:, 1])
    for lang, _name in settings.LANGUAGES:
        with translation.override(lang):
            words = summary["wording"][lang]
            outlines = summary.get("allocation", {}).get("reach_outlines")
            fmap = _map(found, rank, score, lon, lat, sites, pool, existing,
                        {**(spec or {}), "srid": srid, "outlines": outlines}, words, context)
            folium.LayerControl(collapsed=False).add_to(fmap)
            fmap.get_root().header.add_child(folium.Element(STYLE))
            fmap.get_root().html.add_child(folium.Element(_numbers(found, rank, score, summary, sites, words)))
            page = offline_map.render(fmap, _("公有場館選址報告"), lang)
            (where / html_name(lang)).write_text(page, encoding="utf-8")
    media.put_folder(where)  # the report page may be asked of another web server (MEDIA_STORAGE=s3)
    return {"html": f"{REPORTS}/{where.name}/report.html", "csv": f"{REPORTS}/{where.name}/candidates.csv"}
