"""Hardship workers first (seed 004 §一, §三): every registered hardship worker (建档困难职工) holds
a card by the end of the year, and each union reports its hardship members' card numbers to the
union above, because their aid (送温暖, 助学, 帮扶) is paid to those cards.

Reads, and the one audited export; scoped by the `root` the caller got from
`report_roots_for_user`.
"""

from dataclasses import dataclass

from django.db.models import Count, Q

from cardportal.audit import audit_record
from members.models import Member, Union
from members.selectors import rows_by_child

from .exports import hardship_cards_xlsx
from .models import Card

S = Card.Status
HELD = (S.DISTRIBUTED, S.ACTIVATED)  # the card is in the member's hands
MAKING = (S.APPLIED, S.IN_BATCH, S.ISSUED, S.RECEIVED)


@dataclass
class CoverageRow:
    union: Union
    members: int  # active hardship members
    held: int  # with a card in hand
    making: int  # a card on its way, none in hand

    @property
    def without(self) -> int:
        return self.members - self.held - self.making

    @property
    def rate(self) -> float | None:
        return self.held * 100 / self.members if self.members else None


def _hardship_members(root: Union):
    return Member.objects.filter(
        is_hardship=True, status=Member.Status.ACTIVE, union__path__startswith=root.path
    )


def hardship_coverage(*, root: Union) -> tuple[list[CoverageRow], CoverageRow]:
    """Per direct child of `root` (or `root` itself at the bottom): active hardship members, how
    many hold a card, how many have one on its way. One GROUP BY, rolled up by path prefix."""
    rows = (
        _hardship_members(root)
        .values("union__path")
        .annotate(
            n=Count("id", distinct=True),
            held=Count("id", filter=Q(cards__status__in=HELD), distinct=True),
            any_live=Count("id", filter=Q(cards__status__in=HELD + MAKING), distinct=True),
        )
    )
    result = [
        CoverageRow(
            child,
            sum(r["n"] for r in child_rows),
            sum(r["held"] for r in child_rows),
            sum(r["any_live"] - r["held"] for r in child_rows),
        )
        for child, child_rows in rows_by_child(root=root, rows=rows)
    ]
    total = CoverageRow(root, *(sum(getattr(r, f) for r in result) for f in ("members", "held", "making")))
    return result, total


def hardship_without_card(*, root: Union, limit: int = 200) -> list[Member]:
    """Hardship members with no card in hand yet, for the clerks to act on (masked on the page)."""
    return list(
        _hardship_members(root)
        .exclude(cards__status__in=HELD)
        .select_related("union")
        .order_by("union__path", "name")[:limit]
    )


def hardship_cards(*, root: Union):
    """The cards with a number of the hardship members under `root`, for the report upward."""
    return (
        Card.objects.filter(
            member__in=_hardship_members(root), status__in=(S.ISSUED, S.RECEIVED) + HELD, number__isnull=False
        )
        .select_related("member", "union")
        .order_by("union__path", "member__name")
    )


def hardship_cards_export(*, root: Union, actor) -> bytes:
    """The card-number report for the union above, audited (full card numbers leave the portal)."""
    cards = hardship_cards(root=root)
    audit_record(
        actor=actor, verb="hardship.cards_exported", target=root, union=root, data={"cards": cards.count()}
    )
    return hardship_cards_xlsx(root=root, cards=cards)
