from django.urls import path

from . import pages

urlpatterns = [
    path("dashboards/", pages.dashboards_page, name="dashboards-page"),
    path("dashboards/<slug:slug>/", pages.dashboard_page, name="dashboard-page"),
    path("dashboards/<slug:slug>/embed/", pages.dashboard_embed, name="dashboard-embed"),
    path("areas/<str:level>/<str:key>/", pages.area_profile, name="area-profile"),
]
