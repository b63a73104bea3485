"""Writes of the ticket grab: drops (create, change before opening, close early, export),
claims, payment, expiry, reconciliation and redemption.

The claim (docs/drops.md):

1. `drop_claim` refuses from the in-process snapshot, without touching Redis or the database,
   a request before the opening second or after the end; then the member's eligibility.
2. Redis path (DROPS_REDIS_URL set): one Lua script decides duplicate / sold out / won. Only the
   winners (at most `tickets` + returns) reach the database.
3. The database write (`_db_take`) is the authority for both paths: a conditional update
   `taken < tickets` inside the drop's window, and an insert guarded by the unique
   (drop, member, slot) constraint. If it refuses a Redis winner, Redis is corrected.
4. Database path (no Redis, or Redis unreachable): the same write after `SELECT … FOR UPDATE` on
   the drop row, so claims of one drop queue on that row.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cardportal import exports
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.models import Member

from . import store
from .models import Drop, Ticket
from .payments import PaymentError, get_provider
from .selectors import (
    DropSnapshot,
    drop_snapshot,
    drop_snapshot_forget,
    drop_winners,
    eligibility_reason,
    holders_from_db,
)

logger = logging.getLogger("cardportal.drops")


# --- staff: drops -------------------------------------------------------------------------------
EDITABLE_FIELDS = (
    "title",
    "merchant",
    "venue",
    "picture",
    "description",
    "tickets",
    "price",
    "opens_at",
    "closes_at",
    "per_member_limit",
    "hardship_only",
)


@transaction.atomic
def drop_create(*, actor, union, fields: dict, counties=()) -> Drop:
    drop = Drop(union=union, created_by=actor, **{k: fields[k] for k in EDITABLE_FIELDS if k in fields})
    drop.full_clean(exclude=["union"])
    drop.save()
    drop.counties.set(counties)
    audit_record(
        actor=actor,
        verb="drop.created",
        target=drop,
        union=union,
        data={"tickets": drop.tickets, "price": str(drop.price), "opens_at": drop.opens_at.isoformat()},
    )
    _forget_lists()
    return drop


@transaction.atomic
def drop_update(*, drop: Drop, actor, fields: dict, counties=()) -> Drop:
    """Change a drop that has not opened yet; after the opening second only close it early."""
    drop = Drop.objects.select_for_update().get(pk=drop.pk)
    if drop.has_opened():
        raise ApplicationError("活动已开始，不能再修改（只能提前结束）")
    changed = {}
    for name in EDITABLE_FIELDS:
        if name in fields and getattr(drop, name) != fields[name]:
            changed[name] = str(fields[name])
            setattr(drop, name, fields[name])
    drop.full_clean(exclude=["union"])
    drop.save()
    drop.counties.set(counties)
    audit_record(actor=actor, verb="drop.changed", target=drop, union=drop.union, data={"changed": changed})
    drop_snapshot_forget(drop.pk)
    _forget_lists()
    return drop


@transaction.atomic
def drop_close_early(*, drop: Drop, actor) -> Drop:
    drop = Drop.objects.select_for_update().get(pk=drop.pk)
    now = timezone.now()
    if drop.closed_early_at or now >= drop.closes_at:
        raise ApplicationError("活动已经结束")
    drop.closed_early_at = now
    drop.save(update_fields=["closed_early_at", "updated_at"])
    audit_record(
        actor=actor, verb="drop.closed_early", target=drop, union=drop.union, data={"taken": drop.taken}
    )
    drop_snapshot_forget(drop.pk)
    _forget_lists()
    return drop


def _forget_lists() -> None:
    from django.core.cache import cache

    transaction.on_commit(lambda: cache.delete("drops:public-list"))


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


EXPORT_HEADERS = ["序号", "券码", "姓名", "手机号", "所属工会", "状态", "抢到时间", "核销时间"]


def drop_export(*, drop: Drop, actor) -> bytes:
    """The venue's list (.xlsx): codes and masked names, the cells written through
    cardportal.exports (no formula, codes as text)."""
    from io import BytesIO

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(drop.title[:28] or "中签名单")
    exports.xlsx_append(ws, EXPORT_HEADERS)
    tz = timezone.get_current_timezone()
    rows = 0
    for i, t in enumerate(drop_winners(drop), start=1):
        exports.xlsx_append(
            ws,
            [
                i,
                t.code,
                mask_name(t.member.name),
                t.member.masked_phone,
                t.member.union.name,
                t.get_status_display(),
                t.claimed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                t.used_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if t.used_at else "",
            ],
            text_cols=[1],
        )
        rows += 1
    out = BytesIO()
    wb.save(out)
    audit_record(actor=actor, verb="drop.exported", target=drop, union=drop.union, data={"rows": rows})
    return out.getvalue()


# --- members: the claim ---------------------------------------------------------------------------
WON, DUPLICATE, SOLD_OUT, INELIGIBLE, NOT_OPEN, CLOSED = (
    "won",
    "duplicate",
    "sold_out",
    "ineligible",
    "not_open",
    "closed",
)


@dataclass(frozen=True)
class ClaimResult:
    outcome: str
    ticket: Ticket | None = None
    reason: str = ""


def drop_claim(*, drop_id: int, member: Member, ip: str | None = None) -> ClaimResult:
    snap = drop_snapshot(drop_id)
    now = timezone.now()
    if now < snap.opens_at:
        return ClaimResult(NOT_OPEN)
    if now >= snap.ends_at:
        return ClaimResult(CLOSED)
    reason = eligibility_reason(snap, member)
    if reason:
        return ClaimResult(INELIGIBLE, reason=reason)
    if store.enabled():
        try:
            return _claim_via_redis(snap, member, ip)
        except redis.RedisError:
            logger.warning("drop %s: Redis unavailable, claim takes the database path", snap.id)
    return _claim_via_db(snap, member, ip)


def reload_state(snap: DropSnapshot):
    drop = Drop.objects.only("tickets", "taken").get(pk=snap.id)
    return drop.tickets - drop.taken, holders_from_db(snap.id)


def _claim_via_redis(snap: DropSnapshot, member: Member, ip) -> ClaimResult:
    held = store.claim(
        drop_key=snap.key,
        member_id=member.pk,
        limit=snap.per_member_limit,
        reload=lambda: reload_state(snap),
    )
    if held == store.DUPLICATE:
        return ClaimResult(DUPLICATE, ticket=_latest_ticket(snap.id, member))
    if held == store.SOLD_OUT:
        return ClaimResult(SOLD_OUT)
    return redis_winner_settle(snap, member, ip)


def redis_winner_settle(snap: DropSnapshot, member: Member, ip) -> ClaimResult:
    """Redis counted `member` as a winner: write the ticket (the authority), or correct Redis when
    the database refuses. Shared by `drop_claim` and the lean endpoint (fast.py)."""
    try:
        outcome, ticket = _db_take(snap, member, ip, lock=False)
    except Exception:
        # Nothing was written: give the slot back, so no ticket is lost to an error.
        store.release(drop_key=snap.key, member_id=member.pk)
        raise
    if outcome == SOLD_OUT:
        # Redis was ahead of the database (state reloaded while claims were in flight).
        store.release(drop_key=snap.key, member_id=member.pk, pool="none")
    elif outcome == DUPLICATE:
        # Redis did not know the member's ticket (state rebuilt in between): the member's count is
        # right now, the ticket taken from the pool was not.
        store.release(drop_key=snap.key, member_id=member.pk, uncount_member=False)
    elif outcome == CLOSED:
        store.release(drop_key=snap.key, member_id=member.pk)
    return ClaimResult(outcome, ticket=ticket)


def _claim_via_db(snap: DropSnapshot, member: Member, ip) -> ClaimResult:
    # Once sold out, a plain read answers: the crowd after the last ticket does not queue on the
    # drop row's lock (a ticket returned by expiry is found by the next press).
    if Drop.objects.filter(pk=snap.id, taken__gte=F("tickets")).exists():
        mine = _latest_ticket(snap.id, member)
        return ClaimResult(DUPLICATE, ticket=mine) if mine else ClaimResult(SOLD_OUT)
    outcome, ticket = _db_take(snap, member, ip, lock=True)
    return ClaimResult(outcome, ticket=ticket)


def _latest_ticket(drop_id: int, member: Member) -> Ticket | None:
    return (
        Ticket.objects.filter(drop_id=drop_id, member=member, status__in=Ticket.HOLDING)
        .select_related("drop")
        .order_by("-claimed_at", "-id")
        .first()
    )


def _db_take(snap: DropSnapshot, member: Member, ip, *, lock: bool) -> tuple[str, Ticket | None]:
    """The authoritative write. `lock`: the database-only path, `SELECT … FOR UPDATE` on the drop
    row first (claims queue there); otherwise one conditional UPDATE is the whole stock check."""
    now = timezone.now()
    try:
        with transaction.atomic():
            if lock:
                drop = (
                    Drop.objects.select_for_update()
                    .only("tickets", "taken", "opens_at", "closes_at", "closed_early_at")
                    .get(pk=snap.id)
                )
                if not drop.is_open(now):
                    return CLOSED, None
            held = list(
                Ticket.objects.filter(drop_id=snap.id, member=member, status__in=Ticket.HOLDING).values_list(
                    "slot", flat=True
                )
            )
            if len(held) >= snap.per_member_limit:
                return DUPLICATE, _latest_ticket(snap.id, member)
            if lock:
                if drop.taken >= drop.tickets:
                    return SOLD_OUT, None
                Drop.objects.filter(pk=snap.id).update(taken=F("taken") + 1)
            else:
                took = Drop.objects.filter(
                    pk=snap.id,
                    taken__lt=F("tickets"),
                    opens_at__lte=now,
                    closes_at__gt=now,
                    closed_early_at__isnull=True,
                ).update(taken=F("taken") + 1)
                if not took:
                    still_open = Drop.objects.filter(
                        pk=snap.id, closes_at__gt=now, closed_early_at__isnull=True
                    ).exists()
                    return (SOLD_OUT if still_open else CLOSED), None
            slot = next(n for n in range(1, snap.per_member_limit + 1) if n not in held)
            ticket = Ticket.objects.create(
                drop_id=snap.id,
                member=member,
                slot=slot,
                status=Ticket.Status.PENDING if snap.price > 0 else Ticket.Status.VALID,
                claimed_at=now,
                pay_by=now + timedelta(seconds=settings.DROPS_PAY_SECONDS) if snap.price > 0 else None,
            )
            audit_record(
                actor=None,
                verb="ticket.claimed",
                target=ticket,
                union=member.union,
                data={"drop": snap.id, "member": member.pk},
                ip=ip,
                label=f"{snap.title} · {mask_name(member.name)}",
            )
    except IntegrityError:
        # The unique (drop, member, slot) constraint: a concurrent press of the same member won.
        return DUPLICATE, _latest_ticket(snap.id, member)
    ticket.drop = Drop(pk=snap.id, title=snap.title, price=snap.price)
    return WON, ticket


# --- payment ----------------------------------------------------------------------------------------
def ticket_pay(*, ticket: Ticket, member: Member) -> Ticket:
    """Start the payment of the member's pending ticket; with the default provider it is
    confirmed at once."""
    if ticket.member_id != member.pk:
        raise ApplicationError("这张券不属于您")
    ticket.refresh_from_db()
    if expire_if_due(ticket):
        ticket.refresh_from_db()
    if ticket.status == Ticket.Status.VALID:
        return ticket
    if ticket.status != Ticket.Status.PENDING:
        raise ApplicationError("已超过支付时限，票已退回，可在活动进行中再次抢票")
    try:
        started = get_provider().start(
            order_id=f"T{ticket.pk}", amount=ticket.drop.price, description=ticket.drop.title[:40]
        )
    except PaymentError as exc:
        raise ApplicationError("支付暂时不可用，请稍后再试（支付时限内有效）") from exc
    if started.confirmed:
        return ticket_payment_confirm(ticket=ticket, provider_ref=started.provider_ref)
    return ticket


@transaction.atomic
def ticket_payment_confirm(*, ticket: Ticket, provider_ref: str) -> Ticket:
    """The provider confirmed the payment. Idempotent (a repeated notification changes nothing).
    A confirmation after the ticket expired is refused (the provider refunds)."""
    ticket = Ticket.objects.select_for_update().select_related("drop", "member").get(pk=ticket.pk)
    if ticket.status == Ticket.Status.VALID and ticket.payment_ref == provider_ref:
        return ticket
    if ticket.status != Ticket.Status.PENDING:
        raise ApplicationError("已超过支付时限，票已退回，支付将原路退还")
    ticket.status = Ticket.Status.VALID
    ticket.paid_at = timezone.now()
    ticket.payment_ref = provider_ref
    ticket.save(update_fields=["status", "paid_at", "payment_ref"])
    audit_record(
        actor=None,
        verb="ticket.paid",
        target=ticket,
        union=ticket.member.union,
        data={"amount": str(ticket.drop.price), "provider_ref": provider_ref},
        label=f"{ticket.drop.title} · {mask_name(ticket.member.name)}",
    )
    return ticket


# --- expiry ---------------------------------------------------------------------------------------
def tickets_expire(*, now=None, limit: int = 1000) -> int:
    """Return unpaid tickets past their deadline to the pool: status expired, the drop's `taken`
    down, then the Redis slot given back (after commit). Idempotent: rows are locked and
    re-checked; SKIP LOCKED lets two sweeps run side by side without waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Ticket.objects.select_for_update(skip_locked=True)
            .filter(status=Ticket.Status.PENDING, pay_by__lte=now)
            .select_related("drop", "member__union")
            .order_by("pk")[:limit]
        )
        for ticket in due:
            ticket.status = Ticket.Status.EXPIRED
            ticket.save(update_fields=["status"])
            Drop.objects.filter(pk=ticket.drop_id).update(taken=F("taken") - 1)
            audit_record(
                actor=None,
                verb="ticket.expired",
                target=ticket,
                union=ticket.member.union,
                label=f"{ticket.drop.title} · {mask_name(ticket.member.name)}",
            )
        released = [(t.drop.key, t.member_id) for t in due]
        transaction.on_commit(lambda: _release_all(released))
    return len(due)


