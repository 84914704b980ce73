from django.urls import path

from . import views

urlpatterns = [
    path("tables/", views.TableListView.as_view(), name="stats-tables"),
    path("tables/<slug:slug>/", views.TableView.as_view(), name="stats-table"),
    path("tables/<slug:slug>/joins/", views.TableJoinView.as_view(), name="stats-table-join"),
    path("joins/<int:pk>/", views.JoinView.as_view(), name="stats-join"),
    path("indicators/", views.IndicatorListView.as_view(), name="stats-indicators"),
    path("indicators/<slug:slug>/", views.IndicatorView.as_view(), name="stats-indicator"),
    path("indicators/<slug:slug>/map/", views.IndicatorMapView.as_view(), name="stats-indicator-map"),
    path("indicators/<slug:slug>/values/", views.IndicatorValuesView.as_view(), name="stats-indicator-values"),
]
