"""Per-person rate limits and `Idempotency-Key` on POSTs, in Django's cache (Redis for a team: every instance
counts and remembers alike)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from .problems import Problem

KEY_HEADER = "Idempotency-Key"
KEPT_SECONDS = 24 * 3600
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def count_call(user_pk: int, method: str) -> None:
    """Count this call in the person's minute; past API_RATE_PER_MINUTE (or API_WRITES_PER_MINUTE for a change),
    refuse with 429 and the seconds until the next minute."""
    minute = int(time.time() // 60)
    limits = [("all", settings.API_RATE_PER_MINUTE)]
    if method in WRITES:
        limits.append(("writes", settings.API_WRITES_PER_MINUTE))
    for kind, limit in limits:
        key = f"api-rate:{kind}:{user_pk}:{minute}"
        cache.add(key, 0, 120)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr: count from here
            cache.set(key, 1, 120)
            count = 1
        if count > limit:
            wait = max(1, 60 - int(time.time() % 60))
            raise Problem(
                429,
                "rate-limited",
                "Too many calls.",
                f"At most {limit} {'changes' if kind == 'writes' else 'calls'} a minute; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )


def idempotency_key(request: HttpRequest) -> str:
    """The caller's Idempotency-Key, checked (1–100 printable ASCII characters), or ""."""
    key = request.headers.get(KEY_HEADER, "")
    if key and not (len(key) <= 100 and key.isascii() and key.isprintable()):
        raise Problem(
            400, "validation", "The request is not valid.", f"{KEY_HEADER} must be 1 to 100 printable ASCII characters."
        )
    return key


def request_key(user_pk: int, key: str) -> str:
    """A request's own one-time key (64 characters at most) from the person and their Idempotency-Key."""
    return f"api:{user_pk}:{hashlib.sha256(key.encode()).hexdigest()[:48]}"


def once(request: HttpRequest, make: Callable[[], HttpResponse]) -> HttpResponse:
    """The answer `make` gives, or, when the same person sent the same Idempotency-Key to the same path in the last
    24 h, the first answer again (a problem is not kept: the caller may fix the input and send it again)."""
    key = idempotency_key(request)
    if not key:
        return make()
    cache_key = f"api-idem:{request.user.pk}:{request.path}:{hashlib.sha256(key.encode()).hexdigest()}"
    body = hashlib.sha256(request.body).hexdigest()
    kept = cache.get(cache_key)
    if kept is not None and kept.get("request") != body:
        raise Problem(
            422,
            "validation",
            "The request is not valid.",
            f"This {KEY_HEADER} was sent with another body in the last 24 h: use a new key for a new call.",
        )
    if kept is not None:
        answer = HttpResponse(kept["body"], status=kept["status"], content_type=kept["type"])
        answer["Idempotency-Replayed"] = "true"
        return answer
    answer = make()
    if answer.status_code < 400:
        cache.set(
            cache_key,
            {"body": answer.content, "status": answer.status_code, "type": answer["Content-Type"], "request": body},
            KEPT_SECONDS,
        )
    return answer
