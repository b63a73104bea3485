from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Card usage analytics for precise service (issue 18): staff pages over the usage roll-ups.
    Lives in `quotas` (the top floor: it reads members, issuance, merchants and their usage,
    benefits and subsidies) with its own label `analytics`."""

    name = "quotas.analytics"
    label = "analytics"
    verbose_name = "用卡分析"

    def ready(self) -> None:
        from cardportal.audit import register_verbs
        from cardportal.registry import NavItem, registry
        from members.access import Cap

        register_verbs(
            {
                "analytics.exported": "导出用卡分析",
                "segment.exported": "导出会员分群名单",
                "segment.notified": "向会员分群发送通知",
            }
        )
        from merchants.usage.signals import transactions_imported

        transactions_imported.connect(_refresh_after_import, dispatch_uid="analytics-refresh")
        cap = Cap.USAGE_ANALYTICS
        registry.add_nav(NavItem("活跃用卡", "analytics:active", capability=cap, order=80))
        registry.add_nav(NavItem("特约商户消费", "analytics:spending", capability=cap, order=81))
        registry.add_nav(NavItem("商户排行", "analytics:merchants", capability=cap, order=82))
        registry.add_nav(NavItem("帮扶与补贴", "analytics:uptake", capability=cap, order=83))
        registry.add_nav(NavItem("会员分群", "analytics:segments", capability=cap, order=84))


def _refresh_after_import(sender=None, txn_import_id=None, **kwargs) -> None:
    """New transactions came in (sent on commit): rebuild the snapshots in a task."""
    from .tasks import analytics_refresh_task

    analytics_refresh_task.delay()
