"""The reconciliation report of a bank file: its bounded lists, and keeping it on the import in
the reconciliation's own transaction (a report means "applied", exactly once)."""

from cardportal import crypto
from cardportal.jobs import job_holds

from ..models import BankFileImport

REPORT_LIMIT = 1000  # rows kept per list in a reconciliation report (counts are always complete)


def _entry(lst: list, **item) -> None:
    if len(lst) < REPORT_LIMIT:
        lst.append(item)


def _mask(id_number: str) -> str:
    return crypto.mask_id_number(id_number)


def _import_owned(imp: BankFileImport) -> bool:
    """Lock the import row; True while this run owns it and it has not been applied."""
    locked = BankFileImport.objects.select_for_update().get(pk=imp.pk)
    return not locked.report and job_holds(imp)


def _keep_report(imp: BankFileImport, report: dict) -> dict:
    """Stored in the reconciliation's transaction: a report means "applied", exactly once."""
    BankFileImport.objects.filter(pk=imp.pk).update(report=report)
    return report
