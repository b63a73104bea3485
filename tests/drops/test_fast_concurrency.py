"""The lean press under real concurrency: threads press through `fast.grab` (the function both
doors call) with real sessions, real Redis and PostgreSQL, and the winners' writer thread
grouping their commits. The database is the judge, as in test_concurrency.py."""

import secrets
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connections
from django.utils import timezone

from benefits.drops import fast, services, store, winners
from benefits.drops.crowd import crowd_build
from benefits.drops.selectors import drop_snapshot
from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY
from members.models import Member

from .test_concurrency import THREADS, assert_exactly, assert_redis_agrees

pytestmark = [pytest.mark.postgres, pytest.mark.broker]


def signed_in_crowd(tree, n) -> list[tuple[int, str]]:
    ids = crowd_build(union=tree.unit_a1, count=n, tag=uuid.uuid4().hex[:8])
    phones = dict(Member.objects.filter(pk__in=ids).values_list("pk", "phone_hash"))
    encode = SessionStore().encode
    expire = timezone.now() + timedelta(hours=1)
    sessions = [
        Session(
            session_key=secrets.token_hex(16),
            session_data=encode({MEMBER_KEY: i, PHONE_KEY: phones[i]}),
            expire_date=expire,
        )
        for i in ids
    ]
    Session.objects.bulk_create(sessions, batch_size=2000)
    return [(i, s.session_key) for i, s in zip(ids, sessions, strict=True)]


def press_all(drop, crowd, *, presses=1):
    chunks = [crowd[i::THREADS] for i in range(THREADS)]
    answers, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(chunk):
        try:
            start.wait()
            for member_id, key in chunk:
                token = fast.claim_token(drop_id=drop.pk, member_id=member_id, session_key=key)
                for _ in range(presses):
                    status, body = fast.grab(drop_id=drop.pk, token=token, session_key=key, ip="10.0.0.1")
                    with lock:
                        answers.append((member_id, status, body["outcome"]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return answers


@pytest.fixture
def redis_only():
    if not store.enabled():
        pytest.skip("the lean press's own path needs Redis (REDIS_URL)")


@pytest.mark.django_db(transaction=True)
def test_lean_press_500_tickets_5000_members(tree, make_drop, settings, redis_only):
    settings.DROPS_THROTTLE = {"seconds": 10, "member": 10, "ip": 100_000}
    drop = make_drop(tickets=500)
    crowd = signed_in_crowd(tree, 5000)

    answers = press_all(drop, crowd)

    assert Counter(o for _, _, o in answers) == {services.WON: 500, services.SOLD_OUT: 4500}
    assert_exactly(drop, 500)
    assert_redis_agrees(drop)


@pytest.mark.django_db(transaction=True)
def test_lean_press_members_pressing_repeatedly(tree, make_drop, settings, redis_only):
    settings.DROPS_THROTTLE = {"seconds": 10, "member": 3, "ip": 100_000}
    drop = make_drop(tickets=300)
    crowd = signed_in_crowd(tree, 1000)

    answers = press_all(drop, crowd, presses=5)

    by_member = Counter(m for m, _, o in answers if o == services.WON)
    assert len(by_member) == 300 and set(by_member.values()) == {1}
    assert Counter(o for _, _, o in answers)["throttled"] == 1000 * 2  # presses 4 and 5 of each member
    assert_exactly(drop, 300)
    assert_redis_agrees(drop)


@pytest.mark.django_db(transaction=True)  # the writer closes old connections, as a request's end does
def test_batch_falls_back_claim_by_claim_when_the_database_refuses(tree, make_drop, redis_only):
    """Redis ahead of the database (as after a reload while claims were in flight): the batch's
    one-statement take writes nothing, each claim is then settled alone, Redis is corrected."""
    drop = make_drop(tickets=2)
    crowd = signed_in_crowd(tree, 3)
    snap = drop_snapshot(drop.pk)
    store.load(drop_key=drop.key, left=3, holders={})  # Redis believes in three tickets
    throttle = {"seconds": 10, "member": 10, "ip": 100}
    for member_id, _ in crowd:
        held = store.grab(
            drop_key=drop.key, member_id=member_id, limit=1, ip="-", throttle=throttle, reload=None
        )
        assert held == 1
    claims = [winners.Claim(snap, member_id, key, None) for member_id, key in crowd]

    winners.write(claims)

    assert [c.result.outcome for c in claims] == [services.WON, services.WON, services.SOLD_OUT]
    assert_exactly(drop, 2)
    assert_redis_agrees(drop)
