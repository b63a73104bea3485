"""Who may run drops: the one place the drops app asks the role question, so the project's
single access door (when it lands) replaces this function and nothing else."""

from django.core.exceptions import PermissionDenied

from cardportal.registry import SUPERUSER
from cardportal.scoping import staff_of
from members.models import StaffRole

# City staff and above (a drop is for a whole city's members); superusers too.
DROP_ROLES = frozenset(StaffRole.FEDERATION_ROLES | {SUPERUSER})


def may_manage_drops(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    staff = staff_of(user)
    if staff is not None:
        return staff.role in StaffRole.FEDERATION_ROLES
    return user.is_superuser


def require_drop_manager(user) -> None:
    if not may_manage_drops(user):
        raise PermissionDenied
