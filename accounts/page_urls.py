from django.urls import path

from .pages import accounts_page, tokens_page

urlpatterns = [path("", accounts_page, name="accounts-page"),
               path("tokens/", tokens_page, name="account-tokens-page")]
