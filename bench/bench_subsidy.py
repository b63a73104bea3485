"""The monthly subsidy computation on a month of card transactions (issue 18).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench_subsidy \
        .venv/bin/python bench/bench_subsidy.py [--members 150000] [--rows 1500000] [--python-rows 100000]

Builds (once per database) a city with four counties and `--members` members with an activated
card (benefits.drops.crowd, in bulk), 200 union merchants in 8 categories with one MID each, and
COPYs a month of `--rows` transactions into usage_cardtransaction with bench/txngen.py (skewed
across members, merchants and days; 30 % at union merchants, 2 % refunded). Then times:

1. the month's subsidies under three campaigns at once (all union merchants 5 % capped 10 yuan
   a transaction and 50 a member a month; food 2 yuan a purchase for hardship members; one
   county at 10 %): the set-based SQL path (engine.compute_import), seconds and rows/s of the
   month scanned, with the earnings written;
2. the same import again (idempotency: nothing earned, the cost of finding that out);
3. the monthly batch of the first campaign (subsidy_batch_build: one line per member);
4. side by side on a smaller month (`--python-rows`): the SQL path against the Python path
   (SQLite's) on one campaign each with the same rule, interleaved, and their ratio.
"""

import argparse
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import SMOKE_HELP, setup_django, smoke_requested  # noqa: E402

MONTH = date(2026, 11, 1)
SMALL_MONTH = date(2026, 10, 1)


