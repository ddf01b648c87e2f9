"""Deciding on requests that wait for approvers, and the steps after opening: extend and end now.

The portal acts only as a signed-in person: the last approver's own token opens the ports, the requester's
extends them, and whoever ends a window early does it with theirs. Every step is in the trail."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import gateway, justifications
from core.actor import PORTAL, Actor
from core.fates import ENDED_EARLY
from core.models import Notification
from trail.chain import record
from vms.inventory import Inventory, RequestLine, VmRow, invalidate

from . import notices
from .actions import do_submit_request, open_request, targets
from .models import AccessRequest, AccessRequestItem, Approval
from .plan import Choice, Planned
from .states import ItemStatus, RequestStatus
from .status import OPENABLE, line_of, still_open
from .visibility import in_scope

RECENT = timedelta(days=7)
# Documentation addresses (RFC 5737, TEST-NET-1): never routed, so a window opened to one reaches nobody.
NOBODY = "192.0.2.1"


class Refused(Exception):
    """A decision or step the portal will not take, with why, in words for the person."""

    @property
    def message(self) -> str:
        return str(self.args[0])


ASKED_AT_MOST = 5_000  # the newest request lines read for the inbox's "others lately"


def waiting_for(user, inventory: Inventory | None) -> list[AccessRequest]:
    """The requests waiting for a decision (or for someone to open them) that `user` may see, the soonest
    deadline first; never their own."""
    waiting = (
        AccessRequest.objects.filter(status__in=[RequestStatus.PENDING_APPROVAL, RequestStatus.APPROVED_NOT_OPENED])
        .exclude(user=user)
        .select_related("user")
        .prefetch_related("items", "approvals__approver")
        .order_by("pending_until", "id")[:200]
    )
    return [a for a in waiting if in_scope(inventory, a)]


def asked_lately(requests: list[AccessRequest]) -> dict[int, list[AccessRequest]]:
    """For each request, who else asked for any of its VMs in the last week, newest first, one line per person
    (at most ten): what an approver weighs it against (the requester's own earlier requests are on their My
    access). Two queries for the inbox's 200 requests, where it was one per request."""
    vms_of = {a.pk: {i.vm_id for i in a.items.all()} for a in requests}
    wanted = set().union(*vms_of.values())
    asked = (
        list(
            AccessRequestItem.objects.filter(vm_id__in=wanted, request__created__gte=timezone.now() - RECENT)
            .order_by("-request__created", "-request_id")
            .values_list("request_id", "vm_id")[:ASKED_AT_MOST]
        )
        if wanted
        else []
    )
    by_pk = AccessRequest.objects.select_related("user").in_bulk({pk for pk, _ in asked})
    by_vm: dict[str, list[tuple[int, int]]] = defaultdict(list)  # VM → (newness, request), newest first
    for newness, (pk, vm_id) in enumerate(asked):
        by_vm[vm_id].append((newness, pk))
    found: dict[int, list[AccessRequest]] = {}
    for access in requests:
        people: dict[int, AccessRequest] = {}
        for _, pk in sorted({hit for vm_id in vms_of[access.pk] for hit in by_vm.get(vm_id, ())}):
            other = by_pk[pk]
            if other.user_id != access.user_id and len(people) < 10:
                people.setdefault(other.user_id, other)
        found[access.pk] = list(people.values())
    return found


def _locked(pk: int) -> AccessRequest:
    return AccessRequest.objects.select_for_update().select_related("user").get(pk=pk)


def _lapse_if_due(pk: int) -> None:
    """Expire the request first when nobody decided in time (its own commit: the refusal that follows rolls back)."""
    access = AccessRequest.objects.select_related("user").get(pk=pk)
    if access.overdue:
        with transaction.atomic():
            _lapse(access)
        raise Refused("Nobody decided in time: this request has expired. The requester may ask again.")


def _decidable(actor: Actor, access: AccessRequest) -> None:
    if access.status != RequestStatus.PENDING_APPROVAL:
        raise Refused("This request is no longer waiting for a decision.")
    why = access.why_not_decide(actor.user)
    if why:
        raise Refused(why)
    if access.approvals.filter(approver=actor.user).exists():
        raise Refused("You have already decided on this request.")


