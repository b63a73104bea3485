"""What the issuance services share: the staff roles each kind of work needs and the one
role check (`_require`), and the noon timestamp given to events known only by their date."""

from datetime import date, datetime, time

from django.utils import timezone

from cardportal.errors import ApplicationError
from cardportal.scoping import staff_of
from members.models import StaffRole

from ..models import Card

S = Card.Status
R = StaffRole.Role
BATCH_ROLES = frozenset({R.CITY_STAFF, R.PROVINCE_STAFF, R.BANK_OPERATOR, R.ADMIN})
HANDOFF_ROLES = frozenset({R.CITY_STAFF, R.BANK_OPERATOR, R.ADMIN})
UNION_ROLES = frozenset({R.CLERK, R.ADMIN})  # receipt, distribution, activation sessions, loss


def role_allows(user, roles: frozenset) -> bool:
    if user is None:
        return False
    if getattr(user, "is_superuser", False):
        return True
    staff = staff_of(user)
    return staff is not None and staff.role in roles


def _require(user, roles: frozenset, what: str) -> None:
    """Role check for people; actor=None is the system itself (demo loader, bank API jobs)."""
    if user is not None and not role_allows(user, roles):
        raise ApplicationError(f"您的角色无权{what}", code="forbidden")


def _at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12, 0)))
