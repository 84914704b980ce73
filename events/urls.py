from django.urls import path

from . import views

urlpatterns = [
    path("layers/", views.EventLayerListView.as_view(), name="events-layers"),
    path("import/", views.EventImportView.as_view(), name="events-import"),
    path("layers/<str:slug>/", views.EventLayerDetailView.as_view(), name="events-layer"),
    path("layers/<str:slug>/import/", views.EventLayerImportView.as_view(), name="events-layer-import"),
    path("layers/<str:slug>/unlocated/", views.UnlocatedView.as_view(), name="events-unlocated"),
    path("layers/<str:slug>/counts/", views.CountsView.as_view(), name="events-counts"),
    path("layers/<str:slug>/response-times/", views.ResponseTimesView.as_view(), name="events-response-times"),
    path("layers/<str:slug>/changes/", views.ChangesView.as_view(), name="events-changes"),
    path("layers/<str:slug>/tokens/", views.TokenListView.as_view(), name="events-tokens"),
    path("layers/<str:slug>/tokens/<int:pk>/", views.TokenDetailView.as_view(), name="events-token"),
    path("layers/<str:slug>/push/", views.PushView.as_view(), name="events-push"),
]
