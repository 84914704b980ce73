from django.urls import path

from . import pages

urlpatterns = [
    path("events/", pages.events_page, name="events-page"),
]
