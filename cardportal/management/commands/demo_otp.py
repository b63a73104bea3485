from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django_otp.plugins.otp_totp.models import TOTPDevice

from cardportal.second_factor import DEMO_TOTP_NAME, demo_totp_key, totp_now


class Command(BaseCommand):
    help = (
        "Print the current second-factor codes of the demo accounts. Only devices that still carry "
        "the published demo secret are shown, so a real device's code is never printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", help="only these accounts (default: every demo account)")

    def handle(self, *args, **options):
        users = get_user_model().objects.all()
        if options["usernames"]:
            users = users.filter(username__in=options["usernames"])
        devices = TOTPDevice.objects.filter(
            user__in=users, name=DEMO_TOTP_NAME, confirmed=True
        ).select_related("user")
        shown = 0
        for device in devices.order_by("user__username"):
            if device.key != demo_totp_key(device.user.username):
                continue
            self.stdout.write(f"{device.user.username:<10} {totp_now(device)}")
            shown += 1
        if not shown:
            self.stdout.write("没有演示账号的二次验证设备（先运行 `python manage.py load_demo`）。")
        else:
            self.stdout.write("（验证码每 30 秒更新一次；同一个验证码只能使用一次）")
