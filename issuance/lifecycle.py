"""The card state machine and the monthly counters that follow it.

Every status change goes through `cards_transition` (or `cards_apply` for new applications):
it locks the cards, refuses transitions the machine does not allow, writes one CardEvent per
card, sets each stage timestamp once, and adds to UnionMonthCount in the same transaction.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cardportal import bulk
from cardportal.errors import ApplicationError

from .models import Card, CardEvent, UnionMonthCount
from .notices import card_notices_send

S = Card.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.APPLIED: frozenset({S.IN_BATCH, S.CANCELLED}),
    S.IN_BATCH: frozenset({S.ISSUED, S.REJECTED_BY_BANK, S.APPLIED}),
    S.REJECTED_BY_BANK: frozenset({S.APPLIED, S.CANCELLED}),
    S.ISSUED: frozenset({S.RECEIVED, S.LOST, S.CANCELLED}),
    S.RECEIVED: frozenset({S.DISTRIBUTED, S.LOST, S.CANCELLED}),
    S.DISTRIBUTED: frozenset({S.ACTIVATED, S.LOST, S.CANCELLED}),
    S.ACTIVATED: frozenset({S.LOST, S.CANCELLED}),
    S.LOST: frozenset(),
    S.CANCELLED: frozenset(),
}
# The stage a status marks, its timestamp field, and the counter it feeds.
STAGE_FIELD = {
    S.ISSUED: "issued_at",
    S.RECEIVED: "received_at",
    S.DISTRIBUTED: "distributed_at",
    S.ACTIVATED: "activated_at",
    S.LOST: "closed_at",
    S.CANCELLED: "closed_at",
}
COUNTED = {S.ISSUED: "issued", S.RECEIVED: "received", S.DISTRIBUTED: "distributed", S.ACTIVATED: "activated"}

STATUS_LABELS = dict(S.choices)


def month_of(at: datetime) -> date:
    return timezone.localtime(at).date().replace(day=1)


def refusal_message(number: str | None, status: str, to_status: str) -> str:
    return (
        f"卡片（{number or '未制卡'}）当前状态为“{STATUS_LABELS[status]}”，"
        f"不能变更为“{STATUS_LABELS[to_status]}”"
    )


def bump_counts(deltas: Counter) -> None:
    """Add (union_id, month, metric) -> n to UnionMonthCount with one upsert per key.

    INSERT … ON CONFLICT DO UPDATE adds to the stored count atomically, on PostgreSQL and SQLite."""
    if not deltas:
        return
    table = UnionMonthCount._meta.db_table
    sql = (
        f"INSERT INTO {table} (union_id, month, metric, count) VALUES (%s, %s, %s, %s) "
        f"ON CONFLICT (union_id, month, metric) DO UPDATE SET count = {table}.count + excluded.count"
    )
    rows = [(u, m, metric, n) for (u, m, metric), n in sorted(deltas.items()) if n]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


# What a transition reads of each card under its lock: enough for the rules, the event's
# from_status, the counters and the refusal message, as tuples (building 100,000 model instances
# took a second of the return import).
LOCKED = ("id", "status", "number", "union_id", "replaces_id")


def _lock(ids: list[int], stage: str | None) -> list[tuple]:
    """(id, status, number, union_id, replaces_id, stage time) of the cards, locked, ordered by pk."""
    return list(_with_ids(ids).select_for_update().order_by("pk").values_list(*LOCKED, stage or "id"))


def _with_ids(ids: list[int]) -> QuerySet[Card]:
    """The cards with these ids, the ids as one array parameter on PostgreSQL (`bulk.filter_any`:
    `= ANY` hashes the array and scans the table in 0.12 s for 100,000 ids, where an IN list of
    100,000 placeholders took ~0.5 s to compile and as long to parse)."""
    return bulk.filter_any(Card.objects.all(), "id", ids)


def _write_moves(
    moving: list[tuple],
    changes: dict[str, list],
    *,
    to_status: str,
    at: datetime,
    actor_id,
    note: str,
    member_actor_id=None,
) -> None:
    """Write the moved cards (locked rows) and one event each. `changes` holds per-card values
    (number, bank reason, batch), one list per field in the order of `moving`.

    Status, updated_at and the stage time (set once: COALESCE) are the same for every card and go
    in as parameters; each card's id, status before and changed values go into a temporary table
    (COPY on PostgreSQL) joined by one UPDATE (so a row's status and its number change together
    for the check constraints), and the events are inserted from that table."""
    stage = STAGE_FIELD.get(to_status)
    sets = ['"status" = %s', '"updated_at" = %s']
    params: list = [to_status, at]
    if stage:
        sets.append(f'"{stage}" = COALESCE(c."{stage}", %s)')
        params.append(at)
    varying = [Card._meta.get_field(name) for name in changes]
    sets += [f'"{f.column}" = v."{f.column}"' for f in varying]
    definitions = [("id", "bigint PRIMARY KEY"), ("from_status", "text")]
    definitions += [(f.column, f.db_type(connection)) for f in varying]
    columns = list(changes.values())
    rows = ((row[0], row[1], *[column[i] for column in columns]) for i, row in enumerate(moving))
    with bulk.temp_table("card_changes", definitions, rows) as temp, connection.cursor() as cursor:
        cursor.execute(MOVE_UPDATE.format(card=Card._meta.db_table, sets=", ".join(sets), temp=temp), params)
        cursor.execute(
            MOVE_EVENTS.format(event=CardEvent._meta.db_table, temp=temp),
            [to_status, at, actor_id, member_actor_id, note],
        )


# UPDATE … FROM a temporary table and the events from the same table: the same two statements
# on PostgreSQL and SQLite (3.33+). Django's bulk_update builds a CASE per field and row, 20×
# slower at 100,000 cards.
MOVE_UPDATE = 'UPDATE "{card}" AS c SET {sets} FROM {temp} AS v WHERE c."id" = v."id"'
MOVE_EVENTS = """
INSERT INTO "{event}" (card_id, from_status, to_status, at, actor_id, member_actor_id, note)
SELECT v."id", v."from_status", %s, %s, %s, %s, %s FROM {temp} AS v ORDER BY v."id"
"""


def _write_events(events: list[tuple], *, member_actor_id=None) -> None:
    """(card_id, from_status, to_status, at, actor_id, note) rows, by `bulk.copy_rows`."""
    columns = ["card_id", "from_status", "to_status", "at", "actor_id", "note", "member_actor_id"]
    bulk.copy_rows(CardEvent._meta.db_table, columns, (event + (member_actor_id,) for event in events))


def actor_ids(actor) -> tuple[int | None, int | None]:
    """(staff user id, member id) of whoever acts: a staff user, a member on the members' site
    (recorded in CardEvent.member_actor), or None for the system."""
    from members.models import Member

    if isinstance(actor, Member):
        return None, actor.pk
    return (actor.pk if getattr(actor, "pk", None) else None), None


@transaction.atomic
def cards_move(
    *,
    cards: Iterable[Card] | Iterable[int],
    to_status: str,
    actor=None,
    at: datetime | None = None,
    note: str = "",
    updates: dict[int, dict] | None = None,
    strict: bool = True,
) -> list[tuple]:
    """`cards_transition` without model instances: the same rules and writes, returning the moved
    cards as the rows locked before the move, (id, status, number, union_id, replaces_id, stage
    time). For callers that move 100,000 cards and need only their ids (the return import)."""
    at = at or timezone.now()
    ids = sorted({c if isinstance(c, int) else c.pk for c in cards})
    metric, stage, month = COUNTED.get(to_status), STAGE_FIELD.get(to_status), month_of(at)
    locked = _lock(ids, stage)
    if len(locked) != len(ids):
        raise ApplicationError("部分卡片不存在", code="card_missing")
    allowed = {status for status, targets in TRANSITIONS.items() if to_status in targets}
    moving = [row for row in locked if row[1] in allowed]
    if strict and len(moving) != len(locked):
        _id, status, number = next(row for row in locked if row[1] not in allowed)[:3]
        raise ApplicationError(refusal_message(number, status, to_status), code="transition_refused")
    if not moving:
        return moving
    # Counted once per member: replacement cards and stages already reached add nothing.
    deltas: Counter = Counter(
        (union_id, month, metric)
        for _id, _status, _number, union_id, replaces_id, reached in moving
        if metric is not None and replaces_id is None and reached is None
    )
    # Cards with the same fields to change are written together (every caller gives each card
    # the same fields, so that is one write).
    groups: dict[tuple, list[tuple]] = {}
    for row in moving:
        groups.setdefault(tuple((updates or {}).get(row[0], ())), []).append(row)
    actor_id, member_actor_id = actor_ids(actor)
    for names, rows in groups.items():
        changes = {name: [updates[row[0]][name] for row in rows] for name in names}
        _write_moves(
            rows,
            changes,
            to_status=to_status,
            at=at,
            actor_id=actor_id,
            note=note,
            member_actor_id=member_actor_id,
        )
    bump_counts(deltas)
    # The member hears of a card ready to collect or activated: a notice and an SMS, once per card.
    card_notices_send(card_ids=[row[0] for row in moving], to_status=to_status, at=at)
    return moving


@transaction.atomic
def cards_transition(
    *,
    cards: Iterable[Card] | Iterable[int],
    to_status: str,
    actor=None,
    at: datetime | None = None,
    note: str = "",
    updates: dict[int, dict] | None = None,
    strict: bool = True,
) -> list[Card]:
    """Move cards to `to_status`. Locks them (ordered by pk), checks the machine, writes events,
    stage timestamps and counters. `updates` sets extra fields per card id (number, bank_reason).
    strict=True refuses the whole call if any card may not move; strict=False skips those and
    returns only the cards that moved (as they are after the move, ordered by pk)."""
    moved = cards_move(
        cards=cards, to_status=to_status, actor=actor, at=at, note=note, updates=updates, strict=strict
    )
    if not moved:
        return []
    return list(_with_ids([row[0] for row in moved]).order_by("pk"))


@transaction.atomic
def cards_apply(*, members: Iterable, actor=None, at: datetime | None = None, note: str = "") -> list[Card]:
    """Create an `applied` card for each member without a live card (idempotent: a member who
    already has one is skipped). Hardship workers are marked so batches take them first."""
    at = at or timezone.now()
    members = list(members)
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    if bulk.is_postgresql():
        new = _insert_applied_cards(members, at=at, actor_id=actor_id, note=note)
    else:
        live = set(
            Card.objects.filter(member__in=[m.pk for m in members]).live().values_list("member_id", flat=True)
        )
        new = [
            Card(member=m, union_id=m.union_id, is_hardship=m.is_hardship, applied_at=at, updated_at=at)
            for m in members
            if m.pk not in live
        ]
        Card.objects.bulk_create(new, batch_size=2000)  # SQLite returns the new ids
        _write_events([(c.pk, "", S.APPLIED, at, actor_id, note) for c in new])
    month = month_of(at)
    deltas: Counter = Counter((union_id, month, "applied") for union_id in (c.union_id for c in new))
    bump_counts(deltas)
    return new


def cards_apply_registered(*, member_ids: list[int], actor=None, at: datetime | None = None) -> int:
    """The registration hook: an `applied` card for each newly registered member, given by id.
    Returns how many cards were created. Same rows, events and counters as `cards_apply`, but
    nothing is built in Python: on PostgreSQL one statement reads the members' union and hardship
    flag itself, and the one-live-card index decides who already has a card (ON CONFLICT)."""
    from members.models import Member

    if not member_ids:
        return 0
    at = at or timezone.now()
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    if not bulk.is_postgresql():
        created = 0
        for start in range(0, len(member_ids), 2000):
            chunk = Member.objects.filter(pk__in=member_ids[start : start + 2000]).only(
                "union_id", "is_hardship"
            )
            created += len(cards_apply(members=chunk.order_by("pk"), actor=actor, at=at))
        return created
    source = (
        f"(SELECT m.id, m.union_id, m.is_hardship, m.id FROM {Member._meta.db_table} m "
        f"WHERE {bulk.any_of('m.id').replace('%s', '%(ids)s')})"
    )
    rows = _insert_applied(
        source,
        {"ids": bulk.array_text(member_ids)},
        at=at,
        now=timezone.now(),
        actor_id=actor_id,
        note="",
        expect_new=True,
    )
    month = month_of(at)
    bump_counts(Counter((union_id, month, "applied") for _pk, _member_id, union_id in rows))
    return len(rows)


# Every applied card is inserted by this one statement, from rows (member_id, union_id,
# is_hardship, n) that the caller's {source} gives, in the order of n. ON CONFLICT (`ON_CONFLICT`,
# left out only on `_insert_applied`'s first try for new members) names the partial one-live-card
# index by its column and predicate (the DEAD statuses written out: an index predicate cannot be a
# parameter), so a member who already holds a live card is skipped by the index itself, also when
# two applications race. The events are inserted from its RETURNING rows in the same statement.
APPLY_INSERT = """
WITH new AS (
    INSERT INTO {card} (member_id, union_id, is_hardship, status, bank_reason, applied_at, updated_at)
    SELECT t.member_id, t.union_id, t.is_hardship, %(status)s, '', %(at)s, %(now)s
    FROM {source} AS t(member_id, union_id, is_hardship, n)
    ORDER BY t.n
    {on_conflict}
    RETURNING id, member_id, union_id
), events AS (
    INSERT INTO {event} (card_id, from_status, to_status, at, actor_id, note)
    SELECT id, '', %(status)s, %(at)s, %(actor)s, %(note)s FROM new ORDER BY id
)
SELECT id, member_id, union_id FROM new
"""
LIVE = "NOT (status IN ({}))".format(", ".join(f"'{status}'" for status in Card.DEAD))
ON_CONFLICT = f"ON CONFLICT (member_id) WHERE {LIVE} DO NOTHING"


def _insert_applied(
    source: str, params: dict, *, at: datetime, now: datetime, actor_id, note: str, expect_new: bool = False
) -> list[tuple]:
    """PostgreSQL: insert the applied cards of `source`'s rows; (card id, member id, union id) of
    each new card. updated_at is `now`, as auto_now stamps it in bulk_create.

    `expect_new`: the members are normally new (registration's, uncommitted: no other
    transaction can apply for them), so the statement goes first without ON CONFLICT, in a
    savepoint. ON CONFLICT checks the one-live-card index before each row and then confirms each
    speculative insertion: 0.91-0.98 s against 1.01-1.16 s for 99,000 cards and their events,
    alternately. A member who holds a live card after all (a re-run) fails it on that index,
    and the same rows go again with ON CONFLICT, which skips that member."""
    tables = {"card": Card._meta.db_table, "event": CardEvent._meta.db_table, "source": source}
    params = {**params, "status": S.APPLIED, "at": at, "now": now, "actor": actor_id, "note": note}
    if expect_new:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(APPLY_INSERT.format(**tables, on_conflict=""), params)
                return cursor.fetchall()
        except IntegrityError:
            pass  # rolled back to the savepoint: nothing of it stays
    with connection.cursor() as cursor:
        cursor.execute(APPLY_INSERT.format(**tables, on_conflict=ON_CONFLICT), params)
        return cursor.fetchall()


def _insert_applied_cards(members: list, *, at: datetime, actor_id, note: str) -> list[Card]:
    """PostgreSQL: the cards of 100,000 members and their `applied` events in one statement
    (`APPLY_INSERT` from three arrays), ids back in the members' order. bulk_create sends 50
    statements of 2,000 rows with every value as a parameter and builds each instance's insert,
    then the events went by COPY; this sends three arrays. Same rows as the SQLite path."""
    if not members:
        return []
    source = "unnest(%(members)s::bigint[], %(unions)s::bigint[], %(hardship)s::boolean[]) WITH ORDINALITY"
    arrays = {
        "members": [m.pk for m in members],
        "unions": [m.union_id for m in members],
        "hardship": [bool(m.is_hardship) for m in members],
    }
    now = timezone.now()
    rows = _insert_applied(source, arrays, at=at, now=now, actor_id=actor_id, note=note)
    card_of = {member_id: pk for pk, member_id, _union in rows}
    # Instances the way a query loads them (Model.from_db: positional values, half the time of
    # keyword arguments; saved, on this database), each with its member cached through the
    # foreign key's own cache as bulk_create's were. Not `card.member = m`: that descriptor asks
    # the database routers (db_for_write, allow_relation) per card, 27,000 more instructions a
    # card (callgrind, docs/benchmarks.md "Renovation: before and after").
    names = [f.attname for f in Card._meta.concrete_fields]
    template = dict.fromkeys(names)
    template.update(status=S.APPLIED, bank_reason="", is_hardship=False, applied_at=at, updated_at=now)
    template = list(template.values())
    slot = {name: i for i, name in enumerate(names)}
    i_id, i_member, i_union, i_hardship = slot["id"], slot["member_id"], slot["union_id"], slot["is_hardship"]
    from_db, alias, cache_member = Card.from_db, connection.alias, Card.member.field.set_cached_value
    new = []
    for m in members:
        pk = card_of.get(m.pk)
        if pk is not None:
            values = template.copy()
            values[i_id], values[i_member], values[i_union], values[i_hardship] = (
                pk,
                m.pk,
                m.union_id,
                m.is_hardship,
            )
            card = from_db(alias, names, values)
            cache_member(card, m)
            new.append(card)
    return new


def recount_union_months() -> dict[tuple[int, date, str], int]:
    """Count UnionMonthCount's figures from the cards themselves (the check the counters must pass)."""
    result: dict[tuple[int, date, str], int] = {}
    base = Card.objects.filter(replaces__isnull=True)
    for metric, field in [("applied", "applied_at")] + [(m, STAGE_FIELD[s]) for s, m in COUNTED.items()]:
        rows = (
            base.filter(**{f"{field}__isnull": False})
            .annotate(month=TruncMonth(field))
            .values("union_id", "month")
            .annotate(n=Count("id"))
        )
        for row in rows:
            month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
            result[(row["union_id"], month, metric)] = row["n"]
    return result


def stored_union_months() -> dict[tuple[int, date, str], int]:
    return {(r.union_id, r.month, r.metric): r.count for r in UnionMonthCount.objects.exclude(count=0)}


@transaction.atomic
def rebuild_union_months() -> int:
    UnionMonthCount.objects.all().delete()
    counts = recount_union_months()
    UnionMonthCount.objects.bulk_create(
        [UnionMonthCount(union_id=u, month=m, metric=k, count=n) for (u, m, k), n in counts.items()],
        batch_size=5000,
    )
    return len(counts)
