"""The API's one NinjaAPI: /api/v1, bearer tokens only, problems as RFC 9457, the OpenAPI document and its
reference page (rendered by the portal from that document, in its own frame: no script, no CDN)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from ninja import NinjaAPI, Router

from accounts.roles import roles_of

from . import access, approvals, audit, problems, schemas, vms
from .auth import EntraBearer, actor
from .problems import Problem
from .reference import Reference


class ProblemApi(NinjaAPI):
    """django-ninja's API whose document declares errors as the API sends them (application/problem+json) and
    whose routes, the document and its reference page among them, answer a wrong method with a problem document
    too."""

    def get_openapi_schema(self, **kwargs):
        return problems.declared(super().get_openapi_schema(**kwargs))

    @property
    def urls(self):
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                if pattern.name in ("openapi-json", "openapi-view"):
                    # Read-only: a POST reached Django's CSRF check (an HTML 403) or, past it, the document.
                    pattern.callback = csrf_exempt(require_safe(pattern.callback))
                pattern.callback = problems.method_checked(pattern.callback)
        return patterns, app_name, namespace


api = ProblemApi(
    title="jitportal API",
    version="1",
    urls_namespace="api-v1",
    auth=EntraBearer(),
    docs=Reference(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    description="Just-in-Time VM access as the signed-in person: the same checks, approvals and trail as the "
    "portal's pages. Authenticate with an Entra ID access token for api://<client-id>/access_as_user. "
    "Errors are application/problem+json (RFC 9457). See docs/api.md.",
)
problems.install(api)


@api.get("/me", response=schemas.answers(schemas.Me), summary="Who this token names", tags=["Me"])
def me(request: HttpRequest):
    who = actor(request)
    user = who.user
    return {
        "tenant_id": user.tenant_id,
        "object_id": user.object_id,
        "username": user.upn,
        "display_name": user.display_name,
        "roles": sorted(roles_of(user)),
        "channel": who.channel,
    }


# Last, so that it matches only what no route does: an unknown path (or an id that is not a number) under /api/v1/
# is a problem document too, not the pages' HTML 404.
unknown = Router()


@unknown.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", auth=None, include_in_schema=False)
def no_such_route(request: HttpRequest, rest: str):
    raise Problem(404, "not-found", "Not found.", "No such route in this API: its routes are in /api/v1/docs.")


for router in (vms.router, access.router, approvals.router, audit.router, unknown):
    api.add_router("/", router)

urlpatterns = api.urls
