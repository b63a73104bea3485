"""Dashboard panels of the members app."""

from cardportal.scoping import scope_queryset, staff_of

from .models import Member


def registry_overview(request, _obj):
    staff = staff_of(request.user)
    if staff is None and not request.user.is_superuser:
        return None
    members = scope_queryset(Member.objects.all(), request.user)
    return {
        "title": "会员概况",
        "total": members.count(),
        "hardship": members.filter(is_hardship=True).count(),
    }
