from django.shortcuts import render

from layers.models import Layer


def home(request):
    """The start page until the map viewer lands: the catalog the visitor may see, and where the API lives."""
    layers = Layer.objects.visible_to(request.user).select_related("theme", "owner_agency")
    return render(request, "web/home.html", {"layers": layers})
