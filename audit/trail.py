"""Appending to the audit trail, and checking its hash chain: the ground floor every app writes to."""

from __future__ import annotations

import ipaddress

from django.db import transaction

from jitportal.actor import Actor

from .models import AuditEvent

GENESIS = "0" * 64


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def record(actor: Actor, action: str, target: str, outcome: str, *, details: dict | None = None,
           correlation_id: str = "") -> AuditEvent:
    """Append one event; the chain is extended under the database's write lock."""
    with transaction.atomic():
        last = AuditEvent.objects.select_for_update().order_by("-id").only("hash").first()
        event = AuditEvent(
            actor=actor.user, actor_name=getattr(actor.user, "upn", "") or "", action=action, target=target,
            outcome=outcome, source_ip=_ip(actor.ip), correlation_id=correlation_id, details=details or {},
            previous_hash=last.hash if last else GENESIS,
        )
        event.hash = event.compute_hash()
        event.save()
    return event


def first_broken_link() -> tuple[int, str] | None:
    """The id of the first event whose hash or link does not hold, with why; None when all hold."""
    previous = GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.previous_hash != previous:
            return event.id, "its previous_hash does not match the event before it (an event was removed or inserted)"
        if event.compute_hash() != event.hash:
            return event.id, "its content does not match its hash (it was changed)"
        previous = event.hash
    return None
