from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "members.sms"
    label = "sms"
    verbose_name = "短信"

    def ready(self) -> None:
        from cardportal.audit import register_verbs
        from cardportal.registry import NavItem, registry
        from members.access import Cap

        registry.add_nav(NavItem("短信记录", "sms:outbox", capability=Cap.SMS_OUTBOX, order=95))
        register_verbs({"sms.failed": "短信发送失败"})
