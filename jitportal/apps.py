from django.apps import AppConfig


class JitportalConfig(AppConfig):
    """The project shell: settings, URLs, the periodic tasks and the commands that start the portal."""

    name = "jitportal"
