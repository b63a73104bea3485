"""How long bank files are kept (cardportal.retention). The hand-off file holds every member's full
ID number and phone: the bank has it once downloaded, and the batch's cards and the file's
SHA-256 stay in the database. Return and activation files are reconciled on upload; their
report (masked) stays."""

from cardportal.retention import FileRule, days_ago

from .models import BankBatch, BankFileImport


def _handoff(now):
    return BankBatch.objects.filter(handoff_at__lt=days_ago(now, "handoff"))


def _imports(now):
    return BankFileImport.objects.filter(created_at__lt=days_ago(now, "bank_import"))


RULES = [
    FileRule("handoff", BankBatch, "handoff_file", "报送银行文件", "生成{days}天后删除", _handoff),
    FileRule("bank_import", BankFileImport, "file", "银行回盘/激活文件", "上传{days}天后删除", _imports),
]
