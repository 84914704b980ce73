from django.urls import path

from . import views

urlpatterns = [
    path("", views.landing, name="ogcapi-landing"),
    path("conformance", views.conformance, name="ogcapi-conformance"),
    path("api", views.api, name="ogcapi-api"),
    path("collections", views.collections, name="ogcapi-collections"),
    path("collections/<str:collection_id>", views.collection, name="ogcapi-collection"),
    path("collections/<str:collection_id>/queryables", views.queryables, name="ogcapi-queryables"),
    path("collections/<str:collection_id>/items", views.items, name="ogcapi-items"),
    path("collections/<str:collection_id>/items/<str:feature_id>", views.item, name="ogcapi-item"),
]
