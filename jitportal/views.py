"""The home page: who you are, what you can do here, and the subscriptions Azure lets you see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import ADMIN, ALL, roles_of
from core import gateway
from vms.inventory import UNSUPPORTED, get_inventory
from vms.rights import CONFIGURE, refusals, why_not


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = roles_of(request.user)
    if not roles:
        return render(request, "no_role.html", {"all_roles": ALL}, status=403)
    subscriptions, problem = [], ""
    try:
        subscriptions = gateway.list_subscriptions(request.session)
    except gateway.GatewayError as exc:
        problem = exc.message
    configure_refused = _configure_refused(request) if ADMIN in roles and subscriptions else []
    return render(
        request,
        "home.html",
        {"subscriptions": subscriptions, "problem": problem, "configure_refused": configure_refused},
    )


def _configure_refused(request: HttpRequest) -> list[str]:
    """Why Azure lets this admin enable or edit JIT on none of the VMs they see (one line per reason); [] when it
    lets them somewhere, or when there is no VM JIT could protect. The inventory is the VM pages' own, cached."""
    inventory = get_inventory(request.session, request.user.pk)
    groups = list(
        {
            (r.subscription_id.lower(), r.resource_group.lower()): r for r in inventory.rows if r.tab != UNSUPPORTED
        }.values()
    )
    if not groups or any(not why_not(inventory, row, CONFIGURE) for row in groups):
        return []
    return refusals(inventory, groups, [("", CONFIGURE)])
