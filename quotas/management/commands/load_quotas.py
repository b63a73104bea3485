from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cardportal.errors import ApplicationError
from quotas.services import quotas_load


class Command(BaseCommand):
    help = "Load yearly card quotas from a plan CSV (the shape of cangzhou_plan_2016_2018.csv). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            result = quotas_load(text=path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"无法读取 {path}：{exc}") from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{result['unions']}个县级工会：新增 {result['created']} 条，更新 {result['updated']} 条发卡任务。"
        )
