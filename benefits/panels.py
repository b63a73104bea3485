"""Dashboard and member-page panels of benefits."""

from django.db.models import Count, Q
from django.utils import timezone

from members.access import access_for

from . import selectors
from .models import Claim, Disbursement


def benefits_overview(request, _obj):
    if not access_for(request.user).is_staff_user:
        return None
    batches = selectors.disbursement_list_for_user(user=request.user).aggregate(
        open=Count("id", filter=~Q(state=Disbursement.State.CLOSED)),
        submitted=Count("id", filter=Q(state=Disbursement.State.SUBMITTED)),
    )
    return {
        "title": "普惠服务与帮扶资金",
        "programmes": selectors.programme_list_for_user(user=request.user).filter(is_active=True).count(),
        "pending": selectors.claim_list_for_user(user=request.user, status=Claim.Status.PENDING).count(),
        "open_batches": batches["open"],
        "submitted_batches": batches["submitted"],
    }


def member_benefits(request, member):
    """Every programme of the member's unions, each with its checks (why or why not)."""
    if not access_for(request.user).is_staff_user:
        return None
    today = timezone.localdate()
    return {
        "member": member,
        "today": today,
        "results": selectors.member_eligibility(member=member, on=today),
        "claims": selectors.claim_list_for_user(user=request.user).filter(member=member)[:20],
        "can_claim": True,
    }
