from django.apps import AppConfig


class BenefitsConfig(AppConfig):
    name = "benefits"
    verbose_name = "普惠服务"

    def ready(self) -> None:
        from cardportal.audit import VerbFamily, register_verb_family, register_verbs
        from cardportal.registry import NavItem, Panel, registry

        from .panels import benefits_overview, member_benefits

        register_verbs(
            {
                "disbursement.submitted": "提交发放批次审批",
                "disbursement.approved": "审批通过发放批次",
                "disbursement.returned": "退回发放批次",
                "disbursement.export_refused": "生成发放文件被拒（退回草稿）",
                "claim.submitted_by_member": "会员在线提交申请",
                "claim.proof_viewed": "查看申请凭证",
            }
        )
        # a proof (a receipt, a medical bill) is a private file read through an audited view
        register_verb_family(VerbFamily("download", "下载报送/发放文件", ("claim.proof_",)))
        registry.add_nav(NavItem("普惠服务", "benefits:programme_list", order=70))
        registry.add_nav(NavItem("帮扶资金", "benefits:disbursement_list", order=72))
        registry.add_dashboard(Panel("benefits/_panel_overview.html", benefits_overview, order=70))
        registry.add_member(Panel("benefits/_member_benefits.html", member_benefits, order=50))
        self._register_file_rules()

    def _register_file_rules(self) -> None:
        """When the files this app keeps in MEDIA_ROOT are deleted (cardportal.retention)."""
        from cardportal.retention import register_file_rule

        from .retention import RULES

        for rule in RULES:
            register_file_rule(rule)
