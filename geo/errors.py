"""Plain answers for requests that fail outside a view's own error handling: JSON `{"detail": …}` under /api/,
a short page elsewhere. Never a traceback or a server path (Django shows those only with DEBUG on, which the
demo and production run without)."""

from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p><p><a href="/">{home}</a></p></body></html>
"""


def _answer(request, status: int, detail: str, title: str, text: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(PAGE.format(title=escape(title), text=escape(text), home=escape(_("回到地圖"))),
                        status=status, content_type="text/html; charset=utf-8")


def not_found(request, exception=None):
    return _answer(request, 404, "Not found.", _("找不到頁面"), _("這個網址沒有內容。"))


def server_error(request):
    return _answer(request, 500, "A server error occurred; the administrators find the details in the server log.",
                   _("伺服器錯誤"), _("處理這個請求時發生錯誤；管理者可在伺服器記錄中查到詳情。"))
