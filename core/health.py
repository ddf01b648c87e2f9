"""Health probes for load balancers: no sign-in, no detail (a status code and a fixed short body).

/healthz: the process answers (no database, so a database outage does not restart every instance).
/readyz: the database, the cache and the sign-in authority's OpenID metadata all answer; a load balancer
sends no one to an instance that cannot sign them in or save their request. /readyz?detail, to loopback and
HEALTH_DETAIL_FROM only, says each check and the audit stream's lag as JSON, for operators.

They are answered by a middleware, before anything looks at the Host header or the scheme: a load balancer
probes an instance at its own address (not in ALLOWED_HOSTS) and often over plain HTTP (which
SECURE_SSL_REDIRECT would redirect).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)
PROBE_SECONDS = 3  # a load balancer's probe times out in a few seconds; answer before it does


def _answer(ok: bool) -> HttpResponse:
    return HttpResponse("ok\n" if ok else "unavailable\n", status=200 if ok else 503, content_type="text/plain")


def healthz() -> HttpResponse:
    return _answer(True)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", 1, timeout=10)
    if cache.get("readyz") != 1:
        raise RuntimeError("the cache did not keep a value")


def _authority() -> None:
    session = requests.Session()
    session.trust_env = False  # the portal's own CA setting decides, as for MSAL
    answer = session.get(
        f"{settings.AZURE_AUTHORITY.rstrip('/')}/v2.0/.well-known/openid-configuration",
        verify=settings.AZURE_CA_BUNDLE or True,
        timeout=PROBE_SECONDS,
    )
    answer.raise_for_status()


def _checks(every: bool) -> dict[str, bool]:
    """Each probe's result, stopping at the first failure unless `every` (the detail shows them all)."""
    found = {}
    for name, probe in (("database", _database), ("cache", _cache), ("authority", _authority)):
        try:
            probe()
            found[name] = True
        except Exception:  # any failure means not ready; the reason goes to the log, never to the caller
            log.warning("not ready: the %s did not answer", name, exc_info=True)
            found[name] = False
            if not every:
                break
    return found


def readyz() -> HttpResponse:
    return _answer(all(_checks(every=False).values()))


def readyz_detail() -> HttpResponse:
    """For operators (loopback, or HEALTH_DETAIL_FROM): each check, and what HEALTH_DETAILS add (the audit
    stream's lag per sink), as JSON; the status code is readyz's."""
    checks = _checks(every=True)
    body: dict = {"ready": all(checks.values()), "checks": {k: "ok" if v else "failed" for k, v in checks.items()}}
    for path in settings.HEALTH_DETAILS:
        try:
            body.update(import_string(path)())
        except Exception:
            log.warning("readyz detail %s failed", path, exc_info=True)
            body[path] = "failed"
    return JsonResponse(body, status=200 if body["ready"] else 503)


def _may_see_detail(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return address.is_loopback or any(
        address in ipaddress.ip_network(n, strict=False) for n in settings.HEALTH_DETAIL_FROM
    )


PROBES: dict[str, Callable[[], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


def probes(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponseNotAllowed(["GET", "HEAD"])
        elif probe is readyz and "detail" in request.GET and _may_see_detail(request):
            response = readyz_detail()
        else:
            response = probe()
        add_never_cache_headers(response)
        return response

    return middleware
