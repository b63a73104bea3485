from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "issuance"
    verbose_name = "发卡"

    def ready(self) -> None:
        from cardportal.registry import NavItem, Panel, registry
        from members.access import Cap

        from . import panels
        from .lifecycle import cards_apply_registered

        # Registering a member is applying for their card (status `applied`).
        registry.on_members_registered(
            lambda *, member_ids, actor: cards_apply_registered(member_ids=member_ids, actor=actor)
        )
        registry.add_nav(NavItem("领卡发卡", "issuance:home", capability=Cap.UNION_DESK, order=30))
        registry.add_nav(
            NavItem(
                "银行批次",
                "issuance:batch_list",
                capability=Cap.BATCH_MANAGE,
                order=30,
            )
        )
        registry.add_nav(
            NavItem(
                "激活导入",
                "issuance:activation_upload",
                capability=Cap.BANK_FILES,
                order=32,
            )
        )
        registry.add_nav(NavItem("发卡计划", "issuance:wave_list", order=34))
        registry.add_nav(NavItem("发卡进度", "issuance:progress", order=36))
        registry.add_nav(NavItem("困难职工持卡", "issuance:hardship", order=37))
        registry.add_dashboard(Panel("issuance/_panel_union.html", panels.union_panel, order=20))
        registry.add_dashboard(Panel("issuance/_panel_batches.html", panels.batches_panel, order=20))
        registry.add_member(Panel("issuance/_member_panel.html", panels.member_cards_panel, order=20))
        self._register_file_rules()

    def _register_file_rules(self) -> None:
        """When the files this app keeps in MEDIA_ROOT are deleted (cardportal.retention)."""
        from cardportal.retention import register_file_rule

        from .retention import RULES

        for rule in RULES:
            register_file_rule(rule)
