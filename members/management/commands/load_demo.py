import logging
from contextlib import contextmanager

from django.core.management.base import BaseCommand

from cardportal.registry import UPPER_APPS, app_modules
from cardportal.second_factor import demo_devices_ensure
from members import demo as members_demo
from members.models import StaffRole
from members.sms.models import SmsMessage

# each app above may have demo.load(stdout=...); the members' site last (it reads the others' cards)
# card usage (merchants.usage) right after the merchants it matches: the layers above read it;
# the subsidies (benefits.subsidies) after benefits, from the usage demo's transactions
DEMO_APPS = (*UPPER_APPS[:2], "merchants.usage", *UPPER_APPS[2:], "benefits.subsidies", "benefits.membersite")


# While the demo loads, the demo SMS channel's console lines (one per card notice) and the
# in-process task runner's lines would bury the logins; the command says how many there were.
QUIET_WHILE_LOADING = ("cardportal.sms", "celery.app.trace", "kombu.connection")


@contextmanager
def quiet_loggers(names=QUIET_WHILE_LOADING):
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Command(BaseCommand):
    help = "Load the Cangzhou demo (idempotent: does nothing if it is already there) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=3000)

    def handle(self, *args, **options):
        if members_demo.is_loaded():
            self.stdout.write("演示数据已存在，跳过加载。")
        else:
            with quiet_loggers():
                self._load(options["members"])
            sms = SmsMessage.objects.count()
            if sms:
                self.stdout.write(
                    f"演示短信 {sms} 条（演示通道，未真正发送）：city 账号的“短信记录”页可查看。"
                )
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {members_demo.PASSWORD}）：")
        staff_roles = list(
            StaffRole.objects.filter(
                user__username__in=[u for u, _, _ in members_demo.LOGINS]
            ).select_related("user", "union")
        )
        for staff in staff_roles:
            self.stdout.write(
                f"  {staff.user.username:<10} {staff.get_role_display():<12} {staff.union.name}"
            )
        # Demo accounts that need a second factor get a device with a fixed, published secret.
        secrets = demo_devices_ensure([staff.user for staff in staff_roles])
        if secrets:
            self.stdout.write("")
            self.stdout.write(
                "以下账号登录后需输入二次验证码：运行 `python manage.py demo_otp` 查看当前验证码，"
            )
            self.stdout.write("或把密钥添加到手机身份验证器（基于时间，6 位，30 秒）：")
            for username, secret in secrets:
                self.stdout.write(f"  {username:<10} {secret}")
        self.stdout.write(
            "银行 API 令牌：bank 账号 POST /api/token/，或 python manage.py api_token rotate bank"
            "（只显示一次，90 天有效；只有银行经办账号可以申请）"
        )
        # Apps with demo accounts of another kind (members) print them too.
        for _app, module in app_modules("demo", apps=("benefits.membersite",)):
            module.print_members(self.stdout)

    def _load(self, members_total: int) -> None:
        result = members_demo.load(members_total=members_total)
        self.stdout.write(f"已加载演示数据：沧州市总工会，22个县级工会，{result['members']} 名会员。")
        # members starts the demo (the union tree and the staff); each app above may add
        # its own on top (`<app>.demo.load(stdout=...)`), found by name like its URLs.
        for _app, module in app_modules("demo", DEMO_APPS):
            module.load(stdout=self.stdout)
