"""Reads of the subsidies: campaigns in the user's scope, a campaign's figures, and a member's own
subsidies for the members' site (到卡资金)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from benefits.models import Disbursement, DisbursementLine
from members.access import get_for_user_or_404, scope_queryset

from .models import SubsidyCampaign, SubsidyEarning

E = SubsidyEarning.Status


def campaign_list_for_user(*, user) -> QuerySet[SubsidyCampaign]:
    return scope_queryset(SubsidyCampaign.objects.select_related("union", "area"), user).order_by(
        "-starts_on", "-id"
    )


def campaign_get_for_user(*, user, pk: int) -> SubsidyCampaign:
    return get_for_user_or_404(
        SubsidyCampaign.objects.select_related("union", "area", "programme", "created_by"), user, pk=pk
    )


def campaign_months(campaign: SubsidyCampaign) -> list[dict]:
    """Per month: subsidies earned (count, amount), taken back, cancelled, and what is in batches."""
    rows = (
        SubsidyEarning.objects.filter(campaign=campaign)
        .values("month")
        .annotate(
            earned=Count("id", filter=Q(amount__gt=0) & ~Q(status=E.CANCELLED)),
            total=Sum("amount", filter=Q(amount__gt=0) & ~Q(status=E.CANCELLED)),
            members=Count("member_id", distinct=True, filter=Q(amount__gt=0) & ~Q(status=E.CANCELLED)),
            cancelled=Count("id", filter=Q(status=E.CANCELLED)),
            clawed=Sum("amount", filter=Q(amount__lt=0)),
            batched=Sum("amount", filter=Q(status=E.BATCHED)),
            due=Sum("amount", filter=Q(status=E.EARNED)),
        )
        .order_by("-month")
    )
    cent = Decimal("0.01")  # SQLite sums decimals as floats
    return [
        {
            k: (Decimal(v or 0).quantize(cent) if k not in ("month", "earned", "members", "cancelled") else v)
            for k, v in row.items()
        }
        for row in rows
    ]


def campaign_batches(campaign: SubsidyCampaign) -> QuerySet[Disbursement]:
    if not campaign.programme_id:
        return Disbursement.objects.none()
    return (
        Disbursement.objects.filter(programme_id=campaign.programme_id)
        .annotate(count=Count("lines"), total=Sum("lines__amount"))
        .order_by("-created_at", "-id")
    )


@dataclass
class MemberSubsidy:
    campaign: str
    merchant: str
    txn_at: datetime
    txn_amount: Decimal
    amount: Decimal
    status: str  # css suffix: due, paying, paid, failed, cancelled
    status_label: str


def _state(e: SubsidyEarning) -> tuple[str, str]:
    if e.status == E.CANCELLED:
        return "cancelled", "已退款，补贴取消"
    if e.status == E.EARNED:
        return "due", "退款扣回，下次发放时扣除" if e.amount < 0 else "待发放（次月发放到卡）"
    if e.line is not None and e.line.status == DisbursementLine.Status.PAID:
        return "paid", "已扣回" if e.amount < 0 else "已到账"
    if e.line is not None and e.line.status == DisbursementLine.Status.FAILED:
        return "failed", "发放失败，下次重新发放"
    return "paying", "发放中"


def member_subsidy_list(*, member, limit: int = 100) -> list[MemberSubsidy]:
    """The member's own subsidies, newest first (one query), with the merchant and the date."""
    earnings = (
        SubsidyEarning.objects.filter(member=member)
        .select_related("campaign", "merchant", "line")
        .order_by("-txn_at", "-id")[:limit]
    )
    rows = []
    for e in earnings:
        status, label = _state(e)
        rows.append(
            MemberSubsidy(
                campaign=e.campaign.name,
                merchant=e.merchant.name if e.merchant else "",
                txn_at=e.txn_at,
                txn_amount=e.txn_amount,
                amount=e.amount,
                status=status,
                status_label=label,
            )
        )
    return rows
