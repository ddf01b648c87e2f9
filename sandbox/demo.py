"""The sandbox's well-known demo tenant, client and people. Safe to import anywhere: no side effects.

The client secret below guards nothing but the local sandbox; a real deployment takes its own from
the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TENANT_ID = "0c0ffee0-7a11-4e57-9b0c-5a4db0c5e7a1"
CLIENT_ID = "6a1c0de5-1a7e-4f0a-8c3b-9e2d5f7a4b10"
CLIENT_SECRET = "sandbox-demo-secret"
CLIENT_OBJECT_ID = "5e2c1a00-0000-4000-8000-0000000000c1"  # the portal's service principal: no Azure roles
DOMAIN = "contoso.test"
ARM_AUDIENCE = "https://management.azure.com"
# The portal's own API, exposed on its app registration: Entra v2 access tokens for it carry `aud` = the client id.
API_ID_URI = f"api://{CLIENT_ID}"
API_SCOPE = "access_as_user"
# The `jit` command's own registration: a public client (no secret), "Mobile and desktop applications" with the
# redirect URI http://localhost, "Allow public client flows" on (the device code needs it), and the delegated
# permission the portal's app exposes.
CLI_CLIENT_ID = "1e7c11a0-d0c5-4c1e-9a2b-3c4d5e6f7a80"
CLI_SCOPE = f"{API_ID_URI}/{API_SCOPE}"
MONITOR_AUDIENCE = "https://monitor.azure.com"  # Logs Ingestion's tokens
# The Logs Ingestion API's data collection rule (its immutableId) and stream; the audit reader holds Monitoring
# Metrics Publisher on it, as Azure wants of whoever uploads.
INGESTION_RULE_ID = "dcr-6a1f0c2e9b7d4e3f8a5b2c1d0e9f8a7b"
INGESTION_STREAM = "Custom-JitPortalAudit_CL"
DEFAULT_PORT = 8443


@dataclass(frozen=True)
class Person:
    key: str
    display_name: str
    object_id: str
    app_roles: tuple[str, ...]
    summary: str
    # (role name, scope) pairs; scope "{sub:KEY}" or "{sub:KEY}/resourceGroups/NAME", resolved by the fleet.
    assignments: tuple[tuple[str, str], ...] = field(default=())

    @property
    def username(self) -> str:
        return f"{self.key}@{DOMAIN}"


PEOPLE: tuple[Person, ...] = (
    Person(
        "alice",
        "Alice Archer",
        "a11ce000-0000-4000-8000-000000000001",
        ("JIT.Requester",),
        "Developer: may request access on Production and Development",
        (
            ("Reader", "{sub:prod}"),
            ("JIT VM Access Requester", "{sub:prod}"),
            ("Reader", "{sub:dev}"),
            ("JIT VM Access Requester", "{sub:dev}"),
        ),
    ),
    Person(
        "bob",
        "Bob Brennan",
        "b0b00000-0000-4000-8000-000000000002",
        ("JIT.Admin",),
        "Admin: Security Admin, Virtual Machine Contributor and Reader on every subscription; Network Contributor on "
        "Production",
        tuple(
            (role, f"{{sub:{s}}}")
            for s in ("prod", "dev", "shared", "legacy")
            for role in ("Security Admin", "Virtual Machine Contributor", "Reader")
        )
        + (("Network Contributor", "{sub:prod}"),),
    ),
    Person(
        "carol",
        "Carol Chen",
        "ca201000-0000-4000-8000-000000000003",
        ("JIT.Auditor",),
        "Auditor: Reader on every subscription",
        tuple(("Reader", f"{{sub:{s}}}") for s in ("prod", "dev", "shared", "legacy")),
    ),
    Person(
        "dave",
        "Dave Dunn",
        "da7e0000-0000-4000-8000-000000000004",
        ("JIT.Requester",),
        "Developer role in the portal, but no rights in Azure",
    ),
    Person(
        "erin",
        "Erin Evans",
        "e2140000-0000-4000-8000-000000000005",
        (),
        "Signed in with no portal role (Reader on Shared services)",
        (("Reader", "{sub:shared}"),),
    ),
    Person(
        "frank",
        "Frank Fischer",
        "f2a40000-0000-4000-8000-000000000006",
        ("JIT.Admin",),
        "Admin role in the portal, but only Reader in Azure (cannot write)",
        tuple(("Reader", f"{{sub:{s}}}") for s in ("prod", "dev", "shared", "legacy")),
    ),
    Person(
        "grace",
        "Grace Green",
        "62ace000-0000-4000-8000-000000000007",
        ("JIT.Auditor",),
        "Auditor: Reader on Production and Development and on rg-shared of Shared services; on Legacy apps only "
        "JIT VM Access Requester (no Activity Log, no virtual networks)",
        (
            ("Reader", "{sub:prod}"),
            ("Reader", "{sub:dev}"),
            ("Reader", "{sub:shared}/resourceGroups/rg-shared"),
            ("JIT VM Access Requester", "{sub:legacy}"),
        ),
    ),
    Person(
        "hana",
        "Hana Hill",
        "4a4a0000-0000-4000-8000-000000000008",
        ("JIT.Approver",),
        "Approver: decides on Production and Shared services requests; Reader and JIT VM Access Requester on both",
        (
            ("Reader", "{sub:prod}"),
            ("JIT VM Access Requester", "{sub:prod}"),
            ("Reader", "{sub:shared}"),
            ("JIT VM Access Requester", "{sub:shared}"),
        ),
    ),
)


@dataclass(frozen=True)
class Group:
    """An Entra ID security group: Azure roles assigned to it hold for each member."""

    key: str
    display_name: str
    object_id: str
    members: tuple[str, ...]  # people's keys
    summary: str
    assignments: tuple[tuple[str, str], ...] = field(default=())


GROUPS: tuple[Group, ...] = (
    Group(
        "oncall",
        "JIT on-call",
        "0c0ca110-0000-4000-8000-0000000000b1",
        ("alice",),
        "On-call developers: JIT VM Access Requester on Development",
        (("JIT VM Access Requester", "{sub:dev}"),),
    ),
)


def person(key: str) -> Person:
    return next(p for p in PEOPLE if p.key == key)


@dataclass(frozen=True)
class App:
    """A service principal that signs in as itself (client credentials), with its own role assignments."""

    key: str
    display_name: str
    client_id: str
    object_id: str
    secret: str
    summary: str
    assignments: tuple[tuple[str, str], ...] = field(default=())


APPS: tuple[App, ...] = (
    App(
        "portal",
        "jitportal",
        CLIENT_ID,
        CLIENT_OBJECT_ID,
        CLIENT_SECRET,
        "The portal itself (also signs in with the demo certificate); no Azure roles",
    ),
    App(
        "audit-reader",
        "jitportal audit reader",
        "7eade200-5a7e-4b1d-9c0f-3d4e5f6a7b20",
        "7eade200-0000-4000-8000-0000000000a2",
        "sandbox-audit-reader-secret",
        "Read-only identity for the audit archive: Reader on every subscription",
        tuple(("Reader", f"{{sub:{s}}}") for s in ("prod", "dev", "shared", "legacy")),
    ),
)


def app(client_id: str) -> App | None:
    return next((a for a in APPS if a.client_id == client_id), None)


@dataclass(frozen=True)
class PublicClient:
    """An app registration that holds no secret (a command on people's machines): it signs people in with the
    authorization code and PKCE on a loopback redirect, or with a device code when public client flows are on."""

    key: str
    display_name: str
    client_id: str
    summary: str
    scopes: tuple[str, ...]  # the delegated permissions it was granted (consented for the tenant)


PUBLIC_CLIENTS: tuple[PublicClient, ...] = (
    PublicClient(
        "jit-cli",
        "jit command",
        CLI_CLIENT_ID,
        "The jit command: public client, redirect http://localhost, public client flows allowed",
        (CLI_SCOPE,),
    ),
)


def public_client(client_id: str) -> PublicClient | None:
    return next((c for c in PUBLIC_CLIENTS if c.client_id == client_id), None)
