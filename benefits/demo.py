"""Demo benefits: the seed programmes (run by the provincial federation, so every Cangzhou member
is covered), a county relief programme, a few claims in each state, and aid batches at each step
of four eyes: the grassroots clerk's 日常救助 batch awaiting the county reviewer's approval, the
clerk's 金秋助学 batch approved and ready for its payment file, and the city's 送温暖 batch
(prepared by city staff, approved by provincial staff, exported, half confirmed by the bank)."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from issuance.models import Card
from members.demo import plan_years
from members.models import Member, StaffRole, Union
from merchants.demo import demo_card_holders

from .eligibility import evaluate
from .models import BenefitProgramme, Disbursement
from .seed import programmes_seed
from .services.bankfiles import disbursement_confirm, disbursement_export, disbursement_write_payment_file
from .services.claims import claim_approve, claim_create, claim_reject
from .services.disbursements import (
    Entry,
    disbursement_add_entries,
    disbursement_add_filtered,
    disbursement_approve,
    disbursement_create,
    disbursement_submit,
)


def _user(role):
    staff = StaffRole.objects.filter(role=role).select_related("user", "union").first()
    return staff.user if staff else None


def _programmes(province: Union) -> dict:
    """The seed's programmes, and one county programme of its own."""
    # The demo's cards are recent: "early cards" are those applied for more than 100 days ago.
    early = timezone.localdate() - timedelta(days=100)
    programmes = programmes_seed(
        union=province, valid_from=date(plan_years()[0], 1, 1), early_cards_before=early
    )
    county = Union.objects.filter(level=Union.Level.COUNTY).order_by("code").first()
    BenefitProgramme.objects.create(
        code="county-daily-relief",
        name=f"{county.name.removesuffix('总工会')}困难职工日常救助",
        kind=BenefitProgramme.Kind.AID,
        union=county,
        description="建档困难职工遇突发困难的日常救助，经审核打入工会卡。",
        valid_from=date(plan_years()[0], 1, 1),
        requires_hardship=True,
    ).tiers.create(order=10, label="定额救助", amount=Decimal("1000.00"))
    return programmes


def _claims(programmes: dict, rng, *, recorder, approver, today) -> int:
    """Claims recorded by city staff and reviewed by provincial staff (who see every county)."""
    claims = 0
    candidates = (
        Member.objects.filter(cards__status=Card.Status.ACTIVATED).select_related("union").order_by("id")[:40]
    )
    for member, code in zip(
        candidates,
        ["cataract", "accident-fire", "accidental-death", "cataract", "accident-fire", "legal-aid"] * 2,
        strict=False,
    ):
        if not evaluate(programme=programmes[code], member=member, on=today).eligible:
            continue
        claim = claim_create(
            programme=programmes[code],
            member=member,
            incident_on=today - timedelta(days=rng.randrange(3, 40)),
            facts={
                "cataract": "在指定医院行白内障手术",
                "accident-fire": "家中厨房失火",
                "accidental-death": "交通事故",
                "legal-aid": "劳动合同纠纷咨询",
            }[code],
            actor=recorder,
        )
        claims += 1
        if approver and claims % 3 == 1:
            claim_approve(claim=claim, actor=approver, note="材料齐全")
        elif approver and claims == 5:
            claim_reject(claim=claim, actor=approver, reason="缺少医院诊断证明")
    return claims


