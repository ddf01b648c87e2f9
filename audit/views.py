"""Auditors (and admins) read: the fleet report, one VM's activity, the portal's trail, and CSV of each."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import ADMIN, AUDITOR, require_role
from jitportal.actor import actor_of
from vms.access import vm_for
from vms.inventory import get_inventory

from . import csv_export
from .forms import AuditFilterForm
from .models import AuditEvent
from .report import fleet_rows, vm_rows
from .trail import record

PER_PAGE = 50


def _filters(request: HttpRequest) -> AuditFilterForm:
    form = AuditFilterForm(request.GET)
    form.is_valid()
    for name, errors in form.errors.items():
        messages.warning(request, f"Ignored {form.fields[name].label or name}: {errors[0]}" if name in form.fields
                         else errors[0])
    return form


@require_safe
@login_required
def report(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    form = _filters(request)
    rows, failures, subscriptions = fleet_rows(request.session, form.filters())
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/report.html", {"form": form, "page": page, "failures": failures,
                                                 "subscriptions": subscriptions, "count": len(rows),
                                                 "query": _query(request)})


def _report_csv(request: HttpRequest, rows, filename: str) -> HttpResponse:
    """Stream the rows as the Azure portal's CSV plus ours; the download itself goes on the trail."""
    record(actor_of(request), "csv.download", filename, "succeeded", details={"rows": len(rows), "filters": request.GET.dict()})
    return csv_export.response(csv_export.stream(csv_export.AZURE_COLUMNS + csv_export.PORTAL_COLUMNS,
                                                 (csv_export.report_line(r) for r in rows)), filename)


@require_safe
@login_required
def report_csv(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    form = _filters(request)
    rows, _, _ = fleet_rows(request.session, form.filters())
    return _report_csv(request, rows, f"jit-activity_{form.range_label()}.csv")


@require_safe
@login_required
def vm_activity(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    vm = vm_for(get_inventory(request.session, request.user.pk), subscription_id, resource_group, name)
    form = _filters(request)
    rows, failures = vm_rows(request.session, vm, form.filters()) if vm.policy_id else ([], ())
    if request.GET.get("format") == "csv":
        return _report_csv(request, rows, f"jit-activity_{vm.name}_{form.range_label()}.csv")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/vm.html", {"vm": vm, "form": form, "page": page, "failures": failures,
                                             "count": len(rows), "query": _query(request)})


def _trail_events(request: HttpRequest):
    events = AuditEvent.objects.select_related("actor").order_by("-id")
    if request.GET.get("action"):
        events = events.filter(action=request.GET["action"][:40])
    if request.GET.get("actor"):
        events = events.filter(actor_name__icontains=request.GET["actor"][:254])
    return events


@require_safe
@login_required
def trail(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    page = Paginator(_trail_events(request), PER_PAGE).get_page(request.GET.get("page"))
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    return render(request, "audit/trail.html", {"page": page, "actions": sorted(actions), "query": _query(request)})


@require_safe
@login_required
def trail_csv(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    record(actor_of(request), "csv.download", "portal-audit-trail.csv", "succeeded", details={"filters": request.GET.dict()})
    rows = ([e.created.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor_name, e.action, e.target, e.outcome, e.source_ip or "",
             e.correlation_id, e.details, e.hash] for e in _trail_events(request).iterator(chunk_size=2000))
    return csv_export.response(csv_export.stream(csv_export.TRAIL_COLUMNS, rows), "portal-audit-trail.csv")


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
