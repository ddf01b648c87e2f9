"""The approvals inbox, decisions, and the approval rules (read)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from accounts.roles import ADMIN, APPROVER, require_role, roles_of
from core.actor import Actor
from requests_app import approvals
from requests_app.forms import DecisionForm
from requests_app.models import Approval, ApprovalRule
from requests_app.visibility import overseen_request

from . import guard, schemas
from .access import described, inventory_now, json_answer, refusal
from .auth import actor
from .problems import invalid

router = Router(tags=["Approvals"])


@router.get("/approvals", response=list[schemas.Waiting], summary="Requests waiting for a decision I may see")
def inbox(request: HttpRequest):
    who = actor(request)
    require_role(who.user, APPROVER, ADMIN)
    approvals.lapse_due()
    inventory = inventory_now(who)
    may_decide = APPROVER in roles_of(who.user)
    return [{"request": described(a, inventory), "why_not": why,
             "can_decide": may_decide and a.waits and not why}
            for a in approvals.waiting_for(who.user, inventory)
            for why in [a.why_not_decide(who.user) or ("" if may_decide else "Deciding needs the role JIT.Approver.")]]


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


@router.post("/requests/{int:pk}/decision", response=schemas.Request, summary="Approve or deny",
             description="A denial needs a comment (the requester reads it). The last approval opens the ports with "
                         "the approver's own Azure rights.")
def decide(request: HttpRequest, pk: int, body: schemas.DecisionIn):
    who = actor(request)
    require_role(who.user, APPROVER)
    return guard.once(request, lambda: _decide(who, pk, body))


@router.get("/rules", response=list[schemas.Rule], summary="The approval rules")
def rules(request: HttpRequest):
    require_role(actor(request).user, ADMIN, APPROVER)
    return [schemas.rule(r) for r in ApprovalRule.objects.all()]


def _open_again(who: Actor, pk: int) -> HttpResponse:
    inventory = inventory_now(who)
    access = overseen_request(who.user, pk, inventory)
    try:
        approvals.open_again(who, access.pk, inventory)
    except approvals.Refused as refused:
        raise refusal(refused) from None
    access.refresh_from_db()
    return json_answer(described(access, inventory))


@router.post("/requests/{int:pk}/open", response=schemas.Request, summary="Open an approved request with my rights",
             description="When Azure refused the approver who approved it, another approver opens it with theirs.")
def open_again(request: HttpRequest, pk: int):
    who = actor(request)
    require_role(who.user, APPROVER)
    return guard.once(request, lambda: _open_again(who, pk))
