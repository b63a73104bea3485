"""The figures of the analytics pages, each scoped to the user's union subtree (members.access).

Every page reads the snapshots (models.py), the feed's MerchantMonth, and indexed columns; none
touches the transaction table. Row objects are plain dataclasses the pages and the workbooks share."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum

from benefits.models import DisbursementLine
from members.access import access_for, scope_queryset
from members.models import Union
from merchants.models import Merchant, MerchantCategory
from merchants.usage.models import MerchantMonth

from .models import UnionActivity, UnionSpendMonth
from .refresh import ensure_snapshots, month_start, spend_refresh


def pct(part, whole) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1")) if whole else None


def previous_month(month: date) -> date:
    return month_start(month - timedelta(days=1))


def default_month() -> date:
    last = UnionSpendMonth.objects.order_by("-month").values_list("month", flat=True).first()
    return last or month_start(date.today())


# --- 1. active cards ---------------------------------------------------------------------------
@dataclass
class ActivityRow:
    union: Union
    activated: int = 0
    used_ever: int = 0
    active30: int = 0
    active90: int = 0
    never_used: int = 0

    @property
    def rate30(self):
        return pct(self.active30, self.activated)

    @property
    def rate90(self):
        return pct(self.active90, self.activated)


@dataclass
class ActivityTable:
    level: str  # "county" or "union"
    rows: list[ActivityRow]
    total: ActivityRow
    as_of: date | None
    county: Union | None = None


FIGURES = ("activated", "used_ever", "active30", "active90", "never_used")


def _scoped_activity(user):
    return scope_queryset(UnionActivity.objects.all(), user)


def activity_table(*, user, county: Union | None = None) -> ActivityTable:
    """Per county (the user sees more than one county) or per grassroots union (a county user, or
    `county` chosen), with the scope's total."""
    ensure_snapshots()
    qs = _scoped_activity(user)
    own = access_for(user).union
    if county is None and own is not None and own.level in (Union.Level.COUNTY, Union.Level.INDUSTRY):
        county = own
    if county is not None:
        qs, key, level = qs.filter(county=county), "union_id", "union"
    else:
        key, level = "county_id", "county"
    sums = {f: Sum(f) for f in FIGURES}
    grouped = list(qs.values(key).annotate(**sums).order_by())
    unions = Union.objects.in_bulk([g[key] for g in grouped])
    rows = [
        ActivityRow(unions[g[key]], **{f: g[f] or 0 for f in FIGURES}) for g in grouped if g[key] in unions
    ]
    rows.sort(key=lambda r: r.union.path)
    total = ActivityRow(own or Union(name="全部"), **{f: sum(getattr(r, f) for r in rows) for f in FIGURES})
    as_of = UnionActivity.objects.values_list("as_of", flat=True).first()
    return ActivityTable(level=level, rows=rows, total=total, as_of=as_of, county=county)


def county_get_for_user(*, user, pk: int) -> Union:
    from members.access import get_for_user_or_404

    return get_for_user_or_404(
        Union.objects.filter(level__in=(Union.Level.COUNTY, Union.Level.INDUSTRY)),
        user,
        union_field="",
        pk=pk,
    )


# --- 2. spending at union merchants ------------------------------------------------------------
@dataclass
class SpendTable:
    month: date
    previous: date
    categories: list[MerchantCategory]
    counties: list[Union]
    # (county id, category id) -> (this month, previous month) amounts at union merchants
    cells: dict[tuple[int, int | None], tuple[Decimal, Decimal]] = field(default_factory=dict)
    by_category: list[tuple[str, Decimal, Decimal, Decimal | None]] = field(default_factory=list)
    outside: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))
    txns: tuple[int, int] = (0, 0)


def _month_rows(user, month: date):
    qs = UnionSpendMonth.objects.filter(month=month)
    if not qs.exists() and month <= month_start(date.today()):
        spend_refresh(month)
    return scope_queryset(qs, user)