def _decide(actor: Actor, pk: int, decision: str, comment: str) -> tuple[AccessRequest, int]:
    """Record `actor`'s decision under the request's row lock; the number of approvals it now has. The caller
    settles the request in the same transaction."""
    _decidable(actor, access := _locked(pk))
    Approval.objects.create(request=access, approver=actor.user, decision=decision, comment=comment)
    return access, access.approvals.filter(decision=Approval.Decision.APPROVE).count()


def approve(actor: Actor, pk: int, comment: str, inventory: Inventory) -> AccessRequest:
    """Count `actor`'s approval; the last one needed opens the ports with `actor`'s own Azure token."""
    _lapse_if_due(pk)
    try:
        with transaction.atomic():
            access, count = _decide(actor, pk, Approval.Decision.APPROVE, comment)
            last = count >= access.approvals_needed
            if last:  # from here on, a second approver's click finds it decided
                access.move(RequestStatus.WAITING_FOR_AZURE)
                access.decided_at = timezone.now()
                access.opening_since = access.decided_at
                access.save(update_fields=["status", "decided_at", "opening_since"])
            record(
                actor,
                "access.approve",
                targets(access),
                "approved",
                details={
                    "request": access.pk,
                    "comment": comment,
                    "approvals": count,
                    "needed": access.approvals_needed,
                },
            )
    except IntegrityError:  # the same approver's second click, at the same moment
        raise Refused("You have already decided on this request.") from None
    if last:
        _open_as(actor, access, inventory)
    else:
        notices.approved_once(access, actor.user, count)
    return access


def open_again(actor: Actor, pk: int, inventory: Inventory) -> AccessRequest:
    """An approved request Azure refused to open for its approver: another approver opens it with theirs."""
    with transaction.atomic():
        access = _locked(pk)
        if access.status != RequestStatus.APPROVED_NOT_OPENED:
            raise Refused("This request is not waiting to be opened.")
        access.opening_since = timezone.now()
        why = access.why_not_decide(actor.user)
        if why:
            raise Refused(why)
        access.move(RequestStatus.WAITING_FOR_AZURE)
        access.save(update_fields=["status", "opening_since"])
        access.items.filter(status__in=ItemStatus.from_states(ItemStatus.WAITING_FOR_AZURE)).update(
            status=ItemStatus.WAITING_FOR_AZURE, message="", correlation_id=""
        )
    _open_as(actor, access, inventory, opener=True)
    return access


def _open_as(actor: Actor, access: AccessRequest, inventory: Inventory, opener: bool = False) -> None:
    """Open an approved request now, as `actor`: each port for its window from Azure's clock now, capped by
    the port's maximum, with a justification naming the requester and the approvers."""
    now = inventory.azure_clock()
    items = list(access.items.all())
    for item in items:
        window = timedelta(minutes=item.minutes or access.duration_minutes)
        rule = _port(inventory.row_of(item.vm_id), item.port)
        item.end = now + (min(window, rule.max_duration) if rule else window)
    AccessRequestItem.objects.bulk_update(items, ["end"])
    access = AccessRequest.objects.prefetch_related("items").select_related("user").get(pk=access.pk)
    approvers = ", ".join(
        a.approver.upn for a in access.approvals.select_related("approver") if a.decision == Approval.Decision.APPROVE
    )
    justification = justifications.approved(access.user.upn, access.justification, approvers)
    try:
        open_request(actor, access, justification, "access.open")
    finally:
        # Nothing opened (Azure refused the approver, failed, or their sign-in had expired): the approvals stand
        # and the request stays approved, for them or another approver to open.
        AccessRequest.objects.filter(
            pk=access.pk, status__in=RequestStatus.from_states(RequestStatus.APPROVED_NOT_OPENED)
        ).update(status=RequestStatus.APPROVED_NOT_OPENED)
        access.refresh_from_db(fields=["status"])
    notices.decided(access, actor.user, opener)


def _port(row: VmRow | None, number: int) -> gateway.PortRule | None:
    return next((p for p in row.ports if p.number == number), None) if row else None


def deny(actor: Actor, pk: int, comment: str) -> AccessRequest:
    _lapse_if_due(pk)
    try:
        with transaction.atomic():
            access, _ = _decide(actor, pk, Approval.Decision.DENY, comment)
            access.move(RequestStatus.DENIED)
            access.decided_at = timezone.now()
            access.save(update_fields=["status", "decided_at"])
            record(
                actor,
                "access.deny",
                targets(access),
                RequestStatus.DENIED.label,
                details={"request": access.pk, "comment": comment},
            )
    except IntegrityError:
        raise Refused("You have already decided on this request.") from None
    notices.decided(access, actor.user)
    return access


