"""Users, groups and agencies, managed by administrators (superusers) through the API — no Django admin needed in
daily work. For everyone else these routes do not exist (404). Every change of who belongs where, of an account's
flags and of groups and agencies themselves is an audit entry (group memberships through audit.signals).

A directory or OpenID Connect user's managed groups and agency are set again at their next sign-in
(accounts.mapping): change those in the directory, or in AUTH_GROUP_MAP / AUTH_AGENCY_MAP.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from audit import actors, events
from geo.hidden_routes import SuperusersOnly, is_superuser

from . import tokens
from .models import Account, Agency, ApiToken

FLAGS = ("is_active", "is_staff", "is_superuser")


def _record(request, action: str, obj_type: str, obj, label: str, detail: dict) -> None:
    events.record(action, actors.of_request(request), object_type=obj_type, object_id=obj.pk, object_label=label,
                  detail={"via": "api", **detail})


@extend_schema_field(OpenApiTypes.STR)
class AgencyField(serializers.SlugRelatedField):
    """An agency by its name (the group's)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="group__name", queryset=Agency.objects.select_related("group"), **kwargs)


class UserSerializer(serializers.ModelSerializer):
    groups = serializers.SlugRelatedField(slug_field="name", many=True, queryset=Group.objects.all(), required=False,
                                          help_text="the user's groups, agencies included, by name")
    agency = AgencyField(source="account.agency", allow_null=True, required=False,
                         help_text="the user's agency (its name); the user is made a member of it")
    source = serializers.CharField(source="account.source", read_only=True, default=Account.Source.LOCAL,
                                   help_text="local, ldap or oidc: where the user signs in")
    external_id = serializers.CharField(source="account.external_id", read_only=True, default="")
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"},
                                     help_text="a local account's new password (the password rules apply)")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser",
                  "groups", "agency", "source", "external_id", "last_login", "date_joined", "password"]
        read_only_fields = ["last_login", "date_joined"]

    def validate_username(self, value):
        if self.instance is not None and value != self.instance.username:
            raise serializers.ValidationError("a user's name cannot change (audit entries and the directory name "
                                              "them by it)")
        return value

    def validate(self, data):
        me = self.context["request"].user
        if self.instance is not None and self.instance.pk == me.pk and (
                data.get("is_active") is False or data.get("is_superuser") is False):
            raise serializers.ValidationError({"is_active": "you cannot disable your own account or drop your own "
                                                            "administrator rights (another administrator can)"})
        password = data.get("password")
        account = getattr(self.instance, "account", None) if self.instance else None
        if password is not None:
            if account is not None and account.source != Account.Source.LOCAL:
                raise serializers.ValidationError({"password": "this user signs in with the city's directory or "
                                                   "provider: their password is set there"})
            try:
                validate_password(password, self.instance)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from None
        elif self.instance is None:
            raise serializers.ValidationError({"password": "a new local account needs a password"})
        return data

    @transaction.atomic
    def create(self, validated):
        request = self.context["request"]
        groups, agency = validated.pop("groups", []), validated.pop("account", {}).get("agency")
        password = validated.pop("password")
        user = get_user_model()(**validated)
        user.set_password(password)
        user.save()
        Account.objects.create(user=user, source=Account.Source.LOCAL, agency=agency)
        user.groups.set([*groups, *([agency.group] if agency else [])])
        _record(request, "create", "user", user, user.username,
                {"flags": {f: getattr(user, f) for f in FLAGS}})
        return user

    @transaction.atomic
    def update(self, user, validated):
        request = self.context["request"]
        groups = validated.pop("groups", None)
        account_data = validated.pop("account", None)
        password = validated.pop("password", None)
        changed = {f: validated[f] for f in FLAGS if f in validated and validated[f] != getattr(user, f)}
        for key, value in validated.items():
            setattr(user, key, value)
        if password is not None:
            user.set_password(password)
        user.save()
        account, _ = Account.objects.get_or_create(user=user)
        if groups is not None:
            user.groups.set(groups)  # each addition and removal: an audit entry (audit.signals)
        if account_data is not None:
            agency = account_data.get("agency")
            others = Agency.objects.exclude(pk=getattr(agency, "pk", None)).values_list("group_id", flat=True)
            user.groups.remove(*user.groups.filter(pk__in=others))
            if agency:
                user.groups.add(agency.group)
            if account.agency_id != getattr(agency, "pk", None):
                _record(request, "permission_change", "user", user, user.username,
                        {"agency": agency.group.name if agency else None})
            account.agency = agency
            account.save(update_fields=["agency"])
        if changed:
            _record(request, "permission_change", "user", user, user.username, changed)
        if password is not None:
            _record(request, "change", "user", user, user.username, {"password": "set"})
        return user


