"""Reads of the issuance app, always scoped to the user's union subtree (`members.access`)."""

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from members.access import get_for_user_or_404, scope_path, scope_queryset, visible_unions
from members.models import Union
from members.selectors import rows_by_child

from .models import BankBatch, BankFileImport, Card, CardEvent, CardFunction, CardNotice, CardReceipt, Wave

S = Card.Status
STAGES = [
    S.APPLIED,
    S.IN_BATCH,
    S.ISSUED,
    S.RECEIVED,
    S.DISTRIBUTED,
    S.ACTIVATED,
    S.REJECTED_BY_BANK,
    S.LOST,
    S.CANCELLED,
]
WEEK_STAGES = [S.APPLIED, S.IN_BATCH, S.ISSUED, S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED]


def batch_list_for_user(*, user) -> QuerySet[BankBatch]:
    return scope_queryset(BankBatch.objects.select_related("partner", "union", "wave", "created_by"), user)


def batch_get_for_user(*, user, pk) -> BankBatch:
    return get_for_user_or_404(
        BankBatch.objects.select_related("partner", "union", "wave", "created_by"), user, pk=pk
    )


def batch_status_counts(*, batch: BankBatch) -> dict[str, int]:
    """Cards of the batch per status, every stage present (0 when none)."""
    counts = dict.fromkeys(STAGES, 0)
    for row in Card.objects.filter(batch=batch).values("status").order_by().annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def batch_rejected_cards(*, batch: BankBatch, limit: int = 200) -> QuerySet[Card]:
    """The batch's cards the bank rejected, for the page's 重新报送 list."""
    return Card.objects.filter(batch=batch, status=S.REJECTED_BY_BANK).select_related("member", "union")[
        :limit
    ]


def batch_rejected_ids(*, batch: BankBatch, ids: list[int]) -> list[int]:
    """Of the ticked ids, those that are the batch's rejected cards (any other id is ignored)."""
    return list(
        Card.objects.filter(batch=batch, pk__in=ids, status=S.REJECTED_BY_BANK).values_list("pk", flat=True)
    )


def batch_units(*, batch: BankBatch):
    """Per grassroots union of the batch: its id, name, parent's name and card count (the paperwork)."""
    return (
        Card.objects.filter(batch=batch)
        .values("union__id", "union__name", "union__parent__name")
        .annotate(n=Count("id"))
        .order_by("union__path")
    )


def import_get_for_user(*, user, pk) -> BankFileImport:
    return get_for_user_or_404(
        BankFileImport.objects.select_related("batch", "union", "created_by", "same_as"), user, pk=pk
    )


def import_list_for_user(*, user, kind: str | None = None) -> QuerySet[BankFileImport]:
    qs = scope_queryset(BankFileImport.objects.select_related("batch", "union", "created_by"), user)
    return qs.filter(kind=kind) if kind else qs


def card_get_for_user(*, user, pk) -> Card:
    return get_for_user_or_404(Card.objects.select_related("member", "union"), user, pk=pk)


def union_get_for_user(*, user, pk) -> Union:
    return get_for_user_or_404(Union.objects.select_related("parent"), user, union_field="", pk=pk)


def union_cards(*, union: Union, status: str) -> QuerySet[Card]:
    """Cards of a union's subtree in one status, for the receipt/distribution/activation lists."""
    return (
        Card.objects.filter(union__path__startswith=union.path, status=status)
        .select_related("member", "union", "batch")
        .order_by("union__path", "member__name", "id")
    )


