from django.urls import include, path

from api.urls import api

from . import views, well_known

urlpatterns = [
    path("", views.home, name="home"),
    path(".well-known/jit-portal.json", well_known.jit_portal, name="well-known-jit-portal"),
    path("accounts/", include("accounts.urls")),
    path("vms/", include("vms.urls")),
    path("access/", include("requests_app.urls")),
    path("audit/", include("audit.urls")),
    path("api/v1/", api.urls),
]
