"""Work at the union: signing for delivered cards (issued → received), distribution to members
(received → distributed) and on-site activation sessions."""

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.models import Union

from ..cardnumbers import normalise_card_number
from ..lifecycle import cards_transition
from ..models import ActivationSession, BankBatch, Card, CardReceipt
from .common import HANDOFF_ROLES, UNION_ROLES, S, _at_noon, _require


def _union_cards(union: Union, ids, *, status: str | None = None) -> dict[int, Card]:
    qs = Card.objects.filter(pk__in=list(ids), union__path__startswith=union.path)
    if status:
        qs = qs.filter(status=status)
    return {c.pk: c for c in qs}


def _ids_from_numbers(union: Union, numbers) -> list[int]:
    cleaned = [normalise_card_number(n) for n in numbers if str(n).strip()]
    found = dict(
        Card.objects.filter(number__in=cleaned, union__path__startswith=union.path).values_list(
            "number", "id"
        )
    )
    missing = [n for n in cleaned if n not in found]
    if missing:
        raise ApplicationError(
            f"以下卡号不存在或不属于本单位：{'、'.join(missing[:20])}", code="unknown_numbers"
        )
    return [found[n] for n in cleaned]


@transaction.atomic
def cards_receive(
    *,
    union: Union,
    card_ids,
    counted: int,
    actor,
    batch: BankBatch | None = None,
    note: str = "",
    at: datetime | None = None,
) -> CardReceipt:
    """Sign for delivered cards (issued → received). The clerk ticks the cards handed over and
    types the count in hand; when they disagree the receipt is kept as a mismatch and no card
    moves, so a short delivery is on record rather than silently accepted."""
    _require(actor, UNION_ROLES, "签收卡片")
    at = at or timezone.now()
    ids = set(card_ids)
    outstanding = Card.objects.filter(status=S.ISSUED, union__path__startswith=union.path)
    if batch is not None:
        outstanding = outstanding.filter(batch=batch)
    cards = _union_cards(union, ids, status=S.ISSUED)
    if batch is not None:
        cards = {k: c for k, c in cards.items() if c.batch_id == batch.pk}
    if not ids:
        raise ApplicationError("请勾选本次领取的卡片", code="nothing_selected")
    if len(cards) != len(ids):
        raise ApplicationError("勾选的卡片中有不是“银行已制卡”状态或不属于本单位的", code="bad_selection")
    if counted < 0:
        raise ApplicationError("清点张数不能为负数", code="bad_count")
    receipt = CardReceipt.objects.create(
        union=union,
        batch=batch,
        expected=outstanding.count(),
        selected=len(cards),
        counted=counted,
        accepted=counted == len(cards),
        note=note,
        actor=actor,
        at=at,
    )
    if not receipt.accepted:
        audit_record(
            actor=actor,
            verb="cards.receipt_mismatch",
            target=receipt,
            data={"selected": len(cards), "counted": counted, "expected": receipt.expected},
        )
        return receipt
    cards_transition(
        cards=list(cards), to_status=S.RECEIVED, actor=actor, at=at, note=f"领卡签收（清点 {counted} 张）"
    )
    audit_record(actor=actor, verb="cards.received", target=receipt, data={"count": counted})
    return receipt


@transaction.atomic
def cards_distribute(*, union: Union, actor, card_ids=(), numbers=(), at: datetime | None = None) -> int:
    """Record that members signed the distribution sheet (received → distributed), by ticked
    cards or typed/scanned card numbers. All or nothing: one wrong card refuses the lot."""
    _require(actor, UNION_ROLES, "登记发放")
    ids = list(dict.fromkeys([*card_ids, *_ids_from_numbers(union, numbers)]))
    if not ids:
        raise ApplicationError("请勾选或输入已签字领卡会员的卡片", code="nothing_selected")
    if len(_union_cards(union, ids)) != len(ids):
        raise ApplicationError("部分卡片不属于本单位", code="bad_selection")
    moved = cards_transition(cards=ids, to_status=S.DISTRIBUTED, actor=actor, at=at, note="会员签字领卡")
    audit_record(actor=actor, verb="cards.distributed", target=union, union=union, data={"count": len(moved)})
    return len(moved)


@transaction.atomic
def activation_session_record(
    *, union: Union, held_on: date, actor, place: str = "", card_ids=(), numbers=()
) -> ActivationSession:
    """An on-site activation session: the listed cards (distributed) become activated that day."""
    _require(actor, UNION_ROLES | HANDOFF_ROLES, "登记集中激活")
    if held_on > timezone.localdate():
        raise ApplicationError("激活日期不能晚于今天", code="future_date")
    ids = list(dict.fromkeys([*card_ids, *_ids_from_numbers(union, numbers)]))
    if not ids:
        raise ApplicationError("请勾选或输入本次激活的卡片", code="nothing_selected")
    cards = _union_cards(union, ids)
    if len(cards) != len(ids):
        raise ApplicationError("部分卡片不属于本单位", code="bad_selection")
    late = [
        c
        for c in cards.values()
        if c.distributed_at and timezone.localtime(c.distributed_at).date() > held_on
    ]
    if late:
        raise ApplicationError(f"激活日期早于卡片 {late[0].number} 的发放日期", code="before_distribution")
    moved = cards_transition(
        cards=ids,
        to_status=S.ACTIVATED,
        actor=actor,
        at=_at_noon(held_on),
        note=f"现场集中激活 {place}".strip(),
    )
    session = ActivationSession.objects.create(
        union=union, held_on=held_on, place=place, activated=len(moved), actor=actor
    )
    audit_record(actor=actor, verb="cards.activation_session", target=session, data={"count": len(moved)})
    return session
