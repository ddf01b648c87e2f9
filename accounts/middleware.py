"""Send the person to sign in again (and back to the same page) when Azure wants a fresh sign-in,
and show any other Azure refusal a view let through as a page in words."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from jitportal.gateway import AccessDenied, GatewayError, SignInRequired


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
        # Only a GET can be replayed safely after signing in; a POST returns to the page it came from.
        back = request.get_full_path() if request.method == "GET" else request.headers.get("Referer", "/")
        logout(request)
        return HttpResponseRedirect(f"{reverse('accounts-sign-in')}?{urlencode({'next': back, 'expired': '1'})}")
