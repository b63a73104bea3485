"""Claims (申请) for a benefit programme: recording one (eligibility decides the amount) and
its review (approve or reject, never by the person who recorded it)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.access import Cap, access_for
from members.models import Member

from .. import eligibility
from ..models import BenefitProgramme, Claim


@transaction.atomic
def claim_create(
    *, programme: BenefitProgramme, member: Member, incident_on: date, facts: str, actor
) -> Claim:
    """Record a claim; the amount comes from the programme's tiers. Refused, with the reasons,
    when the member is not eligible on the incident date."""
    if not (facts or "").strip():
        raise ApplicationError("请填写事由", code="facts_required")
    if not access_for(actor).sees(member.union):
        raise ApplicationError("该会员不在您的工会范围内", code="forbidden")
    claim = claim_record(
        programme=programme, member=member, incident_on=incident_on, facts=facts, recorded_by=actor
    )
    audit_record(actor=actor, verb="claim.created", target=claim, data={"amount": str(claim.amount)})
    return claim


def claim_record(
    *,
    programme: BenefitProgramme,
    member: Member,
    incident_on: date,
    facts: str,
    recorded_by=None,
    by_member: bool = False,
) -> Claim:
    """The rules every claim meets, whoever records it (a clerk through claim_create, the member
    through member_claims.claim_submit_by_member): facts given, once per member where the
    programme says so, eligible on the incident date (the amount from the tiers). Runs inside
    the caller's transaction and locks the member, so two claims at once cannot both pass the
    once-per-member check."""
    facts = (facts or "").strip()
    if not facts:
        raise ApplicationError("请填写事由", code="facts_required")
    member = Member.objects.select_for_update().select_related("union").get(pk=member.pk)
    if (
        programme.once_per_member
        and Claim.objects.filter(programme=programme, member=member)
        .exclude(status=Claim.Status.REJECTED)
        .exists()
    ):
        whose = "您" if by_member else "该会员"
        raise ApplicationError(f"“{programme.name}”每人限领一次，{whose}已有申请", code="once_per_member")
    result = eligibility.evaluate(programme=programme, member=member, on=incident_on)
    if not result.eligible:
        raise ApplicationError(
            "不符合申请条件：" + "；".join(result.reasons),
            code="not_eligible",
            extra={"reasons": result.reasons},
        )
    return Claim.objects.create(
        programme=programme,
        member=member,
        union=member.union,
        incident_on=incident_on,
        facts=facts[:300],
        amount=result.amount,
        tier_label=result.tier_label,
        explanation=result.as_list(),
        recorded_by=recorded_by,
        by_member=by_member,
    )


def _claim_for_review(claim: Claim, actor) -> Claim:
    access_for(actor).require(Cap.CLAIM_REVIEW)
    claim = Claim.objects.select_for_update().select_related("union").get(pk=claim.pk)
    if not access_for(actor).sees(claim.union):
        raise ApplicationError("该申请不在您的工会范围内", code="forbidden")
    if claim.status != Claim.Status.PENDING:
        raise ApplicationError(f"该申请已{claim.get_status_display()}，不能重复审核", code="not_pending")
    if claim.recorded_by_id == actor.pk:
        raise ApplicationError("登记人不能审核自己登记的申请", code="own_claim")
    return claim


@transaction.atomic
def claim_approve(*, claim: Claim, actor, note: str = "") -> Claim:
    claim = _claim_for_review(claim, actor)
    claim.status = Claim.Status.APPROVED
    claim.reviewed_by, claim.reviewed_at, claim.review_note = actor, timezone.now(), note.strip()[:300]
    claim.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    audit_record(actor=actor, verb="claim.approved", target=claim, data={"amount": str(claim.amount)})
    _notify_decided(claim, "已批准")
    return claim


@transaction.atomic
def claim_reject(*, claim: Claim, actor, reason: str) -> Claim:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("驳回须填写理由", code="reason_required")
    claim = _claim_for_review(claim, actor)
    claim.status = Claim.Status.REJECTED
    claim.reviewed_by, claim.reviewed_at, claim.review_note = actor, timezone.now(), reason[:300]
    claim.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    audit_record(actor=actor, verb="claim.rejected", target=claim, data={"reason": reason})
    _notify_decided(claim, f"未通过（{reason[:60]}）")
    return claim


def _notify_decided(claim: Claim, decision: str) -> None:
    """The member hears of the decision: a notice and an SMS, once per claim (its key)."""
    from members.sms.models import Notice
    from members.sms.notices import notice_send

    notice_send(
        member=claim.member,
        kind=Notice.Kind.CLAIM_DECIDED,
        key=f"claim-decided:{claim.pk}",
        params={"programme": claim.programme.name, "amount": str(claim.amount), "decision": decision},
    )
