"""Request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused (413, JSON) before anything reads them.

Django checks that limit only where it reads a body itself (`request.body`, form parsing); DRF's JSON parser reads
the request's stream whatever its length. So for every body but a multipart upload (streamed to disk by Django's
parser, limited by IMPORT_MAX_BYTES where it is imported) and /ows (a WFS Transaction: its view answers an OWS
exception report in its own words), a Content-Length over the limit is answered here. A body without a
Content-Length (chunked; the server de-chunks it and says so with `wsgi.input_terminated`) is read here up to the
limit, refused when longer, else handed on with its length — Django would otherwise read it as empty.
"""

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse
from django.utils.translation import gettext as _

OWN_LIMITS = ("/ows",)  # paths whose views refuse a large body themselves


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse({"detail": _("請求內容超過 %(limit)s 位元組：請分批送出") % {"limit": f"{limit:,}"},
                         "code": "request_too_large"}, status=413)


class BodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or request.content_type.startswith("multipart/") or request.path.startswith(OWN_LIMITS):
            return self.get_response(request)
        length = request.META.get("CONTENT_LENGTH")
        if length:
            try:
                if int(length) > limit:
                    return _too_large(limit)
            except ValueError:
                pass  # Django reads such a body as empty
        elif request.META.get("wsgi.input_terminated") and \
                "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = request._stream.read(limit + 1)
            if len(body) > limit:
                return _too_large(limit)
            request._stream = LimitedStream(io.BytesIO(body), len(body))
            request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)
