"""Who acts: the signed-in person, the handle to their Azure credential, and the IP they act from.

Views build one `Actor` per request; domain actions and the audit trail take it, never the request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    user: Any  # accounts.User, or None before sign-in
    session: MutableMapping[str, Any]  # where the person's token cache lives: what the gateway signs in with
    ip: str  # the client's address through the trusted-proxy rule; "" when unknown
    channel: str = "web"  # the door the change came through, kept on the trail: web, api, cli (portal: a job)

    @property
    def user_pk(self) -> int | None:
        return self.user.pk if self.user is not None else None


def actor_of(request: HttpRequest) -> Actor:
    user = request.user if request.user.is_authenticated else None
    return Actor(user=user, session=request.session, ip=client_ip(request))


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind a proxy in TRUSTED_PROXIES, the nearest X-Forwarded-For hop that is not one."""
    address = request.META.get("REMOTE_ADDR", "")
    if not _trusted(address):
        return address
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address
    return address


# The portal itself (a management command, a background job): no person, no credential, no address.
PORTAL = Actor(user=None, session={}, ip="", channel="portal")
