"""Who is asking, and may they see this layer? One answer for every serving path."""

from django.http import Http404
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from geo import messages
from layers.models import Layer

from . import usage


class BadRequest(messages.Worded, ValueError):
    """A request a client can fix: answered 400 with this message (a msgid with {named} fields given as keyword
    arguments, worded in the request's language; older messages are English text)."""


def request_user(request):
    """The session user, or the user of an `Authorization: Token …` header (tiles and downloads are plain views)."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        found = None
    return found[0] if found else request.user


def visible_layer(request, slug: str, kind: str | None) -> Layer:
    """The layer if this user may see it — else 404, exactly as for a layer that does not exist — counted as a
    request of `kind` (None: not counted, e.g. reading the usage figures themselves)."""
    layer = Layer.objects.visible_to(request_user(request)).filter(slug=slug).first()
    if layer is None:
        raise Http404(f"no layer {slug!r}")
    if kind:
        usage.count(layer.slug, kind)
    return layer
