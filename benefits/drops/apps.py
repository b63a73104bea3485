from django.apps import AppConfig


class DropsConfig(AppConfig):
    """The one-cent ticket grab (定时限量抢票): staff publish a limited drop, members grab it at the
    announced second. Lives inside `benefits` (it reads members, cards and merchants, like the
    members' site) with its own label `drops`."""

    name = "benefits.drops"
    label = "drops"
    verbose_name = "限量抢票"

    def ready(self) -> None:
        from cardportal.audit import register_verbs
        from cardportal.registry import NavItem, registry

        from .access import DROPS_MANAGE

        register_verbs(
            {
                "drop.created": "创建抢票活动",
                "drop.changed": "修改抢票活动",
                "drop.closed_early": "提前结束抢票",
                "drop.exported": "导出中签名单",
                "drop.reconciled": "抢票库存对账",
                "ticket.claimed": "会员抢到票",
                "ticket.paid": "会员支付票款",
                "ticket.expired": "未支付，票退回",
                "ticket.redeemed": "核销电子券",
            }
        )
        registry.add_nav(NavItem("限量抢票", "drops:list", capability=DROPS_MANAGE, order=74))
