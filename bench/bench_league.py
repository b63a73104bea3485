"""Live league table, quarterly ranking and bulletin draft at city scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench_league \
        /work/main/.venv/bin/python bench/bench_league.py [--members 1500000] [--month 2018-06]

Loads (once, into an empty database) the Cangzhou tree — 22 county-level unions with the 2016–2018
plan's quotas and about one grassroots union per 700 members — then 1.5 million members and their
cards by COPY, with stage dates that follow each county's pace against the plan (some ahead, some
behind and vetoed), builds UnionMonthCount (`rebuild_union_months`), and times:

- the league table selector for a month and the full page through the Django test client;
- a plain GROUP BY over the card table giving the same figures (for contrast), and checks they agree;
- the quarterly ranking and the annual assessment selectors; the bulletin draft.

Members get synthetic keyed hashes (no decryption is needed here), so every constraint holds.
"""

import argparse
import hashlib
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import SMOKE_HELP, signed_in_client, smoke_requested, timed  # noqa: E402
from bench.common import copy_rows as copy  # noqa: E402
from bench.common import setup_django as setup  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
SNAPSHOT = datetime(2018, 12, 31, 23, 0, tzinfo=SH)
# The columns the COPY loads fill (bench_scale.py loads the same tables).
MEMBER_COLS = [
    "id", "id_hash", "id_encrypted", "id_region", "id_last4", "name", "gender", "birth_date", "phone_hash",
    "phone_encrypted", "phone_prefix", "phone_last4", "work_unit", "union_id", "employment_type", "is_hardship",
    "is_model_worker", "dues_paid", "status", "joined_on", "created_at", "updated_at",
]  # fmt: skip
CARD_COLS = [
    "id", "member_id", "union_id", "status", "number", "is_hardship", "bank_reason", "applied_at", "issued_at",
    "received_at", "distributed_at", "activated_at", "updated_at",
]  # fmt: skip


def curve_date(f: float, pace: float, rng: random.Random) -> datetime | None:
    """When the member at position f (0..1) of the county's queue gets a card issued: the
    county reaches 10% × pace by the end of 2016, 40% × pace by 2017, 80% × pace by 2018."""
    points = [
        (datetime(2016, 4, 1, tzinfo=SH), 0.0),
        (datetime(2016, 12, 31, tzinfo=SH), 0.10 * pace),
        (datetime(2017, 12, 31, tzinfo=SH), 0.40 * pace),
        (datetime(2018, 12, 31, tzinfo=SH), 0.80 * pace),
    ]
    for (d0, f0), (d1, f1) in zip(points, points[1:], strict=False):
        if f <= f1:
            when = d0 + (d1 - d0) * ((f - f0) / (f1 - f0))
            when += timedelta(days=rng.uniform(-6, 6))
            return min(max(when, points[0][0]), d1 - timedelta(hours=1))
    return None


