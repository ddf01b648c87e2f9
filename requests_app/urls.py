from django.urls import path

from . import approval_views, views

urlpatterns = [
    path("", views.my_access, name="requests-my-access"),
    path("new", views.new, name="requests-new"),
    path("requests/<int:pk>/", views.detail, name="requests-detail"),
    path("requests/<int:pk>/decide", approval_views.decide, name="requests-decide"),
    path("requests/<int:pk>/open", approval_views.open_again, name="requests-open-again"),
    path("requests/<int:pk>/cancel", approval_views.cancel, name="requests-cancel"),
    path("requests/<int:pk>/end", approval_views.end, name="requests-end"),
    path("requests/<int:pk>/extend", approval_views.extend, name="requests-extend"),
    path("items/<int:pk>/end", approval_views.end_item, name="requests-end-item"),
    path("items/<int:pk>/extend", approval_views.extend_item, name="requests-extend-item"),
    path("end-all", approval_views.end_all, name="requests-end-all"),
    path("outside/end", approval_views.end_outside, name="requests-end-outside"),
    path("items/<int:pk>/connect.rdp", views.rdp_file, name="requests-rdp"),
    path("approvals/", approval_views.inbox, name="requests-inbox"),
    path("rules/", approval_views.rules, name="requests-rules"),
    path("rules/new", approval_views.rule_edit, name="requests-rule-new"),
    path("rules/<int:pk>/", approval_views.rule_edit, name="requests-rule-edit"),
    path("rules/<int:pk>/delete", approval_views.rule_delete, name="requests-rule-delete"),
]
