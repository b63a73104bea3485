"""Dashboard panels of the members app."""

from django.utils import timezone

from .access import Cap, access_for, scope_queryset, visible_unions
from .models import Member


def registry_overview(request, _obj):
    if not access_for(request.user).is_staff_user:
        return None
    members = scope_queryset(Member.objects.all(), request.user)
    return {
        "title": "会员概况",
        "total": members.count(),
        "hardship": members.filter(is_hardship=True).count(),
    }


def sheets_clerk(request, _obj):
    """The clerk's own sheets and where their union stands in its submission group."""
    from .selectors import sheet_list_for_user, submission_states

    access = access_for(request.user)
    if not access.can(Cap.UNION_DESK):
        return None
    staff = access.staff
    groups = []
    today = timezone.localdate()
    for group in staff.union.submission_groups.order_by("due_date"):
        (state,) = submission_states(group=group, today=today, unions=[staff.union])
        groups.append({"group": group, "state": state, "days_left": (group.due_date - today).days})
    return {
        "title": "我的登记表",
        "sheets": list(sheet_list_for_user(user=request.user)[:5]),
        "groups": groups,
    }


def sheets_review(request, _obj):
    from .selectors import sheets_pending_review_for_user

    if not access_for(request.user).can(Cap.SHEET_REVIEW):
        return None
    pending = sheets_pending_review_for_user(user=request.user)
    return {"title": "待审核的登记表", "count": pending.count(), "sheets": list(pending[:5])}


def submission_overview(request, _obj):
    from .selectors import SUBMISSION_LABELS, submission_groups_for_user, submission_states

    if not access_for(request.user).can(Cap.SUBMISSION_GROUPS):
        return None
    today = timezone.localdate()
    visible = visible_unions(request.user)
    rows = []
    for group in submission_groups_for_user(user=request.user)[:10]:
        states = submission_states(group=group, today=today, unions=group.unions.filter(pk__in=visible))
        counts = {key: sum(1 for s in states if s.state == key) for key in SUBMISSION_LABELS}
        rows.append({"group": group, "counts": counts, "total": len(states)})
    return {"title": "报送分组进度", "groups": rows}


def corrections_open(request, _obj):
    """Dashboard: members' correction requests waiting in the user's subtree."""
    from .corrections import correction_list_for_user

    if access_for(request.user).path is None:  # not staff: sees nothing
        return None
    pending = correction_list_for_user(user=request.user, status="open")
    count = pending.count()
    if not count:
        return None
    return {"title": "会员更正申请", "count": count, "requests": list(pending[:5])}


def member_privacy(request, member):
    """Member page: the member's consent to card issuance and their correction requests."""
    from .corrections import consent_current

    if access_for(request.user).path is None:  # not staff: sees nothing
        return None
    return {
        "consent": consent_current(member=member),
        "corrections": list(member.correction_requests.order_by("-created_at", "-id")[:10]),
    }
