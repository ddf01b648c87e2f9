from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import require_role


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    require_role(request.user)
    return render(request, "vms/index.html")
