from __future__ import annotations

from django.http import HttpRequest

from . import roles


def portal_roles(request: HttpRequest) -> dict:
    held = roles.roles_of(request.user) if hasattr(request, "user") else set()
    return {
        "portal_roles": sorted(held),
        "is_requester": roles.REQUESTER in held,
        "is_admin": roles.ADMIN in held,
        "is_auditor": roles.AUDITOR in held,
        "is_approver": roles.APPROVER in held,
    }
