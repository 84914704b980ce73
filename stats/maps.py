"""An indicator on the map: the boundary's polygons with the indicator's value, published as a vector layer with a
graduated style (layers.styles: quantiles, equal interval, natural breaks …) whose legend reads the indicator's
title and unit. Everything after that — tiles, legend, WMS, identify, print — is the layer's.

The layer is derived from the statistics table and the boundary (Layer.derive_from): it is never more visible than
either. Publishing again brings a new version of the same layer (another period, other classes).
"""

from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2 import sql

from geo.messages import text as note
from jobs import control
from jobs.models import Job
from jobs.reporting import JobReporter
from layers import styles
from layers.importing import pipeline
from layers.importing.sources import Source
from layers.models import DATA_SCHEMA, STAGING_SCHEMA, Layer, Style

from . import indicators
from .models import Indicator


def publish(indicator: Indicator, user, period: date | None = None, method: str = "quantiles",
            class_count: int = 5, ramp: str = "YlOrRd") -> Layer:
    join = indicator.join
    boundary = join.boundary
    if not boundary.geometry_type or "Polygon" not in boundary.geometry_type:
        raise indicators.IndicatorProblem("boundary", f"{boundary.slug!r} has no polygons to draw")
    answer = indicators.values(indicator, "area", period)
    found = [v for v in answer["values"] if v["value"] is not None]
    if len({v["value"] for v in found}) < 2:
        raise indicators.IndicatorProblem("period", "fewer than two different values: nothing to classify")
    when = answer["period"] or ""
    when = when[:7] if when.endswith("-01") else when  # a month's figures: 2017-06
    title = f"{indicator.title_zh}（{when}）"
    slug = f"ind-{indicator.slug}"[:50]
    job = control.create(Job.Kind.ANALYSIS, title, {
        "slug": slug, "title": title, "title_en": f"{indicator.title_en} ({when})"
        if indicator.title_en else "", "mode": "upsert", "visibility": join.table.layer.visibility,
        "owner_agency": join.table.layer.owner_agency_id, "analysis": "indicator-map"}, user)
    reporter = JobReporter(job)
    reporter.start(died=note("工作已停止；沒有留下任何結果"))
    try:
        return _publish(indicator, user, job, reporter, answer, found, title, (method, class_count, ramp))
    except BaseException as exc:
        reporter.fail(note("{text}", text=str(exc)[:300]))  # removes the staging table
        raise


def _publish(indicator, user, job, reporter, answer, found, title, classing) -> Layer:
    join = indicator.join
    boundary = join.boundary
    staging = f"{job.staging_prefix}0"
    keyed = join.key != "name"
    target = sql.SQL("b.{}::text").format(sql.Identifier(join.boundary_column)) if keyed else sql.SQL("b.fid")
    values = sql.SQL("unnest(%s::text[], %s::int[], %s::float8[], %s::float8[], %s::float8[])"
                     " AS v(k, fid, value, numerator, denominator)")
    with connection.cursor() as cur:
        cur.execute(sql.SQL(
            "CREATE TABLE {staging} AS SELECT (row_number() OVER ())::int AS fid, b.geom, v.k AS area_key,"
            " v.value, v.numerator, v.denominator FROM {boundary} b LEFT JOIN {values} ON {target} = {v}").format(
            staging=sql.Identifier(STAGING_SCHEMA, staging), boundary=sql.Identifier(DATA_SCHEMA, boundary.table_name),
            values=values, target=target, v=sql.SQL("v.k") if keyed else sql.SQL("v.fid")),
            [[v["key"] for v in found], [v["boundary_fid"] for v in found], [v["value"] for v in found],
             [v["numerator"] for v in found], [v["denominator"] for v in found]])
    pipeline._finish(staging, True)
    prepared = pipeline.Prepared(Source(None, title, "analysis"), "vector", staging, boundary.feature_count,
                                 boundary.geometry_type, [], f"EPSG:{settings.WORKING_SRID}",
                                 bounds=boundary.native_extent)
    with transaction.atomic():
        layer = pipeline.publish(job, prepared)
        if not layer.source_links.exists():
            layer.derive_from([join.table.layer, boundary])
        unit, unit_en = indicators.unit_of(indicator)
        num = indicators.attribute(join, indicator.numerator) or {}
        den = indicators.attribute(join, indicator.denominator) if indicator.denominator else None
        described = {"value": {"label": indicator.title_zh, "label_en": indicator.title_en or indicator.title_zh,
                               "unit": unit, "unit_en": unit_en, "kind": "count" if indicator.formula == "value"
                               and num.get("kind") == "count" else "ratio", "decimals": indicator.decimals,
                               "aggregate": "none"},
                     "numerator": {k: num.get(k) for k in ("label", "label_en", "unit", "unit_en", "kind", "decimals")},
                     "area_key": {"label": "地區代碼", "label_en": "Area code", "kind": "identifier"}}
        if den:
            described["denominator"] = {k: den.get(k) for k in ("label", "label_en", "unit", "unit_en", "kind",
                                                                "decimals")}
        layer.attributes = [{**a, **{k: v for k, v in described.get(a["name"], {}).items() if v is not None}}
                            for a in layer.attributes]
        layer.tile_attributes = ["value", "area_key"]  # the classes are drawn at every zoom, not only from 14 on
        layer.provenance = {"analysis": "indicator-map", "indicator": indicator.slug, "formula":
                            indicators.formula_text(indicator), "period": answer["period"],
                            "boundary": boundary.slug, "boundary_version": join.boundary_version_number,
                            "unmatched": answer["unmatched"], "by": getattr(user, "username", ""),
                            "at": timezone.now().isoformat()}
        layer.save()
        style, _created = Style.objects.get_or_create(layer=layer)
        style.kind, style.attribute = Style.Kind.GRADUATED, "value"
        style.stroke_color, style.stroke_width, style.opacity = "#8c8c8c", 0.4, 0.85  # the fills speak, not edges
        style.method, style.class_count, style.ramp = classing
        style.classes = styles.compute_classes(style)
        style.save()
        reporter.finish({"features": {layer.slug: boundary.feature_count}, "areas_with_value": len(found)})
    return Layer.objects.select_related("style").get(pk=layer.pk)
