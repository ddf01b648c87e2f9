"""Request access, see one request's outcome, My access, and the .rdp connect helper."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from accounts.roles import ADMIN, APPROVER, AUDITOR, REQUESTER, require_role, roles_of
from core import gateway
from core.actor import actor_of
from core.gateway import parse_policy_id
from core.notify import sent_about
from vms.inventory import get_inventory
from vms.rights import REQUEST, permitted, selected_vms

from . import enforcement
from .actions import record_applied_late, requestable, submit_form
from .approvals import asked_lately, open_ports
from .forms import OTHER, DecisionForm, RequestAccessForm
from .models import AccessRequest, AccessRequestItem, ApprovalRule
from .rules import rules_for_ports
from .states import RequestStatus
from .status import fates, history, open_now, opened_outside, request_state
from .visibility import overseen_request, own_item, own_request

HISTORY_PER_PAGE = 50


def _again(user, earlier_pk: int) -> tuple[list[str], dict, set[str]]:
    """VMs, ports and answers of an earlier request of the same person, for "Request again"."""
    earlier = own_request(user, earlier_pk)
    initial = {
        "source": OTHER,
        "other_source": earlier.source_prefix,
        "justification": earlier.justification,
        "duration": timedelta(minutes=earlier.duration_minutes),
    }
    items = earlier.items.all()
    return [i.vm_id for i in items], initial, {f"port-{i.vm_id.lower()}-{i.port}" for i in items}


def _last_picked(user, rows: list) -> set[str]:
    """For each VM, the ports of this person's latest request that included it: what they usually open."""
    latest: dict[str, int] = {}
    picked = set()
    items = AccessRequestItem.objects.filter(request__user=user, vm_id__in=[r.vm_id for r in rows])
    for item in items.order_by("-request__created", "-request_id")[:500]:
        vm = item.vm_id.lower()
        if latest.setdefault(vm, item.request_id) == item.request_id:
            picked.add(f"port-{vm}-{item.port}")
    return picked


def _pk(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, REQUESTER)
    actor = actor_of(request)
    again = _pk(request.GET.get("again", "")) if request.method != "POST" else None
    if again is not None:
        vm_ids, initial, picked = _again(request.user, again)
    else:
        vm_ids, initial, picked = (request.POST or request.GET).getlist("vm"), {}, None
    inventory = get_inventory(actor.session, actor.user_pk, complete=True)
    rows, notes = selected_vms(inventory, list(dict.fromkeys(vm_ids)))
    rows, refused = requestable(rows)
    rows, forbidden = permitted(inventory, rows, REQUEST)
    refused += [f"{row.name} was left out: {why}." for row, why in forbidden]
    if picked is None:
        picked = _last_picked(request.user, rows)
    form = RequestAccessForm(
        rows,
        actor.ip,
        request.POST or None,
        picked=picked,
        initial={"request_key": RequestAccessForm.new_key(), **initial},
    )
    if request.method == "POST" and rows and form.is_valid():
        data = form.cleaned_data
        access = submit_form(actor, data, inventory.azure_clock())
        return HttpResponseRedirect(reverse("requests-detail", args=[access.pk]))
    # Every rule that may apply, whatever window is asked: the form says so before the person submits.
    rules = rules_for_ports((r.policy_id, p.number, 24 * 60) for r in rows for p in r.ports)
    # The ports a rule holds whatever window is asked (its condition is not the window's length): named up front.
    held = [
        f"{r.name} port {p.number}"
        for r in rows
        for p in r.ports
        if rules_for_ports([(r.policy_id, p.number, 0)], rules)
    ]
    return render(
        request,
        "requests_app/new.html",
        {
            "held": held,
            "form": form,
            "rows": rows,
            "notes": notes + refused,
            "justification_hint": settings.JIT_JUSTIFICATION_HINT,
            "rules": _rules_in_azure(request, rules, rows),
            "always_waits": any(r.condition == ApprovalRule.ALWAYS for r in rules),
            "bypassed": [words for r in rows if r.health for words in r.health.notices(r.name)],
        },
    )


