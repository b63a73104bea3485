"""Cards at given dates, built through the real lifecycle (so the monthly counters follow)."""

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from issuance.lifecycle import cards_apply, cards_transition
from members.models import Union
from quotas.models import Quota

from ..factories import make_member

SH = ZoneInfo("Asia/Shanghai")
_numbers = itertools.count(6200000000000001)


def at(y: int, m: int, d: int = 15) -> datetime:
    return datetime(y, m, d, 10, 0, tzinfo=SH)


def make_cards(
    union: Union, n: int, *, applied: datetime, issued=None, received=None, distributed=None, activated=None
):
    """n members of `union` whose first cards reach each stage given, at that time."""
    members = [make_member(union) for _ in range(n)]
    cards = cards_apply(members=members, at=applied)
    ids = [c.pk for c in cards]
    if issued:
        cards_transition(cards=ids, to_status="in_batch", at=issued)
        cards_transition(
            cards=ids,
            to_status="issued",
            at=issued,
            updates={i: {"number": str(next(_numbers))} for i in ids},
        )
    for status, when in (("received", received), ("distributed", distributed), ("activated", activated)):
        if when:
            cards_transition(cards=ids, to_status=status, at=when)
    return ids


def make_quota(union: Union, year: int, target: int, members: int = 1000) -> Quota:
    return Quota.objects.create(union=union, year=year, target=target, member_base=members)
