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
