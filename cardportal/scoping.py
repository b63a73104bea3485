"""The one scoping mechanism: what a staff user may see is their union's subtree.

Every page, API view and admin queryset goes through `scope_queryset` (or `get_for_user_or_404`,
built on it). A record outside the subtree is indistinguishable from a missing one: 404.
"""

from django.db.models import Model, QuerySet
from django.http import Http404


def scope_path(user) -> str | None:
    """The union path prefix the user may see; "" means everything; None means nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    staff = getattr(user, "staff", None) if _has_staff(user) else None
    if staff is not None:
        return staff.union.path
    if user.is_superuser:
        return ""
    return None


def _has_staff(user) -> bool:
    from members.models import StaffRole

    try:
        user.staff  # noqa: B018 - touch the reverse one-to-one (cached on the user afterwards)
    except StaffRole.DoesNotExist:
        return False
    return True


def visible_unions(user) -> QuerySet:
    from members.models import Union

    path = scope_path(user)
    if path is None:
        return Union.objects.none()
    if path == "":
        return Union.objects.all()
    return Union.objects.filter(path__startswith=path)


def scope_queryset(qs: QuerySet, user, *, union_field: str = "union") -> QuerySet:
    """Restrict `qs` to rows whose `union_field` lies in the user's subtree.

    `union_field` is the lookup from the model to its Union ("union", "member__union", ...);
    "" when the queryset is of unions itself."""
    path = scope_path(user)
    if path is None:
        return qs.none()
    if path == "":
        return qs
    lookup = f"{union_field}__path__startswith" if union_field else "path__startswith"
    return qs.filter(**{lookup: path})


def get_for_user_or_404(qs: QuerySet, user, *, union_field: str = "union", **lookup) -> Model:
    try:
        return scope_queryset(qs, user, union_field=union_field).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def staff_of(user):
    """The user's StaffRole, or None (superusers without one, anonymous users)."""
    return user.staff if getattr(user, "is_authenticated", False) and _has_staff(user) else None
