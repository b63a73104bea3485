"""Reads for the signed-in member: always of `request.member`'s own records."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from benefits.eligibility import Eligibility
from benefits.models import BenefitProgramme, Claim, ClaimProof, Disbursement, DisbursementLine
from benefits.selectors import COUNTY_LEVELS, member_eligibility
from issuance.models import Card, CardEvent
from issuance.services.cards import MEMBER_LOSABLE
from members.models import Member, Union
from merchants.models import Merchant, MerchantReview
from merchants.selectors import directory_merchants
from merchants.services import period_of

S = Card.Status


def member_card_list(*, member: Member) -> list[Card]:
    """The member's cards, newest first, each with its events and its functions (three queries)."""
    events = CardEvent.objects.order_by("at", "id").only(
        "card_id", "to_status", "at", "note", "member_actor_id"
    )
    return list(
        Card.objects.filter(member=member)
        .select_related("partner", "replaces")
        .prefetch_related(Prefetch("events", queryset=events), "functions")
        .order_by("-applied_at", "-id")
    )


def member_card_get(*, member: Member, pk: int, cards: list[Card] | None = None) -> Card:
    """One of the member's own cards (from `cards` when the caller already read the list); any
    other id is a 404 (exists or not)."""
    for card in member_card_list(member=member) if cards is None else cards:
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


# --- 我的权益, 到卡资金, 特约商户 (issue 13 pages 2-4) -------------------------------------------
# Every read below is of `member`'s own rows; an id that is not theirs is a 404, exists or not.


@dataclass
class MemberBenefit:
    """One programme as the member sees it: the staff's own eligibility result (benefits.
    eligibility.evaluate, through benefits.selectors.member_eligibility), the member's claims
    under it, and whether (and if not, why not) they can start a claim on the site now."""

    programme: BenefitProgramme
    result: Eligibility
    claims: list[Claim]
    claim_refusal: str  # "" when the member may start a claim here

    @property
    def may_claim(self) -> bool:
        return not self.claim_refusal


def member_claim_refusal(*, programme: BenefitProgramme, result: Eligibility, claims: list[Claim]) -> str:
    """Why the member cannot start a claim under `programme` on the site now ("" if they can).
    The service (benefits.services.claims.claim_create) checks the same rules again on the incident
    date; this answers the page's question of whether to offer the form."""
    if not programme.member_may_claim:
        return "本项目不在网上申请，请按申领方式办理"
    if not result.eligible:
        return "您目前不符合申请条件"
    if any(c.status == Claim.Status.PENDING for c in claims):
        return "您已有一笔申请正在审核，审核后才能再次申请"
    if programme.once_per_member and any(c.status != Claim.Status.REJECTED for c in claims):
        return "本项目每人限领一次，您已申请过"
    return ""


def member_benefit_list(*, member: Member) -> list[MemberBenefit]:
    """Every programme open to the member's union (run by it or a union above it), evaluated by
    the staff's rules for today, with the member's claims; those the member can claim online
    first, then those they qualify for, then the others. Queries: card, programmes + tiers,
    claims + proofs (four), whatever the number of programmes."""
    claims = member_claim_list(member=member)
    by_programme: dict[int, list[Claim]] = {}
    for claim in claims:
        by_programme.setdefault(claim.programme_id, []).append(claim)
    rows = []
    for result in member_eligibility(member=member):
        programme = result.programme
        mine = by_programme.get(programme.pk, [])
        rows.append(
            MemberBenefit(
                programme=programme,
                result=result,
                claims=mine,
                claim_refusal=member_claim_refusal(programme=programme, result=result, claims=mine),
            )
        )
    # What the member can act on first: claimable online, then the rest they qualify for.
    rows.sort(key=lambda row: (not row.may_claim, not row.result.eligible))
    return rows


def member_benefit_get(*, member: Member, programme_pk: int) -> MemberBenefit:
    """One programme of `member_benefit_list`; a programme not open to the member is a 404."""
    for row in member_benefit_list(member=member):
        if row.programme.pk == programme_pk:
            return row
    raise Http404


def member_claim_list(*, member: Member) -> list[Claim]:
    """The member's claims, newest first, with programme, proofs and payment line."""
    return list(
        Claim.objects.filter(member=member)
        .select_related("programme", "disbursement_line")
        .prefetch_related("proofs")
        .order_by("-created_at", "-id")
    )


