"""Pages of the registration sheets: template, upload, progress, results, error report, review."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cardportal.audit import audit_for, audit_record, client_ip
from cardportal.downloads import attachment
from cardportal.errors import ApplicationError
from cardportal.jobs import job_is_stale, job_recover, render_job_progress
from cardportal.pagination import paginate
from cardportal.retention import removed_message
from cardportal.scoping import staff_of, visible_unions
from cardportal.uploads import upload_refusal

from . import registration, selectors
from .forms import SheetReturnForm, SheetRowFilterForm, SheetUploadForm, SubmissionGroupForm
from .models import RegistrationSheet, StaffRole, SubmissionGroup, Union
from .retention import SHEET_RULES
from .sheet_files import error_report_workbook, template_workbook
from .sheets import SheetRefused, read_sheet

UPLOAD_ROLES = frozenset({StaffRole.Role.CLERK}) | StaffRole.REVIEW_ROLES


def _role(user) -> str | None:
    staff = staff_of(user)
    if staff is not None:
        return staff.role
    return "admin" if user.is_superuser else None


def can_upload(user) -> bool:
    return _role(user) in UPLOAD_ROLES


def can_review(user) -> bool:
    """The reviewing role (review pages, 403 otherwise); whether this user may review a given
    sheet is registration.sheet_review_refusal, which the services enforce."""
    staff = staff_of(user)
    return staff.can_review if staff is not None else user.is_superuser


def may_retry_register(user, sheet: RegistrationSheet) -> bool:
    """Re-running an approved sheet's registration is a reviewer's act, under the one review rule."""
    return not registration.sheet_review_refusal(sheet=sheet, actor=user, approving=False)


def _grassroots_for(user):
    return (
        visible_unions(user)
        .filter(level__in=[Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH])
        .order_by("path")
    )


@login_required
def sheet_list(request):
    status = request.GET.get("status", "")
    if status not in RegistrationSheet.Status.values:
        status = ""
    page = paginate(request, selectors.sheet_list_for_user(user=request.user, status=status), per_page=30)
    return render(
        request,
        "members/sheet_list.html",
        {
            "page": page,
            "status": status,
            "statuses": RegistrationSheet.Status.choices,
            "can_upload": can_upload(request.user),
            "can_review": can_review(request.user),
            "query": f"status={status}" if status else "",
        },
    )


@login_required
def sheet_template(request):
    return attachment(template_workbook(), "会员卡信息登记表（模板）.xlsx")


@login_required
def sheet_upload(request):
    if not can_upload(request.user):
        raise PermissionDenied
    unions = _grassroots_for(request.user)
    refused = upload_refusal(request)
    form = SheetUploadForm(request.POST or None, request.FILES or None, unions=unions)
    if refused is not None:
        form.is_valid()  # bound form: show the refusal in place of "this field is required"
        form.errors["file"] = form.error_class([refused.message])
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            sheet, created = registration.sheet_upload(
                union=form.cleaned_data["union"],
                filename=upload.name,
                content=upload,  # a file on disk (uploads.py): hashed and kept in pieces
                actor=request.user,
                declared_members=form.cleaned_data["declared_members"],
                declared_id_copies=form.cleaned_data["declared_id_copies"],
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            if created:
                # the page itself says where the check stands (in the embedded default it has
                # already finished by now), so the message does not claim it is still running
                messages.success(request, f"已上传“{sheet.original_name}”")
            else:
                messages.warning(
                    request,
                    f"这个文件已上传过（登记表 #{sheet.pk}，{sheet.created_at:%Y-%m-%d %H:%M}），没有重复导入",
                )
            return redirect(sheet)
    return render(request, "members/sheet_upload.html", {"form": form})


@login_required
def sheet_detail(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    job_recover(sheet)  # a worker that died shows as re-queued or failed, not as running
    reasons = selectors.sheet_reason_counts(sheet=sheet, outcome="reject")
    filters = SheetRowFilterForm(request.GET or None, reasons=reasons)
    reason = filters.cleaned_data["reason"] if filters.is_valid() else ""
    rejected = paginate(
        request, selectors.sheet_rows(sheet=sheet, outcome="reject", reason=reason), per_page=50
    )
    query = f"reason={reason}" if reason else ""
    context = {
        "sheet": sheet,
        "page": rejected,
        "filters": filters,
        "query": query,
        "reason": reason,
    }
    if request.htmx and request.htmx.target == "sheet-rows":
        return render(request, "members/_sheet_rows.html", context)
    role = _role(request.user)
    context.update(
        {
            "skipped": selectors.sheet_reason_counts(sheet=sheet, outcome="skip"),
            "accepted_preview": selectors.sheet_rows_with_members(sheet=sheet, limit=20),
            "stalled": sheet.status
            in (RegistrationSheet.Status.UPLOADED, RegistrationSheet.Status.VALIDATING)
            and (sheet.job_status == "failed" or job_is_stale(sheet)),
            "register_stalled": sheet.status == RegistrationSheet.Status.APPROVED
            and (sheet.job_status == "failed" or job_is_stale(sheet)),
            "can_retry_register": may_retry_register(request.user, sheet),
            "can_submit": sheet.status == RegistrationSheet.Status.VALIDATED and role in UPLOAD_ROLES,
            **_review_flags(request.user, sheet),
            "return_form": SheetReturnForm(),
            "audit": audit_for(sheet)[:20],
            "S": RegistrationSheet.Status,
        }
    )
    return render(request, "members/sheet_detail.html", context)


def _review_flags(user, sheet: RegistrationSheet) -> dict:
    if sheet.status != RegistrationSheet.Status.SUBMITTED or not can_review(user):
        return {"can_return": False, "can_approve": False, "approve_refusal": ""}
    approve_refusal = registration.sheet_review_refusal(sheet=sheet, actor=user)
    return {
        "can_return": not registration.sheet_review_refusal(sheet=sheet, actor=user, approving=False),
        "can_approve": not approve_refusal,
        "approve_refusal": approve_refusal,
    }


@login_required
def sheet_progress(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    return render_job_progress(request, sheet)


@login_required
def sheet_error_report(request, pk):
    """The uploaded sheet with a 错误原因 column (built on demand from the kept file)."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if sheet.status == RegistrationSheet.Status.REFUSED:
        raise PermissionDenied
    if not sheet.file:
        messages.error(request, removed_message(*SHEET_RULES))
        return redirect(sheet)
    with sheet.file.open("rb") as handle:
        try:
            data = read_sheet(handle.read())
        except SheetRefused as refused:
            messages.error(request, refused.message)
            return redirect(sheet)
    problems = {
        row: (field, message)
        for row, field, message in selectors.sheet_rows(sheet=sheet, outcome="reject").values_list(
            "row_number", "field", "message"
        )
    }
    audit_record(actor=request.user, verb="sheet.error_report", target=sheet, ip=client_ip(request))
    stem = sheet.original_name.rsplit(".", 1)[0]
    return attachment(error_report_workbook(data, problems), f"{stem}（错误原因）.xlsx")


