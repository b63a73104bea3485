"""Reads of the shared models: the audit log, scoped like everything else."""

from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from .audit import verb_family_q
from .models import AuditEntry
from .scoping import can, get_for_user_or_404, scope_queryset

# Who may read the audit log: the `audit.read` capability (members.access: federation staff of a
# city or a province, and superusers).
AUDIT_READ = "audit.read"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_list_for_user(
    *,
    user,
    family: str = "",
    actor: str = "",
    union=None,
    date_from: date | None = None,
    date_to: date | None = None,
    target: str = "",
) -> QuerySet[AuditEntry]:
    """Audit entries the user may read, newest first, filtered.

    Scoping: entries whose union lies in the user's subtree (cardportal.scoping); an entry with no
    union (a system-wide action) only for a superuser without a staff role, as in the admin.
    Nothing at all for a user who is not an audit reader. `union` (a Union the caller resolved
    within the user's scope) narrows to that union's subtree; `date_to` is inclusive, in the
    portal's time zone; `actor` matches the start of a username; `target` a record number or a
    part of its label."""
    qs = AuditEntry.objects.select_related("actor", "union")
    if not can(user, AUDIT_READ):
        return qs.none()
    qs = scope_queryset(qs, user)
    if family:
        qs = qs.filter(verb_family_q(family))
    if actor:
        qs = qs.filter(actor__username__istartswith=actor)
    if union is not None:
        qs = qs.filter(union__path__startswith=union.path)
    if date_from:
        qs = qs.filter(created_at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    if target:
        qs = qs.filter(Q(target_id=target) | Q(target_label__icontains=target))
    return qs


def audit_get_for_user(*, user, pk) -> AuditEntry:
    """One entry, or 404 when it is outside the user's scope or the user is not an audit reader."""
    return get_for_user_or_404(audit_list_for_user(user=user), user, pk=pk)
