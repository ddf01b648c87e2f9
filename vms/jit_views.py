"""Admins enable, edit and remove JIT on VMs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_safe

from accounts.roles import ADMIN, require_role
from core.actor import Actor, actor_of
from core.gateway import PortRule

from .actions import (
    EDIT,
    ENABLE,
    RECOMMENDED_PORTS,
    REMOVE,
    Outcome,
    do_set_ports,
    eligible,
    group_of,
    open_snapshots,
    recommended_for,
    snapshot_ports,
)
from .forms import PortFormSet, SnapshotForm, port_initial
from .inventory import CONFIGURED, NOT_CONFIGURED, Inventory, VmRow, get_inventory
from .outcomes import redirect_to_outcome, stored_outcome
from .rights import CONFIGURE, permitted, selected_vms, vm_for
from .snapshots import VmSnapshot, changes, describe_ports, keep_mine, rules_of


def _form_page(request, template: str, rows, formset, opened_token: str, notes, **extra) -> HttpResponse:
    return render(
        request, template, {"rows": rows, "formset": formset, "opened": opened_token, "notes": notes, **extra}
    )


def _may_configure(inventory: Inventory, rows: list[VmRow]) -> tuple[list[VmRow], list[Outcome]]:
    """The rows Azure lets this person configure, and a refusal with Azure's reason for each other one."""
    rows, forbidden = permitted(inventory, rows, CONFIGURE)
    return rows, [Outcome(row.name, False, f"Left out: {why}.") for row, why in forbidden]


def _named(refused: list[Outcome]) -> list[str]:
    """A note per VM left out, naming it: the page lists only the VMs it will act on."""
    return [f"{o.vm_name}: {o.message}" for o in refused]


def _selected(actor: Actor, source) -> tuple[list[VmRow], list, list[str]]:
    inventory = get_inventory(actor.session, actor.user_pk, complete=True)
    rows, notes = selected_vms(inventory, source.getlist("vm"))
    rows, refused = eligible(rows, NOT_CONFIGURED)
    rows, forbidden = _may_configure(inventory, rows)
    return rows, refused + forbidden, notes


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def enable(request: HttpRequest) -> HttpResponse:
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    rows, refused, notes = _selected(actor, request.POST if request.method == "POST" else request.GET)
    if request.method != "POST":
        token = SnapshotForm.token(open_snapshots(actor, rows))
        formset = PortFormSet(initial=port_initial(recommended_for(rows)))
        return _form_page(request, "vms/enable.html", rows, formset, token, notes + _named(refused))
    formset, snapshot = PortFormSet(request.POST), SnapshotForm(request.POST)
    opened = snapshot.snapshots()
    if opened is None:
        notes += snapshot.errors["opened"]
        token = SnapshotForm.token(open_snapshots(actor, rows))
    elif formset.is_valid() and rows:
        outcomes = do_set_ports(actor, ENABLE, rows, {r.vm_id.lower(): formset.rules for r in rows}, opened)
        return redirect_to_outcome(request.session, "Enable JIT", refused + outcomes, clear_tab=NOT_CONFIGURED)
    else:
        token = request.POST.get("opened", "")
    return _form_page(request, "vms/enable.html", rows, formset, token, notes)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def enable_defaults(request: HttpRequest) -> HttpResponse:
    """GET lists exactly the VMs that will change and asks once; POST (from that page) changes them."""
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    rows, refused, notes = _selected(actor, request.POST if request.method == "POST" else request.GET)
    if request.method != "POST":
        return render(
            request,
            "vms/enable_defaults.html",
            {"rows": rows, "notes": notes + _named(refused), "defaults": describe_ports(RECOMMENDED_PORTS)},
        )
    outcomes = do_set_ports(actor, ENABLE, rows, {r.vm_id.lower(): RECOMMENDED_PORTS for r in rows}, None)
    return redirect_to_outcome(
        request.session, "Enable JIT with defaults", refused + outcomes, notes, clear_tab=NOT_CONFIGURED
    )


@require_safe
@login_required
def outcome(request: HttpRequest, key: str) -> HttpResponse:
    require_role(request.user)
    kept = stored_outcome(request.session, key)
    if kept is None:
        raise Http404("This outcome is no longer kept; the virtual machine pages show the current state.")
    return render(request, "vms/outcome.html", kept)


