from django.urls import path

from .views import AlertsView, LatestView, ObservationsView, RegisterFromLayerView, RejectsView, SeriesView

urlpatterns = [
    path("observations/", ObservationsView.as_view(), name="iot-observations"),
    path("sensors/latest/", LatestView.as_view(), name="iot-latest"),
    path("sensors/<str:device_id>/series/", SeriesView.as_view(), name="iot-series"),
    path("alerts/", AlertsView.as_view(), name="iot-alerts"),
    path("rejects/", RejectsView.as_view(), name="iot-rejects"),
    path("devices/from-layer/", RegisterFromLayerView.as_view(), name="iot-register-layer"),
]
