from django.urls import path
from rest_framework.routers import DefaultRouter

from .api import MarkerViewSet, PrintView, SharedViewCreate, SharedViewDetail

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("markers", MarkerViewSet, basename="marker")

urlpatterns = [
    *router.urls,
    path("views/", SharedViewCreate.as_view(), name="shared-view-create"),
    path("views/<str:code>/", SharedViewDetail.as_view(), name="shared-view"),
    path("print/", PrintView.as_view(), name="print"),
]
