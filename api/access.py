"""Requests: create one (the request form's validation and words), mine and one, what is open now, extend,
end, cancel. Each step is the pages' own action; this module only translates JSON to the form and back."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router

from accounts.roles import ADMIN, APPROVER, AUDITOR, REQUESTER, require_role
from core import gateway
from core.actor import Actor
from requests_app import approvals
from requests_app.actions import requestable, submit_form
from requests_app.forms import MY_IP, OTHER, ExtendForm, RequestAccessForm, own_source, own_time, usual_port
from requests_app.models import AccessRequest, AccessRequestItem
from requests_app.plan import Choice
from requests_app.status import fates, item_result, open_now, request_state
from requests_app.visibility import NOT_YOURS, overseen_request, own_request
from vms.inventory import Inventory, VmRow, get_inventory
from vms.rights import REQUEST, permitted, selected_vms

from . import guard, schemas
from .auth import actor, person
from .paging import page_of
from .problems import Problem, invalid

router = Router(tags=["Requests"])
HISTORY_PER_PAGE = 50
# The form's field names as the API calls them; a port's own time and source are the API's `overrides`.
FIELD_NAMES = {
    "duration": "duration_minutes",
    "other_source": "source",
    "break_glass_reason": "break_glass_reason",
    "justification": "justification",
    "source": "source",
    "request_key": "Idempotency-Key",
}


def json_answer(data: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data, cls=DjangoJSONEncoder), status=status, content_type="application/json")


def _inventory(who: Actor) -> Inventory | None:
    try:
        return get_inventory(who.session, who.user_pk)
    except gateway.GatewayError:
        return None  # Azure's history is not at hand: states are the portal's own record


def described(access: AccessRequest, inventory: Inventory | None) -> dict:
    rows = {i.vm_id.lower(): inventory.row_of(i.vm_id) for i in access.items.all()} if inventory else {}
    state = request_state(access, inventory)
    return schemas.request(
        access,
        state,
        {item.pk: item_result(access, item, words, state) for item, words in fates(access, inventory)},
        {vm: row.connect_address for vm, row in rows.items() if row},
    )


def _form_data(rows: list[VmRow], body: schemas.RequestIn, key: str) -> dict:
    """The request form as a person would have filled it in for this body."""
    data = {
        "vm": [r.vm_id for r in rows],
        "request_key": RequestAccessForm.base_fields["request_key"].sign(key),
        "duration_value": str(body.duration_minutes),
        "duration_unit": "minutes",
        "justification": body.justification,
    }
    if body.break_glass_reason.strip():
        data.update(break_glass="on", break_glass_reason=body.break_glass_reason)
    listed = {p for r in rows for rule in r.ports for p in rule.allowed_prefixes if p != "*"}
    if body.source.strip().lower() == MY_IP:
        data["source"] = MY_IP
    elif body.source in listed:
        data["source"] = body.source
    else:
        data.update(source=OTHER, other_source=body.source)
    problems = []
    for row in rows:
        wanted = [p for p in row.ports if p.number in body.ports] if body.ports else [usual_port(row)]
        if not [p for p in wanted if p]:
            problems.append(
                f"{row.name} has none of the ports {', '.join(map(str, body.ports or []))} in its JIT "
                f"policy (it has {', '.join(str(p.number) for p in row.ports) or 'none'})."
            )
        data.update({Choice(row, p).field_name: "on" for p in wanted if p})
    if problems:
        raise invalid({"ports": problems})
    data.update(_overrides(rows, body.overrides))
    return data


def _overrides(rows: list[VmRow], overrides: list[schemas.PortOverride]) -> dict:
    """The form's own time and source under each port named, which is ticked too."""
    by_id = {r.vm_id.lower(): r for r in rows}
    data, problems = {}, []
    for wanted in overrides:
        row = by_id.get(wanted.vm.lower())
        rule = next((p for p in row.ports if p.number == wanted.port), None) if row else None
        if rule is None:
            problems.append(f"Port {wanted.port} of {wanted.vm[-64:]} is not among the VMs and ports of this request.")
            continue
        choice = Choice(row, rule)
        data[choice.field_name] = "on"
        if wanted.duration_minutes is not None:
            data.update(
                {f"{own_time(choice)}_value": str(wanted.duration_minutes), f"{own_time(choice)}_unit": "minutes"}
            )
        if wanted.source is not None:
            data[own_source(choice)] = wanted.source
    if problems:
        raise invalid({"overrides": problems})
    return data


