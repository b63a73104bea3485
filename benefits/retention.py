"""How long an aid payment file is kept (cardportal.retention). The lines, the manifest with the
file's SHA-256 and the bank's confirmation stay in the database."""

from cardportal.retention import FileRule, days_ago

from .models import ClaimProof, Disbursement

PAYMENT_RULES = ("payment_done", "payment_any")


def _done(now):
    return Disbursement.objects.filter(
        state=Disbursement.State.CLOSED, exported_at__lt=days_ago(now, "payment_done")
    )


def _any(now):
    return Disbursement.objects.filter(exported_at__lt=days_ago(now, "payment_any"))


def _proof_decided(now):
    """Proofs of claims decided (approved or rejected) more than the period ago: the decision,
    the amount and the eligibility record stay with the claim."""
    return ClaimProof.objects.filter(claim__reviewed_at__lt=days_ago(now, "claim_proof"))


RULES = [
    FileRule(
        "claim_proof",
        ClaimProof,
        "file",
        "申请凭证",
        "申请审核完成{days}天后删除",
        _proof_decided,
    ),
    FileRule(
        "payment_done",
        Disbursement,
        "payment_file",
        "银行代发文件",
        "到账确认完成且生成{days}天后删除",
        _done,
    ),
    FileRule("payment_any", Disbursement, "payment_file", "银行代发文件", "生成{days}天后一律删除", _any),
]
