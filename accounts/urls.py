from rest_framework.routers import SimpleRouter

from .api import AgencyViewSet, GroupViewSet, UserViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="account-user")
router.register("groups", GroupViewSet, basename="account-group")
router.register("agencies", AgencyViewSet, basename="account-agency")
urlpatterns = router.urls
