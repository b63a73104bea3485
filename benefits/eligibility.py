"""Is a member eligible for a programme, for how much, and why: every rule is a check with a
Chinese sentence, so staff (and later the member) see exactly which condition passed or failed.

Reads the registry only (members.Member, members.Union, issuance.Card); no writes.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from issuance.models import Card
from issuance.selectors import live_card_of
from members.models import Member, Union

from .models import AmountTier, BenefitProgramme

UNIT_TYPE_LABELS = dict(Union.UnitType.choices)
EMPLOYMENT_LABELS = dict(Member.EmploymentType.choices)


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str


@dataclass
class Eligibility:
    programme: BenefitProgramme
    checks: list[Check] = field(default_factory=list)
    amount: Decimal | None = None
    tier_label: str = ""

    @property
    def eligible(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        """The failed checks (why not)."""
        return [c.text for c in self.checks if not c.ok]

    def as_list(self) -> list[dict]:
        return [{"ok": c.ok, "text": c.text} for c in self.checks]


def _card_check(programme: BenefitProgramme, card: Card | None) -> Check | None:
    req = programme.card_requirement
    if req == BenefitProgramme.CardRequirement.NONE:
        return None
    if card is None:
        return Check(False, "没有有效的工会会员卡")
    label = card.get_status_display()
    if req == BenefitProgramme.CardRequirement.ACTIVATED:
        if card.status == Card.Status.ACTIVATED:
            return Check(True, f"工会卡已激活（尾号{card.number_tail}）")
        return Check(False, f"工会卡尚未激活（当前：{label}）")
    if card.is_numbered_live:
        return Check(True, f"持有效工会卡（尾号{card.number_tail}，{label}）")
    return Check(False, f"工会卡尚未制卡（当前：{label}）")


def tier_for(
    programme: BenefitProgramme, member: Member, tiers: list[AmountTier]
) -> tuple[AmountTier | None, str]:
    """The first tier whose conditions the member meets, and a sentence saying why."""
    unit_type = member.union.unit_type
    unproven = ""
    for tier in tiers:
        if tier.unit_types and unit_type not in tier.unit_types:
            continue
        if tier.requires_dues_paid and not member.dues_paid:
            if member.dues_paid is None:  # not recorded: not proven, never assumed
                unproven = f"会费交纳情况未登记，不适用“{tier.label}”"
            continue
        why = [unproven] if unproven else []
        if tier.unit_types:
            why.append(f"所在单位为{UNIT_TYPE_LABELS.get(unit_type, unit_type or '未填写')}")
        if tier.requires_dues_paid:
            why.append("按时交纳会费")
        return tier, "，".join(why)
    return None, ""


def evaluate(
    *,
    programme: BenefitProgramme,
    member: Member,
    on: date | None = None,
    card: Card | None | bool = False,
    tiers: list[AmountTier] | None = None,
) -> Eligibility:
    """Evaluate every rule; pass `card` (or None) and `tiers` to avoid queries in bulk."""
    on = on or timezone.localdate()
    if card is False:
        card = live_card_of(member)
    if tiers is None:
        tiers = list(programme.tiers.all())
    result = Eligibility(programme=programme, checks=_member_checks(programme, member, on=on, card=card))
    if not tiers:
        result.amount, result.tier_label = Decimal("0.00"), "免费服务"
        return result
    tier, why = tier_for(programme, member, tiers)
    if tier is None:
        result.checks.append(_no_tier_check(member, tiers))
        return result
    result.amount, result.tier_label = tier.amount, tier.label
    result.checks.append(
        Check(True, f"适用档次“{tier.label}”：{tier.amount}元" + (f"（{why}）" if why else ""))
    )
    return result


def _member_checks(
    programme: BenefitProgramme, member: Member, *, on: date, card: Card | None
) -> list[Check]:
    """The programme's conditions on the member and the card, in the order staff read them."""
    checks = [_period_check(programme, on), _union_check(programme, member)]
    if programme.requires_in_service:
        in_service = member.status == Member.Status.ACTIVE
        text = (
            "在职在岗（在会）" if in_service else f"会籍状态为“{member.get_status_display()}”，不是在职在岗"
        )
        checks.append(Check(in_service, text))
    if programme.employment_types:
        checks.append(_employment_check(programme, member))
    card_check = _card_check(programme, card)
    if card_check:
        checks.append(card_check)
    if programme.card_applied_before:
        cutoff = programme.card_applied_before
        early = card is not None and timezone.localtime(card.applied_at).date() <= cutoff
        text = f"{cutoff:%Y-%m-%d}前申请办卡" if early else f"不是{cutoff:%Y-%m-%d}前申请办卡的前期会员"
        checks.append(Check(early, text))
    if programme.requires_hardship:
        checks.append(Check(member.is_hardship, "建档困难职工" if member.is_hardship else "不是建档困难职工"))
    if programme.requires_model_worker:
        checks.append(Check(member.is_model_worker, "劳模" if member.is_model_worker else "不是劳模"))
    return checks


def _period_check(programme: BenefitProgramme, on: date) -> Check:
    if programme.is_valid_on(on):
        return Check(True, f"项目在保障期内（{on:%Y-%m-%d}）")
    return Check(False, f"{on:%Y-%m-%d}不在项目保障期内或项目已停用")


def _union_check(programme: BenefitProgramme, member: Member) -> Check:
    if member.union.path.startswith(programme.union.path):
        return Check(True, f"所在工会属于{programme.union.name}")
    return Check(False, f"所在工会不属于主办单位{programme.union.name}")


def _employment_check(programme: BenefitProgramme, member: Member) -> Check:
    label = EMPLOYMENT_LABELS.get(member.employment_type, member.employment_type or "未填写")
    if member.employment_type in programme.employment_types:
        return Check(True, f"用工类型为{label}")
    allowed = "、".join(str(EMPLOYMENT_LABELS.get(t, t)) for t in programme.employment_types)
    return Check(False, f"用工类型为“{label}”，本项目限{allowed}")


def _no_tier_check(member: Member, tiers: list[AmountTier]) -> Check:
    """Why no amount tier applies: unpaid (or unrecorded) dues where every tier for the member's
    unit asks for them, else no tier for the unit type."""
    unit_type = member.union.unit_type
    for_unit = [t for t in tiers if not t.unit_types or unit_type in t.unit_types]
    if for_unit and not member.dues_paid and all(t.requires_dues_paid for t in for_unit):
        reason = "会费交纳情况未登记" if member.dues_paid is None else "未按时交纳会费"
        return Check(False, f"{reason}（本项目须按时交纳会费）")
    return Check(False, f"没有适用的金额档次（单位性质：{UNIT_TYPE_LABELS.get(unit_type, '未填写')}）")
