"""Writes to the merchant catalogue. Each service owns its transaction and audit row."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from issuance.models import Card

from .models import EvaluationPolicy, Merchant, MerchantEvaluation, MerchantReview

TWO_PLACES = Decimal("0.01")


def period_of(day: date) -> str:
    """The review period a day falls in: its quarter, "2016Q3"."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def merchant_score(*, merchant: Merchant, on: date, policy: EvaluationPolicy | None = None) -> tuple:
    """(score, count, flag) over the rolling window ending `on`.

    The score gives members' reviews and staff's routine evaluations equal weight (the mean of
    the two means; whichever exists alone otherwise), so a handful of staff visits neither drowns
    nor is drowned by hundreds of member ratings. Fewer than `min_ratings` ratings: no flag."""
    policy = policy or EvaluationPolicy.current()
    since = on - timedelta(days=policy.window_days)
    reviews = MerchantReview.objects.filter(
        merchant=merchant, reviewed_on__gt=since, reviewed_on__lte=on
    ).aggregate(avg=Avg("rating"), n=Count("id"))
    evaluations = MerchantEvaluation.objects.filter(
        merchant=merchant, evaluated_on__gt=since, evaluated_on__lte=on
    ).aggregate(avg=Avg("rating"), n=Count("id"))
    means = [Decimal(str(part["avg"])) for part in (reviews, evaluations) if part["n"]]
    count = reviews["n"] + evaluations["n"]
    if not means:
        return (
            None,
            0,
            Merchant.Flag.EXIT
            if merchant_unused(merchant=merchant, on=on, policy=policy)
            else Merchant.Flag.NONE,
        )
    score = (sum(means) / len(means)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    flag = Merchant.Flag.NONE
    if count >= policy.min_ratings:
        if score < policy.exit_below:
            flag = Merchant.Flag.EXIT
        elif score >= policy.promote_at_least:
            flag = Merchant.Flag.PROMOTE
    if merchant_unused(merchant=merchant, on=on, policy=policy):
        flag = Merchant.Flag.EXIT  # a merchant nobody uses is a candidate for exit, however rated
    return score, count, flag


def merchant_unused(*, merchant: Merchant, on: date, policy: EvaluationPolicy) -> bool:
    """No member swiped a card there in the last `unused_months` months (MerchantMonth, the
    card feed's roll-up), the contract is at least that old, and the feed is live (some merchant
    was used in that time): before the bank's feed runs, usage says nothing."""
    from .usage.models import MerchantMonth

    if not policy.unused_months:
        return False
    first = on.replace(day=1)
    for _ in range(policy.unused_months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    if merchant.contract_start > first:
        return False
    window = MerchantMonth.objects.filter(month__gte=first, month__lte=on, cards__gt=0)
    return window.exists() and not window.filter(merchant=merchant).exists()


def merchant_score_refresh(*, merchant: Merchant, on: date | None = None, policy=None) -> Merchant:
    """Store the rolling score and flag on the merchant (exited merchants keep no flag)."""
    on = on or timezone.localdate()
    score, count, flag = merchant_score(merchant=merchant, on=on, policy=policy)
    if merchant.status == Merchant.Status.EXITED:
        flag = Merchant.Flag.NONE
    Merchant.objects.filter(pk=merchant.pk).update(score=score, rating_count=count, flag=flag)
    merchant.score, merchant.rating_count, merchant.flag = score, count, flag
    return merchant


def merchant_scores_refresh_all(*, on: date | None = None) -> int:
    """Re-score every merchant that is not exited (the window rolls even without new ratings)."""
    policy = EvaluationPolicy.current()
    merchants = Merchant.objects.exclude(status=Merchant.Status.EXITED).only("pk", "status", "contract_start")
    n = 0
    for merchant in merchants.iterator(chunk_size=500):
        merchant_score_refresh(merchant=merchant, on=on, policy=policy)
        n += 1
    return n


def member_holds_card(member) -> bool:
    """The review rule's card condition: a live card the bank has numbered (the member can show
    it in a shop). The members' site asks the same function whether to offer 评价."""
    return Card.objects.filter(member=member).numbered_live().exists()


@transaction.atomic
def merchant_review_create(
    *, merchant: Merchant, member, rating: int, comment: str = "", on: date | None = None, actor=None
) -> MerchantReview:
    """A card holder rates a merchant; once per merchant per quarter (a database constraint)."""
    on = on or timezone.localdate()
    if not 1 <= int(rating) <= 5:
        raise ApplicationError("评分须为1至5分", code="rating_invalid")
    if merchant.status == Merchant.Status.EXITED:
        raise ApplicationError("该商户已退出，不能再评议", code="merchant_exited")
    if not member_holds_card(member):
        raise ApplicationError("只有持卡会员可以评议商户", code="no_card")
    try:
        with transaction.atomic():
            review = MerchantReview.objects.create(
                merchant=merchant,
                member=member,
                period=period_of(on),
                rating=int(rating),
                comment=comment.strip(),
                reviewed_on=on,
            )
    except IntegrityError as exc:
        raise ApplicationError(
            f"该会员本期（{period_of(on)}）已评议过此商户，每期只能评议一次", code="review_duplicate"
        ) from exc
    merchant_score_refresh(merchant=merchant, on=on)
    audit_record(actor=actor, verb="merchant.reviewed", target=merchant, data={"rating": int(rating)})
    return review


@transaction.atomic
def merchant_evaluate(
    *, merchant: Merchant, rating: int, note: str = "", on: date | None = None, actor
) -> MerchantEvaluation:
    on = on or timezone.localdate()
    if not 1 <= int(rating) <= 5:
        raise ApplicationError("评分须为1至5分", code="rating_invalid")
    evaluation = MerchantEvaluation.objects.create(
        merchant=merchant, evaluator=actor, rating=int(rating), note=note.strip(), evaluated_on=on
    )
    merchant_score_refresh(merchant=merchant, on=on)
    audit_record(actor=actor, verb="merchant.evaluated", target=merchant, data={"rating": int(rating)})
    return evaluation


@transaction.atomic
def merchant_exit(*, merchant: Merchant, reason: str, actor, on: date | None = None) -> Merchant:
    """Exit a merchant per contract (按约退出). It disappears from the directory and the
    service-item counts at once; the row and its history stay."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("请填写退出原因", code="reason_required")
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if merchant.status == Merchant.Status.EXITED:
        raise ApplicationError(f"商户“{merchant.name}”已于{merchant.exited_on}退出", code="already_exited")
    merchant.status = Merchant.Status.EXITED
    merchant.exit_reason = reason[:300]
    merchant.exited_on = on or timezone.localdate()
    merchant.flag = Merchant.Flag.NONE
    merchant.save(update_fields=["status", "exit_reason", "exited_on", "flag", "updated_at"])
    audit_record(actor=actor, verb="merchant.exited", target=merchant, data={"reason": merchant.exit_reason})
    return merchant


@transaction.atomic
def merchants_exit(*, merchants, reason: str, actor, on: date | None = None) -> int:
    """Exit several merchants with one reason; all or none (already exited ones are refused)."""
    return len([merchant_exit(merchant=m, reason=reason, actor=actor, on=on) for m in merchants])


@transaction.atomic
def merchants_set_status(*, merchants, status: str, actor) -> int:
    """Suspend or reinstate. Exited merchants stay exited (re-joining is a new contract)."""
    if status not in (Merchant.Status.ACTIVE, Merchant.Status.SUSPENDED):
        raise ApplicationError("只能暂停或恢复合作", code="invalid_status")
    changed = 0
    for merchant in (
        Merchant.objects.select_for_update().filter(pk__in=[m.pk for m in merchants]).order_by("pk")
    ):
        if merchant.status in (status, Merchant.Status.EXITED):
            continue
        merchant.status = status
        merchant.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, verb=f"merchant.{status}", target=merchant)
        changed += 1
    return changed


@transaction.atomic
def merchants_mark_signage(*, merchants, actor, on: date | None = None) -> int:
    on = on or timezone.localdate()
    changed = 0
    qs = Merchant.objects.select_for_update().filter(pk__in=[m.pk for m in merchants], signage_issued=False)
    for merchant in qs.order_by("pk"):
        merchant.signage_issued, merchant.signage_issued_on = True, on
        merchant.save(update_fields=["signage_issued", "signage_issued_on", "updated_at"])
        audit_record(actor=actor, verb="merchant.signage_issued", target=merchant)
        changed += 1
    return changed


def merchant_save_from_admin(*, merchant: Merchant, actor, created: bool) -> Merchant:
    """Admin edits: exit goes through `merchant_exit` (reason, date, audit), not a status field."""
    merchant.save()
    audit_record(actor=actor, verb="merchant.created" if created else "merchant.changed", target=merchant)
    return merchant
