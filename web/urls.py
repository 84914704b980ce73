from django.urls import path

from accounts import oidc
from accounts.security import passkey_sign_in, passkey_sign_in_options, second_factor_page

from .decision_pages import sensors_page, siting_page, wifi_page
from .metadata_page import metadata_report_page
from .stats_page import stats_page
from .views import home, sign_in, sign_out, viewer_layers

urlpatterns = [
    path("", home, name="home"),
    path("sign-in/", sign_in, name="sign-in"),
    path("sign-out/", sign_out, name="sign-out"),
    path("sign-in/second-factor/", second_factor_page, name="second-factor-page"),
    path("sign-in/passkey/options/", passkey_sign_in_options, name="passkey-sign-in-options"),
    path("sign-in/passkey/", passkey_sign_in, name="passkey-sign-in"),
    path("sign-in/oidc/", oidc.start, name="oidc-start"),
    path("sign-in/oidc/callback/", oidc.callback, name="oidc-callback"),
    path("siting/", siting_page, name="siting-page"),
    path("wifi/", wifi_page, name="wifi-page"),
    path("sensors/", sensors_page, name="sensors-page"),
    path("viewer/layers.json", viewer_layers, name="viewer-layers"),
    path("metadata/", metadata_report_page, name="metadata-page"),
    path("stats/", stats_page, name="stats-page"),
]
