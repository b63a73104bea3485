"""Events of one card: loss with its replacement, cancellation, re-queueing bank-rejected cards,
and acknowledging the notices the union gets about its cards."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.models import Member

from ..lifecycle import cards_transition
from ..models import Card, CardEvent, CardNotice
from .common import BATCH_ROLES, UNION_ROLES, S, _require

# A member reports only a card that is in their hands; the clerk also one still at the union.
MEMBER_LOSABLE = frozenset({S.DISTRIBUTED, S.ACTIVATED})


@transaction.atomic
def card_report_lost(*, card: Card, actor, note: str = "", at: datetime | None = None) -> Card:
    """Report a card lost (closed) and apply for its replacement, which the next batch takes.
    The replacement (`replaces` set) does not count again in the monthly figures.

    `actor` is a staff user (clerk and up) or the card's own `Member` reporting on the members'
    site: then only a card in the member's hands (distributed, activated) may be reported, the
    events record the member (`CardEvent.member_actor`) and the union's notice says who reported."""
    by_member = isinstance(actor, Member)
    if by_member:
        if card.member_id != actor.pk:
            raise ApplicationError("只能挂失本人的会员卡", code="forbidden")
        if card.status not in MEMBER_LOSABLE:
            raise ApplicationError(
                f"这张卡当前状态为“{card.get_status_display()}”，尚未交到您手中，不能挂失；如有疑问请联系所在工会",
                code="transition_refused",
            )
    else:
        _require(actor, UNION_ROLES | BATCH_ROLES, "办理挂失")
    at = at or timezone.now()
    note = note or ("会员本人在会员网站挂失" if by_member else "挂失")
    old = cards_transition(cards=[card.pk], to_status=S.LOST, actor=actor, at=at, note=note)[0]
    member = old.member
    staff_actor, member_actor = (None, actor) if by_member else (actor, None)
    new = Card.objects.create(
        member=member,
        union_id=member.union_id,
        is_hardship=member.is_hardship,
        replaces=old,
        partner_id=old.partner_id,
        applied_at=at,
        updated_at=at,
    )
    CardEvent.objects.create(
        card=new,
        from_status="",
        to_status=S.APPLIED,
        at=at,
        actor=staff_actor,
        member_actor=member_actor,
        note=f"补办（原卡 {old.number}）",
    )
    who = "由会员本人通过会员网站" if by_member else ""
    CardNotice.objects.create(
        union_id=member.union_id,
        card=old,
        kind=CardNotice.Kind.LOST,
        message=f"{member.name}（{member.masked_id}）的卡 {old.number} 已{who}挂失，补卡已申请，将随下一银行批次办理",
        created_at=at,
    )
    data = {"replacement": new.pk, "note": note, **({"by_member": member.pk} if by_member else {})}
    audit_record(actor=staff_actor, verb="card.lost", target=old, data=data)
    return new


@transaction.atomic
def card_cancel(*, card: Card, actor, note: str) -> Card:
    _require(actor, UNION_ROLES | BATCH_ROLES, "注销卡片")
    if not note.strip():
        raise ApplicationError("请填写注销原因", code="no_reason")
    moved = cards_transition(cards=[card.pk], to_status=S.CANCELLED, actor=actor, note=note)[0]
    audit_record(actor=actor, verb="card.cancelled", target=moved, data={"note": note})
    return moved


@transaction.atomic
def cards_requeue(*, cards, actor, note: str = "资料已更正，重新报送") -> int:
    """Bank-rejected cards whose data was fixed go back to `applied` for the next batch."""
    _require(actor, UNION_ROLES | BATCH_ROLES, "重新报送")
    moved = cards_transition(cards=cards, to_status=S.APPLIED, actor=actor, note=note, strict=True)
    for card in moved:
        audit_record(actor=actor, verb="card.requeued", target=card)
    return len(moved)


@transaction.atomic
def notice_acknowledge(*, notice: CardNotice, actor) -> None:
    CardNotice.objects.filter(pk=notice.pk, read_at__isnull=True).update(
        read_at=timezone.now(), read_by=actor
    )
