"""Member list page at city scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench .venv/bin/python bench/bench_members.py [--members 1500000]

Loads (once) the Cangzhou demo tree and N synthetic members spread over its grassroots unions by
COPY, with real encrypted ID numbers and phones and their keyed hashes, then times the member list
page's server time (Django test client, full request/response) for city staff and a clerk:
first page, a name search and a full ID number search.
"""

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    MEMBER_COLUMNS,
    SMOKE_HELP,
    copy_rows,
    setup_django,
    signed_in_client,
    smoke_requested,
    timed,
)  # noqa: E402


def load_members(total: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from cardportal import crypto
    from members import demo
    from members.idcard import make_id_number
    from members.models import Member, Union

    if not Union.objects.filter(code="130900").exists():
        demo.load(members_total=0)
    have = Member.objects.count()
    if have >= total:
        print(f"members already loaded: {have:,}")
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Member._meta.db_table}")
            cursor.execute(f"ANALYZE {Union._meta.db_table}")
        return
    units = list(Union.objects.filter(level=Union.Level.GRASSROOTS).values_list("pk", "code"))
    rng = random.Random(7)
    surnames, given = demo.SURNAMES, demo.GIVEN
    columns = MEMBER_COLUMNS
    start = time.perf_counter()
    seen: set[str] = set()
    chunk = 100_000
    n = have
    now = "2026-11-01 00:00:00+08"
    while n < total:
        rows = []
        while len(rows) < min(chunk, total - n):
            union_id, code = units[rng.randrange(len(units))]
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
            male = rng.random() < 0.55
            id_number = make_id_number(code[:6], birth, rng.randrange(1000), male=male)
            id_hash = crypto.keyed_hash(id_number)
            if id_hash in seen:
                continue
            seen.add(id_hash)
            phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            name = (
                rng.choice(surnames) + rng.choice(given) + (rng.choice(given) if rng.random() < 0.6 else "")
            )
            rows.append(
                (
                    id_hash,
                    crypto.encrypt(id_number),
                    id_number[:6],
                    id_number[-4:],
                    name,
                    "M" if male else "F",
                    birth.isoformat(),
                    crypto.keyed_hash(phone),
                    crypto.encrypt(phone),
                    phone[:3],
                    phone[-4:],
                    "沧州某单位",
                    union_id,
                    "established",
                    rng.random() < 0.04,
                    False,
                    True,
                    "active",
                    "2016-05-01",
                    now,
                    now,
                )
            )
        with transaction.atomic():
            copy_rows(Member._meta.db_table, columns, rows)
        n += len(rows)
        print(f"  loaded {n:,} members ({time.perf_counter() - start:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        # What autovacuum does on a live database soon after a bulk load.
        cursor.execute(f"VACUUM ANALYZE {Member._meta.db_table}")
        cursor.execute(f"ANALYZE {Union._meta.db_table}")
    get_user_model()  # keep the import used: users are created in main()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.members = 2_000
    setup_django()

    from django.test.utils import setup_test_environment

    from members.models import Member, StaffRole, Union
    from members.services import staff_create

    load_members(args.members)
    setup_test_environment()
    users = {}
    for username, role, code in [("bench-city", "city_staff", "130900"), ("bench-clerk", "clerk", None)]:
        union = Union.objects.get(code=code) if code else Union.objects.filter(level="grassroots").first()
        staff = StaffRole.objects.filter(user__username=username).first()
        users[username] = (
            staff.user if staff else staff_create(username=username, password="x", role=role, union=union)
        )
    sample = Member.objects.order_by("id")[Member.objects.count() // 2]
    id_number = sample.reveal_id_number()
    print(f"\nmembers: {Member.objects.count():,}  (PostgreSQL, Django test client, server time per request)")
    for username, user in users.items():
        client = signed_in_client(user)
        # an ID number is searched by POST (never in a URL) and audited: the timing includes the
        # audit row
        for label, url, post in [
            ("first page", "/members/", None),
            ("name search '王'", "/members/?q=王", None),
            ("name search '王伟'", "/members/?q=王伟", None),
            ("full ID number search", "/members/", {"q": id_number}),
            ("hardship filter", "/members/?hardship=1", None),
            ("API list (cursor page)", "/api/members/", None),
            ("dashboard", "/", None),
        ]:

            def fetch(url=url, post=post, client=client):
                return client.post(url, post) if post else client.get(url)

            assert fetch().status_code == 200
            t = timed(fetch)
            print(f"  {username:<12} {label:<24} min {t['min_ms']:7.1f} ms   median {t['median_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
