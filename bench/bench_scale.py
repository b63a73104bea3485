"""How the heavy paths grow with the registry: 1.5 M members (a city) to 15 M (a province).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench_scale_1500k \\
        .venv/bin/python bench/bench_scale.py --members 1500000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench_scale_15m \\
        .venv/bin/python bench/bench_scale.py --members 15000000

One size per database (run twice and compare; docs/scaling.md does). Loads once, into an empty
database: the Cangzhou tree of bench_league (22 county-level unions, one grassroots union per ~700
members), N members and a card each (about 95 % of them, with stage dates along each county's
pace), by COPY, with the tables' secondary indexes and foreign keys dropped during the COPY and
rebuilt after (how a bulk load is done; the rebuild is timed), then the monthly counters
(`rebuild_union_months`). Members carry synthetic keyed hashes and one shared ciphertext (nothing
here decrypts), except one whose real ID number is searched.

Times, at that size:
- member list: city staff's first page, a name-prefix search, a full ID number search (POST,
  audited), a clerk's first page, the API's first cursor page;
- dedup of a 100,000-row sheet: the registry look-ups of `members.registration.conflicts_for`
  (half the keys are registered members spread over the whole table, half are new);
- league table: the selector, the page, a county drill-down, and the plain GROUP BY over the cards
  that the counters replace (for contrast);
- the one-off costs: COPY, index rebuild, counter rebuild, table and index sizes.
"""

import argparse
import hashlib
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_league import CARD_COLS, MEMBER_COLS, build_tree, plain_group_by  # noqa: E402
from bench.common import SMOKE_HELP, setup_django, signed_in_client, smoke_requested, timed  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
SNAPSHOT = datetime(2018, 12, 31, 23, 0, tzinfo=SH)
SEARCHED_ID = "130921198506150011"  # the one member with a real keyed hash (沧县, 1985-06-15)
BUCKETS = 1000  # card stage dates come from 1,000 positions along each county's curve


def synthetic_hash(n: int) -> str:
    return hashlib.md5(f"scale-{n}".encode()).hexdigest()  # 32 hex characters, like keyed_hash


def card_templates(pace: float, activation: float) -> list[tuple]:
    """For each of BUCKETS positions along a county's queue: (status, applied, issued, received,
    distributed, activated, updated) as COPY text, following bench_league's curve."""
    points = [
        (datetime(2016, 4, 1, tzinfo=SH), 0.0),
        (datetime(2016, 12, 31, tzinfo=SH), 0.10 * pace),
        (datetime(2017, 12, 31, tzinfo=SH), 0.40 * pace),
        (datetime(2018, 12, 31, tzinfo=SH), 0.80 * pace),
    ]
    out = []
    for b in range(BUCKETS):
        f = (b + 0.5) / BUCKETS
        issued = None
        for (d0, f0), (d1, f1) in zip(points, points[1:], strict=False):
            if f <= f1:
                issued = min(d0 + (d1 - d0) * ((f - f0) / (f1 - f0)), d1 - timedelta(hours=1))
                break
        if issued is None:
            applied = SNAPSHOT - timedelta(days=1 + 59 * f)
            out.append(("applied", applied, None, None, None, None, applied))
            continue
        received = issued + timedelta(days=10)
        distributed = received + timedelta(days=15)
        activated = distributed + timedelta(days=40) if (b * 7919 % BUCKETS) / BUCKETS < activation else None
        stages = [("issued", issued), ("received", received), ("distributed", distributed)]
        stages.append(("activated", activated))
        reached = {s: d for s, d in stages if d is not None and d <= SNAPSHOT}
        status = list(reached)[-1]
        out.append(
            (status, issued - timedelta(days=30), reached.get("issued"), reached.get("received"),
             reached.get("distributed"), reached.get("activated"), reached[status])
        )  # fmt: skip
    return [
        tuple("\\N" if v is None else v.isoformat() if isinstance(v, datetime) else v for v in t) for t in out
    ]


