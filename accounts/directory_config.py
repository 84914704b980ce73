"""The directory's settings (django-auth-ldap's AUTH_LDAP_*) from the environment; geo/settings.py loads them when
LDAP_SERVER_URI is set. Imports nothing of Django's models: it runs while the settings are read."""

import json

import ldap
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap import config

GROUP_TYPES = {
    "nested-groupofnames": config.NestedGroupOfNamesType,  # OpenLDAP groupOfNames, groups within groups
    "groupofnames": config.GroupOfNamesType,
    "nested-groupofuniquenames": config.NestedGroupOfUniqueNamesType,
    "groupofuniquenames": config.GroupOfUniqueNamesType,
    "nested-active-directory": config.NestedActiveDirectoryGroupType,  # AD, nested through `member`
    "active-directory": config.ActiveDirectoryGroupType,
    "posix": config.PosixGroupType,
}


def ldap_settings(env) -> dict:
    def need(name: str) -> str:
        if not env.get(name):
            raise ImproperlyConfigured(f"LDAP_SERVER_URI is set but {name} is not (see the admin guide, "
                                       "'Sign-in with the city's directory')")
        return env[name]

    kind = env.get("LDAP_GROUP_TYPE", "nested-groupofnames")
    if kind not in GROUP_TYPES:
        raise ImproperlyConfigured(f"LDAP_GROUP_TYPE={kind!r}: use one of {', '.join(GROUP_TYPES)}")
    try:
        attr_map = json.loads(env.get("LDAP_USER_ATTR_MAP") or
                              '{"first_name": "givenName", "last_name": "sn", "email": "mail"}')
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"LDAP_USER_ATTR_MAP is not JSON: {exc}") from None
    timeout = float(env.get("LDAP_TIMEOUT_S", "5"))
    options = {ldap.OPT_NETWORK_TIMEOUT: timeout, ldap.OPT_TIMEOUT: timeout, ldap.OPT_REFERRALS: 0}
    if env.get("LDAP_CA_FILE"):
        options[ldap.OPT_X_TLS_CACERTFILE] = env["LDAP_CA_FILE"]
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # must come last: applies the TLS options above
    group_type = GROUP_TYPES[kind]
    out = {
        "AUTH_LDAP_SERVER_URI": env["LDAP_SERVER_URI"],
        "AUTH_LDAP_BIND_DN": env.get("LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": env.get("LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_START_TLS": env.get("LDAP_START_TLS", "").lower() in {"1", "true", "yes", "on"},
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_USER_SEARCH": config.LDAPSearch(need("LDAP_USER_BASE"), ldap.SCOPE_SUBTREE,
                                                   env.get("LDAP_USER_FILTER", "(uid=%(user)s)")),
        "AUTH_LDAP_GROUP_SEARCH": config.LDAPSearch(need("LDAP_GROUP_BASE"), ldap.SCOPE_SUBTREE,
                                                    env.get("LDAP_GROUP_FILTER", "(objectClass=*)")),
        "AUTH_LDAP_GROUP_TYPE": group_type(name_attr="cn") if kind != "posix" else group_type(),
        "AUTH_LDAP_USER_ATTR_MAP": attr_map,
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_CACHE_TIMEOUT": 0,  # a group change in the directory counts at the next sign-in
        # the user's agency: this attribute of their entry, else the OU their entry is in
        "LDAP_AGENCY_ATTRIBUTE": env.get("LDAP_AGENCY_ATTRIBUTE", "ou"),
    }
    for name in ("LDAP_DENY_GROUP", "LDAP_REQUIRE_GROUP"):
        if env.get(name):
            out["AUTH_" + name] = env[name]
    return out
