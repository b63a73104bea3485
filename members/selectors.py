"""Reads of the registry, always scoped to the user's union subtree."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cardportal import crypto

from .access import access_for, get_for_user_or_404, scope_queryset, visible_unions
from .idcard import looks_like_id, normalise
from .models import Member, RegistrationSheet, SheetRow, SubmissionDelivery, SubmissionGroup, Union
from .phones import normalise_phone

# Query kinds that hold personal data: never in a URL, always audited.
PERSONAL_QUERY_KINDS = frozenset({"id_number", "phone", "id_like"})


def search_kind(q: str) -> tuple[str, str]:
    """(kind, value) of a search query: ("id_number", the normalised 18 characters), ("phone",
    11 digits), ("id_like", digits) for something that looks like an ID number but is not 18
    characters (a 17- or 19-digit typo, an old 15-digit number), ("name", the text) or ("", "")."""
    q = (q or "").strip()
    if not q:
        return "", ""
    as_id = normalise(q)
    if len(as_id) == 18 and as_id[:17].isdigit():
        return "id_number", as_id
    as_phone = normalise_phone(q)
    if len(as_phone) == 11 and as_phone.isdigit():
        return "phone", as_phone
    if looks_like_id(q):
        return "id_like", as_id
    return "name", q


def member_list_for_user(
    *,
    user,
    q: str = "",
    union_id: int | None = None,
    employment_type: str = "",
    hardship: bool | None = None,
    status: str = "",
) -> QuerySet[Member]:
    """Search (`search_kind`): an 18-character query is an ID number (hash look-up), 11 digits a
    phone (hash look-up), another ID-like number finds nothing, anything else is a name prefix
    (indexed). Newest first. The pages and the API send ID and phone queries by POST and audit
    them (`services.member_search_audit`); this selector only reads."""
    qs = scope_queryset(Member.objects.select_related("union"), user)
    kind, value = search_kind(q)
    if kind == "id_number":
        qs = qs.filter(id_hash=crypto.keyed_hash(value))
    elif kind == "phone":
        qs = qs.filter(phone_hash=crypto.keyed_hash(value))
    elif kind == "id_like":
        qs = qs.none()  # a 15/17/19-digit number is no member's ID number
    elif kind == "name":
        qs = qs.filter(name__startswith=value)
    if union_id:
        union = Union.objects.filter(pk=union_id).only("path").first()
        qs = qs.filter(union__path__startswith=union.path) if union else qs.none()
    if employment_type:
        qs = qs.filter(employment_type=employment_type)
    if hardship is not None:
        qs = qs.filter(is_hardship=hardship)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def member_get_for_user(*, user, pk) -> Member:
    return get_for_user_or_404(Member.objects.select_related("union", "union__parent"), user, pk=pk)


def union_list_for_user(*, user) -> QuerySet[Union]:
    return visible_unions(user).select_related("parent").order_by("path")


def union_get_for_user(*, user, pk) -> Union:
    return get_for_user_or_404(Union.objects.select_related("parent"), user, union_field="", pk=pk)


# --- registration sheets ------------------------------------------------------------------------
def sheet_list_for_user(
    *, user, status: str = "", union_id: int | None = None
) -> QuerySet[RegistrationSheet]:
    qs = scope_queryset(RegistrationSheet.objects.select_related("union", "created_by"), user)
    if status:
        qs = qs.filter(status=status)
    if union_id:
        qs = qs.filter(union_id=union_id)
    return qs.order_by("-id")


def sheet_get_for_user(*, user, pk) -> RegistrationSheet:
    return get_for_user_or_404(
        RegistrationSheet.objects.select_related(
            "union", "union__parent", "created_by", "reviewed_by", "submitted_by"
        ),
        user,
        pk=pk,
    )


def sheets_pending_review_for_user(*, user) -> QuerySet[RegistrationSheet]:
    """Submitted sheets of unions below the reviewer's own union (a union never reviews itself:
    `Access.governs`, here as a filter)."""
    qs = sheet_list_for_user(user=user, status=RegistrationSheet.Status.SUBMITTED)
    access = access_for(user)
    if not access.superuser and access.staff is not None:
        qs = qs.exclude(union_id=access.staff.union_id)
    return qs.order_by("submitted_at", "id")


def sheet_rows(*, sheet: RegistrationSheet, outcome: str = "", reason: str = "") -> QuerySet[SheetRow]:
    qs = SheetRow.objects.filter(sheet=sheet).defer(
        "id_encrypted", "phone_encrypted", "id_hash", "phone_hash"
    )
    if outcome:
        qs = qs.filter(outcome=outcome)
    if reason:
        qs = qs.filter(reason=reason)
    return qs.order_by("row_number")


def sheet_rows_with_members(*, sheet: RegistrationSheet, limit: int = 20) -> list[SheetRow]:
    """The first accepted rows, each with `.member_id` of the member registered from it (by hash)."""
    rows = list(
        SheetRow.objects.filter(sheet=sheet, outcome="accept")
        .only(
            "row_number",
            "name",
            "gender",
            "id_region",
            "id_last4",
            "phone_prefix",
            "phone_last4",
            "work_unit",
            "is_hardship",
            "reason",
            "id_hash",
            "seq",
            "employment_type",
            "dues_paid",
        )
        .order_by("row_number")[:limit]
    )
    members = {}
    if sheet.status == RegistrationSheet.Status.REGISTERED:
        members = dict(
            Member.objects.filter(id_hash__in=[r.id_hash for r in rows]).values_list("id_hash", "pk")
        )
    for row in rows:
        row.member_id = members.get(row.id_hash)
    return rows


def sheet_reason_counts(*, sheet: RegistrationSheet, outcome: str) -> list[tuple[str, int]]:
    rows = (
        SheetRow.objects.filter(sheet=sheet, outcome=outcome)
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
    )
    return list(rows)


@dataclass(frozen=True)
class UnitSubmission:
    union: Union
    state: str  # done / done_late / submitted / late / waiting
    label: str
    last_sheet: RegistrationSheet | None
    delivered: tuple = ()  # (item, label, received_on or None) for each paper deliverable


SUBMISSION_LABELS = {
    "done": "已完成",
    "done_late": "逾期完成",
    "submitted": "已报送",
    "late": "逾期",
    "waiting": "未报送",
}


def submission_states(*, group: SubmissionGroup, today: date, unions=None) -> list[UnitSubmission]:
    """Each unit of the group: done (a sheet approved or registered, first submitted by the due
    date), done_late (the same, first submitted after it: 逾期完成), submitted (on time, awaiting
    review), late (nothing submitted by the due date, or first submitted after it), waiting; and
    which of the three paper deliverables the group's owner has received."""
    S = RegistrationSheet.Status
    unions = list(unions if unions is not None else group.unions.order_by("path"))
    sheets: dict[int, list[RegistrationSheet]] = {}
    for sheet in RegistrationSheet.objects.filter(union__in=unions).order_by("id"):
        sheets.setdefault(sheet.union_id, []).append(sheet)
    received = {
        (d.union_id, d.item): d.received_on
        for d in SubmissionDelivery.objects.filter(group=group, union__in=unions)
    }
    items = SubmissionDelivery.Item
    states = []
    for union in unions:
        own = sheets.get(union.pk, [])
        submitted = [s for s in own if s.submitted_at]
        first = min((timezone.localtime(s.submitted_at).date() for s in submitted), default=None)
        if any(s.status in (S.APPROVED, S.REGISTERED) for s in own):
            state = "done_late" if first is not None and first > group.due_date else "done"
        elif first is not None and first > group.due_date:
            state = "late"
        elif any(s.status == S.SUBMITTED for s in own):
            state = "submitted"
        elif today > group.due_date:
            state = "late"
        else:
            state = "waiting"
        delivered = tuple((i.value, i.label, received.get((union.pk, i.value))) for i in items)
        states.append(
            UnitSubmission(union, state, SUBMISSION_LABELS[state], own[-1] if own else None, delivered)
        )
    return states


