from django.apps import AppConfig


class UsageConfig(AppConfig):
    """Card usage (issue 18): the issuing partners' transaction feed, matched to cards and union
    merchants, stored partitioned by month, with the roll-ups the pages read. Sits at the
    merchants layer: it reads members, issuance and merchants, never benefits or quotas."""

    name = "merchants.usage"
    label = "usage"
    verbose_name = "刷卡交易"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cardportal.audit import register_verbs
        from cardportal.registry import NavItem, registry
        from members.access import Cap

        register_verbs({"usage.imported": "导入交易明细", "usage.problems_downloaded": "下载交易问题行"})
        from cardportal.retention import FileRule, days_ago, register_file_rule

        from .models import TxnImport

        register_file_rule(
            FileRule(
                "usage_feed",
                TxnImport,
                "file",
                "交易明细文件",
                "上传{days}天后删除",
                lambda now: TxnImport.objects.filter(created_at__lt=days_ago(now, "usage_feed")),
            )
        )
        registry.add_nav(NavItem("交易明细", "usage:import_list", capability=Cap.USAGE_IMPORT, order=62))