def _warmth_batch(city: Union, today, *, city_user, approver, bank_user) -> tuple[dict, int]:
    """The city's Spring Festival batch for hardship workers, approved, exported and half
    confirmed by the bank; (what adding the list returned, lines confirmed)."""
    batch = disbursement_create(
        name=f"{today.year}年春节送温暖（困难职工）",
        kind=Disbursement.Kind.WARMTH,
        union=city,
        actor=city_user,
    )
    result = disbursement_add_filtered(
        disbursement=batch, union=city, amount=Decimal("500.00"), hardship=True, actor=city_user
    )
    if not result["added"] or approver is None:
        return result, 0
    disbursement_submit(disbursement=batch, actor=city_user)
    disbursement_approve(disbursement=batch, actor=approver)
    with transaction.atomic():
        disbursement_export(disbursement=batch, actor=city_user)
    disbursement_write_payment_file(batch.pk)  # the queued task finds it done: no-op
    lines = list(batch.lines.order_by("id"))
    half = lines[: len(lines) // 2]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["卡号", "金额", "结果", "流水号"])
    for i, line in enumerate(half, start=1):
        writer.writerow([line.card_number, f"{line.amount:.2f}", "成功", f"SW{i:06d}"])
    if not half or bank_user is None:
        return result, 0
    disbursement_confirm(
        disbursement=batch, data=buffer.getvalue().encode(), filename="回盘.csv", actor=bank_user
    )
    return result, len(half)


def load(*, stdout) -> None:
    if BenefitProgramme.objects.exists():
        return
    province = Union.objects.filter(level=Union.Level.PROVINCE).order_by("code").first()
    city = Union.objects.filter(level=Union.Level.CITY).order_by("code").first()
    if province is None or city is None:
        return
    import random

    rng = random.Random(2016)
    with transaction.atomic():
        programmes = _programmes(province)

    # Hardship workers get their cards first (004 §一): make sure a few hold one.
    hardship = list(
        Member.objects.filter(is_hardship=True, union__path__startswith=city.path).order_by("id")[:12]
    )
    demo_card_holders(0, rng=rng)
    _cards_for(hardship)

    clerk, approver, city_user = _user("clerk"), _user("province_staff"), _user("city_staff")
    today = timezone.localdate()
    claims = _claims(programmes, rng, recorder=city_user or clerk, approver=approver, today=today)
    if city_user is None:
        return
    bank_user, reviewer = _user("bank_operator"), _user("county_reviewer")
    waiting = ready = 0
    if clerk is not None and reviewer is not None:
        waiting, ready = _clerk_batches(clerk, reviewer, today)
    result, confirmed = _warmth_batch(
        city, today, city_user=city_user, approver=approver, bank_user=bank_user
    )
    stdout.write(
        f"普惠服务：{BenefitProgramme.objects.count()} 个项目，{claims} 笔申请，"
        f"送温暖批次 {result['added']} 人（已回盘 {confirmed} 人），"
        f"待审批批次 {waiting} 个，已审批待生成文件批次 {ready} 个。"
    )


def _clerk_batches(clerk, reviewer, today) -> tuple[int, int]:
    """Two batches of the grassroots clerk for their own union: one waiting for the county
    reviewer's approval, one approved (the clerk generates its payment file next)."""
    union = clerk.staff.union
    members = list(
        Member.objects.filter(union=union, status=Member.Status.ACTIVE).order_by("-is_hardship", "id")[:6]
    )
    if len(members) < 2:
        return 0, 0
    _cards_for(members)
    members = list(  # those whose card the bank has made (an applied card cannot be paid into)
        Member.objects.filter(pk__in=[m.pk for m in members], cards__status__in=Card.NUMBERED_LIVE)
        .select_related("union")
        .order_by("id")
    )
    if len(members) < 2:
        return 0, 0
    half = len(members) // 2
    waiting = disbursement_create(
        name=f"{today.year}年{today.month}月日常救助",
        kind=Disbursement.Kind.DAILY_RELIEF,
        union=union,
        actor=clerk,
    )
    disbursement_add_entries(
        disbursement=waiting,
        entries=[Entry(member=m, amount=Decimal("800.00"), where=m.name) for m in members[:half]],
        actor=clerk,
        source="demo",
    )
    disbursement_submit(disbursement=waiting, actor=clerk)
    ready = disbursement_create(
        name=f"{today.year}年金秋助学", kind=Disbursement.Kind.SCHOOL_AID, union=union, actor=clerk
    )
    disbursement_add_entries(
        disbursement=ready,
        entries=[Entry(member=m, amount=Decimal("3000.00"), where=m.name) for m in members[half:]],
        actor=clerk,
        source="demo",
    )
    disbursement_submit(disbursement=ready, actor=clerk)
    disbursement_approve(disbursement=ready, actor=reviewer)
    return 1, 1


def _cards_for(members):
    from issuance.lifecycle import cards_apply, cards_transition
    from merchants.demo import _luhn

    live = set(Card.objects.filter(member__in=members).live().values_list("member_id", flat=True))
    new = cards_apply(members=[m for m in members if m.pk not in live], note="演示：困难职工优先办卡")
    if not new:
        return
    taken = set(Card.objects.filter(number__startswith="6217008").values_list("number", flat=True))
    numbers, seq = {}, 0
    for card in new:
        while True:
            seq += 1
            number = _luhn(f"6217008{seq:011d}")
            if number not in taken:
                break
        numbers[card.pk] = {"number": number}
    ids = sorted(numbers)
    at = timezone.now() - timedelta(days=120)
    for status in ("in_batch", "issued", "received", "distributed", "activated"):
        cards_transition(
            cards=ids, to_status=status, at=at, updates=numbers if status == "issued" else None, strict=False
        )
        at += timedelta(days=5)