class _Stream:
    """A file-like object COPY reads from: lines produced on demand, so Python formats rows while
    the server is inserting the previous ones and memory stays flat."""

    def __init__(self, lines):
        self.lines = lines
        self.rest = ""

    def read(self, size: int = 65536) -> str:
        parts, n = [self.rest], len(self.rest)
        for line in self.lines:
            parts.append(line)
            n += len(line)
            if n >= size:
                break
        data = "".join(parts)
        self.rest = ""
        return data


def _copy(table: str, columns: list[str], lines) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN", _Stream(lines), size=65536
        )


def _secondary_schema(tables: list[str]) -> tuple[list[str], list[str]]:
    """(DROP statements, CREATE statements) for the tables' foreign keys, unique constraints and
    indexes other than the primary keys."""
    from django.db import connection

    drops, creates = [], []
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u') ORDER BY contype DESC""",
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [tables],
        )
        indexes = cursor.fetchall()
    for table, name, definition in constraints:
        drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        creates.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        drops.append(f"DROP INDEX {name}")
        creates.insert(0, definition)  # indexes first, then unique constraints, then foreign keys
    return drops, creates


def load(total: int) -> dict:
    from django.db import connection, transaction

    from issuance.lifecycle import rebuild_union_months
    from issuance.models import Card
    from members.demo import GIVEN, SURNAMES
    from members.models import Member

    if Card.objects.exists():
        print(f"already loaded: {Member.objects.count():,} members, {Card.objects.count():,} cards")
        return {}
    counties, unit_ids = build_tree(total)
    from cardportal import crypto

    searched_hash = crypto.keyed_hash(SEARCHED_ID)
    names = [s + g for s in SURNAMES for g in GIVEN]
    tables = [Member._meta.db_table, Card._meta.db_table]
    drops, creates = _secondary_schema(tables)
    # Positions: member ids are laid out county by county; the same numbering drives the cards.
    plan = []
    first = 1
    for i, (county, n) in enumerate(counties):
        plan.append(
            (county, first, n, card_templates(0.9 + 0.3 * ((i * 37) % 22) / 21, 0.5 + 0.25 * (i % 5) / 4))
        )
        first += n

    def members():
        for county, first, n, _ in plan:
            units = unit_ids[county.pk]
            region = county.code[:6]
            for k in range(n):
                mid = first + k
                h = searched_hash if (k == n // 2 and region == SEARCHED_ID[:6]) else synthetic_hash(mid)
                hardship = "t" if mid % 25 == 0 else "f"
                yield (
                    f"{mid}\t{h}\tbench\t{region}\t{mid % 10000:04d}\t{names[mid % len(names)]}\t"
                    f"{'M' if mid % 9 < 5 else 'F'}\t1985-06-15\t{h[::-1]}\tbench\t139\t{mid % 10000:04d}\t单位\t"
                    f"{units[mid % len(units)]}\testablished\t{hardship}\tf\tt\tactive\t2010-01-01\t"
                    "2016-03-01 00:00:00+08\t2016-03-01 00:00:00+08\n"
                )

    def cards():
        for county, first, n, templates in plan:
            units = unit_ids[county.pk]
            for k in range(n):
                if k * 20 // n == 19:
                    continue  # the last 5 % of each county's queue have not applied yet
                mid = first + k
                t = templates[k * BUCKETS // n]
                number = f"62{mid:014d}" if t[0] != "applied" else "\\N"
                yield (
                    f"{mid}\t{mid}\t{units[mid % len(units)]}\t{t[0]}\t{number}\t{'t' if mid % 25 == 0 else 'f'}\t\t"
                    f"{t[1]}\t{t[2]}\t{t[3]}\t{t[4]}\t{t[5]}\t{t[6]}\n"
                )

    figures = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            for statement in drops:
                cursor.execute(statement)
        start = time.perf_counter()
        _copy(Member._meta.db_table, MEMBER_COLS, members())
        _copy(Card._meta.db_table, CARD_COLS, cards())
        figures["COPY members + cards"] = time.perf_counter() - start
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for statement in creates:
                cursor.execute(statement)
            for table in tables:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
        figures["rebuild indexes + foreign keys"] = time.perf_counter() - start
    start = time.perf_counter()
    rebuild_union_months()
    figures["rebuild_union_months"] = time.perf_counter() - start
    with connection.cursor() as cursor:
        for table in [*tables, "members_union", "issuance_unionmonthcount", "quotas_countymonthcount"]:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return figures


def sizes() -> list[tuple[str, int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c
               WHERE c.relname IN ('members_member', 'issuance_card', 'issuance_unionmonthcount')"""
        )
        return cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--sheet", type=int, default=100_000, help="rows of the sheet whose dedup is timed")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.members, args.sheet = 3_000, 1_000
    setup_django()
    load_figures = load(args.members)

    from django.test.utils import setup_test_environment

    from cardportal import crypto
    from issuance.models import Card, UnionMonthCount
    from members.models import Member, StaffRole, Union
    from members.registration import conflicts_for
    from members.services import staff_create
    from quotas import selectors

    setup_test_environment()
    n_members, n_cards = Member.objects.count(), Card.objects.count()
    print(
        f"\ndata: {n_members:,} members, {n_cards:,} cards, {Union.objects.count():,} unions, "
        f"{UnionMonthCount.objects.count():,} counter rows"
    )
    for what, seconds in load_figures.items():
        print(f"  load: {what:<34} {seconds:8.1f} s")
    for table, heap, index in sizes():
        print(f"  size: {table:<26} table {heap / 2**20:9,.0f} MB   indexes {index / 2**20:9,.0f} MB")

    city = Union.objects.get(code="130900")
    county = Union.objects.get(name="沧县总工会")
    unit = Union.objects.filter(parent=county).order_by("pk").first()
    stamp = int(time.time())
    city_user = staff_create(
        username=f"scale-city-{stamp}", password="x", role=StaffRole.Role.CITY_STAFF, union=city
    )
    clerk = staff_create(username=f"scale-clerk-{stamp}", password="x", role=StaffRole.Role.CLERK, union=unit)
    city_client, clerk_client = signed_in_client(city_user), signed_in_client(clerk)
    assert Member.objects.filter(id_hash=crypto.keyed_hash(SEARCHED_ID)).exists()

    results = {}
    requests = {
        "member list: city, first page": (city_client, "/members/", None),
        "member list: city, name search '王伟'": (city_client, "/members/?q=王伟", None),
        "member list: city, full ID search": (city_client, "/members/", {"q": SEARCHED_ID}),
        "member list: clerk, first page": (clerk_client, "/members/", None),
        "member API: city, first cursor page": (city_client, "/api/members/", None),
        "league page (2018-06)": (city_client, "/quotas/league/?month=2018-06", None),
        "county drill-down page": (city_client, f"/quotas/league/counties/{county.pk}/?month=2018-06", None),
    }
    for label, (client, url, post) in requests.items():

        def fetch(client=client, url=url, post=post):
            return client.post(url, post) if post else client.get(url)

        response = fetch()
        assert response.status_code == 200, (label, response.status_code)
        results[label] = timed(fetch, repeat=5)
    month = date(2018, 6, 1)
    results["league_table selector"] = timed(
        lambda: selectors.league_table(user=city_user, month=month, service_items={})
    )
    results["plain GROUP BY over cards (contrast)"] = timed(lambda: plain_group_by(month), repeat=3)

    # Dedup: half registered members spread over the whole id range, half new people.
    step = max(1, n_members // (args.sheet // 2))
    registered = list(
        Member.objects.filter(id__in=range(1, n_members + 1, step)).values_list("id_hash", flat=True)[
            : args.sheet // 2
        ]
    )
    new = [hashlib.md5(f"new-{i}".encode()).hexdigest() for i in range(args.sheet - len(registered))]
    sheet = SimpleNamespace(pk=0, union=unit)
    found = conflicts_for(registered + new, sheet=sheet)
    assert len(found) == len(registered), (len(found), len(registered))
    results[f"dedup of a {args.sheet:,}-row sheet (conflicts_for)"] = timed(
        lambda: conflicts_for(registered + new, sheet=sheet), repeat=3
    )

    print(f"\n{'members':>12} {'what':<56} {'min':>10} {'median':>10}")
    for label, r in results.items():
        print(f"{n_members:>12,} {label:<56} {r['min_ms']:8.1f}ms {r['median_ms']:8.1f}ms")


if __name__ == "__main__":
    main()
