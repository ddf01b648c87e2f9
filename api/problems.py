"""Errors as `application/problem+json` (RFC 9457): one shape for every refusal the API makes, in the same words
as the pages."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from core import gateway

BASE = "https://jitportal.invalid/problems/"  # names, not links: the types are documented in docs/api.md
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """A refusal to answer as a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str = "",
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.errors, self.headers = errors, headers or {}


def invalid(errors: dict[str, list[str]], detail: str = "") -> Problem:
    """Input the forms refuse: 422 with each field's own messages."""
    words = detail or " ".join(m for messages in errors.values() for m in messages)
    return Problem(422, "validation", "The request is not valid.", words, errors=errors)


def response(problem: Problem) -> HttpResponse:
    body = {"type": BASE + problem.kind, "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    answer = HttpResponse(json.dumps(body), status=problem.status, content_type=CONTENT_TYPE)
    for name, value in problem.headers.items():
        answer[name] = value
    return answer


def bearer_challenge(error: str, description: str, claims: str = "") -> str:
    """RFC 6750's WWW-Authenticate; with Entra's claims challenge (base64) when it wants the person to sign in."""
    quoted = description.replace("\\", "").replace('"', "'")
    challenge = f'Bearer error="{error}", error_description="{quoted}"'
    if claims:
        challenge += f', claims="{base64.b64encode(claims.encode()).decode()}"'
    return challenge


def _gateway_problem(error: gateway.GatewayError) -> Problem:
    if isinstance(error, gateway.AccessDenied):
        return Problem(403, "azure-refused", "Azure refused.", error.message)
    if isinstance(error, gateway.NotFound):
        return Problem(404, "not-found", "Not found in Azure.", error.message)
    if isinstance(error, gateway.Conflict):
        return Problem(409, "conflict", "Azure reported a conflict.", error.message)
    if isinstance(error, gateway.InvalidRequest):
        return Problem(422, "azure-refused", "Azure refused the request.", error.message)
    retry = {"Retry-After": "30"} if isinstance(error, gateway.Throttled) else {}
    return Problem(502, "azure-unavailable", "Azure could not answer.", error.message, headers=retry)


def install(api: NinjaAPI) -> None:
    """Every refusal the API's code or the libraries under it raise, as a problem document: never a 500 for
    a request the API merely refuses."""

    @api.exception_handler(Problem)
    def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
        return response(exc)

    @api.exception_handler(ValidationError)
    def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            where = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "payload")]
            errors.setdefault(".".join(where) or "__all__", []).append(str(error.get("msg", "not valid")))
        return response(invalid(errors))

    @api.exception_handler(HttpError)
    def _unreadable(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # django-ninja's own refusal: a body it cannot parse (not JSON, not UTF-8, nested past the parser's limit)
        if exc.status_code == 400:
            return response(
                Problem(
                    400,
                    "bad-request",
                    "The request is not valid.",
                    "The body is not a JSON document: send JSON with Content-Type: application/json.",
                )
            )
        return response(Problem(exc.status_code, "bad-request", "The request is not valid.", str(exc)))

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return response(
            Problem(
                413,
                "too-large",
                "The request is too large.",
                f"The body may be at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            )
        )

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        words = "Send an access token for the portal's API: Authorization: Bearer <token>."
        return response(
            Problem(
                401,
                "unauthorized",
                "Sign-in required.",
                words,
                headers={"WWW-Authenticate": bearer_challenge("invalid_token", words)},
            )
        )

    @api.exception_handler(gateway.BearerRefused)
    def _refused(request: HttpRequest, exc: gateway.BearerRefused) -> HttpResponse:
        kind, title = ("unauthorized", "Sign-in required.") if exc.status == 401 else ("forbidden", "Not allowed.")
        return response(
            Problem(
                exc.status,
                kind,
                title,
                exc.description,
                headers={"WWW-Authenticate": bearer_challenge(exc.error, exc.description)},
            )
        )

    @api.exception_handler(gateway.SignInRequired)
    def _sign_in(request: HttpRequest, exc: gateway.SignInRequired) -> HttpResponse:
        claims = getattr(exc, "claims", "")
        return response(
            Problem(
                401,
                "unauthorized",
                "Sign in again.",
                exc.message,
                headers={
                    "WWW-Authenticate": bearer_challenge(
                        "insufficient_claims" if claims else "invalid_token", exc.message, claims
                    )
                },
            )
        )

    @api.exception_handler(gateway.GatewayError)
    def _azure(request: HttpRequest, exc: gateway.GatewayError) -> HttpResponse:
        return response(_gateway_problem(exc))

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return response(Problem(403, "forbidden", "Not allowed.", str(exc) or "Your portal roles do not allow this."))

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return response(Problem(404, "not-found", "Not found.", str(exc) or "No such thing, or you may not see it."))


def method_checked(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A route's view whose wrong method answers 405 as a problem document with `Allow` (django-ninja answers with
    Django's text/html "Method not allowed"). functools.wraps keeps the view's csrf_exempt."""

    @functools.wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        answer = view(request, *args, **kwargs)
        if not isinstance(answer, HttpResponseNotAllowed):
            return answer
        allowed = answer["Allow"]
        return response(
            Problem(
                405,
                "method-not-allowed",
                "Method not allowed.",
                f"This route takes {allowed}, not {request.method}.",
                headers={"Allow": allowed},
            )
        )

    return checked


def declared(document: dict) -> dict:
    """The OpenAPI document with every error answer (4xx, 5xx) declared as application/problem+json, the type the
    API sends it with (django-ninja declares its renderer's application/json for every answer)."""
    for operations in (document.get("paths") or {}).values():
        for operation in operations.values():
            for status, answer in (operation.get("responses") or {}).items():
                if str(status)[0] in "45" and answer.get("content"):
                    answer["content"] = {CONTENT_TYPE: next(iter(answer["content"].values()))}
    return document
