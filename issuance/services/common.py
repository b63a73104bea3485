"""What the issuance services share: the noon timestamp given to events known only by their
date. Who may do which kind of work is the access door's table (`members.access.Cap`); each
service asks `access_for(actor).require(...)`."""

from datetime import date, datetime, time

from django.utils import timezone

from members.models import StaffRole

from ..models import Card

S = Card.Status
R = StaffRole.Role


def _at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12, 0)))
