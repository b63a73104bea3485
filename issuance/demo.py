"""Demo issuance for the Cangzhou demo: a bank and a transit-card partner (which adds the transit
function to the bank's cards of the latest batches), two waves, and the
demo members' cards spread through the lifecycle across the demo's three plan years (the two
before this one and this one, `members.demo.plan_years`), up to today.

Everything goes through `cards_apply`/`cards_transition` with `at=` dates, so the monthly
counters (UnionMonthCount) equal a recount and the quotas league table has history to show.
Cards move in cohorts (one call per cohort and stage), which keeps the load to a few seconds."""

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from members.demo import plan_years
from members.models import Member, Union

from .cardnumbers import luhn_complete
from .lifecycle import cards_apply, cards_transition
from .models import BankBatch, Card, CardFunction, IssuingPartner, Wave
from .services.cards import card_report_lost
from .services.handoff import batch_generate_handoff

S = Card.Status
# Share of members applying in each plan year (the first, the second, this one); the rest have
# not applied yet. Against targets of 10%, 40% and 80% of the members, with each county's own
# pace, some counties run ahead and some fall behind: a race the league table can show.
YEAR_SHARES = (0.12, 0.40, 0.40)


def _at(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(9 + rng.randrange(8), rng.randrange(60))))


def _months(first: date, end: date):
    day = first
    while day <= end:
        yield day
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _apply_month(rng: random.Random, speed: float, years: tuple[int, ...]) -> date | None:
    """When a member applied: by plan year share, faster counties earlier; within a year, early
    months more often (the plan collects members' details by April and issues through the year)."""
    roll = rng.random() * speed
    cumulative = 0.0
    for year, share in zip(years, YEAR_SHARES, strict=True):
        cumulative += share
        if roll < cumulative:
            return date(year, 1 + int(12 * rng.random() ** 2.5), 1)
    return None


def _step(ids: list[int], to_status: str, day: date, rng, note: str, updates=None) -> None:
    if ids and day <= timezone.localdate():
        cards_transition(cards=ids, to_status=to_status, at=_at(day, rng), note=note, updates=updates)


def _partners() -> tuple[IssuingPartner, IssuingPartner]:
    """The primary bank, and a transit-card partner that adds the transit function to the bank's
    cards (seeds 002/003), with its own hand-off layout."""
    bank, _ = IssuingPartner.objects.get_or_create(
        code="icbc-cangzhou", defaults={"name": "中国工商银行沧州分行", "is_primary": True}
    )
    transit, _ = IssuingPartner.objects.get_or_create(
        code="cz-transit",
        defaults={
            "name": "沧州市公交一卡通有限公司",
            "is_primary": False,
            "role": IssuingPartner.Role.FUNCTION,
            "function_kind": CardFunction.Kind.TRANSIT,
            "handoff_layout": {
                "sheet": "公交功能开通名单",
                "format": "csv",
                "columns": [
                    {"title": "序号", "field": "seq"},
                    {"title": "卡号", "field": "card_number"},
                    {"title": "姓名", "field": "name"},
                    {"title": "身份证号", "field": "id_masked"},
                    {"title": "单位", "field": "union"},
                ],
            },
        },
    )
    return bank, transit


def _transit_functions(transit: IssuingPartner, rng: random.Random) -> int:
    """The transit function on the cards of the three latest returned batches: the older two
    answered by the partner (about 1 in 20 refused with a reason), the latest still with it."""
    batches = list(
        BankBatch.objects.filter(status=BankBatch.BatchStatus.RETURNED).order_by("-handoff_at")[:3]
    )
    reasons = ["卡片芯片不支持交通应用", "持卡人信息与公交系统不符"]
    functions = []
    for i, batch in enumerate(reversed(batches)):
        sent = batch.handoff_at + timedelta(days=20)
        cards = Card.objects.filter(batch=batch, status__in=Card.NUMBERED_LIVE).values_list("pk", flat=True)
        for pk in cards:
            fn = CardFunction(
                card_id=pk, partner=transit, kind=transit.function_kind, requested_at=sent, sent_at=sent
            )
            if i < len(batches) - 1 and rng.random() < 0.05:
                fn.status, fn.refused_reason = CardFunction.Status.REFUSED, rng.choice(reasons)
            elif i < len(batches) - 1:
                fn.status, fn.enabled_at = CardFunction.Status.ENABLED, sent + timedelta(days=10)
            else:
                fn.status = CardFunction.Status.SENT
            functions.append(fn)
    CardFunction.objects.bulk_create(functions)
    return len(functions)


