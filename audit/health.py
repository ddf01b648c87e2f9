"""The fleet's JIT health: every VM and port as the viewer's Azure read scope shows them, per state, and as CSV.

Rows come from the viewer's own inventory (what Azure lets them read, NSGs included), so the page is scope-limited
as every other page is; nothing is read per VM.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import ADMIN, AUDITOR, require_role
from core.actor import actor_of
from trail.chain import record
from vms.inventory import CONFIGURED, NOT_CONFIGURED, Inventory, VmRow, get_inventory
from vms.models import Exposure
from vms.verdicts import CRITICAL, HIGH, NARROW, STATES, PortHealth

from . import csv_export
from .scope import ReadScope, scope_of

PER_PAGE = 50
WINDOWS = 50  # the newest exposure windows the report shows
HEADER = [
    "Subscription",
    "Resource group",
    "VM",
    "JIT",
    "Port",
    "State",
    "Severity",
    "Why",
    "Rule",
    "NSG",
    "Priority",
    "Source",
    "Rule id",
    "Open for",
    "Open until",
]


class HealthFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=[("", "All"), *STATES])
    severity = forms.ChoiceField(
        label="Severity",
        required=False,
        choices=[("", "All"), *((s, s.capitalize()) for s in (CRITICAL, HIGH, NARROW))],
    )
    subscription = forms.ChoiceField(required=False)
    resource_group = forms.ChoiceField(label="Resource group", required=False)
    q = forms.CharField(label="VM name", required=False, max_length=100)

    def __init__(self, data, inventory: Inventory) -> None:
        super().__init__(data)
        choices = inventory.choices()
        self.fields["subscription"].choices = choices["subscription"]
        self.fields["resource_group"].choices = choices["resource_group"]

    def chosen(self) -> dict[str, str]:
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v}


@dataclass(frozen=True)
class Line:
    row: VmRow
    port: PortHealth


def lines(inventory: Inventory, chosen: dict[str, str]) -> list[Line]:
    """Every judged port the filters keep, worst VM first."""
    q = chosen.get("q", "").lower()
    found = []
    for row in sorted(
        (r for r in inventory.rows if r.health is not None), key=lambda r: (r.health_rank, r.name.lower())
    ):
        if (
            (q and q not in row.name.lower())
            or chosen.get("subscription", row.subscription_id) != row.subscription_id
            or chosen.get("resource_group", row.resource_group.lower()) != row.resource_group.lower()
        ):
            continue
        found += [
            Line(row, p)
            for p in row.health.ports
            if chosen.get("state", p.state) == p.state and chosen.get("severity", p.severity) == p.severity
        ]
    return found


def counts(inventory: Inventory) -> list[tuple[str, str, int]]:
    """(state, label, how many VMs are in it at worst), every state listed."""
    found = Counter(r.health.state for r in inventory.rows if r.health is not None)
    return [(state, label, found[state]) for state, label in STATES]


@require_safe
@login_required
def health(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    inventory = get_inventory(request.session, request.user.pk)
    form = HealthFilterForm(request.GET, inventory)
    chosen = form.chosen()
    page = Paginator(lines(inventory, chosen), PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/health.html",
        {
            "inventory": inventory,
            "form": form,
            "page": page,
            "counts": counts(inventory),
            "chosen": chosen,
            "query": query.urlencode(),
        },
    )


def _cells(line: Line) -> list[object]:
    row, port, culprit = line.row, line.port, line.port.culprit
    return [
        row.subscription_name,
        row.resource_group,
        row.name,
        "Configured" if row.tab == CONFIGURED else "Not configured" if row.tab == NOT_CONFIGURED else row.tab,
        port.port,
        port.label,
        port.severity,
        port.detail,
        culprit.rule.name if culprit else "",
        culprit.nsg_name if culprit else "",
        culprit.rule.priority if culprit else "",
        culprit.source_text if culprit else "",
        culprit.rule.rule_id if culprit else "",
        port.who,
        port.until.isoformat()[:19] + "Z" if port.until else "",
    ]


@require_safe
@login_required
def health_csv(request: HttpRequest) -> HttpResponse:
    require_role(request.user, AUDITOR, ADMIN)
    inventory = get_inventory(request.session, request.user.pk)
    form = HealthFilterForm(request.GET, inventory)
    chosen = form.chosen()
    found = lines(inventory, chosen)
    record(actor_of(request), "health.csv", "", "succeeded", details={"filters": chosen, "rows": len(found)})
    rows: Iterator[list[object]] = (_cells(line) for line in found)
    # The header on line 1, as every CSV of the portal's (what it covers is on the Health page it came from).
    return csv_export.response(csv_export.stream(HEADER, rows), "jit-health.csv")


def exposure_windows(scope: ReadScope) -> list[Exposure]:
    """The newest exposure windows in the viewer's Azure read scope: when each finding started and ended."""
    return list(Exposure.objects.filter(scope.allowed()).order_by("-started")[:WINDOWS])


@require_safe
@login_required
def exposures(request: HttpRequest) -> HttpResponse:
    """The auditors' report of exposure windows, within the viewer's Azure read scope."""
    require_role(request.user, AUDITOR, ADMIN)
    inventory = get_inventory(request.session, request.user.pk)
    return render(
        request,
        "audit/exposures.html",
        {"exposures": exposure_windows(scope_of(inventory)), "app_collects": bool(settings.AUDIT_READER_CLIENT_ID)},
    )
