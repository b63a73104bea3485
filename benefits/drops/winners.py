"""Group commit of the lean press's winners (fast.py): one writer thread per web process.

Every winner's ticket is written by the conditional update of the drop row (`taken < tickets`),
so winners' transactions queue on that row, each holding it through its COMMIT, and a COMMIT
waits for the WAL to reach the disk (13-25 ms on this machine's disk under load). One at a time,
500 winners would take 500 fsyncs in a row while their presses wait.

Here a winner's request hands its claim to the process's writer thread and waits for the answer;
the writer takes every claim waiting (up to BATCH_MAX) and settles them in ONE transaction with a
fixed number of statements per drop, whatever the batch's size: the sessions (the member and phone
must still match, as MemberMiddleware checks), the members, their activated cards, their tickets
held, then `take`: one conditional update `taken <= tickets - k` of the drop row (open window
too), the k tickets and their audit rows in two bulk inserts (the unique (drop, member, slot)
constraint behind them). The answers are given only after the COMMIT. If the transaction fails,
nothing of the batch was written: every won slot goes back to Redis and the requests get the error.

When the database refuses any of the batch (Redis ahead of it after a reload, a ticket Redis did
not know, a closed drop), `take` writes nothing (its savepoint) and the batch is settled one claim
at a time by `services.redis_winner_settle`, which corrects Redis claim by claim: the same
guarantees as the single claim path, at its speed, for the rare batch that needs it. With gunicorn's gthread workers a process has many presses in flight, so batches
fill up; with sync workers a batch is one claim (no gain, no harm)."""

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from benefits.membersite.auth import MEMBER_KEY, PHONE_KEY
from cardportal.models import AuditEntry
from members.models import Member

from . import selectors, services, store
from .models import Drop, Ticket

logger = logging.getLogger("cardportal.drops")
BATCH_MAX = 100
REFUSED = "refused"  # the session no longer signs this member in


@dataclass
class Claim:
    snap: object
    member_id: int
    session_key: str
    ip: str | None
    done: threading.Event = field(default_factory=threading.Event)
    member: Member | None = None
    result: object = None  # a services.ClaimResult or REFUSED
    state: str = "waiting"  # settled | failed (it released its own slot) | waiting
    error: BaseException | None = None


_queue: queue.SimpleQueue = queue.SimpleQueue()
_started = threading.Lock()
_thread: list[threading.Thread] = []


def settle(claim: Claim, *, timeout: float = 120.0):
    """Queue `claim` for the writer and wait: a services.ClaimResult, or REFUSED (the session no
    longer signs in this member)."""
    with _started:
        if not _thread or not _thread[0].is_alive():
            _thread[:] = [threading.Thread(target=_run, name="drops-winners", daemon=True)]
            _thread[0].start()
    _queue.put(claim)
    if not claim.done.wait(timeout):
        raise TimeoutError("the winners' writer did not answer in time")
    if claim.error is not None:
        raise claim.error
    return claim.result


def _run() -> None:
    while True:
        batch = [_queue.get()]
        while len(batch) < BATCH_MAX:
            try:
                batch.append(_queue.get_nowait())
            except queue.Empty:
                break
        write(batch)


def write(batch: list[Claim]) -> None:
    """Settle `batch` in one transaction (the writer thread; tests call it directly)."""
    try:
        close_old_connections()  # as at the start of a request: an old or broken connection goes
        with transaction.atomic():
            by_drop: dict[int, list[Claim]] = {}
            for claim in batch:
                by_drop.setdefault(claim.snap.id, []).append(claim)
            for claims in by_drop.values():
                _settle_drop(claims)
    except Exception as exc:  # noqa: BLE001 - every request of the batch gets it, after the slots go back
        logger.exception("drops: a batch of %s winners was not written", len(batch))
        for claim in batch:
            if claim.state == "waiting" or getattr(claim.result, "outcome", "") == services.WON:
                _release(claim)
            claim.error, claim.result = exc, None
    finally:
        for claim in batch:
            claim.done.set()


