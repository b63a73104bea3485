from django.apps import AppConfig
from django.db.models.signals import pre_delete


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "会员与工会"

    def ready(self) -> None:
        from cardportal import scoping
        from cardportal.audit import register_verbs
        from cardportal.registry import NavItem, Panel, registry

        from . import access, registration
        from .models import RegistrationSheet
        from .panels import (
            corrections_open,
            member_privacy,
            registry_overview,
            sheets_clerk,
            sheets_review,
            submission_overview,
        )

        scoping.connect(access)  # the bottom layer asks the access door through its port
        pre_delete.connect(
            registration.wait_for_staging, sender=RegistrationSheet, dispatch_uid="members.wait_for_staging"
        )
        register_verbs(
            {
                "member.searched": "按身份证号或手机号查询会员",
                "member.consent_recorded": "登记办卡意愿",
                "member.correction_requested": "会员申请更正信息",
                "member.correction_read": "查看会员更正申请内容",
                "member.correction_handled": "处理会员更正申请",
                "sheet.letter_scan_uploaded": "上传盖章确认书扫描件",
                "sheet.letter_scan_read": "查看盖章确认书扫描件",
            }
        )
        registry.add_nav(
            NavItem("更正申请", "members:correction_list", capability=access.Cap.UNION_DESK, order=21)
        )
        registry.add_dashboard(Panel("members/_panel_corrections.html", corrections_open, order=8))
        registry.add_member(Panel("members/_member_privacy.html", member_privacy, order=60))
        registry.add_nav(NavItem("会员", "members:member_list", order=20))
        registry.add_nav(NavItem("工会组织", "members:union_list", order=90))
        registry.add_dashboard(Panel("members/_panel_overview.html", registry_overview, order=10))
        registry.add_nav(
            NavItem("登记表", "members:sheet_list", capability=access.Cap.SHEET_UPLOAD, order=15)
        )
        registry.add_dashboard(Panel("members/_panel_sheets_clerk.html", sheets_clerk, order=5))
        registry.add_dashboard(Panel("members/_panel_sheets_review.html", sheets_review, order=6))
        registry.add_dashboard(Panel("members/_panel_submission_groups.html", submission_overview, order=7))
        self._register_file_rules()

    def _register_file_rules(self) -> None:
        """When the files this app keeps in MEDIA_ROOT are deleted (cardportal.retention)."""
        from cardportal.retention import register_file_rule

        from .retention import RULES

        for rule in RULES:
            register_file_rule(rule)
