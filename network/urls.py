from django.urls import path

from .views import ClosestFacilityView, NetworkView, OdMatrixView, RouteView, ServiceAreaView

urlpatterns = [
    path("", NetworkView.as_view(), name="network"),
    path("service-areas/", ServiceAreaView.as_view(), name="network-service-areas"),
    path("closest-facility/", ClosestFacilityView.as_view(), name="network-closest-facility"),
    path("od-matrix/", OdMatrixView.as_view(), name="network-od-matrix"),
    path("routes/", RouteView.as_view(), name="network-routes"),
]
