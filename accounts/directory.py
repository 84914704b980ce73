"""Sign-in with the city's directory (LDAP / Active Directory) through django-auth-ldap: bind as the service
account, find the user, bind as them, refuse members of LDAP_DENY_GROUP (and non-members of LDAP_REQUIRE_GROUP),
then map their agency and (nested) groups (accounts.mapping). A directory user has no password in civgis: removed
or disabled there, they can no longer sign in here."""

import logging

import ldap
from django.conf import settings
from django_auth_ldap.backend import LDAPBackend, ldap_error

from . import mapping
from .models import Account

log = logging.getLogger("civgis.accounts")
UNREACHABLE = "directory_unreachable"  # request attribute set when the directory did not answer


class DirectoryBackend(LDAPBackend):
    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and mapping.is_local_account(user):
            # a local account of the same name is someone else's: never taken over by a directory entry
            raise ldap_user.AuthenticationFailed(f"{username} is a local account")
        return user, built

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None:
            mapping.apply(user, Account.Source.LDAP, ldap_user.dn, agency_of(ldap_user),
                          sorted(ldap_user.group_names))
            user.sign_in_method = "ldap"
        return user


def agency_of(ldap_user) -> str | None:
    """The user's agency in the directory: LDAP_AGENCY_ATTRIBUTE of their entry, else the OU their entry is in."""
    values = ldap_user.attrs.get(settings.LDAP_AGENCY_ATTRIBUTE.lower()) or []
    if values:
        return values[0]
    for rdn in ldap.dn.str2dn(ldap_user.dn)[1:]:
        for attr, value, _ in rdn:
            if attr.lower() == "ou":
                return value
    return None


def _directory_error(sender, context, user, request, exception, **kwargs):
    """The directory could not be asked (down, a TLS failure, the service account refused): the sign-in page says
    so, instead of 'wrong password'."""
    if request is not None:
        setattr(request, UNREACHABLE, True)
    log.error("the directory (%s) failed while %s: %s", settings.AUTH_LDAP_SERVER_URI, context, exception)


ldap_error.connect(_directory_error, dispatch_uid="civgis-directory-error")
