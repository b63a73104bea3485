"""Writes to the member registry. Each service owns its transaction and audit row."""

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from cardportal import crypto
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError

from .access import Cap, access_for, staff_of
from .idcard import birth_date_of, check_id_number, gender_of, mask_id_like
from .models import Member, MemberTransfer, StaffRole, SubmissionDelivery, SubmissionGroup, Union
from .phones import is_mobile, normalise_phone


def member_build(
    *,
    id_number: str,
    name: str,
    phone: str,
    work_unit: str,
    union: Union,
    employment_type: str = Member.EmploymentType.ESTABLISHED,
    is_hardship: bool = False,
    is_model_worker: bool = False,
    dues_paid: bool = True,
    joined_on: date | None = None,
    today: date | None = None,
) -> Member:
    """A validated, unsaved Member (used one by one and by bulk registration)."""
    today = today or timezone.localdate()
    check = check_id_number(id_number, today=today)
    if not check.ok:
        raise ApplicationError(check.message, code=check.reason)
    phone = normalise_phone(phone)
    if not is_mobile(phone):
        raise ApplicationError(f"手机号码“{phone}”不是有效的11位手机号", code="phone_invalid")
    member = Member(
        name=name.strip(),
        gender=gender_of(check.value),
        birth_date=birth_date_of(check.value),
        work_unit=work_unit.strip(),
        union=union,
        employment_type=employment_type,
        is_hardship=is_hardship,
        is_model_worker=is_model_worker,
        dues_paid=dues_paid,
        joined_on=joined_on or today,
    )
    member.set_id_number(check.value)
    member.set_phone(phone)
    return member


def member_create(*, actor, **fields) -> Member:
    member = member_build(**fields)
    try:
        with transaction.atomic():
            member.save()
            audit_record(actor=actor, verb="member.created", target=member)
    except IntegrityError as exc:
        raise ApplicationError(
            "该身份证号已登记为会员（一人只能登记一次）", code="duplicate_existing"
        ) from exc
    return member


def member_find_by_id_number(id_number: str) -> Member | None:
    """Exact look-up through the keyed hash; nothing is decrypted."""
    return Member.objects.filter(id_hash=crypto.keyed_hash(id_number)).first()


def member_reveal_id(*, member: Member, actor, ip: str | None = None) -> str:
    """The full ID number, for roles allowed to see it. Every reveal is audited."""
    access_for(actor).require(Cap.MEMBER_REVEAL_ID)
    with transaction.atomic():
        audit_record(actor=actor, verb="member.id_revealed", target=member, ip=ip)
    return member.reveal_id_number()


@transaction.atomic
def member_transfer(*, member: Member, to_union: Union, actor, note: str = "") -> MemberTransfer:
    """Move a member to another grassroots union (会籍变化), keeping the history."""
    access_for(actor).require(Cap.MEMBER_TRANSFER)
    member = Member.objects.select_for_update().get(pk=member.pk)
    if to_union.level not in (Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH):
        raise ApplicationError("会员只能转入基层工会", code="invalid_union")
    if to_union.pk == member.union_id:
        raise ApplicationError("会员已在该工会", code="same_union")
    transfer = MemberTransfer.objects.create(
        member=member,
        from_union_id=member.union_id,
        to_union=to_union,
        from_status=member.status,
        to_status=Member.Status.ACTIVE,
        note=note,
        actor=actor,
    )
    member.union = to_union
    member.status = Member.Status.ACTIVE
    member.save(update_fields=["union", "status", "updated_at"])
    audit_record(
        actor=actor, verb="member.transferred", target=member, data={"to": to_union.code, "note": note}
    )
    return transfer


