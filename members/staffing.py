"""Who may manage which staff account: the one rule the admin asks before it shows, saves or
deletes a user or a staff role.

A superuser manages everyone. A portal admin (StaffRole admin, not superuser) manages only staff
whose role sits inside the admin's own union subtree, never a superuser, never their own role or
their own privilege fields, and never another admin at their own union or above (that would be a
takeover of an account of equal power). They grant a role only at a union inside their subtree,
only a role no stronger than their own, the admin role only strictly below their own union, and a
federation role only at a union of that level (市总 roles at a city union, 省总 roles at a province).
Pure reads: no writes here, so the admin forms, the admin actions and the tests share them.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from cardportal.audit import register_verbs

from .access import Cap, access_for, scope_path, staff_of
from .models import StaffRole, Union

R = StaffRole.Role

# Power of a role, for "never grant a role stronger than your own". The bank operator downloads
# hand-off files, which city staff and admins also may; it ranks with county reviewers.
ROLE_RANK: dict[str, int] = {
    R.CLERK: 1,
    R.COUNTY_REVIEWER: 2,
    R.BANK_OPERATOR: 2,
    R.CITY_STAFF: 3,
    R.PROVINCE_STAFF: 4,
    R.ADMIN: 5,
}
# A federation role names a level of the tree; it is granted only at a union of that level or above.
ROLE_LEVELS: dict[str, frozenset[str]] = {
    R.CITY_STAFF: frozenset({Union.Level.CITY, Union.Level.PROVINCE}),
    R.PROVINCE_STAFF: frozenset({Union.Level.PROVINCE}),
}
# Depth of a level in the tree: a union a scoped admin adds sits at a deeper level than its parent.
LEVEL_ORDER: dict[str, int] = {
    Union.Level.PROVINCE: 0,
    Union.Level.CITY: 1,
    Union.Level.COUNTY: 2,
    Union.Level.INDUSTRY: 2,
    Union.Level.GRASSROOTS: 3,
    Union.Level.SUB_BRANCH: 4,
}
# User fields only a superuser may set (Django's own privilege flags and permission sets).
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def manageable_users(actor) -> QuerySet:
    """The users `actor` may change or delete in the admin (never themselves)."""
    users = get_user_model().objects.all()
    if getattr(actor, "is_superuser", False):
        return users.exclude(pk=actor.pk)
    staff = staff_of(actor)
    path = scope_path(actor)
    if staff is None or staff.role != R.ADMIN or not path:
        return users.none()
    peer_or_above = Q(staff__role=R.ADMIN) & ~Q(staff__union__depth__gt=staff.union.depth)
    return (
        users.filter(is_superuser=False, staff__union__path__startswith=path)
        .exclude(peer_or_above)
        .exclude(pk=actor.pk)
    )


def visible_users(actor) -> QuerySet:
    """What the user admin lists: the manageable users and the actor's own account (read-only
    where it matters: see `may_manage_user`)."""
    users = get_user_model().objects.all()
    if getattr(actor, "is_superuser", False):
        return users
    return users.filter(Q(pk__in=manageable_users(actor).values("pk")) | Q(pk=actor.pk))


def may_manage_user(actor, target) -> bool:
    if target is None:
        return access_for(actor).can(Cap.ADMIN_SITE)
    return manageable_users(actor).filter(pk=target.pk).exists()


def grantable_roles(actor) -> list[str]:
    """The roles `actor` could grant at some union of their subtree (the form's choices)."""
    if getattr(actor, "is_superuser", False):
        return list(R.values)
    staff = staff_of(actor)
    if staff is None or staff.role != R.ADMIN:
        return []
    levels = set(Union.objects.filter(path__startswith=staff.union.path).values_list("level", flat=True))
    return [
        role
        for role in R.values
        if ROLE_RANK[role] <= ROLE_RANK[staff.role]
        and (role not in ROLE_LEVELS or levels & ROLE_LEVELS[role])
    ]


def role_grant_error(*, actor, role: str, union: Union | None) -> str | None:
    """Why `actor` may not give the role `role` at `union`, in Chinese; None when they may."""
    if getattr(actor, "is_superuser", False):
        return None
    staff = staff_of(actor)
    if staff is None or staff.role != R.ADMIN:
        return "只有系统管理员可以设置工作人员角色"
    if union is None:
        return None  # the form reports the missing union itself
    if not union.is_within(staff.union):
        return f"只能在本级工会（{staff.union.name}）及其下级工会设置角色"
    if ROLE_RANK.get(role, 99) > ROLE_RANK[staff.role]:
        return "不能授予高于自己权限的角色"
    if role == R.ADMIN and union.pk == staff.union_id:
        return "系统管理员角色只能授予下级工会，不能授予本级工会"
    levels = ROLE_LEVELS.get(role)
    if levels is not None and union.level not in levels:
        return f"「{StaffRole.Role(role).label}」只能设在{'或'.join(str(Union.Level(lv).label) for lv in sorted(levels))}"
    return None


register_verbs(
    {
        "staff.user_created": "新增工作人员账号",
        "staff.user_changed": "修改工作人员账号",
        "staff.role_changed": "设置工作人员角色",
        "staff.password_set": "重设工作人员密码",
    }
)
