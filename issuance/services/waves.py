"""Issuance waves (发卡计划): a target and deadline for a set of unions."""

from datetime import date

from django.db import transaction

from cardportal.audit import audit_record, register_verbs
from members.access import Cap, access_for
from members.models import Union

from ..models import Wave

# What a wave's form may set (the admin's change form passes exactly these).
WAVE_FIELDS = ("name", "owner", "partner", "target", "starts_on", "deadline", "note")
register_verbs({"wave.changed": "修改发卡批次计划"})


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


@transaction.atomic
def wave_update(*, wave: Wave, actor, unions=None, **changes) -> Wave:
    """Change a wave's fields (any of WAVE_FIELDS) and, when given, its unions; audited with the
    names of the fields that changed."""
    access_for(actor).require(Cap.WAVE_PLAN)
    unknown = set(changes) - set(WAVE_FIELDS)
    if unknown:
        raise TypeError(f"wave_update() got unexpected fields {sorted(unknown)}")
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    changed = [name for name, value in changes.items() if getattr(wave, name) != value]
    for name in changed:
        setattr(wave, name, changes[name])
    wave.full_clean()
    wave.save()
    if unions is not None:
        before = set(wave.unions.values_list("pk", flat=True))
        wave.unions.set(unions)
        if before != {union.pk for union in unions}:
            changed.append("unions")
    audit_record(actor=actor, verb="wave.changed", target=wave, union=wave.owner, data={"fields": changed})
    return wave
