from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """django.contrib.admin whose default site requires a verified second factor."""

    default_site = "cardportal.admin_site.PortalAdminSite"
