"""The approvals inbox, decisions, and the approval rules (read)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from accounts.roles import ADMIN, APPROVER, roles_of
from core.actor import Actor
from requests_app import approvals, enforcement
from requests_app.forms import DecisionForm
from requests_app.models import Approval
from requests_app.visibility import overseen_request

from . import guard, schemas
from .access import described, inventory_now, json_answer, refusal
from .auth import actor, person
from .problems import invalid

router = Router(tags=["Approvals"])


@router.get(
    "/approvals",
    response=schemas.answers(list[schemas.Waiting]),
    summary="Requests waiting for a decision I may see",
    auth=person(APPROVER, ADMIN),
)
def inbox(request: HttpRequest):
    who = actor(request)
    approvals.lapse_due()
    inventory = inventory_now(who)
    may_decide = APPROVER in roles_of(who.user)
    return [
        {"request": described(a, inventory), "why_not": why, "can_decide": may_decide and a.waits and not why}
        for a in approvals.waiting_for(who.user, inventory)
        for why in [a.why_not_decide(who.user) or ("" if may_decide else "Deciding needs the role JIT.Approver.")]
    ]


def _decide(who: Actor, pk: int, body: schemas.DecisionIn) -> HttpResponse:
    inventory = inventory_now(who)
    access = overseen_request(who.user, pk, inventory)
    form = DecisionForm({"decision": body.decision, "comment": body.comment})
    if not form.is_valid():
        raise invalid({name: list(errors) for name, errors in form.errors.items()})
    comment = form.cleaned_data["comment"]
    try:
        if form.cleaned_data["decision"] == Approval.Decision.APPROVE:
            approvals.approve(who, access.pk, comment, inventory)
        else:
            approvals.deny(who, access.pk, comment)
    except approvals.Refused as refused:
        raise refusal(refused) from None
    access.refresh_from_db()
    return json_answer(described(access, inventory))


@router.post(
    "/requests/{int:pk}/decision",
    response=schemas.answers(schemas.Request),
    summary="Approve or deny",
    description="A denial needs a comment (the requester reads it). The last approval opens the ports with "
    "the approver's own Azure rights.",
    auth=person(APPROVER),
)
def decide(request: HttpRequest, pk: int, body: schemas.DecisionIn):
    who = actor(request)
    return guard.once(request, lambda: _decide(who, pk, body))


@router.get(
    "/rules",
    response=schemas.answers(list[schemas.Rule]),
    summary="The approval rules",
    description="Only the rules within what Azure lets me read (as the rules page shows them).",
    auth=person(ADMIN, APPROVER),
)
def rules(request: HttpRequest):
    who = actor(request)
    shown, _ = enforcement.visible_rules(who.session, who.user_pk, inventory_now(who).rows)
    return [schemas.rule(r) for r in shown]


def _open_again(who: Actor, pk: int) -> HttpResponse:
    inventory = inventory_now(who)
    access = overseen_request(who.user, pk, inventory)
    try:
        approvals.open_again(who, access.pk, inventory)
    except approvals.Refused as refused:
        raise refusal(refused) from None
    access.refresh_from_db()
    return json_answer(described(access, inventory))


@router.post(
    "/requests/{int:pk}/open",
    response=schemas.answers(schemas.Request),
    summary="Open an approved request with my rights",
    description="When Azure refused the approver who approved it, another approver opens it with theirs.",
    auth=person(APPROVER),
)
def open_again(request: HttpRequest, pk: int):
    who = actor(request)
    return guard.once(request, lambda: _open_again(who, pk))
