"""The bottom layer's port onto the access door.

Who a staff user is and what they may see and do is the members app's business
(`members/access.py`: the union subtree, the role capability table). cardportal sits below every
app and imports none of them, yet its own pages ask the same questions (the audit log viewer, the
admin mixins, API tokens, the second factor, the top bar). So cardportal names the questions here
and `MembersConfig.ready()` connects the answers (`connect(members.access)`).

Only cardportal's own modules use this port; every app above imports `members.access` directly
(tests/test_layering.py holds both rules).
"""

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet


class Door(Protocol):
    def access_for(self, user): ...
    def staff_of(self, user): ...
    def scope_path(self, user) -> str | None: ...
    def visible_unions(self, user) -> QuerySet: ...
    def scope_queryset(self, qs: QuerySet, user, *, union_field: str = "union") -> QuerySet: ...
    def get_for_user_or_404(self, qs: QuerySet, user, *, union_field: str = "union", **lookup) -> Model: ...


_door: Door | None = None


def connect(door: Door) -> None:
    global _door
    _door = door


def door() -> Door:
    if _door is None:
        raise ImproperlyConfigured("the access door is not connected: is `members` in INSTALLED_APPS?")
    return _door


def access_for(user):
    """The user's capabilities and place in the tree (`members.access.Access`)."""
    return door().access_for(user)


def can(user, capability: str) -> bool:
    """`capability` by its name in `members.access.Cap` ("audit.read", "admin.site", ...)."""
    return door().access_for(user).can(capability)


def staff_of(user):
    return door().staff_of(user)


def scope_path(user) -> str | None:
    return door().scope_path(user)


def visible_unions(user) -> QuerySet:
    return door().visible_unions(user)


def scope_queryset(qs: QuerySet, user, *, union_field: str = "union") -> QuerySet:
    return door().scope_queryset(qs, user, union_field=union_field)


def get_for_user_or_404(qs: QuerySet, user, *, union_field: str = "union", **lookup) -> Model:
    return door().get_for_user_or_404(qs, user, union_field=union_field, **lookup)