def spend_table(*, user, month: date) -> SpendTable:
    prev = previous_month(month)
    cells: dict = {}
    outside = [Decimal(0), Decimal(0)]
    txns = [0, 0]
    for i, m in enumerate((month, prev)):
        rows = _month_rows(user, m).values("county_id", "category_id", "at_union_merchant")
        for r in rows.annotate(a=Sum("amount"), n=Sum("txn_count")).order_by():
            if not r["at_union_merchant"]:
                outside[i] += r["a"] or 0
                continue
            txns[i] += r["n"] or 0
            cell = cells.setdefault((r["county_id"], r["category_id"]), [Decimal(0), Decimal(0)])
            cell[i] += r["a"] or 0
    categories = list(MerchantCategory.objects.order_by("order", "name"))
    counties = sorted(Union.objects.in_bulk({c for c, _ in cells}).values(), key=lambda u: u.path)
    by_category = []
    for cat in [*categories, None]:
        now = sum((v[0] for (c, k), v in cells.items() if k == (cat.pk if cat else None)), Decimal(0))
        before = sum((v[1] for (c, k), v in cells.items() if k == (cat.pk if cat else None)), Decimal(0))
        if cat is not None or now or before:
            change = pct(now - before, before) if before else None
            by_category.append((cat.name if cat else "未分类", now, before, change))
    return SpendTable(
        month=month,
        previous=prev,
        categories=categories,
        counties=counties,
        cells={k: tuple(v) for k, v in cells.items()},
        by_category=by_category,
        outside=tuple(outside),
        txns=tuple(txns),
    )


# --- 3. merchant ranking -----------------------------------------------------------------------
@dataclass
class MerchantRow:
    merchant: Merchant
    cards: int
    repeat_cards: int
    txn_count: int
    amount: Decimal
    cards_before: int

    @property
    def repeat_rate(self):
        return pct(self.repeat_cards, self.cards)


def merchant_ranking(*, user, month: date) -> tuple[list[MerchantRow], list[Merchant]]:
    """Union merchants in scope ranked by members served in `month` (then repeat visitors), and
    the active merchants no member used in the three months to `month` (exit candidates)."""
    merchants = scope_queryset(Merchant.objects.exclude(status=Merchant.Status.EXITED), user)
    in_scope = merchants.values("pk")  # a subquery: no list of ids goes back and forth
    prev = previous_month(month)
    months = MerchantMonth.objects.filter(merchant_id__in=in_scope, month__in=(month, prev)).values_list(
        "merchant_id", "month", "cards", "repeat_cards", "txn_count", "amount"
    )
    now, before = {}, {}
    for pk, m, cards, repeat, txns, amount in months:
        if m == month:
            now[pk] = (cards, repeat, txns, amount)
        else:
            before[pk] = cards
    window = previous_month(prev)
    used = MerchantMonth.objects.filter(
        merchant_id=OuterRef("pk"), month__gte=window, month__lte=month, cards__gt=0
    )
    unused = list(
        merchants.filter(~Exists(used)).select_related("category", "union").order_by("union__path", "name")
    )
    by_id = merchants.filter(pk__in=list(now)).select_related("category", "union").in_bulk()
    rows = [MerchantRow(by_id[pk], *figures, before.get(pk, 0)) for pk, figures in now.items() if pk in by_id]
    rows.sort(key=lambda r: (-r.cards, -r.repeat_cards, r.merchant.name))
    return rows, unused


# --- 4. benefit and subsidy uptake -------------------------------------------------------------
@dataclass
class UptakeRow:
    label: str
    members: int
    lines: int
    approved: Decimal
    paid: Decimal
    failed: Decimal

    @property
    def spent_rate(self):
        return pct(self.paid, self.approved)


def benefit_uptake(*, user) -> list[UptakeRow]:
    """Per programme (or kind of batch without one): members who received money, and of the lines
    in approved batches, how much was paid and how much failed."""
    lines = scope_queryset(DisbursementLine.objects.all(), user, union_field="disbursement__union").exclude(
        disbursement__state__in=("draft", "submitted")
    )
    grouped = lines.values("disbursement__kind", "disbursement__programme__name").annotate(
        members=Count("member_id", distinct=True, filter=Q(status="paid")),
        n=Count("pk"),
        approved=Sum("amount"),
        paid=Sum("amount", filter=Q(status="paid")),
        failed=Sum("amount", filter=Q(status="failed")),
    )
    from benefits.models import Disbursement

    kinds = dict(Disbursement.Kind.choices)
    rows = [
        UptakeRow(
            g["disbursement__programme__name"]
            or str(kinds.get(g["disbursement__kind"], g["disbursement__kind"])),
            g["members"],
            g["n"],
            g["approved"] or Decimal(0),
            g["paid"] or Decimal(0),
            g["failed"] or Decimal(0),
        )
        for g in grouped.order_by()
    ]
    return sorted(rows, key=lambda r: -r.paid)


def recipients(*, user, limit: int | None = None):
    """Who received what: paid lines in scope, newest first (name, union, programme, amount;
    the card number is never read)."""
    qs = (
        scope_queryset(
            DisbursementLine.objects.filter(status="paid"), user, union_field="disbursement__union"
        )
        .order_by("-paid_at", "-pk")
        .values(
            "name",
            "member__union__name",
            "disbursement__name",
            "disbursement__programme__name",
            "amount",
            "paid_at",
            "member__is_hardship",
        )
    )
    return qs[:limit] if limit else qs
