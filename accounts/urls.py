from rest_framework.routers import SimpleRouter

from .api import AgencyViewSet, GroupViewSet, TokenViewSet, UserViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="account-user")
router.register("groups", GroupViewSet, basename="account-group")
router.register("agencies", AgencyViewSet, basename="account-agency")
router.register("tokens", TokenViewSet, basename="account-token")
urlpatterns = router.urls