def submission_groups_for_user(*, user) -> QuerySet[SubmissionGroup]:
    """Groups set by a union the user sees, or containing a unit the user sees."""
    unions = visible_unions(user)
    return (
        SubmissionGroup.objects.filter(Q(owner__in=unions) | Q(unions__in=unions))
        .distinct()
        .select_related("owner")
        .order_by("due_date", "name")
    )


def letter_facts(*, sheet: RegistrationSheet) -> dict:
    """What the confirmation letter (附件3) says: the members and ID copies (the clerk's declared
    figures, else the accepted rows), who to call (the uploader), the federation the cards are
    issued through, and today's date."""
    federation = Union.objects.filter(
        level=Union.Level.CITY, path__in=ancestor_paths(sheet.union.path)
    ).first()
    clerk = sheet.created_by
    return {
        "sheet": sheet,
        "members": sheet.declared_members if sheet.declared_members is not None else sheet.rows_accepted,
        "copies": sheet.declared_id_copies if sheet.declared_id_copies is not None else sheet.rows_accepted,
        "federation": federation,
        "contact": (clerk.get_full_name() or clerk.username) if clerk else "",
        "today": timezone.localdate(),
    }


def ancestor_paths(path: str) -> list[str]:
    """The materialized paths of every union above the one at `path`, top first."""
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts) - 1)]


