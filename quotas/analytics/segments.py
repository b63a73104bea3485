"""Segments staff can act on: each a set of members in the user's scope, exportable as a list
and sendable as a notice. A segment is a name, a Chinese title, what it counts, and a function
(user, params) -> Member queryset; params are read from the query string by `segment_params`."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from cardportal.params import positive_int
from issuance.models import Card
from members.access import scope_path, scope_queryset
from members.models import Member, Union
from merchants.models import Merchant, MerchantCategory
from merchants.usage.models import CardUsage

from .refresh import county_of_unions


def _activated_cards():
    return Card.objects.filter(status=Card.Status.ACTIVATED)


def _unused(cards):
    return cards.filter(~Exists(CardUsage.objects.filter(card_id=OuterRef("pk"))))


def _members(user) -> QuerySet:
    return scope_queryset(Member.objects.filter(status=Member.Status.ACTIVE), user)


def hardship_unused(user, params) -> QuerySet:
    cards = _unused(_activated_cards().filter(member_id=OuterRef("pk")))
    return _members(user).filter(is_hardship=True).filter(Exists(cards))


def activated_unused(user, params) -> QuerySet:
    return _members(user).filter(Exists(_unused(_activated_cards().filter(member_id=OuterRef("pk")))))


def lapsed(user, params) -> QuerySet:
    since = (params.get("today") or date.today()) - timedelta(days=89)
    stale = CardUsage.objects.filter(card_id=OuterRef("pk"), last_used_on__lt=since)
    return _members(user).filter(
        Exists(_activated_cards().filter(member_id=OuterRef("pk")).filter(Exists(stale)))
    )


def counties_without(user, category: MerchantCategory) -> list[Union]:
    """County-level unions in scope with no active union merchant of `category` in them."""
    counties = county_of_unions()
    served = {
        counties.get(uid, uid)
        for uid in Merchant.objects.filter(category=category, status=Merchant.Status.ACTIVE).values_list(
            "union_id", flat=True
        )
    }
    scoped = scope_queryset(
        Union.objects.filter(level__in=(Union.Level.COUNTY, Union.Level.INDUSTRY)), user, union_field=""
    )
    return [c for c in scoped.order_by("path") if c.pk not in served]


def no_merchant_of_category(user, params) -> QuerySet:
    category = params.get("category")
    if category is None:
        return Member.objects.none()
    lacking = counties_without(user, category)
    if not lacking:
        return Member.objects.none()
    union_ids = [uid for uid, county in county_of_unions().items() if county in {c.pk for c in lacking}]
    return _members(user).filter(union_id__in=union_ids)


@dataclass(frozen=True)
class Segment:
    slug: str
    title: str
    counts: str
    members: object
    needs_category: bool = False


SEGMENTS = {
    s.slug: s
    for s in (
        Segment("hardship_unused", "困难职工：卡已激活但从未使用", "在会的困难职工，名下有已激活的卡、且这张卡从未有过交易。", hardship_unused),
        Segment("activated_unused", "卡已激活但从未使用", "在会会员，名下有已激活的卡、且这张卡从未有过交易。", activated_unused),
        Segment("lapsed", "90天未用卡", "在会会员，名下已激活的卡用过、但最近90天没有交易。", lapsed),
        Segment(
            "no_merchant",
            "本县没有某类特约商户",
            "在会会员，所在县级工会辖区内没有所选类别的合作中特约商户（按商户签约工会所在县计）。",
            no_merchant_of_category,
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
    if scope_path(user) is None:
        return Member.objects.none()
    return segment.members(user, params)
