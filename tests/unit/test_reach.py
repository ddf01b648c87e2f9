"""The NSG evaluator and the health states, table by table, including Microsoft's documented examples
("How network security groups filter network traffic": VM1–VM4; "Network security groups": priority and
first match; "Virtual network service tags")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.gateway.types import SecurityGroup, SecurityRule
from vms import verdicts
from vms.reach import ALL, Network, Target, cidr, network_of, reaches, union
from vms.verdicts import Judge

VNET = network_of(["10.0.0.0/16"], {"/asg/web": ["10.0.1.4"], "/asg/admin": ["10.0.2.9"]})
VM = "10.0.1.4"


def rule(
    name: str,
    priority: int,
    access: str = "Allow",
    source: str | tuple = "*",
    port: str | tuple = "*",
    protocol: str = "*",
    destination: str | tuple = "*",
    source_asgs: tuple = (),
    destination_asgs: tuple = (),
) -> SecurityRule:
    return SecurityRule(
        name,
        f"/nsg/rules/{name}",
        priority,
        access,
        protocol,
        _many(source),
        source_asgs,
        _many(destination),
        destination_asgs,
        _many(port),
    )


def _many(value: str | tuple) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def nsg(name: str, *rules: SecurityRule) -> SecurityGroup:
    return SecurityGroup(
        f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}",
        name,
        tuple(sorted(rules, key=lambda r: r.priority)),
    )


def reached(subnet, nic, port=22, address=VM, asgs=frozenset(), network=VNET):
    """What reaches the port, as {source set: (subnet rule name, NIC rule name)}; "-" where no NSG sits."""
    found = reaches(subnet, nic, Target(address, frozenset(asgs), port), network)
    return {
        p.sources: ((p.subnet_rule.name if p.subnet_rule else "-"), (p.nic_rule.name if p.nic_rule else "-"))
        for p in found
    }


def passes(subnet, nic, source: str, **kwargs) -> bool:
    found = reaches(
        subnet,
        nic,
        Target(kwargs.pop("address", VM), frozenset(kwargs.pop("asgs", ())), kwargs.pop("port", 22)),
        kwargs.pop("network", VNET),
    )
    address = cidr(source)[0][0]
    return any(lo <= address <= hi for p in found for lo, hi in p.sources)


INTERNET_IP, VNET_IP, OTHER_PRIVATE = "203.0.113.7", "10.0.3.3", "192.168.1.1"
ALLOW_80 = rule("allow-http", 100, port="80", protocol="Tcp")


@pytest.mark.parametrize(
    ("subnet", "nic", "port", "source", "expected"),
    [
        # Microsoft's VM1: an NSG on the subnet only decides; NSG1 allows 80, its default denies the rest from outside.
        (nsg("NSG1", ALLOW_80), None, 80, INTERNET_IP, True),
        (nsg("NSG1", ALLOW_80), None, 22, INTERNET_IP, False),
        # VM2: subnet NSG1 and NIC NSG2: both must allow; NSG2 with only defaults denies 80 from outside.
        (nsg("NSG1", ALLOW_80), nsg("NSG2"), 80, INTERNET_IP, False),
        (nsg("NSG1", ALLOW_80), nsg("NSG2", ALLOW_80), 80, INTERNET_IP, True),
        # VM3: no subnet NSG, NIC NSG2 allows 80.
        (None, nsg("NSG2", ALLOW_80), 80, INTERNET_IP, True),
        # VM4: no NSG anywhere: all traffic is allowed.
        (None, None, 22, INTERNET_IP, True),
        # The default rules: AllowVnetInBound lets the virtual network in, not other private ranges; DenyAllInBound the rest.
        (nsg("n"), None, 22, VNET_IP, True),
        (nsg("n"), None, 22, OTHER_PRIVATE, False),
        (nsg("n"), None, 22, "168.63.129.16", True),  # AllowAzureLoadBalancerInBound
        # Priority order, first match wins: a deny at 100 beats an allow at 200, and the other way round.
        (nsg("n", rule("deny", 100, "Deny", port="22"), rule("allow", 200, port="22")), None, 22, INTERNET_IP, False),
        (nsg("n", rule("allow", 100, port="22"), rule("deny", 200, "Deny", port="22")), None, 22, INTERNET_IP, True),
        # Ports: a range, a list, another port.
        (nsg("n", rule("r", 100, port="20-25")), None, 22, INTERNET_IP, True),
        (nsg("n", rule("r", 100, port=("21", "3389"))), None, 22, INTERNET_IP, False),
        (nsg("n", rule("r", 100, port=("21", "3389"))), None, 3389, INTERNET_IP, True),
        # Protocols: Udp lets UDP in (still a passage), Icmp never a port's traffic.
        (nsg("n", rule("r", 100, port="22", protocol="Udp")), None, 22, INTERNET_IP, True),
        (nsg("n", rule("r", 100, port="22", protocol="Icmp")), None, 22, INTERNET_IP, False),
        # Sources: prefixes, lists, service tags.
        (nsg("n", rule("r", 100, source="198.51.100.0/24")), None, 22, "198.51.100.9", True),
        (nsg("n", rule("r", 100, source="198.51.100.0/24")), None, 22, INTERNET_IP, False),
        (nsg("n", rule("r", 100, source=("198.51.100.0/24", "203.0.113.0/24"))), None, 22, INTERNET_IP, True),
        (nsg("n", rule("r", 100, source="Internet")), None, 22, INTERNET_IP, True),
        (nsg("n", rule("deny-vnet", 100, "Deny", source="VirtualNetwork")), None, 22, VNET_IP, False),
        # Destinations: the VM's address or prefix, another address, an ASG on the NIC or not.
        (nsg("n", rule("r", 100, destination=VM)), None, 22, INTERNET_IP, True),
        (nsg("n", rule("r", 100, destination="10.0.1.0/24")), None, 22, INTERNET_IP, True),
        (nsg("n", rule("r", 100, destination="10.0.9.9")), None, 22, INTERNET_IP, False),
        (nsg("n", rule("r", 100, destination="Internet")), None, 22, INTERNET_IP, False),
    ],
)
def test_it_judges_traffic_as_azure_documents(subnet, nic, port, source, expected):
    assert passes(subnet, nic, source, port=port) is expected


def test_it_matches_application_security_groups_on_the_nic_and_as_sources():
    group = nsg(
        "n", rule("web-from-admin", 100, port="22", source_asgs=("/asg/admin",), destination_asgs=("/asg/web",))
    )
    assert passes(group, None, "10.0.2.9", asgs={"/asg/web"})  # the admin ASG's NIC
    assert not passes(group, None, INTERNET_IP, asgs={"/asg/web"})
    # Not in the destination group: the rule does not apply, the defaults do (the admin NIC is in the VNet).
    assert reached(group, None, asgs=set()) == reached(nsg("n"), None)


def test_it_names_the_rule_at_each_level_that_let_sources_through():
    subnet = nsg("nsg-subnet", rule("allow-ssh", 300, port="22", source="Internet"))
    nic = nsg("nsg-nic", rule("ssh-office", 200, port="22", source="198.51.100.0/24"))
    found = reached(subnet, nic)
    assert found[cidr("198.51.100.0/24")] == ("allow-ssh", "ssh-office")
    assert ("AllowVnetInBound", "AllowVnetInBound") in found.values()
    assert all(names != ("allow-ssh", "AllowVnetInBound") for names in found.values())  # Internet ∩ VNet is empty


def test_it_adds_azure_default_rules_when_a_listing_leaves_them_out():
    assert reached(nsg("n"), None) == {
        VNET.vnet: ("AllowVnetInBound", "-"),
        cidr("168.63.129.16"): ("AllowAzureLoadBalancerInBound", "-"),
    }
    assert reached(None, None) == {ALL: ("-", "-")}


def test_it_keeps_other_service_tags_apart_from_every_prefix_and_inside_the_internet():
    network = Network(VNET.vnet)
    storage = network.prefix("Storage.WestEurope")
    assert storage and not (set(storage) & set(network.prefix("10.0.0.0/8")))
    assert union(network.internet, storage) == network.internet


# --- the health states --------------------------------------------------------------------------------------------
JIT_DENY = rule("SecurityCenter-JITRule_123_ABC", 4000, "Deny", port=("22", "3389"), destination=VM)
JIT_ALLOW = rule("SecurityCenter-JITRule-123-22", 100, source="203.0.113.7", port="22", destination=VM)
UNTIL = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
judge = Judge(VNET, limit_v4=24)


@pytest.mark.parametrize(
    ("rules", "open_now", "state", "severity", "words"),
    [
        ((JIT_DENY,), {}, verdicts.PROTECTED, "", "JIT's deny rule is in force"),
        ((JIT_DENY, JIT_ALLOW), {22: ("alice@contoso.test", UNTIL)}, verdicts.OPEN, "", "alice@contoso.test until"),
        ((JIT_DENY, JIT_ALLOW), {}, verdicts.LEFTOVER, "", "SecurityCenter-JITRule-123-22 still allows it"),
        (
            (JIT_DENY, rule("allow-ssh", 300, source="Internet", port="22")),
            {},
            verdicts.BYPASSED,
            verdicts.CRITICAL,
            "allow-ssh, priority 300, from Internet, on nsg-web (NIC)",
        ),
        ((JIT_DENY, rule("allow-any", 300, port="22")), {}, verdicts.BYPASSED, verdicts.CRITICAL, "from Any"),
        (
            (JIT_DENY, rule("allow-all", 300, source="0.0.0.0/0", port="22")),
            {},
            verdicts.BYPASSED,
            verdicts.CRITICAL,
            "",
        ),
        (
            (JIT_DENY, rule("allow-wide", 300, source="198.0.0.0/8", port="22")),
            {},
            verdicts.BYPASSED,
            verdicts.HIGH,
            "",
        ),
        # Critical stays critical when an earlier rule (an open JIT request) took one address of the Internet.
        (
            (JIT_DENY, JIT_ALLOW, rule("allow-ssh", 300, source="Internet", port="22")),
            {22: ("bob", UNTIL)},
            verdicts.BYPASSED,
            verdicts.CRITICAL,
            "allow-ssh",
        ),
        (
            (JIT_DENY, rule("allow-corp", 300, source="10.0.0.0/16", port="22")),
            {},
            verdicts.BYPASSED,
            verdicts.HIGH,
            "",
        ),
        (
            (JIT_DENY, rule("allow-office", 300, source="198.51.100.0/28", port="22")),
            {},
            verdicts.BYPASSED,
            verdicts.NARROW,
            "allowed from 198.51.100.0/28 by allow-office",
        ),
        # An allow after JIT's deny (a higher number) is no bypass.
        ((JIT_DENY, rule("allow-late", 4090, source="Internet", port="22")), {}, verdicts.PROTECTED, "", ""),
        ((), {}, verdicts.MISSING, "", "open to the virtual network (AllowVnetInBound)"),
        (
            (rule("allow-ssh", 300, source="Internet", port="22"),),
            {},
            verdicts.MISSING,
            "",
            "open to the Internet by allow-ssh",
        ),
    ],
)
def test_it_gives_each_port_of_a_configured_vm_its_state(rules, open_now, state, severity, words):
    health = judge.configured(VM, frozenset(), (22,), None, nsg("nsg-web", *rules), open_now)
    (port,) = health.ports
    assert (port.state, port.severity) == (state, severity)
    assert words in port.detail
    assert health.state == state


def test_a_deny_rule_on_the_subnet_protects_a_vm_whose_nic_nsg_allows_ssh():
    health = judge.configured(
        VM,
        frozenset(),
        (22,),
        nsg("nsg-subnet", JIT_DENY),
        nsg("nsg-nic", rule("allow-ssh", 300, source="Internet", port="22")),
        {},
    )
    assert health.state == verdicts.PROTECTED


def test_a_bypass_on_both_levels_names_the_nic_rule():
    subnet = nsg("nsg-subnet", rule("allow-ssh-subnet", 200, source="Internet", port="22"), JIT_DENY)
    nic = nsg("nsg-nic", rule("allow-ssh", 300, source="Internet", port="22"), JIT_DENY)
    port = judge.configured(VM, frozenset(), (22,), subnet, nic, {}).ports[0]
    assert port.state == verdicts.BYPASSED and port.culprit.rule.name == "allow-ssh" and port.culprit.level == "NIC"


def test_the_worst_port_is_the_vms_state():
    nic = nsg("nsg-web", JIT_DENY, JIT_ALLOW, rule("allow-rdp", 300, source="Internet", port="3389"))
    health = judge.configured(VM, frozenset(), (22, 3389), None, nic, {22: ("bob", UNTIL)})
    assert [p.state for p in health.ports] == [verdicts.OPEN, verdicts.BYPASSED]
    assert (health.state, health.severity) == (verdicts.BYPASSED, verdicts.CRITICAL)
    assert health.summary.startswith("3389: allow-rdp, priority 300")


@pytest.mark.parametrize(
    ("rules", "state"),
    [
        ((), verdicts.CLOSED),
        ((rule("allow-rdp", 300, source="*", port="3389"),), verdicts.EXPOSED),
        ((rule("allow-ssh-vnet", 300, source="VirtualNetwork", port="22"),), verdicts.CLOSED),
        ((rule("allow-https", 300, source="*", port="443"),), verdicts.CLOSED),
    ],
)
def test_a_vm_without_jit_is_exposed_when_the_internet_reaches_a_management_port(rules, state):
    assert judge.unconfigured(VM, frozenset(), None, nsg("n", *rules)).state == state


def test_a_vm_without_any_nsg_is_exposed():
    health = judge.unconfigured(VM, frozenset(), None, None)
    assert health.state == verdicts.EXPOSED and "no NSG filters it" in health.summary
