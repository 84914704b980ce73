"""pycsw's repository over the view `catalogue_csw_records`, with each record's ISO 19139 document and links written
from the layer itself (layers.iso19139) when pycsw asks for them — the view leaves them NULL."""

import json

from django.db import connection
from pycsw.core.repository import Repository
from sqlalchemy.engine import URL

from layers import iso19139
from layers.models import Layer

from .sql import VIEW


def database_url() -> str:
    """SQLAlchemy's URL for Django's database (a Unix socket directory as `host` too)."""
    db = connection.settings_dict
    host = db.get("HOST") or None
    query = {}
    if host and host.startswith("/"):
        query, host = {"host": host}, None
    return URL.create("postgresql+psycopg2", username=db.get("USER") or None, password=db.get("PASSWORD") or None,
                      host=host, port=int(db["PORT"]) if db.get("PORT") else None, database=db["NAME"],
                      query=query).render_as_string(hide_password=False)


class _Page:
    """The layers behind one page of results, loaded in one query the first time a record's XML or links are
    asked for."""

    def __init__(self, rows, base_url: str):
        self.slugs = [row.identifier for row in rows]
        self.base_url = base_url
        self._layers = None

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
            return iso19139.record(self._page.layer(self._row.identifier), self._page.base_url)
        if name == "links":
            return json.dumps(iso19139.links(self._page.layer(self._row.identifier), self._page.base_url))
        return getattr(self._row, name)


class LayerRecords(Repository):
    """pycsw's SQLAlchemy repository on the view; `repo_filter` (an SQL condition pycsw adds to every query) is the
    caller's visible layers (catalogue.csw)."""

    def __init__(self, context, repo_filter=None):
        super().__init__(database_url(), context, table=VIEW, repo_filter=repo_filter)
        # pycsw assumes a custom repository is GeoNode's Django one and writes its filters with %s parameters;
        # this one is SQLAlchemy's, whose parameters are :name
        context.server.orm = "sqlalchemy"
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
