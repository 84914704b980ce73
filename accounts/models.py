from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Agency(models.Model):
    """A group that is an agency (機關): it owns layers (Layer.owner_agency) and its members see its restricted
    layers. `code` is how the city's directory or provider names it (AUTH_AGENCY_MAP's key), if it differs."""

    group = models.OneToOneField(Group, primary_key=True, on_delete=models.CASCADE, related_name="agency")
    name_en = models.CharField(max_length=150, blank=True)
    code = models.CharField(max_length=150, blank=True, help_text="the directory's or provider's name for it")

    class Meta:
        ordering = ["group__name"]
        verbose_name = _("機關")
        verbose_name_plural = _("機關")

    def __str__(self):
        return self.group.name


class Account(models.Model):
    """Where a user comes from (a local account, the directory, the OpenID Connect provider), who they are there,
    their agency, and when they last signed in there."""

    class Source(models.TextChoices):
        LOCAL = "local", _("本機帳號")
        LDAP = "ldap", _("市府目錄（LDAP）")
        OIDC = "oidc", _("市府帳號（OpenID Connect）")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="account")
    source = models.CharField(max_length=5, choices=Source.choices, default=Source.LOCAL)
    external_id = models.CharField(max_length=500, blank=True,
                                   help_text="the directory entry's DN, or the provider's issuer and subject")
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    external_groups = models.JSONField(default=list, blank=True,
                                       help_text="the directory's or provider's groups at the last sign-in")
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.user} ({self.source})"


class ApiToken(models.Model):
    """A personal API token (accounts.tokens): named, with scopes, an expiry and a last-used time; only a hash of
    its secret is kept (the secret is shown once, when it is made). Revoking keeps the row (and its audit trail)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="the secret's first characters, to recognise it")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API 權杖")
        verbose_name_plural = _("API 權杖")

    def __str__(self):
        return f"{self.name} ({self.user})"


class Passkey(models.Model):
    """A passkey (WebAuthn / FIDO2 credential) of a local account (accounts.passkeys): the authenticator keeps the
    private key; civgis its id, public key (COSE) and signature counter. A second factor after the password, or a
    sign-in on its own (passwordless)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100)
    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("通行金鑰")
        verbose_name_plural = _("通行金鑰")

    def __str__(self):
        return f"{self.name} ({self.user})"


class TotpDevice(models.Model):
    """A confirmed authenticator app (TOTP, RFC 6238) of a local account: the fallback second factor. `last_step` is
    the last time step a code was accepted for: a code is good once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="totp")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField()
    last_step = models.BigIntegerField(default=0)


class RecoveryCode(models.Model):
    """A single-use recovery code (shown once, when made; only its SHA-256 is kept)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)


class LayerGrant(models.Model):
    """Rights on one layer given to a group or agency, or to one user (accounts.rights says what each right lets
    one do). A group's or agency's "see" is the layer's own list, Layer.allowed_groups, which the catalogue, the OGC
    services and the recorded rules of analysis results already read: a grant of a group holds its other rights,
    and any right (a user's too) opens a restricted layer to its holder."""

    class Right(models.TextChoices):
        SEE = "see", _("查看")
        IMPORT = "import", _("重新匯入與還原版本")
        ADD = "add", _("新增圖徵")
        EDIT_OWN = "edit_own", _("編修自己新增的圖徵")
        EDIT_ALL = "edit_all", _("編修所有圖徵")
        DELETE = "delete", _("刪除圖徵")
        PUBLISH = "publish", _("發布（OGC 服務、詮釋資料與樣式）")
        MANAGE = "manage", _("管理權限")

    layer = models.ForeignKey("layers.Layer", on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="layer_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="layer_grants")
    rights = ArrayField(models.CharField(max_length=10, choices=Right.choices), default=list)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(group__isnull=True) ^ Q(user__isnull=True),
                                   name="layer_grant_one_holder"),
            models.CheckConstraint(condition=Q(user__isnull=False) | ~Q(rights__contains=["see"]),
                                   name="layer_grant_group_see_is_allowed_groups"),
            models.UniqueConstraint(fields=["layer", "group"], name="unique_layer_grant_group"),
            models.UniqueConstraint(fields=["layer", "user"], name="unique_layer_grant_user"),
        ]

    def __str__(self):
        return f"{self.layer_id}: {self.group or self.user} {','.join(self.rights)}"


class ImportGrant(models.Model):
    """Who may import new layers (upload, register a service, statistical tables): a group or agency, one user, or
    — with neither — every signed-in user (the grant the platform starts with; remove it to limit importing)."""

    group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="import_grant")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="import_grant")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(group__isnull=True) | Q(user__isnull=True),
                                   name="import_grant_one_holder"),
        ]

    def __str__(self):
        return str(self.group or self.user or _("所有登入使用者"))
