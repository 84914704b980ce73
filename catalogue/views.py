"""CSW 2.0.2 and 3.0 at /csw: pycsw (as a library) over the view catalogue_csw_records, answering only with the
layers the caller may see.

Every request builds pycsw's configuration with `repository.filter`, an SQL condition pycsw adds to every query it
makes (GetRecords, GetRecordById, GetDomain, the capabilities' dates): the ids of Layer.objects.visible_to(caller) —
the one rule the REST API, /ows and the viewer use. A layer the caller may not see is not in any answer, its
identifier included (GetRecordById answers as for an unknown id).
"""

import io
import logging
import re

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from pycsw.server import Csw

from layers.models import Layer
from layers.serving.access import request_user

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def visible_filter(user) -> str | None:
    """The SQL condition on the view for what `user` may see (None: everything, for superusers): the query of
    Layer.objects.visible_to(user) itself as a subquery, its values quoted by the database driver (a list of ids
    would cost ~0.2 s at 5,000 layers)."""
    if user.is_authenticated and user.is_superuser:
        return None
    # no ORDER BY (Layer.Meta.ordering: a join on themes and a sort of every visible row, twice per GetRecords)
    sql, params = Layer.objects.visible_to(user).order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        subquery = cursor.mogrify(sql, params).decode()
    # pycsw hands the condition to SQLAlchemy's text(), where ':name' would be a parameter: Django's SQL has none
    if re.search(r"(?<![:\w]):\w", subquery):
        ids = list(Layer.objects.visible_to(user).values_list("pk", flat=True))
        return f"layer_id IN ({', '.join(str(int(pk)) for pk in ids)})" if ids else "1 = 0"
    return f"layer_id IN ({subquery})"


def configuration(url: str, repo_filter: str | None) -> dict:
    return {
        "server": {"url": url, "mimetype": "application/xml; charset=UTF-8", "encoding": "UTF-8",
                   "language": "en-US", "maxrecords": 100, "pretty_print": False, "domainquerytype": "list",
                   "domaincounts": False, "profiles": ["apiso"]},
        "logging": {"level": "ERROR"},
        "manager": {"transactions": False, "allowed_ips": []},
        "metadata": {
            "identification": {
                "title": "civgis 圖資目錄服務 (CSW)",
                "description": "The city's layer catalog as an OGC Catalogue Service: ISO 19139 (TWSMP) and Dublin "
                               "Core records of every layer you may see",
                "keywords": ["CSW", "ISO 19139", "TWSMP", "詮釋資料", "圖資目錄"], "keywords_type": "theme",
                "fees": "None", "accessconstraints": "None",
            },
            "provider": {"name": "civgis", "url": url.rsplit("/csw", 1)[0] + "/"},
            "contact": {"name": "", "position": "", "address": "", "city": "", "stateorprovince": "",
                        "postalcode": "", "country": "Taiwan", "phone": "", "fax": "", "email": "", "url": "",
                        "hours": "", "instructions": "", "role": "pointOfContact"},
            "inspire": {"enabled": False},
        },
        "repository": {"source": "catalogue.repository.LayerRecords", "mappings": "catalogue.pycsw_mappings",
                       "table": "catalogue_csw_records", "filter": repo_filter, "max_retries": 0},
        "profiles": ["apiso"],
    }


@csrf_exempt
def csw(request):
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    body = request.body if request.method == "POST" else b""
    if len(body) > MAX_BODY:
        return HttpResponse("the request is over 1 MiB", status=413, content_type="text/plain; charset=utf-8")
    user = request_user(request)
    url = request.build_absolute_uri("/csw")
    env = {key: value for key, value in request.META.items() if isinstance(value, str)}
    env.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "wsgi.url_scheme": request.scheme})
    server = Csw(configuration(url, visible_filter(user)), env)  # pycsw tells 2.0.2 from 3.0.0 by the request
    try:
        status, content = server.dispatch_wsgi()
    finally:
        if getattr(server, "repository", None) is not None:
            server.repository.session.close()
    response = HttpResponse(content, status=int(str(status).split()[0]) if status else 200,
                            content_type=server.contenttype)
    response["Cache-Control"] = "private, max-age=0" if user.is_authenticated else "public, max-age=60"
    response["Vary"] = "Cookie, Authorization"
    return response
