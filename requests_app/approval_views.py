"""Approvals inbox and decisions, extend, end now, cancel, and the admins' approval rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.roles import ADMIN, APPROVER, REQUESTER, require_role, roles_of
from core import gateway
from core.actor import actor_of
from core.navigation import safe_next
from trail.chain import record
from vms.inventory import get_inventory

from . import approvals, enforcement
from .forms import DecisionForm, ExtendForm, RuleForm
from .models import AccessRequest, AccessRequestItem, Approval, ApprovalRule
from .rules import rules_for_ports
from .states import ItemStatus
from .status import open_now, opened_outside, outside_window
from .visibility import in_scope, overseen_request, own_item, own_request


def _detail(access: AccessRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("requests-detail", args=[access.pk]))


def _step(request: HttpRequest, access: AccessRequest, step: Callable[[], object], done: str = "") -> HttpResponse:
    """Take one step on a request and go back to its page; a refusal is said there, in words."""
    try:
        step()
        if done:
            messages.success(request, done)
    except approvals.Refused as refused:
        messages.error(request, refused.message)
    return _detail(access)


def _inventory(request: HttpRequest):
    try:
        return get_inventory(request.session, request.user.pk, complete=True), ""
    except gateway.GatewayError as error:
        return None, error.message


@require_safe
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    require_role(request.user, APPROVER, ADMIN)
    approvals.lapse_due()
    inventory, problem = _inventory(request)
    waiting = approvals.waiting_for(request.user, inventory)
    others = approvals.asked_lately(waiting)
    return render(
        request,
        "requests_app/inbox.html",
        {
            "waiting": [(a, a.why_not_decide(request.user), others[a.pk]) for a in waiting],
            "opened": _open_in_scope(inventory),
            "outside": opened_outside(inventory),
            "problem": problem,
            "approver": APPROVER in roles_of(request.user),
        },
    )


def _open_in_scope(inventory) -> list[tuple[AccessRequest, datetime]]:
    """Requests open now by Azure's own request history (a replaced or ended port is not), as this person's
    inventory shows it, each with its open ports (each ends on its own, its button naming it) and last end."""
    now = inventory.azure_clock() if inventory else timezone.now()
    open_ids = (
        AccessRequestItem.objects.filter(status=ItemStatus.OPENED, end__gt=now, request__ended_at__isnull=True)
        .values_list("request_id", flat=True)
        .distinct()[:500]
    )
    opened = []
    for a in AccessRequest.objects.filter(pk__in=list(open_ids)).select_related("user").prefetch_related("items"):
        if in_scope(inventory, a) and (ports := approvals.open_ports(a, inventory)):
            a.open_ports = ports
            opened.append((a, max(p.item.end for p in ports)))
    return opened


@require_POST
@login_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, APPROVER)
    actor, (inventory, problem) = actor_of(request), _inventory(request)
    access = overseen_request(request.user, pk, inventory)
    form = DecisionForm(request.POST)
    if problem or not form.is_valid():
        messages.error(request, problem or " ".join(e for errors in form.errors.values() for e in errors))
        return _detail(access)
    comment = form.cleaned_data["comment"]
    if form.cleaned_data["decision"] == Approval.Decision.APPROVE:
        return _step(request, access, lambda: approvals.approve(actor, access.pk, comment, inventory))
    return _step(request, access, lambda: approvals.deny(actor, access.pk, comment))


@require_POST
@login_required
def open_again(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, APPROVER)
    actor, (inventory, problem) = actor_of(request), _inventory(request)
    access = overseen_request(request.user, pk, inventory)
    if problem:
        messages.error(request, problem)
        return _detail(access)
    return _step(request, access, lambda: approvals.open_again(actor, access.pk, inventory))


@require_POST
@login_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, REQUESTER)
    access = own_request(request.user, pk)
    return _step(request, access, lambda: approvals.cancel(actor_of(request), access.pk), "Request cancelled.")


def _end(request: HttpRequest, ports: list[approvals.OpenPort], inventory, none_open: str = "") -> None:
    """End these ports, as the signed-in person, and say what happened (`none_open`: as `approvals.end_now`)."""
    try:
        if refusals := approvals.end_now(actor_of(request), ports, inventory, none_open):
            messages.error(request, "Azure refused to end some of it: " + " ".join(refusals))
        else:
            what = ", ".join(f"{p.item.vm_name} port {p.item.port}" for p in ports)
            messages.success(
                request, f"Ended {what}: {'it closes' if len(ports) == 1 else 'they close'} within a minute."
            )
    except approvals.Refused as refused:
        messages.error(request, refused.message)


def _overseen_for_end(request: HttpRequest, pk: int):
    """The request whose ports the person wants to end, their inventory, and why not ("" when they may)."""
    inventory, problem = _inventory(request)
    access = overseen_request(request.user, pk, inventory)
    if access.user_id != request.user.pk:
        require_role(request.user, APPROVER, ADMIN)  # a requester ends only their own
    return access, inventory, problem


@require_POST
@login_required
def end(request: HttpRequest, pk: int) -> HttpResponse:
    """End every port of one request that is still open (its own page, the open access of a scope)."""
    require_role(request.user, REQUESTER, APPROVER, ADMIN)
    access, inventory, problem = _overseen_for_end(request, pk)
    if problem:
        messages.error(request, problem)
    else:
        _end(request, approvals.open_ports(access, inventory), inventory)
    return _detail(access)


@require_POST
@login_required
def end_item(request: HttpRequest, pk: int) -> HttpResponse:
    """End one VM's port (one row of My access), and nothing else."""
    require_role(request.user, REQUESTER, APPROVER, ADMIN)
    item = get_object_or_404(AccessRequestItem, pk=pk)
    access, inventory, problem = _overseen_for_end(request, item.request_id)
    if problem:
        messages.error(request, problem)
    else:
        _end(request, approvals.open_ports(access, inventory, {item.pk}), inventory, approvals.port_closed(item))
    return HttpResponseRedirect(safe_next(request, request.POST.get("next") or reverse("requests-my-access")))


