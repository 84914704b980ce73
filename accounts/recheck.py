"""Sessions follow the directory: a signed-in directory user is looked up again (as the service account) at most
every AUTH_DIRECTORY_RECHECK_SECONDS (default 300); removed from the directory, put in LDAP_DENY_GROUP or out of
LDAP_REQUIRE_GROUP, their session ends at that request (an audit entry `sign_out`, "reason": "directory"). A directory
that does not answer ends nobody's session (it is asked again at the next request after the interval). Local
accounts need no look-up: a disabled or deleted user's session already ends at the next request (Django's backend
refuses an inactive user when the session is read)."""

import logging
import time

import ldap
from django.conf import settings
from django.contrib.auth import logout

log = logging.getLogger("civgis.accounts")
CHECKED = "directory_checked_at"


def still_in_directory(username: str) -> bool | None:
    """True: the entry is there and may sign in; False: removed or refused by the group rules; None: no answer."""
    from django_auth_ldap.backend import _LDAPUser

    from .directory import DirectoryBackend

    entry = _LDAPUser(DirectoryBackend(), username=username)
    try:
        if entry.dn is None:
            return False
        entry._check_requirements()  # LDAP_DENY_GROUP, LDAP_REQUIRE_GROUP (django-auth-ldap's own checks)
    except entry.AuthenticationFailed:
        return False
    except ldap.LDAPError as exc:
        log.warning("the directory did not answer the session check of %s: %s", username, exc)
        return None
    return True


class DirectoryRecheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if settings.LDAP_SERVER_URI and user is not None and user.is_authenticated and \
                getattr(request, "api_token", None) is None and hasattr(request, "session"):
            checked = request.session.get(CHECKED, 0)
            if time.time() - checked >= settings.AUTH_DIRECTORY_RECHECK_SECONDS:
                account = getattr(user, "account", None)
                found = still_in_directory(user.get_username()) if account is not None and \
                    account.source == "ldap" else True
                if found is False:
                    request.sign_out_reason = "directory"  # the sign-out's audit entry says why
                    logout(request)
                elif found:
                    request.session[CHECKED] = time.time()
        return self.get_response(request)
