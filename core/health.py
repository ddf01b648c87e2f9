"""Health probes for load balancers: no sign-in, no detail (a status code and a fixed short body).

/healthz: the process answers (no database, so a database outage does not restart every instance).
/readyz: the database, the cache and the sign-in authority's OpenID metadata all answer; a load balancer
sends no one to an instance that cannot sign them in or save their request.

They are answered by a middleware, before anything looks at the Host header or the scheme: a load balancer
probes an instance at its own address (not in ALLOWED_HOSTS) and often over plain HTTP (which
SECURE_SSL_REDIRECT would redirect).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers

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
    answer = session.get(f"{settings.AZURE_AUTHORITY.rstrip('/')}/v2.0/.well-known/openid-configuration",
                         verify=settings.AZURE_CA_BUNDLE or True, timeout=PROBE_SECONDS)
    answer.raise_for_status()


def readyz() -> HttpResponse:
    for name, probe in (("database", _database), ("cache", _cache), ("authority", _authority)):
        try:
            probe()
        except Exception:  # any failure means not ready; the reason goes to the log, never to the caller
            log.warning("not ready: the %s did not answer", name, exc_info=True)
            return _answer(False)
    return _answer(True)


PROBES: dict[str, Callable[[], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


def probes(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return get_response(request)
        response = probe() if request.method in ("GET", "HEAD") else HttpResponseNotAllowed(["GET", "HEAD"])
        add_never_cache_headers(response)
        return response

    return middleware
