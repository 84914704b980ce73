from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import ObtainAuthToken

from catalogue.views import csw
from iot.sta.views import SensorThingsView
from layers.ogc.views import ows
from layers.serving.views import basemap_tile, raster_tile, terrain_tile, tilejson, vector_tile
from web.api import open_shared

from .health import health

token_view = extend_schema_view(post=extend_schema(summary="Exchange username and password for an API token",
                                                   tags=["auth"]))(ObtainAuthToken).as_view()

api_v1 = [
    path("", include("layers.urls")),
    path("", include("editing.urls")),
    path("", include("jobs.urls")),
    path("analysis/network/", include("network.urls")),
    path("analysis/", include("analysis.urls")),
    path("", include("web.api_urls")),
    path("iot/", include("iot.urls")),
    path("audit/", include("audit.urls")),
    path("accounts/", include("accounts.urls")),
    path("stats/", include("stats.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("schedule/", include("geo.scheduler.urls")),
    path("harvest/", include("harvest.urls")),
    path("events/", include("events.urls")),
    path("auth/token/", token_view, name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("api/health", health, name="health"),
    path("api/v1/", include(api_v1)),
    re_path(r"^tiles/(?P<slug>[a-z][a-z0-9_-]*)/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)\.mvt$", vector_tile,
            name="vector-tile"),
    re_path(r"^tiles/(?P<slug>[a-z][a-z0-9_-]*)/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)\.png$", raster_tile,
            name="raster-tile"),
    re_path(r"^tiles/(?P<slug>[a-z][a-z0-9_-]*)/terrain/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)\.png$", terrain_tile,
            name="terrain-tile"),
    re_path(r"^tiles/(?P<slug>[a-z][a-z0-9_-]*)\.json$", tilejson, name="tilejson"),
    re_path(r"^basemap/(?P<z>-?\d+)/(?P<x>-?\d+)/(?P<y>-?\d+)\.png$", basemap_tile, name="basemap-tile"),
    path("s/<str:code>", open_shared, name="shared-view-open"),
    path("ows", ows, name="ows"),
    # OGC SensorThings API (1.1; 1.0 paths for Civil IoT Taiwan's clients)
    re_path(r"^sta/(?P<version>v1\.[01])(?:/(?P<path>.*))?$", SensorThingsView.as_view(), name="sta"),
    path("ows/<slug:theme>", ows, name="ows-theme"),
    path("csw", csw, name="csw"),  # OGC CSW 2.0.2 / 3.0 (pycsw)
    path("ogcapi-records/", include("catalogue.records_urls")),  # OGC API - Records (pycsw), the same records
    # OGC API - Features (Part 1 Core, Part 2 CRS, CQL2 text filters)
    path("ogcapi/", include("layers.ogcapi.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("rest_framework.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.page_urls")),
    path("harvest/", include("harvest.page_urls")),
    path("", include("editing.page_urls")),
    path("", include("dashboards.page_urls")),
    path("", include("events.page_urls")),
    path("", include("web.urls")),
]
# MEDIA (rasters, uploads) is never served as plain files: rasters go out through the tile and point views, which
# check the layer's visibility.

handler404 = "geo.errors.not_found"
handler500 = "geo.errors.server_error"