def build_tree(total: int) -> tuple[list, dict[int, list[int]]]:
    """The Cangzhou tree for `total` members: province, city, the 22 county-level unions with the
    plan's quotas (`quotas.demo.load_cangzhou_plan`) and one grassroots union per ~700 members. Returns
    [(county, members to load)] and county pk -> its grassroots unions' pks."""

    from members.demo import COUNTY_CODES, plan_rows
    from members.models import Union
    from quotas.demo import load_cangzhou_plan

    t0 = time.perf_counter()
    province = Union.objects.create(code="130000", name="河北省总工会", level=Union.Level.PROVINCE)
    city = Union.objects.create(code="130900", name="沧州市总工会", level=Union.Level.CITY, parent=province)
    plan = plan_rows()
    declared_total = sum(int(r["members_2015"]) for r in plan)
    counties = []
    for row in plan:
        name = row["union_name"]
        level = Union.Level.INDUSTRY if name == "市产业及直属" else Union.Level.COUNTY
        county = Union.objects.create(
            code=COUNTY_CODES[name],
            name=name,
            level=level,
            parent=city,
            declared_members=int(row["members_2015"]),
        )
        n_members = round(total * int(row["members_2015"]) / declared_total)
        units = [
            Union(
                code=f"{county.code}-{i:04d}",
                name=f"{name.removesuffix('总工会')}第{i}基层工会",
                level=Union.Level.GRASSROOTS,
                parent=county,
                path=f"{county.path}{county.code}-{i:04d}/",
                depth=county.depth + 1,
            )
            for i in range(1, max(2, n_members // 700) + 1)
        ]
        Union.objects.bulk_create(units)
        counties.append((county, n_members))
    load_cangzhou_plan()
    unit_ids: dict[int, list[int]] = {}
    for uid, parent_id in Union.objects.filter(level=Union.Level.GRASSROOTS).values_list("pk", "parent_id"):
        unit_ids.setdefault(parent_id, []).append(uid)
    print(f"tree: {Union.objects.count()} unions ({time.perf_counter() - t0:.1f} s)")
    return counties, unit_ids


def load(total: int) -> None:
    from django.db import connection, transaction

    from issuance.lifecycle import rebuild_union_months
    from issuance.models import Card
    from members.models import Member, Union

    if Card.objects.exists():
        print(f"already loaded: {Member.objects.count():,} members, {Card.objects.count():,} cards")
        return
    rng = random.Random(2016)
    counties, unit_ids = build_tree(total)

    member_id = card_id = 0
    t1 = time.perf_counter()
    with transaction.atomic():
        for county, n_members in counties:
            pace = rng.uniform(0.9, 1.2)  # < 1: behind the plan, and vetoed if it misses the target
            activation = rng.uniform(0.5, 0.75)
            units = unit_ids[county.pk]
            members, cards = [], []
            for i in range(n_members):
                member_id += 1
                unit = units[rng.randrange(len(units))]
                hardship = rng.random() < 0.04
                members.append(_member_row(rng, member_id, county.code, unit, hardship))
                f = (i + rng.random()) / n_members
                issued = curve_date(f, pace, rng)
                if issued is None and f > 0.92:
                    continue  # not yet applied for
                card_id += 1
                cards.append(_card_row(rng, card_id, member_id, unit, hardship, issued, activation))
            copy(Member._meta.db_table, MEMBER_COLS, members)
            copy(Card._meta.db_table, CARD_COLS, cards)
        with connection.cursor() as cursor:
            for model in (Member, Card):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
    print(f"COPY: {member_id:,} members, {card_id:,} cards ({time.perf_counter() - t1:.1f} s)")
    t2 = time.perf_counter()
    rows = rebuild_union_months()
    print(f"rebuild_union_months: {rows:,} counter rows ({time.perf_counter() - t2:.1f} s)")
    with connection.cursor() as cursor:
        for model in (Member, Card, Union):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        cursor.execute("VACUUM ANALYZE issuance_unionmonthcount")


def _member_row(rng: random.Random, member_id: int, county_code: str, unit: int, hardship: bool) -> tuple:
    h = hashlib.sha256(f"bench-member-{member_id}".encode()).hexdigest()[:32]
    return (member_id, h, "bench", county_code[:6], f"{member_id % 1000:03d}{rng.randrange(10)}", "会员",
            "M" if rng.random() < 0.55 else "F", "1985-06-15", h[::-1], "bench", "139",
            f"{member_id % 10000:04d}", "单位", unit, "established", hardship, False, True, "active",
            "2010-01-01", "2016-03-01 00:00:00+08", "2016-03-01 00:00:00+08")  # fmt: skip


def _card_row(rng: random.Random, card_id, member_id, unit, hardship, issued, activation: float) -> tuple:
    """A card row in CARD_COLS order: applied (or in a batch) when the curve has not issued it yet,
    else every stage reached by SNAPSHOT."""
    if issued is None:
        applied = SNAPSHOT - timedelta(days=rng.uniform(1, 60))
        status = "applied" if rng.random() < 0.6 else "in_batch"
        return (
            card_id,
            member_id,
            unit,
            status,
            None,
            hardship,
            "",
            applied,
            None,
            None,
            None,
            None,
            applied,
        )
    applied = issued - timedelta(days=rng.uniform(20, 60))
    received = issued + timedelta(days=rng.uniform(3, 20))
    distributed = received + timedelta(days=rng.uniform(5, 30))
    activated = distributed + timedelta(days=rng.uniform(0, 90)) if rng.random() < activation else None
    stages = [
        ("issued", issued),
        ("received", received),
        ("distributed", distributed),
        ("activated", activated),
    ]
    reached = [(s, d) for s, d in stages if d is not None and d <= SNAPSHOT]
    status, last = reached[-1]
    at = dict(reached)
    return (card_id, member_id, unit, status, f"62{card_id:014d}", hardship, "", applied, at.get("issued"),
            at.get("received"), at.get("distributed"), at.get("activated"), last)  # fmt: skip


def plain_group_by(month: date) -> dict[int, tuple[int, int, int]]:
    """The same figures straight from the card table: one GROUP BY per county (no counters)."""
    from django.db import connection

    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=SH)
    sql = """
        SELECT county.id,
               COUNT(*) FILTER (WHERE c.issued_at < %s),
               COUNT(*) FILTER (WHERE c.distributed_at < %s),
               COUNT(*) FILTER (WHERE c.activated_at < %s)
        FROM issuance_card c
        JOIN members_union u ON u.id = c.union_id
        JOIN members_union county ON county.id = u.parent_id
        WHERE c.replaces_id IS NULL
        GROUP BY county.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [end, end, end])
        return {r[0]: (r[1], r[2], r[3]) for r in cursor.fetchall()}


def measure_writes() -> tuple[float, float]:
    """Writes pay for the roll-up: one lifecycle call on 1,000 cards (counters + county triggers),
    and a rebuild of the counters; (ms, s). Leaves the tables analysed for the reads."""
    from django.db import connection

    from issuance.lifecycle import cards_transition, rebuild_union_months
    from issuance.models import Card
    from quotas.rollup import county_months_recount, county_months_stored

    batch = list(Card.objects.filter(status="distributed").order_by("pk").values_list("pk", flat=True)[:1000])
    start = time.perf_counter()
    cards_transition(cards=batch, to_status="activated")
    write_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    rebuild_union_months()
    rebuild_s = time.perf_counter() - start
    print(
        f"roll-up = counters summed per county after the writes: {county_months_stored() == county_months_recount()}"
    )
    with connection.cursor() as cursor:  # what autovacuum does after a rebuild; the plans need it
        cursor.execute("VACUUM ANALYZE issuance_unionmonthcount")
        cursor.execute("VACUUM ANALYZE quotas_countymonthcount")
    return write_ms, rebuild_s


def measure_reads(user, month: date, label: str) -> dict:
    from members.models import Union
    from quotas import selectors
    from quotas.models import Bulletin
    from quotas.services import bulletin_draft

    results = {}
    results["league_table selector"] = timed(
        lambda: selectors.league_table(user=user, month=month, service_items={})
    )
    client = signed_in_client(user)
    url = f"/quotas/league/?month={label}"
    assert client.get(url).status_code == 200
    results["league page (test client, full request)"] = timed(lambda: client.get(url))
    results["league API (test client)"] = timed(lambda: client.get(f"/api/quotas/league/?month={label}"))
    county = Union.objects.get(name="沧县总工会")
    results["county drill-down page"] = timed(
        lambda: client.get(f"/quotas/league/counties/{county.pk}/?month={label}")
    )
    results["plain GROUP BY over cards (contrast)"] = timed(lambda: plain_group_by(month), repeat=5)
    results["quarterly ranking page (2018)"] = timed(
        lambda: client.get("/quotas/quarterly/?year=2018"), repeat=5
    )
    results["annual assessment page (2017)"] = timed(
        lambda: client.get("/quotas/assessment/?year=2017"), repeat=5
    )
    Bulletin.objects.filter(month=month).delete()
    results["bulletin draft (service)"] = timed(lambda: bulletin_draft(month=month), repeat=5)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--month", default="2018-06")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.members = 3_000
    setup()
    load(args.members)

    from django.test.utils import setup_test_environment

    from issuance.models import Card, UnionMonthCount
    from members.models import StaffRole, Union
    from members.services import staff_create
    from quotas import selectors

    setup_test_environment()
    year, mon = (int(p) for p in args.month.split("-"))
    month = date(year, mon, 1)
    print(
        f"\ndata: {Card.objects.count():,} cards, {UnionMonthCount.objects.count():,} counter rows, "
        f"{Union.objects.count():,} unions"
    )
    user = staff_create(
        username=f"bench-city-{int(time.time())}",
        password="Bench-Cardportal-2016",
        role=StaffRole.Role.CITY_STAFF,
        union=Union.objects.get(code="130900"),
    )
    write_ms, rebuild_s = measure_writes()
    table = selectors.league_table(user=user, month=month, service_items={})
    plain = plain_group_by(month)
    agree = all(
        plain.get(r.union.pk, (0, 0, 0)) == (r.issued, r.distributed, r.activated) for r in table.rows
    )
    print(f"league table = plain GROUP BY recount for {args.month}: {agree}")
    print(f"  city: issued {table.totals.issued:,} of {table.totals.target:,} ({table.totals.completion}%)")

    results = measure_reads(user, month, args.month)
    print(f"\n{'what':<42} {'min':>9} {'median':>9}")
    for name, r in results.items():
        print(f"{name:<42} {r['min_ms']:>7.1f}ms {r['median_ms']:>7.1f}ms")
    print(f"{'cards_transition, 1,000 cards → activated':<42} {write_ms:>7.1f}ms (once)")
    print(f"{'rebuild_union_months (with roll-up triggers)':<42} {rebuild_s:>7.1f}s  (once)")
    assessment = selectors.annual_assessment(user=user, year=2017, service_items={})
    vetoed = sum(r.vetoed for r in assessment)
    print(
        f"\n2017 assessment: {len(assessment)} counties, {vetoed} vetoed; first: {assessment[0].facts.name}"
    )


if __name__ == "__main__":
    main()
