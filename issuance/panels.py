"""Dashboard and member-page panels of the issuance app (registered in IssuanceConfig.ready)."""

from members.access import Cap, access_for, scope_queryset

from . import selectors
from .models import BankBatch, Card, CardNotice

S = Card.Status
LOSABLE = (S.ISSUED, S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED)


def member_cards_panel(request, member):
    return {
        "cards": selectors.member_cards(member=member),
        "notices": list(CardNotice.objects.filter(card__member=member).order_by("-created_at", "-id")[:10]),
        "can_report_lost": access_for(request.user).can(Cap.CARD_CORRECT),
        "losable": LOSABLE,
        "cancellable": (S.APPLIED, S.REJECTED_BY_BANK),
    }


def union_panel(request, _obj):
    """For a grassroots clerk: cards to receive, to distribute, to activate, and notices."""
    access = access_for(request.user)
    if not access.can(Cap.UNION_DESK):
        return None
    union = access.union
    counts = selectors.union_status_counts(union=union)
    return {
        "title": "领卡与发放",
        "union": union,
        "issued": counts[S.ISSUED],
        "received": counts[S.RECEIVED],
        "distributed": counts[S.DISTRIBUTED],
        "notices": selectors.notices_for_union(union=union).count(),
    }


def batches_panel(request, _obj):
    """For city staff, the bank operator and admins: the batch pipeline."""
    if not access_for(request.user).can(Cap.BATCH_MANAGE):
        return None
    cards = scope_queryset(Card.objects.all(), request.user)
    batches = selectors.batch_list_for_user(user=request.user)
    return {
        "title": "银行批次",
        "waiting": cards.filter(status=S.APPLIED).count(),
        "rejected": cards.filter(status=S.REJECTED_BY_BANK).count(),
        "open": batches.filter(
            status__in=[BankBatch.BatchStatus.HANDED_OFF, BankBatch.BatchStatus.PARTLY_RETURNED]
        ).count(),
        "recent": list(batches[:5]),
    }
