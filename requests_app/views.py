from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import REQUESTER, require_role


@require_GET
@login_required
def my_access(request: HttpRequest) -> HttpResponse:
    require_role(request.user, REQUESTER)
    return render(request, "requests_app/my_access.html")