def _settle_drop(claims: list[Claim]) -> None:
    snap = claims[0].snap
    sessions = _sessions([c.session_key for c in claims])
    members = Member.objects.select_related("union").in_bulk([c.member_id for c in claims])
    cards = selectors.activated_members(list(members))
    takers = []
    for claim in claims:
        member, data = members.get(claim.member_id), sessions.get(claim.session_key, {})
        if member is None or not session_signs_in(data, member):
            _release(claim)
            claim.result, claim.state = REFUSED, "settled"
            continue
        reason = selectors.eligibility_reason(snap, member, activated=member.pk in cards)
        if reason:
            _release(claim)
            claim.result, claim.state = services.ClaimResult(services.INELIGIBLE, reason=reason), "settled"
            continue
        claim.member = member
        takers.append(claim)
    if not takers:
        return
    results = take(snap, [(c.member, c.ip) for c in takers])
    if results is None:
        results = []
        for claim in takers:
            claim.state = "failed"  # redis_winner_settle gives its own slot back if it raises
            results.append(services.redis_winner_settle(snap, claim.member, claim.ip))
            claim.state = "settled"
    for claim, result in zip(takers, results, strict=True):
        claim.result, claim.state = result, "settled"


def session_signs_in(data: dict, member: Member) -> bool:
    """The session's data still signs in `member` (MemberMiddleware's rule: same member, same
    phone as at sign-in, no staff login)."""
    return (
        data.get(MEMBER_KEY) == member.pk
        and "_auth_user_id" not in data
        and member.phone_hash == data.get(PHONE_KEY)
    )


def _sessions(keys: list[str]) -> dict[str, dict]:
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return {key: engine.SessionStore(key).load() for key in keys}
    rows = Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
    return {row.session_key: engine.SessionStore().decode(row.session_data) for row in rows}


class _Refused(Exception):
    pass


def take(snap, takers: list[tuple[Member, str | None]]) -> list | None:
    """Write the tickets of k Redis winners of one drop: the database is the authority as in
    services._db_take, in a fixed number of statements. None (nothing written) when it refuses
    any of them."""
    now = timezone.now()
    k = len(takers)
    try:
        with transaction.atomic():
            held: dict[int, list[int]] = {}
            for member_id, slot in Ticket.objects.filter(
                drop_id=snap.id, member_id__in=[m.pk for m, _ in takers], status__in=Ticket.HOLDING
            ).values_list("member_id", "slot"):
                held.setdefault(member_id, []).append(slot)
            slots = []
            for member, _ in takers:
                mine = held.setdefault(member.pk, [])
                free = next((n for n in range(1, snap.per_member_limit + 1) if n not in mine), None)
                if free is None:
                    raise _Refused
                mine.append(free)
                slots.append(free)
            took = Drop.objects.filter(
                pk=snap.id,
                taken__lte=F("tickets") - k,
                opens_at__lte=now,
                closes_at__gt=now,
                closed_early_at__isnull=True,
            ).update(taken=F("taken") + k)
            if not took:
                raise _Refused
            tickets = Ticket.objects.bulk_create(
                [
                    Ticket(
                        drop_id=snap.id,
                        member=member,
                        slot=slot,
                        status=Ticket.Status.PENDING if snap.price > 0 else Ticket.Status.VALID,
                        claimed_at=now,
                        pay_by=now + timedelta(seconds=settings.DROPS_PAY_SECONDS)
                        if snap.price > 0
                        else None,
                    )
                    for (member, _), slot in zip(takers, slots, strict=True)
                ]
            )
            AuditEntry.objects.bulk_create(
                [
                    AuditEntry(
                        verb="ticket.claimed",
                        target_type=Ticket._meta.label_lower,
                        target_id=str(ticket.pk),
                        target_label=f"{snap.title} · {services.mask_name(member.name)}"[:200],
                        union=member.union,
                        data={"drop": snap.id, "member": member.pk},
                        ip=ip,
                    )
                    for ticket, (member, ip) in zip(tickets, takers, strict=True)
                ]
            )
    except (_Refused, IntegrityError):
        return None
    for ticket in tickets:
        ticket.drop = Drop(pk=snap.id, title=snap.title, price=snap.price)
    return [services.ClaimResult(services.WON, ticket=ticket) for ticket in tickets]


def _release(claim: Claim) -> None:
    try:
        store.release(drop_key=claim.snap.key, member_id=claim.member_id)
    except Exception:  # noqa: BLE001 - the reconciliation repairs Redis from the database
        logger.warning("drops: a slot was not given back to Redis; the next reconciliation repairs it")
