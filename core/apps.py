from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared base every app stands on: the Azure gateway, notifications, fields, logs, middleware."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
