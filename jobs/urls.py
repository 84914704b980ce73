from rest_framework.routers import DefaultRouter

from .views import ImportJobAliasViewSet, JobViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("jobs", JobViewSet, basename="job")
router.register("imports", ImportJobAliasViewSet, basename="importjob")  # the older name: same answers

urlpatterns = router.urls
