"""Headers on every answer: a strict Content-Security-Policy (the portal serves its own CSS and JS and nothing
inline), and no caching of anything signed in."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self' {authority}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def content_security_policy(get_response: Callable[[HttpRequest], HttpResponse]):
    from urllib.parse import urlsplit

    from django.conf import settings

    authority = urlsplit(settings.AZURE_AUTHORITY)
    policy = POLICY.format(authority=f"{authority.scheme}://{authority.netloc}")

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    return middleware


def no_store_when_signed_in(get_response: Callable[[HttpRequest], HttpResponse]):
    """A signed-in page or a CSV holds someone's data: no browser or proxy cache may keep it."""
    from django.utils.cache import add_never_cache_headers

    def middleware(request: HttpRequest) -> HttpResponse:
        signed_in = request.user.is_authenticated  # before the view: sign-out ends the session
        response = get_response(request)
        if signed_in or response.get("Content-Type", "").startswith("text/csv"):
            add_never_cache_headers(response)
        return response

    return middleware
