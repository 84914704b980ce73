from django.urls import path

from .layer_rights import layer_rights_page
from .pages import accounts_page, tokens_page
from .security import passkey_register, passkey_registration_options, security_page

urlpatterns = [path("", accounts_page, name="accounts-page"),
               path("layers/", layer_rights_page, name="layer-rights-page"),
               path("tokens/", tokens_page, name="account-tokens-page"),
               path("security/", security_page, name="account-security-page"),
               path("security/passkeys/options/", passkey_registration_options, name="passkey-registration-options"),
               path("security/passkeys/", passkey_register, name="passkey-register")]
