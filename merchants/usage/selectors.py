"""Reads of card usage for the pages above (analytics, subsidies), scoped to the user's union
subtree through `members.access`. Transactions are read by union (the card's union at import);
merchants' months by the merchant's signing union."""

from datetime import date

from django.db.models import QuerySet

from members.access import scope_queryset

from .models import CardTransaction, CardUsage, MerchantMonth, UsageDay


def usage_days_for_user(*, user, start: date, end: date) -> QuerySet[UsageDay]:
    """UsageDay rows of [start, end] in the user's scope."""
    return scope_queryset(UsageDay.objects.filter(day__gte=start, day__lte=end), user)


def card_usage_for_user(*, user) -> QuerySet[CardUsage]:
    return scope_queryset(CardUsage.objects.all(), user)


def merchant_months_for_user(*, user, month: date) -> QuerySet[MerchantMonth]:
    return scope_queryset(
        MerchantMonth.objects.filter(month=month.replace(day=1)), user, union_field="merchant__union"
    )


def transactions_of_import(*, txn_import_id: int) -> QuerySet[CardTransaction]:
    """The rows an import stored (for the subsidy task the signal starts; no user scope: a task)."""
    return CardTransaction.objects.filter(txn_import_id=txn_import_id)
