from django.urls import path

from .views import BufferView, DistanceView, MeasureView, NearestView

urlpatterns = [
    path("measure/", MeasureView.as_view(), name="analysis-measure"),
    path("distance/", DistanceView.as_view(), name="analysis-distance"),
    path("nearest/", NearestView.as_view(), name="analysis-nearest"),
    path("buffer/", BufferView.as_view(), name="analysis-buffer"),
]
