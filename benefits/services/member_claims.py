"""Writes for claims a member starts on the members' site, with a proof file, and the audited
reading of proof files (by the member or the claim's reviewers)."""

from datetime import date

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from cardportal import proofs
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.tables import TableRefused
from members.models import Member

from ..models import BenefitProgramme, Claim, ClaimProof
from .claims import claim_record


def proof_limit() -> int:
    """The proof size limit: PROOF_MAX_BYTES, never above what the upload handler streams."""
    return min(settings.PROOF_MAX_BYTES, settings.UPLOAD_MAX_BYTES)


def claim_submit_by_member(
    *,
    programme: BenefitProgramme,
    member: Member,
    incident_on: date,
    facts: str,
    proof: bytes,
    ip: str | None = None,
) -> Claim:
    """A member's own claim with one proof file. The file is checked first (cardportal.proofs,
    outside any transaction: nothing is written for a refused file); then, in one transaction,
    the same rules as a clerk's claim (claim_record: eligibility on the incident date, once per
    member) plus the site's own (the programme takes claims online; one claim under review at a
    time), the claim, its proof and the audit row. A stored file whose transaction fails is
    deleted again, so no file is left that no row points at."""
    try:
        checked = proofs.read_proof(proof, max_bytes=proof_limit())
    except TableRefused as exc:
        raise ApplicationError(exc.message, code=exc.code) from exc
    if not programme.member_may_claim:
        raise ApplicationError("本项目不在网上申请，请按申领方式办理", code="not_online")
    stored = ClaimProof(
        content_type=checked.content_type, size=len(checked.data), sha256=checked.sha256, pages=checked.pages
    )
    try:
        with transaction.atomic():
            if Claim.objects.filter(programme=programme, member=member, status=Claim.Status.PENDING).exists():
                raise ApplicationError("您已有一笔申请正在审核，审核后才能再次申请", code="claim_pending")
            claim = claim_record(
                programme=programme, member=member, incident_on=incident_on, facts=facts, by_member=True
            )
            stored.claim = claim
            stored.file.save(f"proof.{checked.extension}", ContentFile(checked.data), save=False)
            stored.save()
            audit_record(
                actor=None,
                verb="claim.submitted_by_member",
                target=claim,
                ip=ip,
                data={"amount": str(claim.amount), "proof": stored.pk, "sha256": checked.sha256},
            )
    except BaseException:
        if stored.file:
            stored.file.delete(save=False)
        raise
    return claim


def claim_proof_read(*, proof: ClaimProof, actor=None, member: Member | None = None, ip=None) -> tuple:
    """(bytes, file name, content type) of a proof; every reading is audited with who read it
    (a staff `actor`, or the claim's own `member`). The caller has scoped the proof: the member
    selector to the member's own claims, claim_get_for_user to the staff user's subtree."""
    claim = proof.claim
    with proof.file.open("rb") as handle:
        content = handle.read()
    extension = proof.file.name.rsplit(".", 1)[-1]
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="claim.proof_viewed",
            target=claim,
            ip=ip,
            data={"proof": proof.pk, "by_member": member is not None},
        )
    return content, f"凭证-{claim.pk}-{proof.pk}.{extension}", proof.content_type
