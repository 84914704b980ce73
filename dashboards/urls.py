from django.urls import path

from . import views

urlpatterns = [
    path("", views.DashboardListView.as_view(), name="dashboards"),
    path("<slug:slug>/", views.DashboardView.as_view(), name="dashboard"),
    path("<slug:slug>/values/", views.DashboardValuesView.as_view(), name="dashboard-values"),
    path("<slug:slug>/pdf/", views.DashboardPdfView.as_view(), name="dashboard-pdf"),
]
