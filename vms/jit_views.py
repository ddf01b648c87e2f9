"""Admins enable, edit and remove JIT on VMs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import ADMIN, require_role
from jitportal.actor import Actor, actor_of

from .access import selected_vms, vm_for
from .actions import EDIT, ENABLE, RECOMMENDED_PORTS, REMOVE, do_set_ports, eligible, open_snapshots, snapshot_ports
from .forms import PortFormSet, SnapshotForm, port_initial
from .inventory import CONFIGURED, NOT_CONFIGURED, VmRow, get_inventory


def _form_page(request, template: str, rows, formset, opened_token: str, notes, **extra) -> HttpResponse:
    return render(request, template, {"rows": rows, "formset": formset, "opened": opened_token, "notes": notes,
                                      **extra})


def _selected(actor: Actor, source) -> tuple[list[VmRow], list, list[str]]:
    rows, notes = selected_vms(get_inventory(actor.session, actor.user_pk), source.getlist("vm"))
    rows, refused = eligible(rows, NOT_CONFIGURED)
    return rows, refused, notes


@require_http_methods(["GET", "POST"])
@login_required
def enable(request: HttpRequest) -> HttpResponse:
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    rows, refused, notes = _selected(actor, request.POST if request.method == "POST" else request.GET)
    if request.method == "GET":
        token = SnapshotForm.token(open_snapshots(actor, rows))
        formset = PortFormSet(initial=port_initial(RECOMMENDED_PORTS))
        return _form_page(request, "vms/enable.html", rows, formset, token, notes + [o.message for o in refused])
    formset, snapshot = PortFormSet(request.POST), SnapshotForm(request.POST)
    opened = snapshot.snapshots()
    if opened is None:
        notes += snapshot.errors["opened"]
        token = SnapshotForm.token(open_snapshots(actor, rows))
    elif formset.is_valid() and rows:
        outcomes = do_set_ports(actor, ENABLE, rows, {r.vm_id.lower(): formset.rules for r in rows}, opened)
        return render(request, "vms/outcome.html", {"title": "Enable JIT", "outcomes": refused + outcomes})
    else:
        token = request.POST.get("opened", "")
    return _form_page(request, "vms/enable.html", rows, formset, token, notes)


@require_POST
@login_required
def enable_defaults(request: HttpRequest) -> HttpResponse:
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    rows, refused, notes = _selected(actor, request.POST)
    outcomes = do_set_ports(actor, ENABLE, rows, {r.vm_id.lower(): RECOMMENDED_PORTS for r in rows}, None)
    return render(request, "vms/outcome.html", {"title": "Enable JIT with defaults", "notes": notes,
                                                "outcomes": refused + outcomes})


def _configured_vm(request: HttpRequest, subscription_id: str, resource_group: str, name: str,
                   title: str) -> tuple[Actor, VmRow, HttpResponse | None]:
    """The admin's VM with JIT, or the page that says why it cannot be changed here."""
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    row = vm_for(get_inventory(actor.session, actor.user_pk), subscription_id, resource_group, name)
    _, refused = eligible([row], CONFIGURED)
    return actor, row, (render(request, "vms/outcome.html", {"title": title, "outcomes": refused}) if refused else None)


def _fresh_token(actor: Actor, row: VmRow) -> tuple[str, tuple]:
    opened, ports = snapshot_ports(actor, row)
    return SnapshotForm.token(opened), ports


@require_http_methods(["GET", "POST"])
@login_required
def edit(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    actor, row, refusal = _configured_vm(request, subscription_id, resource_group, name, f"Edit JIT on {name}")
    if refusal:
        return refusal
    if request.method == "GET":
        token, ports = _fresh_token(actor, row)
        return _form_page(request, "vms/edit.html", [row], PortFormSet(initial=port_initial(ports)), token, [], vm=row)
    formset, snapshot = PortFormSet(request.POST), SnapshotForm(request.POST)
    opened = snapshot.snapshots()
    if opened is None:
        return _form_page(request, "vms/edit.html", [row], formset, _fresh_token(actor, row)[0],
                          snapshot.errors["opened"], vm=row)
    if formset.is_valid():
        outcomes = do_set_ports(actor, EDIT, [row], {row.vm_id.lower(): formset.rules}, opened)
        return render(request, "vms/outcome.html", {"title": f"Edit JIT on {row.name}", "outcomes": outcomes})
    return _form_page(request, "vms/edit.html", [row], formset, request.POST.get("opened", ""), [], vm=row)


@require_http_methods(["GET", "POST"])
@login_required
def remove(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    actor, row, refusal = _configured_vm(request, subscription_id, resource_group, name, f"Remove JIT from {name}")
    if refusal:
        return refusal
    opened = SnapshotForm(request.POST).snapshots() if request.method == "POST" else None
    if opened is None:
        notes = ["The confirmation expired; confirm again."] if request.method == "POST" else []
        return render(request, "vms/remove.html", {"vm": row, "opened": _fresh_token(actor, row)[0], "notes": notes})
    outcomes = do_set_ports(actor, REMOVE, [row], {row.vm_id.lower(): None}, opened)
    return render(request, "vms/outcome.html", {"title": f"Remove JIT from {row.name}", "outcomes": outcomes})
