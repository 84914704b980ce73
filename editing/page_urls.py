from django.urls import path

from .eventmap_views import event_maps_page

urlpatterns = [path("event-maps/", event_maps_page, name="event-maps-page")]
