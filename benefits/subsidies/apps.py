from django.apps import AppConfig


class SubsidiesConfig(AppConfig):
    """Subsidies on swipe (工会消费补贴, seed 003 §二(一)2): campaigns by city staff, subsidies
    earned per card transaction as the bank's feed comes in (merchants.usage), paid monthly to
    the cards through benefits' disbursement batches. Docs: docs/subsidies.md."""

    name = "benefits.subsidies"
    label = "subsidies"
    verbose_name = "消费补贴"

    def ready(self) -> None:
        from cardportal.audit import register_verbs
        from cardportal.registry import NavItem, registry
        from members.access import Cap

        from . import receivers  # noqa: F401  (connects to merchants.usage's signal)

        register_verbs(
            {
                "subsidy_campaign.created": "创建消费补贴活动",
                "subsidy_campaign.changed": "修改消费补贴活动",
                "subsidy_campaign.batch_built": "生成消费补贴发放批次",
                "subsidy_campaign.computed": "计算消费补贴",
            }
        )
        registry.add_nav(NavItem("消费补贴", "subsidies:list", capability=Cap.SUBSIDY_MANAGE, order=76))
