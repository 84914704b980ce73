from rest_framework.routers import DefaultRouter

from .views import ImportJobViewSet, LayerViewSet, ThemeViewSet

router = DefaultRouter()
router.register("layers", LayerViewSet, basename="layer")
router.register("imports", ImportJobViewSet, basename="importjob")
router.register("themes", ThemeViewSet, basename="theme")

urlpatterns = router.urls
