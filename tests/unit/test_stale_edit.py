"""A stale edit: what changed, in words, and the person's own changes kept where nobody else touched."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.archive import _history_mark, _store_policies
from audit.difference import per_vm
from audit.models import ArchivedConfiguration
from core.gateway import PortRule
from tests.unit.builders import NOW, policy, vm_id
from vms.actions import changes, describe_ports, keep_mine


def rule(number: int, hours: int = 3) -> PortRule:
    return PortRule(number, "*", ("*",), timedelta(hours=hours))


def shown(*rules: PortRule) -> str:
    return f"default: {describe_ports(rules)}"


WEB03 = "/subscriptions/s/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/web-03"


def test_it_says_who_added_removed_or_changed_which_port_on_which_vm():
    before = {WEB03: shown(rule(22), rule(3389))}
    after = {WEB03: shown(rule(22, 1), rule(2222))}
    assert changes(before, after) == [
        "Someone added port 2222 to web-03 (2222/Any from per request up to 3 h)",
        "Someone removed port 3389 from web-03",
        "Someone changed port 22 on web-03: now 22/Any from per request up to 1 h"]
    assert changes(before, {}) == ["Someone removed JIT from web-03"]


def test_it_keeps_my_changes_on_ports_nobody_else_touched_and_theirs_elsewhere():
    opened = shown(rule(22), rule(3389), rule(5985))
    mine = (rule(22, 2), rule(3389), rule(8443))  # 22 shortened, 5985 dropped, 8443 added
    now = (rule(22, 1), rule(3389, 1), rule(5985))  # someone shortened 22 and 3389
    assert keep_mine(opened, mine, now) == (rule(22, 1), rule(3389, 1), rule(8443))


def test_a_ports_sources_are_joined_with_a_comma_and_older_words_read_the_same():
    listed = PortRule(22, "TCP", ("10.0.0.0/8", "203.0.113.7"), timedelta(hours=1))
    assert describe_ports((listed,)) == "22/TCP from 10.0.0.0/8, 203.0.113.7 up to 1 h"
    assert per_vm({}, {WEB03: "22/TCP from 10.0.0.0/8+203.0.113.7 up to 1 h"}) == per_vm(
        {}, {WEB03: describe_ports((listed,))})


@pytest.mark.django_db
def test_a_configuration_written_with_the_older_words_is_not_a_change():
    listed = PortRule(22, "TCP", ("10.0.0.0/8", "203.0.113.7"), timedelta(hours=1))
    seen = policy({"web-01": (listed,)})
    ArchivedConfiguration.objects.create(policy_id=seen.policy_id.lower(), seen=NOW, requests_digest=_history_mark(seen),
                                         vms={vm_id("web-01").lower(): "22/TCP from 10.0.0.0/8+203.0.113.7 up to 1 h"})
    _store_policies([seen], NOW + timedelta(minutes=5))
    assert ArchivedConfiguration.objects.count() == 1
