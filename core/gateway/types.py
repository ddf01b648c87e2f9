"""Plain frozen values the gateway returns; nothing from the SDK leaves the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SignedIn:
    tenant_id: str
    object_id: str
    username: str
    display_name: str
    app_roles: tuple[str, ...]


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    display_name: str
    state: str


@dataclass(frozen=True)
class PortRule:
    number: int
    protocol: str  # "TCP", "UDP" or "*"
    allowed_prefixes: tuple[str, ...]  # ("*",) means "per request"
    max_duration: timedelta


@dataclass(frozen=True)
class PolicyVm:
    vm_id: str
    ports: tuple[PortRule, ...]
    public_ip: str = ""  # the Azure Firewall's address, when JIT reaches this VM through one


@dataclass(frozen=True)
class RequestPort:
    number: int
    source: str
    end: datetime
    status: str  # "Initiated" or "Revoked"
    reason: str  # "UserRequested", "Expired", "NewerRequestInitiated"
    mapped_port: int | None = None  # the firewall's port that leads to `number`, behind an Azure Firewall


@dataclass(frozen=True)
class RequestVm:
    vm_id: str
    ports: tuple[RequestPort, ...]


@dataclass(frozen=True)
class JitRequest:
    start: datetime
    requestor: str
    justification: str
    vms: tuple[RequestVm, ...]


@dataclass(frozen=True)
class JitPolicy:
    policy_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str
    vms: tuple[PolicyVm, ...]
    requests: tuple[JitRequest, ...]


@dataclass(frozen=True)
class VmFacts:
    vm_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str
    os_type: str
    power_state: str  # "running", "stopped", "deallocated", … or "unknown"
    nic_ids: tuple[str, ...]
    classic: bool = False
    admin_username: str = ""


@dataclass(frozen=True)
class NicFacts:
    nic_id: str
    private_ip: str
    public_ip_id: str
    subnet_id: str
    nsg_id: str
    asg_ids: tuple[str, ...] = ()  # the application security groups of its primary IP configuration


@dataclass(frozen=True)
class FirewallFacts:
    firewall_id: str
    name: str
    vnet_id: str
    managed_by_firewall_manager: bool


@dataclass(frozen=True)
class SubscriptionFleet:
    """What one subscription holds, as far as the signed-in person may read it."""

    subscription: Subscription
    vms: tuple[VmFacts, ...]
    nics: dict[str, NicFacts]  # by lower-case id
    subnet_nsgs: dict[str, str]  # subnet id (lower) → NSG id
    public_ips: dict[str, str]  # public IP id (lower) → address
    firewalls: tuple[FirewallFacts, ...]
    jit_plan_available: bool
    policies: tuple[JitPolicy, ...]
    # Network security groups by lower-case id; None when Azure would not list them (`nsgs_error` says why).
    nsgs: dict[str, SecurityGroup] | None = None
    nsgs_error: str = ""
    vnet_prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # VNet id (lower) → address space


@dataclass(frozen=True)
class FleetFailure:
    subscription: Subscription
    message: str


@dataclass(frozen=True)
class GrantPort:
    """One port of an access request as sent to Azure."""

    number: int
    source: str
    end: datetime


@dataclass(frozen=True)
class GrantResult:
    """What Azure answered to one initiate call."""

    opened: dict[str, tuple[tuple[int, datetime], ...]]  # VM id (lower) → (port, end) pairs Azure accepted
    correlation_id: str
    mapped: dict[str, dict[int, int]] = field(default_factory=dict)  # VM id (lower) → port → firewall port


@dataclass(frozen=True)
class ActivityEvent:
    """One JIT operation from Azure's Activity Log (its EndRequest event)."""

    event_id: str
    correlation_id: str
    operation: str  # e.g. Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action
    operation_name: str  # as Azure words it: "Initiate JIT Network Access Policy"
    status: str
    category: str
    level: str
    time: datetime
    subscription_id: str
    caller: str
    resource_type: str
    resource_group: str
    resource_id: str
    client_ip: str = ""  # httpRequest.clientIpAddress: where the call came from


@dataclass(frozen=True)
class ActivityTail:
    """A subscription's Activity Log from a start time to Azure's now (or why it could not be read)."""

    subscription: Subscription
    events: tuple[ActivityEvent, ...]
    azure_now: datetime | None
    error: str = ""


@dataclass(frozen=True)
class SecurityRule:
    """One inbound rule of a network security group, as ARM lists it (a default rule too)."""

    name: str
    rule_id: str
    priority: int
    access: str  # "Allow" or "Deny"
    protocol: str  # "Tcp", "Udp", "Icmp", "Esp", "Ah" or "*"
    sources: tuple[str, ...]  # prefixes and service tags, as written
    source_asgs: tuple[str, ...]  # application security group ids
    destinations: tuple[str, ...]
    destination_asgs: tuple[str, ...]
    ports: tuple[str, ...]  # "*", "22", "1000-2000"
    default: bool = False


@dataclass(frozen=True)
class SecurityGroup:
    """A network security group's inbound rules, its own and Azure's defaults, in priority order."""

    nsg_id: str
    name: str
    rules: tuple[SecurityRule, ...]