@require_POST
@login_required
def end_outside(request: HttpRequest) -> HttpResponse:
    """End one window Azure has open that was opened outside the portal (one row of My access, or of an approver's
    or admin's Open now in your scope), as the portal ends its own. Its requester may; an approver or admin may end
    anyone's whose VM their Azure read scope holds (the rule for the portal's own requests)."""
    require_role(request.user, REQUESTER, APPROVER, ADMIN)
    inventory, problem = _inventory(request)
    everyone = bool(roles_of(request.user) & {APPROVER, ADMIN})
    vm, port, end = request.POST.get("vm", "")[:400], request.POST.get("port", ""), request.POST.get("end", "")
    window = (
        outside_window(inventory, None if everyone else request.user.upn, vm, int(port), int(end))
        if port.isascii() and port.isdigit() and len(port) < 6 and end.isascii() and end.isdigit() and len(end) < 12
        else None
    )
    if problem:
        messages.error(request, problem)
    elif window is None:
        messages.error(request, "That window is not open any more, or not one you may end.")
    else:
        try:
            refused = approvals.end_outside(actor_of(request), window.row, window.line, inventory)
        except approvals.Refused as refusal:
            refused = refusal.message
        if refused:
            messages.error(request, f"Azure refused to end it: {refused}")
        else:
            messages.success(
                request,
                f"Ended {window.row.name} port {window.line.port} (opened outside the portal by "
                f"{window.line.requestor}): it closes within a minute.",
            )
    return HttpResponseRedirect(safe_next(request, request.POST.get("next") or reverse("requests-my-access")))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def end_all(request: HttpRequest) -> HttpResponse:
    """GET lists every port open for the person through the portal and asks once; POST (from that page) ends
    exactly the ports it listed that are still open."""
    require_role(request.user, REQUESTER)
    inventory, problem = _inventory(request)
    mine = {a.item.request_id for a in open_now(request.user, inventory)} if inventory else set()
    ports = [
        p
        for access in AccessRequest.objects.filter(pk__in=mine).select_related("user").prefetch_related("items")
        for p in approvals.open_ports(access, inventory)
    ]
    if request.method == "POST" and not problem:
        listed = {int(v) for v in request.POST.getlist("item") if v.isascii() and v.isdigit() and len(v) < 19}
        _end(request, [p for p in ports if p.item.pk in listed], inventory)
        return HttpResponseRedirect(reverse("requests-my-access"))
    return render(request, "requests_app/end_all.html", {"ports": ports, "problem": problem})


