"""Upcoming drops for members (issue 13, 消息 "upcoming activities"), without one row per member.

* **Broadcast notices**: an upcoming drop is shown in the 消息 of every member its audience rule
  admits (`upcoming_for_member`), evaluated when the page is read from the cached list of drops
  and the member's own row and card: nothing is written for 1.5 million members, and a member
  who becomes eligible (or not) sees it change at once. Keyed by drop (`drop:<id>`).
* **提醒我**: a member asks for one reminder (`reminder_subscribe`, a `Reminder` row, unique per
  member and drop). Beat runs `reminders_send` every minute; a drop opening within
  REMIND_BEFORE gets each subscriber one notice and SMS through `notice_send`, under the key
  `drop-remind:<drop>:<member>`: sent once, whatever the retries."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cardportal.errors import ApplicationError
from issuance.models import Card
from members.models import Member
from members.sms.models import Notice
from members.sms.notices import notice_send

from .models import Drop, Reminder
from .selectors import drop_public_list, drop_snapshot, eligibility_reason

REMIND_BEFORE = timedelta(minutes=10)
UPCOMING_DAYS = 14


@dataclass(frozen=True)
class UpcomingNotice:
    key: str
    drop_id: int
    title: str
    text: str
    at: datetime


def _when(drop: Drop) -> str:
    return f"{timezone.localtime(drop.opens_at):%m月%d日 %H:%M}开抢"


def upcoming_for_member(member: Member, *, now=None) -> list[UpcomingNotice]:
    """The not yet opened drops of the next UPCOMING_DAYS this member may take part in. Reads the
    cached list of drops and, once, whether the member has an activated card."""
    now = now or timezone.now()
    drops = [d for d in drop_public_list() if now < d.opens_at <= now + timedelta(days=UPCOMING_DAYS)]
    if not drops:
        return []
    activated = Card.objects.filter(member_id=member.pk, status=Card.Status.ACTIVATED).exists()
    return [
        UpcomingNotice(f"drop:{d.pk}", d.pk, d.title, f"{d.title}，{_when(d)}。", d.created_at)
        for d in drops
        if not eligibility_reason(drop_snapshot(d.pk), member, activated=activated)
    ]


def reminder_subscribe(*, drop: Drop, member: Member) -> bool:
    """提醒我. True when new; refused after the opening or for a member the drop does not admit."""
    if drop.has_opened():
        raise ApplicationError("活动已开抢，无需提醒")
    reason = eligibility_reason(drop_snapshot(drop.pk), member)
    if reason:
        raise ApplicationError(f"不符合条件：{reason}")
    _, created = Reminder.objects.get_or_create(drop=drop, member=member)
    return created


def member_reminded(*, drop: Drop, member: Member) -> bool:
    return Reminder.objects.filter(drop=drop, member=member).exists()


def reminders_send(*, now=None, limit: int = 5000) -> int:
    """Beat: subscribers of drops opening within REMIND_BEFORE get their notice and SMS, once."""
    now = now or timezone.now()
    sent = 0
    due = Drop.objects.filter(
        opens_at__gt=now, opens_at__lte=now + REMIND_BEFORE, closed_early_at__isnull=True
    )
    for drop in due:
        with transaction.atomic():
            rows = list(
                Reminder.objects.select_for_update(skip_locked=True)
                .filter(drop=drop, sent_at__isnull=True)
                .select_related("member")[:limit]
            )
            for reminder in rows:
                notice = notice_send(
                    member=reminder.member,
                    kind=Notice.Kind.ACTIVITY,
                    key=f"drop-remind:{drop.pk}:{reminder.member_id}",
                    params={"title": drop.title, "when": _when(drop)},
                )
                sent += notice is not None
            Reminder.objects.filter(pk__in=[r.pk for r in rows]).update(sent_at=now)
    return sent
