"""Issuance waves (发卡计划): a target and deadline for a set of unions."""

from datetime import date

from django.db import transaction

from cardportal.audit import audit_record
from members.access import Cap, access_for
from members.models import Union

from ..models import Wave


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
    access_for(actor).require(Cap.WAVE_PLAN)
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
