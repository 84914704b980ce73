from django.urls import path

from .pages import harvest_page

urlpatterns = [path("", harvest_page, name="harvest-page")]