class GroupSerializer(serializers.ModelSerializer):
    members = serializers.IntegerField(read_only=True, source="member_count", default=0)
    is_agency = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "name", "members", "is_agency"]

    def get_is_agency(self, group) -> bool:
        return hasattr(group, "agency")


class AgencySerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="group_id", read_only=True)
    name = serializers.CharField(source="group.name", max_length=150)
    members = serializers.IntegerField(read_only=True, source="member_count", default=0)

    class Meta:
        model = Agency
        fields = ["id", "name", "name_en", "code", "members"]

    def validate_name(self, value):
        taken = Group.objects.filter(name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.group_id)
        if taken.filter(agency__isnull=False).exists():
            raise serializers.ValidationError(f"an agency named {value!r} exists")
        return value

    @transaction.atomic
    def create(self, validated):
        group, _ = Group.objects.get_or_create(name=validated.pop("group")["name"])  # a group becomes an agency
        agency = Agency.objects.create(group=group, **validated)
        _record(self.context["request"], "create", "agency", agency, group.name, {"code": agency.code})
        return agency

    @transaction.atomic
    def update(self, agency, validated):
        before = agency.group.name
        if "group" in validated:
            agency.group.name = validated.pop("group")["name"]
            agency.group.save(update_fields=["name"])
        for key, value in validated.items():
            setattr(agency, key, value)
        agency.save()
        _record(self.context["request"], "change", "agency", agency, agency.group.name,
                {"name": [before, agency.group.name], "code": agency.code, "name_en": agency.name_en})
        return agency


class AdminViewSet(SuperusersOnly, viewsets.ModelViewSet):
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


QUERY = [OpenApiParameter("q", str, description="part of the name (user name, names, e-mail for users)")]


@extend_schema_view(list=extend_schema(summary="Users, with their groups, agency and where they sign in "
                                               "(administrators)", parameters=QUERY),
                    create=extend_schema(summary="Create a local account (administrators)"),
                    retrieve=extend_schema(summary="A user (administrators)"),
                    partial_update=extend_schema(summary="Change a user's groups, agency, flags or password "
                                                         "(administrators; audited)"),
                    destroy=extend_schema(summary="Delete a user (administrators; audited)"))
@extend_schema(tags=["accounts"])
class UserViewSet(AdminViewSet):
    serializer_class = UserSerializer

    def get_queryset(self):
        users = get_user_model().objects.select_related("account__agency__group").prefetch_related("groups")
        if q := self.request.query_params.get("q", "").strip():
            users = users.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
                                 | Q(email__icontains=q))
        return users.order_by("username")

    def perform_destroy(self, user):
        if user.pk == self.request.user.pk:
            raise serializers.ValidationError({"id": "you cannot delete your own account"})
        _record(self.request, "delete", "user", user, user.username, {})
        user.delete()


@extend_schema_view(list=extend_schema(summary="Groups (agencies included) and their member counts (administrators)",
                                       parameters=QUERY),
                    create=extend_schema(summary="Create a group (administrators)"),
                    retrieve=extend_schema(summary="A group (administrators)"),
                    partial_update=extend_schema(summary="Rename a group (administrators; audited)"),
                    destroy=extend_schema(summary="Delete a group (administrators; audited)"))
@extend_schema(tags=["accounts"])
class GroupViewSet(AdminViewSet):
    serializer_class = GroupSerializer

    def get_queryset(self):
        groups = Group.objects.annotate(member_count=Count("user")).select_related("agency")
        if q := self.request.query_params.get("q", "").strip():
            groups = groups.filter(name__icontains=q)
        return groups.order_by("name")

    def perform_create(self, serializer):
        group = serializer.save()
        _record(self.request, "create", "group", group, group.name, {})

    def perform_update(self, serializer):
        before = serializer.instance.name
        group = serializer.save()
        _record(self.request, "change", "group", group, group.name, {"name": [before, group.name]})

    def perform_destroy(self, group):
        _record(self.request, "delete", "group", group, group.name,
                {"members": group.user_set.count(), "owned_layers": group.owned_layers.count()})
        group.delete()


