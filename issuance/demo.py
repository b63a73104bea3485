"""Demo issuance for the Cangzhou demo: a bank and a transit-card partner, two waves, and the
demo members' cards spread through the lifecycle across the plan years 2016-04 … 2018-12.

Everything goes through `cards_apply`/`cards_transition` with `at=` dates, so the monthly
counters (UnionMonthCount) equal a recount and the quotas league table has history to show.
Cards move in cohorts (one call per cohort and stage), which keeps the load to a few seconds."""

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from members.models import Member, Union

from . import services
from .cardnumbers import luhn_complete
from .lifecycle import cards_apply, cards_transition
from .models import BankBatch, Card, IssuingPartner, Wave

S = Card.Status
END = date(2018, 12, 31)
FIRST = date(2016, 4, 1)
# Share of members applying in each plan year; the rest have not applied yet.
YEAR_SHARE = {2016: 0.16, 2017: 0.36, 2018: 0.40}


def _at(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(9 + rng.randrange(8), rng.randrange(60))))


def _months():
    day = FIRST
    while day <= END:
        yield day
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _apply_month(rng: random.Random, speed: float) -> date | None:
    """When a member applied: by plan year share, faster counties earlier."""
    roll = rng.random() * speed
    cumulative = 0.0
    for year, share in YEAR_SHARE.items():
        cumulative += share
        if roll < cumulative:
            first = 4 if year == 2016 else 1
            return date(year, rng.randrange(first, 13), 1)
    return None


def _step(ids: list[int], to_status: str, day: date, rng, note: str, updates=None) -> None:
    if ids and day <= END:
        cards_transition(cards=ids, to_status=to_status, at=_at(day, rng), note=note, updates=updates)


def _partners() -> IssuingPartner:
    """The primary bank, and a transit-card partner with its own hand-off layout."""
    bank, _ = IssuingPartner.objects.get_or_create(
        code="icbc-cangzhou", defaults={"name": "中国工商银行沧州分行", "is_primary": True}
    )
    IssuingPartner.objects.get_or_create(
        code="cz-transit",
        defaults={
            "name": "沧州市公交一卡通有限公司",
            "is_primary": False,
            "handoff_layout": {
                "sheet": "公交功能开通名单",
                "format": "csv",
                "columns": [
                    {"title": "序号", "field": "seq"},
                    {"title": "姓名", "field": "name"},
                    {"title": "身份证号", "field": "id_number"},
                    {"title": "手机", "field": "phone"},
                    {"title": "单位", "field": "work_unit"},
                ],
            },
        },
    )
    return bank


def _waves(city: Union, counties: list[Union], bank: IssuingPartner) -> tuple[Wave, Wave]:
    core = [c for c in counties if c.code in ("130902", "130903", "130975")]
    wave1 = Wave.objects.create(
        name="第一批：市区及市直单位",
        owner=city,
        partner=bank,
        target=600,
        starts_on=date(2016, 4, 1),
        deadline=date(2016, 12, 31),
        note="市区两区和市产业及直属单位先行，困难职工全部纳入首批",
    )
    wave1.unions.set(core)
    wave2 = Wave.objects.create(
        name="第二批：各县（市、区）全面推进",
        owner=city,
        partner=bank,
        target=2400,
        starts_on=date(2017, 1, 1),
        deadline=date(2018, 12, 31),
        note="2018年底达到会员数的80%",
    )
    wave2.unions.set(counties)
    return wave1, wave2


def _cohorts(rng: random.Random, counties: list[Union]) -> dict[date, list[Member]]:
    """The members by the month they applied (hardship workers in the first batch)."""
    speed = {c.pk: rng.uniform(0.85, 1.35) for c in counties}
    cohorts: dict[date, list[Member]] = defaultdict(list)
    for m in Member.objects.select_related("union").order_by("id"):
        month = _apply_month(rng, speed.get(m.union.parent_id, 1.0))
        if m.is_hardship and month is not None:
            month = min(month, date(2016, 6, 1))  # hardship workers go in the first batch (004 §一)
        if month is not None:
            cohorts[month].append(m)
    return cohorts


