from django.conf import settings


def sign_in_options(request):
    """What the sign-in dialog offers: the city's OpenID Connect provider, the directory, passkeys (and the words
    of passkeys.js)."""
    from .security import page_strings

    return {"oidc_sign_in": bool(settings.OIDC_ISSUER), "directory_sign_in": bool(settings.LDAP_SERVER_URI),
            "passkey_strings": page_strings}
