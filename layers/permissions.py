from rest_framework.permissions import SAFE_METHODS, BasePermission


class CanEditLayer(BasePermission):
    """Reading follows the layer's visibility (enforced by the queryset: unseen layers are 404);
    changing it needs membership of its owner agency, or admin rights."""

    message = "only the layer's owner agency and administrators may change it"

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        return obj.can_edit(request.user)
