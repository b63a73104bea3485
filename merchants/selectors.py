"""Reads of the merchant catalogue: the public directory, scoped staff lists, service-item counts."""

from datetime import date

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from members.access import scope_queryset
from members.models import Union

from .models import Merchant, MerchantCategory, Offer, valid_on_q

COUNTY_LEVELS = (Union.Level.COUNTY, Union.Level.INDUSTRY)


def directory_merchants(
    *, q: str = "", category_id: int | None = None, area_id: int | None = None, on: date | None = None
) -> QuerySet[Merchant]:
    """The public directory: active merchants only (suspended and exited ones never show), each
    with its offers valid today. `area_id` is a county-level union (its whole subtree) or the city
    federation (city-wide merchants)."""
    on = on or timezone.localdate()
    qs = (
        Merchant.objects.filter(status=Merchant.Status.ACTIVE)
        .select_related("category", "union")
        .prefetch_related(
            Prefetch(
                "offers", queryset=Offer.objects.filter(valid_on_q(on)).order_by("id"), to_attr="valid_offers"
            )
        )
    )
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(offers__description__icontains=q)).distinct()
    if category_id:
        qs = qs.filter(category_id=category_id)
    if area_id:
        area = Union.objects.filter(pk=area_id).only("path", "level").first()
        if area is None:
            return qs.none()
        qs = (
            qs.filter(union=area)
            if area.level not in COUNTY_LEVELS
            else qs.filter(union__path__startswith=area.path)
        )
    return qs.order_by("category__order", "name", "id")


def directory_areas() -> list[Union]:
    """The areas a visitor can filter by: the unions that have active merchants, county-level first."""
    ids = Merchant.objects.filter(status=Merchant.Status.ACTIVE).values("union_id")
    return list(Union.objects.filter(pk__in=ids).order_by("depth", "code"))


def directory_categories() -> list[MerchantCategory]:
    return list(MerchantCategory.objects.all())


def merchant_list_for_user(*, user) -> QuerySet[Merchant]:
    return scope_queryset(Merchant.objects.select_related("category", "union"), user)


def counted_merchants_q(on: date, prefix: str = "") -> Q:
    """Merchants whose items count on `on`: under contract that day and active, or exited only
    after that day (a later exit does not rewrite a past month). Suspended merchants do not count."""
    p = prefix
    under_contract = Q(**{f"{p}contract_start__lte": on}) & (
        Q(**{f"{p}contract_end__isnull": True}) | Q(**{f"{p}contract_end__gte": on})
    )
    standing = Q(**{f"{p}status": Merchant.Status.ACTIVE}) | (
        Q(**{f"{p}status": Merchant.Status.EXITED}) & Q(**{f"{p}exited_on__gt": on})
    )
    return under_contract & standing


def service_items_by_county(*, on: date) -> dict[int, int]:
    """County-level union id -> number of offers (service items, 服务项目) valid on `on` from the
    merchants of that county (the county union itself or any union below it).

    Every county-level union (county or industry level) is in the result, with 0 when it has none.
    City-wide items (merchants signed by the city or province federation) are NOT added to each
    county: the assessment (001 附件3 §二.3) rewards what a county developed itself (普惠化服务项目
    以县总为主体), and an item every county shares would add the same number to each county and to
    the city average, changing no score. Two queries whatever the data size."""
    counties = list(Union.objects.filter(level__in=COUNTY_LEVELS).values_list("pk", "path"))
    result = dict.fromkeys((pk for pk, _ in counties), 0)
    rows = (
        Offer.objects.filter(valid_on_q(on), counted_merchants_q(on, prefix="merchant__"))
        .values("merchant__union__path")
        .annotate(n=Count("id"))
    )
    # Longest path first so a nested county-level union (rare) keeps its own items.
    by_path = sorted(counties, key=lambda c: -len(c[1]))
    for row in rows:
        path = row["merchant__union__path"]
        for pk, county_path in by_path:
            if path.startswith(county_path):
                result[pk] += row["n"]
                break
    return result


def merchants_signed_between(*, start: date, end: date) -> int:
    """Merchants whose contract started in [start, end] (a weekly report's 新签约商户)."""
    return Merchant.objects.filter(contract_start__gte=start, contract_start__lte=end).count()
