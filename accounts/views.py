"""Sign-in and sign-out with the authority (Entra ID or the sandbox), through the gateway."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from core import gateway
from core.actor import actor_of
from core.navigation import safe_next
from trail.chain import record

from .actions import do_sign_in
from .middleware import SIGNED_IN_AT

NEXT_KEY = "accounts.next"


def _redirect_uri(request: HttpRequest) -> str:
    return settings.AZURE_REDIRECT_URI or request.build_absolute_uri(reverse("accounts-callback"))


@require_safe
def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.GET.get("next"))
    if request.user.is_authenticated and not request.GET.get("expired"):
        return HttpResponseRedirect(next_url)
    try:
        auth_uri = gateway.begin_sign_in(request.session, _redirect_uri(request))
    except gateway.SignInFailed as exc:
        return render(request, "accounts/sign_in_failed.html", {"reason": exc.message, "next": next_url}, status=502)
    request.session[NEXT_KEY] = next_url
    return HttpResponseRedirect(auth_uri)


@require_safe
def callback(request: HttpRequest) -> HttpResponse:
    next_url = request.session.get(NEXT_KEY) or reverse("home")
    try:
        user = do_sign_in(request.session, request.GET.dict())
    except gateway.SignInFailed as exc:
        record(actor_of(request), "sign-in", "", "failed", details={"reason": exc.message})
        return render(request, "accounts/sign_in_failed.html", {"reason": exc.message, "next": next_url}, status=400)
    cache = {k: request.session[k] for k in request.session.keys() if k.startswith("gateway.")}
    login(request, user)
    request.session.update(cache)  # login() may flush the session when another user was signed in here
    request.session[SIGNED_IN_AT] = time.time()
    record(
        actor_of(request),
        "sign-in",
        user.upn,
        "succeeded",
        details={"roles": sorted(user.groups.values_list("name", flat=True))},
    )
    return HttpResponseRedirect(next_url)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    record(actor_of(request), "sign-out", getattr(request.user, "upn", ""), "succeeded")
    logout(request)
    return HttpResponseRedirect(gateway.sign_out_url(request.build_absolute_uri(reverse("accounts-signed-out"))))


@require_safe
def signed_out(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signed_out.html")
