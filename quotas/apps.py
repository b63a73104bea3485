from django.apps import AppConfig


class QuotasConfig(AppConfig):
    name = "quotas"
    verbose_name = "任务与考核"

    def ready(self) -> None:
        from cardportal.registry import NavItem, Panel, registry
        from members.access import Cap

        from .panels import league_panel

        readers = Cap.LEAGUE_READ
        registry.add_nav(NavItem("进度排名", "quotas:league", capability=readers, order=60))
        registry.add_nav(NavItem("月通报", "quotas:bulletin_list", capability=readers, order=61))
        registry.add_nav(NavItem("季排队", "quotas:quarterly", capability=readers, order=62))
        registry.add_nav(NavItem("节点检查", "quotas:checkpoints", capability=readers, order=63))
        registry.add_nav(NavItem("年度考核", "quotas:assessment", capability=readers, order=64))
        registry.add_nav(NavItem("推进周报", "quotas:weekly", capability=Cap.LEAGUE_MANAGE, order=65))
        registry.add_dashboard(Panel("quotas/_panel_league.html", league_panel, order=40))
