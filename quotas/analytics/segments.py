"""Segments staff can act on: each a set of members, exportable as a list and sendable as a notice.

Each segment has ONE definition, an unscoped base queryset of members given its params (incl.
`today`). The nightly/after-import refresh (refresh.py) groups that base by grassroots union into
a `UnionActivity` column: the segment page shows the sum of that column over the user's scope
(a live `COUNT(*)` is an anti-join over ~1.5 M members and ~1.4 M cards: 0.6-1.0 s city-wide).
The export and the notice take the same base scoped to the user, live. params are read from the
query string by `segment_params`."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from cardportal.params import positive_int
from issuance.models import Card
from members.access import scope_path, scope_queryset
from members.models import Member, Union
from merchants.models import Merchant, MerchantCategory
from merchants.usage.models import CardUsage

from .models import UnionActivity
from .refresh import COUNTY_LEVELS, county_of_unions


def _activated_cards():
    return Card.objects.filter(status=Card.Status.ACTIVATED)


def _unused(cards):
    return cards.filter(~Exists(CardUsage.objects.filter(card_id=OuterRef("pk"))))


def active_members() -> QuerySet:
    """Members in good standing (会籍 在会), every union: the ground of every segment."""
    return Member.objects.filter(status=Member.Status.ACTIVE)


def hardship_unused(params) -> QuerySet:
    cards = _unused(_activated_cards().filter(member_id=OuterRef("pk")))
    return active_members().filter(is_hardship=True).filter(Exists(cards))


def activated_unused(params) -> QuerySet:
    return active_members().filter(Exists(_unused(_activated_cards().filter(member_id=OuterRef("pk")))))


def lapsed(params) -> QuerySet:
    # the refresh's own day (timezone.localdate), so a live list and the snapshot agree on "today"
    since = (params.get("today") or timezone.localdate()) - timedelta(days=89)
    stale = CardUsage.objects.filter(card_id=OuterRef("pk"), last_used_on__lt=since)
    return active_members().filter(
        Exists(_activated_cards().filter(member_id=OuterRef("pk")).filter(Exists(stale)))
    )


def _counties_lacking(category: MerchantCategory) -> set[int]:
    """Ids of every county-level union with no active union merchant of `category` in it."""
    counties = county_of_unions()
    served = {
        counties.get(uid, uid)
        for uid in Merchant.objects.filter(category=category, status=Merchant.Status.ACTIVE).values_list(
            "union_id", flat=True
        )
    }
    every = Union.objects.filter(level__in=COUNTY_LEVELS).values_list("pk", flat=True)
    return set(every) - served


def counties_without(user, category: MerchantCategory) -> list[Union]:
    """County-level unions in scope with no active union merchant of `category` in them."""
    lacking = _counties_lacking(category)
    scoped = scope_queryset(Union.objects.filter(pk__in=lacking), user, union_field="")
    return list(scoped.order_by("path"))


def no_merchant_of_category(params) -> QuerySet:
    category = params.get("category")
    if category is None:
        return Member.objects.none()
    lacking = _counties_lacking(category)
    union_ids = [uid for uid, county in county_of_unions().items() if county in lacking]
    return active_members().filter(union_id__in=union_ids)


def _all_rows(params) -> Q:
    return Q()


def _rows_of_lacking_counties(params) -> Q:
    category = params.get("category")
    return Q(county_id__in=_counties_lacking(category)) if category else Q(pk__in=[])


@dataclass(frozen=True)
class Segment:
    """`base(params)`: the segment's members, unscoped (the one definition). `column`: the
    UnionActivity column holding its count per union; `rows(params)`: which snapshot rows to sum
    (no_merchant sums the active members of the unions of the counties lacking the category)."""

    slug: str
    title: str
    counts: str
    base: object
    column: str
    rows: object = _all_rows
    needs_category: bool = False


SEGMENTS = {
    s.slug: s
    for s in (
        Segment("hardship_unused", "困难职工：卡已激活但从未使用", "在会的困难职工，名下有已激活的卡、且这张卡从未有过交易。", hardship_unused, "hardship_unused"),
        Segment("activated_unused", "卡已激活但从未使用", "在会会员，名下有已激活的卡、且这张卡从未有过交易。", activated_unused, "activated_unused"),
        Segment("lapsed", "90天未用卡", "在会会员，名下已激活的卡用过、但最近90天没有交易。", lapsed, "lapsed"),
        Segment(
            "no_merchant",
            "本县没有某类特约商户",
            "在会会员，所在县级工会辖区内没有所选类别的合作中特约商户（按商户签约工会所在县计）。",
            no_merchant_of_category,
            "members",
            _rows_of_lacking_counties,
            needs_category=True,
        ),
    )
}  # fmt: skip


def segment_get(slug: str) -> Segment:
    try:
        return SEGMENTS[slug]
    except KeyError as exc:
        raise Http404 from exc


def segment_params(data) -> dict:
    """The segment's parameters from a query string or form: only `category` (an id) today."""
    pk = positive_int(data.get("category"))
    category = MerchantCategory.objects.filter(pk=pk).first() if pk else None
    return {"category": category}


def params_json(params: dict) -> dict:
    return {"category": params["category"].pk} if params.get("category") else {}


def params_from_json(data: dict) -> dict:
    pk = data.get("category")
    return {"category": MerchantCategory.objects.filter(pk=pk).first() if pk else None}


def segment_members(user, segment: Segment, params: dict) -> QuerySet:
    """The segment's members in the user's scope, live (the export and the notice's recipients)."""
    if scope_path(user) is None:
        return Member.objects.none()
    return scope_queryset(segment.base(params), user)


@dataclass(frozen=True)
class SnapshotCount:
    count: int
    as_of: date


def segment_snapshot_count(user, segment: Segment, params: dict) -> SnapshotCount | None:
    """The segment's size in the user's scope as the last activity snapshot counted it (the sum
    of `segment.column` over the snapshot's unions in scope), or None when there is no snapshot."""
    as_of = UnionActivity.objects.values_list("as_of", flat=True).first()
    if as_of is None:
        return None
    rows = scope_queryset(UnionActivity.objects.filter(segment.rows(params)), user)
    total = rows.aggregate(n=Sum(segment.column))["n"]
    return SnapshotCount(count=total or 0, as_of=as_of)


def snapshot_counts(*, today: date) -> dict[str, dict[int, int]]:
    """For the refresh: per snapshot column, union id -> members of that segment (incl. `members`:
    all active members), each from the segment's own base queryset grouped by union."""
    result = {"members": _per_union(active_members())}
    for segment in SEGMENTS.values():
        if segment.column not in result:  # no_merchant sums `members`: nothing of its own to count
            result[segment.column] = _per_union(segment.base({"today": today}))
    return result


def _per_union(members: QuerySet) -> dict[int, int]:
    return dict(members.values("union_id").annotate(n=Count("pk")).order_by().values_list("union_id", "n"))
