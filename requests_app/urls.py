from django.urls import path

from . import views

urlpatterns = [
    path("", views.my_access, name="requests-my-access"),
    path("new", views.new, name="requests-new"),
    path("requests/<int:pk>/", views.detail, name="requests-detail"),
    path("items/<int:pk>/connect.rdp", views.rdp_file, name="requests-rdp"),
]
