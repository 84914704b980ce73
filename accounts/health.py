"""/api/health's checks of the city's identity systems (only those configured): advisory — when they fail, local
accounts still sign in, and the platform serves as before."""

import ldap
from django.conf import settings

from . import oidc


def check_directory() -> dict:
    conn = ldap.initialize(settings.AUTH_LDAP_SERVER_URI)
    try:
        for option, value in settings.AUTH_LDAP_CONNECTION_OPTIONS.items():
            conn.set_option(option, value)
        if settings.AUTH_LDAP_START_TLS:
            conn.start_tls_s()
        conn.simple_bind_s(settings.AUTH_LDAP_BIND_DN, settings.AUTH_LDAP_BIND_PASSWORD)
    except ldap.LDAPError as exc:
        info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        reason = info.get("desc", type(exc).__name__) + (f" ({info['info']})" if info.get("info") else "")
        return {"ok": False, "server": settings.AUTH_LDAP_SERVER_URI, "error": f"the directory: {reason}"}
    finally:
        try:
            conn.unbind_s()
        except ldap.LDAPError:
            pass
    return {"ok": True, "server": settings.AUTH_LDAP_SERVER_URI}


def checks() -> dict:
    out = {}
    if settings.LDAP_SERVER_URI:
        out["directory"] = check_directory
    if settings.OIDC_ISSUER:
        out["oidc_provider"] = oidc.status
    return out
