"""Entries for what happens away from the API's routes: sign-ins, layers created and data loaded into them (imports
and analysis results finish in workers), permission changes, and the Django admin's changes."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save

from . import actors, events, refusals


def _signed_in(sender, request, user, **kwargs):
    events.record("sign_in", actors.of_user(user, actors.client_address(request)), object_type="user",
                  object_id=user.pk, object_label=user.get_username(),
                  detail={"method": getattr(user, "sign_in_method", "session")})  # ldap, oidc: accounts/


def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        reason = getattr(request, "sign_out_reason", None)  # accounts.recheck: the directory no longer has them
        events.record("sign_out", actors.of_user(user, actors.client_address(request)), object_type="user",
                      object_id=user.pk, object_label=user.get_username(), detail={"reason": reason} if reason else {})


def _sign_in_failed(sender, credentials, request=None, **kwargs):
    name = str(credentials.get("username", ""))[:150]
    actor = actors.Actor(None, name, actors.client_address(request))
    detail = {"method": "token" if request is not None and "auth/token" in request.path else "session"}
    if getattr(request, "sign_in_locked", False):  # accounts.lockout refused it before any password was checked
        detail["reason"] = "locked"
    refusals.record("sign_in_failed", actor, object_type="user", object_label=name, detail=detail)


def _layer_saved(sender, instance, created, raw=False, **kwargs):
    if not created or raw:
        return
    detail = {"kind": instance.kind, "visibility": instance.visibility}
    if operation := (instance.provenance or {}).get("operation"):
        detail["analysis"] = operation
    if instance.kind == "service":
        detail["service"] = (instance.service or {}).get("type", "")
    events.record_layer("create", actors.now_or(instance.created_by), instance, detail)


def _version_saved(sender, instance, created, raw=False, **kwargs):
    """Data arrived in a layer (an import, a re-import, an analysis result): how much, from what."""
    if not created or raw or instance.note.startswith("restored"):  # a restore is recorded by its route
        return
    detail = {"version": instance.number, "features": instance.feature_count, "source": instance.source_name,
              "job": instance.job_id}
    events.record_layer("import", actors.now_or(instance.created_by), instance.layer, detail)


def _permissions_changed(sender, instance, action, model, pk_set, reverse=False, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    what = sender._meta.object_name
    detail = {"relation": what, "change": action.removeprefix("post_"), "ids": sorted(pk_set or [])}
    events.record("permission_change", actors.now_or(), object_type=instance._meta.model_name,
                  object_id=instance.pk, object_label=str(getattr(instance, "slug", None) or instance)[:200],
                  detail=detail)


def _admin_logged(sender, instance, created, **kwargs):
    """The Django admin's own log of additions, changes and deletions, as audit entries."""
    if not created:
        return
    action = {1: "create", 2: "change", 3: "delete"}.get(instance.action_flag, "change")
    model = instance.content_type.model if instance.content_type_id else ""
    if model == "layer" and action == "create":  # recorded where layers are created
        return
    if model in ("user", "group") and action == "change":
        action = "permission_change"
    events.record(action, actors.now_or(instance.user), object_type=model, object_id=instance.object_id or "",
                  object_label=instance.object_repr[:200],
                  detail={"via": "admin", "message": instance.get_change_message()[:500]})


def connect() -> None:
    from django.contrib.admin.models import LogEntry

    from layers.models import Layer, LayerVersion

    user_model = get_user_model()
    user_logged_in.connect(_signed_in, dispatch_uid="audit-sign-in")
    user_logged_out.connect(_signed_out, dispatch_uid="audit-sign-out")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="audit-sign-in-failed")
    post_save.connect(_layer_saved, sender=Layer, dispatch_uid="audit-layer-created")
    post_save.connect(_version_saved, sender=LayerVersion, dispatch_uid="audit-layer-version")
    post_save.connect(_admin_logged, sender=LogEntry, dispatch_uid="audit-admin-log")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through,
                    Layer.allowed_groups.through):
        m2m_changed.connect(_permissions_changed, sender=through, dispatch_uid=f"audit-perm-{through.__name__}")
