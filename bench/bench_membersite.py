"""The members' site at city scale: the member home page (我的会员卡), the card page, 消息 and
the member API's card read, plus the queries and server time of each sign-in step.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp_bench .venv/bin/python bench/bench_membersite.py [--members 1500000]

Loads (once) N members by COPY exactly as bench/bench_members.py does (real encrypted ID numbers
and phones), gives every member without a card an applied card with its event (the registration
hook, set-based, 100,000 members per statement), then walks a sample of members' cards through
the whole lifecycle (in batch, issued, received, distributed, activated: real events, notices
and outbox rows) and times their pages with the Django test client (full request/response,
server time, median of 7). Celery is not run during the timings: the sign-in's SMS task is
queued on an in-memory broker, so a step's figure is the request's own work.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.pop("REDIS_URL", None)  # the sign-in throttles count in local memory: cleared per run
from bench.bench_members import load_members  # noqa: E402
from bench.common import SMOKE_HELP, setup_django, smoke_requested, timed  # noqa: E402

SAMPLE = 20
CHUNK = 100_000


def give_cards() -> None:
    """An applied card (and its event) for every member without one, set-based."""
    from django.db.models import Exists, OuterRef

    from issuance.lifecycle import cards_apply_registered
    from issuance.models import Card
    from members.models import Member

    has_card = Exists(Card.objects.filter(member_id=OuterRef("pk")))  # an anti-join (NOT IN is not)
    missing = list(Member.objects.filter(~has_card).order_by("pk").values_list("pk", flat=True))
    start = time.perf_counter()
    for i in range(0, len(missing), CHUNK):
        cards_apply_registered(member_ids=missing[i : i + CHUNK])
        print(
            f"  cards for {min(i + CHUNK, len(missing)):,} members ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )


def sample_members(n: int) -> list:
    """n members spread over the registry, each with a card walked through the whole lifecycle
    now (events, notices, outbox rows), as a member who has collected and activated it."""
    from django.db import transaction

    from issuance.cardnumbers import luhn_complete
    from issuance.lifecycle import cards_move
    from issuance.models import Card
    from members.models import Member

    total = Member.objects.count()
    step = max(total // n, 1)
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True)[::step][:n])
    members = list(Member.objects.filter(pk__in=ids).select_related("union"))
    _fresh_identities(members)
    cards = {c.member_id: c for c in Card.objects.filter(member_id__in=ids).exclude(status__in=Card.DEAD)}
    with transaction.atomic():
        for status in ("in_batch", "issued", "received", "distributed", "activated"):
            movable = [c.pk for c in cards.values()]
            updates = (
                {pk: {"number": luhn_complete(f"621226{990000000000 + pk:012d}")} for pk in movable}
                if status == "issued"
                else None
            )
            cards_move(cards=movable, to_status=status, updates=updates, strict=False)
    return members


def _fresh_identities(members: list) -> None:
    """New ID numbers and phones for the sample, encrypted and hashed under this process's keys
    (a registry copied from another database may hold ciphertexts of other keys: the sign-in
    needs the number, the SMS the phone)."""
    import random

    from django.db import connection

    from members.idcard import make_id_number
    from members.models import Member

    rng = random.Random(13)
    for m in members:
        with connection.cursor() as cursor:  # the number must be unused: try until it is
            while True:
                number = make_id_number(
                    m.union.code[:6], m.birth_date, rng.randrange(1000), male=m.gender == "M"
                )
                m.set_id_number(number)
                cursor.execute(f"SELECT 1 FROM {Member._meta.db_table} WHERE id_hash = %s", [m.id_hash])
                if cursor.fetchone() is None:
                    break
        m.set_phone(f"139{rng.randrange(10**8):08d}")
    fields = [
        "id_hash",
        "id_encrypted",
        "id_region",
        "id_last4",
        "phone_hash",
        "phone_encrypted",
        "phone_prefix",
        "phone_last4",
    ]
    Member.objects.bulk_update(members, fields)


def member_client(member):
    from django.test import Client

    from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY

    client = Client()
    session = client.session
    session[MEMBER_KEY] = member.pk
    session[PHONE_KEY] = member.phone_hash
    session.save()
    client.cookies["sessionid"] = session.session_key
    return client


def time_pages(members: list) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from benefits.membersite.api_auth import member_token_issue
    from issuance.models import Card

    clients = [member_client(m) for m in members]
    tokens = [member_token_issue(member=m)[1] for m in members]
    card_ids = {
        c.member_id: c.pk for c in Card.objects.filter(member__in=members).exclude(status__in=Card.DEAD)
    }
    pages = [
        ("home (我的会员卡)", lambda i: clients[i].get("/me/")),
        ("card page", lambda i: clients[i].get(f"/me/cards/{card_ids[members[i].pk]}/")),
        ("消息", lambda i: clients[i].get("/me/notices/")),
        ("我的信息", lambda i: clients[i].get("/me/profile/")),
        (
            "API /api/me/cards/",
            lambda i: clients[i].get("/api/me/cards/", HTTP_AUTHORIZATION=f"Member {tokens[i]}"),
        ),
    ]
    for label, fetch in pages:
        for i in range(len(members)):
            response = fetch(i)
            assert response.status_code == 200, (label, response.status_code)
        medians, mins, db_ms, counts = [], [], [], []
        for i in range(len(members)):
            t = timed(lambda i=i, fetch=fetch: fetch(i))
            medians.append(t["median_ms"])
            mins.append(t["min_ms"])
            with CaptureQueriesContext(connection) as queries:
                fetch(i)
            db_ms.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
            counts.append(sum(1 for q in queries.captured_queries if not _transaction_control(q["sql"])))
        print(
            f"  {label:<22} median of members' medians {statistics.median(medians):6.1f} ms"
            f"   best {min(mins):6.1f} ms   worst median {max(medians):6.1f} ms"
            f"   queries {max(counts)}, database time median {statistics.median(db_ms):5.1f} ms"
        )


def _transaction_control(sql: str) -> bool:
    return sql in ("BEGIN", "COMMIT", "ROLLBACK") or "SAVEPOINT" in sql


def sign_in_steps(member) -> None:
    """Queries and server time of each sign-in step (the SMS task queued, not run)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from benefits.membersite import services
    from benefits.membersite.models import SignInCode

    id_number, known = member.reveal_id_number(), "000000"

    def code_step_client() -> Client:
        """A browser past step 1, its challenge's code set to a known value (no SMS is read)."""
        client = Client()
        cache.clear()  # the one-code-a-minute window
        client.post("/me/login/", {"id_number": id_number})
        challenge = SignInCode.objects.get(pk=client.session["_member_signin_challenge"])
        challenge.code_hash = services._code_hash(challenge.salt, known)
        challenge.save(update_fields=["code_hash"])
        return client

    steps = [
        ("POST /me/login/ (ID number)", lambda: (Client(), "/me/login/", {"id_number": id_number}, 302)),
        (
            "POST /me/login/code/ wrong code",
            lambda: (code_step_client(), "/me/login/code/", {"code": "111111"}, 400),
        ),
        (
            "POST /me/login/code/ right code",
            lambda: (code_step_client(), "/me/login/code/", {"code": known}, 302),
        ),
    ]
    for label, prepare in steps:
        samples, count = [], 0
        for _ in range(1 if os.environ.get("BENCH_SMOKE") == "1" else 15):
            client, url, data, expected = prepare()
            cache.clear()
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.post(url, data)
                samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == expected, (label, response.status_code)
            count = sum(1 for q in queries.captured_queries if not _transaction_control(q["sql"]))
        print(
            f"  {label:<34} {count} queries (without BEGIN/COMMIT/savepoints)"
            f"   median {statistics.median(samples):6.1f} ms   best {min(samples):6.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_500_000)
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    sample = SAMPLE
    if smoke_requested(args):
        args.members, sample = 2_000, 2
    setup_django()

    import logging

    from django.test.utils import setup_test_environment

    from cardportal.celery import app
    from issuance.models import Card
    from members.models import Member

    logging.getLogger("cardportal.sms").setLevel(logging.ERROR)  # the console gateway's demo lines
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the wrong-code step's 400s
    load_members(args.members)
    give_cards()
    members = sample_members(sample)
    setup_test_environment()
    app.conf.task_always_eager = False  # queue on the in-memory broker: time the request alone
    print(
        f"\nmembers: {Member.objects.count():,}  cards: {Card.objects.count():,}"
        f"  (PostgreSQL, Django test client, server time per request, {len(members)} members)"
    )
    time_pages(members)
    print("\nsign-in steps:")
    sign_in_steps(members[0])


if __name__ == "__main__":
    main()