def build_world(members: int):
    from benefits.drops.crowd import crowd_build
    from issuance.models import IssuingPartner
    from members.models import Union
    from merchants.models import Merchant, MerchantCategory
    from merchants.usage.models import MerchantMID

    partner, made = IssuingPartner.objects.get_or_create(code="bench-bank", defaults={"name": "基准测试银行"})
    city = Union.objects.filter(code="BENCH-CITY").first()
    if not made and city is not None:
        return partner, city
    province = Union.objects.create(code="BENCH-P", name="基准省总工会", level=Union.Level.PROVINCE)
    city = Union.objects.create(
        code="BENCH-CITY", name="基准市总工会", level=Union.Level.CITY, parent=province
    )
    tag = uuid.uuid4().hex[:6]
    for k in range(4):
        county = Union.objects.create(
            code=f"BENCH-K{k}", name=f"基准县{k}总工会", level=Union.Level.COUNTY, parent=city
        )
        unit = Union.objects.create(
            code=f"BENCH-G{k}", name=f"基准县{k}第一工会", level=Union.Level.GRASSROOTS, parent=county
        )
        crowd_build(union=unit, count=members // 4, tag=f"{tag}{k}", hardship=False)
        crowd_build(union=unit, count=members // 40, tag=f"{tag}h{k}", hardship=True)
    categories = [MerchantCategory.objects.get_or_create(name=f"基准类别{i}")[0] for i in range(8)]
    counties = list(Union.objects.filter(code__startswith="BENCH-K").order_by("code"))
    for i in range(200):
        merchant = Merchant.objects.create(
            name=f"基准商户{i}",
            category=categories[i % 8],
            union=counties[i % 4],
            address="基准路",
            contract_start=date(2026, 1, 1),
        )
        MerchantMID.objects.create(merchant=merchant, partner=partner, mid=f"BM{i:06d}")
    return partner, city


def make_campaigns(city, staff, names: list[str]):
    from benefits.subsidies.models import SubsidyCampaign
    from benefits.subsidies.services import subsidy_campaign_create
    from members.models import Union
    from merchants.models import MerchantCategory

    SubsidyCampaign.objects.filter(is_active=True).update(is_active=False)
    base = {
        "starts_on": MONTH.replace(month=10),
        "ends_on": date(2026, 12, 31),
        "budget": Decimal("50000000"),
    }
    food = MerchantCategory.objects.get(name="基准类别0")
    county = Union.objects.get(code="BENCH-K1")
    specs = [
        ({"rule": "percent", "percent": Decimal("5"), "cap_per_txn": Decimal("10"),
          "cap_per_member_month": Decimal("50")}, []),
        ({"rule": "fixed", "fixed_amount": Decimal("2"), "audience": "hardship"}, [food]),
        ({"rule": "percent", "percent": Decimal("10"), "area": county}, []),
    ]  # fmt: skip
    return [
        subsidy_campaign_create(
            actor=staff, union=city, fields={**base, **fields, "name": name}, categories=categories
        )  # fmt: skip
        for name, (fields, categories) in zip(names, specs, strict=False)
    ]


def month_import(partner, month: date, rows: int) -> tuple[int, int]:
    from bench.txngen import generate_month, load_population
    from merchants.usage.models import TxnImport

    existing = TxnImport.objects.filter(partner=partner, file_name=f"txngen {month:%Y-%m}").first()
    if existing is not None and existing.rows:
        return existing.pk, existing.rows
    start = time.perf_counter()
    count = generate_month(load_population(partner), month, rows=rows)
    print(
        f"  generated {count:,} transactions for {month:%Y-%m} in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return TxnImport.objects.get(partner=partner, file_name=f"txngen {month:%Y-%m}").pk, count


def python_vs_sql(city, staff, import_id: int, rows: int) -> None:
    from django.db import transaction

    from benefits.subsidies import engine
    from benefits.subsidies.models import SubsidyCampaign

    times = {"sql": [], "python": []}
    for round_ in range(2):
        for path in ("sql", "python"):
            (c,) = make_campaigns(city, staff, [f"对比-{path}-{round_}"])
            start = time.perf_counter()
            with transaction.atomic():
                locked = SubsidyCampaign.objects.select_for_update().get(pk=c.pk)
                earn = engine._earn_sql if path == "sql" else engine._earn_python
                earned, _amount = earn(locked, import_id)
            times[path].append(time.perf_counter() - start)
    sql, py = min(times["sql"]), min(times["python"])
    print(f"side by side on {rows:,} rows ({earned:,} subsidies): SQL {sql:.2f} s, Python {py:.2f} s, "
          f"Python/SQL = {py / sql:.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=150_000)
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--python-rows", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.members, args.rows, args.python_rows = 400, 3_000, 1_000
    setup_django()
    from benefits.subsidies.models import SubsidyEarning
    from benefits.subsidies.services import subsidy_batch_build
    from members.models import StaffRole
    from members.services import staff_create

    partner, city = build_world(args.members)
    staff = StaffRole.objects.filter(union=city, role=StaffRole.Role.CITY_STAFF).first()
    staff = (
        staff.user
        if staff
        else staff_create(
            username=f"bench-city-{uuid.uuid4().hex[:6]}",
            password="pw-Cardportal-1",
            role="city_staff",
            union=city,
        )
    )
    import_id, rows = month_import(partner, MONTH, args.rows)
    campaigns = make_campaigns(city, staff, ["全部商户5%", "困难职工餐饮2元", "县10%"])

    from benefits.subsidies import engine

    start = time.perf_counter()
    outcome = engine.compute_import(import_id)
    first = time.perf_counter() - start
    print(f"month of {rows:,} transactions, {len(campaigns)} campaigns: {first:.2f} s, "
          f"{rows / first:,.0f} rows/s; {outcome.earned:,} subsidies, {outcome.earned_amount:,} yuan, "
          f"{outcome.cancelled:,} cancelled and {outcome.clawbacks:,} taken back by refunds")  # fmt: skip
    start = time.perf_counter()
    again = engine.compute_import(import_id)
    print(f"the same import again: {time.perf_counter() - start:.2f} s, {again.earned} new subsidies")
    start = time.perf_counter()
    result = subsidy_batch_build(campaign=campaigns[0], month=MONTH, actor=staff)
    print(f"monthly batch of '{campaigns[0].name}': {time.perf_counter() - start:.2f} s, {result['count']:,} lines, "
          f"{result['total']:,} yuan; {SubsidyEarning.objects.filter(campaign=campaigns[0]).count():,} earnings")  # fmt: skip
    small_id, small_rows = month_import(partner, SMALL_MONTH, args.python_rows)
    python_vs_sql(city, staff, small_id, small_rows)


if __name__ == "__main__":
    main()
