from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "特约商户"

    def ready(self) -> None:
        from cardportal.registry import NavItem, Panel, registry

        from .panels import merchants_overview

        registry.add_nav(NavItem("商户名录", "merchants:directory", order=60))
        registry.add_dashboard(Panel("merchants/_panel_overview.html", merchants_overview, order=60))
