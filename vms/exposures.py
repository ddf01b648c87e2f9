"""Watching JIT's health over time: each finding is an exposure window, opened when a read first shows it and
ended when a read shows it gone (by Azure's clock), with the admins whose scope holds the VM told once of each.

A read judges only what it saw: a subscription that failed, a resource group outside the reader's scope, or a VM
whose health is Unknown neither opens nor ends anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.urls import reverse

from accounts.models import User
from accounts.roles import ADMIN
from core.database import serialize
from core.gateway import FleetFailure
from core.notify import Message, Recipient, send

from .models import Exposure
from .seen import who_sees
from .verdicts import FINDINGS, LABELS, UNKNOWN, PortHealth


@dataclass(frozen=True)
class Seen:
    """One read of the fleet, as far as it can tell: its rows, the subscriptions it failed to read, Azure's clock."""

    rows: tuple  # VmRow
    failures: tuple[FleetFailure, ...]
    azure_now: datetime


def _key(vm_id: str, port: PortHealth) -> str:
    rule = port.culprit.rule.rule_id if port.culprit else ""
    return f"{vm_id}|{port.port}|{port.state}|{rule}".lower()


def observe(seen: Seen) -> tuple[list[Exposure], list[Exposure]]:
    """Open an exposure for each new finding, end those the read shows gone; tell admins. (opened, ended)."""
    failed = {f.subscription.subscription_id.lower() for f in seen.failures}
    rows = [r for r in seen.rows if r.subscription_id.lower() not in failed]
    visible = {(r.subscription_id.lower(), r.resource_group.lower()) for r in rows}
    unknown = {r.vm_id.lower() for r in rows if r.health is None or r.health.state == UNKNOWN}
    found = {_key(r.vm_id, p): (r, p) for r in rows if r.health for p in r.health.ports if p.state in FINDINGS}
    with transaction.atomic():
        serialize("health-exposures")  # two reads at once must not open one finding twice
        ended = []
        for exposure in Exposure.objects.filter(ended=None, subscription_id__in={s for s, _ in visible}):
            if (exposure.subscription_id, exposure.resource_group) not in visible or exposure.vm_id.lower() in unknown:
                continue
            if found.pop(exposure.key, None) is None:
                exposure.ended = seen.azure_now
                exposure.save(update_fields=["ended"])
                ended.append(exposure)
        opened = Exposure.objects.bulk_create(
            [_new(key, row, port, seen.azure_now) for key, (row, port) in found.items()]
        )
        for exposure in opened:
            _tell(
                exposure,
                "exposure",
                f"{exposure.vm_name}: port {exposure.port} {LABELS[exposure.state].lower()}"
                + (f" ({exposure.severity})" if exposure.severity else ""),
                f"Since {exposure.started:%Y-%m-%d %H:%M} "
                f"UTC (Azure's clock): {exposure.detail}. JIT does not protect this port until it is fixed.",
            )
        for exposure in ended:
            _tell(
                exposure,
                "exposure_ended",
                f"{exposure.vm_name}: port {exposure.port} no longer {LABELS[exposure.state].lower()}",
                f"Resolved at {exposure.ended:%Y-%m-%d %H:%M} UTC (Azure's clock); "
                f"it was: {exposure.detail} (since {exposure.started:%Y-%m-%d %H:%M} UTC).",
            )
    return opened, ended


def _new(key: str, row, port: PortHealth, now: datetime) -> Exposure:
    return Exposure(
        key=key,
        vm_id=row.vm_id,
        vm_name=row.name,
        subscription_id=row.subscription_id.lower(),
        resource_group=row.resource_group.lower(),
        port=port.port,
        state=port.state,
        severity=port.severity,
        detail=port.detail[:4000],
        rule_id=port.culprit.rule.rule_id if port.culprit else "",
        started=now,
        last_seen=now,
    )


def admins_seeing(subscription_id: str, resource_group: str) -> list[User]:
    """JIT.Admin holders whose Azure read scope, as the portal last saw it, holds the resource group."""
    people = {u.pk: u for u in User.objects.filter(groups__name=ADMIN, is_active=True).distinct()}
    seeing, _ = who_sees(people, [(subscription_id, resource_group)])
    return [people[pk] for pk in sorted(seeing)]


def _recipients(users: Iterable[User]) -> list[Recipient]:
    return [Recipient(u.pk, u.email or u.upn) for u in users if u.email or u.upn]


def _tell(exposure: Exposure, kind: str, subject: str, body: str) -> None:
    path = reverse("vms-detail", args=[exposure.subscription_id, exposure.resource_group, exposure.vm_name])
    send(
        Message(kind, subject, body, path=path),
        _recipients(admins_seeing(exposure.subscription_id, exposure.resource_group)),
    )
