from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "会员与工会"

    def ready(self) -> None:
        from cardportal.registry import NavItem, Panel, registry

        from .panels import registry_overview

        registry.add_nav(NavItem("会员", "members:member_list", order=20))
        registry.add_nav(NavItem("工会组织", "members:union_list", order=90))
        registry.add_dashboard(Panel("members/_panel_overview.html", registry_overview, order=10))
