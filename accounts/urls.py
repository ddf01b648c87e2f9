from django.urls import path

from . import views

urlpatterns = [
    path("sign-in", views.sign_in, name="accounts-sign-in"),
    path("callback", views.callback, name="accounts-callback"),
    path("sign-out", views.sign_out, name="accounts-sign-out"),
    path("signed-out", views.signed_out, name="accounts-signed-out"),
]
