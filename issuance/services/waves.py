"""Issuance waves (发卡计划): a target and deadline for a set of unions."""

from datetime import date

from django.db import transaction

from cardportal.audit import audit_record
from members.models import Union

from ..models import Wave
from .common import R, _require


@transaction.atomic
def wave_create(
    *,
    name: str,
    owner: Union,
    unions,
    target: int,
    deadline: date,
    actor,
    partner=None,
    starts_on=None,
    note="",
) -> Wave:
    _require(actor, frozenset({R.CITY_STAFF, R.PROVINCE_STAFF, R.ADMIN}), "制定发卡计划")
    wave = Wave(
        name=name,
        owner=owner,
        partner=partner,
        target=target,
        deadline=deadline,
        starts_on=starts_on,
        note=note,
    )
    wave.full_clean()
    wave.save()
    wave.unions.set(unions)
    audit_record(actor=actor, verb="wave.created", target=wave, union=owner, data={"target": target})
    return wave