def cancel(actor: Actor, pk: int) -> AccessRequest:
    """The requester withdraws a request that still waits."""
    with transaction.atomic():
        access = _locked(pk)
        if access.user_id != actor.user_pk:
            raise Refused("Only the requester may cancel a request.")
        if access.status != RequestStatus.PENDING_APPROVAL:
            raise Refused("This request is no longer waiting, so there is nothing to cancel.")
        access.move(RequestStatus.CANCELLED)
        access.decided_at = timezone.now()
        access.save(update_fields=["status", "decided_at"])
        record(actor, "access.cancel", targets(access), RequestStatus.CANCELLED.label, details={"request": access.pk})
    return access


def _lapse(access: AccessRequest) -> None:
    updated = AccessRequest.objects.filter(
        pk=access.pk, status__in=RequestStatus.from_states(RequestStatus.LAPSED)
    ).update(status=RequestStatus.LAPSED, decided_at=timezone.now())
    if updated:
        access.status = RequestStatus.LAPSED  # as the guarded UPDATE above wrote it
        record(
            PORTAL,
            "access.lapse",
            targets(access),
            RequestStatus.LAPSED.label,
            details={"request": access.pk, "pending_until": access.pending_until.isoformat()},
        )
        notices.lapsed(access)


def lapse_due(now: datetime | None = None) -> int:
    """Expire every request nobody decided on in time (the worker runs it; a page does it when it meets one)."""
    due = AccessRequest.objects.filter(status=RequestStatus.PENDING_APPROVAL, pending_until__lte=now or timezone.now())
    count = 0
    for access in due.select_related("user").prefetch_related("items"):
        with transaction.atomic():
            _lapse(access)
        count += 1
    return count


@dataclass(frozen=True)
class OpenPort:
    """A port of a request Azure still lists as open, on the VM row it belongs to."""

    item: AccessRequestItem
    row: VmRow
    rule: gateway.PortRule


def open_ports(access: AccessRequest, inventory: Inventory, only: set[int] | None = None) -> list[OpenPort]:
    """The request's ports open now by Azure's request history (as this person's inventory shows it), those
    whose item pk is in `only` when given."""
    now = inventory.azure_clock()
    found = []
    for item in access.items.all():
        if only is not None and item.pk not in only:
            continue
        row = inventory.row_of(item.vm_id)
        rule = _port(row, item.port)
        if (
            item.status in OPENABLE
            and item.ended_at is None
            and rule is not None
            and still_open(item, line_of(row, item), now)
        ):
            found.append(OpenPort(item, row, rule))
    return found


def end_now(actor: Actor, ports: list[OpenPort], inventory: Inventory, none_open: str = "") -> list[str]:
    """Close these open ports early, and nothing else. Azure has no revoke: each VM and port gets a newer
    request, which revokes the older one for that VM and port alone (NewerRequestInitiated), as short as Azure
    accepts, to an address that reaches nobody where the policy takes any source (else to the port's own
    source). One initiate and one `access.end` trail event per request and policy. Returns Azure's refusals.
    `none_open` is the refusal when nothing asked for is open (a per-port end names that port: the rest of its
    request may well be open)."""
    if not ports:
        raise Refused(none_open or "Nothing of this request is open any more.")
    end = inventory.azure_clock() + timedelta(seconds=settings.JIT_END_NOW_SECONDS)
    groups: dict[tuple[int, str], list[OpenPort]] = defaultdict(list)
    for p in ports:
        groups[(p.item.request_id, p.row.policy_id)].append(p)
    problems, ended = [], []
    for (_, policy_id), group in groups.items():
        problem = _end_group(actor, policy_id, group, end)
        if problem:
            problems.append(problem)
        else:
            ended += [p.item for p in group]
        invalidate(gateway.subscription_of(policy_id))
    _conclude_ends(actor, ended, end, inventory)
    return problems


def port_closed(item: AccessRequestItem) -> str:
    """Why one VM's port cannot be ended: it is not open (said of that port alone, not of its request)."""
    return f"{item.vm_name} port {item.port} is not open any more."


