"""Send the person to sign in again (and back to the same page) when Azure wants a fresh sign-in or the
session has lived its absolute lifetime, keep their groups equal to their latest app roles, and show
any other Azure refusal a view let through as a page in words."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from core import gateway
from core.gateway import AccessDenied, GatewayError, SignInRequired

from . import roles

SIGNED_IN_AT = "accounts.signed_in_at"


class SignInRequiredMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, GatewayError):
            # A view that did not handle Azure's refusal itself still says it in words, never a 500.
            status = 403 if isinstance(exception, AccessDenied) else 502
            return render(request, "azure_error.html", {"message": exception.message}, status=status)
        if not isinstance(exception, SignInRequired):
            return None
        return sign_in_again(request)


def sign_in_again(request: HttpRequest) -> HttpResponse:
    """Sign the person out and send them to sign in, then back."""
    # Only a GET can be replayed safely after signing in; a POST returns to the page it came from.
    back = request.get_full_path() if request.method == "GET" else request.headers.get("Referer", "/")
    logout(request)
    return HttpResponseRedirect(f"{reverse('accounts-sign-in')}?{urlencode({'next': back, 'expired': '1'})}")


class SessionPolicyMiddleware:
    """A session ends SESSION_ABSOLUTE_SECONDS after its sign-in however active it is, and the person's
    groups follow the app roles of their latest ID token, which every token refresh brings anew."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated or request.path_info.startswith(settings.API_PATH):
            # The API answers its bearer token's person: a cookie sent along neither signs anyone out nor has its
            # roles rewritten there.
            return self.get_response(request)
        # A session from before this rule counts from the first time it is seen.
        signed_in_at = request.session.setdefault(SIGNED_IN_AT, time.time())
        if time.time() - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS:
            return sign_in_again(request)
        _sync_roles(request)
        response = self.get_response(request)
        if request.user.is_authenticated and _sync_roles(request) and request.method in ("GET", "HEAD"):
            # A refresh during this page took a role away: the page was made with it, so load it again.
            return HttpResponseRedirect(request.get_full_path())
        return response


def _sync_roles(request: HttpRequest) -> bool:
    """Make the groups the latest token's roles; True when a role was taken away."""
    fresh = gateway.latest_app_roles(request.session)
    held = roles.roles_of(request.user)
    if fresh is None or held == fresh & set(roles.ALL):
        return False
    roles.sync_roles(request.user, tuple(fresh))
    return bool(held - fresh)
