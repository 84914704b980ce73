from django.urls import path

from .pages import accounts_page

urlpatterns = [path("", accounts_page, name="accounts-page")]
