from django.urls import path

from .views import (
    BufferLayerView,
    BufferView,
    DistanceView,
    EmergingHotspotsView,
    HotspotsView,
    MeasureView,
    NearestView,
    OverlayView,
    RoadWideningReportView,
    RoadWideningView,
    SitingReportView,
    SitingView,
    WifiCoverageView,
    WifiRecommendView,
    WifiUsageView,
)

urlpatterns = [
    path("measure/", MeasureView.as_view(), name="analysis-measure"),
    path("distance/", DistanceView.as_view(), name="analysis-distance"),
    path("nearest/", NearestView.as_view(), name="analysis-nearest"),
    path("buffer/", BufferView.as_view(), name="analysis-buffer"),
    path("buffer-layer/", BufferLayerView.as_view(), name="analysis-buffer-layer"),
    path("overlay/", OverlayView.as_view(), name="analysis-overlay"),
    path("road-widening/", RoadWideningView.as_view(), name="analysis-road-widening"),
    path("road-widening/report/", RoadWideningReportView.as_view(), name="analysis-road-widening-report"),
    path("siting/", SitingView.as_view(), name="analysis-siting"),
    path("siting/<int:job_id>/<str:name>", SitingReportView.as_view(), name="analysis-siting-report"),
    path("hotspots/", HotspotsView.as_view(), name="analysis-hotspots"),
    path("emerging-hotspots/", EmergingHotspotsView.as_view(), name="analysis-emerging-hotspots"),
    path("wifi/usage/", WifiUsageView.as_view(), name="analysis-wifi-usage"),
    path("wifi/coverage/", WifiCoverageView.as_view(), name="analysis-wifi-coverage"),
    path("wifi/recommend/", WifiRecommendView.as_view(), name="analysis-wifi-recommend"),
]
