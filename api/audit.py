"""Auditors read: the portal's trail and the audit report (Azure's JIT activity, explained), paged as JSON, or
whole as CSV (the pages' file: its header on line 1, its evidence manifest named by the Link header) or JSON lines. Only rows within the reader's Azure read scope."""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Query, Router, Schema

from accounts.roles import ADMIN, AUDITOR
from audit import archive, csv_export, evidence, jsonl_export
from audit.forms import AuditFilterForm
from audit.report import matching, report_rows
from audit.scope import scope_of
from audit.views import _about, _coverage, _freshness
from core import gateway
from core.actor import Actor
from trail.chain import record
from trail.models import AuditEvent
from vms.inventory import get_inventory

from . import schemas
from .auth import actor, person
from .paging import page_of
from .problems import invalid

router = Router(tags=["Audit"])


class EventFilters(Schema):
    action: str = ""
    actor: str = ""
    page: int = 1
    per_page: int = Field(50, ge=1, le=200)
    format: Literal["json", "csv", "jsonl"] = "json"


def _event(e: AuditEvent) -> dict:
    details = e.details if isinstance(e.details, dict) else {}
    return {
        "seq": e.seq,
        "created": e.created,
        "actor": e.actor_name,
        "action": e.action,
        "target": e.target,
        "outcome": e.outcome,
        "source_ip": e.source_ip or "",
        "correlation_id": e.correlation_id,
        "channel": str(details.get("channel", "")),
        "details": details,
    }


@router.get(
    "/audit/events",
    response=schemas.answers(schemas.EventPage),
    summary="The portal's own trail",
    description="format=json: a page; csv: every event as the trail's CSV (its header on line 1, its manifest at the Link header); jsonl: every "
    "event, one JSON object a line. Downloads go on the trail.",
    auth=person(AUDITOR, ADMIN),
)
def events(request: HttpRequest, filters: Query[EventFilters]):
    who = actor(request)
    found = AuditEvent.objects.select_related("actor").order_by("-seq")
    if filters.action:
        found = found.filter(action=filters.action[:40])
    if filters.actor:
        found = found.filter(actor_name__icontains=filters.actor[:254])
    visible, hidden = scope_of(get_inventory(who.session, who.user_pk)).visible(found)
    if filters.format != "json":
        return _trail_download(who, filters, visible, hidden)
    shown, paging = page_of(visible, filters.page, filters.per_page)
    return {**paging, "hidden": hidden, "items": [_event(e) for e in shown]}


def _trail_download(who: Actor, filters: EventFilters, visible, hidden: int) -> StreamingHttpResponse:
    filename = f"portal-audit-trail.{filters.format}"
    _record_download(who, filename, "", filters)
    if filters.format == "jsonl":
        lines = (json.dumps(_event(e), cls=DjangoJSONEncoder) + "\n" for e in visible.iterator(chunk_size=2000))
        answer = StreamingHttpResponse(lines, content_type="application/jsonl; charset=utf-8")
        answer["Content-Disposition"] = f'attachment; filename="{filename}"'
        return answer
    rows = (csv_export.trail_row(e) for e in visible.iterator(chunk_size=2000))
    return _sealed_csv(
        who,
        filename,
        csv_export.TRAIL_COLUMNS,
        rows,
        _coverage(["the portal's own trail"], (), hidden, []),
        "/api/v1/audit/events",
        filters,
    )


def _sealed_csv(
    who: Actor, filename: str, header: list[str], rows, coverage, path: str, filters: Schema
) -> StreamingHttpResponse:
    """A CSV with its header on line 1 and its evidence manifest sealed at the last byte, as the pages' downloads."""
    manifest = evidence.begin(who.user, filename)
    counted = evidence.Counted(rows)
    asked = {"path": path, "filters": {k: str(v) for k, v in filters.dict().items() if v not in ("", None)}}
    pieces = evidence.written(csv_export.stream(header, counted), manifest, asked, coverage, counted, "text/csv")
    return csv_export.response(pieces, filename, evidence.url(manifest))


class ReportFilters(Schema):
    start: dt.date | None = None
    end: dt.date | None = None
    subscription: str = ""
    resource_group: str = ""
    vm: str = ""
    person: str = ""
    operation: Literal["", "initiate", "write", "delete"] = ""
    page: int = 1
    per_page: int = Field(50, ge=1, le=200)
    format: Literal["json", "csv", "jsonl"] = "json"


def _record_download(who: Actor, filename: str, about: str, filters: Schema) -> None:
    record(
        who,
        "csv.download",
        filename + about,
        "succeeded",
        details={"filters": {k: str(v) for k, v in filters.dict().items() if v not in ("", None)}},
    )


@router.get(
    "/audit/report",
    response=schemas.answers(schemas.ReportPage),
    summary="The audit report",
    description="format=json: a page; csv: every row as the report's CSV (its evidence manifest, at the Link "
    "header, says what it covers); jsonl: every row, one JSON object a line. Downloads go on the "
    "trail.",
    auth=person(AUDITOR, ADMIN),
)
def report(request: HttpRequest, filters: Query[ReportFilters]):
    who = actor(request)
    form = AuditFilterForm(
        {
            k: str(v)
            for k, v in filters.dict().items()
            if v not in ("", None) and k not in ("page", "per_page", "format")
        }
    )
    if not form.is_valid():  # the page falls back to its defaults with a message; a script is told
        raise invalid({name: list(errors) for name, errors in form.errors.items()})
    subscriptions = cache.get_or_set(
        f"audit-subscriptions:{who.user_pk}",
        lambda: gateway.list_subscriptions(who.session),
        settings.INVENTORY_CACHE_SECONDS,
    )
    collected = archive.collect_due(gateway.UserCredential(who.session), f"user:{who.user_pk}", subscriptions)
    archive.collect_app_due()  # what the reader's scope hides, counted now (as the page does)
    inventory = get_inventory(who.session, who.user_pk)
    scope = scope_of(inventory)
    found, hidden = matching(form.filters(), scope)
    names = {s.subscription_id.lower(): s.display_name for s in subscriptions}
    unread = [f"{name} ({why})" for name, why in collected.unread]
    if filters.format != "json":
        return _download(who, filters, form, found, names, scope, inventory, collected, hidden)
    shown, paging = page_of(found, filters.page, filters.per_page)
    rows = report_rows(shown, names, scope, azure_now=inventory.azure_clock())
    return {
        **paging,
        "hidden": hidden,
        "unread": unread,
        "items": [jsonl_export.as_dict(csv_export.report_line(row)) for row in rows],
    }


def _download(
    who: Actor, filters: ReportFilters, form: AuditFilterForm, found, names, scope, inventory, collected, hidden: int
) -> StreamingHttpResponse:
    filename = f"jit-activity_{form.range_label()}.{filters.format}"
    _record_download(who, filename, _about(inventory.rows, form), filters)
    lines = csv_export.report_lines(found, names, scope, "", inventory.azure_clock())
    if filters.format == "jsonl":
        answer = StreamingHttpResponse(jsonl_export.stream(lines), content_type="application/jsonl; charset=utf-8")
        answer["Content-Disposition"] = f'attachment; filename="{filename}"'
        return answer
    not_read = {name for name, _ in collected.unread}
    coverage = _coverage(
        [n for n in names.values() if n not in not_read],
        collected.unread,
        hidden,
        _freshness(archive.freshness(list(names)), names),
    )
    return _sealed_csv(
        who,
        filename,
        csv_export.AZURE_COLUMNS + csv_export.PORTAL_COLUMNS,
        lines,
        coverage,
        "/api/v1/audit/report",
        filters,
    )
