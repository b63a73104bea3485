from django.db.models import QuerySet

from members.access import scope_queryset

from .models import SmsMessage


def sms_list_for_user(*, user) -> QuerySet[SmsMessage]:
    """Outbox rows of members in the user's union subtree (messages without a union: admins only)."""
    return scope_queryset(SmsMessage.objects.select_related("union"), user).order_by("-created_at", "-id")
