from django.urls import path, re_path

from vms.urls import VM

from . import health, views

urlpatterns = [
    path("", views.report, name="audit-report"),
    path("report.csv", views.report_csv, name="audit-report-csv"),
    path("report.jsonl", views.report_csv, name="audit-report-jsonl"),  # the same rows as JSON lines
    path("health", health.health, name="audit-health"),
    path("health.csv", health.health_csv, name="audit-health-csv"),
    path("exposures", health.exposures, name="audit-exposures"),
    path("trail", views.trail, name="audit-trail"),
    path("trail.csv", views.trail_csv, name="audit-trail-csv"),
    path("manifests/<uuid:manifest_id>.json", views.manifest, name="audit-manifest"),
    re_path(rf"^vm/{VM}/$", views.vm_activity, name="audit-vm"),
]
