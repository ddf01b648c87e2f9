from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.index, name="vms-index"),
    path("refresh", views.refresh, name="vms-refresh"),
    re_path(r"^(?P<subscription_id>[0-9a-fA-F-]{36})/(?P<resource_group>[-\w._()]{1,90})/(?P<name>[-\w.]{1,64})/$",
            views.detail, name="vms-detail"),
]
