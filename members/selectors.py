"""Reads of the registry, always scoped to the user's union subtree."""

from django.db.models import QuerySet

from cardportal import crypto
from cardportal.scoping import get_for_user_or_404, scope_queryset, visible_unions

from .idcard import normalise
from .models import Member, Union
from .phones import normalise_phone


def member_list_for_user(
    *,
    user,
    q: str = "",
    union_id: int | None = None,
    employment_type: str = "",
    hardship: bool | None = None,
    status: str = "",
) -> QuerySet[Member]:
    """Search: an 18-character query is an ID number (hash look-up), 11 digits a phone (hash
    look-up), anything else a name prefix (indexed). Newest first."""
    qs = scope_queryset(Member.objects.select_related("union"), user)
    q = (q or "").strip()
    if q:
        as_id = normalise(q)
        as_phone = normalise_phone(q)
        if len(as_id) == 18 and as_id[:17].isdigit():
            qs = qs.filter(id_hash=crypto.keyed_hash(as_id))
        elif len(as_phone) == 11 and as_phone.isdigit():
            qs = qs.filter(phone_hash=crypto.keyed_hash(as_phone))
        else:
            qs = qs.filter(name__startswith=q)
    if union_id:
        union = Union.objects.filter(pk=union_id).only("path").first()
        qs = qs.filter(union__path__startswith=union.path) if union else qs.none()
    if employment_type:
        qs = qs.filter(employment_type=employment_type)
    if hardship is not None:
        qs = qs.filter(is_hardship=hardship)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def member_get_for_user(*, user, pk) -> Member:
    return get_for_user_or_404(Member.objects.select_related("union", "union__parent"), user, pk=pk)


def union_list_for_user(*, user) -> QuerySet[Union]:
    return visible_unions(user).select_related("parent").order_by("path")


def union_get_for_user(*, user, pk) -> Union:
    return get_for_user_or_404(Union.objects.select_related("parent"), user, union_field="", pk=pk)
