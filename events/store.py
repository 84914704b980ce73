"""Writing events: a new event layer through the layer import's own path (staging table by layers.pgload, swapped
in and catalogued by layers.importing.pipeline.publish), and new or updated cases into an event layer's table
(a file into an existing layer, a hotline system's push): a known case number updates that case's status and
times, never adds a second feature. Everything of one call happens in one transaction."""

import numpy as np
import shapely
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2 import sql

from editing import live
from geo.crs import TAIWAN_LONLAT_BOUNDS, transformer
from jobs import control
from jobs.models import Job
from layers import catalog
from layers.importing.pipeline import Prepared, publish
from layers.importing.sources import Source
from layers.models import DATA_SCHEMA, STAGING_SCHEMA, Layer
from layers.naming import column_names
from layers.pgload import EWKB, finish_table_auto, load_rows
from layers.serving import tilecache

from .models import Category, EventLayer, UnlocatedEvent
from .records import FIELD_NAMES, FIELDS, TIME_FIELD, TYPES, Event

UPDATED_ON_PUSH = ("status", "dispatched_at", "closed_at")


def locate(events: list[Event], user) -> None:
    """Coordinates first (WGS84 lon/lat or TWD97 TM2), else the address through the geocoder (match level kept);
    what neither places gets its reason."""
    from layers.geocoding import index
    from layers.geocoding.geocoder import Geocoder

    srid = settings.WORKING_SRID
    to_working = {"lonlat": transformer(4326, srid), "twd97": transformer(3826, srid)}
    to_lonlat = transformer(srid, 4326)
    need_address = []
    minlon, minlat, maxlon, maxlat = TAIWAN_LONLAT_BOUNDS
    for e in events:
        if e.raw_x and e.raw_y:
            try:
                x, y = float(e.raw_x.replace(",", "")), float(e.raw_y.replace(",", ""))
            except ValueError:
                x = y = None
            if x is not None and x != 0 and y != 0 and np.isfinite(x) and np.isfinite(y):
                lon, lat = (x, y) if e.level == "lonlat" else transformer(3826, 4326).transform(x, y)
                if minlon <= lon <= maxlon and minlat <= lat <= maxlat:
                    e.x, e.y = to_working[e.level].transform(x, y)
                    e.lon, e.lat = lon, lat
                    e.level = "coordinates"
                    continue
        given = bool(e.raw_x and e.raw_y)
        e.level = ""
        if e.values.get("address"):
            need_address.append(e)
        else:
            e.unlocated = "bad_coordinates" if given else "no_place"
    if not need_address:
        return
    layers = index.address_layers(Layer.objects.visible_to(user))
    if not layers:
        for e in need_address:
            e.unlocated = "no_address_layer"
        return
    matches = Geocoder(layers).geocode_many([e.values["address"] for e in need_address])
    for e, m in zip(need_address, matches, strict=True):
        if m is None:
            e.unlocated = "address_not_found"
        else:
            e.x, e.y, e.level = m.x, m.y, m.level
            e.lon, e.lat = to_lonlat.transform(m.x, m.y)


def _columns(events: list[Event], extra_names: dict[str, str]) -> dict:
    columns = {name: (TYPES[name], [e.values.get(name) if name != "geocode_level" else e.level for e in events])
               for name in FIELD_NAMES}
    for source, name in extra_names.items():
        columns[name] = ("text", [e.extras.get(source) or None for e in events])
    return columns


def extra_names(sources: list[str]) -> dict[str, str]:
    names = column_names(list(sources) + FIELD_NAMES)[:len(sources)]
    return dict(zip(sources, names, strict=True))


