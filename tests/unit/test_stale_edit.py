"""A stale edit: what changed, in words, and the person's own changes kept where nobody else touched."""

from __future__ import annotations

from datetime import timedelta

from core.gateway import PortRule
from vms.snapshots import changes, keep_mine, port_data


def rule(number: int, hours: int = 3) -> PortRule:
    return PortRule(number, "*", ("*",), timedelta(hours=hours))


def shown(*rules: PortRule) -> dict:
    return {"policy": "default", "ports": port_data(rules)}


WEB03 = "/subscriptions/s/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/web-03"


def test_it_says_who_added_removed_or_changed_which_port_on_which_vm():
    before = {WEB03: shown(rule(22), rule(3389))}
    after = {WEB03: shown(rule(22, 1), rule(2222))}
    assert changes(before, after) == [
        "Someone added port 2222 to web-03 (2222/Any from per request up to 3 h)",
        "Someone removed port 3389 from web-03",
        "Someone changed port 22 on web-03: now 22/Any from per request up to 1 h",
    ]
    assert changes(before, {}) == ["Someone removed JIT from web-03"]


def test_it_keeps_my_changes_on_ports_nobody_else_touched_and_theirs_elsewhere():
    opened = shown(rule(22), rule(3389), rule(5985))
    mine = (rule(22, 2), rule(3389), rule(8443))  # 22 shortened, 5985 dropped, 8443 added
    now = (rule(22, 1), rule(3389, 1), rule(5985))  # someone shortened 22 and 3389
    assert keep_mine(opened, mine, now) == (rule(22, 1), rule(3389, 1), rule(8443))


def test_a_change_of_words_changes_nothing_that_counts_as_a_change():
    """Snapshots are compared as data: the same ports read twice are no change, whatever the words say."""
    ports = (PortRule(22, "TCP", ("10.0.0.0/8", "10.1.0.0/16"), timedelta(minutes=90)),)
    assert changes({WEB03: shown(*ports)}, {WEB03: shown(*ports)}) == []
    assert shown(*ports)["ports"] == [
        {"port": 22, "protocol": "TCP", "sources": ["10.0.0.0/8", "10.1.0.0/16"], "max": "PT1H30M"}
    ]


def test_a_form_opened_before_any_port_existed_keeps_every_port_i_add():
    assert keep_mine(None, (rule(22), rule(2222)), ()) == (rule(22), rule(2222))