def _end_group(actor: Actor, policy_id: str, group: list[OpenPort], end: datetime) -> str:
    """One initiate that replaces these ports (one request's, in one policy) with a window reaching nobody;
    Azure's refusal, or "" when it ended them."""
    access = group[0].item.request
    vms: dict[str, list[gateway.GrantPort]] = defaultdict(list)
    for p in group:
        vms[p.item.vm_id].append(_closing(p.rule, p.item.port, p.item.source_prefix, end))
    return _replace(
        actor,
        policy_id,
        vms,
        justifications.ended_early(actor.user.upn, access.pk, access.user.upn),
        {"request": access.pk},
    )


def _closing(rule: gateway.PortRule, port: int, source: str, end: datetime) -> gateway.GrantPort:
    """The window that replaces an open one: to an address that reaches nobody where the port takes any source."""
    return gateway.GrantPort(port, NOBODY if rule.allowed_prefixes == ("*",) else source, end)


def _replace(
    actor: Actor, policy_id: str, vms: dict[str, list[gateway.GrantPort]], justification: str, about: dict
) -> str:
    """The initiate that ends windows early, and its `access.end` trail event (`about`: the request, or the window
    opened outside the portal); Azure's refusal, or ""."""
    correlation, problem = str(uuid.uuid4()), ""
    try:
        gateway.initiate(
            actor.session,
            gateway.parse_policy_id(policy_id),
            {k: tuple(v) for k, v in vms.items()},
            justification,
            correlation,
        )
    except gateway.GatewayError as error:
        problem = error.message
    end = next(g.end for grants in vms.values() for g in grants)
    record(
        actor,
        "access.end",
        policy_id,
        ItemStatus.REFUSED.value if problem else ENDED_EARLY,
        correlation_id=correlation,
        details={
            **about,
            "justification": justification,
            "message": problem,
            "items": [
                {"vm": vm, "port": g.number, "end": end.isoformat(), "source": g.source, "correlation_id": correlation}
                for vm, grants in vms.items()
                for g in grants
            ],
        },
    )
    return problem


def end_outside(actor: Actor, row: VmRow, line: RequestLine, inventory: Inventory) -> str:
    """End a window Azure has open that the portal did not open (the Azure portal, the CLI, PowerShell) as `end_now`
    ends the portal's own: a newer request for that VM and port alone, reaching nobody, for a minute; the trail's
    `access.end` names whose window it was. Who may is the caller's to check (`views.end_outside`). Azure's refusal,
    or ""."""
    rule = _port(row, line.port)
    if rule is None:
        raise Refused(f"Port {line.port} of {row.name} is not in its JIT policy any more: nothing to end.")
    end = inventory.azure_clock() + timedelta(seconds=settings.JIT_END_NOW_SECONDS)
    problem = _replace(
        actor,
        row.policy_id,
        {row.vm_id: [_closing(rule, line.port, line.source, end)]},
        justifications.ended_outside(actor.user.upn, line.requestor),
        {"request": None, "opened_outside_by": line.requestor, "window_end": line.end.isoformat()},
    )
    invalidate(gateway.subscription_of(row.policy_id))
    if not problem and line.requestor.lower() != (actor.user.upn or "").lower():
        notices.ended_outside(line.requestor, row.name, line.port, actor.user)
    return problem


def _conclude_ends(actor: Actor, ended: list[AccessRequestItem], until: datetime, inventory: Inventory) -> None:
    """Mark the ports ended; a request none of whose ports is open any more is ended early as a whole (its
    waiting extension withdrawn, its requester told when someone else ended it)."""
    if not ended:
        return
    moment = timezone.now()
    AccessRequestItem.objects.filter(pk__in=[i.pk for i in ended]).update(
        ended_by=actor.user, ended_at=moment, ended_until=until
    )
    by_request: dict[int, AccessRequest] = {i.request_id: i.request for i in ended}
    gone = {i.pk for i in ended}
    for access in by_request.values():
        access = AccessRequest.objects.select_related("user").prefetch_related("items").get(pk=access.pk)
        if any(p.item.pk not in gone for p in open_ports(access, inventory)):
            continue  # partly ended: the rest stays open, and so does the request
        AccessRequest.objects.filter(pk=access.pk).update(ended_by=actor.user, ended_at=moment)
        access.ended_by, access.ended_at = actor.user, moment
        for extension in access.extensions.filter(status=RequestStatus.PENDING_APPROVAL):
            if AccessRequest.objects.filter(
                pk=extension.pk, status__in=RequestStatus.from_states(RequestStatus.CANCELLED)
            ).update(status=RequestStatus.CANCELLED, decided_at=moment):
                record(
                    actor,
                    "access.cancel",
                    targets(extension),
                    RequestStatus.CANCELLED.label,
                    details={"request": extension.pk, "why": f"request {access.pk}, which it extends, was ended"},
                )
        if actor.user_pk != access.user_id:
            notices.ended(access, actor.user)