def create_layer(events: list[Event], name: str, options: dict, user, categories: dict) -> tuple[Layer, Job]:
    """A new event layer of the located events (a new catalog layer with its first version), its category list
    and its unlocated events; all or nothing."""
    located = [e for e in events if not e.unlocated]
    extras = extra_names(list(events[0].extras) if events else [])
    job = control.create(Job.Kind.IMPORT, name, {**options, "events": True}, user)
    staging = f"{job.staging_prefix}0"
    srid = settings.WORKING_SRID
    geoms = shapely.points([e.x for e in located], [e.y for e in located])
    try:
        with transaction.atomic(), connection.cursor() as cur:
            load_rows(cur.cursor, STAGING_SCHEMA, staging, _columns(located, extras),
                      EWKB.from_geometries(geoms, srid), "Point", srid)
        finish_table_auto(STAGING_SCHEMA, staging, True)
        labels = {n: zh for n, _t, zh, _en in FIELDS} | {v: k for k, v in extras.items()}
        attributes = [{"name": n, "type": TYPES.get(n, "text"), "label": labels[n],
                       "source": next((k for k, v in extras.items() if v == n), "")} for n in [*FIELD_NAMES,
                                                                                          *extras.values()]]
        bounds = [float(v) for v in shapely.total_bounds(geoms)]
        prepared = Prepared(Source(None, name, "csv"), "vector", staging, len(located), "Point", attributes,
                            f"EPSG:{srid}", [], bounds)
        with transaction.atomic():
            layer = publish(job, prepared)
            english = {n: en for n, _t, _zh, en in FIELDS}
            for attr in layer.attributes:
                if attr["name"] in english:
                    attr["label_en"] = english[attr["name"]]
            layer.time_attribute = TIME_FIELD
            layer.tile_attributes = ["case_no", "reported_at", "category", "category_label", "status"]
            layer.save(update_fields=["attributes", "time_attribute", "tile_attributes"])
            event_layer = EventLayer.objects.create(layer=layer)
            set_categories(event_layer, categories)
            keep_unlocated(event_layer, [e for e in events if e.unlocated], name)
            Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress=100,
                                                 finished_at=timezone.now(),
                                                 counts={"features": {layer.slug: len(located)},
                                                         "unlocated": len(events) - len(located)})
    except BaseException:
        catalog.drop_staging_table(staging)
        Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, finished_at=timezone.now())
        raise
    return layer, job


def set_categories(event_layer: EventLayer, categories: dict) -> None:
    have = set(event_layer.categories.values_list("code", flat=True))
    start = event_layer.categories.count()
    Category.objects.bulk_create([Category(event_layer=event_layer, code=code, label_zh=zh, label_en=en,
                                           order=start + i)
                                  for i, (code, (zh, en)) in enumerate(categories.items()) if code not in have])


def keep_unlocated(event_layer: EventLayer, events: list[Event], source: str) -> None:
    """Record unlocated events; a case number already kept is updated, not listed twice."""
    for e in events:
        # the list's columns are bounded (a long status is kept whole in `values`)
        fields = dict(reported_at=e.values.get("reported_at"), category=e.values.get("category", "")[:60],
                      status=e.values.get("status", "")[:60], address=e.values.get("address", "")[:300],
                      reason=e.unlocated, row=e.row, source=source[:300],
                      values={k: str(v) if v is not None else None for k, v in {**e.values, **e.extras}.items()})
        case = e.values.get("case_no") or ""
        if case:
            UnlocatedEvent.objects.update_or_create(event_layer=event_layer, case_no=case, defaults=fields)
        else:
            UnlocatedEvent.objects.create(event_layer=event_layer, **fields)


