"""Which approval rule a request falls under: the strictest of those whose scope and condition it meets."""

from __future__ import annotations

from collections.abc import Iterable

from core.gateway import parse_policy_id

from .models import AccessRequest, ApprovalRule
from .plan import Planned
from .states import RequestStatus


def _scope(policy_id: str) -> tuple[str, str]:
    ref = parse_policy_id(policy_id)
    return (ref.subscription_id, ref.resource_group) if ref else ("", "")


def rules_for_ports(
    ports: Iterable[tuple[str, int, int]], rules: list[ApprovalRule] | None = None
) -> list[ApprovalRule]:
    """The rules (of `rules`, else all) that apply to (policy id, port, minutes) triples, strictest first: most
    approvals, then the shortest wait."""
    ports = list(ports)
    found = [
        rule
        for rule in (ApprovalRule.objects.all() if rules is None else rules)
        if any(rule.covers(*_scope(policy)) and rule.asks(port, minutes) for policy, port, minutes in ports)
    ]
    return sorted(found, key=lambda r: (-r.approvals_needed, r.pending_minutes, r.pk))


def _asked(p: Planned) -> tuple[str, int, int]:
    return p.choice.row.policy_id, p.choice.port.number, int(p.window.total_seconds() // 60)


def rule_for(planned: list[Planned], extends: AccessRequest | None = None) -> ApprovalRule | None:
    """The rule a request waits on, or None when it opens at once. An extension of a request that opened
    needs no new approval when it is no longer than the rule's `extension_minutes`."""
    ports = [_asked(p) for p in planned]
    rules = rules_for_ports(ports)
    if not rules:
        return None
    rule = rules[0]
    opened = extends is not None and extends.status in (RequestStatus.OPENED, RequestStatus.PARTLY_OPENED)
    if opened and all(minutes <= rule.extension_minutes for _, _, minutes in ports):
        return None
    return rule


def split(
    planned: list[Planned], extends: AccessRequest | None = None
) -> tuple[list[Planned], list[Planned], ApprovalRule | None]:
    """The ports no rule covers (they open at once), those a rule covers (they wait), and the strictest rule
    among those: a rule for port 3389 holds dev-08:3389, never dev-01:22 asked beside it."""
    rules = list(ApprovalRule.objects.all())
    free, held = [], []
    for p in planned:
        (held if rules_for_ports([_asked(p)], rules) else free).append(p)
    rule = rule_for(held, extends) if held else None
    return (free, held, rule) if rule is not None else (planned, [], None)
