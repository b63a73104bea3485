from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class CardportalConfig(AppConfig):
    name = "cardportal"
    verbose_name = "门户公共"

    def ready(self):
        from . import signin  # noqa: F401 - connects the sign-in audit receivers


class PortalAdminConfig(AdminConfig):
    """django.contrib.admin whose default site requires a verified second factor."""

    default_site = "cardportal.admin_site.PortalAdminSite"