def union_status_counts(*, union: Union) -> dict[str, int]:
    rows = Card.objects.filter(union__path__startswith=union.path).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(STAGES, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def notices_for_union(*, union: Union, unread_only: bool = True) -> QuerySet[CardNotice]:
    qs = CardNotice.objects.filter(union__path__startswith=union.path).select_related("card", "union")
    return qs.filter(read_at__isnull=True) if unread_only else qs


def notice_get_for_user(*, user, pk) -> CardNotice:
    return get_for_user_or_404(CardNotice.objects.all(), user, pk=pk)


def receipts_for_union(*, union: Union) -> QuerySet[CardReceipt]:
    return CardReceipt.objects.filter(union__path__startswith=union.path).select_related(
        "actor", "batch", "union"
    )


def live_card_of(member) -> Card | None:
    return Card.objects.filter(member=member).live().order_by("-id").first()


def live_cards_of(member_ids) -> dict[int, Card]:
    """member id -> live card, one query (the database allows at most one live card per member)."""
    return {c.member_id: c for c in Card.objects.filter(member_id__in=list(member_ids)).live()}


def member_cards(*, member) -> list[Card]:
    events = CardEvent.objects.select_related("actor").order_by("at", "id")
    return list(
        Card.objects.filter(member=member)
        .select_related("batch", "replaces", "partner")
        .prefetch_related(
            Prefetch("events", queryset=events),
            Prefetch("functions", queryset=CardFunction.objects.select_related("partner").order_by("id")),
        )
        .order_by("-applied_at", "-id")
    )


# --- waves ------------------------------------------------------------------------------------
def _ancestor_paths(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def wave_list_for_user(*, user) -> QuerySet[Wave]:
    """Waves planned by a union in the user's subtree or above it (a county sees the city's plan)."""
    path = scope_path(user)
    qs = Wave.objects.select_related("owner", "partner").prefetch_related("unions")
    if path is None:
        return qs.none()
    if path == "":
        return qs
    return qs.filter(Q(owner__path__startswith=path) | Q(owner__path__in=_ancestor_paths(path)))


def wave_get_for_user(*, user, pk) -> Wave:
    wave = wave_list_for_user(user=user).filter(pk=pk).first()
    if wave is None:
        from django.http import Http404

        raise Http404
    return wave


def wave_progress(*, wave: Wave) -> dict:
    """Members' first cards (replacements excluded) in the wave's areas that reached each stage
    between the wave's start and its deadline."""
    area = Q()
    for union in wave.unions.all():
        area |= Q(union__path__startswith=union.path)
    cards = Card.objects.filter(area, replaces__isnull=True) if area else Card.objects.none()
    end = timezone.make_aware(
        timezone.datetime.combine(wave.deadline + timedelta(days=1), timezone.datetime.min.time())
    )
    start = (
        timezone.make_aware(timezone.datetime.combine(wave.starts_on, timezone.datetime.min.time()))
        if wave.starts_on
        else None
    )

    def within(field: str) -> Q:
        window = Q(**{f"{field}__lt": end})
        return window & Q(**{f"{field}__gte": start}) if start else window

    # Stages reached inside the wave's window (from its start to the end of its deadline day).
    figures = cards.aggregate(
        applied=Count("id", filter=within("applied_at")),
        issued=Count("id", filter=within("issued_at")),
        received=Count("id", filter=within("received_at")),
        distributed=Count("id", filter=within("distributed_at")),
        activated=Count("id", filter=within("activated_at")),
    )
    today = timezone.localdate()
    figures["target"] = wave.target
    figures["percent"] = min(100, round(100 * figures["issued"] / wave.target)) if wave.target else 0
    figures["days_left"] = (wave.deadline - today).days
    figures["batches"] = wave.batches.count()
    return figures


# --- progress reports -------------------------------------------------------------------------
def progress_by_status(*, root: Union) -> list[dict]:
    """One row per direct child of `root` (its subtree's cards by status), plus `root`'s total.
    One GROUP BY over the subtree; rolled up to the children by path prefix."""
    rows = (
        Card.objects.filter(union__path__startswith=root.path)
        .values("union__path", "status")
        .annotate(n=Count("id"))
    )
    result = []
    for child, child_rows in rows_by_child(root=root, rows=rows):
        counts = dict.fromkeys(STAGES, 0)
        for row in child_rows:
            counts[row["status"]] += row["n"]
        issued = sum(counts[s] for s in (S.ISSUED, S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED))
        result.append(
            {
                "union": child,
                "counts": [counts[s] for s in STAGES],
                "total": sum(counts.values()),
                "issued": issued,
            }
        )
    return result


def progress_by_week(*, root: Union, weeks: int = 12, until: date | None = None) -> list[dict]:
    """Card events in `root`'s subtree by ISO week (Monday) and stage, newest week first."""
    until = until or timezone.localdate()
    monday = until - timedelta(days=until.weekday())
    start = monday - timedelta(weeks=weeks - 1)
    start_at = timezone.make_aware(timezone.datetime.combine(start, timezone.datetime.min.time()))
    rows = (
        CardEvent.objects.filter(
            card__union__path__startswith=root.path, at__gte=start_at, to_status__in=WEEK_STAGES
        )
        .annotate(week=TruncWeek("at"))
        .values("week", "to_status")
        .annotate(n=Count("id"))
    )
    table = defaultdict(lambda: dict.fromkeys(WEEK_STAGES, 0))
    for row in rows:
        week = row["week"].date() if hasattr(row["week"], "date") else row["week"]
        table[week][row["to_status"]] += row["n"]
    result = []
    for i in range(weeks):
        week = monday - timedelta(weeks=i)
        iso = week.isocalendar()
        result.append(
            {
                "week": week,
                "label": f"{iso.year}年第{iso.week}周",
                "counts": [table[week][s] for s in WEEK_STAGES],
            }
        )
    return result


def report_roots_for_user(*, user) -> QuerySet[Union]:
    """Unions a user may report on (their subtree, above the grassroots level)."""
    return (
        visible_unions(user)
        .exclude(level__in=[Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH])
        .order_by("path")
    )
