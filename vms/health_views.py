"""A VM's JIT health on its page, and the two fixes admins get there: Restore JIT's rules, Delete this rule."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.roles import ADMIN, require_role, roles_of
from core import gateway
from core.actor import Actor, actor_of
from core.gateway import RuleRef

from .azure_actions import DELETE_ACTION
from .inventory import CONFIGURED, Inventory, VmRow, get_inventory
from .repair import az_delete, delete_rule, deny_rule_now, restore
from .rights import CONFIGURE, vm_for, why_not
from .verdicts import BYPASSED, EXPOSED, LEFTOVER, MISSING, PortHealth

FIXABLE = (BYPASSED, EXPOSED, LEFTOVER)  # a rule someone could delete


@dataclass(frozen=True)
class PortLine:
    health: PortHealth
    ref: RuleRef | None  # the rule it names
    command: str  # the `az network nsg rule` command that fixes it
    may_delete: bool


def may_delete(actor: Actor, inventory: Inventory, row: VmRow, ref: RuleRef) -> bool:
    """Azure's own answer (the permissions API) on the rule's resource group: read with the inventory when it is
    the VM's, else asked now (one call)."""
    same = (ref.subscription_id, ref.resource_group.lower()) == (
        row.subscription_id.lower(),
        row.resource_group.lower(),
    )
    rights = (
        inventory.permissions(row)
        if same
        else gateway.read_permissions(gateway.UserCredential(actor.session), ref.subscription_id, ref.resource_group)
    )
    return rights.known and rights.allows(DELETE_ACTION)


def port_lines(actor: Actor, inventory: Inventory, row: VmRow, is_admin: bool) -> list[PortLine]:
    lines, asked = [], {}
    ports = row.health.ports if row.health else ()
    recreate = deny_rule_now(actor.session, row, [p.port for p in ports if p.state == MISSING])
    for port in ports:
        ref = gateway.parse_rule_id(port.culprit.rule.rule_id) if port.culprit else None
        if port.state == MISSING and recreate:
            command = recreate.command
        else:
            command = az_delete(ref) if ref and port.state in FIXABLE else ""
        allowed = False
        if ref and is_admin and port.state in FIXABLE:
            key = (ref.subscription_id, ref.resource_group.lower())
            allowed = asked[key] if key in asked else asked.setdefault(key, may_delete(actor, inventory, row, ref))
        lines.append(PortLine(port, ref, command, allowed))
    return lines


def _admin_vm(
    request: HttpRequest, subscription_id: str, resource_group: str, name: str
) -> tuple[Actor, Inventory, VmRow]:
    require_role(request.user, ADMIN)
    actor = actor_of(request)
    inventory = get_inventory(actor.session, actor.user_pk, complete=True)
    return actor, inventory, vm_for(inventory, subscription_id, resource_group, name)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def restore_rules(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    """Re-apply the VM's JIT policy unchanged, then say whether the deny rule is back (admins Azure lets write it)."""
    actor, inventory, row = _admin_vm(request, subscription_id, resource_group, name)
    refused = why_not(inventory, row, CONFIGURE) if row.tab == CONFIGURED else f"{row.name} has no JIT policy"
    if refused or request.method != "POST":
        return render(request, "vms/restore.html", {"vm": row, "refused": refused})
    done = restore(actor, row)
    return render(request, "vms/restore.html", {"vm": done.after or row, "done": done})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def delete_nsg_rule(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    """Delete the rule a finding names, after a confirmation; only where Azure allows this admin to."""
    actor, inventory, row = _admin_vm(request, subscription_id, resource_group, name)
    raw = request.POST.get("rule", "") if request.method == "POST" else request.GET.get("rule", "")
    line = next(
        (
            line
            for line in port_lines(actor, inventory, row, True)
            if line.ref is not None and line.ref.rule_id.lower() == raw.lower()
        ),
        None,
    )
    if line is None:
        raise Http404("No rule of this VM's findings has that id.")
    if not line.may_delete:
        return render(
            request,
            "vms/delete_rule.html",
            {
                "vm": row,
                "line": line,
                "refused": (f"Azure does not give you {DELETE_ACTION} on {line.ref.resource_group}"),
            },
            status=403,
        )
    if request.method != "POST":
        return render(request, "vms/delete_rule.html", {"vm": row, "line": line})
    return render(request, "vms/delete_rule.html", {"vm": row, "line": line, "done": delete_rule(actor, row, line.ref)})


def health_context(request: HttpRequest, inventory: Inventory, row: VmRow) -> dict:
    """What the VM page's health section needs."""
    is_admin = ADMIN in roles_of(request.user)
    return {
        "health_lines": port_lines(actor_of(request), inventory, row, is_admin),
        "may_restore": is_admin and row.tab == CONFIGURED and not why_not(inventory, row, CONFIGURE),
    }