def _errors(form) -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for field, messages in form.errors.items():
        named.setdefault(FIELD_NAMES.get(field, "overrides" if field.startswith("port-") else field), []).extend(
            messages
        )
    return named


def _unread(inventory: Inventory, vm_ids: list[str]) -> list[str]:
    """Why some of these VMs are missing when Azure did not list their subscription just now: a retry may find
    them, so the caller is told so (502) rather than that the id is wrong (422)."""
    failed = {f.subscription.subscription_id.lower(): f.message for f in inventory.failures}
    return sorted(
        {
            failed[parsed[0]]
            for raw in vm_ids
            if (parsed := gateway.parse_vm_id(raw)) and parsed[0] in failed and inventory.row_of(raw) is None
        }
    )


def _create(who: Actor, body: schemas.RequestIn, idempotency: str) -> HttpResponse:
    key = guard.request_key(who.user_pk, idempotency) if idempotency else str(uuid.uuid4())
    inventory = get_inventory(who.session, who.user_pk, complete=True)
    earlier = AccessRequest.objects.filter(idempotency_key=key, user=who.user).first()
    if earlier is not None:  # a retried call: the request it made, not a second one
        return json_answer(described(earlier, inventory))
    rows, notes = selected_vms(inventory, list(dict.fromkeys(body.vms)))
    if notes and (unread := _unread(inventory, body.vms)):
        raise Problem(
            502, "azure-unavailable", "Azure could not answer.", " ".join(unread), headers={"Retry-After": "30"}
        )
    rows, refused = requestable(rows)
    if notes or refused:
        raise invalid({"vms": notes + refused})
    rows, forbidden = permitted(inventory, rows, REQUEST)
    if forbidden:
        raise Problem(
            403, "azure-refused", "Azure would refuse.", " ".join(f"{row.name}: {why}." for row, why in forbidden)
        )
    form = RequestAccessForm(rows, who.ip, _form_data(rows, body, key))
    if not form.is_valid():
        raise invalid(_errors(form))
    data = form.cleaned_data
    access = submit_form(who, data, inventory.azure_clock())
    return json_answer(described(access, inventory), 201)


@router.post(
    "/requests",
    response=schemas.answers({200: schemas.Request, 201: schemas.Request}),
    summary="Request access",
    description="Same checks and words as the request form. Send Idempotency-Key so that a retried call "
    "creates one request. 201: created (its state says open, or pending approval); 200: the "
    "request this Idempotency-Key already made.",
    auth=person(REQUESTER),
)
def create_request(request: HttpRequest, body: schemas.RequestIn):
    who = actor(request)
    key = guard.idempotency_key(request)
    return guard.once(request, lambda: _create(who, body, key))


@router.get(
    "/requests",
    response=schemas.answers(schemas.RequestPage),
    summary="My requests, newest first",
    auth=person(REQUESTER),
)
def my_requests(request: HttpRequest, page: int = 1):
    who = actor(request)
    inventory = _inventory(who)
    mine = (
        AccessRequest.objects.filter(user=who.user)
        .select_related("user")
        .prefetch_related("items", "approvals__approver")
    )
    shown, paging = page_of(mine, page, HISTORY_PER_PAGE)
    return {**paging, "items": [described(a, inventory) for a in shown]}


@router.get(
    "/requests/{int:pk}",
    response=schemas.answers(schemas.Request),
    summary="One request",
    auth=person(REQUESTER, APPROVER, ADMIN, AUDITOR),
)
def one_request(request: HttpRequest, pk: int):
    who = actor(request)
    inventory = _inventory(who)
    return described(overseen_request(who.user, pk, inventory), inventory)


@router.get(
    "/access",
    response=schemas.answers(list[schemas.OpenAccess]),
    summary="What is open for me now",
    auth=person(REQUESTER),
)
def my_access(request: HttpRequest):
    who = actor(request)
    inventory = get_inventory(who.session, who.user_pk)
    return [
        {
            "request_id": a.item.request_id,
            "item_id": a.item.pk,
            "vm_id": a.item.vm_id,
            "vm_name": a.item.vm_name,
            "port": a.item.port,
            "connect_address": a.address,
            "connect_port": a.port,
            "end": a.item.end,
            "seconds_left": max(0, int((a.item.end - a.azure_now).total_seconds())),
            "ssh": a.ssh_command,
        }
        for a in open_now(who.user, inventory)
    ]


