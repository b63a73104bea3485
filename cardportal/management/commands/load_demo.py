from importlib import import_module

from django.core.management.base import BaseCommand

from members import demo as members_demo
from members.models import StaffRole

DEMO_APPS = ("issuance", "merchants", "benefits", "quotas")  # each may have demo.load(stdout=...)


class Command(BaseCommand):
    help = "Load the Cangzhou demo (idempotent: does nothing if it is already there) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=3000)

    def handle(self, *args, **options):
        if members_demo.is_loaded():
            self.stdout.write("演示数据已存在，跳过加载。")
        else:
            result = members_demo.load(members_total=options["members"])
            self.stdout.write(f"已加载演示数据：沧州市总工会，22个县级工会，{result['members']} 名会员。")
            for app in DEMO_APPS:
                try:
                    module = import_module(f"{app}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{app}.demo":
                        raise
                    continue
                module.load(stdout=self.stdout)
        self.stdout.write("")
        self.stdout.write(f"演示账号（密码均为 {members_demo.PASSWORD}）：")
        for staff in StaffRole.objects.filter(
            user__username__in=[u for u, _, _ in members_demo.LOGINS]
        ).select_related("user", "union"):
            self.stdout.write(
                f"  {staff.user.username:<10} {staff.get_role_display():<12} {staff.union.name}"
            )
        # Apps with demo accounts of another kind (members) print them too.
        for app in ("membersite",):
            module = import_module(f"{app}.demo")
            module.print_members(self.stdout)