def _configured_vm(
    request: HttpRequest, subscription_id: str, resource_group: str, name: str, title: str
) -> tuple[Actor, VmRow, HttpResponse | None]:
    """The admin's VM with JIT, or the page that says why it cannot be changed here."""
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    inventory = get_inventory(actor.session, actor.user_pk, complete=True)
    row = vm_for(inventory, subscription_id, resource_group, name)
    _, refused = eligible([row], CONFIGURED)
    refused = refused or _may_configure(inventory, [row])[1]
    return actor, row, (redirect_to_outcome(request.session, title, refused) if refused else None)


def _fresh_token(actor: Actor, row: VmRow) -> tuple[str, tuple]:
    opened, ports = snapshot_ports(actor, row)
    return SnapshotForm.token(opened), ports


def _edit_again(
    request: HttpRequest, actor: Actor, row: VmRow, opened: dict[str, dict[str, VmSnapshot]], mine: tuple[PortRule, ...]
) -> HttpResponse:
    """Someone changed the policy meanwhile: say what, in words, and offer the form again as Azure has it
    now, with this person's own changes kept on every port nobody else touched."""
    fresh, now = snapshot_ports(actor, row)
    key = group_of(row).key
    formset = PortFormSet(initial=port_initial(keep_mine(opened.get(key, {}).get(row.vm_id.lower()), mine, now)))
    what = ". ".join(changes(opened.get(key, {}), fresh[key])) or "the policy changed"
    note = (
        f"Nothing was saved: {what} since you opened the form. It now "
        "shows the policy as Azure has it, with your changes kept where nobody else changed that port; review "
        "it and save again."
    )
    return _form_page(request, "vms/edit.html", [row], formset, SnapshotForm.token(fresh), [note], vm=row)


def _confirm_removal(
    request: HttpRequest, row: VmRow, opened: dict[str, dict[str, VmSnapshot]], mine: tuple[PortRule, ...]
) -> HttpResponse | None:
    """An edit that takes ports away is saved only once the person has seen which (a page of its own, so it works
    without JavaScript): the page carries the form's data back with the ports it listed, and a confirmation that
    lists other ports than the edit now removes asks again. None when nothing is removed, or it was confirmed."""
    had = (opened.get(group_of(row).key, {}).get(row.vm_id.lower()) or {}).get("ports", [])
    kept = {p.number for p in mine}
    removed = tuple(p for p in rules_of(had) if p.number not in kept)
    listed = ",".join(str(p.number) for p in removed)
    if not removed or request.POST.get("confirm_removal") == listed:
        return None
    data = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirm_removal")
        for value in values
    ]
    return render(
        request,
        "vms/edit_confirm.html",
        {
            "vm": row,
            "removed": [(p, describe_ports((p,))) for p in removed],
            "kept": describe_ports(mine),
            "data": data,
            "listed": listed,
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def edit(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    actor, row, refusal = _configured_vm(request, subscription_id, resource_group, name, f"Edit JIT on {name}")
    if refusal:
        return refusal
    if request.method != "POST":
        token, ports = _fresh_token(actor, row)
        return _form_page(request, "vms/edit.html", [row], PortFormSet(initial=port_initial(ports)), token, [], vm=row)
    formset, snapshot = PortFormSet(request.POST), SnapshotForm(request.POST)
    opened = snapshot.snapshots()
    if opened is None:
        return _form_page(
            request, "vms/edit.html", [row], formset, _fresh_token(actor, row)[0], snapshot.errors["opened"], vm=row
        )
    if formset.is_valid() and "back" not in request.POST:
        if asking := _confirm_removal(request, row, opened, formset.rules):
            return asking
        outcomes = do_set_ports(actor, EDIT, [row], {row.vm_id.lower(): formset.rules}, opened)
        if outcomes[0].stale:
            return _edit_again(request, actor, row, opened, formset.rules)
        return redirect_to_outcome(request.session, f"Edit JIT on {row.name}", outcomes)
    return _form_page(request, "vms/edit.html", [row], formset, request.POST.get("opened", ""), [], vm=row)


@require_http_methods(["GET", "HEAD", "POST"])
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
    return redirect_to_outcome(request.session, f"Remove JIT from {row.name}", outcomes)