def _rules_in_azure(request: HttpRequest, rules: list[ApprovalRule], rows: list) -> list[tuple]:
    """Each rule that may apply, whether Azure lets people skip it, and the resource groups of these VMs where
    nobody could decide under it."""
    names = {r.subscription_id.lower(): r.subscription_name for r in rows}
    checks = enforcement.rule_checks(request.session, request.user.pk, names, rules)
    return [
        (
            c,
            enforcement.nobody_decides(
                request.session,
                request.user.pk,
                c.rule,
                {
                    (r.subscription_id, r.resource_group)
                    for r in rows
                    if c.rule.covers(r.subscription_id, r.resource_group)
                },
                request.user.pk,
            ),
            c.words_for(request.user.object_id or ""),
        )
        for c in checks
    ]


@require_safe
@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, REQUESTER, APPROVER, ADMIN, AUDITOR)
    try:  # Azure's request history says what became of each port (replaced, expired…)
        inventory = get_inventory(request.session, request.user.pk)
    except gateway.GatewayError:
        inventory = None
    access = overseen_request(request.user, pk, inventory)
    mine, held = access.user_id == request.user.pk, roles_of(request.user)
    # Who could decide: the request's own copy of its rule's approvers, against Azure's roles now.
    stuck = (
        enforcement.nobody_decides(
            request.session,
            request.user.pk,
            ApprovalRule(approvers=access.approvers),
            {
                (ref.subscription_id, ref.resource_group)
                for i in access.items.all()
                if (ref := parse_policy_id(i.policy_id))
            },
            access.user_id,
        )
        if access.waits
        else []
    )
    return render(
        request,
        "requests_app/detail.html",
        {
            "stuck": stuck,
            "access": access,
            "items": fates(access, inventory),
            "state": request_state(access, inventory),
            "own_windows": any(i.minutes and i.minutes != access.duration_minutes for i in access.items.all()),
            "decisions": access.approvals.select_related("approver"),
            "sent": sent_about(access.pk),
            "held_parts": access.held_parts.prefetch_related("items"),
            "mine": mine,
            "asked_lately": asked_lately([access])[access.pk] if not mine else [],
            "can_decide": APPROVER in held and not mine and access.waits and not access.why_not_decide(request.user),
            "can_open": APPROVER in held
            and access.status == RequestStatus.APPROVED_NOT_OPENED
            and not access.why_not_decide(request.user),
            # Its open ports, for those who may end them: the buttons name what they act on.
            "can_end": open_ports(access, inventory) if inventory and (mine or held & {APPROVER, ADMIN}) else [],
            "decision_form": DecisionForm(),
        },
    )


@require_safe
@login_required
def my_access(request: HttpRequest) -> HttpResponse:
    require_role(request.user, REQUESTER)
    inventory, problem = None, ""
    try:
        inventory = get_inventory(request.session, request.user.pk)
    except gateway.GatewayError as error:
        problem = error.message
    opened = open_now(request.user, inventory)
    # A port recorded failed after a lost answer that Azure lists open now was applied late: said once, here.
    if record_applied_late([(a.item, a.line) for a in opened if not a.item.opened and a.line]):
        opened = open_now(request.user, inventory)
    outside = opened_outside(inventory, request.user.upn)
    page = Paginator(AccessRequest.objects.filter(user=request.user), HISTORY_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # history() reads from the newest on: this page is the tail of the newest end_index() requests.
    past = history(request.user, opened, limit=page.end_index(), inventory=inventory)[page.start_index() - 1 :]
    return render(
        request,
        "requests_app/my_access.html",
        {
            "open": opened,
            "outside": outside,
            "history": past,
            "history_page": page,
            "problem": problem,
            "azure_now": inventory.azure_now if inventory else None,
        },
    )


@require_safe
@login_required
def rdp_file(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, REQUESTER)
    item = own_item(request.user, pk)
    found = [a for a in open_now(request.user, get_inventory(request.session, request.user.pk)) if a.item.pk == pk]
    if not found or item.port != 3389 or not found[0].address:
        return render(request, "requests_app/no_rdp.html", {"item": item}, status=404)
    access = found[0]
    user = (access.vm.admin_username if access.vm else "") or "azureuser"
    body = f"full address:s:{access.address}:{access.port}\r\nusername:s:{user}\r\nprompt for credentials:i:1\r\n"
    response = HttpResponse(body, content_type="application/x-rdp")
    response["Content-Disposition"] = f'attachment; filename="{item.vm_name}.rdp"'
    return response
