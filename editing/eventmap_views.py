"""Event maps over the API (/api/v1/event-maps/) and the page that lists and makes them (/event-maps/)."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from audit import actors, events
from layers.serving.access import BadRequest, request_user

from . import eventmaps
from .models import EventMap
from .views import _detail, _json


def _made(request, event: EventMap) -> None:
    for part in event.parts.select_related("layer", "agency"):
        events.record_layer("event_map_create", actors.of_request(request), part.layer,
                            {"event": event.slug, "agency": part.agency.name})


class EventMapListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="event_map_list", summary="The event maps you take part in (a sub-layer you may "
                   "see), each with its sub-layers, their agencies and whether you may edit them",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{results: [event]}")})
    def get(self, request):
        user = request_user(request)
        found = eventmaps.visible(user).select_related("view", "created_by")
        return _json({"results": [eventmaps.describe(e, user) for e in found]})

    @extend_schema(operation_id="event_map_create", summary="Make an event map: one restricted sub-layer per "
                   "agency, owned by it and seen by all of them; a share link opening them all",
                   request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiResponse(OpenApiTypes.OBJECT, description="the event"),
                              400: OpenApiResponse(description="a field missing or wrong, named"),
                              403: OpenApiResponse(description="only administrators and those who may import new "
                                                   "layers make event maps")})
    def post(self, request):
        user = request_user(request)
        if not eventmaps.may_create(user):
            return _detail("只有管理者及可匯入新圖層的使用者可以建立活動協作圖", 403)
        try:
            event = eventmaps.create(user, request.data)
        except BadRequest as exc:
            return _json({"detail": str(exc)}, 400)
        _made(request, event)
        return _json(eventmaps.describe(event, user), 201)


class EventMapDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="event_map_detail", summary="One event map with its sub-layers",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the event"),
                              404: OpenApiResponse(description="no such event, or not one you take part in")})
    def get(self, request, slug):
        user = request_user(request)
        event = eventmaps.visible(user).filter(slug=slug).select_related("view", "created_by").first()
        if event is None:
            return _detail("沒有活動協作圖 {slug}", 404, slug=repr(slug))
        return _json(eventmaps.describe(event, user))


def event_maps_page(request):
    """活動協作圖 at /event-maps/: the events one takes part in, with their sub-layers; a form to make one."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "editing/event_maps.html", {"signed_out": True}, status=401)
    may_create = eventmaps.may_create(user)
    problem, form = None, {}
    if request.method == "POST":
        if not may_create:
            raise Http404("no such page")
        form = {"title_zh": request.POST.get("title_zh", ""), "title_en": request.POST.get("title_en", ""),
                "geometry_type": request.POST.get("geometry_type", ""),
                "agencies": [int(v) for v in request.POST.getlist("agencies") if v.isdigit()]}
        try:
            event = eventmaps.create(user, form)
        except BadRequest as exc:
            problem = str(exc)
        else:
            _made(request, event)
            request.session["event_made"] = event.slug
            return redirect("event-maps-page")
    made = request.session.pop("event_made", None)
    found = [eventmaps.describe(e, user) for e in eventmaps.visible(user).select_related("view", "created_by")]
    agencies = eventmaps.agency_choices() if may_create else []
    return render(request, "editing/event_maps.html", {
        "events": found, "may_create": may_create, "problem": problem, "form": form, "made": made,
        "agencies": agencies, "kinds": EventMap.Geometry.choices,
        "english": (request.LANGUAGE_CODE or "").startswith("en"), "title": _("活動協作圖")})