def extend(
    actor: Actor, access: AccessRequest, window: timedelta, key: str, inventory: Inventory, only: set[int] | None = None
) -> AccessRequest:
    """A new request for the same open ports (those whose item pk is in `only`, when given) and sources,
    `window` from now (capped by each port's maximum), which Azure records as replacing the old one for those
    VMs and ports alone. The rules apply again (see `rule_for`)."""
    if access.user_id != actor.user_pk:
        raise Refused("Only the requester may extend their access.")
    ports = open_ports(access, inventory, only)
    if not ports:
        raise Refused("Nothing of this is open any more, so there is nothing to extend: request again.")
    asked = {(p.item.vm_id.lower(), p.item.port) for p in ports}
    waiting = AccessRequestItem.objects.filter(request__extends=access, request__status=RequestStatus.PENDING_APPROVAL)
    if any((i.vm_id.lower(), i.port) in asked for i in waiting):
        raise Refused("An extension of this already waits for approval.")
    window = min(window, max(p.rule.max_duration for p in ports))
    planned = [Planned(Choice(p.row, p.rule), p.item.source_prefix, min(window, p.rule.max_duration)) for p in ports]
    # Azure's history (and so the VM list) tells an extension from a new grant by these words.
    return do_submit_request(
        actor,
        key,
        planned,
        access.source_prefix,
        window,
        justifications.extension(access.pk, access.justification),
        inventory.azure_clock(),
        extends=access,
    )


def remind_ending(now: datetime | None = None) -> int:
    """Tell each requester once, JIT_REMIND_MINUTES before a request's first port closes: "10 minutes left —
    Extend?" (the worker runs it every minute). Returns how many were told."""
    minutes = settings.JIT_REMIND_MINUTES
    if not minutes:
        return 0
    now = now or timezone.now()
    ending = (
        AccessRequestItem.objects.filter(
            status=ItemStatus.OPENED,
            end__gt=now,
            end__lte=now + timedelta(minutes=minutes),
            request__ended_at__isnull=True,
        )
        .values_list("request_id", flat=True)
        .distinct()
    )
    ending = list(ending)
    told = set(
        Notification.objects.filter(kind="ending_soon", request_id__in=ending).values_list("request_id", flat=True)
    )
    count = 0
    # Not those already extended: the newer request gets its own reminder.
    for access in (
        AccessRequest.objects.filter(pk__in=ending, extensions__isnull=True)
        .exclude(pk__in=told)
        .select_related("user")
        .prefetch_related("items")
    ):
        first_end = min(i.end for i in access.items.all() if i.status == ItemStatus.OPENED)
        notices.ending_soon(access, max(1, round((first_end - now).total_seconds() / 60)))
        count += 1
    return count


def settle_stalled(now: datetime | None = None) -> int:
    """Requests the portal began opening long ago and never settled (its process was killed mid-call): their
    ports are "not confirmed" (My access asks Azure's request history), and an approved one goes back to its
    approvers. The worker runs it every minute; returns how many it settled."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.POLICY_LEASE_SECONDS)
    stalled = AccessRequest.objects.filter(status=RequestStatus.WAITING_FOR_AZURE, opening_since__lt=cutoff)
    count = 0
    for access in stalled.select_related("user"):
        with transaction.atomic():
            waiting = access.items.filter(status__in=ItemStatus.from_states(ItemStatus.UNKNOWN))
            waiting.update(
                status=ItemStatus.UNKNOWN,
                message="The portal lost track of this while asking Azure: My access shows whether it opened.",
            )
            status = RequestStatus.APPROVED_NOT_OPENED if access.decided_at else RequestStatus.NOT_OPENED
            if not AccessRequest.objects.filter(pk=access.pk, status__in=RequestStatus.from_states(status)).update(
                status=status
            ):
                continue
            record(PORTAL, "access.stall", targets(access), "not confirmed", details={"request": access.pk})
        count += 1
    return count
