"""The portal's app roles (from the ID token's `roles` claim) and the one place that checks them."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from .models import User

REQUESTER = "JIT.Requester"
ADMIN = "JIT.Admin"
AUDITOR = "JIT.Auditor"
APPROVER = "JIT.Approver"
ALL = (REQUESTER, ADMIN, AUDITOR, APPROVER)


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_portal_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ALL).values_list("name", flat=True))
        user._portal_roles = cached
    return cached


def require_role(user, *allowed: str) -> None:
    """Refuse unless the signed-in person holds one of `allowed` (any portal role when none given)."""
    held = roles_of(user)
    if not (held & set(allowed or ALL)):
        # Named, since the API and the jit command show it as is ("this page" meant nothing in a terminal).
        needed = " or ".join(r for r in ALL if r in set(allowed or ALL))
        raise PermissionDenied(f"This needs the portal role {needed}; yours: {', '.join(sorted(held)) or 'none'}.")


@transaction.atomic
def sync_roles(user: User, app_roles: tuple[str, ...]) -> None:
    """Make the user's groups exactly the portal roles Entra ID gave at this sign-in."""
    wanted = [Group.objects.get_or_create(name=name)[0] for name in ALL if name in app_roles]
    user.groups.remove(*user.groups.filter(name__in=ALL).exclude(name__in=app_roles))
    user.groups.add(*wanted)
    user._portal_roles = None
