"""One harvest run of one source: read what the remote offers (harvest.readers), then, in one transaction, bring the
source's catalog entries in step — new layers created, changed ones updated, vanished ones removed — and write the
run's report (counts, the slugs of each, and the reason for every layer skipped).

Every layer created, changed or removed has its own audit entry (who: the source's registrant, else the system;
what; when), marked with the source and the run; a run's entries are appended to the audit chain together once its
transaction commits (audit.events.batched), not one transaction and chain lock per layer.

A remote that is slow, dead, malformed or too big fails only its own run, with the reason, and changes nothing in
the catalog: the reading is done before anything is written. A remote that suddenly offers no layers at all while
the catalog holds some of its layers is taken as broken, not as "everything vanished"."""

import logging

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from audit import actors, events
from geo.remote import Fetcher, RemoteError
from layers.importing.pipeline import create_with_free_slug
from layers.models import Layer

from .models import HarvestedLayer, HarvestRun, HarvestSource
from .readers import READERS, Entry

log = logging.getLogger(__name__)
LISTED = 200  # slugs named per kind in a report (the counts are complete)
LAYER_FIELDS = {"contact_organisation", "contact_name", "contact_email", "contact_phone", "license", "lineage",
                "source", "topic_category", "update_frequency", "scale_denominator", "resolution_m",
                "temporal_start", "temporal_end", "creation_date", "revision_date"}


def fetcher() -> Fetcher:
    return Fetcher(settings.HARVEST_TIMEOUT_S, settings.HARVEST_MAX_BYTES, retries=settings.HARVEST_RETRIES,
                   backoff_s=settings.HARVEST_BACKOFF_S, user_agent="civgis-harvester")


def start(source: HarvestSource, trigger: str) -> HarvestRun:
    """A queued run for the worker (harvest.tasks.run)."""
    from .tasks import run as run_task

    run = HarvestRun.objects.create(source=source, trigger=trigger)
    transaction.on_commit(lambda: run_task.delay(run.pk))
    return run


def execute(run: HarvestRun) -> HarvestRun:
    source = run.source
    run.state, run.started_at = HarvestRun.State.RUNNING, timezone.now()
    run.save(update_fields=["state", "started_at"])
    client = fetcher()
    try:
        offer = READERS[source.kind](client, source.url)
        held = source.layers.count()
        if not offer.entries and held:
            raise RemoteError(f"{source.url}: offers no layers now (the catalog holds {held:,} of its layers); "
                              "taken as a broken answer, nothing was removed")
        with events.batched(harvest_source=source.slug, harvest_run=run.pk), transaction.atomic():
            report = apply(source, offer.entries)
        report["skipped"] = offer.skipped[:LISTED]
        if source.kind == HarvestSource.Kind.ARCGIS:
            from .arcgis_copy import refresh

            report["copies"] = refresh(source)
        run.found, run.skipped = len(offer.entries), len(offer.skipped)
        run.new, run.changed, run.unchanged, run.vanished = (report.pop(f"{k}_count") for k in
                                                              ("new", "changed", "unchanged", "vanished"))
        run.report, run.state = report, HarvestRun.State.OK
    except RemoteError as exc:
        run.state, run.error = HarvestRun.State.FAILED, str(exc)[:2000]
    except Exception as exc:  # noqa: BLE001 - whatever else broke is this run's failure, not the worker's
        log.exception("harvest run %s of %s", run.pk, source.slug)
        run.state, run.error = HarvestRun.State.FAILED, f"the run broke off ({type(exc).__name__}); see the log"
    finally:
        client.close()
    run.requests, run.finished_at = client.attempts, timezone.now()
    run.save()
    return run


def apply(source: HarvestSource, entries: list[Entry]) -> dict:
    held = {h.remote_id: h for h in source.layers.select_related("layer")}
    report = {"new": [], "changed": [], "vanished": [], "new_count": 0, "changed_count": 0, "unchanged_count": 0,
              "vanished_count": 0}
    seen = set()
    now = timezone.now()
    for entry in entries:
        if entry.remote_id in seen:
            continue
        seen.add(entry.remote_id)
        fingerprint = entry.fingerprint()
        link = held.get(entry.remote_id)
        if link is None:
            layer = create_with_free_slug(Layer.objects.free_slug(_slug(source, entry)), with_table=False,
                                          kind=Layer.Kind.SERVICE, ogc_status=Layer.OgcStatus.NOT_SERVED,
                                          visibility=source.visibility, owner_agency=source.owner_agency,
                                          theme=source.theme, created_by=source.created_by, **_fields(source, entry))
            HarvestedLayer.objects.create(source=source, layer=layer, remote_id=entry.remote_id[:300],
                                          fingerprint=fingerprint, harvested_at=now)
            _note(report, "new", layer.slug)
        elif link.fingerprint != fingerprint:
            changed = []
            for name, value in _fields(source, entry).items():
                if getattr(link.layer, name) != value:
                    changed.append(name)
                setattr(link.layer, name, value)
            link.layer.save()
            link.fingerprint, link.harvested_at = fingerprint, now
            link.save(update_fields=["fingerprint", "harvested_at"])
            events.record_layer("change", actors.now_or(source.created_by), link.layer,
                                {"fields": changed, "remote_id": entry.remote_id[:300]})
            _note(report, "changed", link.layer.slug)
        else:
            report["unchanged_count"] += 1
    for remote_id, link in held.items():
        if remote_id not in seen:
            _note(report, "vanished", link.layer.slug)
            events.record_layer("delete", actors.now_or(source.created_by), link.layer,
                                {"kind": link.layer.kind, "remote_id": remote_id, "reason": "gone from the remote"})
            link.layer.delete()
    return report


def _note(report: dict, kind: str, slug: str) -> None:
    report[f"{kind}_count"] += 1
    if len(report[kind]) < LISTED:
        report[kind].append(slug)


def _slug(source: HarvestSource, entry: Entry) -> str:
    tail = slugify(entry.remote_id.replace("/", "-").replace(":", "-"))[:50 - len(source.slug) - 1].strip("-_")
    if not tail:
        tail = entry.fingerprint()[:8]
    return f"{source.slug}-{tail}".lower()


def _fields(source: HarvestSource, entry: Entry) -> dict:
    bbox = entry.bbox
    extent = Polygon.from_bbox(bbox) if bbox and bbox[0] < bbox[2] and bbox[1] < bbox[3] else None
    if extent is not None:
        extent.srid = 4326
    fields = {"title_zh": entry.title[:200], "title_en": entry.title_en[:200], "abstract": entry.abstract,
              "keywords": [k[:60] for k in entry.keywords], "extent": extent, "service": entry.service,
              "source": (entry.fields.get("source") or f"{source.name}（{source.url}）")[:300]}
    for name, value in entry.fields.items():
        if name in LAYER_FIELDS and name != "source":
            fields[name] = value
    return fields