def _extend_page(request: HttpRequest, access: AccessRequest, only: set[int] | None) -> HttpResponse:
    actor, (inventory, problem) = actor_of(request), _inventory(request)
    ports = approvals.open_ports(access, inventory, only) if inventory else []
    longest = max((p.rule.max_duration for p in ports), default=timedelta(hours=1))
    form = ExtendForm(longest, request.POST or None)
    if request.method == "POST" and ports and form.is_valid():
        try:
            extension = approvals.extend(
                actor, access, form.cleaned_data["duration"], form.cleaned_data["request_key"], inventory, only
            )
            return _detail(extension)
        except approvals.Refused as refused:
            problem = refused.message
    rules = rules_for_ports((p.row.policy_id, p.item.port, 24 * 60) for p in ports)
    return render(
        request,
        "requests_app/extend.html",
        {"access": access, "ports": ports, "form": form, "problem": problem, "rules": rules},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def extend(request: HttpRequest, pk: int) -> HttpResponse:
    """Extend every port of one request that is still open (its own page)."""
    require_role(request.user, REQUESTER)
    return _extend_page(request, own_request(request.user, pk), None)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def extend_item(request: HttpRequest, pk: int) -> HttpResponse:
    """Extend one VM's port (one row of My access), and nothing else."""
    require_role(request.user, REQUESTER)
    item = own_item(request.user, pk)
    return _extend_page(request, own_request(request.user, item.request_id), {item.pk})


def _places(request: HttpRequest) -> dict[str, tuple[str, list[str]]]:
    """The subscriptions and resource groups Azure shows this person: id → (name, resource groups)."""
    inventory, _ = _inventory(request)
    places: dict[str, tuple[str, set[str]]] = {}
    for r in inventory.rows if inventory else ():
        places.setdefault(r.subscription_id.lower(), (r.subscription_name, set()))[1].add(r.resource_group)
    return {sub: (name, sorted(groups, key=str.lower)) for sub, (name, groups) in places.items()}


def _about(places: dict[str, tuple[str, list[str]]], *rules: ApprovalRule) -> str:
    """The resource groups rules cover (of those the person sees), as ARM ids in the trail's target, so that
    an event about a rule shows only to those who may read its scope; a rule on every subscription is about
    no one scope, and shows to every auditor."""
    groups = sorted(
        {
            (r.subscription_id.lower(), g.lower())
            for r in rules
            if r.subscription_id
            for g in ([r.resource_group] if r.resource_group else places.get(r.subscription_id.lower(), ("", []))[1])
        }
    )
    return " about " + ", ".join(f"/subscriptions/{s}/resourceGroups/{g}" for s, g in groups) if groups else ""


@require_safe
@login_required
def rules(request: HttpRequest) -> HttpResponse:
    require_role(request.user, ADMIN, APPROVER)
    inventory, _ = _inventory(request)
    rows = inventory.rows if inventory else ()
    names = {r.subscription_id.lower(): r.subscription_name for r in rows}
    shown, hidden = enforcement.visible_rules(request.session, request.user.pk, rows)
    admin = ADMIN in roles_of(request.user)
    checks = enforcement.rule_checks(request.session, request.user.pk, names, shown)
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(r.subscription_id.lower(), set()).add(r.resource_group)
    return render(
        request,
        "requests_app/rules.html",
        {
            "rules": [
                (
                    c,
                    enforcement.scope_words(c.rule, names),
                    enforcement.why_not_manage(
                        request.session, request.user.pk, c.rule.subscription_id, c.rule.resource_group, names
                    )
                    if admin
                    else "",
                )
                for c in checks
            ],
            "can_edit": admin,
            "hidden": hidden,
            # "New rule" only where Azure lets the admin write JIT policies somewhere (Frank, Reader in Azure: never)
            "no_new_rule": enforcement.why_no_new_rule(request.session, request.user.pk, groups) if admin else "",
        },
    )


def _rule_words(rule: ApprovalRule) -> dict:
    return {f: str(getattr(rule, f)) for f in RuleForm.Meta.fields}


def _refused(request: HttpRequest, reason: str) -> HttpResponseRedirect:
    messages.error(request, reason)
    return HttpResponseRedirect(reverse("requests-rules"))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require_role(request.user, ADMIN)
    places = _places(request)
    names = {sub: name for sub, (name, _) in places.items()}
    rule = get_object_or_404(ApprovalRule, pk=pk) if pk else None
    if rule and (
        reason := enforcement.why_not_manage(
            request.session, request.user.pk, rule.subscription_id, rule.resource_group, names
        )
    ):
        return _refused(request, reason)
    before = _rule_words(rule) if rule else {}
    form = RuleForm(request.POST or None, instance=rule, places=places)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        reason, problems = enforcement.check_before_saving(request.session, request.user.pk, saved, names)
        if reason:
            form.add_error("subscription_id", reason)
        if form.is_valid() and (not problems or form.cleaned_data["save_anyway"]):
            saved.updated = timezone.now()
            saved.save()
            old = ApprovalRule(**{f: before[f] for f in ("subscription_id", "resource_group")}) if rule else saved
            record(
                actor_of(request),
                "rule.update" if rule else "rule.create",
                f"approval rule {saved.pk}{_about(places, old, saved)}",
                "saved",
                details={"before": before, "after": _rule_words(saved), "saved_despite": problems},
            )
            messages.success(request, f"Rule “{saved.name}” saved.")
            return HttpResponseRedirect(reverse("requests-rules"))
    return render(request, "requests_app/rule_edit.html", {"form": form, "rule": rule, "problems": problems})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, ADMIN)
    rule = get_object_or_404(ApprovalRule, pk=pk)
    places = _places(request)
    names = {sub: name for sub, (name, _) in places.items()}
    if reason := enforcement.why_not_manage(
        request.session, request.user.pk, rule.subscription_id, rule.resource_group, names
    ):
        return _refused(request, reason)
    if request.method != "POST":  # asks once: removing a control is not a click away
        return render(request, "requests_app/rule_delete.html", {"rule": rule})
    record(
        actor_of(request),
        "rule.delete",
        f"approval rule {rule.pk}{_about(places, rule)}",
        "deleted",
        details={"before": _rule_words(rule), "after": {}},
    )
    rule.delete()
    messages.success(request, f"Rule “{rule.name}” deleted; requests already waiting keep it.")
    return HttpResponseRedirect(reverse("requests-rules"))
