"""Reads of drops and tickets: the crowd's cheap snapshot, the member's own tickets, the staff's
scoped lists."""

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from issuance.models import Card
from members.access import get_for_user_or_404, scope_queryset
from members.models import Member

from .models import Drop, Ticket


@dataclass(frozen=True)
class DropSnapshot:
    """What a claim needs to know about a drop, kept in each web process for a moment
    (DROPS_SNAPSHOT_SECONDS): the crowd's requests read no drop row. Opening and closing are
    enforced again by the database write, so a stale snapshot cannot sell outside the window."""

    id: int
    key: str
    title: str
    tickets: int
    price: Decimal
    opens_at: datetime
    ends_at: datetime
    per_member_limit: int
    county_paths: tuple[str, ...]
    county_names: tuple[str, ...]
    hardship_only: bool


_snapshots: dict[int, tuple[float, DropSnapshot]] = {}


def drop_snapshot(drop_id: int) -> DropSnapshot:
    now = time.monotonic()
    hit = _snapshots.get(drop_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    drop = Drop.objects.filter(pk=drop_id).prefetch_related("counties").first()
    if drop is None:
        raise Http404
    counties = sorted(drop.counties.all(), key=lambda u: u.path)
    snap = DropSnapshot(
        id=drop.pk,
        key=drop.key,
        title=drop.title,
        tickets=drop.tickets,
        price=drop.price,
        opens_at=drop.opens_at,
        ends_at=drop.ends_at,
        per_member_limit=drop.per_member_limit,
        county_paths=tuple(u.path for u in counties),
        county_names=tuple(u.name for u in counties),
        hardship_only=drop.hardship_only,
    )
    _snapshots[drop_id] = (now + settings.DROPS_SNAPSHOT_SECONDS, snap)
    return snap


def drop_snapshot_forget(drop_id: int | None = None) -> None:
    if drop_id is None:
        _snapshots.clear()
    else:
        _snapshots.pop(drop_id, None)


def eligibility_reason(snap: DropSnapshot, member: Member, *, activated: bool | None = None) -> str:
    """ "" when the member may take part, else the sentence shown after 不符合条件：. Cheapest
    checks first; the card is the one query (an index on card.member), unless the caller looked
    it up already (`activated`: the winners' batch reads all its members' cards at once)."""
    if member.status != Member.Status.ACTIVE:
        return f"会籍状态为“{member.get_status_display()}”，在会会员才能参加"
    if snap.county_paths and not member.union.path.startswith(snap.county_paths):
        return f"本次活动仅限{'、'.join(snap.county_names)}的会员参加"
    if snap.hardship_only and not member.is_hardship:
        return "本次活动仅限困难职工参加"
    if activated is None:
        activated = Card.objects.filter(member_id=member.pk, status=Card.Status.ACTIVATED).exists()
    if not activated:
        return "需持已激活的工会会员卡（领卡后到银行网点激活即可）"
    return ""


def activated_members(member_ids) -> set[int]:
    return set(
        Card.objects.filter(member_id__in=member_ids, status=Card.Status.ACTIVATED).values_list(
            "member_id", flat=True
        )
    )


def drop_public_list() -> list[Drop]:
    """Drops a member sees: not yet ended, soonest first. Cached for everyone for a few seconds."""
    from django.core.cache import cache

    key = "drops:public-list"
    drops = cache.get(key)
    if drops is None:
        now = timezone.now()
        drops = list(
            Drop.objects.filter(closes_at__gt=now, closed_early_at__isnull=True)
            .select_related("merchant")
            .order_by("opens_at", "id")[:50]
        )
        cache.set(key, drops, settings.DROPS_SNAPSHOT_SECONDS)
    return drops


def drop_public_get(pk: int) -> Drop:
    for drop in drop_public_list():
        if drop.pk == pk:
            return drop
    drop = Drop.objects.select_related("merchant").filter(pk=pk).first()
    if drop is None:
        raise Http404
    return drop


def member_tickets(*, member: Member, drop: Drop | None = None) -> list[Ticket]:
    qs = Ticket.objects.filter(member=member).select_related("drop").order_by("-claimed_at", "-id")
    if drop is not None:
        qs = qs.filter(drop=drop)
    return list(qs)


def member_ticket_get(*, member: Member, pk: int) -> Ticket:
    ticket = Ticket.objects.select_related("drop", "drop__merchant").filter(member=member, pk=pk).first()
    if ticket is None:
        raise Http404
    return ticket


def drop_list_for_user(*, user) -> QuerySet[Drop]:
    return scope_queryset(Drop.objects.select_related("merchant", "union"), user).order_by("-opens_at", "-id")


def drop_get_for_user(*, user, pk: int) -> Drop:
    return get_for_user_or_404(Drop.objects.select_related("merchant", "union"), user, pk=pk)


def drop_counts(drop: Drop) -> dict[str, int]:
    """Tickets by status, one grouped query (the live count on the staff page)."""
    counts = dict(
        Ticket.objects.filter(drop=drop)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in Ticket.Status.values}


def drop_winners(drop: Drop) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(drop=drop, status__in=Ticket.HOLDING)
        .select_related("member", "member__union")
        .order_by("claimed_at", "id")
    )


def holders_from_db(drop_id: int) -> dict[int, int]:
    rows = (
        Ticket.objects.filter(drop_id=drop_id, status__in=Ticket.HOLDING)
        .values_list("member_id")
        .annotate(n=Count("id"))
        .values_list("member_id", "n")
    )
    return dict(rows)


def ticket_by_code_for_user(*, user, code: str) -> Ticket | None:
    return (
        scope_queryset(Ticket.objects.select_related("drop", "member"), user, union_field="drop__union")
        .filter(code=code)
        .first()
    )
