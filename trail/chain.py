"""Appending to the audit trail, checkpoints of its head, and checking its chain: the ground floor every app writes.

Each event carries its number (`seq`), the MAC of the event before it and its own MAC, an HMAC-SHA256 under
a key the database does not hold. A checkpoint ("count:mac") names the head at one moment; it is logged
every AUDIT_CHECKPOINT_EVERY events and with every CSV download, so that deleting the newest events is
caught by comparing the trail with a checkpoint kept elsewhere."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from core.actor import Actor
from core.database import serialize
from core.gateway.ids import scopes_in

from .models import AuditEvent, AuditScope

GENESIS = "0" * 64
log = logging.getLogger("audit.checkpoint")


def key_id(key: bytes) -> str:
    """A public name for a key: events say which key sealed them, never the key."""
    return hashlib.sha256(b"jitportal audit key id\0" + key).hexdigest()[:16]


def _derived(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"jitportal audit trail", hashlib.sha256).digest()


def keys() -> dict[str, bytes]:
    """Every key that may have sealed an event, by id; the current one first."""
    current = settings.AUDIT_KEY.encode() if settings.AUDIT_KEY else _derived(settings.SECRET_KEY)
    older = [k.encode() for k in settings.AUDIT_PREVIOUS_KEYS]
    older += [_derived(k) for k in getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return {key_id(k): k for k in [current, *older]}


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def record(
    actor: Actor, action: str, target: str, outcome: str, *, details: dict | None = None, correlation_id: str = ""
) -> AuditEvent:
    """Append one event; the chain is extended under the database's write lock."""
    kid, key = next(iter(keys().items()))
    with transaction.atomic():
        serialize("audit-trail")
        last = AuditEvent.objects.select_for_update().order_by("-seq").only("seq", "mac").first()
        event = AuditEvent(
            seq=last.seq + 1 if last else 1,
            actor=actor.user,
            actor_name=getattr(actor.user, "upn", "") or "",
            action=action,
            target=target,
            outcome=outcome,
            source_ip=_ip(actor.ip),
            correlation_id=correlation_id,
            details={**(details or {}), "channel": actor.channel},
            key_id=kid,
            previous_mac=last.mac if last else GENESIS,
        )
        event.mac = event.compute_mac(key)
        event.save()
        AuditScope.objects.bulk_create(
            AuditScope(event=event, subscription_id=sub, resource_group=rg) for sub, rg in scopes_in(target)
        )
    if event.seq % settings.AUDIT_CHECKPOINT_EVERY == 0:
        log.info("audit checkpoint %s", Checkpoint(event.seq, event.mac))
    return event


@dataclass(frozen=True)
class Checkpoint:
    count: int
    mac: str

    def __str__(self) -> str:
        return f"{self.count}:{self.mac}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        found = re.fullmatch(r"\s*(\d+):([0-9a-f]{64})\s*", text)
        if not found:
            raise ValueError("a checkpoint is <count>:<64 hex digits>, as the log and the CSV give it")
        return cls(int(found[1]), found[2])


def checkpoint() -> Checkpoint:
    """The trail's head now (count 0 and the genesis link when it is empty)."""
    last = AuditEvent.objects.order_by("-seq").only("seq", "mac").first()
    return Checkpoint(last.seq, last.mac) if last else Checkpoint(0, GENESIS)


def log_checkpoint() -> Checkpoint:
    """Write the head to the log stream, which outlives the database's writers; the worker may run it hourly."""
    head = checkpoint()
    log.info("audit checkpoint %s", head)
    return head


@dataclass(frozen=True)
class Break:
    seq: int
    why: str


def first_break(against: Checkpoint | None = None) -> Break | None:
    """The first event whose number, link or MAC does not hold (or where the trail falls short of the
    checkpoint), with why; None when all hold."""
    known = keys()
    previous, seq, mac_at_checkpoint = GENESIS, 0, ""
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        seq += 1
        if event.seq != seq:
            return Break(seq, f"event {seq} is missing (the next is {event.seq}): events were removed")
        if event.previous_mac != previous:
            return Break(seq, "its link does not match the event before it (an event was removed or inserted)")
        key = known.get(event.key_id)
        if key is None:
            return Break(seq, f"it names key {event.key_id!r}, which is not configured (AUDIT_PREVIOUS_KEYS?)")
        if not hmac.compare_digest(event.compute_mac(key), event.mac):
            return Break(seq, "its content does not match its MAC (it was changed)")
        previous = event.mac
        if against and seq == against.count:
            mac_at_checkpoint = event.mac
    if against and against.count > seq:
        return Break(
            seq + 1,
            f"the trail ends at event {seq}, but the checkpoint counts {against.count}: the newest events were removed",
        )
    if against and against.count and mac_at_checkpoint != against.mac:
        return Break(against.count, "it differs from the checkpoint's MAC (the trail was rewritten since)")
    return None


def seal(document: dict) -> dict:
    """`document` with the id of the trail's current key and an HMAC-SHA256 under it over its canonical JSON, so
    that whoever holds the key (`verify_export`) can tell it was issued by this portal and not changed since."""
    kid, key = next(iter(keys().items()))
    unsealed = {k: v for k, v in document.items() if k not in ("key_id", "signature")} | {"key_id": kid}
    return unsealed | {"signature": _document_mac(key, unsealed)}


def seal_holds(document: dict) -> bool:
    """Whether a sealed document is as it was sealed, under any key the trail knows (rotation included)."""
    key = keys().get(str(document.get("key_id", "")))
    unsealed = {k: v for k, v in document.items() if k != "signature"}
    return key is not None and hmac.compare_digest(_document_mac(key, unsealed), str(document.get("signature", "")))


def _document_mac(key: bytes, document: dict) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, b"jitportal sealed document\0" + canonical.encode(), hashlib.sha256).hexdigest()
