from django.apps import AppConfig


class CardportalConfig(AppConfig):
    name = "cardportal"
    verbose_name = "门户公共"

    def ready(self) -> None:
        from . import (
            schema,  # noqa: F401 - registers the OpenAPI extension of the partner token
            signin,  # noqa: F401 - connects the sign-in audit receivers
        )
        from .registry import NavItem, registry
        from .selectors import AUDIT_READ

        registry.add_nav(NavItem("审计日志", "audit:list", capability=AUDIT_READ, order=95))
