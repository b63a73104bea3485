"""Pages of the registration sheets: template, upload, progress, results, error report, review."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from cardportal.actions import attempt, run_action, run_download
from cardportal.audit import audit_for, client_ip
from cardportal.downloads import attachment, private_file
from cardportal.errors import ApplicationError
from cardportal.jobs import job_is_stale, job_recover, render_job_progress
from cardportal.pagination import paginate
from cardportal.uploads import registry_upload_limit, upload_limit_by, upload_refusal

from . import letter_scans, registration, selectors, services
from .access import Cap, access_for, requires, visible_unions
from .forms import SheetReturnForm, SheetRowFilterForm, SheetUploadForm, SubmissionGroupForm
from .models import RegistrationSheet, SheetLetterScan, SubmissionDelivery, Union
from .sheet_files import template_workbook


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
            "can_upload": access_for(request.user).can(Cap.SHEET_UPLOAD),
            "can_review": access_for(request.user).can(Cap.SHEET_REVIEW),
            "query": f"status={status}" if status else "",
        },
    )


@login_required
def sheet_template(request):
    return attachment(template_workbook(), "会员卡信息登记表（模板）.xlsx")


@upload_limit_by(registry_upload_limit)  # a city's whole registry for staff who migrate one
@login_required
@requires(Cap.SHEET_UPLOAD)
def sheet_upload(request):
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
                # the page itself says where the check stands (its progress, polled, or its
                # result), so the message does not claim it is still running
                messages.success(request, f"已上传“{sheet.original_name}”")
            else:
                messages.warning(
                    request,
                    f"这个文件已上传过（登记表 #{sheet.pk}，{timezone.localtime(sheet.created_at):%Y-%m-%d %H:%M}），没有重复导入",
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
            "can_submit": sheet.status == RegistrationSheet.Status.VALIDATED
            and access_for(request.user).can(Cap.SHEET_UPLOAD),
            **_review_flags(request.user, sheet),
            **_letter_and_seq(request.user, sheet),
            "return_form": SheetReturnForm(),
            "audit": audit_for(sheet)[:20],
            "S": RegistrationSheet.Status,
        }
    )
    return render(request, "members/sheet_detail.html", context)


def _letter_and_seq(user, sheet: RegistrationSheet) -> dict:
    """The 序号 warnings (附件5) and the stamped letter's scan (附件3) of a staged sheet."""
    staged = sheet.job_finished and sheet.status not in (
        RegistrationSheet.Status.UPLOADED,
        RegistrationSheet.Status.VALIDATING,
        RegistrationSheet.Status.REFUSED,
    )
    return {
        "seq_warnings": selectors.sheet_seq_warnings(sheet=sheet) if staged else [],
        "letter_scan": SheetLetterScan.objects.filter(sheet=sheet).first(),
        "can_upload_scan": sheet.status in letter_scans.OPEN_STATUSES
        and letter_scans.may_upload_scan(user, sheet),
    }


def _review_flags(user, sheet: RegistrationSheet) -> dict:
    if sheet.status != RegistrationSheet.Status.SUBMITTED or not access_for(user).can(Cap.SHEET_REVIEW):
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
    only_rejected = request.GET.get("only") == "rejected"
    return run_download(
        request,
        lambda: registration.sheet_error_report(
            sheet=sheet, actor=request.user, ip=client_ip(request), only_rejected=only_rejected
        ),
        back=sheet,
    )


