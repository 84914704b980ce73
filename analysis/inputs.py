"""What an analysis request names: geometries drawn on the map (GeoJSON in some CRS) or stored features,
and layers — each checked, with a 400 that says what is wrong, or a 404 that does not say whether a layer exists."""

import json
import math
from contextlib import contextmanager
from contextvars import ContextVar

import shapely
from django.db import connection
from psycopg2 import sql
from pyproj.exceptions import CRSError
from shapely.validation import explain_validity

from geo import messages
from geo.crs import crs_from_epsg, transform
from layers.models import DATA_SCHEMA, Layer
from layers.serving import usage

MAX_DISTANCE_M = 50_000
_reads: ContextVar[dict | None] = ContextVar("analysis_layer_reads", default=None)


class AnalysisInputError(messages.Worded, ValueError):
    """Bad analysis input (400). The message is a msgid with {named} fields given as keyword arguments (zh-Hant,
    translated in locale/), worded in the reader's language (geo.messages)."""

    status = 400


class LayerNotAvailable(AnalysisInputError):
    """Missing and invisible layers get the same answer: no hint that a restricted layer exists."""

    status = 404


def alternatives(choices) -> dict:
    """"a or b" in the reader's language, for a message parameter."""
    return messages.by_language(**{"zh-hant": "或".join(choices), "en": " or ".join(choices)})


def srid_of(value) -> int:
    text = str(value if value is not None else 4326)
    code = text.rsplit(":", 1)[-1]
    if not code.isdigit():
        raise AnalysisInputError("crs {crs}：請填 EPSG 代碼，例如 4326 或 3826", crs=repr(text))
    try:
        crs_from_epsg(int(code))
    except (ValueError, CRSError) as exc:
        raise AnalysisInputError("crs {crs}：本系統不認得 EPSG:{code} 這個坐標系統", crs=repr(text), code=code) from exc
    return int(code)


def geometry(value, srid: int, what: str = "geometry", polygons_only: bool = False):
    """A shapely geometry from GeoJSON (dict or text); must be non-empty, finite and valid."""
    if value is None:
        raise AnalysisInputError("{what}：缺少圖形（需要 GeoJSON 圖形）", what=what)
    try:
        geom = shapely.from_geojson(json.dumps(value) if isinstance(value, dict) else str(value))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise AnalysisInputError("{what}：不是 GeoJSON 圖形（{reason}）", what=what, reason=str(exc)[:120]) from exc
    if geom is None or geom.is_empty:
        raise AnalysisInputError("{what}：圖形是空的", what=what)
    coords = shapely.get_coordinates(geom)
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise AnalysisInputError("{what}：坐標必須是有限的數字", what=what)
    if srid in (4326, 3824) and not ((abs(coords[:, 0]) <= 180).all() and (abs(coords[:, 1]) <= 90).all()):
        raise AnalysisInputError("{what}：經緯度超出 EPSG:{srid} 的範圍（經度與緯度是否對調了？）",
                                 what=what, srid=srid)
    if not geom.is_valid:
        raise AnalysisInputError("{what}：圖形無效 — {reason}", what=what, reason=explain_validity(geom))
    if polygons_only and geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise AnalysisInputError("{what}：這裡需要面，收到的是 {kind}", what=what, kind=geom.geom_type)
    return geom


def metres(value, what: str, maximum: float) -> float:
    """A positive length in metres, at most `maximum`, or a 400 naming the field."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnalysisInputError("{what}：請填公尺數（數字）", what=what) from None
    if not 0 < number <= maximum:
        raise AnalysisInputError("{what}：{value} 公尺不在 0–{maximum} 公尺之間", what=what, value=f"{number:g}",
                                 maximum=f"{maximum:,g}")
    return number


def number(value, what: str, low: float, high: float, low_open: bool = False) -> float:
    """A number in [low, high] (or (low, high] with low_open), or a 400 naming the field."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise AnalysisInputError("{what}：請填數字", what=what) from None
    if not (low < out if low_open else low <= out) or not out <= high or math.isnan(out):
        raise AnalysisInputError("{what}：{value} 不在 {low}–{high} 之間", what=what, value=f"{out:g}", low=f"{low:,g}",
                                 high=f"{high:,g}")
    return out


def distance_m(value, what: str = "distance") -> float:
    return metres(value, what, MAX_DISTANCE_M)


def layer_lookup(user, slugs, kinds=(Layer.Kind.VECTOR,)):
    """A function slug → Layer over the layers a request names, read in one query: a layer the user may not read
    (or that does not exist) raises LayerNotAvailable, one of another kind AnalysisInputError."""
    found = {layer.slug: layer for layer in Layer.objects.visible_to(user).filter(slug__in=[str(s) for s in slugs])}
    counted = set()

    def lookup(slug) -> Layer:
        layer = found.get(str(slug))
        if layer is None:
            raise LayerNotAvailable("圖層 {slug} 無法提供給您", slug=repr(slug))
        if layer.kind not in kinds:
            raise AnalysisInputError("圖層 {slug} 是 {kind} 圖層；這裡需要 {kinds} 圖層", slug=repr(slug),
                                     kind=layer.kind, kinds=alternatives(kinds))
        reads = _reads.get()
        if reads is not None:
            reads[layer.pk] = layer
        if layer.slug not in counted:  # an analysis reads the layer: counted and audited like a view, once
            counted.add(layer.slug)
            usage.count(layer.slug, "analysis", user)
        return layer
    return lookup


@contextmanager
def recording_reads():
    """Collects every layer an analysis reads (each goes through `layer_lookup`), in a dict pk → Layer: the
    sources of its result, whichever parameter named them (factors, constraints, the DEM, demand, networks …)."""
    reads: dict = {}
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def readable_layer(slug, user, kinds=(Layer.Kind.VECTOR,)) -> Layer:
    return layer_lookup(user, [slug], kinds)(slug)


def stored_feature(layer: Layer, fid) -> tuple:
    """(geometry in the working CRS, srid) of one stored feature."""
    try:
        fid = int(fid)
    except (TypeError, ValueError):
        raise AnalysisInputError("id：請填圖徵的整數 id") from None
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT ST_AsBinary(geom) FROM {} WHERE fid = %s").format(
            sql.Identifier(DATA_SCHEMA, layer.table_name)), [fid])
        row = cur.fetchone()
    if row is None:
        raise AnalysisInputError("圖層 {slug} 沒有圖徵 {fid}", slug=repr(layer.slug), fid=fid)
    return shapely.from_wkb(bytes(row[0])), layer.srid


def subject(data: dict, user, working_srid: int, what: str = "geometry", polygons_only: bool = False):
    """The request's geometry in the working CRS: drawn (`geometry` + `crs`) or stored (`layer` + `id`)."""
    if data.get("layer") is not None and data.get("id") is not None and what == "geometry":
        geom, srid = stored_feature(readable_layer(data["layer"], user), data["id"])
    else:
        srid = srid_of(data.get("crs"))
        geom = geometry(data.get(what), srid, what, polygons_only)
    return transform(geom, srid, working_srid) if srid != working_srid else geom
