"""What the portal tells people about requests, and whom: composed here, delivered by `core.notify`
(e-mail and webhooks, by the worker). Nothing sent holds a token or a link that acts without signing in:
links lead to pages that ask who you are and check what you may do."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from accounts.models import User
from accounts.roles import APPROVER, AUDITOR
from core.gateway import parse_policy_id
from core.notify import Message, Recipient, send
from vms.seen import who_sees

from .models import AccessRequest, Approval
from .states import RequestStatus


def _recipients(users: Iterable[User]) -> list[Recipient]:
    return [Recipient(u.pk, u.email or u.upn) for u in users if u.email or u.upn]


def approvers_of(access: AccessRequest) -> list[User]:
    """The people who may decide: holders of JIT.Approver (those the rule names, when it names some), never the
    requester. The portal knows a person's roles from their last sign-in."""
    people = User.objects.filter(groups__name=APPROVER, is_active=True).distinct()
    return [u for u in people if not access.why_not_decide(u)]


def _scoped(access: AccessRequest, people: Iterable[User]) -> tuple[list[User], list[User]]:
    """Those of `people` whose Azure read scope, as the portal last saw it, holds every VM of the request (they
    may be told what it asks), and those whose scope it has not seen yet (they are told only that something
    waits). The others are told nothing: the request is none of their business in Azure."""
    people = {u.pk: u for u in people}
    groups = {
        (ref.subscription_id, ref.resource_group)
        for i in access.items.all()
        if (ref := parse_policy_id(i.policy_id)) is not None
    }
    seeing, unseen = who_sees(people, groups)
    return [people[pk] for pk in sorted(seeing)], [people[pk] for pk in sorted(unseen)]


LOOK = "Open the page below to see it (you will be asked to sign in, and shown only what Azure lets you read)."
# What those whose scope the portal has not seen are told, per kind of message: what happened, without its details.
WITHOUT_DETAILS = {
    "pending": ("A request is waiting in the JIT portal", f"Something in the JIT portal may need you. {LOOK}"),
    "break_glass": (
        "Break glass in the JIT portal: access opened without approval",
        f"Someone opened access in the JIT portal without waiting for approval (break glass). {LOOK}",
    ),
}


def _tell(message: Message, people: Iterable[User], access: AccessRequest) -> None:
    """`message` to those who may see the request; a word without its details to those not yet seen."""
    seeing, unseen = _scoped(access, people)
    send(message, _recipients(seeing))
    subject, body = WITHOUT_DETAILS[message.kind]
    send(Message(message.kind, subject, body, access.pk, message.path), _recipients(unseen))


def _what(access: AccessRequest) -> str:
    ports = ", ".join(f"{i.vm_name}:{i.port}" for i in access.items.all())
    return f"{ports} from {access.source_prefix} for {access.duration_minutes} min"


def _path(access: AccessRequest) -> str:
    return reverse("requests-detail", args=[access.pk])


def _to_requester(access: AccessRequest, kind: str, subject: str, body: str) -> None:
    send(Message(kind, subject, body, access.pk, _path(access)), _recipients([access.user]))


def pending(access: AccessRequest) -> None:
    body = (
        f"{access.user.upn} asks for {_what(access)}.\nWhy: {access.justification or '(no reason given)'}\n"
        f"Rule: {access.rule_name}, {access.approvals_needed} approval(s) needed, until {access.pending_until:%Y-%m-%d %H:%M} UTC."
    )
    _tell(
        Message("pending", f"Approval needed: {access.user.upn} asks for access", body, access.pk, _path(access)),
        approvers_of(access),
        access,
    )


def approved_once(access: AccessRequest, approver: User, count: int) -> None:
    _to_requester(
        access,
        "decision",
        "One approval of your request is in",
        f"{approver.upn} approved ({count} of {access.approvals_needed}): {_what(access)}.",
    )


def decided(access: AccessRequest, by: User, opener: bool = False) -> None:
    """The decision, or (`opener`) the opening of an approved request by someone who did not approve it."""
    decisions = list(access.approvals.select_related("approver"))
    comments = "".join(f"\n{d.approver.upn}: {d.comment}" for d in decisions if d.comment)
    approvers = ", ".join(d.approver.upn for d in decisions if d.decision == Approval.Decision.APPROVE)
    if access.status == RequestStatus.DENIED:
        subject, text = "Your request was denied", f"{by.upn} denied {_what(access)}."
    elif access.status in (RequestStatus.OPENED, RequestStatus.PARTLY_OPENED):
        subject = "Your request was approved: access is open"
        text = (
            f"Approved by {approvers}; opened by {by.upn}: {_what(access)}."
            if opener
            else f"{by.upn} approved and opened {_what(access)}."
        )
    else:
        reasons = " ".join(sorted({i.message.rstrip(".") + "." for i in access.items.all() if i.message}))
        subject = "Your request was approved, but Azure did not open it"
        text = f"Approved by {approvers}: {_what(access)}. Azure answered: {reasons} An approver may try again."
    _to_requester(access, "decision", subject, text + comments)


def lapsed(access: AccessRequest) -> None:
    _to_requester(
        access,
        "pending_expired",
        "Your request expired: nobody decided in time",
        f"Nobody decided on {_what(access)} before {access.pending_until:%Y-%m-%d %H:%M} UTC. Ask again if "
        "you still need access.",
    )


def break_glass(access: AccessRequest) -> None:
    people = list(approvers_of(access)) + list(User.objects.filter(groups__name=AUDITOR, is_active=True))
    body = (
        f"{access.user.upn} opened {_what(access)} without approval (break glass).\n"
        f"Reason: {access.break_glass}\nWhy: {access.justification}"
    )
    _tell(
        Message(
            "break_glass",
            f"Break glass: {access.user.upn} opened access without approval",
            body,
            access.pk,
            _path(access),
        ),
        {u.pk: u for u in people}.values(),
        access,
    )


def ending_soon(access: AccessRequest, minutes: int) -> None:
    _to_requester(
        access,
        "ending_soon",
        f"{minutes} minutes left — Extend?",
        f"Your access to {_what(access)} ends in {minutes} minutes. Extend it from My access if you still need it.",
    )


def ended(access: AccessRequest, by: User) -> None:
    _to_requester(access, "ended", "Your access was ended early", f"{by.upn} ended your access to {_what(access)}.")


def ended_outside(requestor: str, vm: str, port: int, by: User) -> None:
    """To whoever opened it outside the portal, when the portal knows them (they have signed in)."""
    people = list(User.objects.filter(upn__iexact=requestor, is_active=True)[:1])
    send(
        Message(
            "ended",
            "Your access was ended early",
            f"{by.upn} ended your access to {vm} port {port} (opened outside the portal).",
            path=reverse("requests-my-access"),
        ),
        _recipients(people),
    )