@login_required
@require_POST
def sheet_submit(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    access_for(request.user).permit(Cap.SHEET_UPLOAD)
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
    access_for(request.user).permit(Cap.SHEET_REVIEW)
    try:
        registration.sheet_approve(
            sheet=sheet, actor=request.user, override_reason=request.POST.get("override_reason", "")
        )
        messages.success(request, "已审核通过，正在登记会员并申请办卡")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(sheet)


@login_required
@require_POST
def sheet_return(request, pk):
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    access_for(request.user).permit(Cap.SHEET_REVIEW)
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
    return run_action(
        request,
        lambda: registration.sheet_import_retry(sheet=sheet, actor=request.user),
        done="已重新开始校验",
        back=sheet,
    )


@login_required
@require_POST
def sheet_register_retry(request, pk):
    """The reviewer queues the registration again after it failed or its worker died."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    return run_action(
        request,
        lambda: registration.sheet_register_retry(sheet=sheet, actor=request.user),
        done="已重新开始登记会员",
        back=sheet,
    )


@login_required
@requires(Cap.SHEET_REVIEW)
def sheet_review_list(request):
    page = paginate(request, selectors.sheets_pending_review_for_user(user=request.user), per_page=30)
    return render(request, "members/sheet_review_list.html", {"page": page})


@login_required
def submission_groups(request):
    form = None
    if access_for(request.user).can(Cap.SUBMISSION_GROUPS):
        candidates = _grassroots_for(request.user)
        form = SubmissionGroupForm(request.POST or None, unions=candidates)
        if request.method == "POST" and form.is_valid():
            group = services.submission_group_create(**form.cleaned_data, actor=request.user)
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
        groups.append(
            {
                "group": group,
                "states": states,
                "counts": counts,
                "overdue": today > group.due_date,
                "signs": services.may_sign_deliveries(actor=request.user, group=group),
            }
        )
    return render(
        request,
        "members/submission_groups.html",
        {"groups": groups, "form": form, "labels": selectors.SUBMISSION_LABELS},
    )


@login_required
@require_POST
def submission_delivery(request, pk: int, union_pk: int, item: str):
    """Tick one paper deliverable of one unit as received (or undo it), from the groups page."""
    group = get_object_or_404(selectors.submission_groups_for_user(user=request.user), pk=pk)
    union = get_object_or_404(group.unions.all(), pk=union_pk)
    if item not in SubmissionDelivery.Item.values:
        raise Http404
    received = request.POST.get("received") == "1"
    attempt(
        request,
        lambda: services.submission_delivery_set(
            group=group, union=union, item=item, received=received, actor=request.user
        ),
    )
    return redirect(f"{reverse('members:submission_groups')}#g{group.pk}")


@login_required
def sheet_letter(request, pk):
    """附件3 身份证复印件确认书, pre-filled from the sheet (union, counts, contact, date), to print,
    stamp and hand in with the paper sheet and the ID copies."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    return render(request, "members/sheet_letter.html", selectors.letter_facts(sheet=sheet))


@login_required
@require_POST
def sheet_letter_scan_upload(request, pk):
    """The clerk uploads the stamped confirmation letter's scan (optional; replaces an earlier one)."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    if not letter_scans.may_upload_scan(request.user, sheet):
        raise PermissionDenied
    refused = upload_refusal(request)
    upload = request.FILES.get("scan")
    if refused is not None:
        messages.error(request, f"确认书扫描件没有上传：{refused.message}")
    elif upload is None:
        messages.error(request, "请选择盖章确认书的扫描件或照片（.jpg、.png 或 .pdf）")
    else:
        try:
            letter_scans.letter_scan_upload(
                sheet=sheet, data=upload.read(), actor=request.user, ip=client_ip(request)
            )
            messages.success(request, "已上传盖章确认书扫描件，审核人员可以查看")
        except ApplicationError as exc:
            messages.error(request, f"确认书扫描件没有上传：{exc.message}")
    return redirect(f"{sheet.get_absolute_url()}#letter-scan")


@login_required
def sheet_letter_scan(request, pk):
    """The scan, for the sheet's clerk and reviewers (scoped; every view audited)."""
    sheet = selectors.sheet_get_for_user(user=request.user, pk=pk)
    scan = get_object_or_404(SheetLetterScan, sheet=sheet)
    content, filename, content_type = letter_scans.letter_scan_read(
        scan=scan, actor=request.user, ip=client_ip(request)
    )
    return private_file(content, filename, content_type, inline=scan.is_image)
