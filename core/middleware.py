"""Headers on every answer: a strict Content-Security-Policy (the portal serves its own CSS and JS and nothing
inline), and no caching of anything signed in; and the portal's own 404 page under DEBUG too."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404
from django.views.defaults import page_not_found

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


class StyledNotFound:
    """A 404 is the portal's own page under DEBUG too (`make serve` runs with DJANGO_DEBUG=1): Django's technical
    404 lists every URL pattern, and is not what a person trying the portal should meet. Without DEBUG Django
    already answers with templates/404.html; this does the same for the two ways a 404 starts under DEBUG."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No view was found for the path (a view that ran leaves its resolver_match on the request).
        if settings.DEBUG and response.status_code == 404 and getattr(request, "resolver_match", None) is None:
            return page_not_found(request, Resolver404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG and isinstance(exception, Http404):  # a view said there is no such thing
            return page_not_found(request, exception)
        return None


def nul_as_replacement_character(get_response: Callable[[HttpRequest], HttpResponse]):
    """PostgreSQL cannot store a NUL character (in text or JSON), so a query or form value carrying one failed
    deep in a view (a filter, the trail's details) with a 500. No one types one: it becomes U+FFFD, as Django
    already decodes bytes that are not UTF-8, and the views ignore it with a message like any other bad value."""
    from django.http import QueryDict

    def cleaned(data: QueryDict) -> QueryDict:
        fixed = QueryDict(mutable=True)
        for key, values in data.lists():
            fixed.setlist(key.replace("\x00", "\ufffd"), [value.replace("\x00", "\ufffd") for value in values])
        fixed._mutable = False
        return fixed

    def has_nul(data: QueryDict) -> bool:
        return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())

    def middleware(request: HttpRequest) -> HttpResponse:
        if has_nul(request.GET):
            request.GET = cleaned(request.GET)
        if request.method == "POST" and has_nul(request.POST):
            request.POST = cleaned(request.POST)
        return get_response(request)

    return middleware
