"""Domain steps of signing in: redeem the code, keep the person, map their roles."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django.db import transaction

from core import gateway

from .models import User
from .roles import sync_roles


def do_sign_in(session: MutableMapping[str, Any], query: dict[str, str]) -> User:
    signed_in = gateway.complete_sign_in(session, query)
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            tenant_id=signed_in.tenant_id, object_id=signed_in.object_id,
            defaults={"username": f"{signed_in.tenant_id}/{signed_in.object_id}"},
        )
        user.upn = signed_in.username
        user.display_name = signed_in.display_name
        user.email = signed_in.username if "@" in signed_in.username else ""
        if created:
            # Only once: a new unusable password would change the session hash and sign the person
            # out of every other browser.
            user.set_unusable_password()
        user.save()
        sync_roles(user, signed_in.app_roles)
    return user
