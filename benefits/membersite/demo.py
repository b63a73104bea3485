"""Demo members a newcomer can sign in as: printed by `load_demo` (and so by ./scripts/run)."""

from issuance.models import Card
from members.demo import LOGINS
from members.models import Member, StaffRole

S = Card.Status
# One member per stage a member cares about, in the demo clerk's union (so the clerk sees a loss).
STAGES = [S.ACTIVATED, S.DISTRIBUTED, S.RECEIVED, S.IN_BATCH, S.APPLIED]


def demo_members() -> list[tuple[Member, Card]]:
    clerk_username = next(username for username, role, _ in LOGINS if role == StaffRole.Role.CLERK)
    staff = StaffRole.objects.filter(user__username=clerk_username).select_related("union").first()
    if staff is None:
        return []
    picked = []
    for status in STAGES:
        card = (
            Card.objects.filter(union=staff.union, status=status, member__union=staff.union)
            .select_related("member")
            .order_by("member_id")
            .first()
        )
        if card is not None:
            picked.append((card.member, card))
    return picked


def print_members(stdout) -> None:
    members = demo_members()
    if not members:
        return
    stdout.write("")
    stdout.write(
        "演示会员（会员登录：/me/login/，输入身份证号；验证码见控制台日志或 city 账号的“短信记录”页）："
    )
    for member, card in members:
        # Demo data only: a real deployment never prints a full ID number or phone.
        stdout.write(
            f"  {member.name:<4} 身份证号 {member.reveal_id_number()}  手机 {member.reveal_phone()}"
            f"  卡片：{card.get_status_display()}"
        )


def load(*, stdout) -> None:
    """What makes the demo members' 我的信息 and the clerk's queue non-empty: the activated
    member's consent (recorded by the clerk), an open correction request from the member whose
    card was distributed, and one the clerk already answered. Their 消息 come from the card
    events the issuance demo wrote (notices for cards received and activated)."""
    from django.contrib.auth import get_user_model

    from members.corrections import consent_record, correction_mark_handled, correction_request_create
    from members.models import MemberConsent

    picked = dict((card.status, member) for member, card in demo_members())
    clerk_username = next(username for username, role, _ in LOGINS if role == StaffRole.Role.CLERK)
    clerk = get_user_model().objects.get(username=clerk_username)
    activated, distributed = picked.get(S.ACTIVATED), picked.get(S.DISTRIBUTED)
    if activated is not None:
        consent_record(member=activated, agreed=True, via=MemberConsent.Via.CLERK, actor=clerk)
        answered = correction_request_create(
            member=activated, field="work_unit", details="工作单位已更名为沧州市第一中学"
        )
        correction_mark_handled(request=answered, actor=clerk, reply="已按单位更名文件更正")
    if distributed is not None:
        correction_request_create(
            member=distributed, field="name", details="姓名中的“建”应为“健”，以身份证为准"
        )
    stdout.write("已加载会员网站演示：办卡意愿记录、信息更正申请（经办人待处理1条）。")
