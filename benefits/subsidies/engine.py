"""Earning subsidies from one transaction import, and taking them back on refunds.

How the budget holds (docs/subsidies.md): each campaign is computed in its own transaction that
first locks the campaign row (`SELECT … FOR UPDATE`). Two imports, or the same import twice, that
reach one campaign at once therefore run one after the other; the second one's statements (READ
COMMITTED) see the first one's committed earnings and `spent`. Within the lock:

0. the import's refunds and reversals first take back what they undo (`_claw_back`), so that
   what they free is there for this import's purchases, and a second run finds the state the
   first one left;
1. every qualifying purchase of the import without an earning yet, and not refunded or reversed
   in the same import, gets its raw subsidy (the rule, rounded down to the cent, capped per
   transaction);
2. the per-member monthly cap: in the order (txn_at, id), a member's transactions of one month
   earn `min(room, prefix incl.) - min(room, prefix excl.)`, where `room` is the cap less what
   earlier imports already gave that member that month: exactly what one-at-a-time greedy
   granting gives, as one window function;
3. the budget, the same way over all candidates with `room` = budget - spent: the last subsidy
   that fits only partly gets the part that is left (a partial last subsidy), later ones none;
4. one earning row per (campaign, transaction): `ON CONFLICT DO NOTHING` on the unique index;
5. `spent` moves by a conditional `UPDATE … WHERE spent + delta <= budget`, and a check
   constraint holds it within the budget, whatever else writes it.

PostgreSQL runs 1–4 as one set-based statement; SQLite (tests, small installs) runs the same rule
in Python, row by row. Refunds are few (about 1 %), so both databases share `_claw_back`.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.bulk import chunked, is_postgresql
from cardportal.errors import ApplicationError
from merchants.usage.models import CardTransaction

from .models import SubsidyCampaign, SubsidyEarning

CENT = Decimal("0.01")
E = SubsidyEarning.Status


@dataclass
class Outcome:
    earned: int = 0
    earned_amount: Decimal = Decimal("0.00")
    cancelled: int = 0
    clawbacks: int = 0
    released: Decimal = Decimal("0.00")
    campaigns: list[int] = field(default_factory=list)


def _bounds(campaign: SubsidyCampaign) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(campaign.starts_on, time.min))
    end = timezone.make_aware(datetime.combine(campaign.ends_on + timedelta(days=1), time.min))
    return start, end


def month_of(moment: datetime) -> date:
    return timezone.localtime(moment).date().replace(day=1)


def raw_subsidy(campaign: SubsidyCampaign, amount: Decimal) -> Decimal:
    """The rule for one purchase, before the monthly cap and the budget."""
    if campaign.rule == SubsidyCampaign.Rule.FIXED:
        return campaign.fixed_amount
    raw = (amount * campaign.percent / 100).quantize(CENT, rounding=ROUND_DOWN)
    if campaign.cap_per_txn is not None:
        raw = min(raw, campaign.cap_per_txn)
    return raw


def compute_import(txn_import_id: int) -> Outcome:
    """Every active campaign against one import; each campaign in its own locked transaction."""
    outcome = Outcome()
    ids = SubsidyCampaign.objects.filter(is_active=True).order_by("id").values_list("id", flat=True)
    for campaign_id in ids:
        compute_campaign(campaign_id, txn_import_id, outcome)
        outcome.campaigns.append(campaign_id)
    return outcome


@transaction.atomic
def compute_campaign(campaign_id: int, txn_import_id: int, outcome: Outcome | None = None) -> Outcome:
    outcome = outcome if outcome is not None else Outcome()
    campaign = SubsidyCampaign.objects.select_for_update().get(pk=campaign_id)
    if not campaign.is_active:
        return outcome
    # Refunds first: what they give back is room for this import's purchases, and an import
    # computed again then finds exactly the state its first run left (it earns nothing more).
    cancelled, clawbacks, released = _claw_back(campaign, txn_import_id)
    campaign.spent -= released
    earn = _earn_sql if is_postgresql() else _earn_python
    count, amount = earn(campaign, txn_import_id)
    delta = amount - released
    if delta:
        moved = SubsidyCampaign.objects.filter(
            pk=campaign.pk, budget__gte=F("spent") + delta, spent__gte=-delta
        ).update(spent=F("spent") + delta)
        if moved != 1:  # never expected: the lock and the rule above keep within budget
            raise ApplicationError(f"“{campaign.name}”预算不足，补贴未入账", code="budget")
    if count or cancelled or clawbacks:
        audit_record(
            actor=None,
            verb="subsidy_campaign.computed",
            target=campaign,
            data={
                "txn_import": txn_import_id,
                "earned": count,
                "amount": str(amount),
                "cancelled": cancelled,
                "clawbacks": clawbacks,
                "released": str(released),
            },
        )
    outcome.earned += count
    outcome.earned_amount += amount
    outcome.cancelled += cancelled
    outcome.clawbacks += clawbacks
    outcome.released += released
    return outcome


def _filters(campaign: SubsidyCampaign) -> tuple[str, dict]:
    where, params = [], {}
    merchants = list(campaign.merchants.values_list("id", flat=True))
    categories = list(campaign.categories.values_list("id", flat=True))
    if merchants or categories:
        where.append("(t.merchant_id = ANY(%(merchants)s) OR t.category_id = ANY(%(categories)s))")
        params.update(merchants=merchants, categories=categories)
    if campaign.audience == SubsidyCampaign.Audience.HARDSHIP:
        where.append("m.is_hardship")
    return "".join(f" AND {w}" for w in where), params


_EARN_SQL = """
WITH cand AS (
  SELECT t.id, t.txn_at, t.partner_id, t.reference, t.card_id, c.member_id, m.union_id, t.merchant_id,
         t.amount, date_trunc('month', t.txn_at AT TIME ZONE %(tz)s)::date AS month, {raw} AS raw
  FROM usage_cardtransaction t
  JOIN issuance_card c ON c.id = t.card_id
  JOIN members_member m ON m.id = c.member_id
  JOIN members_union u ON u.id = m.union_id
  WHERE t.txn_import_id = %(import_id)s AND t.kind = 'purchase' AND t.merchant_id IS NOT NULL
    AND t.txn_at >= %(start)s AND t.txn_at < %(end)s AND t.amount > 0 AND t.amount >= %(min_spend)s
    AND u.path LIKE %(path)s {filters}
    AND NOT EXISTS (SELECT 1 FROM subsidies_subsidyearning e
                    WHERE e.campaign_id = %(campaign)s AND e.txn_id = t.id)
    -- one import is one partner's file: its refunds name purchases by reference (a hashed
    -- subplan, never a per-row probe of the import's rows)
    AND t.reference NOT IN (SELECT r.original_reference FROM usage_cardtransaction r
                            WHERE r.txn_import_id = %(import_id)s AND r.kind <> 'purchase'
                              AND r.original_reference <> '')
), used AS (
  SELECT e.member_id, e.month, SUM(e.amount) AS used FROM subsidies_subsidyearning e
  WHERE e.campaign_id = %(campaign)s AND e.amount > 0 AND e.status <> 'cancelled'
    AND e.member_id IN (SELECT member_id FROM cand)
  GROUP BY e.member_id, e.month
), roomy AS (
  SELECT cand.*, GREATEST(0, %(member_cap)s - COALESCE(used.used, 0)) AS room
  FROM cand LEFT JOIN used USING (member_id, month) WHERE cand.raw > 0
), capped AS (
  SELECT roomy.*, {by_member} AS by_member FROM roomy
  WINDOW w AS (PARTITION BY member_id, month ORDER BY txn_at, id)
), budgeted AS (
  SELECT capped.*, LEAST(%(left)s, SUM(by_member) OVER b) - LEAST(%(left)s, SUM(by_member) OVER b - by_member)
         AS earned
  FROM capped WHERE by_member > 0
  WINDOW b AS (ORDER BY txn_at, id)
), ins AS (
  INSERT INTO subsidies_subsidyearning (campaign_id, txn_id, txn_at, month, partner_id, reference, card_id,
         member_id, union_id, merchant_id, txn_amount, amount, status, after_payout, created_at)
  SELECT %(campaign)s, id, txn_at, month, partner_id, reference, card_id, member_id, union_id, merchant_id,
         amount, earned, 'earned', false, now()
  FROM budgeted WHERE earned > 0
  ON CONFLICT (campaign_id, txn_id) DO NOTHING
  RETURNING amount
)
SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ins
"""


def _earn_sql(campaign: SubsidyCampaign, txn_import_id: int) -> tuple[int, Decimal]:
    filters, params = _filters(campaign)
    if campaign.rule == SubsidyCampaign.Rule.FIXED:
        raw = "%(fixed)s::numeric"
    else:
        raw = "trunc(t.amount * %(percent)s / 100, 2)"
        if campaign.cap_per_txn is not None:
            raw = f"LEAST({raw}, %(cap_txn)s)"
    if campaign.cap_per_member_month is None:
        by_member, member_cap = "raw", 0
    else:
        by_member = "LEAST(room, SUM(raw) OVER w) - LEAST(room, SUM(raw) OVER w - raw)"
        member_cap = campaign.cap_per_member_month
    start, end = _bounds(campaign)
    area = campaign.area or campaign.union
    params.update(
        tz=settings.TIME_ZONE,
        import_id=txn_import_id,
        start=start,
        end=end,
        min_spend=campaign.min_spend,
        path=area.path + "%",
        campaign=campaign.pk,
        member_cap=member_cap,
        left=campaign.remaining,
        fixed=campaign.fixed_amount,
        percent=campaign.percent,
        cap_txn=campaign.cap_per_txn,
    )
    with connection.cursor() as cursor:
        cursor.execute(_EARN_SQL.format(raw=raw, filters=filters, by_member=by_member), params)
        count, amount = cursor.fetchone()
    return count, Decimal(amount).quantize(CENT)


def _candidates(campaign: SubsidyCampaign, txn_import_id: int):
    start, end = _bounds(campaign)
    area = campaign.area or campaign.union
    qs = CardTransaction.objects.filter(
        txn_import_id=txn_import_id,
        kind=CardTransaction.Kind.PURCHASE,
        merchant_id__isnull=False,
        txn_at__gte=start,
        txn_at__lt=end,
        amount__gt=0,
        amount__gte=campaign.min_spend,
        card__member__union__path__startswith=area.path,
    )
    merchants = list(campaign.merchants.values_list("id", flat=True))
    categories = list(campaign.categories.values_list("id", flat=True))
    if merchants or categories:
        qs = qs.filter(Q(merchant_id__in=merchants) | Q(category_id__in=categories))
    if campaign.audience == SubsidyCampaign.Audience.HARDSHIP:
        qs = qs.filter(card__member__is_hardship=True)
    done = SubsidyEarning.objects.filter(campaign=campaign).values("txn_id")
    return (
        qs.exclude(id__in=done)
        .order_by("txn_at", "id")
        .values(
            "id",
            "txn_at",
            "partner_id",
            "reference",
            "card_id",
            "card__member_id",
            "card__member__union_id",
            "merchant_id",
            "amount",
        )
    )


def _earn_python(campaign: SubsidyCampaign, txn_import_id: int) -> tuple[int, Decimal]:
    """The same rule as `_EARN_SQL`, one transaction at a time (SQLite)."""
    undone = set(
        CardTransaction.objects.filter(txn_import_id=txn_import_id)
        .exclude(kind=CardTransaction.Kind.PURCHASE)
        .values_list("partner_id", "original_reference")
    )
    rows = [
        r for r in _candidates(campaign, txn_import_id) if (r["partner_id"], r["reference"]) not in undone
    ]
    used: dict[tuple[int, date], Decimal] = {}
    for row in (
        SubsidyEarning.objects.filter(campaign=campaign, amount__gt=0)
        .exclude(status=E.CANCELLED)
        .filter(member_id__in={r["card__member_id"] for r in rows})
        .values("member_id", "month")
        .annotate(total=Sum("amount"))
    ):
        used[(row["member_id"], row["month"])] = row["total"]
    left, earnings = campaign.remaining, []
    for r in rows:
        member, month = r["card__member_id"], month_of(r["txn_at"])
        amount = raw_subsidy(campaign, r["amount"])
        if campaign.cap_per_member_month is not None:
            room = max(Decimal("0"), campaign.cap_per_member_month - used.get((member, month), Decimal("0")))
            amount = min(amount, room)
        amount = min(amount, left)
        if amount <= 0:
            continue
        used[(member, month)] = used.get((member, month), Decimal("0")) + amount
        left -= amount
        earnings.append(
            SubsidyEarning(
                campaign=campaign,
                txn_id=r["id"],
                txn_at=r["txn_at"],
                month=month,
                partner_id=r["partner_id"],
                reference=r["reference"],
                card_id=r["card_id"],
                member_id=member,
                union_id=r["card__member__union_id"],
                merchant_id=r["merchant_id"],
                txn_amount=r["amount"],
                amount=amount,
            )
        )
    SubsidyEarning.objects.bulk_create(earnings, batch_size=2000)
    return len(earnings), sum((e.amount for e in earnings), Decimal("0.00"))


def _claw_back(campaign: SubsidyCampaign, txn_import_id: int) -> tuple[int, int, Decimal]:
    """Refunds and reversals of this import that undo a subsidised purchase (same partner,
    `original_reference`). Not yet in a batch: a full refund cancels the subsidy, a partial one
    adds a negative row that nets in the same batch; both give the budget back. Already in a
    batch (paid or being paid): a negative row `after_payout` that the next month's batch deducts
    from the member's subsidies; the budget is not given back (the money is out)."""
    refunds = list(
        CardTransaction.objects.filter(
            txn_import_id=txn_import_id,
            kind__in=[CardTransaction.Kind.REFUND, CardTransaction.Kind.REVERSAL],
        )
        .exclude(original_reference="")
        .values("id", "partner_id", "original_reference", "amount", "txn_at")
        .order_by("txn_at", "id")
    )
    cancelled = clawbacks = 0
    released = Decimal("0.00")
    for chunk in chunked(refunds, 2000):
        originals = {
            (e.partner_id, e.reference): e
            for e in SubsidyEarning.objects.filter(
                campaign=campaign, amount__gt=0, reference__in={r["original_reference"] for r in chunk}
            ).exclude(status=E.CANCELLED)
        }
        done = set(
            SubsidyEarning.objects.filter(campaign=campaign, txn_id__in=[r["id"] for r in chunk]).values_list(
                "txn_id", flat=True
            )
        )
        taken = _taken_back([e.pk for e in originals.values()])
        for r in chunk:
            original = originals.get((r["partner_id"], r["original_reference"]))
            if original is None or r["id"] in done or original.status == E.CANCELLED:
                continue
            result = _claw_one(original, r, taken)
            if result == "cancelled":
                cancelled += 1
                released += original.amount
            elif result is not None:
                clawbacks += 1
                if not result.after_payout:
                    released += -result.amount
    return cancelled, clawbacks, released


