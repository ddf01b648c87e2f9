from django.urls import path, re_path

from . import health_views, jit_views, views

VM = r"(?P<subscription_id>[0-9a-fA-F-]{36})/(?P<resource_group>[-\w._()]{1,90})/(?P<name>[-\w.]{1,64})"

urlpatterns = [
    path("", views.index, name="vms-index"),
    path("refresh", views.refresh, name="vms-refresh"),
    path("enable", jit_views.enable, name="vms-enable"),
    path("enable/defaults", jit_views.enable_defaults, name="vms-enable-defaults"),
    path("outcome/<str:key>", jit_views.outcome, name="vms-outcome"),
    re_path(rf"^{VM}/$", views.detail, name="vms-detail"),
    re_path(rf"^{VM}/jit/edit$", jit_views.edit, name="vms-edit"),
    re_path(rf"^{VM}/jit/remove$", jit_views.remove, name="vms-remove"),
    re_path(rf"^{VM}/health/restore$", health_views.restore_rules, name="vms-restore"),
    re_path(rf"^{VM}/health/delete-rule$", health_views.delete_nsg_rule, name="vms-delete-rule"),
]
