from django.apps import AppConfig


class CardportalConfig(AppConfig):
    name = "cardportal"
    verbose_name = "门户公共"

    def ready(self) -> None:
        from . import (
            schema,  # noqa: F401 - registers the OpenAPI extension of the partner token
            signin,  # noqa: F401 - connects the sign-in audit receivers
        )
