"""Keep the analytics snapshots (models.py) current from the feed's roll-ups.

`activity_refresh()` regroups CardUsage and the activated cards per grassroots union (one pass
each: ~1-2 s at 1.5 M cards, in a task, never in a request) and counts each segment's members
per union from the segment's own definition (segments.py); `spend_refresh(month)` regroups one
month of UsageDay per union, category and place. The beat task runs both nightly; the usage
import's signal refreshes the months it touched; a page finding no snapshot at all builds it once."""

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from issuance.models import Card
from members.models import Union
from merchants.usage.models import CardUsage, UsageDay

from .models import UnionActivity, UnionSpendMonth

COUNTY_LEVELS = (Union.Level.COUNTY, Union.Level.INDUSTRY)


def county_of_unions() -> dict[int, int]:
    """union id -> the id of its county-level union (itself for a county; unions above a county
    map to themselves: their own cards are counted on their own line)."""
    rows = list(Union.objects.values_list("pk", "path", "level"))
    counties = {path: pk for pk, path, level in rows if level in COUNTY_LEVELS}
    result = {}
    for pk, path, _level in rows:
        parts = path.split("/")[:-1]
        found = pk
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i]) + "/"
            if prefix in counties:
                found = counties[prefix]
                break
        result[pk] = found
    return result


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


@transaction.atomic
def activity_refresh(*, today: date | None = None) -> int:
    """Rebuild UnionActivity as of `today`; returns the number of union rows."""
    from .segments import snapshot_counts  # segments reads county_of_unions from here

    today = today or timezone.localdate()
    d30, d90 = today - timedelta(days=29), today - timedelta(days=89)
    figures: dict[int, dict] = {}
    usage = CardUsage.objects.values("union_id").annotate(
        ever=Count("pk"),
        a30=Count("pk", filter=Q(last_used_on__gte=d30)),
        a90=Count("pk", filter=Q(last_used_on__gte=d90)),
    )
    for row in usage.order_by():
        figures.setdefault(row["union_id"], {}).update(
            used_ever=row["ever"], active30=row["a30"], active90=row["a90"]
        )
    activated = Card.objects.filter(status=Card.Status.ACTIVATED)
    for row in activated.values("union_id").annotate(n=Count("pk")).order_by():
        figures.setdefault(row["union_id"], {})["activated"] = row["n"]
    unused = activated.filter(~Exists(CardUsage.objects.filter(card_id=OuterRef("pk"))))
    for row in unused.values("union_id").annotate(n=Count("pk")).order_by():
        figures.setdefault(row["union_id"], {})["never_used"] = row["n"]
    for column, per_union in snapshot_counts(today=today).items():
        for uid, n in per_union.items():
            figures.setdefault(uid, {})[column] = n
    counties = county_of_unions()
    UnionActivity.objects.all().delete()
    UnionActivity.objects.bulk_create(
        [
            UnionActivity(as_of=today, union_id=uid, county_id=counties.get(uid, uid), **values)
            for uid, values in figures.items()
            if uid in counties
        ],
        batch_size=2000,
    )
    return len(figures)


@transaction.atomic
def spend_refresh(month: date) -> int:
    """Rebuild one month of UnionSpendMonth from UsageDay; returns the number of rows."""
    month = month_start(month)
    counties = county_of_unions()
    rows = (
        UsageDay.objects.filter(day__gte=month, day__lt=next_month(month))
        .values("union_id", "category_id", "at_union_merchant")
        .annotate(txn=Sum("txn_count"), amount=Sum("amount"))
        .order_by()
    )
    UnionSpendMonth.objects.filter(month=month).delete()
    made = UnionSpendMonth.objects.bulk_create(
        [
            UnionSpendMonth(
                month=month,
                union_id=r["union_id"],
                county_id=counties.get(r["union_id"], r["union_id"]),
                category_id=r["category_id"],
                at_union_merchant=r["at_union_merchant"],
                txn_count=r["txn"] or 0,
                amount=r["amount"] or 0,
            )
            for r in rows
            if r["union_id"] in counties
        ],
        batch_size=2000,
    )
    return len(made)


def refresh_all(*, today: date | None = None) -> None:
    """The nightly refresh: activity, this month and the one before."""
    today = today or timezone.localdate()
    activity_refresh(today=today)
    this = month_start(today)
    spend_refresh(this)
    spend_refresh(month_start(this - timedelta(days=1)))


def ensure_snapshots() -> None:
    """A page that finds no snapshot yet (a fresh install, the tests) builds one first."""
    if not UnionActivity.objects.exists():
        refresh_all()