@login_required
@require_POST
def sheet_submit(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if not can_upload(request.user):
        raise PermissionDenied
    try:
        count = registration.sheet_submit(sheet=sheet, actor=request.user)
        messages.success(request, f"已提交 {count} 人，等待上级工会审核")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(sheet)


@login_required
@require_POST
def sheet_approve(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if not can_review(request.user):
        raise PermissionDenied
    try:
        registration.sheet_approve(sheet=sheet, actor=request.user)
        messages.success(request, "已审核通过，正在登记会员并申请办卡")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(sheet)


@login_required
@require_POST
def sheet_return(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if not can_review(request.user):
        raise PermissionDenied
    form = SheetReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写退回原因")
        return redirect(sheet)
    try:
        registration.sheet_return(sheet=sheet, reason=form.cleaned_data["reason"], actor=request.user)
        messages.success(request, "已退回，经办人会看到退回原因")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(sheet)


@login_required
@require_POST
def sheet_retry(request, pk):
    """Queue the import again for a sheet whose worker died or failed before staging finished."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if not can_upload(request.user):
        raise PermissionDenied
    if registration.sheet_import_retry(sheet=sheet, actor=request.user):
        messages.success(request, "已重新开始校验")
    return redirect(sheet)


@login_required
@require_POST
def sheet_register_retry(request, pk):
    """The reviewer queues the registration again after it failed or its worker died."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if not may_retry_register(request.user, sheet):
        raise PermissionDenied
    try:
        registration.sheet_register_retry(sheet=sheet, actor=request.user)
        messages.success(request, "已重新开始登记会员")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(sheet)


@login_required
def sheet_review_list(request):
    if not can_review(request.user):
        raise PermissionDenied
    page = paginate(request, selectors.sheets_pending_review_for_user(user=request.user), per_page=30)
    return render(request, "members/sheet_review_list.html", {"page": page})


@login_required
def submission_groups(request):
    staff = staff_of(request.user)
    is_federation = request.user.is_superuser or (staff is not None and staff.is_federation)
    form = None
    if is_federation:
        candidates = _grassroots_for(request.user)
        form = SubmissionGroupForm(request.POST or None, unions=candidates)
        if request.method == "POST" and form.is_valid():
            owner = staff.union if staff else Union.objects.order_by("depth").first()
            group = SubmissionGroup.objects.create(
                name=form.cleaned_data["name"], due_date=form.cleaned_data["due_date"], owner=owner
            )
            group.unions.set(form.cleaned_data["unions"])
            audit_record(actor=request.user, verb="submission_group.created", target=group, union=owner)
            messages.success(request, f"已设置{group}")
            return redirect("members:submission_groups")
    elif request.method == "POST":
        raise PermissionDenied
    today = timezone.localdate()
    visible = visible_unions(request.user)
    groups = []
    for group in selectors.submission_groups_for_user(user=request.user):
        units = group.unions.filter(pk__in=visible).order_by("path")
        states = selectors.submission_states(group=group, today=today, unions=units)
        counts = {key: sum(1 for s in states if s.state == key) for key in selectors.SUBMISSION_LABELS}
        groups.append({"group": group, "states": states, "counts": counts, "overdue": today > group.due_date})
    return render(
        request,
        "members/submission_groups.html",
        {"groups": groups, "form": form, "labels": selectors.SUBMISSION_LABELS},
    )