def _release_all(released) -> None:
    if not store.enabled():
        return
    for drop_key, member_id in released:
        try:
            store.release(drop_key=drop_key, member_id=member_id)
        except redis.RedisError:
            logger.warning("drop release not written to Redis; the next reconciliation repairs it")


def expire_if_due(ticket: Ticket) -> bool:
    if ticket.status == Ticket.Status.PENDING and ticket.pay_by and ticket.pay_by <= timezone.now():
        tickets_expire()
        return True
    return False


def tickets_expire_lazily() -> None:
    """From a sold-out answer: a due ticket goes back now instead of at the next beat, at most
    once every few seconds across all processes."""
    from django.core.cache import cache

    if cache.add("drops:lazy-expiry", 1, timeout=settings.DROPS_LAZY_EXPIRY_SECONDS):
        tickets_expire()


# --- reconciliation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reconciliation:
    tickets: int
    db_taken: int
    db_holding: int  # holding ticket rows (must equal db_taken)
    db_holders: dict
    redis_left: int | None
    redis_holders: dict
    repaired: bool = False

    @property
    def db_consistent(self) -> bool:
        return self.db_taken == self.db_holding <= self.tickets

    @property
    def redis_agrees(self) -> bool:
        return self.redis_left == self.tickets - self.db_taken and self.redis_holders == self.db_holders


