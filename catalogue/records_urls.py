from django.urls import path

from . import records

urlpatterns = [
    path("", records.landing, name="records-landing"),
    path("conformance", records.conformance, name="records-conformance"),
    path("collections", records.collections, name="records-collections"),
    path("collections/<str:collection>", records.collection, name="records-collection"),
    path("collections/<str:collection>/queryables", records.queryables, name="records-queryables"),
    path("collections/<str:collection>/items", records.items, name="records-items"),
    path("collections/<str:collection>/items/<str:identifier>", records.item, name="records-item"),
]
