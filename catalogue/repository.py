"""pycsw's repository over the view `catalogue_csw_records`, with each record's ISO 19139 document and links written
from the layer itself (layers.iso19139) when pycsw asks for them — the view leaves them NULL."""

import contextlib
import hashlib
import json

import redis
from pycsw.core.repository import Repository
from sqlalchemy import create_engine, func
from sqlalchemy.ext.declarative import declarative_base
from sqlalchemy.orm import create_session
from sqlalchemy.pool import NullPool

from geo import counters
from geo.dbrouter import reading
from layers import iso19139
from layers.models import Layer
from layers.ogc import capabilities_cache

from .pycsw_mappings import MD_CORE_MODEL
from .sql import VIEW


class _Lent:
    """Django's DB-API connection of this thread, lent to SQLAlchemy: pycsw's queries run in Django's connection and
    transaction (no second connection; in a test, they see the test's rows). Closing it, committing or rolling back
    are Django's business — pycsw only reads here (transactions are off)."""

    def __init__(self, raw):
        self._raw = raw

    def close(self):
        pass

    def commit(self):
        pass

    def rollback(self):
        pass

    def __getattr__(self, name):
        return getattr(self._raw, name)


def _lend():
    lent = reading()  # the replica when the request may read there (geo.dbrouter): pycsw only reads
    lent.ensure_connection()
    return _Lent(lent.connection)


_ENGINE = None
_DATASET = None


def engine():
    """SQLAlchemy over Django's connection (NullPool: each checkout asks for the calling thread's connection)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = create_engine("postgresql+psycopg2://", creator=_lend, poolclass=NullPool,
                                pool_reset_on_return=None, use_native_hstore=False,
                                use_native_uuid=False)  # those register types on the raw connection
    return _ENGINE


def dataset(bound_engine):
    """The view as an SQLAlchemy mapped class, reflected once per process (pycsw reflects its table on every
    request: most of a request's time at this size)."""
    global _DATASET
    if _DATASET is None:
        base = declarative_base(bind=bound_engine)
        columns = MD_CORE_MODEL["column_constraints"]
        _DATASET = type("dataset", (base,), {"__tablename__": VIEW,
                                             "__table_args__": (*columns, {"autoload": True})})
    return _DATASET


ISO_SECONDS = 3600  # a rendered record is kept at most this long


class _Page:
    """The layers behind one page of results, loaded in one query the first time a record's XML or links are
    asked for; their ISO 19139 records rendered once per catalog state and kept in Redis (`xml`)."""

    def __init__(self, rows, base_url: str):
        self.slugs = [row.identifier for row in rows]
        self.base_url = base_url
        self._layers = None
        self._xml = None

    def xml(self, slug: str) -> bytes:
        """The layer's record, from Redis under the catalog generation (layers.ogc.capabilities_cache: bumped by
        every change to layers, themes, agencies), the layer's last change and the address — or rendered (~5 ms
        a record, with its theme path) and kept. Without Redis: rendered every time."""
        if self._xml is None:
            self._xml = {}
            generation = capabilities_cache.generation()
            if generation is not None:
                address = hashlib.sha256(self.base_url.encode()).hexdigest()[:16]
                layers = [self.layer(s) for s in self.slugs]
                keys = [f"civgis:iso19139:{generation}:{address}:{layer.pk}:{layer.updated_at.timestamp()}"
                        for layer in layers]
                with contextlib.suppress(redis.RedisError):
                    kept = counters.client().mget(keys)
                    fresh = {}
                    for layer, key, value in zip(layers, keys, kept, strict=True):
                        self._xml[layer.slug] = value if value is not None else iso19139.record(layer,
                                                                                                 self.base_url)
                        if value is None:
                            fresh[key] = self._xml[layer.slug]
                    if fresh:
                        pipe = counters.client().pipeline(transaction=False)
                        for key, value in fresh.items():
                            pipe.set(key, value, ex=ISO_SECONDS)
                        pipe.execute()
        if slug not in self._xml:
            self._xml[slug] = iso19139.record(self.layer(slug), self.base_url)
        return self._xml[slug]

    def layer(self, slug: str) -> Layer:
        if self._layers is None:
            self._layers = Layer.objects.select_related("owner_agency", "theme").in_bulk(self.slugs,
                                                                                         field_name="slug")
        return self._layers[slug]


class Record:
    """A row of the view, with `xml` (the layer's ISO 19139 record, bytes) and `links` (JSON) filled in."""

    def __init__(self, row, page: _Page):
        self._row, self._page = row, page

    def __getattr__(self, name):
        if name == "xml":
            return self._page.xml(self._row.identifier)
        if name == "links":
            return json.dumps(iso19139.links(self._page.layer(self._row.identifier), self._page.base_url))
        return getattr(self._row, name)


class LayerRecords(Repository):
    """pycsw's SQLAlchemy repository on the view; `repo_filter` (an SQL condition pycsw adds to every query) is the
    caller's visible layers (catalogue.csw)."""

    def __init__(self, context, repo_filter=None):  # noqa: B027 - what pycsw's __init__ sets, from the caches
        # pycsw assumes a custom repository is GeoNode's Django one and writes its filters with %s parameters;
        # this one is SQLAlchemy's, whose parameters are :name
        context.server.orm = "sqlalchemy"
        self.context, self.filter, self.fts = context, repo_filter, False
        self.database, self.table = "django", VIEW
        self.engine = engine()
        self.session = create_session(self.engine)
        self.func = func
        self.dataset = dataset(self.engine)
        self.dbtype, self.postgis_geometry_column = "postgresql+postgis+native", "wkb_geometry"
        d = self.dataset
        self.query_mappings = {
            "identifier": d.identifier, "type": d.type, "typename": d.typename,
            "parentidentifier": d.parentidentifier, "collections": d.parentidentifier, "updated": d.insert_date,
            "title": d.title, "description": d.abstract, "keywords": d.keywords, "edition": d.edition,
            "anytext": d.anytext, "bbox": d.wkb_geometry, "date": d.date, "time_begin": d.time_begin,
            "time_end": d.time_end, "platform": d.platform, "instrument": d.instrument, "sensortype": d.sensortype,
        }
        self.queryables = {}
        for typename in context.model["typenames"].values():
            for name, queryable in typename["queryables"].items():
                self.queryables[name] = dict(queryable)
        self.queryables["_all"] = {}
        for name in list(self.queryables):
            if name != "_all":
                self.queryables["_all"].update(self.queryables[name])
        self.queryables["_all"].update(context.md_core_model["mappings"])
        self.base_url = context.url.rsplit("/csw", 1)[0]

    def _wrap(self, rows):
        page = _Page(rows, self.base_url)
        return [Record(row, page) for row in rows]

    def query_ids(self, ids):
        return self._wrap(super().query_ids(ids))

    def query(self, constraint, sortby=None, typenames=None, maxrecords=10, startposition=0):
        total, rows = super().query(constraint, sortby=sortby, typenames=typenames, maxrecords=maxrecords,
                                    startposition=startposition)
        return [total, self._wrap(rows)]
