from django.urls import path

from .views import AuditExportView, AuditListView, AuditVerifyView

urlpatterns = [
    path("", AuditListView.as_view(), name="audit-list"),
    path("export.csv", AuditExportView.as_view(), name="audit-export"),
    path("verify/", AuditVerifyView.as_view(), name="audit-verify"),
]
