from django.urls import path

from .eventmap_views import EventMapDetailView, EventMapListView
from .live import EditEventsView
from .views import (
    FeatureHistoryView,
    FeatureRestoreView,
    FeatureSplitView,
    LayerFormView,
    LayerMergeView,
    LayerRollbackView,
)

urlpatterns = [
    path("edits/events/", EditEventsView.as_view(), name="edit-events"),
    path("event-maps/", EventMapListView.as_view(), name="event-map-list"),
    path("event-maps/<slug:slug>/", EventMapDetailView.as_view(), name="event-map-detail"),
    path("layers/<slug:slug>/rollback/", LayerRollbackView.as_view(), name="layer-rollback"),
    path("layers/<slug:slug>/merge/", LayerMergeView.as_view(), name="layer-merge"),
    path("layers/<slug:slug>/features/<int:fid>/split/", FeatureSplitView.as_view(), name="layer-feature-split"),
    path("layers/<slug:slug>/form/", LayerFormView.as_view(), name="layer-form"),
    path("layers/<slug:slug>/features/<int:fid>/history/", FeatureHistoryView.as_view(), name="layer-feature-history"),
    path("layers/<slug:slug>/features/<int:fid>/restore/", FeatureRestoreView.as_view(), name="layer-feature-restore"),
]
