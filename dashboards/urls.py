from django.urls import path

from . import views

urlpatterns = [
    path("", views.DashboardListView.as_view(), name="dashboards"),
    path("<slug:slug>/", views.DashboardView.as_view(), name="dashboard"),
]