@transaction.atomic
def member_set_status(*, member: Member, status: str, actor, note: str = "") -> Member:
    member = Member.objects.select_for_update().get(pk=member.pk)
    if status not in Member.Status.values:
        raise ApplicationError("未知的会籍状态", code="invalid_status")
    if status == member.status:
        return member
    MemberTransfer.objects.create(
        member=member,
        from_union_id=member.union_id,
        to_union_id=member.union_id,
        from_status=member.status,
        to_status=status,
        note=note,
        actor=actor,
    )
    member.status = status
    member.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor, verb="member.status_changed", target=member, data={"status": status, "note": note}
    )
    return member


def staff_create(*, username: str, password: str, role: str, union: Union, **user_fields):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=username, password=password, is_staff=role == StaffRole.Role.ADMIN, **user_fields
    )
    StaffRole.objects.create(user=user, role=role, union=union)
    return user


SEARCH_LABELS = {
    "id_number": "按身份证号查询",
    "phone": "按手机号查询",
    "id_like": "按身份证号查询（位数不对）",
}


def member_search_audit(*, actor, kind: str, value: str, matches: int, ip: str | None = None) -> str:
    """Record a search by ID number or phone. The audit row holds the keyed hash of the number
    (the same HMAC as `Member.id_hash` / `phone_hash`, so "who looked this person up" is one
    query) and the masked form for people reading the log, never the number itself."""
    staff = staff_of(actor)
    union = staff.union if staff is not None else None
    shown = crypto.mask_phone(value) if kind == "phone" else mask_id_like(value)
    if shown == value:  # never the number itself, whatever its shape
        shown = "*" * len(value)
    audit_record(
        actor=actor,
        verb="member.searched",
        target=union if union is not None else actor,
        union=union,
        data={"by": kind, "hash": crypto.keyed_hash(value), "matches": matches},
        ip=ip,
        label=f"{SEARCH_LABELS[kind]}：{shown}",
    )
    return f"{SEARCH_LABELS[kind]}：{shown}"


@transaction.atomic
def submission_group_create(*, name: str, due_date: date, unions, actor) -> SubmissionGroup:
    """A 报送分组 set by federation staff: the grassroots units in it report by `due_date`. Its
    owner is the actor's union (a superuser without one: the root of the tree)."""
    access = access_for(actor)
    access.require(Cap.SUBMISSION_GROUPS)
    owner = access.union or Union.objects.order_by("depth").first()
    group = SubmissionGroup.objects.create(name=name, due_date=due_date, owner=owner)
    group.unions.set(unions)
    audit_record(actor=actor, verb="submission_group.created", target=group, union=owner)
    return group


def may_sign_deliveries(*, actor, group: SubmissionGroup) -> bool:
    """Staff who set groups, at the group's owner or above it, sign for its paper deliverables."""
    access = access_for(actor)
    return access.can(Cap.SUBMISSION_GROUPS) and access.sees(group.owner)


@transaction.atomic
def submission_delivery_set(
    *, group: SubmissionGroup, union: Union, item: str, received: bool, actor
) -> SubmissionDelivery | None:
    """Tick (or untick) one paper deliverable of a unit of a group as received (附件6). Only staff
    of the union that set the group (or above it) sign for it; audited either way."""
    if not may_sign_deliveries(actor=actor, group=group):
        raise ApplicationError("只有设置该分组的工会可以签收报送材料", code="forbidden")
    if not group.unions.filter(pk=union.pk).exists():
        raise ApplicationError(f"{union.name}不在{group.name}中", code="not_in_group")
    label = SubmissionDelivery.Item(item).label
    existing = (
        SubmissionDelivery.objects.select_for_update().filter(group=group, union=union, item=item).first()
    )
    if received and existing is None:
        existing = SubmissionDelivery.objects.create(
            group=group, union=union, item=item, received_on=timezone.localdate(), received_by=actor
        )
    elif not received and existing is not None:
        existing.delete()
        existing = None
    audit_record(
        actor=actor,
        verb="submission.delivery_received" if received else "submission.delivery_withdrawn",
        target=group,
        union=union,
        data={"item": item},
        label=f"{union.name} {label}：{'已收到' if received else '撤销签收'}",
    )
    return existing
