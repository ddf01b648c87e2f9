from django.apps import AppConfig


class JitportalConfig(AppConfig):
    name = "jitportal"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
