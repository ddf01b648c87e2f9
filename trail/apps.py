from django.apps import AppConfig


class TrailConfig(AppConfig):
    """The portal's own audit trail (the keyed chain every app writes), below the apps that write it."""

    name = "trail"
    default_auto_field = "django.db.models.BigAutoField"
