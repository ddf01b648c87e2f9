"""Domain steps of signing in: redeem the code, keep the person, map their roles."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django.db import transaction

from core import gateway

from .models import User
from .roles import ALL, roles_of, sync_roles


def do_sign_in(session: MutableMapping[str, Any], query: dict[str, str]) -> User:
    signed_in = gateway.complete_sign_in(session, query)
    return keep_person(
        signed_in.tenant_id, signed_in.object_id, signed_in.username, signed_in.display_name, signed_in.app_roles
    )


def keep_person(tenant_id: str, object_id: str, username: str, display_name: str, app_roles: tuple[str, ...]) -> User:
    """The person a sign-in or an API token names (keyed by tenant and object id), with the roles it carries."""
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            tenant_id=tenant_id,
            object_id=object_id,
            defaults={"username": f"{tenant_id}/{object_id}"},
        )
        if created or (user.upn, user.display_name) != (username, display_name):
            user.upn = username
            user.display_name = display_name
            user.email = username if "@" in username else ""
            if created:
                # Only once: a new unusable password would change the session hash and sign the person
                # out of every other browser.
                user.set_unusable_password()
            user.save()
        if created or roles_of(user) != set(app_roles) & set(ALL):
            sync_roles(user, app_roles)
    return user


def ensure_demo_people(people: list[list]) -> None:
    """`make serve`'s demo people (tenant id, object id, username, display name, app roles), kept as a first sign-in
    would keep them. The portal judges approval rules only by people it knows: before Hana and Bob had signed in,
    Alice's request form on Production named them by bare object id and said nobody could decide there."""
    for tenant_id, object_id, username, display_name, app_roles in people:
        keep_person(tenant_id, object_id, username, display_name, tuple(app_roles))
