"""A strict Content-Security-Policy: the portal serves its own CSS and JS and nothing inline."""

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
