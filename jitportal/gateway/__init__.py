"""The Azure gateway: the only code that imports `azure.*` or `msal`.

Functions take the signed-in person's session (where their token cache lives) and plain values,
return frozen dataclasses, and raise GatewayError subclasses — or SignInRequired, which is not one.
"""

from .access import initiate
from .activity import list_jit_activity
from .auth import begin_sign_in, complete_sign_in, sign_out_url
from .errors import (
    AccessDenied,
    Conflict,
    GatewayError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    SignInFailed,
    SignInRequired,
    Throttled,
    Unavailable,
)
from .fleet import load_fleet
from .ids import PolicyRef, parse_policy_id, parse_vm_id
from .policies import delete_policy, list_policies, list_policies_at, put_policy
from .subscriptions import list_subscriptions
from .types import (
    ActivityEvent,
    ActivityPage,
    Fleet,
    FleetFailure,
    GrantPort,
    GrantResult,
    JitPolicy,
    JitRequest,
    PolicyVm,
    PortRule,
    SignedIn,
    Subscription,
    SubscriptionFleet,
    VmFacts,
)

__all__ = [
    "AccessDenied", "Conflict", "GatewayError", "InvalidRequest", "NotFound", "OutcomeUnknown", "SignInFailed", "SignInRequired",
    "SignedIn", "Subscription", "Throttled", "Unavailable", "begin_sign_in", "complete_sign_in",
    "list_subscriptions", "sign_out_url", "load_fleet", "Fleet", "FleetFailure", "JitPolicy", "JitRequest",
    "PortRule", "SubscriptionFleet", "VmFacts", "PolicyRef", "PolicyVm", "parse_policy_id", "parse_vm_id",
    "delete_policy", "list_policies", "list_policies_at", "put_policy", "initiate", "GrantPort", "GrantResult",
    "list_jit_activity", "ActivityEvent", "ActivityPage",
]
