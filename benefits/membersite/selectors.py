"""Reads for the signed-in member: always of `request.member`'s own records."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch
from django.http import Http404

from issuance.models import Card, CardEvent
from issuance.services import MEMBER_LOSABLE
from members.models import Member

S = Card.Status


def member_card_list(*, member: Member) -> list[Card]:
    """The member's cards, newest first, each with its events (two queries)."""
    events = CardEvent.objects.order_by("at", "id").only(
        "card_id", "to_status", "at", "note", "member_actor_id"
    )
    return list(
        Card.objects.filter(member=member)
        .select_related("partner", "replaces")
        .prefetch_related(Prefetch("events", queryset=events))
        .order_by("-applied_at", "-id")
    )


def member_card_get(*, member: Member, pk: int) -> Card:
    """One of the member's own cards; any other id is a 404 (exists or not)."""
    for card in member_card_list(member=member):
        if card.pk == pk:
            return card
    raise Http404


@dataclass(frozen=True)
class Stage:
    label: str
    at: datetime | None
    state: str  # "done", "current" or "todo"
    hint: str = ""


# The layperson's five stages and the statuses that have reached each.
STAGES = [
    ("已申请", {S.APPLIED, S.IN_BATCH, S.ISSUED, S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED, S.REJECTED_BY_BANK}),
    ("银行制卡中", {S.ISSUED, S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED}),  # done once issued
    ("已到工会", {S.RECEIVED, S.DISTRIBUTED, S.ACTIVATED}),
    ("已领取", {S.DISTRIBUTED, S.ACTIVATED}),
    ("已激活", {S.ACTIVATED}),
]
# The event whose time dates each stage (the first one of these in the card's log).
STAGE_EVENTS = [{S.APPLIED}, {S.ISSUED}, {S.RECEIVED}, {S.DISTRIBUTED}, {S.ACTIVATED}]


# What the highlighted next stage is waiting for, by the card's status.
WAITING = {
    S.APPLIED: "等待工会报送银行",
    S.REJECTED_BY_BANK: "银行退回，工会正在核对资料",
    S.ISSUED: "银行已制卡，正在送往工会",
    S.RECEIVED: "请到工会领取",
    S.DISTRIBUTED: "请到银行网点激活",
}


def card_timeline(card: Card) -> list[Stage]:
    """Five stages with their dates from the card's event log. For a closed (lost, cancelled)
    card the stages it reached before closing are shown as done."""
    events = list(card.events.all())
    status = card.status
    if status in Card.DEAD:
        before = [e.from_status for e in events if e.to_status == status]
        status = before[-1] if before and before[-1] else S.APPLIED
    stages = []
    current_found = False
    for (label, reached), wanted in zip(STAGES, STAGE_EVENTS, strict=True):
        at = next((e.at for e in events if e.to_status in wanted), None)
        if status in reached:
            state = "done"
        elif not current_found and card.is_live:
            state, current_found = "current", True
        else:
            state = "todo"
        stages.append(
            Stage(
                label,
                at if state == "done" else None,
                state,
                WAITING.get(card.status, "") if state == "current" else "",
            )
        )
    # While the bank makes the card, "银行制卡中" is dated by the hand-off to the bank.
    if card.status == S.IN_BATCH:
        sent = next((e.at for e in reversed(events) if e.to_status == S.IN_BATCH), None)
        stages[1] = Stage(stages[1].label, sent, "current", "已报送银行，制卡中")
    return stages


def next_step(card: Card, member: Member) -> str:
    union = member.union
    where = union.name + (f"（{union.parent.name}）" if union.parent_id else "")
    bank = card.partner.name if card.partner_id else "发卡银行"
    return {
        S.APPLIED: "您的办卡申请已登记，工会将统一报送银行制卡，请耐心等待。",
        S.IN_BATCH: "银行正在制卡，卡片制好后会送到您所在的工会。",
        S.ISSUED: "银行已制好卡片，正在送往您所在的工会。",
        S.REJECTED_BY_BANK: f"银行退回了办卡申请（{card.bank_reason or '资料需核对'}），请联系{where}核对您的登记信息。",
        S.RECEIVED: f"卡片已到工会。请到{where}领取，带本人身份证。",
        S.DISTRIBUTED: f"您已领取卡片。请带身份证到就近的{bank}网点修改初始密码、激活后即可使用。",
        S.ACTIVATED: "卡片已激活，可在特约商户享受会员优惠。",
        S.LOST: "这张卡已挂失。",
        S.CANCELLED: "这张卡已注销。",
    }[card.status]


def member_may_report_lost(card: Card) -> bool:
    return card.status in MEMBER_LOSABLE


@dataclass(frozen=True)
class NoticeRow:
    pk: int
    kind: str
    title: str
    text: str
    at: datetime
    unread: bool


def member_notice_list(*, member: Member, limit: int = 50) -> list[NoticeRow]:
    """The member's latest notices with their text (one query, on the member's index)."""
    from members.sms.models import Notice
    from members.sms.notices import notice_text

    rows = Notice.objects.filter(member=member).order_by("-created_at", "-id")[:limit]
    return [
        NoticeRow(n.pk, n.kind, n.get_kind_display(), notice_text(n), n.created_at, n.read_at is None)
        for n in rows
    ]
