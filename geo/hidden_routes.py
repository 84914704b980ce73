"""API routes that do not exist for whoever may not use them.

A refused user gets exactly what a route that does not exist gives (Django's 404), decided before DRF sees the
request (DRF's own 403/404 would be JSON and so tell the route apart from a missing one).
"""

from django.http import Http404
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission


class AllowedByView(BasePermission):
    def has_permission(self, request, view):
        return view.allows(request.user)


class HiddenRoute:
    """Mixin for a DRF view: `allows(user)` says who may see the route at all; for everyone else it is missing."""

    permission_classes = [AllowedByView]

    @staticmethod
    def allows(user) -> bool:
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        try:
            user = self.initialize_request(request, *args, **kwargs).user  # session or token, as DRF sees them
        except APIException:  # a bad token: a route that does not exist never looks at it either
            user = None
        if not self.allows(user):
            raise Http404("no such page")
        return super().dispatch(request, *args, **kwargs)


def is_superuser(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_superuser)


class SuperusersOnly(HiddenRoute):
    allows = staticmethod(is_superuser)