@extend_schema_view(list=extend_schema(summary="Agencies (administrators)"),
                    create=extend_schema(summary="Create an agency, or make a group one (administrators)"),
                    retrieve=extend_schema(summary="An agency (administrators)"),
                    partial_update=extend_schema(summary="Rename an agency, set its English name or directory "
                                                         "code (administrators; audited)"),
                    destroy=extend_schema(summary="Delete an agency: its group and its layers' ownership go "
                                                  "(administrators; audited)"))
@extend_schema(tags=["accounts"])
class AgencyViewSet(AdminViewSet):
    serializer_class = AgencySerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return Agency.objects.select_related("group").annotate(member_count=Count("group__user")).order_by(
            "group__name")

    def perform_destroy(self, agency):
        group = agency.group
        _record(self.request, "delete", "agency", agency, group.name,
                {"members": group.user_set.count(), "owned_layers": group.owned_layers.count()})
        group.delete()


class TokenSerializer(serializers.ModelSerializer):
    """A personal API token as its owner (or an administrator) sees it; `secret` only in the answer that makes it."""

    scopes = serializers.ListField(child=serializers.ChoiceField(choices=tokens.SCOPES), min_length=1,
                                   help_text="read, analyse, import, edit, admin (administrators only)")
    expires_in_days = serializers.IntegerField(write_only=True, required=False, min_value=1,
                                               help_text="days until it expires (default API_TOKEN_DEFAULT_DAYS, "
                                                         "at most API_TOKEN_MAX_DAYS)")
    user = serializers.CharField(source="user.username", read_only=True)
    state = serializers.SerializerMethodField(help_text="active, expired or revoked")
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, default=None)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "prefix", "scopes", "expires_in_days", "created_at", "expires_at",
                  "last_used_at", "revoked_at", "revoked_by", "state"]
        read_only_fields = ["prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]

    def get_state(self, token) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "expired" if token.expires_at <= timezone.now() else "active"

    def validate_expires_in_days(self, value):
        if value > settings.API_TOKEN_MAX_DAYS:
            raise serializers.ValidationError(f"at most {settings.API_TOKEN_MAX_DAYS} days (API_TOKEN_MAX_DAYS)")
        return value

    def validate_scopes(self, value):
        user = self.context["request"].user
        beyond = [s for s in value if s not in tokens.allowed_scopes(user)]
        if beyond:
            raise serializers.ValidationError(f"a token never gives more than its user has: {', '.join(beyond)} "
                                              "is for administrators")
        return value

    def create(self, validated):
        request = self.context["request"]
        token, secret = tokens.create(request.user, validated["name"], validated["scopes"],
                                      validated.get("expires_in_days"), actors.of_request(request))
        token.secret = secret
        return token

    def to_representation(self, token):
        data = super().to_representation(token)
        if hasattr(token, "secret"):
            data["secret"] = token.secret
        return data


@extend_schema_view(list=extend_schema(summary="Your API tokens (administrators: everyone's; ?user=<name>)",
                                       parameters=[OpenApiParameter("user", str, description="an owner's user name "
                                                                    "(administrators)")]),
                    create=extend_schema(summary="Make an API token: its secret is in this answer only (audited)"),
                    retrieve=extend_schema(summary="One of your API tokens"),
                    destroy=extend_schema(summary="Revoke an API token: refused from then on (audited)"))
@extend_schema(tags=["accounts"])
class TokenViewSet(viewsets.ModelViewSet):
    """Personal API tokens (accounts.tokens): each user their own; administrators see and revoke everyone's.
    Another user's token is missing (404) for whoever is not an administrator."""

    serializer_class = TokenSerializer
    permission_classes = [IsAuthenticated]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        found = ApiToken.objects.select_related("user", "revoked_by")
        if not is_superuser(self.request.user):
            return found.filter(user=self.request.user)
        if name := self.request.query_params.get("user", "").strip():
            found = found.filter(user__username=name)
        return found

    def perform_destroy(self, token):
        tokens.revoke(token, self.request.user, actors.of_request(self.request))