def upsert(event_layer: EventLayer, events: list[Event], source: str, by: str = "") -> dict:
    """New cases in, known ones (same case number) updated: status, dispatch and close times. Returns counts.
    The caller holds the transaction; when it commits, open maps hear of the batch once (editing.live, as the
    user `by`)."""
    layer = event_layer.layer
    table = sql.Identifier(DATA_SCHEMA, layer.table_name)
    names = {a["name"] for a in layer.attributes}
    located = [e for e in events if not e.unlocated]
    counts = {"added": 0, "updated": 0, "unlocated": 0}
    with connection.cursor() as cur:
        cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table))
        cases = [e.values["case_no"] for e in located if e.values.get("case_no")]
        cur.execute(sql.SQL("SELECT case_no, fid FROM {} WHERE case_no = ANY(%s)").format(table), [cases])
        known = dict(cur.fetchall())
        cur.execute(sql.SQL("SELECT coalesce(max(fid), 0) FROM {}").format(table))
        next_fid = cur.fetchone()[0] + 1
        extra = extra_names(list(located[0].extras) if located else [])
        changed = []  # fids of the cases added or updated: the area whose tiles changed
        for e in located:
            if e.values.get("case_no") in known:
                _update(cur, table, e)
                changed.append(known[e.values["case_no"]])
                counts["updated"] += 1
                continue
            row = {n: e.values.get(n) for n in FIELD_NAMES if n != "geocode_level"} | {"geocode_level": e.level}
            row |= {extra[k]: v or None for k, v in e.extras.items() if extra.get(k) in names}
            cols = [n for n in row if n in names]
            cur.execute(sql.SQL("INSERT INTO {} (fid, {}, geom) VALUES (%s, {}, ST_SetSRID(ST_MakePoint(%s, %s), %s))")
                        .format(table, sql.SQL(", ").join(map(sql.Identifier, cols)),
                                sql.SQL(", ").join(sql.Placeholder() * len(cols))),
                        [next_fid, *[row[c] for c in cols], e.x, e.y, layer.srid])
            if e.values.get("case_no"):
                known[e.values["case_no"]] = next_fid
            changed.append(next_fid)
            next_fid += 1
            counts["added"] += 1
        # a case located now is no longer unlocated
        UnlocatedEvent.objects.filter(event_layer=event_layer, case_no__in=cases).delete()
        # an unlocated update of a case already on the map updates it there
        for e in [e for e in events if e.unlocated]:
            fid = known.get(e.values.get("case_no")) or _on_map(cur, table, e.values.get("case_no"))
            if fid:
                _update(cur, table, e)
                changed.append(fid)
                counts["updated"] += 1
            else:
                keep_unlocated(event_layer, [e], source)
                counts["unlocated"] += 1
        if counts["added"] or counts["updated"]:
            cur.execute(sql.SQL("SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), "
                                "ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) FROM {}").format(table))
            n, *bounds = cur.fetchone()
            layer.feature_count = n
            if None not in bounds:
                layer.native_extent = [float(b) for b in bounds]
                layer.extent = catalog.extent_lonlat(layer.native_extent, layer.srid)
            layer.save(update_fields=["feature_count", "native_extent", "extent", "updated_at"])
            transaction.on_commit(lambda: tilecache.invalidate(layer))
            cur.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) "
                                "AS e FROM {} WHERE fid = ANY(%s)) x").format(table), [changed])
            box = cur.fetchone()
            lonlat = None if None in box else [round(v, 6) for v in catalog.extent_lonlat(
                [float(b) for b in box], layer.srid).extent]
            live.announce_batch(layer, by, lonlat, len(changed))
    return counts


def _update(cur, table, event: Event) -> None:
    """A known case's status and times from its newer record (its place, category and time stay)."""
    cur.execute(sql.SQL("UPDATE {} SET {} WHERE case_no = %s").format(table, sql.SQL(", ").join(
        sql.SQL("{} = %s").format(sql.Identifier(n)) for n in UPDATED_ON_PUSH)),
        [event.values.get(n) for n in UPDATED_ON_PUSH] + [event.values["case_no"]])


def _on_map(cur, table, case_no) -> int | None:
    """The fid of the case on the map, if it is."""
    if not case_no:
        return None
    cur.execute(sql.SQL("SELECT fid FROM {} WHERE case_no = %s").format(table), [case_no])
    found = cur.fetchone()
    return found[0] if found else None
