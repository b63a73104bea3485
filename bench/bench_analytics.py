"""Analytics pages (issue 18) at city scale: each page's median server time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench_analytics \
        .venv/bin/python bench/bench_analytics.py [--members 1500000] [--month 2026-11] [--smoke]

Loads, once, the 1.5 M-member Cangzhou city of bench_league.py (members and cards by COPY),
about one union merchant per 750 members, then the feed's roll-ups for two months straight in SQL
(the pages read only those roll-ups and analytics' own snapshots, never the transaction table):
CardUsage for ~80 % of activated cards (last use skewed to recent days), UsageDay per day, union,
category and place (~1.4 M rows for two months, as ~15 M transactions a month leave them), and
MerchantMonth with a Zipf-like spread of members per merchant (5 % of merchants unused).
Then it times the snapshot refresh (the nightly task) and every page through the Django test
client as city staff and as a county reviewer: min and median of 7 after one warm-up.
"""

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import SMOKE_HELP, signed_in_client, smoke_requested, timed  # noqa: E402
from bench.common import setup_django as setup  # noqa: E402


def load_merchants(members: int) -> int:
    from members.models import Union
    from merchants.models import Merchant, MerchantCategory

    if Merchant.objects.exists():
        return Merchant.objects.count()
    cats = list(MerchantCategory.objects.values_list("pk", flat=True))
    units = list(
        Union.objects.filter(level=Union.Level.GRASSROOTS).order_by("pk").values_list("pk", flat=True)
    )
    n = max(20, members // 750)
    Merchant.objects.bulk_create(
        [
            Merchant(
                name=f"特约商户{i}",
                category_id=cats[i % len(cats)],
                union_id=units[(i * 7919) % len(units)],
                address="测试路1号",
                contract_start=date(2016, 1, 1),
            )
            for i in range(n)
        ],  # fmt: skip
        batch_size=5000,
    )
    return n


ROLLUP_SQL = [
    # CardUsage: ~80 % of activated cards used, the last use skewed towards the month's end.
    """INSERT INTO usage_cardusage (card_id, union_id, first_used_on, last_used_on, txn_count, amount)
       SELECT id, union_id, last - (random() * 300)::int, last, 1 + (random() * 40)::int,
              round((random() * 4000)::numeric, 2)
       FROM (SELECT id, union_id, %(end)s::date - (power(random(), 3) * 200)::int AS last
             FROM issuance_card WHERE status = 'activated' AND random() < 0.8) c""",
    # UsageDay at union merchants: per day, grassroots union and category (60 % of the cells).
    """INSERT INTO usage_usageday (day, union_id, category_id, at_union_merchant, channel, txn_count, amount, cards)
       SELECT d::date, u.id, c.id, true, 'pos', n, round((n * (20 + random() * 180))::numeric, 2), greatest(1, n - 1)
       FROM generate_series(%(start)s::date, %(end)s::date, '1 day') d
       CROSS JOIN (SELECT id FROM members_union WHERE level = 'grassroots') u
       CROSS JOIN merchants_merchantcategory c
       CROSS JOIN LATERAL (SELECT 1 + (random() * 12)::int AS n) k
       WHERE random() < 0.6""",
    # UsageDay outside union merchants: per day, union and channel.
    """INSERT INTO usage_usageday (day, union_id, category_id, at_union_merchant, channel, txn_count, amount, cards)
       SELECT d::date, u.id, NULL, false, ch, n, round((n * (10 + random() * 300))::numeric, 2), greatest(1, n - 3)
       FROM generate_series(%(start)s::date, %(end)s::date, '1 day') d
       CROSS JOIN (SELECT id FROM members_union WHERE level = 'grassroots') u
       CROSS JOIN unnest(ARRAY['pos', 'online', 'atm', 'transit']) ch
       CROSS JOIN LATERAL (SELECT 5 + (random() * 60)::int AS n) k""",
    # MerchantMonth: members served per merchant Zipf-like; 5 % of merchants unused.
    """INSERT INTO usage_merchantmonth (merchant_id, month, txn_count, amount, cards, repeat_cards)
       SELECT id, m::date, cards * 2, round((cards * 2 * 80)::numeric, 2), cards, (cards * random() * 0.5)::int
       FROM (SELECT id, 1 + (3000 * power(random(), 4))::int AS cards FROM merchants_merchant
             WHERE id %% 20 <> 0) s
       CROSS JOIN generate_series(%(start)s::date, %(month)s::date, '1 month') m""",
]


def load_rollups(month: date) -> None:
    from django.db import connection, transaction

    from merchants.usage.models import CardUsage

    if CardUsage.objects.exists():
        return
    start = (month - timedelta(days=1)).replace(day=1)
    end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in ROLLUP_SQL:
            cursor.execute(sql, {"start": start, "end": end, "month": month})
    with connection.cursor() as cursor:
        for table in ("usage_cardusage", "usage_usageday", "usage_merchantmonth"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"roll-ups written in SQL ({time.perf_counter() - t0:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--month", default="2026-11")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.members = 3_000
    setup()
    from bench.bench_league import load

    load(args.members)
    month = date.fromisoformat(f"{args.month}-01")
    merchants = load_merchants(args.members)
    load_rollups(month)

    from django.db import connection
    from django.test.utils import setup_test_environment

    from members.models import StaffRole, Union
    from members.services import staff_create
    from merchants.usage.models import CardUsage, MerchantMonth, UsageDay
    from quotas.analytics.models import UnionSpendMonth
    from quotas.analytics.refresh import activity_refresh, spend_refresh

    setup_test_environment()
    end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    prev = (month - timedelta(days=1)).replace(day=1)
    t0 = time.perf_counter()
    unions = activity_refresh(today=end)
    activity_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    spend_refresh(month)
    spend_refresh(prev)
    spend_s = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE analytics_unionactivity")
        cursor.execute("VACUUM ANALYZE analytics_unionspendmonth")
    print(
        f"data: {CardUsage.objects.count():,} CardUsage, {UsageDay.objects.count():,} UsageDay, "
        f"{MerchantMonth.objects.count():,} MerchantMonth rows, {merchants:,} merchants"
    )
    print(f"snapshot refresh: activity {unions:,} unions in {activity_s:.1f} s; "
          f"spending 2 months ({UnionSpendMonth.objects.count():,} rows) in {spend_s:.1f} s")  # fmt: skip

    stamp = int(time.time())
    city = staff_create(username=f"bench-city-{stamp}", password="Bench-Cardportal-2016",
                        role=StaffRole.Role.CITY_STAFF, union=Union.objects.get(code="130900"))  # fmt: skip
    county = Union.objects.filter(level=Union.Level.COUNTY).order_by("-declared_members").first()
    reviewer = staff_create(username=f"bench-county-{stamp}", password="Bench-Cardportal-2016",
                            role=StaffRole.Role.COUNTY_REVIEWER, union=county)  # fmt: skip
    m = args.month
    pages = [
        ("active cards, by county", "/analytics/active/"),
        ("active cards, one county's unions", f"/analytics/active/?county={county.pk}"),
        ("spending by category and county", f"/analytics/spending/?month={m}"),
        ("merchant ranking", f"/analytics/merchants/?month={m}"),
        ("benefit and subsidy uptake", "/analytics/uptake/"),
        ("segments list", "/analytics/segments/"),
        ("segment: hardship never used (count)", "/analytics/segments/hardship_unused/"),
        ("export: active cards .xlsx", "/analytics/active/export.xlsx"),
    ]
    results = {}
    for who, user in (("city", city), ("county", reviewer)):
        client = signed_in_client(user)
        for label, url in pages:
            assert client.get(url).status_code == 200, url
            results[f"{who}: {label}"] = timed(lambda url=url, client=client: client.get(url))
    width = max(len(k) for k in results)
    print(f"\n{'page (test client, full request)':<{width}}  min ms  median ms")
    for label, r in results.items():
        print(f"{label:<{width}}  {r['min_ms']:6.1f}  {r['median_ms']:9.1f}")


if __name__ == "__main__":
    main()
