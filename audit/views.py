"""Auditors (and admins) read: the fleet report, one VM's activity, the portal's trail, and CSV of each."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import ADMIN, AUDITOR, require_role
from core import gateway
from core.actor import actor_of
from trail.chain import record
from trail.models import AuditEvent
from vms.inventory import Inventory, get_inventory
from vms.rights import vm_for

from . import archive, csv_export, evidence, jsonl_export
from .difference import difference
from .forms import AuditFilterForm
from .models import ExportManifest
from .report import matching, report_rows
from .scope import ReadScope, scope_of

PER_PAGE = 50


def _scope(request: HttpRequest) -> ReadScope:
    return scope_of(get_inventory(request.session, request.user.pk))


def _collect(request: HttpRequest, subscriptions: list[gateway.Subscription]) -> archive.Collected:
    """Every auditor's read fills the archive with the new tail of what they may read (at most once every
    AUDIT_COLLECT_SECONDS per subscription, unless the portal changed something there since)."""
    return archive.collect_due(gateway.UserCredential(request.session), f"user:{request.user.pk}", subscriptions)


def _filters(request: HttpRequest) -> tuple[AuditFilterForm, list[str]]:
    """The filters, and what was ignored of them in words: a page shows those, a CSV says them in its first
    line (a message would wait for the next page, and the file would not say it is not what was asked)."""
    form = AuditFilterForm(request.GET)
    form.is_valid()
    return form, [
        f"Ignored {form.fields[name].label or name}: {errors[0]}" if name in form.fields else errors[0]
        for name, errors in form.errors.items()
    ]


def _tell(request: HttpRequest, ignored: list[str]) -> None:
    for words in ignored:
        messages.warning(request, words)


@dataclass(frozen=True)
class _Fleet:
    """What the fleet report and its CSV read: the selected events within the viewer's scope, and around them."""

    subscriptions: list[gateway.Subscription]
    events: QuerySet
    hidden: int  # rows the viewer's Azure read scope hides
    scope: ReadScope
    collected: archive.Collected
    names: dict[str, str]  # subscription id (lower case) → its name
    fresh: dict  # subscription id → up to when its Activity Log is archived
    inventory: Inventory  # whose Azure clock says whether a window is open or ended


def _subscriptions(request: HttpRequest) -> list[gateway.Subscription]:
    """The person's subscriptions, kept as long as their inventory is: an ARM call per audit view was a fifth
    of a report page's time (`make bench`)."""
    return cache.get_or_set(
        f"audit-subscriptions:{request.user.pk}",
        lambda: gateway.list_subscriptions(request.session),
        settings.INVENTORY_CACHE_SECONDS,
    )


def _fleet(request: HttpRequest, form: AuditFilterForm) -> _Fleet:
    subscriptions = _subscriptions(request)
    collected = _collect(request, subscriptions)
    archive.collect_app_due()  # what her scope hides, counted now: she cannot collect it herself
    inventory = get_inventory(request.session, request.user.pk)
    scope = scope_of(inventory)
    events, hidden = matching(form.filters(), scope)
    names = {s.subscription_id.lower(): s.display_name for s in subscriptions}
    return _Fleet(subscriptions, events, hidden, scope, collected, names, archive.freshness(list(names)), inventory)