def inventory_now(who: Actor) -> Inventory:
    return get_inventory(who.session, who.user_pk, complete=True)


def refusal(refused: approvals.Refused) -> Problem:
    return Problem(409, "conflict", "Not possible now.", refused.message)


def _extend(who: Actor, pk: int, body: schemas.ExtendIn, idempotency: str) -> HttpResponse:
    access = own_request(who.user, pk)
    inventory = inventory_now(who)
    ports = approvals.open_ports(access, inventory)
    longest = max((p.rule.max_duration for p in ports), default=timedelta(hours=1))
    key = guard.request_key(who.user_pk, f"extend:{pk}:{idempotency}") if idempotency else str(uuid.uuid4())
    form = ExtendForm(
        longest,
        {
            "duration_value": str(body.duration_minutes),
            "duration_unit": "minutes",
            "request_key": RequestAccessForm.base_fields["request_key"].sign(key),
        },
    )
    if not form.is_valid():
        raise invalid(_errors(form))
    try:
        extension = approvals.extend(
            who, access, form.cleaned_data["duration"], form.cleaned_data["request_key"], inventory
        )
    except approvals.Refused as refused:
        raise refusal(refused) from None
    return json_answer(described(extension, inventory), 201)


@router.post(
    "/requests/{int:pk}/extend",
    response=schemas.answers({201: schemas.Request}),
    summary="Extend: open again from now",
    auth=person(REQUESTER),
)
def extend(request: HttpRequest, pk: int, body: schemas.ExtendIn):
    who = actor(request)
    key = guard.idempotency_key(request)
    return guard.once(request, lambda: _extend(who, pk, body, key))


def _end(who: Actor, pk: int, item: AccessRequestItem | None = None) -> HttpResponse:
    """End the request's open ports (only `item`'s, when given), as the web's End on the request's page (every
    port) or on one row of My access (one VM and port) does."""
    inventory = inventory_now(who)
    access = overseen_request(who.user, pk, inventory)
    if access.user_id != who.user_pk:
        require_role(who.user, APPROVER, ADMIN)  # a requester ends only their own
    try:
        ports = approvals.open_ports(access, inventory, {item.pk} if item else None)
        refusals = approvals.end_now(who, ports, inventory, approvals.port_closed(item) if item else "")
    except approvals.Refused as refused:  # nothing open any more (ended, expired): a second `jit end`
        raise refusal(refused) from None
    if refusals:
        raise Problem(403, "azure-refused", "Azure refused to end some of it.", " ".join(refusals))
    access.refresh_from_db()
    return json_answer(described(access, inventory))


@router.post(
    "/requests/{int:pk}/end",
    response=schemas.answers(schemas.Request),
    summary="End now",
    description="Azure has no revoke: the ports are replaced by a one-minute window that admits nobody.",
    auth=person(REQUESTER, APPROVER, ADMIN),
)
def end(request: HttpRequest, pk: int):
    who = actor(request)
    return guard.once(request, lambda: _end(who, pk))


@router.post(
    "/items/{int:pk}/end",
    response=schemas.answers(schemas.Request),
    summary="End one VM's port now",
    description="One row of My access: this VM and port of its request, and nothing else (the rest of the "
    "request stays open). The request, as it is now, is the answer.",
    auth=person(REQUESTER, APPROVER, ADMIN),
)
def end_item(request: HttpRequest, pk: int):
    who = actor(request)
    item = AccessRequestItem.objects.filter(pk=pk).only("request_id", "vm_name", "port").first()
    if item is None:
        raise Http404(NOT_YOURS)
    return guard.once(request, lambda: _end(who, item.request_id, item))


def _cancel(who: Actor, pk: int) -> HttpResponse:
    access = own_request(who.user, pk)
    try:
        approvals.cancel(who, access.pk)
    except approvals.Refused as refused:
        raise refusal(refused) from None
    access.refresh_from_db()
    return json_answer(described(access, _inventory(who)))


@router.post(
    "/requests/{int:pk}/cancel",
    response=schemas.answers(schemas.Request),
    summary="Cancel a request waiting for approval",
    auth=person(REQUESTER),
)
def cancel(request: HttpRequest, pk: int):
    who = actor(request)
    return guard.once(request, lambda: _cancel(who, pk))