def drop_reconcile(*, drop: Drop, repair: bool = False, actor=None) -> Reconciliation:
    """Compare Redis with the database (the authority); `repair` rewrites Redis from it."""
    drop.refresh_from_db(fields=["tickets", "taken"])
    holders = holders_from_db(drop.pk)
    redis_left, redis_holders = store.read(drop_key=drop.key) if store.enabled() else (None, {})
    result = Reconciliation(
        tickets=drop.tickets,
        db_taken=drop.taken,
        db_holding=sum(holders.values()),
        db_holders=holders,
        redis_left=redis_left,
        redis_holders=redis_holders,
    )
    if repair and store.enabled() and not result.redis_agrees:
        store.load(drop_key=drop.key, left=drop.tickets - drop.taken, holders=holders)
        audit_record(
            actor=actor,
            verb="drop.reconciled",
            target=drop,
            union=drop.union,
            data={"db_taken": drop.taken, "redis_left_before": redis_left},
        )
        result = drop_reconcile(drop=drop)
        return Reconciliation(**{**result.__dict__, "repaired": True})
    return result


def drops_reconcile_live(*, now=None) -> int:
    """Beat: every drop open now (or ended within the hour) gets Redis checked and repaired."""
    if not store.enabled():
        return 0
    now = now or timezone.now()
    repaired = 0
    for drop in Drop.objects.filter(opens_at__lte=now, closes_at__gt=now - timedelta(hours=1)):
        try:
            repaired += drop_reconcile(drop=drop, repair=True).repaired
        except redis.RedisError:
            logger.warning("drop %s: Redis unreachable, reconciliation skipped", drop.pk)
    return repaired


# --- redemption ---------------------------------------------------------------------------------
@transaction.atomic
def voucher_redeem(*, ticket: Ticket, actor=None, at_venue: bool = False) -> Ticket:
    """Mark a voucher used, once. The conditional update makes two scans at once use it once."""
    now = timezone.now()
    done = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.VALID).update(
        status=Ticket.Status.USED, used_at=now, used_by=actor if actor else None, used_at_venue=at_venue
    )
    ticket = Ticket.objects.select_related("drop", "member__union").get(pk=ticket.pk)
    if not done:
        if ticket.status == Ticket.Status.USED:
            local = timezone.localtime(ticket.used_at)
            raise ApplicationError(f"该券已于{local:%Y-%m-%d %H:%M}使用过，不能重复使用")
        if ticket.status == Ticket.Status.PENDING:
            raise ApplicationError("该券尚未支付，不能使用")
        raise ApplicationError("该券已失效（超时未支付）")
    audit_record(
        actor=actor,
        verb="ticket.redeemed",
        target=ticket,
        union=ticket.drop.union,
        data={"at_venue": at_venue},
        label=f"{ticket.drop.title} · {ticket.code_display}",
    )
    return ticket
