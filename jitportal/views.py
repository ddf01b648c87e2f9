"""The home page: who you are, your roles, and the subscriptions Azure lets you see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import roles_of
from core import gateway


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not roles_of(request.user):
        return render(request, "no_role.html", status=403)
    subscriptions, problem = [], ""
    try:
        subscriptions = gateway.list_subscriptions(request.session)
    except gateway.GatewayError as exc:
        problem = exc.message
    return render(request, "home.html", {"subscriptions": subscriptions, "problem": problem})