@require_safe
@login_required
def report(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    form, ignored = _filters(request)
    _tell(request, ignored)
    fleet = _fleet(request, form)
    page = Paginator(fleet.events, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/report.html",
        {
            "form": form,
            "page": page,
            "rows": report_rows(page.object_list, fleet.names, fleet.scope, azure_now=fleet.inventory.azure_clock()),
            "subscriptions": fleet.subscriptions,
            "unread": fleet.collected.unread,
            "count": page.paginator.count,
            "hidden": fleet.hidden,
            "query": _query(request),
            "freshness": _freshness(fleet.fresh, fleet.names),
            "coverage": _fleet_coverage(fleet, ignored),
            "manifests": evidence.recent(request.user),
            "app_collects": bool(settings.AUDIT_READER_CLIENT_ID),
            "collect_seconds": settings.AUDIT_COLLECT_SECONDS,
        },
    )


def _freshness(fresh: dict, names: dict[str, str]) -> list[tuple[str, object]]:
    """(subscription name, up to when its Activity Log is archived, or None): shown, since without the app
    identity the archive is only as fresh as the last auditor's or admin's read."""
    return sorted(((names.get(sub, sub), until) for sub, until in fresh.items()), key=lambda x: x[0].lower())


def _fleet_coverage(fleet: _Fleet, ignored: list[str]) -> evidence.Coverage:
    unread = {name for name, _ in fleet.collected.unread}
    return _coverage(
        [n for n in fleet.names.values() if n not in unread],
        fleet.collected.unread,
        fleet.hidden,
        _freshness(fleet.fresh, fleet.names),
        ignored,
    )


def _coverage(
    included: list[str], unread, hidden: int, fresh: list[tuple[str, object]], ignored: list[str] = ()
) -> evidence.Coverage:
    """What a file or a page covers: the manifest keeps it, the page says it."""
    return evidence.Coverage(list(included), list(ignored), list(unread), list(fresh), hidden)


NOWHERE = "00000000-0000-0000-0000-000000000000"


def _about(rows: list, form: AuditFilterForm) -> str:
    """The resource groups a download's filters narrow it to, as ARM ids for the trail's target (so that its
    event, which names what was typed, is shown only to those who may read them), or "" when none narrows it.
    Filters naming nothing the downloader can read narrow it to nowhere: the event then shows to nobody but
    through `verify_audit`, rather than show what was typed to everyone."""
    narrowing = ("subscription", "resource_group", "vm")
    if not any((form.data.get(name) or "").strip() for name in narrowing):
        return ""
    wanted = form.filters()
    if any(name in form.errors for name in narrowing):  # not applied, yet typed
        rows = []
    groups = sorted(
        {
            (r.subscription_id.lower(), r.resource_group.lower())
            for r in rows
            if (not wanted.subscription or r.subscription_id.lower() == wanted.subscription.lower())
            and (not wanted.resource_group or r.resource_group.lower() == wanted.resource_group.lower())
            and (not wanted.vm or wanted.vm.lower() in r.name.lower())
        }
    ) or [(NOWHERE, NOWHERE)]
    return " about " + ", ".join(f"/subscriptions/{sub}/resourceGroups/{rg}" for sub, rg in groups)


def _download(
    request: HttpRequest, filename: str, header: list[str], rows, coverage: evidence.Coverage, about: str = ""
) -> HttpResponse:
    """Stream a table (CSV with its header on line 1, or JSON lines when the name ends .jsonl); the download goes on
    the trail, and its evidence manifest (what was asked, coverage, rows, SHA-256, checkpoint) is sealed once the
    last byte is written."""
    if request.method == "GET":  # a HEAD downloads nothing
        record(
            actor_of(request), "csv.download", filename + about, "succeeded", details={"filters": request.GET.dict()}
        )
    manifest = evidence.begin(request.user, filename)
    counted = evidence.Counted(rows)
    asked = {"path": request.path, "filters": request.GET.dict()}
    if filename.endswith(".jsonl"):
        text, media_type = jsonl_export.stream(counted), jsonl_export.MEDIA_TYPE
    else:
        text, media_type = csv_export.stream(header, counted), "text/csv"
    pieces = evidence.written(text, manifest, asked, coverage, counted, media_type)
    return csv_export.response(pieces, filename, evidence.url(manifest), media_type)


def _format(request: HttpRequest) -> str:
    return "jsonl" if request.path.endswith(".jsonl") or request.GET.get("format") == "jsonl" else "csv"


@require_safe
@login_required
def report_csv(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    form, ignored = _filters(request)
    fleet = _fleet(request, form)
    filename = f"jit-activity_{form.range_label()}.{_format(request)}"
    coverage = _fleet_coverage(fleet, ignored)
    rows = csv_export.report_lines(fleet.events, fleet.names, fleet.scope, azure_now=fleet.inventory.azure_clock())
    return _download(
        request,
        filename,
        csv_export.AZURE_COLUMNS + csv_export.PORTAL_COLUMNS,
        rows,
        coverage,
        _about(fleet.inventory.rows, form),
    )


@require_safe
@login_required
def manifest(request: HttpRequest, manifest_id) -> HttpResponse:
    """A download's evidence manifest, to the person who downloaded it; 404 while the file is unfinished."""
    require_role(request.user, AUDITOR, ADMIN)
    found = ExportManifest.objects.filter(pk=manifest_id, user=request.user, document__isnull=False).first()
    if found is None:
        raise Http404(
            "No finished download of yours has that manifest (manifests are purged with the archive after "
            f"{settings.AUDIT_RETENTION_DAYS} days)."
        )
    answer = JsonResponse(found.document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    answer["Content-Disposition"] = f'attachment; filename="{found.filename}.manifest.json"'
    return answer


@require_safe
@login_required
def vm_activity(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    inventory = get_inventory(request.session, request.user.pk)
    vm = vm_for(inventory, subscription_id, resource_group, name)
    form, ignored = _filters(request)
    collected = _collect(request, [gateway.Subscription(vm.subscription_id, vm.subscription_name, "")])
    scope = scope_of(inventory)
    events, _ = matching(form.filters(), scope, vm_id=vm.vm_id)
    names = {vm.subscription_id.lower(): vm.subscription_name}
    fresh = _freshness(archive.freshness(list(names)), names)
    coverage = _coverage([] if collected.unread else [vm.subscription_name], collected.unread, 0, fresh, ignored)
    if request.GET.get("format") in ("csv", "jsonl"):
        filename = f"jit-activity_{vm.name}_{form.range_label()}.{_format(request)}"
        rows = csv_export.report_lines(events, names, scope, vm.vm_id, inventory.azure_clock())
        return _download(
            request,
            filename,
            csv_export.AZURE_COLUMNS + csv_export.PORTAL_COLUMNS,
            rows,
            coverage,
            f" about /subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}",
        )
    _tell(request, ignored)
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/vm.html",
        {
            "vm": vm,
            "form": form,
            "page": page,
            "rows": report_rows(page.object_list, names, scope, vm.vm_id, inventory.azure_clock()),
            "unread": collected.unread,
            "count": page.paginator.count,
            "query": _query(request),
            "freshness": fresh,
            "coverage": coverage,
            "manifests": evidence.recent(request.user),
            "app_collects": bool(settings.AUDIT_READER_CLIENT_ID),
            "collect_seconds": settings.AUDIT_COLLECT_SECONDS,
        },
    )


def _trail_events(request: HttpRequest):
    """The filtered events within the viewer's Azure read scope, and how many the scope hides."""
    events = AuditEvent.objects.select_related("actor").order_by("-seq")
    if request.GET.get("action"):
        events = events.filter(action=request.GET["action"][:40])
    if request.GET.get("actor"):
        events = events.filter(actor_name__icontains=request.GET["actor"][:254])
    return _scope(request).visible(events)


@require_safe
@login_required
def trail(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    events, hidden = _trail_events(request)
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    changes = [(e, difference(e.details)) for e in page.object_list]
    return render(
        request,
        "audit/trail.html",
        {"page": page, "changes": changes, "actions": sorted(actions), "hidden": hidden, "query": _query(request)},
    )


@require_safe
@login_required
def trail_csv(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    events, hidden = _trail_events(request)
    rows = (csv_export.trail_row(e) for e in events.iterator(chunk_size=2000))
    return _download(
        request,
        "portal-audit-trail.csv",
        csv_export.TRAIL_COLUMNS,
        rows,
        _coverage(["the portal's own trail"], (), hidden, []),
    )


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