def _batch(cards: list[Card], batch_day: date, rng, *, bank, city, wave) -> int:
    """A bank batch of the month's cards (applied → in_batch) and its hand-off file."""
    ids = [c.pk for c in cards]
    batch = BankBatch.objects.create(
        code=f"B{batch_day:%Y%m%d}-{len(ids):04d}",
        partner=bank,
        union=city,
        wave=wave,
        card_count=len(ids),
        hardship_count=sum(1 for c in cards if c.is_hardship),
        status=BankBatch.BatchStatus.PREPARING,
    )
    _step(
        ids,
        S.IN_BATCH,
        batch_day,
        rng,
        f"报送银行批次 {batch.code}",
        {i: {"batch_id": batch.pk, "partner_id": bank.pk} for i in ids},
    )
    services.batch_generate_handoff(batch_id=batch.pk)  # sets the status to handed off
    BankBatch.objects.filter(pk=batch.pk).update(
        created_at=_at(batch_day, rng), handoff_at=_at(batch_day, rng)
    )
    return batch.pk


def _bank_return(batch_id: int, ids: list[int], return_day: date, rng, numbers) -> list[int]:
    """The bank's return (`ids` shuffled): about 1 in 40 rejected with a reason, the rest issued;
    the issued ids."""
    rejected = ids[: max(1, len(ids) // 40)]
    rest = ids[len(rejected) :]
    BankBatch.objects.filter(pk=batch_id).update(status=BankBatch.BatchStatus.RETURNED)
    reasons = ["证件已过期", "手机号码与本人不符", "姓名与证件不一致", "身份证复印件不清晰"]
    _step(
        rejected,
        S.REJECTED_BY_BANK,
        return_day,
        rng,
        "演示：银行回盘",
        {i: {"bank_reason": rng.choice(reasons)} for i in rejected},
    )
    _step(
        rest,
        S.ISSUED,
        return_day,
        rng,
        "演示：银行回盘",
        {i: {"number": luhn_complete(f"621226{next(numbers):012d}")} for i in rest},
    )
    return rest


def _later_stages(current: list[int], return_day: date, rng) -> None:
    """Each later stage: most cards move, in three sub-cohorts on different days."""
    for to_status, share, gap in (
        (S.RECEIVED, 0.96, (4, 15)),
        (S.DISTRIBUTED, 0.92, (3, 25)),
        (S.ACTIVATED, 0.68, (5, 70)),
    ):
        rng.shuffle(current)
        moving = current[: int(len(current) * share)]
        thirds = [moving[i::3] for i in range(3)]
        moved = []
        for part in thirds:
            day = return_day + timedelta(days=rng.randrange(*gap) + (0 if to_status == S.RECEIVED else 10))
            if day <= END:
                _step(part, to_status, day, rng, "演示")
                moved += part
        current = moved
        return_day = return_day + timedelta(days=gap[1])


def _losses(rng) -> None:
    """A few losses in 2018 with replacements waiting for the next batch (and notices for the unions)."""
    activated = list(
        Card.objects.filter(status=S.ACTIVATED, activated_at__year=2017).values_list("pk", flat=True)[:8]
    )
    for pk in activated:
        services.card_report_lost(
            card=Card.objects.get(pk=pk),
            actor=None,
            note="演示：会员遗失",
            at=_at(date(2018, 6, 1) + timedelta(days=rng.randrange(150)), rng),
        )


@transaction.atomic
def load(*, stdout=None, seed: int = 2016) -> dict:
    """Cards for the demo registry from 2016 to the end of 2018: applications by month, a bank
    batch each, the bank's return, receipt, distribution and activation, and a few losses."""
    rng = random.Random(seed)
    bank = _partners()
    city = Union.objects.get(code="130900")
    counties = list(city.children.order_by("code"))
    wave1, wave2 = _waves(city, counties, bank)
    cohorts = _cohorts(rng, counties)
    numbers = iter(range(10_000_000, 99_999_999))
    batches = 0
    for month in _months():
        group = cohorts.get(month)
        if not group:
            continue
        applied_on = month + timedelta(days=rng.randrange(0, 10))
        cards = cards_apply(members=group, at=_at(applied_on, rng), note="演示：会员登记")
        batch_day = applied_on + timedelta(days=rng.randrange(7, 15))
        if batch_day > END:
            continue
        wave = wave1 if month.year == 2016 else wave2
        batch_id = _batch(cards, batch_day, rng, bank=bank, city=city, wave=wave)
        batches += 1
        ids = [c.pk for c in cards]
        # shuffled before the return's date is drawn: the order of draws keeps the seed's demo data
        rng.shuffle(ids)
        return_day = batch_day + timedelta(days=rng.randrange(12, 25))
        if return_day > END:
            continue
        rest = _bank_return(batch_id, ids, return_day, rng, numbers)
        _later_stages(rest, return_day, rng)
    _losses(rng)
    total = Card.objects.count()
    if stdout is not None:
        stdout.write(f"已加载发卡演示数据：{total} 张卡，{batches} 个银行批次，2 个发卡批次计划。")
    return {"cards": total, "batches": batches}
