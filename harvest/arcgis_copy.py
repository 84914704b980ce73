"""A local PostGIS copy of a harvested ArcGIS REST FeatureServer layer: its features read page after page
(`query` with resultOffset / resultRecordCount, in lon/lat: outSR=4326), written as one GeoJSON file and brought in
through the platform's own import (layers.importing: the table, attributes, style, versions, WMS/WFS publishing) —
a new layer the first time, a new version of it at each refresh (every successful run of its source).

A server that cannot answer GeoJSON (before ArcGIS 10.4) is read as Esri JSON and its geometries converted here:
points, multipoints, polylines (paths) and polygons (rings: clockwise ones outer, the others holes of the outer
ring that holds them)."""

import json
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from geo import media
from geo.remote import Fetcher, RemoteError
from layers.importing import jobs

from .models import HarvestedLayer
from .readers import ReadError, json_body, shown

PAGE = 1000
MAX_FEATURES = 1_000_000


def features(fetcher: Fetcher, layer_url: str) -> list[dict]:
    """Every feature of the layer as GeoJSON features in lon/lat."""
    info = json_body(fetcher.get(layer_url, params={"f": "json"}), "ArcGIS layer")
    page = min(int(info.get("maxRecordCount") or PAGE), PAGE)
    order = info.get("objectIdField") or next((f["name"] for f in info.get("fields") or []
                                               if f.get("type") == "esriFieldTypeOID"), None)
    geojson = "geoJSON" in str(info.get("supportedQueryFormats") or "geoJSON").replace(" ", "").split(",") or \
        "geojson" in str(info.get("supportedQueryFormats") or "").lower()
    found, offset = [], 0
    while True:
        params = {"where": "1=1", "outFields": "*", "returnGeometry": "true", "outSR": "4326",
                  "resultOffset": str(offset), "resultRecordCount": str(page), "f": "geojson" if geojson else "json"}
        if order:
            params["orderByFields"] = order
        body = json_body(fetcher.get(f"{layer_url}/query", params=params), "ArcGIS query")
        batch = body.get("features")
        if not isinstance(batch, list):
            raise ReadError(f"{shown(layer_url)}/query: no 'features' list")
        found += batch if geojson else [_esri_feature(f, layer_url) for f in batch]
        if len(found) > MAX_FEATURES:
            raise ReadError(f"{shown(layer_url)}: over {MAX_FEATURES:,} features; not copied")
        more = body.get("exceededTransferLimit") or (body.get("properties") or {}).get("exceededTransferLimit")
        if not batch or not (more or len(batch) >= page):
            return found
        offset += len(batch)


def _esri_feature(feature: dict, where: str) -> dict:
    geometry = feature.get("geometry") or None
    return {"type": "Feature", "properties": feature.get("attributes") or {},
            "geometry": _esri_geometry(geometry, where) if geometry else None}


def _ring_area(ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:], strict=False)) / 2


def _esri_geometry(g: dict, where: str) -> dict:
    if "x" in g and "y" in g:
        return {"type": "Point", "coordinates": [g["x"], g["y"]]}
    if "points" in g:
        return {"type": "MultiPoint", "coordinates": g["points"]}
    if "paths" in g:
        return {"type": "MultiLineString", "coordinates": g["paths"]}
    if "rings" in g:
        from django.contrib.gis.geos import LinearRing, Polygon

        polygons = []
        for ring in g["rings"]:
            if _ring_area(ring) < 0:  # clockwise: an outer ring (Esri's rule)
                polygons.append([ring])
            else:
                hole = LinearRing([tuple(p[:2]) for p in ring])
                holder = next((p for p in polygons if Polygon(LinearRing([tuple(q[:2]) for q in p[0]]))
                               .contains(hole)), polygons[-1] if polygons else None)
                if holder is None:
                    polygons.append([ring[::-1]])
                else:
                    holder.append(ring)
        return {"type": "MultiPolygon", "coordinates": polygons}
    raise ReadError(f"{shown(where)}: a geometry of no known Esri type ({', '.join(sorted(g))})")


def copy(link: HarvestedLayer, user=None):
    """Read the layer's features now and start the import job that writes them (the job's id is on the link)."""
    from .runner import fetcher

    service = link.layer.service
    if service.get("type") != "arcgis_feature":
        raise ValueError(f"{link.layer.slug} is not an ArcGIS FeatureServer layer")
    with fetcher() as client:
        found = features(client, service["url"])
    folder = Path(settings.DATA_DIR) / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    name = f"{link.layer.slug}-copy.geojson"
    (folder / name).write_text(json.dumps({"type": "FeatureCollection", "features": found}, ensure_ascii=False),
                               encoding="utf-8")
    media.put_folder(folder)  # for an import worker on another machine (MEDIA_STORAGE=s3)
    source = link.source
    options = {"mode": "upsert", "crs": "EPSG:4326", "title": f"{link.layer.title_zh}（本地副本）",
               "visibility": source.visibility, "source": f"{link.layer.source}（{service['url']}）"[:300]}
    existing = link.local_copy()
    if existing is not None:
        options["layer"] = existing.slug
    else:
        options["slug"] = f"{link.layer.slug[:44]}-copy"
        if source.theme_id:
            options["theme"] = source.theme.slug
        if source.owner_agency_id:
            options["owner_agency"] = source.owner_agency_id
    job = jobs.create(folder / name, name, options, user or source.created_by)
    link.copy_job, link.copied_at, link.copy_error, link.copy_features = job, timezone.now(), "", len(found)
    link.save(update_fields=["copy_job", "copied_at", "copy_error", "copy_features"])
    transaction.on_commit(lambda: jobs.submit(job))
    return job


def refresh(source) -> list[str]:
    """After a run: a new version of every local copy of the source (its failures noted on the link, the run is
    still good). Returns a line per copy for the report."""
    notes = []
    for link in source.layers.filter(copy_wanted=True).select_related("layer", "copy_layer"):
        try:
            job = copy(link)
            notes.append(f"{link.layer.slug}: {link.copy_features:,} features, import job {job.pk}")
        except RemoteError as exc:
            link.copy_error = str(exc)[:1000]
            link.save(update_fields=["copy_error"])
            notes.append(f"{link.layer.slug}: {exc}")
    return notes