SEQ_SHOWN = 10  # rows or 序号 named in a warning; the rest are counted


def sheet_seq_warnings(*, sheet: RegistrationSheet) -> list[str]:
    """Sheet-level warnings about 序号 (000 附件5: the ID copies are numbered by it, so the
    reviewer matches copies to rows by it): duplicate and missing 序号 among the accepted rows.
    They do not block anything; the reviewer sees them beside the approve button."""
    accepted = SheetRow.objects.filter(sheet=sheet, outcome="accept")
    warnings = []
    repeated = list(
        accepted.exclude(seq="").values("seq").annotate(n=Count("id")).filter(n__gt=1).order_by("seq")
    )
    if repeated:
        rows: dict[str, list[int]] = {}
        shown = [r["seq"] for r in repeated[:SEQ_SHOWN]]
        for seq, number in (
            accepted.filter(seq__in=shown).order_by("row_number").values_list("seq", "row_number")
        ):
            rows.setdefault(seq, []).append(number)
        named = "、".join(f"序号{seq}（{'、'.join(f'第{n}行' for n in rows[seq])}）" for seq in shown)
        more = f"等 {len(repeated)} 个序号" if len(repeated) > SEQ_SHOWN else ""
        warnings.append(
            f"序号重复：{named}{more}。身份证复印件按序号编号，请核对复印件与表中的人是否一一对应"
        )
    missing = accepted.filter(seq="")
    count = missing.count()
    if count:
        first = list(missing.order_by("row_number").values_list("row_number", flat=True)[:SEQ_SHOWN])
        named = "、".join(f"第{n}行" for n in first) + ("等" if count > SEQ_SHOWN else "")
        whole = "全部" if count == sheet.rows_accepted else ""
        warnings.append(
            f"{whole} {count} 行没有序号（{named}）。身份证复印件按序号编号，请核对复印件是否齐全、对应".strip()
        )
    return warnings


def rows_by_child(
    *, root: Union, rows: Iterable[dict], path_key: str = "union__path"
) -> list[tuple[Union, list]]:
    """Rows of `root`'s subtree (each with its union's path under `path_key`, e.g. one GROUP BY
    row per union) rolled up to `root`'s direct children by path prefix: [(child, its rows)] in
    code order; a union without children stands for itself. Rows outside the subtree are left out."""
    children = list(root.children.order_by("code")) or [root]
    found: dict[int, list] = {child.pk: [] for child in children}
    for row in rows:
        for child in children:
            if row[path_key].startswith(child.path):
                found[child.pk].append(row)
                break
    return [(child, found[child.pk]) for child in children]
