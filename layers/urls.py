from django.urls import path
from rest_framework.routers import DefaultRouter

from .metadata_views import LayerMetadataImportView, LayerMetadataXmlView
from .serving.views import (
    AttributeValuesView,
    DownloadView,
    FeatureListView,
    FeatureView,
    GeocodeView,
    PointValueView,
    SearchView,
    StatisticsView,
    UsageView,
)
from .views import LayerViewSet, MetadataReportView, ThemeViewSet

router = DefaultRouter()
router.register("layers", LayerViewSet, basename="layer")
router.register("themes", ThemeViewSet, basename="theme")

urlpatterns = [
    path("layers/<slug:slug>/metadata.xml", LayerMetadataXmlView.as_view(), name="layer-metadata-xml"),
    path("layers/<slug:slug>/metadata/import/", LayerMetadataImportView.as_view(), name="layer-metadata-import"),
    path("layers/<slug:slug>/features/", FeatureListView.as_view(), name="layer-features"),
    path("layers/<slug:slug>/features/<int:fid>/", FeatureView.as_view(), name="layer-feature"),
    path("layers/<slug:slug>/values/", AttributeValuesView.as_view(), name="layer-values"),
    path("layers/<slug:slug>/statistics/", StatisticsView.as_view(), name="layer-statistics"),
    path("layers/<slug:slug>/usage/", UsageView.as_view(), name="layer-usage"),
    path("layers/<slug:slug>/download/", DownloadView.as_view(), name="layer-download"),
    path("layers/<slug:slug>/point/", PointValueView.as_view(), name="layer-point"),
    path("search/", SearchView.as_view(), name="search"),
    path("geocode/", GeocodeView.as_view(), name="geocode"),
    path("metadata/report/", MetadataReportView.as_view(), name="metadata-report"),
    *router.urls,
]
