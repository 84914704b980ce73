from django.urls import path

from .api import LayerCopy, RunDetail, RunList, RunNow, SourceDetail, SourceList

urlpatterns = [
    path("sources/", SourceList.as_view(), name="harvest-source-list"),
    path("sources/<int:pk>/", SourceDetail.as_view(), name="harvest-source-detail"),
    path("sources/<int:pk>/run/", RunNow.as_view(), name="harvest-source-run"),
    path("runs/", RunList.as_view(), name="harvest-run-list"),
    path("runs/<int:pk>/", RunDetail.as_view(), name="harvest-run-detail"),
    path("layers/<slug:slug>/copy/", LayerCopy.as_view(), name="harvest-layer-copy"),
]
