"""How long an uploaded registration sheet is kept (cardportal.retention). Its rows live in the
database (`SheetRow`, encrypted and masked as the registry keeps them); the file only serves the
import and the error report."""

from django.db.models import Q

from cardportal.retention import FileRule, days_ago

from .models import RegistrationSheet

S = RegistrationSheet.Status
SHEET_RULES = ("sheet_done", "sheet_any")


def _done(now):
    cut = days_ago(now, "sheet_done")
    return RegistrationSheet.objects.filter(
        Q(status=S.REGISTERED, registered_at__lt=cut) | Q(status=S.REFUSED, created_at__lt=cut)
    )


def _any(now):
    return RegistrationSheet.objects.filter(created_at__lt=days_ago(now, "sheet_any"))


RULES = [
    FileRule(
        "sheet_done", RegistrationSheet, "file", "原始登记表文件", "登记入库或被拒收{days}天后删除", _done
    ),
    FileRule("sheet_any", RegistrationSheet, "file", "原始登记表文件", "上传{days}天后一律删除", _any),
]
