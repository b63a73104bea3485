from django.apps import AppConfig


class CardportalConfig(AppConfig):
    name = "cardportal"
    verbose_name = "门户公共"

    def ready(self):
        from . import signin  # noqa: F401 - connects the sign-in audit receivers
