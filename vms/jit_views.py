"""Admins enable, edit and remove JIT on VMs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import ADMIN, require_role

from .access import selected_vms, vm_for
from .actions import RECOMMENDED_PORTS, Outcome, do_set_ports, name_too_long, open_snapshots, snapshot_ports
from .forms import PortFormSet, port_initial
from .inventory import CONFIGURED, NOT_CONFIGURED, VmRow

SALT = "vms.jit-form"
FORM_LIFETIME = 3600


def _eligible(rows: list[VmRow], tab: str) -> tuple[list[VmRow], list[Outcome]]:
    ok, refused = [], []
    for row in rows:
        if row.tab != tab:
            why = row.reason or ("it already has JIT: use Edit" if row.tab == CONFIGURED else "it has no JIT yet")
            refused.append(Outcome(row.name, False, f"Left out: {why}."))
        elif name_too_long(row):
            refused.append(Outcome(row.name, False, "Left out: the policy name 'default' and this VM's name together "
                                                    "exceed Azure's 56 characters."))
        else:
            ok.append(row)
    return ok, refused


def _opened(request: HttpRequest) -> dict | None:
    try:
        return signing.loads(request.POST.get("opened", ""), salt=SALT, max_age=FORM_LIFETIME)
    except signing.BadSignature:
        return None


def _form_page(request, template: str, rows, formset, opened_token: str, notes, **extra) -> HttpResponse:
    return render(request, template, {"rows": rows, "formset": formset, "opened": opened_token, "notes": notes,
                                      **extra})


@require_http_methods(["GET", "POST"])
@login_required
def enable(request: HttpRequest) -> HttpResponse:
    require_role(request.user, ADMIN)
    source = request.POST if request.method == "POST" else request.GET
    rows, notes = selected_vms(request, source.getlist("vm"))
    rows, refused = _eligible(rows, NOT_CONFIGURED)
    if request.method == "GET":
        token = signing.dumps(open_snapshots(request, rows), salt=SALT)
        formset = PortFormSet(initial=port_initial(RECOMMENDED_PORTS))
        return _form_page(request, "vms/enable.html", rows, formset, token, notes + [o.message for o in refused])
    formset, opened = PortFormSet(request.POST), _opened(request)
    token = request.POST.get("opened", "")
    if opened is None:
        notes.append("This form was open too long or was altered; it now compares with Azure's policies as they are. "
                     "Check and save again.")
        token = signing.dumps(open_snapshots(request, rows), salt=SALT)
    elif formset.is_valid() and rows:
        outcomes = do_set_ports(request, "jit.enable", rows, {r.vm_id.lower(): formset.rules for r in rows}, opened)
        return render(request, "vms/outcome.html", {"title": "Enable JIT", "outcomes": refused + outcomes})
    return _form_page(request, "vms/enable.html", rows, formset, token, notes)


@require_POST
@login_required
def enable_defaults(request: HttpRequest) -> HttpResponse:
    require_role(request.user, ADMIN)
    rows, notes = selected_vms(request, request.POST.getlist("vm"))
    rows, refused = _eligible(rows, NOT_CONFIGURED)
    outcomes = do_set_ports(request, "jit.enable", rows, {r.vm_id.lower(): RECOMMENDED_PORTS for r in rows}, None)
    return render(request, "vms/outcome.html", {"title": "Enable JIT with defaults", "notes": notes,
                                                "outcomes": refused + outcomes})


def _configured_vm(request: HttpRequest, subscription_id: str, resource_group: str, name: str,
                   title: str) -> tuple[VmRow, HttpResponse | None]:
    """The admin's VM with JIT, or the page that says why it cannot be changed here."""
    require_role(request.user, ADMIN)
    row = vm_for(request, subscription_id, resource_group, name)
    _, refused = _eligible([row], CONFIGURED)
    return row, (render(request, "vms/outcome.html", {"title": title, "outcomes": refused}) if refused else None)


def _fresh_token(request: HttpRequest, row: VmRow) -> tuple[str, tuple]:
    opened, ports = snapshot_ports(request, row)
    return signing.dumps(opened, salt=SALT), ports


@require_http_methods(["GET", "POST"])
@login_required
def edit(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    row, refusal = _configured_vm(request, subscription_id, resource_group, name, f"Edit JIT on {name}")
    if refusal:
        return refusal
    if request.method == "GET":
        token, ports = _fresh_token(request, row)
        return _form_page(request, "vms/edit.html", [row], PortFormSet(initial=port_initial(ports)), token, [], vm=row)
    formset, opened = PortFormSet(request.POST), _opened(request)
    if opened is None:
        notes = ["This form was open too long or was altered; it now shows Azure's policy as it is. Check and save."]
        return _form_page(request, "vms/edit.html", [row], formset, _fresh_token(request, row)[0], notes, vm=row)
    if formset.is_valid():
        outcomes = do_set_ports(request, "jit.edit", [row], {row.vm_id.lower(): formset.rules}, opened)
        return render(request, "vms/outcome.html", {"title": f"Edit JIT on {row.name}", "outcomes": outcomes})
    return _form_page(request, "vms/edit.html", [row], formset, request.POST.get("opened", ""), [], vm=row)


@require_http_methods(["GET", "POST"])
@login_required
def remove(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    row, refusal = _configured_vm(request, subscription_id, resource_group, name, f"Remove JIT from {name}")
    if refusal:
        return refusal
    opened = _opened(request) if request.method == "POST" else None
    if opened is None:
        notes = ["The confirmation expired; confirm again."] if request.method == "POST" else []
        return render(request, "vms/remove.html", {"vm": row, "opened": _fresh_token(request, row)[0], "notes": notes})
    outcomes = do_set_ports(request, "jit.remove", [row], {row.vm_id.lower(): None}, opened)
    return render(request, "vms/outcome.html", {"title": f"Remove JIT from {row.name}", "outcomes": outcomes})