def _taken_back(original_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        SubsidyEarning.objects.filter(reverses_id__in=original_ids)
        .values("reverses_id")
        .annotate(total=Sum("amount"))
    )
    return {row["reverses_id"]: -row["total"] for row in rows}


def _claw_one(original: SubsidyEarning, refund: dict, taken: dict[int, Decimal]):
    already = taken.get(original.pk, Decimal("0.00"))
    left = original.amount - already
    if left <= 0:
        return None
    share = (original.amount * abs(refund["amount"]) / original.txn_amount).quantize(CENT, ROUND_HALF_UP)
    claw = min(left, share)
    if claw <= 0:
        return None
    if original.status == E.EARNED and claw == original.amount:
        original.status, original.cancelled_by_txn = E.CANCELLED, refund["id"]
        original.save(update_fields=["status", "cancelled_by_txn"])
        return "cancelled"
    taken[original.pk] = already + claw
    return SubsidyEarning.objects.create(
        campaign_id=original.campaign_id,
        txn_id=refund["id"],
        txn_at=refund["txn_at"],
        month=month_of(refund["txn_at"]),
        partner_id=original.partner_id,
        reference=original.reference,
        card_id=original.card_id,
        member_id=original.member_id,
        union_id=original.union_id,
        merchant_id=original.merchant_id,
        txn_amount=refund["amount"],
        amount=-claw,
        reverses=original,
        after_payout=original.status == E.BATCHED,
    )
