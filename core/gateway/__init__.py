"""The Azure gateway: the only code that imports `azure.*` or `msal`.

Functions take the signed-in person's session (where their token cache lives) and plain values,
return frozen dataclasses, and raise GatewayError subclasses — or SignInRequired, which is not one.
"""

from .activity import jit_activity_since
from .app_identity import AppCredential, app_reader
from .auth import UserCredential, api_session, begin_sign_in, complete_sign_in, latest_app_roles, sign_out_url
from .bearer import ApiCaller, BearerRefused, authenticate
from .clients import parallel
from .errors import (
    AccessDenied,
    Conflict,
    GatewayError,
    InteractionRequired,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    SignInFailed,
    SignInRequired,
    Throttled,
    Unavailable,
)
from .fleet import STILL_LOADING, FleetLoad, Part, load_fleet
from .ids import (
    RESOURCE_GROUP,
    SUBSCRIPTION_ID,
    PolicyRef,
    RuleRef,
    parse_policy_id,
    parse_rule_id,
    parse_vm_id,
    subscription_of,
)
from .ingestion import upload_logs
from .initiate import initiate
from .permissions import UNKNOWN, Permissions, read_permissions
from .policies import delete_policy, list_policies_at, list_policies_in, list_policies_with, put_policy
from .roles import Holder, RoleAssignment, RoleCatalog, RoleDefinition, read_role_catalog, try_role_catalog
from .security_rules import delete_security_rule, read_security_group, read_security_rule
from .subscriptions import list_subscriptions, list_subscriptions_with, subscriptions_and_clock
from .types import (
    ActivityEvent,
    ActivityTail,
    FleetFailure,
    GrantPort,
    GrantResult,
    JitPolicy,
    JitRequest,
    PolicyVm,
    PortRule,
    RequestPort,
    RequestVm,
    SignedIn,
    Subscription,
    SubscriptionFleet,
    VmFacts,
)

__all__ = [
    "AccessDenied",
    "Conflict",
    "GatewayError",
    "InvalidRequest",
    "NotFound",
    "OutcomeUnknown",
    "SignInFailed",
    "SignInRequired",
    "SignedIn",
    "Subscription",
    "Throttled",
    "Unavailable",
    "begin_sign_in",
    "complete_sign_in",
    "latest_app_roles",
    "list_subscriptions",
    "sign_out_url",
    "load_fleet",
    "FleetFailure",
    "JitPolicy",
    "JitRequest",
    "PortRule",
    "SubscriptionFleet",
    "VmFacts",
    "PolicyRef",
    "PolicyVm",
    "parse_policy_id",
    "parse_vm_id",
    "delete_policy",
    "list_policies_at",
    "put_policy",
    "initiate",
    "GrantPort",
    "GrantResult",
    "ActivityEvent",
    "Permissions",
    "UNKNOWN",
    "FleetLoad",
    "Part",
    "jit_activity_since",
    "ActivityTail",
    "AppCredential",
    "app_reader",
    "UserCredential",
    "list_policies_with",
    "list_subscriptions_with",
    "list_policies_in",
    "upload_logs",
    "RESOURCE_GROUP",
    "SUBSCRIPTION_ID",
    "subscription_of",
    "RequestPort",
    "RequestVm",
    "STILL_LOADING",
    "parallel",
    "read_permissions",
    "Holder",
    "RoleAssignment",
    "RoleCatalog",
    "RoleDefinition",
    "read_role_catalog",
    "try_role_catalog",
    "ApiCaller",
    "BearerRefused",
    "InteractionRequired",
    "api_session",
    "authenticate",
    "RuleRef",
    "parse_rule_id",
    "subscriptions_and_clock",
    "delete_security_rule",
    "read_security_rule",
    "read_security_group",
]