def _waves(city: Union, counties: list[Union], bank: IssuingPartner, years) -> tuple[Wave, Wave]:
    core = [c for c in counties if c.code in ("130902", "130903", "130975")]
    wave1 = Wave.objects.create(
        name="第一批：市区及市直单位",
        owner=city,
        partner=bank,
        target=600,
        starts_on=date(years[0], 1, 1),
        deadline=date(years[0], 12, 31),
        note="市区两区和市产业及直属单位先行，困难职工全部纳入首批",
    )
    wave1.unions.set(core)
    wave2 = Wave.objects.create(
        name="第二批：各县（市、区）全面推进",
        owner=city,
        partner=bank,
        target=2400,
        starts_on=date(years[1], 1, 1),
        deadline=date(years[2], 12, 31),
        note=f"{years[2]}年底达到会员数的80%",
    )
    wave2.unions.set(counties)
    return wave1, wave2


def _cohorts(rng: random.Random, counties: list[Union], years) -> dict[date, list[Member]]:
    """The members by the month they applied (hardship workers in the first batch)."""
    speed = {c.pk: rng.uniform(0.85, 1.35) for c in counties}
    cohorts: dict[date, list[Member]] = defaultdict(list)
    for m in Member.objects.select_related("union").order_by("id"):
        month = _apply_month(rng, speed.get(m.union.parent_id, 1.0), years)
        if m.is_hardship and month is not None:
            month = min(month, date(years[0], 6, 1))  # hardship workers go in the first batch (004 §一)
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
    batch_generate_handoff(batch_id=batch.pk)  # sets the status to handed off
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
            if day <= timezone.localdate():
                _step(part, to_status, day, rng, "演示")
                moved += part
        current = moved
        return_day = return_day + timedelta(days=gap[1])


def _losses(rng, years, end: date) -> None:
    """A few losses this year with replacements waiting for the next batch (and notices for the unions)."""
    activated = list(
        Card.objects.filter(status=S.ACTIVATED, activated_at__year=years[1]).values_list("pk", flat=True)[:8]
    )
    this_year = (end - date(years[2], 1, 1)).days + 1
    for pk in activated:
        card_report_lost(
            card=Card.objects.get(pk=pk),
            actor=None,
            note="演示：会员遗失",
            at=_at(date(years[2], 1, 1) + timedelta(days=rng.randrange(this_year)), rng),
        )


@transaction.atomic
def load(*, stdout=None, seed: int = 2016) -> dict:
    """Cards for the demo registry over the three plan years up to today: applications by month, a
    bank batch each, the bank's return, receipt, distribution and activation, and a few losses."""
    rng = random.Random(seed)
    years = plan_years()
    end = timezone.localdate()
    bank, transit = _partners()
    city = Union.objects.get(code="130900")
    counties = list(city.children.order_by("code"))
    wave1, wave2 = _waves(city, counties, bank, years)
    cohorts = _cohorts(rng, counties, years)
    numbers = iter(range(10_000_000, 99_999_999))
    batches = 0
    for month in _months(date(years[0], 1, 1), end):
        group = cohorts.get(month)
        if not group:
            continue
        applied_on = month + timedelta(days=rng.randrange(0, 10))
        cards = cards_apply(members=group, at=_at(applied_on, rng), note="演示：会员登记")
        batch_day = applied_on + timedelta(days=rng.randrange(7, 15))
        if batch_day > end:
            continue
        wave = wave1 if month.year == years[0] else wave2
        batch_id = _batch(cards, batch_day, rng, bank=bank, city=city, wave=wave)
        batches += 1
        ids = [c.pk for c in cards]
        # shuffled before the return's date is drawn: the order of draws keeps the seed's demo data
        rng.shuffle(ids)
        return_day = batch_day + timedelta(days=rng.randrange(12, 25))
        if return_day > end:
            continue
        rest = _bank_return(batch_id, ids, return_day, rng, numbers)
        _later_stages(rest, return_day, rng)
    _losses(rng, years, end)
    # its own generator: the transit functions leave the seed's cards as they were
    functions = _transit_functions(transit, random.Random(seed + 1))
    total = Card.objects.count()
    if stdout is not None:
        stdout.write(
            f"已加载发卡演示数据：{total} 张卡，{batches} 个银行批次，2 个发卡批次计划，"
            f"{functions} 张卡办理交通功能。"
        )
    return {"cards": total, "batches": batches, "functions": functions}
