from django.urls import path

from .views import home, sign_in, sign_out, viewer_layers

urlpatterns = [
    path("", home, name="home"),
    path("sign-in/", sign_in, name="sign-in"),
    path("sign-out/", sign_out, name="sign-out"),
    path("viewer/layers.json", viewer_layers, name="viewer-layers"),
]