def member_claim_get(*, member: Member, pk: int) -> Claim:
    """One of the member's own claims; another member's id is a 404 like a missing one."""
    claim = (
        Claim.objects.filter(member=member, pk=pk)
        .select_related("programme", "disbursement_line")
        .prefetch_related("proofs")
        .first()
    )
    if claim is None:
        raise Http404
    return claim


def member_proof_get(*, member: Member, claim_pk: int, pk: int) -> ClaimProof:
    """A proof of one of the member's own claims (both ids must match): else 404."""
    proof = (
        ClaimProof.objects.filter(pk=pk, claim_id=claim_pk, claim__member=member)
        .select_related("claim", "claim__union")
        .first()
    )
    if proof is None:
        raise Http404
    return proof


# The batch states from which a payment is decided (approved) and so shown to the member; a
# draft or submitted list can still change.
AID_VISIBLE_STATES = (
    Disbursement.State.APPROVED,
    Disbursement.State.EXPORTING,
    Disbursement.State.EXPORTED,
    Disbursement.State.CLOSED,
)
AID_STATUS = {
    DisbursementLine.Status.PENDING: "发放中",
    DisbursementLine.Status.PAID: "已到账",
    DisbursementLine.Status.FAILED: "发放失败",
}


@dataclass(frozen=True)
class AidPayment:
    on: date
    programme: str
    amount: Decimal
    status: str  # DisbursementLine.Status value
    status_label: str
    card_tail: str
    note: str = ""


def member_aid_list(*, member: Member) -> list[AidPayment]:
    """Aid paid (or being paid) to the member's cards from approved disbursement batches, newest
    first: date (paid, else approved), programme (the batch's programme, else its kind: 送温暖,
    金秋助学 ...), amount, status. One query."""
    lines = (
        DisbursementLine.objects.filter(member=member, disbursement__state__in=AID_VISIBLE_STATES)
        .select_related("disbursement", "disbursement__programme", "claim__programme")
        .order_by("-disbursement__approved_at", "-id")
    )
    payments = []
    for line in lines:
        batch = line.disbursement
        programme = line.claim.programme if line.claim_id else batch.programme
        name = programme.name if programme else batch.get_kind_display()
        when = line.paid_at or batch.approved_at
        note = ""
        if line.status == DisbursementLine.Status.FAILED:
            note = f"银行未能入账（{line.failure_reason}），请联系所在工会核对卡片状态"
        payments.append(
            AidPayment(
                on=timezone.localtime(when).date(),
                programme=name,
                amount=line.amount,
                status=line.status,
                status_label=AID_STATUS[line.status],
                card_tail=line.card_tail,
                note=note,
            )
        )
    return payments


def member_aid_total(payments: list[AidPayment]) -> Decimal:
    return sum((p.amount for p in payments if p.status == DisbursementLine.Status.PAID), Decimal("0.00"))


def member_county(member: Member) -> Union | None:
    """The county-level union above (or at) the member's union, if any (one query)."""
    ancestors = [member.union.path[: i + 1] for i, ch in enumerate(member.union.path) if ch == "/"]
    return Union.objects.filter(path__in=ancestors, level__in=COUNTY_LEVELS).order_by("-depth").first()


def member_merchant_directory(
    *, member: Member, q: str = "", category_id: int | None = None
) -> tuple[QuerySet[Merchant], Union | None]:
    """The public directory (merchants.selectors.directory_merchants: active merchants, offers
    valid today, search and category) ordered for this member: their own county's merchants
    first, then city-wide ones, then the rest; each merchant carries `near` (0, 1, 2)."""
    county = member_county(member)
    qs = directory_merchants(q=q, category_id=category_id)
    if county is None:
        return qs.annotate(near=Value(2)), None
    ancestors = [county.path[: i + 1] for i, ch in enumerate(county.path) if ch == "/"]
    near = Case(
        When(union__path__startswith=county.path, then=Value(0)),
        When(union__path__in=ancestors, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return qs.annotate(near=near).order_by("near", "category__order", "name", "id"), county


def member_merchant_get(*, member: Member, pk: int) -> Merchant:
    """An active merchant of the directory (the one a member may rate), else 404."""
    merchant = Merchant.objects.filter(pk=pk, status=Merchant.Status.ACTIVE).first()
    if merchant is None:
        raise Http404
    return merchant


def member_reviewed_this_period(*, member: Member, on: date | None = None) -> dict[int, MerchantReview]:
    """merchant id -> the member's review of this period (quarter): one query."""
    period = period_of(on or timezone.localdate())
    return {r.merchant_id: r for r in MerchantReview.objects.filter(member=member, period=period)}


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
